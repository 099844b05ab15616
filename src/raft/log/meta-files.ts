// Small durable files of a Raft group directory (names as NRG uses them):
//   tav.idx                 u64 term | 8-byte vote (absent = no vote)
//   peers.idx               encoded peer state (codec.ts)
//   state-lost              present while state lost in recovery is not repaired
//   snapshots/snap.<term>.<index>   (snap.*.bad: failed to load, kept aside)
//       u64 lastTerm | u64 lastIndex | u32 len(peerstate) | peerstate | data | 8-byte checksum
// Every write goes to a temp file that is fsync'ed and renamed over the old
// one (then the directory is fsync'ed), so a crash leaves old or new, never
// half. The snapshot checksum is the first 8 bytes of SHA-256 over the rest
// (nats-server uses HighwayHash here; the file is ours, not shared).

import { createHash } from 'node:crypto';
import { type RaftFs, realFs } from '../runtime.js';
import { join } from 'node:path';
import { decodePeerState, encodePeerState, readU32, readU64, writeU32, writeU64 } from '../codec.js';
import type { SnapshotRecord } from '../core-types.js';
import { ID_LEN, type PeerState, RaftError } from '../types.js';

export const TERM_VOTE_FILE = 'tav.idx';
export const PEER_STATE_FILE = 'peers.idx';
export const SNAPSHOTS_DIR = 'snapshots';
/** Present while recovery-lost state has not been repaired by a leader (RaftNode). */
export const STATE_LOST_FILE = 'state-lost';
const SNAP_RE = /^snap\.(\d+)\.(\d+)$/;
/** Snapshots that failed to load, kept for inspection (never loaded, never deleted). */
const BAD_RE = /\.bad\d*$/;
const MIN_SNAPSHOT_BYTES = 28;

function fsyncDir(dir: string, fsx: RaftFs = realFs): void {
  const fd = fsx.openSync(dir, 'r');
  try {
    fsx.fsyncSync(fd);
  } finally {
    fsx.closeSync(fd);
  }
}

/** Atomically and durably replaces `path` with `data`. */
export function writeFileDurable(path: string, data: Uint8Array, dir: string, fsx: RaftFs = realFs): void {
  const tmp = `${path}.tmp`;
  const fd = fsx.openSync(tmp, 'w');
  try {
    let off = 0;
    while (off < data.length) off += fsx.writeSync(fd, data, off, data.length - off);
    fsx.fsyncSync(fd);
  } finally {
    fsx.closeSync(fd);
  }
  fsx.renameSync(tmp, path);
  fsyncDir(dir, fsx);
}

function encodeTermVote(term: number, vote: string): Buffer {
  const buf = Buffer.alloc(8 + (vote ? ID_LEN : 0));
  writeU64(buf, 0, term);
  if (vote) buf.write(vote, 8, ID_LEN, 'latin1');
  return buf;
}

export function writeTermVote(dir: string, term: number, vote: string, fsx: RaftFs = realFs): void {
  writeFileDurable(join(dir, TERM_VOTE_FILE), encodeTermVote(term, vote), dir, fsx);
}

// Asynchronous durable writes (write temp, fdatasync, rename, fsync dir) off
// the event loop, with callbacks only (no promises, so a simulated file
// system keeps control of when each step completes). Writes to one path run
// one after another, also across node incarnations on the same directory,
// so the last requested content wins.
interface PathQueue {
  running: boolean;
  queue: { data: Uint8Array; dir: string; done: (err?: Error) => void }[];
}
const queuesByFs = new WeakMap<RaftFs, Map<string, PathQueue>>();

function writeFileDurableAsync(fsx: RaftFs, path: string, data: Uint8Array, dir: string, cb: (err?: Error) => void): void {
  const tmp = `${path}.tmp`;
  const fail = (e: Error | null): boolean => {
    if (!e) return false;
    cb(e);
    return true;
  };
  fsx.open(tmp, 'w', (e1, fd) => {
    if (fail(e1)) return;
    const writeAll = (off: number): void => {
      if (off >= data.length) {
        fsx.fdatasync(fd, (e3) => {
          fsx.close(fd, (e4) => {
            if (fail(e3) || fail(e4)) return;
            fsx.rename(tmp, path, (e5) => {
              if (fail(e5)) return;
              fsx.open(dir, 'r', (e6, dfd) => {
                if (fail(e6)) return;
                fsx.fsync(dfd, (e7) => {
                  fsx.close(dfd, () => {
                    if (!fail(e7)) cb();
                  });
                });
              });
            });
          });
        });
        return;
      }
      fsx.write(fd, data, off, data.length - off, off, (e2, n) => {
        if (e2) {
          fsx.close(fd, () => cb(e2));
          return;
        }
        writeAll(off + n);
      });
    };
    writeAll(0);
  });
}

