// Run servers as child processes: tsnats (the CLI next to this file's build
// output) or the real nats-server (found by ./nats-server.ts). Both print
// nats-server style logs, so the client port is read from the "Listening for
// client connections on host:port" line.
import { spawn, type ChildProcess } from 'node:child_process';
import { hasNatsServer, requireNatsServer } from './nats-server.js';
import { waitUntil } from './wait.js';

/** @deprecated for a test's `skip` option use natsServerSkip() from ./nats-server.js (it fails in CI instead of skipping). */
export function natsServerAvailable(): boolean {
  return hasNatsServer();
}

/** Path of the compiled CLI, relative to this compiled helper (works from any outDir). */
export function cliPath(): string {
  return new URL('../../src/cli.js', import.meta.url).pathname;
}

export interface ChildServer {
  proc: ChildProcess;
  pid: number;
  port: number;
  /** stderr+stdout so far */
  output(): string;
  /** resolves with the exit code (or signal name) */
  exited: Promise<number | string>;
  /** send a signal (default SIGTERM) and wait for exit */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** wait for the listening line (default true) */
  waitListening?: boolean;
  timeoutMs?: number;
}

/** Spawn tsnats with the given flags (e.g. ['-p', '-1', '-a', '127.0.0.1']). */
export function spawnTsnats(args: string[], opts: SpawnOptions = {}): Promise<ChildServer> {
  return spawnServer(process.execPath, [cliPath(), ...args], opts);
}

/** Spawn the real nats-server with the given flags; rejects, naming what is missing, when it is not installed. */
export function spawnNatsServer(args: string[], opts: SpawnOptions = {}): Promise<ChildServer> {
  let bin: string;
  try {
    bin = requireNatsServer();
  } catch (e) {
    return Promise.reject(e);
  }
  return spawnServer(bin, args, opts);
}

const LISTEN_RE = /Listening for client connections on (\S+):(\d+)/;

export function spawnServer(cmd: string, args: string[], opts: SpawnOptions = {}): Promise<ChildServer> {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | string>((resolve) => {
    proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  const onData = (b: Buffer) => {
    out += b.toString();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const child: ChildServer = {
    proc,
    pid: proc.pid!,
    port: 0,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([
        exited,
        new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), timeoutMs); }),
      ]);
      clearTimeout(timer);
      if (r === 'timeout') {
        proc.kill('SIGKILL');
        return exited;
      }
      return r;
    },
  };
  if (opts.waitListening === false) return Promise.resolve(child);
  const timeoutMs = opts.timeoutMs ?? 10000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server did not start in ${timeoutMs}ms: ${out}`));
    }, timeoutMs);
    const check = () => {
      const m = LISTEN_RE.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', check);
        proc.stderr!.off('data', check);
        child.port = Number(m[2]);
        resolve(child);
      }
    };
    proc.stdout!.on('data', check);
    proc.stderr!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      if (child.port === 0) reject(new Error(`server exited (${code}) before listening: ${out}`));
    });
  });
}

/** A child's port for `what` ('route', 'leafnode', ...) from its "Listening for <what> connections on
 *  host:port" log line, which may follow the client listener's line spawn waited for. */
export async function listenPort(s: ChildServer, what: string): Promise<number> {
  const re = new RegExp(`Listening for ${what} connections on \\S+:(\\d+)`);
  await waitUntil(() => re.test(s.output()), 10_000, `${what} listener`);
  return Number(re.exec(s.output())![1]);
}
