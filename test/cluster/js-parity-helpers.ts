// Small clusters of child processes whose config the test shapes (a server without JetStream,
// account limits), for the parity tests; js-cluster-harness.ts covers the uniform clusters.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { natsServerBin, tsnatsCli, type Impl, type MetaCluster } from './js-cluster-harness.js';
import { ServerDir, clusterNodeConfig, killServer, launchServer, listenBlackHole } from '../helpers/cluster-proc.js';

export interface ParityNode { d: ServerDir; clientUrl: string; monitorUrl: string; clusterPort: number }

export interface ParityCluster {
  nodes: ParityNode[];
  shutdown(): Promise<void>;
}

/**
 * Start `names` in order, each with three routes (the servers already up, padded with a route that
 * never completes, as js-cluster-harness does for three servers); `edit` rewrites a node's config.
 */
export async function startParityCluster(impl: Impl, names: string[], edit: (name: string, conf: string) => string): Promise<ParityCluster> {
  const root = mkdtempSync(join(tmpdir(), `tsnats-parity-${impl}-`));
  const nodes: ParityNode[] = [];
  let anchor: net.Server | undefined;
  const shutdown = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => killServer(n.d)));
    await new Promise((r) => (anchor ? anchor.close(r) : r(undefined)));
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const hole = await listenBlackHole();
    anchor = hole.server;
    for (const [i, name] of names.entries()) {
      const dir = join(root, name);
      mkdirSync(dir, { recursive: true });
      const d = new ServerDir(i, name, dir);
      const up = nodes.map((x) => `nats-route://127.0.0.1:${x.clusterPort}`);
      const routes = [...up, ...Array.from({ length: Math.max(0, 3 - up.length) }, () => `nats-route://127.0.0.1:${hole.port}`)];
      const file = join(dir, `${name}.conf`);
      writeFileSync(file, edit(name, clusterNodeConfig({ name, dir, storeDir: d.storeDir, clusterName: 'C1', routes })));
      const bin = impl === 'nats-server' ? natsServerBin()! : process.execPath;
      const args = impl === 'nats-server' ? ['-c', file] : [tsnatsCli(), '-c', file];
      const ports = await launchServer(d, bin, args, { what: `${impl} ${name}` });
      nodes.push({ d, clientUrl: ports.nats![0]!, monitorUrl: ports.monitoring![0]!, clusterPort: Number(new URL(ports.cluster![0]!).port) });
    }
  } catch (e) {
    await shutdown();
    throw e;
  }
  return { nodes, shutdown };
}

export async function jszOf(n: ParityNode): Promise<{ meta_cluster?: MetaCluster }> {
  const r = await fetch(`${n.monitorUrl}/jsz`);
  return (await r.json()) as { meta_cluster?: MetaCluster };
}
