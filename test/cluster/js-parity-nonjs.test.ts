// Parity of checkClusterSize (nats-server jetstream_cluster.go): in a cluster where one server runs
// without JetStream, the meta group is the JetStream servers only and its size is their number.
// Three JetStream servers and one without (started first), as child processes, on nats-server 2.9.10 and tsnats.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMPLS, natsServerBin, pollUntil, skipReason, tsnatsCli, type MetaCluster } from './js-cluster-harness.js';
import { ServerDir, clusterNodeConfig, killServer, launchServer, listenBlackHole } from '../helpers/cluster-proc.js';

interface Node { d: ServerDir; js: boolean; monitorUrl: string; clusterPort: number }

async function jsz(n: Node): Promise<{ meta_cluster?: MetaCluster; disabled?: boolean }> {
  const r = await fetch(`${n.monitorUrl}/jsz`);
  return (await r.json()) as { meta_cluster?: MetaCluster; disabled?: boolean };
}

for (const impl of IMPLS) {
  describe(`a ${impl} cluster with a server without JetStream`, { skip: skipReason(impl) }, () => {
    let root = '';
    const nodes: Node[] = [];
    let anchor: net.Server | undefined;
    before(async () => {
      root = mkdtempSync(join(tmpdir(), `tsnats-nonjs-${impl}-`));
      const hole = await listenBlackHole();
      anchor = hole.server;
      // The server without JetStream first: every JetStream server knows it from its first route.
      const names = ['x4', 'n1', 'n2', 'n3'];
      for (const [i, name] of names.entries()) {
        const dir = join(root, name);
        mkdirSync(dir, { recursive: true });
        const d = new ServerDir(i, name, dir);
        const js = name !== 'x4';
        // Three routes each, as the harness gives a 3-server cluster: the ones up, padded with the anchor.
        const up = nodes.map((x) => `nats-route://127.0.0.1:${x.clusterPort}`);
        const routes = [...up, ...Array.from({ length: Math.max(0, 3 - up.length) }, () => `nats-route://127.0.0.1:${hole.port}`)];
        let conf = clusterNodeConfig({ name, dir, storeDir: d.storeDir, clusterName: 'C1', routes });
        if (!js) conf = conf.replace(/^jetstream \{.*\}\n/m, '').replace('APP { jetstream: enabled, ', 'APP { ');
        const file = join(dir, `${name}.conf`);
        writeFileSync(file, conf);
        const bin = impl === 'nats-server' ? natsServerBin()! : process.execPath;
        const args = impl === 'nats-server' ? ['-c', file] : [tsnatsCli(), '-c', file];
        const ports = await launchServer(d, bin, args, { what: `${impl} ${name}` });
        nodes.push({ d, js, monitorUrl: ports.monitoring![0]!, clusterPort: Number(new URL(ports.cluster![0]!).port) });
      }
    });
    after(async () => {
      await Promise.all(nodes.map((n) => killServer(n.d)));
      await new Promise((r) => (anchor ? anchor.close(r) : r(undefined)));
      if (root) rmSync(root, { recursive: true, force: true });
    });

    test('the meta group holds the three JetStream servers: size 3 everywhere, the other server not a peer', async () => {
      const jsNodes = nodes.filter((n) => n.js);
      let seen = '';
      await pollUntil(async () => {
        const metas = await Promise.all(jsNodes.map(async (n) => (await jsz(n)).meta_cluster));
        seen = JSON.stringify(metas);
        const leader = metas[0]?.leader;
        if (!leader || !metas.every((m) => m?.leader === leader && m.cluster_size === 3)) return undefined;
        const lm = metas[jsNodes.findIndex((n) => n.d.name === leader)];
        const current = (lm?.replicas ?? []).filter((r) => r.current && !r.offline);
        return current.length === 2 ? true : undefined;
      }, `a meta leader with two current replicas and cluster_size 3 on ${impl}`, 60_000, 100)
        .catch((e: unknown) => { throw new Error(`${(e as Error).message}; last seen: ${seen}`); });
      for (const n of jsNodes) {
        const m = (await jsz(n)).meta_cluster!;
        assert.equal(m.cluster_size, 3, `${n.d.name}: ${JSON.stringify(m)}`);
        const names = [m.leader, ...(m.replicas ?? []).map((r) => r.name)];
        assert.ok(!names.includes('x4'), `x4 is no meta peer on ${n.d.name}: ${JSON.stringify(m)}`);
      }
      const other = await jsz(nodes.find((n) => !n.js)!);
      assert.equal(other.meta_cluster, undefined, JSON.stringify(other));
    });
  });
}

