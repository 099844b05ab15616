// A JetStream cluster of 3 or 5 servers as child processes — either the real
// nats-server or tsnats (`node dist/src/cli.js`), started from the same config
// file — for the clustered JetStream (meta group) acceptance tests. Every node
// gets its own dir (config, log, ports file, store dir); kill -9 and restart
// keep the store dir, so a restarted node recovers from disk.
//
// Ports: every listener binds port -1 (ephemeral) and the harness reads the
// bound ports back from the node's ports file, so no port is ever released and
// re-bound. Routes therefore point at nodes that are already up: node k routes
// to nodes 1..k-1 and gossip completes the mesh.
//
// nats-server sizes a new meta group by the number of configured routes
// (at least 2), as in a deployment where every server lists every server
// (itself included). Nodes started with 1, 2, ... routes would each expect a
// different group size; on 2.9.10 that can leave two meta leaders for good.
// So every node is given exactly N routes: the nodes already up plus
// "anchors", listeners of this process that close every connection (the node
// keeps retrying them, which is harmless). This also gives the first node the
// route nats-server requires for clustered JetStream. A restarted node routes
// to the current ports of all other nodes, padded the same way.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { connect, createInbox, type NatsConnection } from '@nats-io/transport-node';
import { clusterNodeConfig, killServer, launchServer, listenBlackHole, ServerDir, terminateServer } from '../helpers/cluster-proc.js';
import { natsServerBin } from '../helpers/nats-server.js';
import { pollUntil } from '../helpers/wait.js';

export { natsServerBin } from '../helpers/nats-server.js';
export { FatalError, pollUntil } from '../helpers/wait.js';

export type Impl = 'nats-server' | 'tsnats';

/** Path of the compiled tsnats CLI, relative to this compiled file (dist/test/cluster → dist/src/cli.js). */
export function tsnatsCli(): string {
  return new URL('../../src/cli.js', import.meta.url).pathname;
}

/**
 * Why a test of `impl` must be skipped, or undefined when it can run. nats-server missing is a skip
 * locally and an error under CI=true (CI must exercise the reference). The tsnats variants run
 * unless TSNATS_META=0.
 */
export function skipReason(impl: Impl): string | undefined {
  if (impl === 'nats-server') {
    if (natsServerBin() !== undefined) return undefined;
    if (process.env.CI === 'true') throw new Error('nats-server not found (PATH or NATS_SERVER_BIN) and CI=true: the reference runs are required in CI');
    return 'nats-server not found on PATH (set NATS_SERVER_BIN)';
  }
  if (process.env.TSNATS_META === '0') return 'tsnats variants turned off (TSNATS_META=0)';
  return undefined;
}

export const IMPLS: Impl[] = ['nats-server', 'tsnats'];

export interface ClusterSpec {
  impl: Impl;
  size: number;
  clusterName?: string;
  /** server_tags per node index (optional) */
  tags?: (string[] | undefined)[];
  /** node names; default n1..nN */
  names?: string[];
  /** how often start() polls /jsz for the first meta leader (default 50 ms; the benchmark uses less) */
  pollMs?: number;
  /** implementation per node index, for a mixed cluster (default: `impl` for every node) */
  impls?: Impl[];
  /** jetstream `sync_interval` of tsnats nodes (benchmarks; nats-server 2.9.10 has no such option) */
  tsnatsSyncInterval?: string;
  /** how long a node may take to listen after it is launched (default 20 s; a store of many streams recovers first) */
  startTimeoutMs?: number;
  /** debug logging on the nats-server nodes (a test reading 2.9.10's raft steps from its log) */
  natsServerDebug?: boolean;
}

export interface Creds { user: string; pass: string }
export const APP: Creds = { user: 'a', pass: 'a' };
export const SYS: Creds = { user: 'sys', pass: 'sys' };

