// Helpers shared by the cluster and route-interop tests: in-process nodes, child-process
// nodes (for SIGKILL/restart), nats-server 2.9.10 nodes, and condition waits.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { startServer, type ServerHandle } from '../../src/index.js';
import { getCluster } from '../../src/cluster/index.js';
import type { Cluster } from '../../src/cluster/cluster.js';
import type { Options } from '../../src/config/options.js';
import { requireNatsServer } from '../helpers/nats-server.js';

/** Poll `cond` every 20 ms until it holds; throws `what` after `timeoutMs`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Start in-process nodes that must know each other's cluster ports before they start
 * (each lists the others, or itself). tsnats cannot add routes at run time, so the ports
 * are chosen first: each is bound on port 0 and released, then the nodes bind them.
 * Another process may take one in between; then a node fails to listen (or dials a
 * stranger, which refuses the route because every attempt uses a fresh cluster name) and
 * the whole attempt is retried with new ports. Everywhere else, nodes bind port 0 and the
 * port is read back from the listener (or the ports file).
 */
export async function startNodesOnPortsKnownInAdvance(
  count: number, specs: (ports: number[], clusterName: string) => NodeSpec[], attempts = 5, extras: { configAuth?: boolean } = {},
): Promise<InProcNode[]> {
  for (let i = 1; ; i++) {
    const ports = await Promise.all(Array.from({ length: count }, () => probePort()));
    const started: InProcNode[] = [];
    try {
      for (const spec of specs(ports, `C-${process.pid}-${ports[0]}-${i}`)) started.push(await startNode(spec, extras));
      return started;
    } catch (e) {
      for (const n of started) await n.h.shutdown();
      if (i >= attempts || !/EADDRINUSE|Error listening on router port/.test(String((e as Error).message))) throw e;
    }
  }
}

function probePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

export interface NodeSpec {
  name: string;
  routes?: string[];
  clusterName?: string;
  clusterPort?: number;
  extra?: Partial<Options>;
}

export function clusterOptions(spec: NodeSpec): Partial<Options> {
  return {
    host: '127.0.0.1',
    port: 0,
    serverName: spec.name,
    ...spec.extra,
    cluster: {
      name: spec.clusterName ?? 'C1',
      host: '127.0.0.1',
      port: spec.clusterPort ?? 0,
      routes: spec.routes ?? [],
      noAdvertise: false,
      connectRetries: 0,
      ...spec.extra?.cluster,
    },
  };
}

export interface InProcNode {
  h: ServerHandle;
  cluster: Cluster;
  routeUrl: string;
}

/** Start a clustered tsnats server in this process (`configAuth`: the users of the options are enforced). */
export async function startNode(spec: NodeSpec, extras: { configAuth?: boolean } = {}): Promise<InProcNode> {
  const h = await startServer(clusterOptions(spec), { quietLog: process.env.TSNATS_TEST_LOG !== '1', ...extras });
  const cluster = getCluster(h.server);
  if (cluster === undefined) throw new Error('cluster subsystem did not start');
  return { h, cluster, routeUrl: `nats-route://127.0.0.1:${h.clusterPort}` };
}

/** Wait until every node has `n` registered routes. */
export async function waitRoutes(nodes: InProcNode[], n: number, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => nodes.every((x) => x.cluster.numRoutes === n), `${n} routes on every node`, timeoutMs);
}

/** Wait until `node` sees remote interest (or none, with `present=false`) for subject in account. */
export async function waitRemoteInterest(node: InProcNode, subject: string, present = true, account = '$G'): Promise<void> {
  await waitFor(() => node.cluster.hasRemoteInterest(account, subject) === present,
    `${present ? '' : 'no '}remote interest in ${subject} on ${node.h.server.serverName}`);
}

// ---- child-process tsnats nodes ----

interface ChildReady { clientUrl: string; clusterPort: number; serverId: string }

