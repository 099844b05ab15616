// Packing of an idle index chunk's columns (msg-index.ts) into a compact byte string.
//
// The columns of a chunk cost ~44 bytes per message (48 in memory mode) while they are in use. A
// chunk that no one touched for a while is packed: entry by entry, each column as a zig-zag varint
// of its difference from a prediction (the same subject as the previous live entry, the next
// timestamp close to the previous one, the record right after the previous one, the subject's
// neighbours one sequence away), so a run of similar messages costs ~9 bytes each instead of 44.
// The packing is lossless: unpack gives back exactly the columns that were packed, so nothing
// outside the index can tell whether a chunk was packed in between (nats-server instead drops a
// block's cache and re-reads the block file; here nothing is read back from disk).
//
// Layout per entry k < end: uvarint subjCode (0: no message; else zigzag(subj - prevSubj) + 1),
// then for live entries: ts, size, next, prev, loc, rlen and (memory mode) hlen, each a "delta"
// (below). Dead entries have nothing more: their other columns are never read.

import { putUvarint } from './varint.js';

/** The columns packed (the subset of msg-index.ts's Columns the codec needs to know about). */
export interface PackableColumns {
  subj: Int32Array;
  ts: BigInt64Array;
  size: Uint32Array;
  next: Float64Array;
  prev: Float64Array;
  loc: Float64Array;
  rlen: Uint32Array;
  hlen: Int32Array | null;
}

const TWO32 = 0x1_0000_0000;
/** Differences at least this large are written as absolute values (keeps zig-zag codes below 2^53). */
const BIG = 2 ** 50;
/** Worst case bytes of one entry: subject (5) + 7 fields of marker (1) and two uvarints (5 + 8). */
const MAX_ENTRY_BYTES = 5 + 7 * 14;

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

/** putUvarint with the one-byte case inline. */
function wr(buf: Uint8Array, off: number, v: number): number {
  if (v < 0x80) {
    buf[off] = v;
    return off + 1;
  }
  return putUvarint(buf, off, v);
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

/** Pack entries [0, end) of cols; seqAt(k) is the sequence of entry k. */
export function packColumns(cols: PackableColumns, end: number, seqAt: (k: number) => number): Buffer {
  const need = end * MAX_ENTRY_BYTES;
  if (scratch === null || scratch.length < need) scratch = new Uint8Array(Math.max(need, 4096 * MAX_ENTRY_BYTES));
  const buf = scratch;
  // Timestamps as 32-bit halves: Number arithmetic on them is exact and avoids a BigInt per entry.
  const tsLo = new Uint32Array(cols.ts.buffer, cols.ts.byteOffset, end * 2);
  const tsHi = new Int32Array(cols.ts.buffer, cols.ts.byteOffset, end * 2);
  const { subj, size, next, prev, loc, rlen, hlen } = cols;
  let off = 0;
  let pSubj = 0;
  let pLo = 0;
  let pHi = 0;
  let pSize = 0;
  let pLoc = 0;
  let pRlen = 0;
  let pHlen = 0;
  for (let k = 0; k < end; k++) {
    const s = subj[k];
    if (s < 0) {
      buf[off++] = 0;
      continue;
    }
    off = wr(buf, off, zig(s - pSubj) + 1);
    pSubj = s;
    const lo = tsLo[2 * k];
    const hi = tsHi[2 * k + 1];
    const d = (hi - pHi) * TWO32 + (lo - pLo);
    if (d < BIG && d > -BIG) off = wr(buf, off, zig(d) * 2);
    else {
      off = wr(buf, off, 1);
      off = wr(buf, off, zig(hi));
      off = wr(buf, off, lo);
    }
    pLo = lo;
    pHi = hi;
    const seq = seqAt(k);
    off = putDelta(buf, off, size[k], pSize);
    off = putDelta(buf, off, next[k], seq);
    off = putDelta(buf, off, prev[k], seq);
    off = putDelta(buf, off, loc[k], pLoc + pRlen);
    off = putDelta(buf, off, rlen[k], pRlen);
    pSize = size[k];
    pLoc = loc[k];
    pRlen = rlen[k];
    if (hlen !== null) {
      off = wr(buf, off, zig(hlen[k] - pHlen));
      pHlen = hlen[k];
    }
  }
  const out = Buffer.allocUnsafeSlow(off);
  out.set(buf.subarray(0, off));
  return out;
}

/** Unpack into fresh columns (subj prefilled with -1, as newColumns makes them). */
export function unpackColumns(packed: Buffer, cols: PackableColumns, end: number, seqAt: (k: number) => number): void {
  const tsLo = new Uint32Array(cols.ts.buffer, cols.ts.byteOffset, end * 2);
  const tsHi = new Int32Array(cols.ts.buffer, cols.ts.byteOffset, end * 2);
  const { subj, size, next, prev, loc, rlen, hlen } = cols;
  rOff = 0;
  let pSubj = 0;
  let pLo = 0;
  let pHi = 0;
  let pSize = 0;
  let pLoc = 0;
  let pRlen = 0;
  let pHlen = 0;
  for (let k = 0; k < end; k++) {
    const code = rd(packed);
    if (code === 0) continue;
    pSubj += unzig(code - 1);
    subj[k] = pSubj;
    const u = rd(packed);
    if (isDiff(u)) {
      // prev + d over 32-bit halves, with the carry from the low half.
      const d = unzig(u < 0x40000000 ? u >>> 1 : u / 2);
      const dHi = Math.floor(d / TWO32);
      let lo = pLo + (d - dHi * TWO32);
      let carry = 0;
      if (lo >= TWO32) {
        lo -= TWO32;
        carry = 1;
      }
      pLo = lo;
      pHi = (pHi + dHi + carry) | 0;
    } else {
      pHi = unzig(rd(packed));
      pLo = rd(packed);
    }
    tsLo[2 * k] = pLo;
    tsHi[2 * k + 1] = pHi;
    const seq = seqAt(k);
    pSize = size[k] = getDelta(packed, pSize);
    next[k] = getDelta(packed, seq);
    prev[k] = getDelta(packed, seq);
    pLoc = loc[k] = getDelta(packed, pLoc + pRlen);
    pRlen = rlen[k] = getDelta(packed, pRlen);
    if (hlen !== null) {
      pHlen += unzig(rd(packed));
      hlen[k] = pHlen;
    }
  }
  if (rOff !== packed.length) throw new Error(`index chunk unpack: ${rOff} of ${packed.length} bytes used`);
}
