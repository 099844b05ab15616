// Write-ahead log of one Raft group: segment files of checksummed records,
// one record per log index (the encoded append entry, as NRG stores it).
//
// Record: u32 payloadLen | u32 crc32(index..payload) | u64 index | u64 term | payload
// Segment file: <dir>/<first index, 20 digits>.wal
//
// Writes are buffered and written with writev at flush(); sync() runs one
// fdatasync at a time for everything written so far (group commit) and
// reports the index that became durable. Recovery reads every segment, cuts
// a torn or corrupt tail at the first bad record and drops what follows: a
// record that fails its checksum is never trusted.
//
// Durable witness: <dir>/durable.idx = u64 index | u32 crc32(index), rewritten
// in place (a plain write, no fsync) after each completed sync with the index
// that became durable. A log cut cleanly (at a record boundary, or its newest
// segment gone) looks like a log that never had those records; recovery
// compares its end with the witness to tell the two apart. The witness is
// only raised after the records are durable, so it is never ahead of the log
// through a crash (a stale, lower one only weakens detection); it is lowered
// durably (fdatasync) before a truncation or reset cuts below it, so a crash
// right after does not raise a false alarm.
//
// Witness copy (optional, `witnessCopy`): the same claim kept outside the group directory (the
// stream's or consumer's store directory, the JetStream root for the meta group), so that removing the whole
// wal/ or group directory does not take every trace of the log with it. File: u64 index |
// u32 crc32(index bytes, tag) | tag (the group name, so a copy left by another group of that
// directory claims nothing). It is raised only when the durable index reaches twice its value
// (a handful of writes over a group's life, none on the hot path): it is a lower bound of the
// witness, and lowered durably with it.

import { type RaftFs, realFs } from '../runtime.js';
import { join } from 'node:path';
import { readU64, writeU32, writeU64 } from '../codec.js';
import { crc32 } from './crc32.js';
import { diskFullFault } from '../../core/disk-fault.js';
import { injectedFaults } from '../test-faults.js';

const HEADER_BYTES = 24;
const MAX_PAYLOAD_BYTES = 512 * 1024 * 1024;
const SEGMENT_RE = /^(\d{20})\.wal$/;
const FLUSH_PENDING_BYTES = 4 * 1024 * 1024;
export const WITNESS_FILE = 'durable.idx';
/** The name upper layers give the witness copy in a directory they own (a stream's or consumer's store). */
export const RAFT_WITNESS_COPY = 'raft-witness.idx';
const WITNESS_BYTES = 12;

export interface WalOptions {
  /** Roll over to a new segment past this size. */
  segmentMaxBytes?: number;
  /** Entries at or below this index are covered by a snapshot and ignored. */
  floor?: number;
  /** fdatasync on sync() (default true). Only tests may turn this off. */
  fsync?: boolean;
  /** File system (default: node:fs; the simulator passes its own). */
  fs?: RaftFs;
  /** Keep a copy of the durable witness in `path` (outside the WAL's directory), marked with `tag`. */
  witnessCopy?: { path: string; tag: string };
}

export interface WalRecovery {
  /** Records dropped from the tail (torn write, bad checksum, gap). */
  droppedRecords: number;
  /** Why the tail was cut, if it was. */
  reason?: string;
  /**
   * True when what was dropped may have been durable (and acknowledged): a
   * complete record with a bad checksum, a cut before the last segment, a
   * gap, a log that does not continue the snapshot. A record running past
   * the end of the last segment (an unfinished write) is not: it was never
   * fsync'ed.
   */
  lostDurable?: boolean;
  /** Files (or cut tails) moved aside as `*.bad` instead of being deleted. */
  movedAside?: string[];
  /** The durable witness at open (0: none); recovery ending below it is lost durable data. */
  witness?: number;
  /** The witness copy at open (0: none or another group's). */
  witnessCopy?: number;
}

interface Segment {
  first: number;
  path: string;
  fd: number;
  /** Bytes including those still pending in memory. */
  size: number;
  /** Bytes handed to the OS. */
  flushed: number;
  offsets: number[];
  terms: number[];
}

function segmentName(first: number): string {
  return `${String(first).padStart(20, '0')}.wal`;
}

