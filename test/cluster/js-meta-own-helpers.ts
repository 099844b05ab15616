// Helpers for the meta-group tests: in-process JetStream clusters, counting the replies a
// request gets, and waiting until every server has applied and acted on the meta log.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNodesOnPortsKnownInAdvance, waitRoutes, waitFor, type InProcNode } from './cluster-helpers.js';
import type { JetStreamService } from '../../src/jetstream/index.js';
import type { ClusteredJetStream } from '../../src/jetstream/cluster/js-cluster.js';
import type { Options } from '../../src/config/options.js';

export interface JsNode extends InProcNode {
  name: string;
  dir: string;
}

export function jsOf(n: InProcNode): JetStreamService {
  return n.h.server.getSubsystem('jetstream') as unknown as JetStreamService;
}

export function metaOf(n: InProcNode): ClusteredJetStream {
  const c = jsOf(n).clustered;
  if (!c) throw new Error('not clustered');
  return c;
}

/**
 * The same store cap on every server (an operator's max_file_store). Without one each server takes
 * 75% of the free disk space it measured at start (nats-server's default), which differs a little
 * from server to server, and placement would put every R1 stream on the one that measured most;
 * with equal caps it breaks the tie by the fewest streams, so the tests see R1 streams spread.
 */
const TEST_MAX_STORE_BYTES = 1024 ** 4;

export function jsClusterOptions(dir: string, extra: Partial<Options> = {}): Partial<Options> {
  return {
    ...extra,
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: TEST_MAX_STORE_BYTES, syncIntervalMs: 1000, strict: true },
  };
}

/** Start `n` clustered JetStream servers in this process (names n1..nN, fixed cluster ports, full mesh of routes). */
export async function startJsCluster(n: number, root = mkdtempSync(join(tmpdir(), 'tsnats-meta-')), extra: Partial<Options> = {}): Promise<{ nodes: JsNode[]; root: string }> {
  const nodes: JsNode[] = [];
  try {
    const started = await startNodesOnPortsKnownInAdvance(n, (ports, clusterName) => ports.map((port, i) => ({
      name: `n${i + 1}`, clusterName, clusterPort: port,
      routes: ports.filter((_, k) => k !== i).map((p) => `nats-route://127.0.0.1:${p}`),
      extra: jsClusterOptions(join(root, `n${i + 1}`), { ...extra, cluster: { connectRetries: 60 } as never }),
    })));
    started.forEach((node, i) => nodes.push({ ...node, name: `n${i + 1}`, dir: join(root, `n${i + 1}`) }));
    await waitRoutes(nodes, n - 1);
    await waitForMetaLeader(nodes);
  } catch (e) {
    await Promise.all(nodes.map((x) => x.h.shutdown()));
    rmSync(root, { recursive: true, force: true });
    throw e;
  }
  return { nodes, root };
}

export async function waitForMetaLeader(nodes: InProcNode[]): Promise<InProcNode> {
  await waitFor(() => {
    const leaders = nodes.filter((x) => metaOf(x).isLeader);
    if (leaders.length !== 1) return false;
    const id = metaOf(leaders[0]!).id;
    return nodes.every((x) => metaOf(x).node?.leaderId === id);
  }, 'one meta leader known to every server', 30_000);
  return nodes.find((x) => metaOf(x).isLeader)!;
}

/** Every server has applied what the leader committed and finished the local work it caused. */
export async function settle(nodes: InProcNode[]): Promise<void> {
  await waitFor(() => {
    const leader = nodes.find((x) => metaOf(x).node?.state === "leader");
    if (!leader) return false;
    const commit = metaOf(leader).node.commit;
    return nodes.every((x) => metaOf(x).node.applied >= commit);
  }, 'every server applied the meta log', 30_000);
  await Promise.all(nodes.map((x) => metaOf(x).enqueue(() => {})));
}

/**
 * Send one request through `nc` and collect every reply: the first is awaited, then the
 * cluster is settled and each server echoes a barrier after anything it sent before.
 */
export async function requestAll(nc: NatsConnection, nodes: InProcNode[], subject: string, body: string | Uint8Array = ''): Promise<string[]> {
  const inbox = `_INBOX.meta.${Math.random().toString(36).slice(2)}`;
  const got: string[] = [];
  const sub = nc.subscribe(inbox, { callback: (_e, m) => { got.push(m.string()); } });
  await nc.flush();
  nc.publish(subject, body, { reply: inbox });
  await waitFor(() => got.length > 0, `a reply to ${subject}`, 30_000);
  await settle(nodes);
  await barrier(nc, nodes);
  sub.unsubscribe();
  return got;
}

/** Each server answers `barrier.<name>` through its own internal client; all answers arrive. */
export async function barrier(nc: NatsConnection, nodes: InProcNode[]): Promise<void> {
  const acc = '$G';
  const offs = nodes.map((n) => {
    const a = n.h.server.lookupAccount(acc)!;
    const ic = a.createInternalClient('barrier');
    ic.subscribe(`barrier.${n.h.server.serverName}`, (_s, reply) => { if (reply) ic.publish(reply, '', undefined, 'ok'); });
    return ic;
  });
  try {
    for (const n of nodes) {
      await waitFor(() => nodes.every((o) => o === n || (o as InProcNode).cluster.hasRemoteInterest(acc, `barrier.${n.h.server.serverName}`)), 'barrier interest');
    }
    for (const n of nodes) await nc.request(`barrier.${n.h.server.serverName}`, '', { timeout: 10_000 });
  } finally {
    offs.forEach((c) => c.close());
  }
}

export async function connectAll(nodes: InProcNode[]): Promise<NatsConnection[]> {
  return Promise.all(nodes.map((n) => connect({ servers: n.h.clientUrl })));
}

export async function stopAll(nodes: InProcNode[], ncs: NatsConnection[], root?: string): Promise<void> {
  await Promise.all(ncs.map((c) => c.close().catch(() => {})));
  await Promise.all(nodes.map((n) => n.h.shutdown()));
  if (root) rmSync(root, { recursive: true, force: true });
}