/**
 * Drops the write queues of a file system whose process "died" (simulator
 * crash: callbacks of writes in flight never run, so their queues would
 * stay blocked for the next incarnation).
 */
export function forgetPendingWrites(fsx: RaftFs): void {
  queuesByFs.delete(fsx);
}

/** Queues a durable replacement of `path`; `done` runs once it is on disk (or failed). */
export function writeFileDurableLater(path: string, data: Uint8Array, dir: string, done: (err?: Error) => void, fsx: RaftFs = realFs): void {
  let byPath = queuesByFs.get(fsx);
  if (!byPath) queuesByFs.set(fsx, (byPath = new Map()));
  let q = byPath.get(path);
  if (!q) byPath.set(path, (q = { running: false, queue: [] }));
  q.queue.push({ data, dir, done });
  if (!q.running) runQueue(fsx, byPath, path, q);
}

function runQueue(fsx: RaftFs, byPath: Map<string, PathQueue>, path: string, q: PathQueue): void {
  const job = q.queue.shift();
  if (!job) {
    q.running = false;
    byPath.delete(path);
    return;
  }
  q.running = true;
  writeFileDurableAsync(fsx, path, job.data, job.dir, (err) => {
    try {
      job.done(err);
    } finally {
      runQueue(fsx, byPath, path, q);
    }
  });
}

/** tav.idx written off the event loop; `done` once durable. */
export function writeTermVoteLater(dir: string, term: number, vote: string, done: (err?: Error) => void, fsx: RaftFs = realFs): void {
  writeFileDurableLater(join(dir, TERM_VOTE_FILE), encodeTermVote(term, vote), dir, done, fsx);
}

/** peers.idx written off the event loop. */
export function writePeerStateFileLater(dir: string, ps: PeerState, done: (err?: Error) => void, fsx: RaftFs = realFs): void {
  writeFileDurableLater(join(dir, PEER_STATE_FILE), encodePeerState(ps), dir, done, fsx);
}

/** A group file's bytes, or undefined when it cannot be read (absent). */
function readIfPresent(dir: string, name: string, fsx: RaftFs): Buffer | undefined {
  try {
    return fsx.readFileSync(join(dir, name));
  } catch {
    return undefined;
  }
}

/** Term and vote; a missing or short file reads as far as it goes (term 0, no vote). */
export function readTermVote(dir: string, fsx: RaftFs = realFs): { term: number; vote: string } {
  const buf = readIfPresent(dir, TERM_VOTE_FILE, fsx);
  if (buf === undefined || buf.length < 8) return { term: 0, vote: '' };
  const term = Math.max(0, readU64(buf, 0));
  const vote = buf.length >= 8 + ID_LEN ? buf.toString('latin1', 8, 8 + ID_LEN) : '';
  return { term, vote };
}

/**
 * Why tav.idx is damaged, or undefined when it is absent or well formed. It is only ever replaced whole
 * (temp file, rename), so a length other than 8 (no vote) or 16 B, or a term that does not decode, is
 * damage: the vote cast in the current term may be forgotten, and the node must not vote as if it knew.
 */
export function termVoteDamage(dir: string, fsx: RaftFs = realFs): string | undefined {
  const buf = readIfPresent(dir, TERM_VOTE_FILE, fsx);
  if (buf === undefined) return undefined;
  if (buf.length !== 8 && buf.length !== 8 + ID_LEN) return `${TERM_VOTE_FILE} has ${buf.length} bytes`;
  if (readU64(buf, 0) < 0) return `${TERM_VOTE_FILE} holds no valid term`;
  return undefined;
}

export function writePeerStateFile(dir: string, ps: PeerState, fsx: RaftFs = realFs): void {
  writeFileDurable(join(dir, PEER_STATE_FILE), encodePeerState(ps), dir, fsx);
}

export function readPeerStateFile(dir: string, fsx: RaftFs = realFs): PeerState | undefined {
  const buf = readIfPresent(dir, PEER_STATE_FILE, fsx);
  if (buf === undefined) return undefined;
  const ps = decodePeerState(buf);
  return ps instanceof RaftError ? undefined : ps;
}

function checksum(buf: Uint8Array): Buffer {
  return createHash('sha256').update(buf).digest().subarray(0, 8);
}

