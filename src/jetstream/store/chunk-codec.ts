// Packing of an idle index chunk's columns (msg-index.ts) into a compact byte string.
//
// The columns of a chunk cost ~44 bytes per message (48 in memory mode) while they are in use. A
// chunk that no one touched for a while is packed: entry by entry, each column as a zig-zag varint
// of its difference from a prediction (the same subject as the previous live entry, the next
// timestamp close to the previous one, the record right after the previous one, the subject's
// neighbours as far away as the previous entry's), so a run of similar messages costs ~4 bytes
// each instead of 44.
// The packing is lossless: unpack gives back exactly the columns that were packed, so nothing
// outside the index can tell whether a chunk was packed in between (nats-server instead drops a
// block's cache and re-reads the block file; here nothing is read back from disk).
//
// Layout per entry k < end: a flags byte (0: no message at this entry; else LIVE and one bit per
// column that differs from its prediction, see Pred), the timestamp (always: a difference, or an
// absolute value), then a varint for each flagged column. Dead entries have nothing more: their
// other columns are never read. A run of messages of one subject costs the flags byte and the
// timestamp difference (~4 bytes).

import { putUvarint } from './varint.js';

/** A chunk's columns (msg-index.ts): entry i of every array describes one message. */
export interface Columns {
  subj: Int32Array;
  ts: BigInt64Array;
  size: Uint32Array;
  next: Float64Array;
  prev: Float64Array;
  /** Where the bytes are: (block or slab id) * 2^32 + offset. */
  loc: Float64Array;
  /** File: record length. Memory: header + payload length. */
  rlen: Uint32Array;
  /** Memory only: header length, -1 when the message has no headers. */
  hlen: Int32Array | null;
}

const TWO32 = 0x1_0000_0000;
/** Entry flags: live, and which columns differ from their prediction (a varint follows for each). */
const LIVE = 0x80;
const F_SUBJ = 0x01;
const F_SIZE = 0x02;
const F_NEXT = 0x04;
const F_PREV = 0x08;
const F_LOC = 0x10;
const F_RLEN = 0x20;
const F_HLEN = 0x40;

/** What the previous live entry predicts for the next one: the same subject, size and record
 *  length, the record right after it, and the same distance to the subject's neighbours (1 for a
 *  single-subject run, n for n subjects written in turn). */
class Pred {
  subj = 0;
  lo = 0;
  hi = 0;
  size = 0;
  nextD = 1;
  prevD = -1;
  loc = 0;
  rlen = 0;
  hlen = 0;

  take(subj: number, size: number, next: number, prev: number, loc: number, rlen: number, hlen: number, seq: number): void {
    this.subj = subj;
    this.size = size;
    this.nextD = next - seq;
    this.prevD = prev - seq;
    this.loc = loc;
    this.rlen = rlen;
    this.hlen = hlen;
  }
}

/** Differences at least this large are written as absolute values (keeps zig-zag codes below 2^53). */
const BIG = 2 ** 50;
/** Worst case bytes of one entry: flags (1), subject (5), ts and 5 columns (marker and two uvarints
 *  each: 1 + 5 + 8), hlen (5). */
const MAX_ENTRY_BYTES = 1 + 5 + 6 * 14 + 5;

let scratch: Uint8Array | null = null;
/** Read position of unpackColumns (module state: the codec never runs re-entrantly). */
let rOff = 0;

/** Next uvarint of buf at rOff. Inline rather than varint.ts's getUvarint: most values here are one
 *  byte and this runs ~8 times per entry of every chunk unpacked. */
function rd(buf: Buffer): number {
  let b = buf[rOff++];
  if (b < 0x80) return b;
  let v = b & 0x7f;
  let mul = 128;
  for (;;) {
    b = buf[rOff++];
    if (b === undefined) throw new Error('index chunk unpack: truncated');
    if (b < 0x80) return v + b * mul;
    v += (b & 0x7f) * mul;
    mul *= 128;
  }
}

/** putUvarint with values below 2^31 (nearly all) written with integer ops. */
function wr(buf: Uint8Array, off: number, v: number): number {
  if (v < 0x80) {
    buf[off] = v;
    return off + 1;
  }
  if (v > 0x7fffffff) return putUvarint(buf, off, v);
  let x = v | 0;
  while (x >= 0x80) {
    buf[off++] = (x & 0x7f) | 0x80;
    x >>>= 7;
  }
  buf[off] = x;
  return off + 1;
}

