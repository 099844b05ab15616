// The harness gives each test cluster route credentials of its own. Without them, a server of
// another test cluster that dials a route port this cluster now holds (its peers keep dialling a
// server stopped for good, and the port may be reused) joins it: same cluster name C1, merged
// meta groups. Here a stranger with the same name C1 dials every node of a running cluster with
// other credentials: it is refused, and the cluster keeps its routes and meta peers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { IMPLS, JsCluster, natsServerBin, pollUntil, skipReason, tsnatsCli } from './js-cluster-harness.js';
import { clusterNodeConfig, launchServer, ServerDir, terminateServer } from '../helpers/cluster-proc.js';

for (const impl of IMPLS) {
  describe(`route credentials of a ${impl} test cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let stranger: ServerDir | undefined;
    before(async () => {
      c = await JsCluster.start({ impl, size: 3 });
    });
    after(async () => {
      if (stranger) await terminateServer(stranger);
      await c?.shutdown();
    });

    test('a server of another cluster named C1 dialling its route ports is refused', async () => {
      const dir = join(c.root, 'stranger');
      mkdirSync(dir, { recursive: true });
      stranger = new ServerDir(99, 'stranger', dir);
      const auth = { user: 'other', password: 'other-secret' };
      const conf = join(dir, 'stranger.conf');
      writeFileSync(conf, clusterNodeConfig({
        name: 'stranger', dir, storeDir: stranger.storeDir, clusterName: 'C1', routeAuth: auth,
        routes: c.nodes.map((n) => `nats-route://${auth.user}:${auth.password}@127.0.0.1:${n.clusterPort}`),
      }));
      const args = impl === 'nats-server' ? ['-c', conf] : [tsnatsCli(), '-c', conf];
      await launchServer(stranger, impl === 'nats-server' ? natsServerBin()! : process.execPath, args, { what: `${impl} stranger` });
      // Every node of the cluster refused it at least once.
      await pollUntil(() => (c.nodes.every((n) => /authentication error/i.test(n.log())) ? true : undefined),
        'an authentication error on every node', 30_000, 50);
      for (const n of c.nodes) {
        const routez = await c.monitor<{ num_routes: number; routes?: Array<{ remote_id: string }> }>(n, '/routez');
        assert.equal(routez.num_routes, 2, `${n.name}: ${JSON.stringify(routez)}`);
        // nats-server's cluster_size grows as it learns the peers, which can trail the elected leader
        // on a loaded machine (seen at 2 on one node): wait for 3; the stranger would make it 4.
        let meta: Awaited<ReturnType<typeof c.metaOf>>;
        await pollUntil(async () => ((meta = await c.metaOf(n))?.cluster_size === 3 ? true : undefined),
          `${n.name}: a meta cluster of 3`, 15_000, 100).catch(() => undefined);
        assert.equal(meta?.cluster_size, 3, `${n.name}: ${JSON.stringify(meta)}`);
      }
    });
  });
}