export class Wal {
  readonly dir: string;
  readonly recovery: WalRecovery = { droppedRecords: 0 };
  private readonly segMax: number;
  private readonly doFsync: boolean;
  private segs: Segment[] = [];
  private floor: number;
  private floorTerm = 0;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private readonly dirty = new Set<Segment>();
  private dirDirty = false;
  private dirFd = -1;
  private syncing = false;
  private syncAgain = false;
  private syncMinTrunc = Infinity;
  private closeLater: number[] = [];
  private closed = false;
  private witnessFd = -1;
  /** Index last written to the witness file (or read from it at open). */
  private witnessed = 0;
  private readonly witnessBuf = Buffer.alloc(WITNESS_BYTES);
  private readonly copy: { path: string; tag: Buffer; buf: Buffer } | undefined;
  private copyFd = -1;
  /** Index last written to the copy (or read from it at open); its length is set at the first write. */
  private copyWritten = 0;
  private copySized = false;
  /** The copy is raised once the durable index reaches this. */
  private copyNext = 1;
  /** Called with the durable index when a sync completes (or with an error). */
  onDurable: (index: number, err?: Error) => void = () => {};

  private readonly fs: RaftFs;

  private constructor(dir: string, opts: WalOptions) {
    this.fs = opts.fs ?? realFs;
    this.dir = dir;
    this.segMax = opts.segmentMaxBytes ?? 64 * 1024 * 1024;
    this.doFsync = opts.fsync ?? true;
    this.floor = opts.floor ?? 0;
    if (opts.witnessCopy) {
      const tag = Buffer.from(opts.witnessCopy.tag);
      this.copy = { path: opts.witnessCopy.path, tag, buf: Buffer.alloc(WITNESS_BYTES + tag.length) };
    }
  }

  /** Opens (creating if needed) and recovers the WAL in `dir`. Synchronous. */
  static open(dir: string, opts: WalOptions = {}): Wal {
    (opts.fs ?? realFs).mkdirSync(dir, { recursive: true });
    const w = new Wal(dir, opts);
    w.recover();
    return w;
  }

  // ---------------------------------------------------------------- queries

  firstIndex(): number {
    if (this.segs.length === 0) return this.floor + 1;
    return Math.max(this.segs[0].first, this.floor + 1);
  }

  lastIndex(): number {
    if (this.segs.length === 0) return this.floor;
    const s = this.segs[this.segs.length - 1];
    return s.first + s.offsets.length - 1;
  }

  /** Term of the record at index, or -1. */
  termAt(index: number): number {
    if (index <= this.floor) return index === this.floor && this.floorTerm > 0 ? this.floorTerm : -1;
    const s = this.segmentFor(index);
    return s ? s.terms[index - s.first] : -1;
  }

  /** Payload of the record at index (a fresh buffer), or undefined. */
  read(index: number): Buffer | undefined {
    if (index <= this.floor) return undefined;
    const s = this.segmentFor(index);
    if (!s) return undefined;
    const k = index - s.first;
    const off = s.offsets[k];
    const end = k + 1 < s.offsets.length ? s.offsets[k + 1] : s.size;
    if (end > s.flushed) this.flush();
    const buf = Buffer.allocUnsafe(end - off - HEADER_BYTES);
    let got = 0;
    while (got < buf.length) {
      const n = this.fs.readSync(s.fd, buf, got, buf.length - got, off + HEADER_BYTES + got);
      if (n === 0) return undefined;
      got += n;
    }
    return buf;
  }

  /** Bytes of all segments (stored size). */
  sizeBytes(): number {
    let n = 0;
    for (const s of this.segs) n += s.size;
    return n;
  }

  segmentCount(): number {
    return this.segs.length;
  }

