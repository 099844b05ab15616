// Starting the servers under test as child processes: tsnats (node
// dist/src/cli.js) and nats-server (when installed), each pinned to its own
// CPU when taskset is available. Each server binds a free port itself (-1);
// the port is read back from its "Listening for ... connections on" log line,
// and the start-up time is measured from spawn to the first INFO on it.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { natsServerBin } from '../../test/helpers/nats-server.js';
import { serverEnv } from '../../test/helpers/cluster-proc.js';

export type ServerKind = 'tsnats' | 'nats-server';

export interface ServerSpec {
  kind: ServerKind;
  /** JetStream with a file store under storeDir */
  jetstream?: {
    storeDir: string;
    /**
     * `jetstream { sync_interval: ... }`: 'always' (fsync before each ack) or a
     * duration such as '2m'; undefined leaves the server's default. nats-server
     * 2.9.x has no such option (it refuses the config), 2.10+ has.
     */
    syncInterval?: string;
  };
  /** cluster listener (-1: a free port, read back into RunningServer.clusterPort) and routes to other servers' cluster ports */
  cluster?: { name: string; port: number; routes: number[]; serverName: string };
  /** override the client port (default -1: the server binds a free port) */
  port?: number;
  /** a websocket listener (no TLS) on this port of 127.0.0.1 */
  websocketPort?: number;
  /** client TLS (`tls {}` in a config file, the same for both servers) */
  tls?: { certFile: string; keyFile: string };
}

export interface RunningServer {
  kind: ServerKind;
  pid: number;
  port: number;
  /** cluster port when spec.cluster was given, else 0 */
  clusterPort: number;
  /** milliseconds from spawn() to a connection that received INFO */
  startMs: number;
  stop(): Promise<void>;
  /** VmRSS of the server process from /proc, in bytes */
  rssBytes(): number;
  /** CPU time (user + system, all threads) the server process has used, in seconds */
  cpuSeconds(): number;
  /** last lines the process wrote to stderr/stdout (for error reports) */
  outputTail(): string;
  exited(): boolean;
}

/** Every server process still running: killed if the benchmark itself exits early. */
const liveChildren = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of liveChildren) c.kill('SIGKILL');
});

export const TSNATS_CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/** nats-server executable from $NATS_SERVER_BIN or PATH (the tests' lookup), or undefined when not installed. */
export function findNatsServer(): string | undefined {
  return natsServerBin();
}

export function natsServerVersion(bin: string): string {
  const r = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return (r.stdout || r.stderr || '').trim().replace(/^nats-server:\s*/, '');
}

/** CPU pinning: the server under test on one core, the load generator on the other. */
export interface Pinning {
  serverCpus: string;
  generatorCpus: string;
}

export function detectPinning(disabled: boolean): Pinning | undefined {
  if (disabled) return undefined;
  if (spawnSync('taskset', ['-p', String(process.pid)], { encoding: 'utf8' }).status !== 0) return undefined;
  const cpus = cpuList();
  if (cpus.length < 2) return undefined;
  // The last core for the generator (this process and its workers), the rest for servers.
  return { serverCpus: cpus.slice(0, -1).join(','), generatorCpus: String(cpus[cpus.length - 1]) };
}