export class JsNode extends ServerDir {
  clientUrl = '';
  monitorUrl = '';
  clusterPort = 0;
  constructor(index: number, name: string, dir: string, readonly tags: string[] | undefined,
    /** changes only through JsCluster.replace (rolling replacement) */
    public impl: Impl = 'nats-server') {
    super(index, name, dir);
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }
}

export interface MetaCluster {
  name?: string;
  leader?: string;
  peer?: string;
  cluster_size?: number;
  replicas?: { name: string; current: boolean; active: number; lag?: number; offline?: boolean; peer?: string }[];
}

export class JsCluster {
  readonly nodes: JsNode[] = [];
  private readonly conns: NatsConnection[] = [];
  private readonly anchors: net.Server[] = [];
  private readonly anchorPorts: number[] = [];

  /**
   * Route credentials of this cluster alone. A stopped server's peers keep dialling its route
   * port; a cluster started later may bind that port, and with the shared name C1 the two would
   * merge. With its own credentials each cluster refuses the other's routes.
   */
  readonly routeAuth = { user: `r${randomBytes(6).toString('hex')}`, password: randomBytes(12).toString('hex') };

  private constructor(readonly spec: ClusterSpec, readonly root: string, readonly bin: string) {}

  /** Start every node (sequentially, each routing to the ones already up) and wait for a meta leader with all peers. */
  static async start(spec: ClusterSpec): Promise<JsCluster> {
    const kinds = Array.from({ length: spec.size }, (_x, i) => spec.impls?.[i] ?? spec.impl);
    const bin = spec.impl === 'nats-server' ? natsServerBin() : process.execPath;
    if (bin === undefined || (kinds.includes('nats-server') && natsServerBin() === undefined)) throw new Error('nats-server not found');
    const root = mkdtempSync(join(tmpdir(), `tsnats-jsc-${spec.impl}-`));
    const c = new JsCluster(spec, root, bin);
    try {
      await c.openAnchors(spec.size);
      for (let i = 0; i < spec.size; i++) {
        const name = spec.names?.[i] ?? `n${i + 1}`;
        const dir = join(root, name);
        mkdirSync(dir, { recursive: true });
        c.nodes.push(new JsNode(i, name, dir, spec.tags?.[i], kinds[i]));
      }
      for (const n of c.nodes) await c.launch(n);
      await c.waitMetaLeader({ intervalMs: spec.pollMs });
      return c;
    } catch (e) {
      await c.shutdown();
      throw e;
    }
  }

  get impl(): Impl {
    return this.spec.impl;
  }

  node(name: string): JsNode {
    const n = this.nodes.find((x) => x.name === name);
    if (n === undefined) throw new Error(`no node named ${name}`);
    return n;
  }

  private async openAnchors(n: number): Promise<void> {
    for (let i = 0; i < n; i++) {
      const { server, port } = await listenBlackHole();
      this.anchors.push(server);
      this.anchorPorts.push(port);
    }
  }

  /** Exactly `size` routes: the other nodes' cluster ports, padded with anchors. */
  private routesFor(n: JsNode): string[] {
    const others = this.nodes.filter((x) => x !== n && x.clusterPort !== 0).map((x) => x.clusterPort);
    const ports = [...others, ...this.anchorPorts.slice(0, this.spec.size - others.length)];
    return ports.map((p) => `nats-route://${this.routeAuth.user}:${this.routeAuth.password}@127.0.0.1:${p}`);
  }

  private writeConfig(n: JsNode): string {
    const file = join(n.dir, `${n.name}.conf`);
    writeFileSync(file, clusterNodeConfig({
      name: n.name, dir: n.dir, storeDir: n.storeDir, tags: n.tags, clusterName: this.spec.clusterName ?? 'C1', routes: this.routesFor(n), routeAuth: this.routeAuth,
      syncInterval: n.impl === 'tsnats' ? this.spec.tsnatsSyncInterval : undefined,
      debug: n.impl === 'nats-server' && this.spec.natsServerDebug === true,
    }));
    return file;
  }

