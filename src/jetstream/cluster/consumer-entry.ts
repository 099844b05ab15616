// Consumer raft group entries (jetstream-cluster.md §1, §6), op byte first:
//   7  updateDeliveredOp   uvarint dseq | uvarint sseq | uvarint delivery count | zig-zag varint ts(ns)
//                          (ts = the stream message's stored timestamp, as 2.9.10 writes it)
//   8  updateAcksOp        uvarint dseq | uvarint sseq
//   10 updateSkipOp        u64 LE stream sequence
//   12 addPendingRequest   reply subject of a waiting pull request
//   13 removePendingRequest  same
//   18 resetSeqOp          u64 LE stream sequence | reply subject
// Decoding never trusts the input and throws ConsumerEntryError.

import { EntryOp } from './ops.js';
import { putUvarint, uvarintLen } from '../../protocol/varint.js';

export class ConsumerEntryError extends Error {
  constructor(readonly code: 'bad_op' | 'short' | 'bad_varint' | 'range' | 'trailing', message: string) {
    super(`consumer entry: ${message}`);
    this.name = 'ConsumerEntryError';
  }
}

export interface DeliveredUpdate { dseq: number; sseq: number; dc: number; ts: bigint }
export interface AckUpdate { dseq: number; sseq: number }

export type ConsumerGroupEntry =
  | ({ op: typeof EntryOp.updateDeliveredOp } & DeliveredUpdate)
  | ({ op: typeof EntryOp.updateAcksOp } & AckUpdate)
  | { op: typeof EntryOp.updateSkipOp; sseq: number }
  | { op: typeof EntryOp.addPendingRequest | typeof EntryOp.removePendingRequest; reply: string }
  | { op: typeof EntryOp.resetSeqOp; sseq: number; reply: string };

const MAX_VARINT = 10;
const U64_MASK = (1n << 64n) - 1n;

function checkSeq(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new ConsumerEntryError('range', `${what} ${v} is not a sequence`);
}

const TWO_21 = 2 ** 21;

/**
 * Writes the uvarint of `hi * 2^21 + lo` (both exact numbers below 2^52): a 64-bit value, such as
 * a zig-zag timestamp in nanoseconds, without BigInt arithmetic (one allocation per operation, and
 * this runs once per delivered message on the leader). 21 bits are three whole seven-bit groups.
 */
function putUvarintSplit(buf: Buffer, off: number, hi: number, lo: number): number {
  const carry = Math.floor(lo / TWO_21);
  const low = lo - carry * TWO_21; // lo % 2^21 without a double fmod
  const rest = hi + carry;
  if (rest === 0) return putUvarint(buf, off, low);
  buf[off++] = (low & 0x7f) | 0x80;
  buf[off++] = ((low >>> 7) & 0x7f) | 0x80;
  buf[off++] = ((low >>> 14) & 0x7f) | 0x80;
  return putUvarint(buf, off, rest);
}

/** The length putUvarintSplit writes. */
function uvarintSplitLen(hi: number, lo: number): number {
  const carry = Math.floor(lo / TWO_21);
  const rest = hi + carry;
  return rest === 0 ? uvarintLen(lo - carry * TWO_21) : 3 + uvarintLen(rest);
}

/** Go's binary.PutVarint mapping: zig-zag of an int64. */
function zigzag(v: bigint): bigint {
  return ((v << 1n) ^ (v >> 63n)) & U64_MASK;
}

function unzigzag(u: bigint): bigint {
  return (u & 1n) === 0n ? u >> 1n : -((u >> 1n) + 1n);
}

/** Reads a Go uvarint as bigint (at most 10 bytes, at most 64 bits) from buf[pos.off, end). */
function readUvarintBig(buf: Buffer, pos: { off: number }, what: string, end = buf.length): bigint {
  // Seven-bit groups gathered in three exact numbers (bits 0-27, 28-55, 56-63), then one BigInt.
  let lo = 0;
  let mid = 0;
  let top = 0;
  let mul = 1;
  for (let i = 0; i < MAX_VARINT; i++) {
    const at = pos.off + i;
    if (at >= end) throw new ConsumerEntryError('bad_varint', `${what}: truncated varint`);
    const b = buf[at]!;
    if (i === MAX_VARINT - 1 && b > 1) throw new ConsumerEntryError('bad_varint', `${what}: varint overflows 64 bits`);
    if (i === 4 || i === 8) mul = 1;
    const bits = (b & 0x7f) * mul;
    if (i < 4) lo += bits;
    else if (i < 8) mid += bits;
    else top += bits;
    mul *= 128;
    if (b < 0x80) {
      pos.off = at + 1;
      if (mid === 0 && top === 0) return BigInt(lo);
      return BigInt(lo) | (BigInt(mid) << 28n) | (BigInt(top) << 56n);
    }
  }
  throw new ConsumerEntryError('bad_varint', `${what}: varint too long`);
}