/** The CPUs this process may run on (taskset), [] when unknown. */
export function cpuList(): number[] {
  const r = spawnSync('taskset', ['-c', '-p', String(process.pid)], { encoding: 'utf8' });
  const m = /:\s*([\d,\s-]+)\s*$/.exec(r.stdout ?? '');
  if (!m) return [];
  const out: number[] = [];
  for (const part of m[1].split(',')) {
    const [a, b] = part.trim().split('-').map(Number);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

/** Pins this process and all its threads (workers created later inherit it). */
export function pinSelf(cpus: string): void {
  spawnSync('taskset', ['-a', '-c', '-p', cpus, String(process.pid)], { stdio: 'ignore' });
}

export interface LaunchOptions {
  natsServerBin?: string;
  pinning?: Pinning;
  /** tsnats only: write a V8 CPU profile into this directory */
  cpuProfileDir?: string;
  /** directory for generated config files */
  scratchDir: string;
  readyTimeoutMs?: number;
}

const CLIENT_LISTEN_RE = /Listening for client connections on \S+:(\d+)/;
const ROUTE_LISTEN_RE = /Listening for route connections on \S+:(\d+)/;

export async function launchServer(spec: ServerSpec, o: LaunchOptions): Promise<RunningServer> {
  const { cmd, args } = commandFor(spec, spec.port ?? -1, o);
  const full = o.pinning ? { cmd: 'taskset', args: ['-c', o.pinning.serverCpus, cmd, ...args] } : { cmd, args };
  const t0 = performance.now();
  // serverEnv(): without NODE_EXTRA_CA_CERTS, which this machine sets and a server never needs (BENCHMARKS.md).
  const child = spawn(full.cmd, full.args, { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv() });
  const tail: string[] = [];
  // The ports come from the first log lines; keep all output until both are known.
  let head = '';
  let port = 0;
  let clusterPort = 0;
  let portsKnown: () => void = () => {};
  const portsReady = new Promise<void>((resolve) => { portsKnown = resolve; });
  const keep = (d: Buffer) => {
    tail.push(d.toString());
    if (tail.length > 40) tail.shift();
    if (port === 0 || (spec.cluster !== undefined && clusterPort === 0)) {
      head += d.toString();
      port ||= Number(CLIENT_LISTEN_RE.exec(head)?.[1] ?? 0);
      if (spec.cluster !== undefined) clusterPort ||= Number(ROUTE_LISTEN_RE.exec(head)?.[1] ?? 0);
      if (port !== 0 && (spec.cluster === undefined || clusterPort !== 0)) {
        head = '';
        portsKnown();
      }
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exitedFlag = false;
  liveChildren.add(child);
  const exitPromise = new Promise<void>((resolve) => child.once('exit', () => {
    exitedFlag = true;
    liveChildren.delete(child);
    resolve();
  }));
  const readyTimeoutMs = o.readyTimeoutMs ?? 10_000;
  try {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      portsReady,
      exitPromise.then(() => { throw new Error('process exited'); }),
      new Promise((_r, reject) => { timer = setTimeout(() => reject(new Error(`no listening log line within ${readyTimeoutMs} ms`)), readyTimeoutMs); }),
    ]).finally(() => clearTimeout(timer));
    await waitForInfo(port, readyTimeoutMs, () => exitedFlag);
  } catch (err) {
    child.kill('SIGKILL');
    await exitPromise;
    const lines = tail.join('').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('at '));
    // The line that says why (a usage text or stack may follow it).
    const output = lines.find((l) => /error|flag|unknown|fatal|cannot|invalid|EADDR/i.test(l)) ?? lines[lines.length - 1] ?? '';
    throw new Error(`${spec.kind} did not start (${(err as Error).message})${output ? `: ${output.slice(0, 300)}` : ''}`);
  }
  const startMs = performance.now() - t0;
  return {
    kind: spec.kind,
    pid: child.pid!,
    port,
    clusterPort,
    startMs,
    exited: () => exitedFlag,
    outputTail: () => tail.join('').slice(-3000),
    rssBytes: () => rssOf(child.pid!),
    cpuSeconds: () => cpuSecondsOf(child.pid!),
    stop: () => stopChild(child, exitPromise, () => exitedFlag),
  };
}

function commandFor(spec: ServerSpec, port: number, o: LaunchOptions): { cmd: string; args: string[] } {
  if (spec.kind === 'nats-server') {
    if (!o.natsServerBin) throw new Error('nats-server is not installed');
    return { cmd: o.natsServerBin, args: ['-c', writeConf(spec, port, o.scratchDir)] };
  }
  if (!existsSync(TSNATS_CLI)) throw new Error(`${TSNATS_CLI} not built`);
  const args: string[] = [];
  if (o.cpuProfileDir) args.push('--cpu-prof', '--cpu-prof-dir', o.cpuProfileDir);
  args.push(TSNATS_CLI);
  if (spec.jetstream?.syncInterval !== undefined || spec.tls !== undefined || spec.websocketPort !== undefined) {
    // The sync policy and websocket have no flags, TLS is set the same way for both: a config file (nats-server's format).
    args.push('-c', writeConf(spec, port, o.scratchDir));
    return { cmd: process.execPath, args };
  }
  args.push('-p', String(port), '-a', '127.0.0.1');
  if (spec.jetstream) args.push('-js', '-sd', spec.jetstream.storeDir);
  if (spec.cluster) {
    const c = spec.cluster;
    args.push('-n', c.serverName, '--cluster_name', c.name, '--cluster', `nats://127.0.0.1:${c.port}`);
    if (c.routes.length) args.push('--routes', c.routes.map((p) => `nats://127.0.0.1:${p}`).join(','));
  }
  return { cmd: process.execPath, args };
}

let confCounter = 0;

function writeConf(spec: ServerSpec, port: number, dir: string): string {
  const lines = [`listen: "127.0.0.1:${port}"`];
  if (spec.jetstream) {
    const sync = spec.jetstream.syncInterval !== undefined ? `, sync_interval: ${JSON.stringify(spec.jetstream.syncInterval)}` : '';
    lines.push(`jetstream { store_dir: ${JSON.stringify(spec.jetstream.storeDir)}${sync} }`);
  }
  if (spec.tls) lines.push(`tls { cert_file: ${JSON.stringify(spec.tls.certFile)}, key_file: ${JSON.stringify(spec.tls.keyFile)} }`);
  if (spec.cluster) {
    const c = spec.cluster;
    lines.push(`server_name: ${c.serverName}`);
    const routes = c.routes.map((p) => JSON.stringify(`nats-route://127.0.0.1:${p}`)).join(', ');
    lines.push(`cluster { name: ${c.name}, listen: "127.0.0.1:${c.port}", routes: [${routes}] }`);
  }
  if (spec.websocketPort !== undefined) lines.push(`websocket { listen: "127.0.0.1:${spec.websocketPort}", no_tls: true }`);
  const conf = join(dir, `${spec.kind}-${spec.cluster?.serverName ?? 'server'}-${++confCounter}.conf`);
  writeFileSync(conf, lines.join('\n') + '\n');
  return conf;
}

/** Polls until a TCP connection to the port receives an INFO line. */
export async function waitForInfo(port: number, timeoutMs: number, gaveUp: () => boolean = () => false): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (gaveUp()) throw new Error('process exited');
    if (await tryInfo(port)) return;
    if (performance.now() > deadline) throw new Error(`no INFO on port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function tryInfo(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection({ port, host: '127.0.0.1' });
    let got = '';
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(2000, () => done(false));
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\n')) done(got.startsWith('INFO '));
    });
    s.on('error', () => done(false));
    s.on('close', () => done(false));
  });
}

export function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** utime + stime of a process from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces: count fields after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** USER_HZ: 100 on every Linux architecture Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

async function stopChild(child: ChildProcess, exited: Promise<void>, isExited: () => boolean): Promise<void> {
  if (isExited()) return;
  // SIGINT lets both servers shut down cleanly (and node write its --cpu-prof file).
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
