// What a RaftNode needs from its environment: a clock, randomness, timers,
// "later in this turn", and the file system calls of its WAL and meta files.
// Production uses the real ones; the deterministic simulator supplies its own
// (virtual time, an in-memory disk that loses unsynced writes on a crash).

import * as nodeFs from 'node:fs';

/** The file system calls the WAL and the meta files use. */
export type RaftFs = Pick<
  typeof nodeFs,
  | 'openSync'
  | 'closeSync'
  | 'readSync'
  | 'writeSync'
  | 'writevSync'
  | 'ftruncateSync'
  | 'truncateSync'
  | 'unlinkSync'
  | 'renameSync'
  | 'readdirSync'
  | 'readFileSync'
  | 'writeFileSync'
  | 'existsSync'
  | 'mkdirSync'
  | 'rmSync'
  | 'fsyncSync'
  | 'fdatasyncSync'
  | 'fdatasync'
  | 'fsync'
  | 'close'
  | 'open'
  | 'write'
  | 'rename'
>;

export interface RaftRuntime {
  /** Milliseconds (monotonic). */
  now(): number;
  /** Uniform in [0, 1). */
  random(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
  /** Run `fn` once the current callback has finished (a microtask in production). */
  defer(fn: () => void): void;
  fs: RaftFs;
  /** Test hook: sees every message the node produces, before it may be held for a term/vote write. */
  onProduce?(subject: string, payload: Uint8Array): void;
}

export const realFs: RaftFs = nodeFs;

export const realRuntime: RaftRuntime = {
  now: () => performance.now(),
  random: Math.random,
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
  defer: (fn) => queueMicrotask(fn),
  fs: realFs,
};