  private segmentFor(index: number): Segment | undefined {
    const segs = this.segs;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = segs[mid];
      if (index < s.first) hi = mid - 1;
      else if (index >= s.first + s.offsets.length) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  // ---------------------------------------------------------------- writes

  /** Appends the record for `index` (must be lastIndex()+1). Buffered. */
  append(index: number, term: number, payload: Uint8Array): void {
    this.checkOpen();
    const expect = this.lastIndex() + 1;
    if (index !== expect) throw new Error(`wal: append at ${index}, expected ${expect}`);
    if (payload.length > MAX_PAYLOAD_BYTES) throw new Error(`wal: record of ${payload.length} bytes is too large`);
    const recBytes = HEADER_BYTES + payload.length;
    let s = this.segs.length > 0 ? this.segs[this.segs.length - 1] : undefined;
    if (!s || (s.offsets.length > 0 && s.size + recBytes > this.segMax)) s = this.newSegment(index);
    const h = Buffer.allocUnsafe(HEADER_BYTES);
    writeU32(h, 0, payload.length);
    writeU64(h, 8, index);
    writeU64(h, 16, term);
    writeU32(h, 4, crc32(payload, crc32(h.subarray(8, HEADER_BYTES))));
    this.pending.push(h, payload);
    this.pendingBytes += recBytes;
    s.offsets.push(s.size);
    s.terms.push(term);
    s.size += recBytes;
    this.dirty.add(s);
    if (this.pendingBytes >= FLUSH_PENDING_BYTES) this.flush();
  }

  private newSegment(first: number): Segment {
    this.flush();
    const path = join(this.dir, segmentName(first));
    const fd = this.fs.openSync(path, 'w+');
    const s: Segment = { first, path, fd, size: 0, flushed: 0, offsets: [], terms: [] };
    this.segs.push(s);
    this.dirDirty = true;
    return s;
  }

  /** Hands buffered records to the OS (writev). */
  flush(): void {
    if (this.pending.length === 0) return;
    diskFullFault(this.dir);
    const s = this.segs[this.segs.length - 1];
    const bufs = this.pending;
    const total = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    let written = this.fs.writevSync(s.fd, bufs, s.flushed);
    if (written < total) {
      // Partial writev (rare): write the rest contiguously.
      const all = Buffer.concat(bufs);
      while (written < total) written += this.fs.writeSync(s.fd, all, written, total - written, s.flushed + written);
    }
    s.flushed += total;
  }

  /** Removes every record above lastKept. */
  truncateAfter(lastKept: number): void {
    this.checkOpen();
    if (lastKept >= this.lastIndex()) return;
    if (lastKept < this.floor) lastKept = this.floor;
    this.flush();
    if (lastKept < this.witnessed) this.lowerWitness(lastKept);
    while (this.segs.length > 0) {
      const s = this.segs[this.segs.length - 1];
      if (s.first > lastKept) {
        this.dropSegment(s);
        this.segs.pop();
        continue;
      }
      const keep = lastKept - s.first + 1;
      if (keep < s.offsets.length) {
        const off = s.offsets[keep];
        this.fs.ftruncateSync(s.fd, off);
        s.offsets.length = keep;
        s.terms.length = keep;
        s.size = s.flushed = off;
        this.dirty.add(s);
      }
      break;
    }
    if (lastKept < this.syncMinTrunc) this.syncMinTrunc = lastKept;
  }

  /** Drops records at or below `index` (covered by a snapshot with `term`). */
  compactThrough(index: number, term: number): void {
    this.checkOpen();
    if (index <= this.floor) return;
    this.flush();
    this.floor = index;
    this.floorTerm = term;
    while (this.segs.length > 0) {
      const s = this.segs[0];
      const last = s.first + s.offsets.length - 1;
      if (last > index) break;
      this.dropSegment(s);
      this.segs.shift();
    }
  }

  /** Empties the log; the next append is at floor+1 (snapshot from a leader). */
  resetTo(floor: number, term: number): void {
    this.checkOpen();
    this.pending = [];
    this.pendingBytes = 0;
    if (floor < this.witnessed) this.lowerWitness(floor);
    for (const s of this.segs) this.dropSegment(s);
    this.segs = [];
    this.floor = floor;
    this.floorTerm = term;
    this.syncMinTrunc = Math.min(this.syncMinTrunc, floor);
  }

  private dropSegment(s: Segment): void {
    this.dirty.delete(s);
    try {
      this.fs.unlinkSync(s.path);
    } catch {
      // already gone
    }
    // The last close of an unlinked file frees its blocks, which can take tens of ms (measured
    // ~30 ms per 2 MiB segment on a loaded machine, blocking every group of the server): close on
    // the thread pool. The name is already gone, so a new segment may reuse it at once.
    if (this.syncing) this.closeLater.push(s.fd);
    else this.fs.close(s.fd, () => {});
    this.dirDirty = true;
  }

  // ---------------------------------------------------------------- durability

  /**
   * Makes everything appended so far durable. Calls run one at a time; a
   * call during a sync is folded into the next one (group commit). The
   * result arrives through onDurable.
   */
  sync(): void {
    if (this.closed) return;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    this.startSync();
  }

  get syncInProgress(): boolean {
    return this.syncing;
  }

  private startSync(): void {
    try {
      this.flush();
    } catch (e) {
      // A write the disk refused (ENOSPC, EIO). This also runs from the previous sync's callback,
      // where a throw would take the whole process down: report it as a failed sync instead.
      const err = e instanceof Error ? e : new Error(String(e));
      process.nextTick(() => {
        if (!this.closed) this.onDurable(this.floor, err);
      });
      return;
    }
    const fds: number[] = [];
    for (const s of this.dirty) fds.push(s.fd);
    this.dirty.clear();
    const syncDir = this.dirDirty;
    this.dirDirty = false;
    const target = this.lastIndex();
    this.syncMinTrunc = Infinity;
    this.syncing = true;
    let remaining = this.doFsync ? fds.length + (syncDir ? 1 : 0) : 0;
    let failure: Error | undefined;
    const done = (err: NodeJS.ErrnoException | null): void => {
      if (err && !failure) failure = err;
      if (--remaining > 0) return;
      this.syncing = false;
      const durable = Math.min(target, this.syncMinTrunc);
      // Before anything is acknowledged (and before a close in flight releases the fd).
      if (!failure) failure = this.raiseWitness(durable);
      for (const fd of this.closeLater) this.fs.close(fd, () => {});
      this.closeLater = [];
      if (this.closed) return;
      this.onDurable(durable, failure);
      if (!failure && (this.syncAgain || this.dirty.size > 0)) {
        this.syncAgain = false;
        this.startSync();
      }
    };
    if (remaining === 0) {
      remaining = 1;
      process.nextTick(done, null);
      return;
    }
    for (const fd of fds) this.fs.fdatasync(fd, done);
    if (syncDir) this.fs.fsync(this.dirFdOpen(), done);
  }

  private dirFdOpen(): number {
    if (this.dirFd < 0) this.dirFd = this.fs.openSync(this.dir, 'r');
    return this.dirFd;
  }

  /** Synchronous sync of everything (startup and shutdown paths). */
  syncNow(): void {
    this.flush();
    if (this.doFsync) {
      for (const s of this.segs) this.fs.fdatasyncSync(s.fd);
      this.fs.fsyncSync(this.dirFdOpen());
    }
    this.dirty.clear();
    this.dirDirty = false;
    const err = this.raiseWitness(this.lastIndex());
    if (err) throw err;
  }

  // ---------------------------------------------------------------- durable witness

  /** Records `index` as durable when above the witness: a plain write (a crash may keep the old value, which is safe). */
  private raiseWitness(index: number): Error | undefined {
    if (index <= this.witnessed || this.witnessFd < 0) return undefined;
    try {
      this.writeWitness(index);
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
    if (index >= this.copyNext) this.raiseCopy(index);
    return undefined;
  }

  /**
   * The copy is a help, not a duty: a copy that cannot be written (its directory removed, a full
   * disk) only leaves the removal of the WAL's directory undetected, as without it.
   */
  private raiseCopy(index: number): void {
    // A sync that completes after close() (the group deleted meanwhile) must not create it again.
    if (!this.copy || this.closed) return;
    try {
      // Its creation off the event loop has not finished: create it here (no truncation race: that
      // one never truncates, it only creates).
      if (this.copyFd < 0) this.copyFd = this.fs.openSync(this.copy.path, 'w');
      this.writeCopy(index);
    } catch {
      this.copyNext = Number.MAX_SAFE_INTEGER;
    }
  }

  private writeCopy(index: number): void {
    const c = this.copy!;
    writeU64(c.buf, 0, index);
    c.tag.copy(c.buf, WITNESS_BYTES);
    writeU32(c.buf, 8, crc32(c.tag, crc32(c.buf.subarray(0, 8))));
    this.fs.writeSync(this.copyFd, c.buf, 0, c.buf.length, 0);
    // A copy another group left there may have been longer.
    if (!this.copySized) this.fs.ftruncateSync(this.copyFd, c.buf.length);
    this.copySized = true;
    this.copyWritten = index;
    this.copyNext = Math.max(1, 2 * index);
  }

  /** Lowers the witness durably before the log is cut below it (truncation, reset, accepted loss). */
  private lowerWitness(index: number): void {
    if (this.witnessFd < 0) return;
    this.writeWitness(index);
    // A damaged file may have been longer.
    this.fs.ftruncateSync(this.witnessFd, WITNESS_BYTES);
    if (this.doFsync) this.fs.fdatasyncSync(this.witnessFd);
    if (index < this.copyWritten && this.copyFd >= 0) {
      this.copySized = false;
      this.writeCopy(index);
      if (this.doFsync) this.fs.fdatasyncSync(this.copyFd);
    }
  }

  private writeWitness(index: number): void {
    const b = this.witnessBuf;
    writeU64(b, 0, index);
    writeU32(b, 8, crc32(b.subarray(0, 8)));
    this.fs.writeSync(this.witnessFd, b, 0, WITNESS_BYTES, 0);
    this.witnessed = index;
  }

  /**
   * After a recovery that ended below the witness, once the loss is on record elsewhere (the node's
   * state-lost marker, written durably first): lowers the witness to the log's end, so that the
   * records the log holds from now on are witnessed again.
   */
  settleWitness(): void {
    this.checkOpen();
    const end = this.lastIndex();
    if (end < this.witnessed || end < this.copyWritten) this.lowerWitness(end);
  }

  /**
   * The group leaves this server for good (its directory is being removed): the copy outside it
   * goes too, so that the same group placed here again later starts as a new member.
   */
  dropWitnessCopy(): void {
    const c = this.copy;
    if (!c) return;
    try {
      // Only our own: another group's copy there is not ours to remove.
      const b = this.fs.readFileSync(c.path);
      if (b.length === 0 || b.subarray(WITNESS_BYTES).equals(c.tag)) this.fs.unlinkSync(c.path);
    } catch {
      // already gone (its directory removed first)
    }
  }

  /** The copy at open, read like the witness: 0 (no claim), the index, or undefined (damaged). */
  private readCopy(): number | undefined {
    const c = this.copy;
    if (!c) return 0;
    let b: Buffer;
    try {
      b = this.fs.readFileSync(c.path);
    } catch {
      return 0;
    }
    if (b.length < WITNESS_BYTES || b.subarray(0, WITNESS_BYTES).every((x) => x === 0)) return 0;
    // Another group's copy (a directory reused) or a first write cut short in its tag: no claim.
    if (!b.subarray(WITNESS_BYTES).equals(c.tag)) return 0;
    if (readU32le(b, 8) !== crc32(c.tag, crc32(b.subarray(0, 8)))) return undefined;
    const index = readU64(b, 0);
    return index >= 0 ? index : undefined;
  }

  /** Opens the copy; a new file is created off the event loop. */
  private openCopy(): void {
    const c = this.copy;
    if (!c) return;
    if (this.fs.existsSync(c.path)) {
      try {
        this.copyFd = this.fs.openSync(c.path, 'r+');
      } catch {
        this.copyNext = Number.MAX_SAFE_INTEGER;
      }
      return;
    }
    // On the thread pool: allocating an inode can cost a millisecond on a busy file system. 'wx'
    // only creates (a raise that opened the file first is not undone).
    this.fs.open(c.path, 'wx', (err, fd) => {
      if (err) return;
      if (this.closed || this.copyFd >= 0) this.fs.close(fd, () => {});
      else this.copyFd = fd;
    });
  }

  /**
   * The witness at open: 0 when absent, shorter than a record or all zero (a first write into the new
   * file that a crash kept none or only part of: no claim), the index when intact, undefined when
   * damaged (nothing can be known). Later writes overwrite the same 12 bytes in place.
   */
  private readWitness(path: string): number | undefined {
    let b: Buffer;
    try {
      b = this.fs.readFileSync(path);
    } catch {
      return 0;
    }
    if (b.length < WITNESS_BYTES || b.every((x) => x === 0)) return 0;
    if (b.length !== WITNESS_BYTES || readU32le(b, 8) !== crc32(b.subarray(0, 8))) return undefined;
    const index = readU64(b, 0);
    return index >= 0 ? index : undefined;
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      const fds = this.segs.map((s) => s.fd);
      if (this.dirFd >= 0) fds.push(this.dirFd);
      if (this.witnessFd >= 0) fds.push(this.witnessFd);
      if (this.copyFd >= 0) fds.push(this.copyFd);
      this.segs = [];
      // A sync in flight still owns its fds; close once it is done.
      if (this.syncing) this.closeLater.push(...fds);
      else for (const fd of fds) this.fs.closeSync(fd);
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('wal: closed');
  }

  // ---------------------------------------------------------------- recovery

  private recover(): void {
    const witnessPath = join(this.dir, WITNESS_FILE);
    const witness = this.readWitness(witnessPath);
    const names = this.fs
      .readdirSync(this.dir)
      .filter((n: string) => SEGMENT_RE.test(n))
      .sort();
    let expected = -1;
    let cut = false;
    for (let k = 0; k < names.length; k++) {
      const name = names[k];
      const lastSegment = k === names.length - 1;
      const path = join(this.dir, name);
      const first = Number(SEGMENT_RE.exec(name)![1]);
      if (cut || (expected >= 0 && first !== expected)) {
        if (!cut) this.recovery.reason = `gap before segment ${name}`;
        this.recovery.droppedRecords += this.countRecords(path);
        this.recovery.lostDurable = true;
        cut = true;
        this.moveAside(path);
        continue;
      }
      const buf = this.fs.readFileSync(path);
      const s: Segment = { first, path, fd: -1, size: 0, flushed: 0, offsets: [], terms: [] };
      let off = 0;
      let index = first;
      while (off < buf.length) {
        const bad = this.checkRecord(buf, off, index);
        if (bad) {
          this.recovery.reason = `${bad} at index ${index} in ${name}`;
          this.recovery.droppedRecords += this.countRecords(path, off);
          // An unfinished write can only be the very end of the last
          // segment, and shows as a record running past the end of the
          // file. A complete record with a bad checksum may have been
          // durable and acknowledged (bit rot of the last record looks the
          // same), so it counts as lost state.
          // A bit flip in a length field also "runs past the end": it is
          // only an unfinished write if no intact later record follows.
          const tornEnd = lastSegment && bad.startsWith('torn') && !this.intactRecordAfter(buf, off, index);
          if (!tornEnd) {
            this.recovery.lostDurable = true;
            // Keep the cut bytes for inspection instead of destroying them.
            const aside = `${path}.${off}.bad`;
            this.fs.writeFileSync(aside, buf.subarray(off));
            (this.recovery.movedAside ??= []).push(aside);
          }
          cut = true;
          break;
        }
        s.offsets.push(off);
        s.terms.push(readU64(buf, off + 16));
        off += HEADER_BYTES + readU32le(buf, off);
        index++;
      }
      if (cut) this.fs.truncateSync(path, off);
      if (s.offsets.length === 0) {
        this.fs.unlinkSync(path);
        continue;
      }
      s.fd = this.fs.openSync(path, 'r+');
      s.size = s.flushed = off;
      this.segs.push(s);
      expected = index;
    }
    // Records at or below the snapshot floor are not part of the log.
    while (this.segs.length > 0) {
      const s = this.segs[0];
      if (s.first + s.offsets.length - 1 > this.floor) break;
      this.fs.closeSync(s.fd);
      this.fs.unlinkSync(s.path);
      this.segs.shift();
    }
    if (this.segs.length > 0 && this.segs[0].first > this.floor + 1) {
      // The log does not continue the snapshot (e.g. the snapshot it follows
      // was corrupt): nothing in it is usable, but it is kept aside.
      this.recovery.reason ??= `log starts at ${this.segs[0].first}, snapshot ends at ${this.floor}`;
      this.recovery.lostDurable = true;
      for (const s of this.segs) {
        this.recovery.droppedRecords += s.offsets.length;
        this.fs.closeSync(s.fd);
        this.moveAside(s.path);
      }
      this.segs = [];
    }
    // A clean cut (at a record boundary, or whole newest segments gone) leaves a log that looks
    // complete: only the witness knows it once went further.
    const end = this.lastIndex();
    if (injectedFaults.ignoreDurableWitness) {
      // test-only: as before the witness existed
    } else if (witness === undefined) {
      this.recovery.reason ??= `${WITNESS_FILE} is damaged`;
      this.recovery.lostDurable = true;
    } else if (end < witness) {
      this.recovery.reason ??= `log ends at ${end}, below its durable witness ${witness}`;
      this.recovery.lostDurable = true;
    }
    // The copy outside the directory: the only trace left when the whole directory was removed.
    const copy = this.readCopy();
    if (injectedFaults.ignoreRemovedLog) {
      // test-only: as before the copy existed
    } else if (copy === undefined) {
      this.recovery.reason ??= `the witness copy ${this.copy!.path} is damaged`;
      this.recovery.lostDurable = true;
    } else if (end < copy) {
      this.recovery.reason ??= `log ends at ${end}, below its witness copy ${copy} (${this.copy!.path})`;
      this.recovery.lostDurable = true;
    }
    this.recovery.witness = witness ?? 0;
    this.recovery.witnessCopy = copy ?? 0;
    // The witness is kept as found until settleWitness() (a damaged one counts as infinitely high),
    // so a crash before the loss is on record finds it again; plain writes only ever raise it.
    this.witnessed = witness ?? Number.MAX_SAFE_INTEGER;
    this.copyWritten = copy ?? Number.MAX_SAFE_INTEGER;
    this.copyNext = copy === undefined ? Number.MAX_SAFE_INTEGER : Math.max(1, 2 * copy);
    this.openCopy();
    this.witnessFd = this.fs.openSync(witnessPath, this.fs.existsSync(witnessPath) ? 'r+' : 'w+');
    // Whatever survived recovery is made durable before anyone relies on it.
    this.syncNow();
  }

  /** Renames a file to `<name>.bad` (never overwriting an earlier one). */
  private moveAside(path: string): void {
    let aside = `${path}.bad`;
    for (let n = 1; this.fs.existsSync(aside); n++) aside = `${path}.bad${n}`;
    this.fs.renameSync(path, aside);
    (this.recovery.movedAside ??= []).push(aside);
  }

  /** True when a valid record of a later index starts somewhere after `off` (recovery only). */
  private intactRecordAfter(buf: Buffer, off: number, index: number): boolean {
    for (let p = off + 1; p + HEADER_BYTES <= buf.length; p++) {
      const idx = readU64(buf, p + 8);
      if (idx > index && idx < index + 100_000_000 && this.checkRecord(buf, p, idx) === '') return true;
    }
    return false;
  }

  /** Why the record at `off` cannot be trusted, or '' if it is fine. */
  private checkRecord(buf: Buffer, off: number, index: number): string {
    if (buf.length - off < HEADER_BYTES) return 'torn header';
    const len = readU32le(buf, off);
    if (len > MAX_PAYLOAD_BYTES || off + HEADER_BYTES + len > buf.length) return 'torn record';
    const sum = crc32(buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len), crc32(buf.subarray(off + 8, off + HEADER_BYTES)));
    if (sum !== readU32le(buf, off + 4)) return 'checksum mismatch';
    if (readU64(buf, off + 8) !== index) return 'index out of sequence';
    if (readU64(buf, off + 16) < 0) return 'bad term';
    return '';
  }

  private countRecords(path: string, from = 0): number {
    try {
      const buf = this.fs.readFileSync(path);
      let n = 0;
      let off = from;
      while (buf.length - off >= HEADER_BYTES) {
        const len = readU32le(buf, off);
        if (off + HEADER_BYTES + len > buf.length) break;
        off += HEADER_BYTES + len;
        n++;
      }
      return n + (off < buf.length ? 1 : 0);
    } catch {
      return 0;
    }
  }
}

/**
 * True when `path` holds a witness copy of `group` claiming durable entries: the group's log was
 * here (an upper layer deciding whether a missing group directory is new uses it).
 */
export function holdsWitnessCopy(path: string, group: string, fs: RaftFs = realFs): boolean {
  let b: Buffer;
  try {
    b = fs.readFileSync(path);
  } catch {
    return false;
  }
  return b.length > WITNESS_BYTES && b.subarray(WITNESS_BYTES).equals(Buffer.from(group)) && !b.subarray(0, 8).every((x) => x === 0);
}

function readU32le(b: Uint8Array, off: number): number {
  return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16)) + b[off + 3] * 0x100_0000;
}