export class ChildNode {
  private nextId = 1;
  private readonly pending = new Map<number, (v: unknown) => void>();
  ready!: ChildReady;

  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (m: unknown) => {
      const msg = m as { id?: number };
      if (msg.id !== undefined) {
        const r = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        r?.(msg);
      }
    });
  }

  static async start(spec: NodeSpec): Promise<ChildNode> {
    const script = new URL('./child-server.js', import.meta.url);
    const proc = fork(script, [JSON.stringify(clusterOptions(spec))], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const node = new ChildNode(proc);
    node.ready = await new Promise<ChildReady>((resolve, reject) => {
      const onMsg = (m: unknown): void => {
        const msg = m as { type: string } & ChildReady;
        if (msg.type === 'ready') {
          proc.off('message', onMsg);
          proc.off('exit', onExit);
          resolve(msg);
        }
      };
      const onExit = (code: number | null): void => reject(new Error(`child server exited early (${code})`));
      proc.on('message', onMsg);
      proc.once('exit', onExit);
    });
    return node;
  }

  private ask<T>(q: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (!this.proc.connected) {
        reject(new Error('child not connected'));
        return;
      }
      this.pending.set(id, resolve as (v: unknown) => void);
      this.proc.send({ ...q, id });
    });
  }

  async numRoutes(): Promise<number> {
    const s = await this.ask<{ routes: number }>({ type: 'query' });
    return s.routes;
  }

  async hasRemoteInterest(subject: string, account = '$G'): Promise<boolean> {
    const s = await this.ask<{ value: boolean }>({ type: 'interest', account, subject });
    return s.value;
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** SIGKILL: the node vanishes without closing its routes. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    const t = setTimeout(() => this.proc.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(t);
  }
}

// ---- nats-server 2.9.10 nodes ----

export class NatsServerNode {
  clientUrl = '';
  clusterPort = 0;
  private constructor(
    readonly proc: ChildProcess, readonly dir: string, readonly logFile: string,
    private readonly confFile: string, private readonly conf: (routes: string[]) => string,
  ) {}

  /**
   * Start nats-server with a conf file in a temp dir; `clusterPort` 0 means -1 (the server
   * binds a free port). Both ports are read back from the ports file nats-server writes
   * (2.9.10 lists the cluster listener there too). `extraConf` is appended to the file.
   */
  static async start(
    name: string, routes: string[], clusterPort = 0, clusterName = 'C1', dir?: string, extraConf = '',
  ): Promise<NatsServerNode> {
    const bin = requireNatsServer();
    const d = dir ?? mkdtempSync(join(tmpdir(), 'tsnats-ns-'));
    for (const f of readdirSync(d)) if (f.endsWith('.ports')) rmSync(join(d, f));
    const conf = (rs: string[]): string => [
      'host: 127.0.0.1',
      'port: -1',
      `server_name: ${name}`,
      `ports_file_dir: "${d}"`,
      'cluster {',
      `  name: ${clusterName}`,
      '  host: 127.0.0.1',
      `  port: ${clusterPort === 0 ? -1 : clusterPort}`,
      rs.length > 0 ? `  routes: [${rs.map((r) => `"${r}"`).join(', ')}]` : '',
      '}',
      extraConf,
    ].join('\n');
    const confFile = join(d, `${name}.conf`);
    writeFileSync(confFile, conf(routes));
    const logFile = join(d, `${name}.log`);
    const proc = spawn(bin, ['-c', confFile, '-l', logFile, '-D'], { stdio: 'ignore' });
    const node = new NatsServerNode(proc, d, logFile, confFile, conf);
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`nats-server exited: ${readLog(logFile)}`);
      const f = readdirSync(d).find((x) => x.endsWith('.ports'));
      if (f === undefined) return false;
      try {
        const p = JSON.parse(readFileSync(join(d, f), 'utf8')) as { nats: string[]; cluster: string[] };
        node.clientUrl = p.nats[0]!;
        node.clusterPort = Number(new URL(p.cluster[0]!).port);
        return true;
      } catch {
        return false;
      }
    }, `nats-server ${name} ports file`);
    return node;
  }

  get routeUrl(): string {
    return `nats-route://127.0.0.1:${this.clusterPort}`;
  }

  /**
   * Replace the configured routes and reload (SIGHUP; nats-server 2.9.10 reloads cluster
   * routes and keeps the cluster listener it bound, even with `port: -1` in the file).
   */
  async setRoutes(routes: string[]): Promise<void> {
    const reloads = (): number => this.log().split('Reloaded server configuration').length - 1;
    const before = reloads();
    writeFileSync(this.confFile, this.conf(routes));
    this.proc.kill('SIGHUP');
    await waitFor(() => reloads() > before, 'nats-server reloaded its routes');
  }

  log(): string {
    return readLog(this.logFile);
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill(signal);
    await exited;
  }

  /** Stop the process and remove its temp dir. */
  async cleanup(): Promise<void> {
    await this.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function readLog(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}
