// In-memory index of a stream's messages, shared by the memory and file stores.
//
// Per sequence it keeps subject id, timestamp, accounted size and the links of a
// doubly linked list through all messages of the same subject (so per-subject
// first/last stay exact on any removal and per-subject walks skip other
// subjects). The file store adds the record location; the memory store adds the
// location of its bytes in a slab. Columns live in typed arrays grouped in chunks of 4096
// sequences; a chunk that holds no live message is dropped, so gaps (purges,
// skips, compactions) cost nothing. Chunks are created in increasing order,
// which keeps `chunkNos` sorted.
//
// A chunk is dense (entry i is sequence base + i) or, once few of its
// sequences are live, sparse: its entries are packed and `slots` lists their
// offsets from base in ascending order (found by binary search). Memory then
// follows the live messages: one live message in a chunk costs a few dozen
// bytes, not 4096 slots. Code outside this file only sees (chunk, entry) pairs
// from lookup()/add(), valid until the next change of the index.
//
// Idle chunks are packed (chunk-codec.ts, ~4-7 bytes per message instead of ~44):
// a sweep every SWEEP_MS packs the chunks nobody touched since the previous
// sweep, and any access unpacks the chunk first. Packing happens only from the
// sweep timer (between event-loop tasks), from packAll() at points where the
// caller holds no chunk, and after a one-off pass (deletedRuns, countFrom) for
// chunks that were packed when the pass reached them (so never under a
// (chunk, entry) pair someone holds).

import { emptyColumns, packColumns, unpackColumns, type Columns } from './chunk-codec.js';
import { hasWildcard, isAllFilter, subjectMatches } from './subject.js';
import type { SimpleState } from './types.js';

const CHUNK_SHIFT = 12;
export const CHUNK_SIZE = 1 << CHUNK_SHIFT;
const INITIAL_CAP = 64;
/** Stands for a packed form in Chunk's constructor (see there); never a chunk's packed form. */
const NO_BYTES = Buffer.alloc(0);
/** A full dense chunk with at most this many live entries turns sparse. */
const SPARSE_AT = CHUNK_SIZE / 32;
/** A sparse chunk with this many live entries turns dense again. */
const DENSE_AT = CHUNK_SIZE / 8;
/** Period of the idle-chunk sweep: a chunk is packed after one to two periods without access. */
export const SWEEP_MS = 2000;

export type IndexMode = 'memory' | 'file';

export class SubjectState {
  constructor(
    public id: number,
    public subject: string,
    public msgs: number,
    public first: number,
    public last: number,
  ) {}
}

export class Chunk {
  readonly no: number;
  readonly base: number;
  cap = 0;
  live = 0;
  // The columns (see Columns); set through useColumns.
  subj!: Int32Array;
  ts!: BigInt64Array;
  size!: Uint32Array;
  next!: Float64Array;
  prev!: Float64Array;
  loc!: Float64Array;
  rlen!: Uint32Array;
  hlen!: Int32Array | null;
  /** Sparse chunks: offset from base of each entry (ascending); null when dense. */
  slots: Uint16Array | null = null;
  /** Sparse chunks: entries in use (live or removed-not-yet-packed). */
  n = 0;
  /** Idle chunk: its columns packed (chunk-codec.ts) and the column arrays empty; null when in use. */
  packed: Buffer | null = null;
  /** While packed: the first and last live sequence (deletedRuns skips a packed chunk whose live
   *  messages are contiguous without unpacking it). */
  packedFirst = 0;
  packedLast = 0;
  /** Accessed since the last sweep. */
  used = true;
  private readonly withHlen: boolean;

  constructor(no: number, mode: IndexMode, cap: number) {
    this.no = no;
    this.base = no * CHUNK_SIZE;
    this.cap = cap;
    this.withHlen = mode === 'memory';
    this.useColumns(takeColumns(cap, this.withHlen));
    // V8 takes a field that only its initializer has written for a constant of the class, and the
    // first later write (with another value) throws away every optimized function that read it. The
    // sweep first writes these seconds into a run (the first pack), which threw away add, setNext,
    // visitLive and the block seal's visitor in every server and had them compiled again
    // (BENCHMARKS.md, "JIT warm-up: where the compiler's time goes"). A second write here, with other
    // values, makes them ordinary fields before any code is optimized.
    this.packed = NO_BYTES;
    this.packed = null;
    this.packedFirst = this.packedLast = -1;
    this.packedFirst = this.packedLast = 0;
    this.used = false;
    this.used = true;
  }