  private async launch(n: JsNode): Promise<void> {
    const conf = this.writeConfig(n);
    // TSNATS_CHILD_NODE_ARGS (benchmarks only), e.g. "--cpu-prof --cpu-prof-dir=/tmp/p": node flags for tsnats children.
    const nodeArgs = process.env.TSNATS_CHILD_NODE_ARGS?.split(' ').filter((a) => a !== '') ?? [];
    const args = n.impl === 'nats-server' ? ['-c', conf] : [...nodeArgs, tsnatsCli(), '-c', conf];
    const bin = n.impl === 'nats-server' ? natsServerBin()! : process.execPath;
    const ports = await launchServer(n, bin, args, { what: `${n.impl} ${n.name}`, timeoutMs: this.spec.startTimeoutMs });
    n.clientUrl = ports.nats![0]!;
    n.monitorUrl = ports.monitoring![0]!;
    n.clusterPort = Number(new URL(ports.cluster![0]!).port);
  }

  /** kill -9 a node (no shutdown, no flush: the store is left as a crash leaves it). */
  async kill(n: JsNode): Promise<void> {
    await killServer(n);
  }

  /** Graceful stop (SIGTERM): the server shuts down as an operator would stop it (meta snapshot on the way out). */
  async stop(n: JsNode): Promise<void> {
    await terminateServer(n);
  }

  /** Start a stopped node again with the same name and store dir (new ports, routes to the other nodes). */
  async restart(n: JsNode): Promise<void> {
    if (n.alive) throw new Error(`${n.name} is still running`);
    await this.launch(n);
  }

  /**
   * Rolling replacement: a stopped node comes back as a server of `impl` with the same name (so the
   * same raft peer id) and an empty store dir, as an operator swapping the binary on a fresh disk.
   */
  async replace(n: JsNode, impl: Impl): Promise<void> {
    if (n.alive) throw new Error(`${n.name} is still running`);
    rmSync(n.storeDir, { recursive: true, force: true });
    n.impl = impl;
    await this.restart(n);
  }

  /** GET a monitoring endpoint of node n as JSON. */
  async monitor<T = Record<string, unknown>>(n: JsNode, path: string): Promise<T> {
    const r = await fetch(`${n.monitorUrl}${path}`);
    return (await r.json()) as T;
  }

  async metaOf(n: JsNode): Promise<MetaCluster | undefined> {
    const j = await this.monitor<{ meta_cluster?: MetaCluster }>(n, '/jsz');
    return j.meta_cluster;
  }

  /**
   * Wait until every running server has a route to every other running server (by server id, from
   * /varz and /routez). A meta leader can be elected before the mesh is complete; a reply from a
   * server without a route to the requester's server yet would be dropped for want of interest.
   */
  async waitFullMesh(timeoutMs = 30_000, intervalMs = 20): Promise<void> {
    await pollUntil(async () => {
      const up = this.nodes.filter((n) => n.alive);
      const ids = await Promise.all(up.map(async (n) => (await this.monitor<{ server_id: string }>(n, '/varz')).server_id));
      const routes = await Promise.all(up.map(async (n) => (await this.monitor<{ routes?: { remote_id: string }[] }>(n, '/routez')).routes ?? []));
      const full = up.every((_n, i) => {
        const remote = new Set(routes[i]!.map((r) => r.remote_id));
        return ids.every((id, j) => j === i || remote.has(id));
      });
      return full ? true : undefined;
    }, `a full route mesh on ${this.impl}`, timeoutMs, intervalMs);
  }

  /** What every running server's /jsz says of the meta group, for failure messages. */
  async metaSeen(): Promise<string> {
    const up = this.nodes.filter((n) => n.alive);
    const metas = await Promise.all(up.map((n) => this.metaOf(n).catch((e: unknown) => String(e))));
    return up.map((n, i) => `${n.name}: ${JSON.stringify(metas[i])}`).join('; ');
  }

