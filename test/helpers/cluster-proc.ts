// Process plumbing shared by the clustered JetStream test harness
// (test/cluster/js-cluster-harness.ts) and the chaos bench (bench/chaos/cluster.ts):
// one dir per node, a server started from a config file with its log in a file,
// its bound ports read back from its ports file, and every child killed when
// this process exits whatever happened.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { FatalError, pollUntil } from './wait.js';

/** What a server writes to `ports_file_dir`. */
export interface Ports { nats?: string[]; monitoring?: string[]; cluster?: string[] }

/** One server's dir: config, log, ports file and store dir all live there. */
export class ServerDir {
  proc: ChildProcess | undefined;
  /** how many times this node was started */
  starts = 0;
  constructor(readonly index: number, readonly name: string, readonly dir: string) {}

  get storeDir(): string {
    return join(this.dir, 'store');
  }

  get logFile(): string {
    return join(this.dir, `${this.name}.log`);
  }

  get alive(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }
}

/** PIDs of every child started through spawnServer in this process: killed on exit if a caller forgot. */
const livePids = new Set<number>();
function killLive(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}
process.on('exit', killLive);
// The test runner ends a file that overran its timeout with a signal, which skips 'exit' handlers
// and the tests' after() hooks: the servers would be left running.
for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.once(sig, () => {
    killLive();
    process.exit(128 + (sig === 'SIGHUP' ? 1 : sig === 'SIGINT' ? 2 : 15));
  });
}

/**
 * Environment for a server child: ours minus NODE_EXTRA_CA_CERTS. Node reads and parses that CA
 * bundle eagerly at process start (40-100 ms of CPU for a system bundle on this machine); a server
 * never needs it (its TLS uses the certificates of its config), and nats-server does not pay it.
 */
export function serverEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Start `bin args` logging straight to the node's log file (nothing buffers here; the log survives). */
export function spawnServer(n: ServerDir, bin: string, args: string[], cwd?: string): ChildProcess {
  const fd = openSync(n.logFile, 'a');
  let proc: ChildProcess;
  try {
    proc = spawn(bin, args, { stdio: ['ignore', fd, fd], cwd, env: serverEnv() });
  } finally {
    closeSync(fd);
  }
  const pid = proc.pid!;
  livePids.add(pid);
  proc.once('exit', () => livePids.delete(pid));
  return proc;
}

/** The ports a child wrote to `dir`, or undefined while they are not all there yet. */
export function readPortsFile(dir: string, pid: number): Ports | undefined {
  const f = readdirSync(dir).find((x) => x.endsWith(`_${pid}.ports`));
  if (f === undefined) return undefined;
  try {
    const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Ports;
    return p.nats?.[0] && p.monitoring?.[0] && p.cluster?.[0] ? p : undefined;
  } catch {
    return undefined; // written while we read it
  }
}

/**
 * Start `bin args` for node n (log in its dir, cwd `cwd`) and wait until its ports file lists every
 * listener. A child that exits first fails at once, with the end of its log.
 */
export async function launchServer(n: ServerDir, bin: string, args: string[], opts: { cwd?: string; timeoutMs?: number; what?: string } = {}): Promise<Ports> {
  // A kill -9 leaves the old ports file behind; the new one is found by pid, but keep the dir tidy.
  for (const f of readdirSync(n.dir)) if (f.endsWith('.ports')) rmSync(join(n.dir, f), { force: true });
  const proc = spawnServer(n, bin, args, opts.cwd);
  n.proc = proc;
  n.starts++;
  const pid = proc.pid!;
  const what = opts.what ?? n.name;
  return pollUntil(() => {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new FatalError(`${what} exited (${proc.exitCode ?? proc.signalCode}) before listening:\n${n.log().slice(-3000)}`);
    }
    return readPortsFile(n.dir, pid);
  }, `${what} ports file`, opts.timeoutMs ?? 20_000, 20).catch((e: unknown) => {
    throw e instanceof FatalError ? e : new Error(`${(e as Error).message}\n${n.log().slice(-3000)}`);
  });
}

/** kill -9 (no shutdown, no flush: the store is left as a crash leaves it); resolves once it exited. */
export async function killServer(n: ServerDir): Promise<void> {
  const p = n.proc;
  if (p === undefined || !n.alive) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGKILL');
  await exited;
}

/** SIGTERM (the server shuts down as an operator stops it), and kill -9 after `killAfterMs` when given. */
export async function terminateServer(n: ServerDir, killAfterMs?: number): Promise<void> {
  const p = n.proc;
  if (p === undefined || !n.alive) return;
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  const timer = killAfterMs === undefined ? undefined : setTimeout(() => p.kill('SIGKILL'), killAfterMs);
  await exited;
  if (timer !== undefined) clearTimeout(timer);
}

/** A listener on 127.0.0.1 that closes every connection (a route that never completes). */
export async function listenBlackHole(): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer((sock) => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as net.AddressInfo).port };
}

export interface NodeConfig {
  name: string;
  dir: string;
  storeDir: string;
  clusterName: string;
  routes: string[];
  tags?: string[];
  /** cluster `advertise` address, if any */
  advertise?: string;
  /** jetstream `sync_interval` (e.g. "always", "2m"); the server's default when absent */
  syncInterval?: string;
  /**
   * cluster `authorization` (routes must carry these credentials in their URLs): a cluster of its
   * own refuses the routes of any other test cluster that dials a port it now holds.
   */
  routeAuth?: { user: string; password: string };
  /** `debug: true` (a test that reads what a server logs at debug level, e.g. 2.9.10's raft steps) */
  debug?: boolean;
}

/** The config file text of one clustered JetStream node with the SYS and APP accounts. */
export function clusterNodeConfig(c: NodeConfig): string {
  const lines = [
    `server_name: ${c.name}`,
    'listen: 127.0.0.1:-1',
    'http: 127.0.0.1:-1',
    `ports_file_dir: "${c.dir}"`,
    c.tags && c.tags.length > 0 ? `server_tags: [${c.tags.map((t) => `"${t}"`).join(', ')}]` : '',
    `jetstream { store_dir: "${c.storeDir}"${c.syncInterval !== undefined ? `, sync_interval: ${c.syncInterval}` : ''} }`,
    'cluster {',
    `  name: ${c.clusterName}`,
    '  listen: 127.0.0.1:-1',
    c.advertise !== undefined ? `  advertise: "${c.advertise}"` : '',
    c.routeAuth ? `  authorization { user: "${c.routeAuth.user}", password: "${c.routeAuth.password}" }` : '',
    `  routes: [ ${c.routes.map((r) => `"${r}"`).join(', ')} ]`,
    '}',
    'accounts {',
    '  SYS { users: [ {user: sys, password: sys} ] }',
    '  APP { jetstream: enabled, users: [ {user: a, password: a} ] }',
    '}',
    'system_account: SYS',
    c.debug ? 'debug: true' : '',
  ];
  return lines.filter((l) => l !== '').join('\n') + '\n';
}