  /** Pack the columns and let go of the arrays. */
  pack(): void {
    if (this.packed !== null) return;
    const end = this.end;
    // First and last live entry, each searched from its own end: a full chunk (every chunk a busy
    // stream fills) stops at once instead of visiting all 4096 entries.
    let first = 0;
    let last = 0;
    const subj = this.subj;
    let k = 0;
    while (k < end && subj[k] < 0) k++;
    if (k < end) {
      first = this.seqAt(k);
      let j = end - 1;
      while (subj[j] < 0) j--;
      last = this.seqAt(j);
    }
    this.packedFirst = first;
    this.packedLast = last;
    this.packed = packColumns(this.columns(), end, this.base, this.slots);
    giveColumns(this.columns());
    this.useColumns(this.withHlen ? EMPTY_MEMORY : EMPTY_FILE);
  }

  /** Columns back from the packed form. */
  unpack(): void {
    const packed = this.packed;
    if (packed === null) return;
    const c = takeColumns(this.cap, this.withHlen);
    unpackColumns(packed, c, this.end, this.base, this.slots);
    this.useColumns(c);
    this.packed = null;
  }

  /** Drop columns unpacked by a scan that changed nothing: the packed form is still exact. */
  repack(packed: Buffer): void {
    this.packed = packed;
    giveColumns(this.columns());
    this.useColumns(this.withHlen ? EMPTY_MEMORY : EMPTY_FILE);
  }

  /** The current column arrays (a snapshot: useColumns does not change it). */
  private columns(): Columns {
    return { subj: this.subj, ts: this.ts, size: this.size, next: this.next, prev: this.prev, loc: this.loc, rlen: this.rlen, hlen: this.hlen };
  }

  private useColumns(c: Columns): void {
    this.subj = c.subj;
    this.ts = c.ts;
    this.size = c.size;
    this.next = c.next;
    this.prev = c.prev;
    this.loc = c.loc;
    this.rlen = c.rlen;
    this.hlen = c.hlen;
  }

  /** Entry `from` of the columns `old` becomes entry `to` of this chunk. */
  private copyEntry(old: Columns, from: number, to: number): void {
    this.subj[to] = old.subj[from];
    this.ts[to] = old.ts[from];
    this.size[to] = old.size[from];
    this.next[to] = old.next[from];
    this.prev[to] = old.prev[from];
    this.loc[to] = old.loc[from];
    this.rlen[to] = old.rlen[from];
    if (old.hlen) this.hlen![to] = old.hlen[from];
  }

  grow(minCap: number): void {
    let cap = this.cap;
    while (cap < minCap) cap *= 2;
    if (cap > CHUNK_SIZE && this.slots === null) cap = CHUNK_SIZE;
    this.realloc(cap, this.cap);
    if (this.slots !== null) {
      const slots = new Uint16Array(cap);
      slots.set(this.slots);
      this.slots = slots;
    }
  }

  /** Columns of capacity cap keeping the first `keep` entries. */
  private realloc(cap: number, keep: number): void {
    const c = emptyColumns(cap, this.hlen !== null);
    c.subj.set(this.subj.subarray(0, keep));
    c.ts.set(this.ts.subarray(0, keep));
    c.size.set(this.size.subarray(0, keep));
    c.next.set(this.next.subarray(0, keep));
    c.prev.set(this.prev.subarray(0, keep));
    c.loc.set(this.loc.subarray(0, keep));
    c.rlen.set(this.rlen.subarray(0, keep));
    if (c.hlen) c.hlen.set(this.hlen!.subarray(0, keep));
    this.useColumns(c);
    this.cap = cap;
  }

  /** Number of entries to iterate. */
  get end(): number {
    return this.slots === null ? this.cap : this.n;
  }

  /** Sequence of entry k. */
  seqAt(k: number): number {
    return this.slots === null ? this.base + k : this.base + this.slots[k];
  }

  /** Entry holding offset `off` from base, or -1. */
  find(off: number): number {
    const slots = this.slots;
    if (slots === null) return off < this.cap ? off : -1;
    const lo = lowerBound(slots, off, this.n);
    return lo < this.n && slots[lo] === off ? lo : -1;
  }

  /** First entry whose offset is >= off. */
  from(off: number): number {
    if (off <= 0) return 0;
    const slots = this.slots;
    if (slots === null) return off;
    return lowerBound(slots, off, this.n);
  }

  /** Last entry whose offset is <= off (-1 when none). */
  upTo(off: number): number {
    const slots = this.slots;
    if (slots === null) return Math.min(off, this.cap - 1);
    return upperBound(slots, off, this.n) - 1;
  }

  /** Pack the live entries into small columns (sparse layout). */
  sparsify(): void {
    const live = this.live;
    let cap = 8;
    while (cap < live) cap *= 2;
    const old = this.columns();
    const oldSlots = this.slots;
    const end = this.end;
    const slots = new Uint16Array(cap);
    this.useColumns(emptyColumns(cap, old.hlen !== null));
    let j = 0;
    for (let k = 0; k < end; k++) {
      if (old.subj[k] < 0) continue;
      slots[j] = oldSlots === null ? k : oldSlots[k];
      this.copyEntry(old, k, j);
      j++;
    }
    this.slots = slots;
    this.n = j;
    this.cap = cap;
  }

