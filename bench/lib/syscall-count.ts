// Counts a few system calls of running server processes with `perf stat` (kernel tracepoints), for
// benchmarks that ask how a message flows: how many messages one fdatasync (one raft group commit)
// covers at steady state, how many socket reads and writes each message costs. Linux with perf and
// tracepoint access only (root, or kernel.perf_event_paranoid low enough); `start` returns
// undefined where perf cannot run, and the caller prints nothing.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** The calls counted: WAL and store writes and syncs, socket reads and writes. */
export const COUNTED_SYSCALLS = ['fdatasync', 'read', 'write', 'writev', 'pwritev', 'pwrite64'] as const;
export type CountedSyscall = (typeof COUNTED_SYSCALLS)[number];

export interface SyscallCounter {
  /** Stop counting; per pid, the number of calls of each kind since start. */
  stop(): Promise<Map<number, Record<CountedSyscall, number>>>;
}

let perfUsable: boolean | undefined;

function canUsePerf(): boolean {
  if (perfUsable === undefined) {
    const r = spawnSync('perf', ['stat', '-x', ',', '-e', 'syscalls:sys_enter_fdatasync', '--', 'true'], { encoding: 'utf8' });
    perfUsable = r.status === 0 && !/not supported|No permission|Permission denied|event syntax error/i.test(r.stderr ?? '');
  }
  return perfUsable;
}

/** Starts one `perf stat` per pid; undefined when perf (or its tracepoints) cannot be used here. */
export function startSyscallCount(pids: number[]): SyscallCounter | undefined {
  if (pids.length === 0 || !canUsePerf()) return undefined;
  const events = COUNTED_SYSCALLS.map((s) => `syscalls:sys_enter_${s}`).join(',');
  const runs = pids.map((pid) => {
    // -x ,: one "count,unit,event,..." line per event on stderr, printed when perf gets SIGINT.
    const child: ChildProcess = spawn('perf', ['stat', '-x', ',', '-e', events, '-p', String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return { pid, child, exited, text: () => err };
  });
  return {
    async stop() {
      for (const r of runs) r.child.kill('SIGINT');
      await Promise.all(runs.map((r) => r.exited));
      const out = new Map<number, Record<CountedSyscall, number>>();
      for (const r of runs) {
        const counts = Object.fromEntries(COUNTED_SYSCALLS.map((s) => [s, 0])) as Record<CountedSyscall, number>;
        for (const line of r.text().split('\n')) {
          const f = line.split(',');
          const name = f[2]?.replace('syscalls:sys_enter_', '') as CountedSyscall | undefined;
          if (name !== undefined && name in counts) counts[name] = Number(f[0]) || 0;
        }
        out.set(r.pid, counts);
      }
      return out;
    },
  };
}