function zig(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

function unzig(u: number): number {
  // Small values (nearly all) with integer ops: % on a double is a slow library call.
  if (u < 0x40000000) return (u >>> 1) ^ -(u & 1);
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** Is a delta code even (a difference) rather than odd (an absolute value follows)? */
function isDiff(u: number): boolean {
  return u < 0x40000000 ? (u & 1) === 0 : u % 2 === 0;
}

/** v (>= 0) as a difference from pred: even code = zigzag difference * 2, odd = absolute value follows. */
function putDelta(buf: Uint8Array, off: number, v: number, pred: number): number {
  const d = v - pred;
  if (d < BIG && d > -BIG) return wr(buf, off, zig(d) * 2);
  off = wr(buf, off, 1);
  off = wr(buf, off, Math.floor(v / TWO32));
  return wr(buf, off, v % TWO32);
}

function getDelta(buf: Buffer, pred: number): number {
  const u = rd(buf);
  if (isDiff(u)) return pred + unzig(u < 0x40000000 ? u >>> 1 : u / 2);
  const hi = rd(buf);
  return hi * TWO32 + rd(buf);
}

/** Pack entries [0, end) of cols. Entry k is sequence base + k, or base + slots[k] (sparse chunk). */
export function packColumns(cols: Columns, end: number, base: number, slots: Uint16Array | null): Buffer {
  const need = end * MAX_ENTRY_BYTES;
  if (scratch === null || scratch.length < need) scratch = new Uint8Array(Math.max(need, 4096 * MAX_ENTRY_BYTES));
  const buf = scratch;
  // Timestamps as 32-bit halves: Number arithmetic on them is exact and avoids a BigInt per entry.
  const tsLo = new Uint32Array(cols.ts.buffer, cols.ts.byteOffset, end * 2);
  const tsHi = new Int32Array(cols.ts.buffer, cols.ts.byteOffset, end * 2);
  const { subj, size, next, prev, loc, rlen, hlen } = cols;
  const p = new Pred();
  let off = 0;
  for (let k = 0; k < end; k++) {
    const s = subj[k];
    if (s < 0) {
      buf[off++] = 0;
      continue;
    }
    const seq = slots === null ? base + k : base + slots[k];
    const flagsAt = off++;
    let flags = LIVE;
    const lo = tsLo[2 * k];
    const hi = tsHi[2 * k + 1];
    const d = (hi - p.hi) * TWO32 + (lo - p.lo);
    if (d < BIG && d > -BIG) off = wr(buf, off, zig(d) * 2);
    else {
      off = wr(buf, off, 1);
      off = wr(buf, off, zig(hi));
      off = wr(buf, off, lo);
    }
    p.lo = lo;
    p.hi = hi;
    if (s !== p.subj) {
      flags |= F_SUBJ;
      off = wr(buf, off, zig(s - p.subj));
    }
    if (size[k] !== p.size) {
      flags |= F_SIZE;
      off = putDelta(buf, off, size[k], p.size);
    }
    if (next[k] !== seq + p.nextD) {
      flags |= F_NEXT;
      off = putDelta(buf, off, next[k], seq + p.nextD);
    }
    if (prev[k] !== seq + p.prevD) {
      flags |= F_PREV;
      off = putDelta(buf, off, prev[k], seq + p.prevD);
    }
    if (loc[k] !== p.loc + p.rlen) {
      flags |= F_LOC;
      off = putDelta(buf, off, loc[k], p.loc + p.rlen);
    }
    if (rlen[k] !== p.rlen) {
      flags |= F_RLEN;
      off = putDelta(buf, off, rlen[k], p.rlen);
    }
    if (hlen !== null && hlen[k] !== p.hlen) {
      flags |= F_HLEN;
      off = wr(buf, off, zig(hlen[k] - p.hlen));
    }
    buf[flagsAt] = flags;
    p.take(s, size[k], next[k], prev[k], loc[k], rlen[k], hlen !== null ? hlen[k] : 0, seq);
  }
  const out = Buffer.allocUnsafeSlow(off);
  out.set(buf.subarray(0, off));
  return out;
}

/** Unpack into fresh columns (subj prefilled with -1, as emptyColumns makes them). */
export function unpackColumns(packed: Buffer, cols: Columns, end: number, base: number, slots: Uint16Array | null): void {
  const tsLo = new Uint32Array(cols.ts.buffer, cols.ts.byteOffset, end * 2);
  const tsHi = new Int32Array(cols.ts.buffer, cols.ts.byteOffset, end * 2);
  const { subj, size, next, prev, loc, rlen, hlen } = cols;
  const p = new Pred();
  rOff = 0;
  for (let k = 0; k < end; k++) {
    const flags = packed[rOff++];
    if (flags === 0) continue;
    const u = rd(packed);
    if (isDiff(u)) {
      // prev + d over 32-bit halves, with the carry from the low half.
      const d = unzig(u < 0x40000000 ? u >>> 1 : u / 2);
      const dHi = Math.floor(d / TWO32);
      let lo = p.lo + (d - dHi * TWO32);
      let carry = 0;
      if (lo >= TWO32) {
        lo -= TWO32;
        carry = 1;
      }
      p.lo = lo;
      p.hi = (p.hi + dHi + carry) | 0;
    } else {
      p.hi = unzig(rd(packed));
      p.lo = rd(packed);
    }
    tsLo[2 * k] = p.lo;
    tsHi[2 * k + 1] = p.hi;
    const seq = slots === null ? base + k : base + slots[k];
    const s = (flags & F_SUBJ) !== 0 ? p.subj + unzig(rd(packed)) : p.subj;
    const sz = (flags & F_SIZE) !== 0 ? getDelta(packed, p.size) : p.size;
    const nx = (flags & F_NEXT) !== 0 ? getDelta(packed, seq + p.nextD) : seq + p.nextD;
    const pv = (flags & F_PREV) !== 0 ? getDelta(packed, seq + p.prevD) : seq + p.prevD;
    const lc = (flags & F_LOC) !== 0 ? getDelta(packed, p.loc + p.rlen) : p.loc + p.rlen;
    const rl = (flags & F_RLEN) !== 0 ? getDelta(packed, p.rlen) : p.rlen;
    let hl = 0;
    if (hlen !== null) {
      hl = (flags & F_HLEN) !== 0 ? p.hlen + unzig(rd(packed)) : p.hlen;
      hlen[k] = hl;
    }
    subj[k] = s;
    size[k] = sz;
    next[k] = nx;
    prev[k] = pv;
    loc[k] = lc;
    rlen[k] = rl;
    p.take(s, sz, nx, pv, lc, rl, hl, seq);
  }
  if (rOff !== packed.length) throw new Error(`index chunk unpack: ${rOff} of ${packed.length} bytes used`);
}

/** Entries that reach every branch of the codec with the kinds of numbers real chunks reach only later
 *  (see primeFeedback): record locations past 2^32 (every block after the first), timestamp halves
 *  above 2^31, differences above 2^30, multi-byte varints, dead entries, sparse slots, and both the
 *  file and the memory column sets. Exported for the codec's test. */
export function codecSamples(): Array<{ cols: Columns; end: number; base: number; slots: Uint16Array | null }> {
  const n = 6;
  const t0 = 1_765_000_000_000_000_000n;
  const ts = [t0 + 0xf000_0000n, 0n, t0 + 0xf000_0100n, t0 + 0x1_8000_0000n, t0 - 5n * 0x1_0000_0000n, t0 + 0x8000_0000_0000n];
  const subj = [0, -1, 0, 70_000, 3, 3];
  const size = [128, 0, 128, 3_000_000_000, 1, 0x4000_0001];
  const locs = [2 ** 32, 0, 2 ** 32 + 200, 2 ** 45 + 17, 2 ** 33, 2 ** 32 + 2 ** 31 + 3];
  const out = [];
  for (const withHlen of [false, true]) {
    for (const slots of [null, Uint16Array.from([0, 1, 2, 900, 4000, 4095])]) {
      const cols = emptyColumns(n, withHlen);
      for (let k = 0; k < n; k++) {
        cols.subj[k] = subj[k]!;
        cols.ts[k] = ts[k]!;
        cols.size[k] = size[k]!;
        cols.loc[k] = locs[k]!;
        cols.rlen[k] = 200 + k * 0x1000_0000;
        cols.next[k] = k === 3 ? 2 ** 40 : k + 1;
        cols.prev[k] = k === 4 ? 2 ** 35 : 0;
        if (cols.hlen !== null) cols.hlen[k] = k === 2 ? -1 : k * 100_000;
      }
      out.push({ cols, end: n, base: 2 ** 33, slots });
    }
  }
  return out;
}

/** Empty columns for n entries (subj -1: no message), as unpackColumns and a new index chunk want them. */
export function emptyColumns(n: number, withHlen: boolean): Columns {
  return {
    subj: new Int32Array(n).fill(-1), ts: new BigInt64Array(n), size: new Uint32Array(n), next: new Float64Array(n),
    prev: new Float64Array(n), loc: new Float64Array(n), rlen: new Uint32Array(n), hlen: withHlen ? new Int32Array(n) : null,
  };
}

/**
 * Run packColumns and unpackColumns once, at load, over codecSamples().
 *
 * Why: a server packs and unpacks index chunks only every few seconds, each call a loop over
 * thousands of entries, so V8 optimizes these functions (on-stack, mid-loop) from the feedback of the
 * first chunks it saw. Each kind of number or branch met later (a location past 2^32, a timestamp
 * half above 2^31, the code after the loop) then throws the optimized code away and V8 compiles the
 * function again: 8-10 TurboFan compiles of the two per server in a publish run, among the most
 * expensive ones the server makes (BENCHMARKS.md, "JIT warm-up: where the compiler's time goes").
 * With the feedback complete from the start, each is compiled twice (on-stack and whole) and never
 * thrown away. Costs well under a millisecond at start.
 */
function primeFeedback(): void {
  for (const s of codecSamples()) {
    unpackColumns(packColumns(s.cols, s.end, s.base, s.slots), emptyColumns(s.end, s.cols.hlen !== null), s.end, s.base, s.slots);
  }
}
primeFeedback();