  /** Back to one entry per sequence. */
  densify(): void {
    const slots = this.slots;
    if (slots === null) return;
    const old = this.columns();
    const n = this.n;
    this.slots = null;
    this.n = 0;
    this.useColumns(emptyColumns(CHUNK_SIZE, old.hlen !== null));
    this.cap = CHUNK_SIZE;
    for (let k = 0; k < n; k++) {
      if (old.subj[k] >= 0) this.copyEntry(old, k, slots[k]);
    }
  }

  /** Entry for a new sequence at offset off (greater than every offset in the chunk). */
  append(off: number): number {
    if (this.slots === null) {
      if (off >= this.cap) this.grow(off + 1);
      return off;
    }
    if (this.live + 1 >= DENSE_AT) {
      this.densify();
      return off;
    }
    // A truncate leaves removed entries above the new last sequence: drop them, or the slots
    // would stop ascending (every live entry is below `off`, so those are all removed ones).
    while (this.n > 0 && this.slots[this.n - 1]! >= off) this.n--;
    // Full: repack when most entries are removed ones, else grow.
    if (this.n === this.cap && this.n - this.live > this.live) this.sparsify();
    if (this.n === this.cap) this.grow(this.cap * 2);
    const k = this.n++;
    this.slots[k] = off;
    return k;
  }

  /** After a removal: switch a mostly empty chunk to (or repack) the sparse layout. */
  shrink(): void {
    if (this.slots === null) {
      if (this.cap === CHUNK_SIZE && this.live <= SPARSE_AT) this.sparsify();
    } else if (this.n - this.live > this.live && this.n > 8) {
      this.sparsify();
    }
  }
}

/** Full-size column sets of packed chunks, kept for the next chunk created or unpacked (process
 *  wide, at most POOL_MAX of each kind). Packing and unpacking otherwise churn ~180 KiB per chunk
 *  through the allocator, and a recovery or a scan left the process holding the freed memory. */
const POOL_MAX = 8;
const pools = { file: [] as Columns[], memory: [] as Columns[] };

/** Columns for cap entries, subj -1 everywhere (the other columns of a reused set hold stale values,
 *  which are only read for entries whose subj is set). */
function takeColumns(cap: number, withHlen: boolean): Columns {
  const pool = withHlen ? pools.memory : pools.file;
  if (cap !== CHUNK_SIZE || pool.length === 0) return emptyColumns(cap, withHlen);
  const c = pool.pop()!;
  c.subj.fill(-1);
  return c;
}

/** Columns no chunk uses any more (the caller holds no other reference to them). */
function giveColumns(c: Columns): void {
  if (c.subj.length !== CHUNK_SIZE) return;
  const pool = c.hlen !== null ? pools.memory : pools.file;
  if (pool.length < POOL_MAX) pool.push(c);
}

/** The column arrays of a packed chunk (shared: nothing is ever written to them). */
const EMPTY_FILE = emptyColumns(0, false);
const EMPTY_MEMORY = emptyColumns(0, true);

/** Cached per-filter subject-id match results (lazily filled). */
class Matcher {
  memo: Int8Array = new Int8Array(64);
  constructor(readonly filter: string) {}
}

const MAX_MATCHERS = 16;

/** Subject filter of the plain (unfiltered) scans. */
const anyId = (): boolean => true;

export class MsgIndex {
  readonly mode: IndexMode;
  firstSeq: number;
  lastSeq: number;
  msgs = 0;
  bytes = 0;
  lastTs = 0n;

  readonly subjects = new Map<string, SubjectState>();
  private byId: Array<SubjectState | undefined> = [];
  private freeIds: number[] = [];
  private chunks = new Map<number, Chunk>();
  private chunkNos: number[] = [];
  private matchers = new Map<string, Matcher>();
  // Last chunk looked up: most accesses are sequential. Never a packed chunk.
  private hot: Chunk | undefined;
  /** Runs while some chunk is unpacked (see sweep). */
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Called at every sweep (the owner lets go of its own per-message state of an idle stream). */
  onSweep: (() => void) | undefined;

  /** Filled by remove(): what was removed. */
  removedSubject = '';
  removedSize = 0;
  /** Filled by add()/lookup(): slot of the chunk returned. */
  slot = 0;

  constructor(mode: IndexMode, firstSeq = 1) {
    this.mode = mode;
    this.firstSeq = firstSeq > 0 ? firstSeq : 1;
    this.lastSeq = this.firstSeq - 1;
  }

  // ---- chunk access ----

  /** Chunk holding a live message at seq (and sets this.slot), or undefined. */
  lookup(seq: number): Chunk | undefined {
    const no = Math.floor(seq / CHUNK_SIZE);
    let c = this.hot;
    if (c === undefined || c.no !== no) {
      c = this.chunks.get(no);
      if (c === undefined) return undefined;
      if (c.packed !== null) this.unpackChunk(c);
      this.hot = c;
    }
    c.used = true;
    const i = c.find(seq - c.base);
    if (i < 0 || c.subj[i] < 0) return undefined;
    this.slot = i;
    return c;
  }

