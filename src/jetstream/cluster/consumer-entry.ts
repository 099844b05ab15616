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

function uvarintLen(v: bigint): number {
  let n = 1;
  while (v >= 0x80n) {
    v >>= 7n;
    n++;
  }
  return n;
}

function putUvarint(buf: Buffer, off: number, v: number | bigint): number {
  if (typeof v === 'number') {
    while (v >= 0x80) {
      buf[off++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    buf[off++] = v;
    return off;
  }
  while (v >= 0x80n) {
    buf[off++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[off++] = Number(v);
  return off;
}

/** Go's binary.PutVarint mapping: zig-zag of an int64. */
function zigzag(v: bigint): bigint {
  return ((v << 1n) ^ (v >> 63n)) & U64_MASK;
}

function unzigzag(u: bigint): bigint {
  return (u & 1n) === 0n ? u >> 1n : -((u >> 1n) + 1n);
}

/** Reads a Go uvarint as bigint (at most 10 bytes, at most 64 bits). */
function readUvarintBig(buf: Buffer, pos: { off: number }, what: string): bigint {
  let v = 0n;
  let shift = 0n;
  for (let i = 0; i < MAX_VARINT; i++) {
    const at = pos.off + i;
    if (at >= buf.length) throw new ConsumerEntryError('bad_varint', `${what}: truncated varint`);
    const b = buf[at]!;
    if (i === MAX_VARINT - 1 && b > 1) throw new ConsumerEntryError('bad_varint', `${what}: varint overflows 64 bits`);
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) {
      pos.off = at + 1;
      return v;
    }
    shift += 7n;
  }
  throw new ConsumerEntryError('bad_varint', `${what}: varint too long`);
}

function readSeq(buf: Buffer, pos: { off: number }, what: string): number {
  const v = readUvarintBig(buf, pos, what);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ConsumerEntryError('range', `${what} ${v} beyond 2^53`);
  return Number(v);
}

export function encodeDeliveredUpdate(u: DeliveredUpdate): Buffer {
  checkSeq(u.dseq, 'dseq');
  checkSeq(u.sseq, 'sseq');
  checkSeq(u.dc, 'delivery count');
  if (u.ts < -(1n << 63n) || u.ts >= 1n << 63n) throw new ConsumerEntryError('range', 'timestamp outside int64');
  const zz = zigzag(u.ts);
  const buf = Buffer.allocUnsafe(1 + 3 * MAX_VARINT + uvarintLen(zz));
  buf[0] = EntryOp.updateDeliveredOp;
  let off = putUvarint(buf, 1, u.dseq);
  off = putUvarint(buf, off, u.sseq);
  off = putUvarint(buf, off, u.dc);
  off = putUvarint(buf, off, zz);
  return buf.subarray(0, off);
}

export function encodeAckUpdate(u: AckUpdate): Buffer {
  checkSeq(u.dseq, 'dseq');
  checkSeq(u.sseq, 'sseq');
  const buf = Buffer.allocUnsafe(1 + 2 * MAX_VARINT);
  buf[0] = EntryOp.updateAcksOp;
  const off = putUvarint(buf, putUvarint(buf, 1, u.dseq), u.sseq);
  return buf.subarray(0, off);
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
      const pos = { off: 1 };
      const dseq = readSeq(entry, pos, 'dseq');
      const sseq = readSeq(entry, pos, 'sseq');
      if (pos.off !== entry.length) throw new ConsumerEntryError('trailing', `${entry.length - pos.off} bytes after ack update`);
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