/** Varints of up to 7 bytes (49 bits) are read as numbers; longer ones take the 64-bit path. */
const FAST_VARINT_BYTES = 7;

function readSeq(buf: Buffer, pos: { off: number }, what: string, end = buf.length): number {
  let v = 0;
  let mul = 1;
  const start = pos.off;
  for (let i = 0; i < FAST_VARINT_BYTES; i++) {
    const at = start + i;
    if (at >= end) throw new ConsumerEntryError('bad_varint', `${what}: truncated varint`);
    const b = buf[at]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      pos.off = at + 1;
      return v;
    }
    mul *= 128;
  }
  const big = readUvarintBig(buf, pos, what, end);
  if (big > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConsumerEntryError('range', `${what} ${big} beyond 2^53`);
  return Number(big);
}

export function encodeDeliveredUpdate(u: DeliveredUpdate): Buffer {
  if (u.ts < -(1n << 63n) || u.ts >= 1n << 63n) throw new ConsumerEntryError('range', 'timestamp outside int64');
  const zz = zigzag(u.ts);
  return deliveredEntry(u.dseq, u.sseq, u.dc, Number(zz >> 21n), Number(zz & 0x1fffffn));
}

/**
 * The leader's form of encodeDeliveredUpdate: the timestamp in whole milliseconds since the epoch
 * (non-negative), written as nanoseconds (ms * 10^6, zig-zag: ms * 2 * 10^6) with number arithmetic.
 * The bytes are those of encodeDeliveredUpdate({ ts: BigInt(tsMs) * 1_000_000n }).
 */
export function encodeDeliveredUpdateMs(dseq: number, sseq: number, dc: number, tsMs: number): Buffer {
  const zz = splitMs(tsMs);
  return deliveredEntry(dseq, sseq, dc, zz.hi, zz.lo);
}

// Entries are allocated at their exact size (two of them per consumed message): a view of a
// larger allocation would cost a second Buffer object each.
function deliveredEntry(dseq: number, sseq: number, dc: number, zzHi: number, zzLo: number): Buffer {
  checkSeq(dseq, 'dseq');
  checkSeq(sseq, 'sseq');
  checkSeq(dc, 'delivery count');
  const buf = Buffer.allocUnsafe(1 + uvarintLen(dseq) + uvarintLen(sseq) + uvarintLen(dc) + uvarintSplitLen(zzHi, zzLo));
  writeDelivered(buf, 0, dseq, sseq, dc, zzHi, zzLo);
  return buf;
}

/** Writes a checked delivered op at `off`; returns the offset after it. */
function writeDelivered(buf: Buffer, off: number, dseq: number, sseq: number, dc: number, zzHi: number, zzLo: number): number {
  buf[off] = EntryOp.updateDeliveredOp;
  off = putUvarint(buf, off + 1, dseq);
  off = putUvarint(buf, off, sseq);
  off = putUvarint(buf, off, dc);
  return putUvarintSplit(buf, off, zzHi, zzLo);
}

/** encodeDeliveredUpdateMs' zig-zag nanoseconds of `tsMs` as hi * 2^21 + lo (both exact). */
function splitMs(tsMs: number): { hi: number; lo: number } {
  if (!Number.isSafeInteger(tsMs) || tsMs < 0 || tsMs >= 2 ** 42) throw new ConsumerEntryError('range', `timestamp ${tsMs} ms out of range`);
  // zz = tsMs * 2e6 = (msHi * 2^21 + msLo) * 2e6, both products exact.
  const msHi = Math.floor(tsMs / TWO_21);
  const msLo = tsMs - msHi * TWO_21;
  SPLIT.hi = msHi * 2_000_000;
  SPLIT.lo = msLo * 2_000_000;
  return SPLIT;
}
const SPLIT = { hi: 0, lo: 0 };

export function encodeAckUpdate(u: AckUpdate): Buffer {
  checkSeq(u.dseq, 'dseq');
  checkSeq(u.sseq, 'sseq');
  const buf = Buffer.allocUnsafe(1 + uvarintLen(u.dseq) + uvarintLen(u.sseq));
  writeAck(buf, 0, u.dseq, u.sseq);
  return buf;
}

function writeAck(buf: Buffer, off: number, dseq: number, sseq: number): number {
  buf[off] = EntryOp.updateAcksOp;
  return putUvarint(buf, putUvarint(buf, off + 1, dseq), sseq);
}

/** The most bytes of one op an OpSlab writes: a delivered op (three safe integers, a 64-bit varint). */
const MAX_OP = 1 + 3 * 8 + MAX_VARINT;
const SLAB_BYTES = 16 * 1024;