export function encodeSnapshotFile(s: SnapshotRecord): Buffer {
  const body = 20 + s.peerState.length + s.data.length;
  const buf = Buffer.allocUnsafe(body + 8);
  writeU64(buf, 0, s.lastTerm);
  writeU64(buf, 8, s.lastIndex);
  writeU32(buf, 16, s.peerState.length);
  buf.set(s.peerState, 20);
  buf.set(s.data, 20 + s.peerState.length);
  checksum(buf.subarray(0, body)).copy(buf, body);
  return buf;
}

export function decodeSnapshotFile(buf: Buffer): SnapshotRecord | undefined {
  if (buf.length < MIN_SNAPSHOT_BYTES) return undefined;
  const body = buf.length - 8;
  if (!checksum(buf.subarray(0, body)).equals(buf.subarray(body))) return undefined;
  const lastTerm = readU64(buf, 0);
  const lastIndex = readU64(buf, 8);
  const psLen = readU32(buf, 16);
  if (lastTerm < 0 || lastIndex < 0 || 20 + psLen > body) return undefined;
  return {
    lastTerm,
    lastIndex,
    peerState: buf.subarray(20, 20 + psLen),
    data: buf.subarray(20 + psLen, body),
  };
}

/** Snapshots directory of a group: write, load latest, clean up. */
export class SnapshotStore {
  readonly dir: string;
  private current = '';
  /** Snapshot files that failed to load and were renamed `*.bad` by loadLatest(). */
  readonly movedAside: string[] = [];

  private readonly fs: RaftFs;

  constructor(groupDir: string, fsx: RaftFs = realFs) {
    this.fs = fsx;
    this.dir = join(groupDir, SNAPSHOTS_DIR);
    this.fs.mkdirSync(this.dir, { recursive: true });
  }

  /** Writes a snapshot durably and removes older ones. */
  write(s: SnapshotRecord): void {
    const name = `snap.${s.lastTerm}.${s.lastIndex}`;
    const path = join(this.dir, name);
    writeFileDurable(path, encodeSnapshotFile(s), this.dir, this.fs);
    for (const n of this.fs.readdirSync(this.dir)) if (n !== name && !BAD_RE.test(n)) this.fs.rmSync(join(this.dir, n), { force: true });
    this.current = path;
  }

  /**
   * The newest valid snapshot (highest term, then index). Temp files,
   * unparseable names and legacy index-0 snapshots are removed; a corrupt
   * snapshot is renamed `*.bad` (kept, listed in movedAside).
   */
  loadLatest(): SnapshotRecord | undefined {
    let names: string[];
    try {
      names = this.fs.readdirSync(this.dir);
    } catch {
      return undefined;
    }
    const cands: { name: string; term: number; index: number }[] = [];
    for (const n of names) {
      const m = SNAP_RE.exec(n);
      if (BAD_RE.test(n)) continue;
      if (!m) {
        this.fs.rmSync(join(this.dir, n), { force: true });
        continue;
      }
      cands.push({ name: n, term: Number(m[1]), index: Number(m[2]) });
    }
    cands.sort((a, b) => b.term - a.term || b.index - a.index);
    for (const c of cands) {
      const path = join(this.dir, c.name);
      if (c.index === 0) {
        this.fs.rmSync(path, { force: true });
        continue;
      }
      let s: SnapshotRecord | undefined;
      try {
        s = decodeSnapshotFile(this.fs.readFileSync(path));
      } catch {
        s = undefined;
      }
      if (s && s.lastIndex === c.index && s.lastTerm === c.term) {
        this.current = path;
        // Older valid snapshots are superseded; corrupt ones stay aside.
        // (corrupt ones were renamed already and are not touched).
        for (const o of cands) if (o !== c) this.fs.rmSync(join(this.dir, o.name), { force: true });
        return s;
      }
      let aside = `${path}.bad`;
      for (let n = 1; this.fs.existsSync(aside); n++) aside = `${path}.bad${n}`;
      this.fs.renameSync(path, aside);
      fsyncDir(this.dir, this.fs);
      this.movedAside.push(aside);
    }
    this.current = '';
    return undefined;
  }

  /** Re-reads the current snapshot (for catching up followers). */
  loadCurrent(): SnapshotRecord | undefined {
    if (!this.current) return undefined;
    try {
      return decodeSnapshotFile(this.fs.readFileSync(this.current));
    } catch {
      return undefined;
    }
  }

  /** Deletes every snapshot (memory-style reset). */
  clear(): void {
    for (const n of this.fs.readdirSync(this.dir)) if (!BAD_RE.test(n)) this.fs.rmSync(join(this.dir, n), { force: true });
    this.current = '';
  }
}

export function decodePeerStateOrThrow(b: Uint8Array): PeerState {
  const ps = decodePeerState(b);
  if (ps instanceof RaftError) throw ps;
  return ps;
}