  /**
   * Wait until every running node names the same running node as meta leader and that leader sees
   * `peers` (default: every node of the cluster, or the running ones when some are down) as current.
   * `not` excludes a leader (after a stepdown or a kill). Waits for the full route mesh first.
   * Returns the leader node.
   */
  async waitMetaLeader(opts: { not?: string; timeoutMs?: number; peers?: number; intervalMs?: number } = {}): Promise<JsNode> {
    const alive = () => this.nodes.filter((n) => n.alive);
    await this.waitFullMesh(opts.timeoutMs, opts.intervalMs);
    let seen = '';
    return pollUntil(async () => {
      const up = alive();
      const metas = await Promise.all(up.map((n) => this.metaOf(n)));
      seen = up.map((n, i) => `${n.name}: ${JSON.stringify(metas[i])}`).join('; ');
      const leaderName = metas[0]?.leader;
      if (!leaderName || leaderName === opts.not) return undefined;
      if (!metas.every((m) => m?.leader === leaderName)) return undefined;
      const leader = up.find((n) => n.name === leaderName);
      if (leader === undefined) return undefined;
      const lm = metas[up.indexOf(leader)]!;
      const wantCurrent = (opts.peers ?? up.length) - 1;
      const current = (lm.replicas ?? []).filter((r) => r.current && !r.offline).length;
      if (current < wantCurrent) return undefined;
      return leader;
    }, `a meta leader on ${this.impl}${opts.not ? ` other than ${opts.not}` : ''}`, opts.timeoutMs ?? 30_000, opts.intervalMs ?? 50)
      .catch((e: unknown) => {
        throw new Error(`${(e as Error).message}; last /jsz meta_cluster seen: ${seen}`);
      });
  }

  /** The current meta leader as every running node reports it (waits for agreement). */
  async metaLeader(): Promise<JsNode> {
    return this.waitMetaLeader();
  }

  /**
   * A client connection to node n (closed by shutdown). Defaults to the JetStream account's user.
   * Its reply subscription (apiRequest) is made now, not at the first request: the first reply may
   * come from another server, which must have learnt that interest over its route first.
   */
  async connect(n: JsNode, creds: Creds = APP): Promise<NatsConnection> {
    const nc = await connect({ servers: n.clientUrl, user: creds.user, pass: creds.pass, reconnect: false });
    this.conns.push(nc);
    muxFor(nc);
    await nc.flush();
    return nc;
  }

  /** Close every connection, kill every node (-9, they are throwaway) and remove all dirs. */
  async shutdown(): Promise<void> {
    await Promise.all(this.conns.splice(0).map((nc) => nc.close().catch(() => undefined)));
    await Promise.all(this.nodes.map((n) => this.kill(n)));
    await Promise.all(this.anchors.splice(0).map((a) => new Promise((r) => a.close(r))));
    if (existsSync(this.root)) rmSync(this.root, { recursive: true, force: true });
  }
}

// ---- raw JetStream API requests with reply counting ----

/**
 * How long to keep listening after the first reply. Its only purpose is the "no second reply" check:
 * a duplicate answer from another server would cross at most one route hop on loopback, so it
 * arrives within milliseconds of the first; 300 ms is a wide margin without slowing the tests much.
 */
export const SETTLE_MS = 300;

export interface ApiReply<T = Record<string, unknown>> {
  /** every reply received on the inbox, parsed */
  all: T[];
  /** the first reply (undefined when none came within the wait) */
  first: T | undefined;
}

/**
 * One reply subscription per connection (`<inbox>.*`), made at the connection's first request and kept, as
 * the official clients do: a fresh subscription per request would have to reach every server over the
 * routes before the reply does, a race that real clients never run and that a loaded machine loses.
 */
const replyMux = new WeakMap<NatsConnection, { prefix: string; next: number; pending: Map<string, unknown[]> }>();