  has(seq: number): boolean {
    return this.lookup(seq) !== undefined;
  }

  subjectOf(seq: number): string | undefined {
    const c = this.lookup(seq);
    if (!c) return undefined;
    return this.byId[c.subj[this.slot]]!.subject;
  }

  tsOf(seq: number): bigint {
    const c = this.lookup(seq);
    return c ? c.ts[this.slot] : 0n;
  }

  sizeOf(seq: number): number {
    const c = this.lookup(seq);
    return c ? c.size[this.slot] : 0;
  }

  subjectById(id: number): SubjectState | undefined {
    return this.byId[id];
  }

  private chunkFor(seq: number): Chunk {
    const no = Math.floor(seq / CHUNK_SIZE);
    let c = this.hot;
    if (c === undefined || c.no !== no) {
      c = this.chunks.get(no);
      if (c === undefined) {
        // Small streams start with small columns; once a stream spans chunks, use full ones.
        c = new Chunk(no, this.mode, this.chunks.size === 0 && this.chunkNos.length === 0 && this.lastSeq < CHUNK_SIZE ? INITIAL_CAP : CHUNK_SIZE);
        this.chunks.set(no, c);
        const nos = this.chunkNos;
        if (nos.length === 0 || nos[nos.length - 1] < no) nos.push(no);
        else nos.splice(lowerBound(nos, no), 0, no);
        this.startSweep();
      } else if (c.packed !== null) {
        this.unpackChunk(c);
      }
      this.hot = c;
    }
    c.used = true;
    return c;
  }

  // ---- packing of idle chunks ----

  private unpackChunk(c: Chunk): void {
    c.unpack();
    c.used = true;
    this.startSweep();
  }