/**
 * A consumer leader's two ops per consumed message (delivered, ack), written one after the other
 * into shared chunks and proposed as ranges of them (RaftNode.proposeRange): one object per op
 * instead of a Buffer and a raft entry. Written bytes are never rewritten (raft keeps referring
 * to them while it holds the entry); a full chunk is left to the garbage collector and replaced.
 * After each write the op is `buf[start, end)`. The bytes are those of encodeDeliveredUpdateMs
 * and encodeAckUpdate.
 */
export class OpSlab {
  buf = Buffer.allocUnsafe(SLAB_BYTES);
  start = 0;
  end = 0;

  /** encodeDeliveredUpdateMs into the slab. */
  delivered(dseq: number, sseq: number, dc: number, tsMs: number): void {
    checkSeq(dseq, 'dseq');
    checkSeq(sseq, 'sseq');
    checkSeq(dc, 'delivery count');
    const zz = splitMs(tsMs);
    this.room();
    this.end = writeDelivered(this.buf, this.start, dseq, sseq, dc, zz.hi, zz.lo);
  }

  /** encodeAckUpdate into the slab. */
  ack(dseq: number, sseq: number): void {
    checkSeq(dseq, 'dseq');
    checkSeq(sseq, 'sseq');
    this.room();
    this.end = writeAck(this.buf, this.start, dseq, sseq);
  }

  private room(): void {
    this.start = this.end;
    if (this.start + MAX_OP > this.buf.length) {
      this.buf = Buffer.allocUnsafe(SLAB_BYTES);
      this.start = 0;
    }
  }
}

export function encodeSkipUpdate(sseq: number): Buffer {
  checkSeq(sseq, 'sseq');
  const buf = Buffer.allocUnsafe(9);
  buf[0] = EntryOp.updateSkipOp;
  buf.writeBigUInt64LE(BigInt(sseq), 1);
  return buf;
}

function subjectEntry(op: number, prefixLen: number, reply: string): Buffer {
  const n = Buffer.byteLength(reply, 'utf8');
  const buf = Buffer.allocUnsafe(1 + prefixLen + n);
  buf[0] = op;
  buf.write(reply, 1 + prefixLen, n, 'utf8');
  return buf;
}

export function encodeAddPendingRequest(reply: string): Buffer {
  return subjectEntry(EntryOp.addPendingRequest, 0, reply);
}

export function encodeRemovePendingRequest(reply: string): Buffer {
  return subjectEntry(EntryOp.removePendingRequest, 0, reply);
}

export function encodeResetSeq(sseq: number, reply: string): Buffer {
  checkSeq(sseq, 'sseq');
  const buf = subjectEntry(EntryOp.resetSeqOp, 8, reply);
  buf.writeBigUInt64LE(BigInt(sseq), 1);
  return buf;
}

function readU64Seq(buf: Buffer, off: number, what: string): number {
  if (buf.length - off < 8) throw new ConsumerEntryError('short', `${what}: ${buf.length - off} bytes, need 8`);
  const v = buf.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConsumerEntryError('range', `${what} ${v} beyond 2^53`);
  return Number(v);
}

/**
 * A zig-zag int64 nanosecond timestamp, read as whole milliseconds truncated toward zero (the
 * value of Number(ts / 10^6n)) with number arithmetic only: the first three seven-bit groups are
 * the low 21 bits, the rest (at most 43 bits) an exact number.
 */
function readZigzagMs(buf: Buffer, pos: { off: number }, end: number): number {
  let lo = 0;
  let hi = 0;
  let mul = 1;
  for (let i = 0; i < MAX_VARINT; i++) {
    const at = pos.off + i;
    if (at >= end) throw new ConsumerEntryError('bad_varint', 'timestamp: truncated varint');
    const b = buf[at]!;
    if (i === MAX_VARINT - 1 && b > 1) throw new ConsumerEntryError('bad_varint', 'timestamp: varint overflows 64 bits');
    if (i === 3) mul = 1;
    if (i < 3) lo += (b & 0x7f) * mul;
    else hi += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) {
      pos.off = at + 1;
      // zz = hi * 2^21 + lo; ts = zz / 2 (even) or -(zz + 1) / 2 (odd); |ms| = floor(n / 2e6) with
      // n = zz or zz + 1, computed as h1 * 2^21 + floor((h0 * 2^21 + lo') / 2e6) for hi = h1 * 2e6 + h0.
      const negative = (lo & 1) === 1;
      const l = negative ? lo + 1 : lo;
      const h0 = hi % 2_000_000;
      const h1 = (hi - h0) / 2_000_000;
      const ms = h1 * TWO_21 + Math.floor((h0 * TWO_21 + l) / 2_000_000);
      return negative && ms !== 0 ? -ms : ms;
    }
  }
  throw new ConsumerEntryError('bad_varint', 'timestamp: varint too long');
}

