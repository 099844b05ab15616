// Parity of checkClusterSize (nats-server jetstream_cluster.go): in a cluster where one server runs
// without JetStream, the meta group is the JetStream servers only and its size is their number.
// Three JetStream servers and one without (started first), as child processes, on nats-server
// 2.9.10 and tsnats.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IMPLS, pollUntil, skipReason } from './js-cluster-harness.js';
import { jszOf, startParityCluster, type ParityCluster } from './js-parity-helpers.js';

for (const impl of IMPLS) {
  describe(`a ${impl} cluster with a server without JetStream`, { skip: skipReason(impl) }, () => {
    let c: ParityCluster | undefined;
    before(async () => {
      // The server without JetStream first: every JetStream server knows it from its first route.
      c = await startParityCluster(impl, ['x4', 'n1', 'n2', 'n3'], (name, conf) => (name !== 'x4' ? conf
        : conf.replace(/^jetstream \{.*\}\n/m, '').replace('APP { jetstream: enabled, ', 'APP { ')));
    });
    after(async () => {
      await c?.shutdown();
    });

    test('the meta group holds the three JetStream servers: size 3 everywhere, the other server not a peer', async () => {
      const jsNodes = c!.nodes.filter((n) => n.d.name !== 'x4');
      let seen = '';
      await pollUntil(async () => {
        const metas = await Promise.all(jsNodes.map(async (n) => (await jszOf(n)).meta_cluster));
        seen = JSON.stringify(metas);
        const leader = metas[0]?.leader;
        if (!leader || !metas.every((m) => m?.leader === leader && m.cluster_size === 3)) return undefined;
        const lm = metas[jsNodes.findIndex((n) => n.d.name === leader)];
        const current = (lm?.replicas ?? []).filter((r) => r.current && !r.offline);
        return current.length === 2 ? true : undefined;
      }, `a meta leader with two current replicas and cluster_size 3 on ${impl}`, 60_000, 100)
        .catch((e: unknown) => { throw new Error(`${(e as Error).message}; last seen: ${seen}`); });
      for (const n of jsNodes) {
        const m = (await jszOf(n)).meta_cluster!;
        assert.equal(m.cluster_size, 3, `${n.d.name}: ${JSON.stringify(m)}`);
        const names = [m.leader, ...(m.replicas ?? []).map((r) => r.name)];
        assert.ok(!names.includes('x4'), `x4 is no meta peer on ${n.d.name}: ${JSON.stringify(m)}`);
      }
      const other = await jszOf(c!.nodes.find((n) => n.d.name === 'x4')!);
      assert.equal(other.meta_cluster, undefined, JSON.stringify(other));
    });
  });
}