  private startSweep(): void {
    if (this.sweepTimer !== undefined) return;
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  private packChunk(c: Chunk): void {
    c.pack();
    if (this.hot === c) this.hot = undefined;
  }

  /** Pack the chunks not accessed since the previous sweep; the timer stops once all are packed.
   *  Runs from the timer, between tasks, when no caller holds a (chunk, entry) pair. */
  sweep(): void {
    this.onSweep?.();
    let unpacked = 0;
    for (const c of this.chunks.values()) {
      if (c.packed !== null) continue;
      if (c.used) {
        c.used = false;
        unpacked++;
      } else {
        this.packChunk(c);
      }
    }
    if (unpacked === 0 && this.sweepTimer !== undefined) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  /** Pack every chunk now (recovery between blocks: nothing holds a chunk there). */
  packAll(): void {
    for (const c of this.chunks.values()) this.packChunk(c);
  }

  /** Bytes held by the chunks: column arrays, packed forms and sparse offsets (for tests and stats). */
  chunkBytes(): { columns: number; packed: number; chunks: number; packedChunks: number } {
    let columns = 0;
    let packed = 0;
    let packedChunks = 0;
    for (const c of this.chunks.values()) {
      if (c.slots !== null) columns += c.slots.byteLength;
      if (c.packed !== null) {
        packed += c.packed.length;
        packedChunks++;
      } else {
        columns += c.cap * (c.hlen ? 48 : 44);
      }
    }
    return { columns, packed, chunks: this.chunks.size, packedChunks };
  }

  /** A chunk for a scan, unpacked. A scan that moves on leaves it unpacked: the same scan is usually
   *  asked again soon (a filtered consumer looking for its next match), and unpacking every chunk
   *  again on each call costs far more than the memory until the sweep packs them. */
  private scanChunk(no: number): Chunk {
    const c = this.chunks.get(no)!;
    if (c.packed !== null) this.unpackChunk(c);
    return c;
  }

  /** A chunk for a one-off pass (deletedRuns, a partial count): unpacked, and its packed form when it
   *  was packed, to drop the columns again right after (nothing changes them meanwhile). */
  private peekChunk(no: number): { c: Chunk; packed: Buffer | null } {
    const c = this.chunks.get(no)!;
    const packed = c.packed;
    if (packed !== null) c.unpack();
    return { c, packed };
  }

  private dropChunk(c: Chunk): void {
    this.chunks.delete(c.no);
    const nos = this.chunkNos;
    if (nos[0] === c.no) nos.shift();
    else {
      const i = lowerBound(nos, c.no);
      if (nos[i] === c.no) nos.splice(i, 1);
    }
    if (this.hot === c) this.hot = undefined;
  }

  private setNext(seq: number, v: number): void {
    const c = this.lookup(seq)!;
    c.next[this.slot] = v;
  }

  private setPrev(seq: number, v: number): void {
    const c = this.lookup(seq)!;
    c.prev[this.slot] = v;
  }

  nextOf(seq: number): number {
    const c = this.lookup(seq);
    return c ? c.next[this.slot] : 0;
  }

  prevOf(seq: number): number {
    const c = this.lookup(seq);
    return c ? c.prev[this.slot] : 0;
  }

  // ---- mutation ----

  /** Add a message at seq (> lastSeq). Returns its chunk; this.slot is its slot. */
  add(seq: number, subject: string, ts: bigint, size: number): Chunk {
    let ss = this.subjects.get(subject);
    if (ss === undefined) {
      const id = this.freeIds.length > 0 ? this.freeIds.pop()! : this.byId.length;
      ss = new SubjectState(id, subject, 0, 0, 0);
      this.subjects.set(subject, ss);
      this.byId[id] = ss;
    }
    const c = this.chunkFor(seq);
    const i = c.append(seq - c.base);
    c.subj[i] = ss.id;
    c.ts[i] = ts;
    c.size[i] = size;
    c.next[i] = 0;
    if (ss.msgs > 0) {
      c.prev[i] = ss.last;
      this.setNext(ss.last, seq);
      ss.last = seq;
    } else {
      c.prev[i] = 0;
      ss.first = seq;
      ss.last = seq;
    }
    ss.msgs++;
    c.live++;
    this.msgs++;
    this.bytes += size;
    if (this.msgs === 1) this.firstSeq = seq;
    this.lastSeq = seq;
    this.lastTs = ts;
    this.slot = i;
    return c;
  }

  /** Remove the message at seq. Sets removedSubject/removedSize. False when absent. */
  remove(seq: number): boolean {
    const c = this.lookup(seq);
    if (c === undefined) return false;
    const i = this.slot;
    const id = c.subj[i];
    const ss = this.byId[id]!;
    const p = c.prev[i];
    const n = c.next[i];
    const size = c.size[i];
    c.subj[i] = -1;
    c.live--;
    if (p !== 0) this.setNext(p, n);
    else ss.first = n;
    if (n !== 0) this.setPrev(n, p);
    else ss.last = p;
    ss.msgs--;
    if (ss.msgs === 0) {
      this.subjects.delete(ss.subject);
      this.byId[id] = undefined;
      this.freeIds.push(id);
      for (const m of this.matchers.values()) if (id < m.memo.length) m.memo[id] = 0;
    }
    this.msgs--;
    this.bytes -= size;
    this.removedSubject = ss.subject;
    this.removedSize = size;
    if (c.live === 0) this.dropChunk(c);
    else c.shrink();
    if (this.msgs === 0) this.firstSeq = this.lastSeq + 1;
    else if (seq === this.firstSeq) this.firstSeq = this.nextLive(seq + 1);
    return true;
  }

  /** Forget every message; firstSeq = newFirst, lastSeq = max(lastSeq, newFirst - 1). */
  reset(newFirst: number, newLast?: number): void {
    this.chunks.clear();
    this.chunkNos = [];
    this.hot = undefined;
    this.subjects.clear();
    this.byId = [];
    this.freeIds = [];
    this.matchers.clear();
    this.msgs = 0;
    this.bytes = 0;
    this.lastSeq = newLast ?? Math.max(this.lastSeq, newFirst - 1);
    this.firstSeq = this.lastSeq + 1;
  }

  /** Consume sequences up to seq without messages (skips). */
  skipTo(seq: number, ts: bigint): void {
    if (seq <= this.lastSeq) return;
    this.lastSeq = seq;
    if (ts !== 0n) this.lastTs = ts;
    if (this.msgs === 0) this.firstSeq = seq + 1;
  }

  /** After removing everything above seq: make seq the last sequence. */
  setLast(seq: number, ts: bigint): void {
    this.lastSeq = seq;
    this.lastTs = ts;
    if (this.msgs === 0) this.firstSeq = seq + 1;
  }

  // ---- navigation ----

  /**
   * Call fn(chunk, entry, seq) for the live messages from <= seq <= to in order, at most `max` of
   * them. Returns the sequence to resume from, 0 when the range is done. One pass over the
   * columns: a nextLive + lookup per message searched the chunk list and the chunk twice each.
   * fn must not change the index, and the chunk is only valid during the call. A one-off pass
   * (a block seal's index): a chunk packed while its block filled is packed again right after.
   */
  visitLive(from: number, to: number, max: number, fn: (c: Chunk, i: number, seq: number) => void): number {
    if (this.msgs === 0) return 0;
    if (from < this.firstSeq) from = this.firstSeq;
    if (to > this.lastSeq) to = this.lastSeq;
    if (from > to) return 0;
    const nos = this.chunkNos;
    let left = max;
    for (let k = lowerBound(nos, Math.floor(from / CHUNK_SIZE)); k < nos.length; k++) {
      if (nos[k] * CHUNK_SIZE > to) return 0;
      const { c, packed } = this.peekChunk(nos[k]);
      const subj = c.subj;
      let resume = -1;
      for (let i = c.from(from - c.base), end = c.end; i < end; i++) {
        if (subj[i] < 0) continue;
        const seq = c.seqAt(i);
        if (seq > to) {
          resume = 0;
          break;
        }
        if (left === 0) {
          resume = seq;
          break;
        }
        left--;
        fn(c, i, seq);
      }
      if (packed !== null) c.repack(packed);
      if (resume >= 0) return resume;
    }
    return 0;
  }

  /** First live seq >= seq, or 0. */
  nextLive(seq: number): number {
    if (this.msgs === 0 || seq > this.lastSeq) return 0;
    if (seq < this.firstSeq) seq = this.firstSeq;
    return this.scanForward(seq, anyId);
  }

  /** Last live seq <= seq, or 0. */
  prevLive(seq: number): number {
    if (this.msgs === 0 || seq < this.firstSeq) return 0;
    if (seq > this.lastSeq) seq = this.lastSeq;
    return this.scanBackward(seq, 0, anyId);
  }

  lastLive(): number {
    return this.prevLive(this.lastSeq);
  }

  /** Number of live messages with seq >= seq. */
  countFrom(seq: number): number {
    if (seq <= this.firstSeq) return this.msgs;
    if (seq > this.lastSeq) return 0;
    const nos = this.chunkNos;
    const no = Math.floor(seq / CHUNK_SIZE);
    let total = 0;
    let k = lowerBound(nos, no);
    if (k < nos.length && nos[k] === no) {
      const { c, packed } = this.peekChunk(no);
      for (let i = c.from(seq - c.base), end = c.end; i < end; i++) if (c.subj[i] >= 0) total++;
      if (packed !== null) c.repack(packed);
      k++;
    }
    for (; k < nos.length; k++) total += this.chunks.get(nos[k])!.live;
    return total;
  }

  /** Calls fn for each live seq in [from, to] in ascending order (fn may remove that seq). */
  forEachLive(from: number, to: number, fn: (seq: number) => boolean | void): void {
    let s = this.nextLive(from);
    while (s !== 0 && s <= to) {
      const nxt = s + 1;
      if (fn(s) === false) return;
      s = this.nextLive(nxt);
    }
  }

  // ---- filters ----

  private matcher(filter: string): Matcher {
    let m = this.matchers.get(filter);
    if (m === undefined) {
      if (this.matchers.size >= MAX_MATCHERS) {
        const oldest = this.matchers.keys().next().value as string;
        this.matchers.delete(oldest);
      }
      m = new Matcher(filter);
      this.matchers.set(filter, m);
    }
    return m;
  }

  /** Does the subject with this id match the wildcard filter (memoised)? */
  private idMatches(m: Matcher, id: number): boolean {
    if (id >= m.memo.length) {
      let len = m.memo.length * 2;
      while (len <= id) len *= 2;
      const memo = new Int8Array(len);
      memo.set(m.memo);
      m.memo = memo;
    }
    const v = m.memo[id];
    if (v !== 0) return v === 1;
    const ok = subjectMatches(this.byId[id]!.subject, m.filter);
    m.memo[id] = ok ? 1 : 2;
    return ok;
  }

  /** Iterate subject states matching filter. */
  forEachSubject(filter: string, fn: (ss: SubjectState) => void): void {
    if (isAllFilter(filter)) {
      for (const ss of this.subjects.values()) fn(ss);
    } else if (!hasWildcard(filter)) {
      const ss = this.subjects.get(filter);
      if (ss) fn(ss);
    } else {
      const m = this.matcher(filter);
      for (const ss of this.subjects.values()) if (this.idMatches(m, ss.id)) fn(ss);
    }
  }

  /** First seq >= start in this subject's list (literal subject). */
  private nextInSubject(ss: SubjectState, start: number): number {
    if (start <= ss.first) return ss.first;
    if (start > ss.last) return 0;
    // Consumers usually ask for the seq after one they just got from this subject.
    const pc = this.lookup(start - 1);
    if (pc && pc.subj[this.slot] === ss.id) return pc.next[this.slot];
    // Interleave a forward sequence scan with a backward walk of the subject list,
    // so the cost is at most twice the cheaper of the two.
    let fwd = start;
    let back = ss.last;
    let best = ss.last;
    for (;;) {
      const c = this.lookup(fwd);
      if (c && c.subj[this.slot] === ss.id) return fwd;
      fwd++;
      const p = this.prevOf(back);
      if (p === 0 || p < start) return best;
      best = p;
      back = p;
      if (fwd > best) return best;
    }
  }

  /** Last seq <= start in this subject's list. */
  private prevInSubject(ss: SubjectState, start: number): number {
    if (start >= ss.last) return ss.last;
    if (start < ss.first) return 0;
    let bwd = start;
    let fwd = ss.first;
    let best = ss.first;
    for (;;) {
      const c = this.lookup(bwd);
      if (c && c.subj[this.slot] === ss.id) return bwd;
      bwd--;
      const n = this.nextOf(fwd);
      if (n === 0 || n > start) return best;
      best = n;
      fwd = n;
      if (bwd < best) return best;
    }
  }

  /** Count messages of one subject with seq >= start. */
  private countInSubject(ss: SubjectState, start: number): { n: number; first: number } {
    if (start <= ss.first) return { n: ss.msgs, first: ss.first };
    if (start > ss.last) return { n: 0, first: 0 };
    if (ss.msgs <= ss.last - start + 1) {
      let n = 0;
      let first = 0;
      for (let s = ss.last; s !== 0 && s >= start; s = this.prevOf(s)) {
        n++;
        first = s;
      }
      return { n, first };
    }
    let n = 0;
    let first = 0;
    for (let s = start; s <= ss.last; s++) {
      const c = this.lookup(s);
      if (c && c.subj[this.slot] === ss.id) {
        n++;
        if (first === 0) first = s;
      }
    }
    return { n, first };
  }

  /** First seq >= start whose subject matches filter, or 0. */
  nextMatch(filter: string, start: number): number {
    if (start < this.firstSeq) start = this.firstSeq;
    if (this.msgs === 0 || start > this.lastSeq) return 0;
    if (isAllFilter(filter)) return this.nextLive(start);
    if (!hasWildcard(filter)) {
      const ss = this.subjects.get(filter);
      return ss ? this.nextInSubject(ss, start) : 0;
    }
    const m = this.matcher(filter);
    if (this.subjects.size <= 32) {
      let best = 0;
      for (const ss of this.subjects.values()) {
        if (ss.last < start || !this.idMatches(m, ss.id)) continue;
        if (best !== 0 && ss.first >= best) continue;
        const s = this.nextInSubject(ss, start);
        if (s !== 0 && (best === 0 || s < best)) best = s;
      }
      return best;
    }
    return this.scanForward(start, (id) => this.idMatches(m, id));
  }

  /** First seq >= start matching any of filters (empty = all). */
  nextMatchMulti(filters: string[], start: number): number {
    if (filters.length === 0) return this.nextMatch('', start);
    if (filters.length === 1) return this.nextMatch(filters[0], start);
    let best = 0;
    for (const f of filters) {
      const s = this.nextMatch(f, start);
      if (s !== 0 && (best === 0 || s < best)) best = s;
    }
    return best;
  }

  /** First live seq >= start whose subject id passes ok, or 0. */
  private scanForward(start: number, ok: (id: number) => boolean): number {
    const nos = this.chunkNos;
    let k = lowerBound(nos, Math.floor(start / CHUNK_SIZE));
    for (; k < nos.length; k++) {
      const c = this.scanChunk(nos[k]);
      const subj = c.subj;
      for (let i = c.from(start - c.base), end = c.end; i < end; i++) {
        const id = subj[i];
        if (id >= 0 && ok(id)) return c.seqAt(i);
      }
    }
    return 0;
  }

  /** Last live seq <= start (and >= stopBelow) whose subject id passes ok, or 0. */
  private scanBackward(start: number, stopBelow: number, ok: (id: number) => boolean): number {
    const nos = this.chunkNos;
    let k = upperBound(nos, Math.floor(start / CHUNK_SIZE)) - 1;
    for (; k >= 0; k--) {
      const c = this.scanChunk(nos[k]);
      const subj = c.subj;
      for (let i = c.upTo(start - c.base); i >= 0; i--) {
        const s = c.seqAt(i);
        if (s < stopBelow) return 0;
        const id = subj[i];
        if (id >= 0 && ok(id)) return s;
      }
    }
    return 0;
  }

  /** Last seq <= start whose subject matches filter, or 0. */
  prevMatch(filter: string, start: number): number {
    if (start > this.lastSeq) start = this.lastSeq;
    if (this.msgs === 0 || start < this.firstSeq) return 0;
    if (isAllFilter(filter)) return this.prevLive(start);
    if (!hasWildcard(filter)) {
      const ss = this.subjects.get(filter);
      return ss ? this.prevInSubject(ss, start) : 0;
    }
    const m = this.matcher(filter);
    return this.scanBackward(start, 0, (id) => this.idMatches(m, id));
  }

  /** Last seq whose subject matches filter, or 0. */
  lastMatch(filter: string): number {
    if (this.msgs === 0) return 0;
    if (isAllFilter(filter)) return this.lastLive();
    if (!hasWildcard(filter)) return this.subjects.get(filter)?.last ?? 0;
    const m = this.matcher(filter);
    // A bounded backward scan finds recent matches fast; otherwise ask every subject.
    const bound = Math.max(this.lastSeq - 2 * this.subjects.size, this.firstSeq);
    const s = this.scanBackward(this.lastSeq, bound, (id) => this.idMatches(m, id));
    if (s !== 0) return s;
    let best = 0;
    for (const ss of this.subjects.values()) {
      if (ss.last > best && this.idMatches(m, ss.id)) best = ss.last;
    }
    return best;
  }

  /** Summary of messages with seq >= start matching filter. */
  filteredState(start: number, filter: string): SimpleState {
    if (start < this.firstSeq) start = this.firstSeq;
    if (this.msgs === 0 || start > this.lastSeq) return { msgs: 0, first: 0, last: 0 };
    if (isAllFilter(filter)) {
      const n = this.countFrom(start);
      if (n === 0) return { msgs: 0, first: 0, last: 0 };
      return { msgs: n, first: this.nextLive(start), last: this.lastLive() };
    }
    if (!hasWildcard(filter)) {
      const ss = this.subjects.get(filter);
      if (!ss) return { msgs: 0, first: 0, last: 0 };
      const r = this.countInSubject(ss, start);
      return r.n === 0 ? { msgs: 0, first: 0, last: 0 } : { msgs: r.n, first: r.first, last: ss.last };
    }
    const m = this.matcher(filter);
    const out: SimpleState = { msgs: 0, first: 0, last: 0 };
    if (this.lastSeq - start + 1 < this.subjects.size) {
      for (let s = this.nextLive(start); s !== 0; s = this.nextLive(s + 1)) {
        const c = this.lookup(s)!;
        if (!this.idMatches(m, c.subj[this.slot])) continue;
        out.msgs++;
        if (out.first === 0) out.first = s;
        out.last = s;
      }
      return out;
    }
    for (const ss of this.subjects.values()) {
      if (ss.last < start || !this.idMatches(m, ss.id)) continue;
      const r = this.countInSubject(ss, start);
      if (r.n === 0) continue;
      out.msgs += r.n;
      if (out.first === 0 || r.first < out.first) out.first = r.first;
      if (ss.last > out.last) out.last = ss.last;
    }
    return out;
  }

  /** Number of subjects matching filter whose last message is >= start. */
  lastPerSubjectCount(start: number, filter: string): number {
    let n = 0;
    this.forEachSubject(filter, (ss) => {
      if (ss.last >= start) n++;
    });
    return n;
  }

  /** Last seq <= maxSeq of a subject. */
  lastAtOrBelow(ss: SubjectState, maxSeq: number): number {
    return this.prevInSubject(ss, maxSeq);
  }

  /** First seq whose timestamp >= tsNs (timestamps grow with seq); lastSeq+1 when none. */
  seqFromTime(tsNs: bigint): number {
    if (this.msgs === 0) return this.lastSeq + 1;
    const first = this.firstSeq;
    if (tsNs <= this.tsOf(first)) return first;
    const lastLive = this.lastLive();
    const lastTs = this.tsOf(lastLive);
    if (tsNs === lastTs) return lastLive;
    if (tsNs > lastTs) return this.lastSeq + 1;
    let lo = first;
    let hi = lastLive;
    let result = lastLive;
    while (lo <= hi) {
      const mid = lo + Math.floor((hi - lo) / 2);
      const s = this.nextLive(mid);
      if (s === 0 || s > hi) {
        hi = mid - 1;
        continue;
      }
      if (this.tsOf(s) >= tsNs) {
        result = s;
        hi = mid - 1;
      } else {
        lo = s + 1;
      }
    }
    return result;
  }

  /** Deleted (absent) sequences between firstSeq and lastSeq as [first, count] runs. */
  deletedRuns(): Array<[number, number]> {
    const runs: Array<[number, number]> = [];
    if (this.msgs === 0) return runs;
    let expect = this.firstSeq;
    const last = this.lastSeq;
    for (const no of this.chunkNos) {
      const pc = this.chunks.get(no)!;
      if (pc.packed !== null && pc.live === pc.packedLast - pc.packedFirst + 1) {
        // Every sequence from packedFirst to packedLast is live: no need to unpack.
        const from = Math.max(pc.packedFirst, expect);
        if (from > last || pc.packedLast < expect) continue;
        if (from > expect) runs.push([expect, from - expect]);
        expect = Math.min(pc.packedLast, last) + 1;
        continue;
      }
      const { c, packed } = this.peekChunk(no);
      const subj = c.subj;
      const end = c.end;
      for (let i = c.from(expect - c.base); i < end; i++) {
        if (subj[i] < 0) continue;
        const s = c.seqAt(i);
        if (s > last) break;
        if (s > expect) runs.push([expect, s - expect]);
        expect = s + 1;
      }
      if (packed !== null) c.repack(packed);
    }
    if (expect <= last) runs.push([expect, last - expect + 1]);
    return runs;
  }

  numDeleted(): number {
    return this.msgs === 0 ? 0 : this.lastSeq - this.firstSeq + 1 - this.msgs;
  }
}

/** First index in a[0, n) (ascending) whose value is >= v. */
function lowerBound(a: ArrayLike<number>, v: number, n = a.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index in a[0, n) (ascending) whose value is > v. */
function upperBound(a: ArrayLike<number>, v: number, n = a.length): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
