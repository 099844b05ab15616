// Crash tests: run a piece of code in a child Node process that reports progress as
// "KIND VALUE" lines on stdout, and SIGKILL it as soon as the progress seen says so (no sleep).
import { spawn, type ChildProcess } from 'node:child_process';

export interface KillChildOptions {
  /** ES module source run with `node --input-type=module -e`. */
  code: string;
  /** Added to this process's environment. */
  env: Record<string, string>;
  /** Each complete stdout line, split at the first space. */
  onLine: (kind: string, value: string) => void;
  /** Asked after every stdout chunk (once its lines are handled): true = SIGKILL now. */
  killWhen: () => boolean;
  /** The child as soon as it is spawned (to register its cleanup). */
  onSpawn?: (child: ChildProcess) => void;
  /** Names the child in the error when it ends other than by SIGKILL. */
  label?: string;
}

export interface KillChildResult {
  stderr: string;
  signal: NodeJS.Signals | null;
  /** Killed because killWhen said so (false: it got SIGKILL from elsewhere, e.g. itself). */
  killedHere: boolean;
}

/** Resolves once the child died of SIGKILL; rejects when it exits any other way or cannot start. */
export function runUntilKilled(o: KillChildOptions): Promise<KillChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', o.code], {
      env: { ...process.env, ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    o.onSpawn?.(child);
    let killedHere = false;
    let buf = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const sp = line.indexOf(' ');
        o.onLine(sp < 0 ? line : line.slice(0, sp), sp < 0 ? '' : line.slice(sp + 1));
      }
      if (!killedHere && child.exitCode === null && o.killWhen()) {
        killedHere = true;
        child.kill('SIGKILL');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`${o.label ?? 'child'} exited ${code}: ${stderr}`));
      else resolve({ stderr, signal, killedHere });
    });
  });
}
