// Helpers for the replicated stream / consumer tests on in-process clusters.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { injectDiskFull } from '../../src/core/disk-fault.js';
import type { Consumer, FetchOptions, JsMsg } from '@nats-io/jetstream';
import { startNode, startNodesOnPortsKnownInAdvance, waitFor, waitRoutes, type InProcNode, type NodeSpec } from './cluster-helpers.js';
import { connectAll, jsClusterOptions, jsOf, metaOf, stopAll, waitForMetaLeader, type JsNode } from './js-meta-own-helpers.js';

/** Placement of R3 needs every server in the meta group and its placement info known to the leader. */
export async function waitPlacement(nodes: JsNode[]): Promise<void> {
  await waitFor(() => nodes.every((n) => {
    const m = metaOf(n);
    if (m.node.peers().length !== nodes.length) return false;
    const all = new Set(m.node.peers());
    return m.peerInfo.placementPeers(m.id, all, m.onlinePeers(), (id) => m.serverNameOf(id)).filter((p) => p.stats && p.cluster).length === nodes.length;
  }), 'every server placeable', 30_000);
}


export interface Layout { ports: number[]; clusterName: string }

function specs(root: string, ports: number[], clusterName: string): NodeSpec[] {
  return ports.map((port, i) => ({
    name: `n${i + 1}`, clusterName, clusterPort: port,
    routes: ports.filter((p) => p !== port).map((p) => `nats-route://127.0.0.1:${p}`),
    extra: jsClusterOptions(join(root, `n${i + 1}`), { cluster: { connectRetries: 60 } as never }),
  }));
}

/**
 * Start 3 in-process JetStream servers under `root`; with `layout`, on the cluster ports and
 * cluster name of an earlier start (a restart of the same servers on the same store dirs).
 */
export async function startRestartable(root: string, layout?: Layout): Promise<{ nodes: JsNode[]; layout: Layout }> {
  let started: InProcNode[];
  let lay: Layout;
  if (layout === undefined) {
    let name = '';
    started = await startNodesOnPortsKnownInAdvance(3, (ports, clusterName) => { name = clusterName; return specs(root, ports, clusterName); });
    lay = { ports: started.map((n) => n.h.clusterPort!), clusterName: name };
  } else {
    lay = layout;
    started = await Promise.all(specs(root, lay.ports, lay.clusterName).map((s) => startNode(s)));
  }
  const nodes: JsNode[] = started.map((n, i) => ({ ...n, name: `n${i + 1}`, dir: join(root, `n${i + 1}`) }));
  await waitRoutes(nodes, 2);
  await waitForMetaLeader(nodes);
  return { nodes, layout: lay };
}

/** The messages of `stream` in server n's own replica, as `seq:subject:payload` (empty while it has none). */
export function replicaMsgs(n: JsNode, stream: string): string[] {
  const s = jsOf(n).jsAccount('$G')?.streams.get(stream);
  if (!s) return [];
  const out: string[] = [];
  const st = s.store.fastState();
  for (let seq = st.firstSeq; seq <= st.lastSeq; seq++) {
    const m = s.store.loadMsg(seq);
    if (m) out.push(`${m.seq}:${m.subject}:${Buffer.from(m.data).toString()}`);
  }
  return out;
}

/** Start server i (0-based) of an earlier startRestartable again on its store dir (the others keep running). */
export async function restartOne(root: string, layout: Layout, i: number): Promise<JsNode> {
  const n = await startNode(specs(root, layout.ports, layout.clusterName)[i]!);
  return { ...n, name: `n${i + 1}`, dir: join(root, `n${i + 1}`) };
}

/**
 * Run `fn` on 3 in-process servers (startRestartable, placement ready, a client on each), then
 * stop them, remove their directories and lift any injected write fault (core/disk-fault.ts).
 */
export async function withPlaceableCluster(prefix: string, fn: (nodes: JsNode[], ncs: NatsConnection[]) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const { nodes } = await startRestartable(root);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    await fn(nodes, ncs);
  } finally {
    injectDiskFull(undefined);
    await stopAll(nodes, ncs, root);
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Fetch once from `c` and hand each message to `each`. The client ends a fetch with "heartbeats
 * missed" when its idle-heartbeat clock (half the expiry) outruns a loaded machine; that ends
 * this fetch only, the caller's wait fetches again. Any other error is thrown.
 */
export async function fetchOnce(c: Consumer, opts: FetchOptions, each: (m: JsMsg) => Promise<void>): Promise<void> {
  try {
    for await (const m of await c.fetch(opts)) await each(m);
  } catch (e) {
    if (!/heartbeats missed/.test((e as Error)?.message ?? '')) throw e;
  }
}