function muxFor(nc: NatsConnection): { prefix: string; next: number; pending: Map<string, unknown[]> } {
  let mux = replyMux.get(nc);
  if (mux === undefined) {
    const m = { prefix: createInbox(), next: 0, pending: new Map<string, unknown[]>() };
    nc.subscribe(`${m.prefix}.*`, {
      callback: (_e, msg) => {
        m.pending.get(msg.subject)?.push(msg.json());
      },
    });
    replyMux.set(nc, m);
    mux = m;
  }
  return mux;
}

/**
 * Publish a JetStream API request with a unique reply subject and collect every reply:
 * wait (up to waitMs) for the first one, then SETTLE_MS more for duplicates.
 */
export async function apiRequest<T = Record<string, unknown>>(
  nc: NatsConnection, subject: string, body?: unknown, opts: { waitMs?: number; settleMs?: number } = {},
): Promise<ApiReply<T>> {
  const mux = muxFor(nc);
  const inbox = `${mux.prefix}.${++mux.next}`;
  const all: T[] = [];
  mux.pending.set(inbox, all as unknown[]);
  try {
    await nc.flush();
    nc.publish(subject, body === undefined ? '' : JSON.stringify(body), { reply: inbox });
    await nc.flush();
    await pollUntil(() => (all.length > 0 ? true : undefined), `a reply to ${subject}`, opts.waitMs ?? 10_000, 5).catch(() => undefined);
    if (all.length > 0) await new Promise((r) => setTimeout(r, opts.settleMs ?? SETTLE_MS));
  } finally {
    mux.pending.delete(inbox);
  }
  return { all, first: all[0] };
}

/**
 * An idempotent API request (a create with the same config, an INFO) sent again until it is answered:
 * right after a change nats-server 2.9.10 can leave one unanswered (seen: an R1 STREAM.CREATE on a
 * 5-server cluster, no reply in 10 s), and a client whose request timed out retries the same way.
 * `all` holds every reply to the answered attempt (collected as apiRequest does).
 */
export async function apiRequestAnswered<T = Record<string, unknown>>(
  nc: NatsConnection, subject: string, body?: unknown, opts: { waitMs?: number; settleMs?: number; timeoutMs?: number } = {},
): Promise<ApiReply<T> & { first: T }> {
  return pollUntil(async () => {
    const r = await apiRequest<T>(nc, subject, body, { waitMs: opts.waitMs ?? 5000, settleMs: opts.settleMs });
    return r.first === undefined ? undefined : { all: r.all, first: r.first };
  }, `an answer to ${subject}`, opts.timeoutMs ?? 30_000, 100);
}

/** nats-server's raft peer id of a server: the first 8 bytes of SHA-256(name), each mapped to 0-9A-Za-z[b % 62]. */
export function peerIdOf(serverName: string): string {
  const digits = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
  const h = createHash('sha256').update(serverName).digest();
  let s = '';
  for (let i = 0; i < 8; i++) s += digits[h[i]! % 62];
  return s;
}

/**
 * STREAM.INFO of `name` once it has a leader (other than `notLeader`, when given) and no error.
 * Up to 60 s: nats-server 2.9.10 takes 5-9 s to elect a stream leader after a kill -9 on a quiet
 * machine (BENCHMARKS.md, cluster-r3 failover) and once took over 30 s in a loaded CI run.
 */
export async function streamInfoWithLeader<T extends { error?: unknown; cluster?: { leader?: string } }>(
  nc: NatsConnection, name: string, notLeader?: string,
): Promise<T> {
  return pollUntil(async () => {
    const r = await apiRequest<T>(nc, `$JS.API.STREAM.INFO.${name}`, undefined, { settleMs: 0, waitMs: 2000 });
    const l = r.first?.cluster?.leader;
    if (!l || l === notLeader || r.first?.error) return undefined;
    return r.first;
  }, `stream info of ${name}${notLeader ? ` with a leader other than ${notLeader}` : ''}`, 60_000, 100);
}