export interface DeliveredMs { dseq: number; sseq: number; dc: number; tsMs: number }

/** Read position of the followers' decoders below (synchronous, so one object serves all). */
const POS = { off: 0 };

/**
 * Followers' form of decodeConsumerEntry for an updateDeliveredOp: the timestamp as whole
 * milliseconds (what the consumer store keeps), without BigInt arithmetic per delivered message.
 * Fills `out` (a caller's object reused for every entry: no allocation per message). The entry
 * is `buf[start, end)` (the whole buffer by default): a raft entry is decoded where it arrived,
 * in its append entry, without a view of its own.
 */
export function decodeDeliveredMs(
  buf: Buffer, out: DeliveredMs = { dseq: 0, sseq: 0, dc: 0, tsMs: 0 }, start = 0, end = buf.length,
): DeliveredMs {
  if (end <= start || buf[start] !== EntryOp.updateDeliveredOp) throw new ConsumerEntryError('bad_op', 'not a delivered update');
  const pos = POS;
  pos.off = start + 1;
  out.dseq = readSeq(buf, pos, 'dseq', end);
  out.sseq = readSeq(buf, pos, 'sseq', end);
  out.dc = readSeq(buf, pos, 'delivery count', end);
  out.tsMs = readZigzagMs(buf, pos, end);
  if (pos.off !== end) throw new ConsumerEntryError('trailing', `${end - pos.off} bytes after delivered update`);
  return out;
}

/** decodeConsumerEntry of an updateAcksOp into `out` (reused, and `buf[start, end)`, as decodeDeliveredMs). */
export function decodeAckUpdate(buf: Buffer, out: AckUpdate, start = 0, end = buf.length): AckUpdate {
  if (end <= start || buf[start] !== EntryOp.updateAcksOp) throw new ConsumerEntryError('bad_op', 'not an ack update');
  const pos = POS;
  pos.off = start + 1;
  out.dseq = readSeq(buf, pos, 'dseq', end);
  out.sseq = readSeq(buf, pos, 'sseq', end);
  if (pos.off !== end) throw new ConsumerEntryError('trailing', `${end - pos.off} bytes after ack update`);
  return out;
}

/**
 * Decode one consumer-group EntryNormal payload. Bytes after the last varint of ops 7/8 are
 * rejected (nats-server ignores them; we cannot re-encode them, so they mean corruption).
 */
export function decodeConsumerEntry(entry: Buffer): ConsumerGroupEntry {
  if (entry.length === 0) throw new ConsumerEntryError('short', 'empty entry');
  const op = entry[0]!;
  switch (op) {
    case EntryOp.updateDeliveredOp: {
      const pos = { off: 1 };
      const dseq = readSeq(entry, pos, 'dseq');
      const sseq = readSeq(entry, pos, 'sseq');
      const dc = readSeq(entry, pos, 'delivery count');
      const ts = unzigzag(readUvarintBig(entry, pos, 'timestamp'));
      if (pos.off !== entry.length) throw new ConsumerEntryError('trailing', `${entry.length - pos.off} bytes after delivered update`);
      return { op, dseq, sseq, dc, ts };
    }
    case EntryOp.updateAcksOp: {
      const { dseq, sseq } = decodeAckUpdate(entry, { dseq: 0, sseq: 0 });
      return { op, dseq, sseq };
    }
    case EntryOp.updateSkipOp: {
      if (entry.length !== 9) throw new ConsumerEntryError('short', `skip update of ${entry.length - 1} bytes, need 8`);
      return { op, sseq: readU64Seq(entry, 1, 'skip sseq') };
    }
    case EntryOp.addPendingRequest:
    case EntryOp.removePendingRequest:
      return { op, reply: entry.toString('utf8', 1) };
    case EntryOp.resetSeqOp:
      return { op, sseq: readU64Seq(entry, 1, 'reset sseq'), reply: entry.toString('utf8', 9) };
    default:
      throw new ConsumerEntryError('bad_op', `op ${op} is not a consumer group op`);
  }
}

/** Encode any consumer-group entry (inverse of decodeConsumerEntry). */
export function encodeConsumerEntry(e: ConsumerGroupEntry): Buffer {
  switch (e.op) {
    case EntryOp.updateDeliveredOp: return encodeDeliveredUpdate(e);
    case EntryOp.updateAcksOp: return encodeAckUpdate(e);
    case EntryOp.updateSkipOp: return encodeSkipUpdate(e.sseq);
    case EntryOp.addPendingRequest: return encodeAddPendingRequest(e.reply);
    case EntryOp.removePendingRequest: return encodeRemovePendingRequest(e.reply);
    case EntryOp.resetSeqOp: return encodeResetSeq(e.sseq, e.reply);
  }
}
