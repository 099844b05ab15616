// Stream raft group entries (jetstream-cluster.md §1, §5.1): the replicated stream message
// (op 4), its S2-block compressed form (op 14), purge (op 5), delete message (op 6) and
// delete range (op 15). Every buffer here carries the op byte first, as an EntryNormal payload.
//
// Message body, little-endian:
//   u64 lseq | i64 ts(ns) | u16 subject len | subject | u16 reply len | reply | u16 hdr len | hdr
//   | u32 msg len | msg | [uvarint flags]   (flags: newer servers only; bit 0 = sourced/mirrored)
// In a proposal `lseq` is the stream's last sequence before the message; in catch-up it is the
// message's own sequence. A body with empty subject, ts 0, no header and no payload is a
// "skip one sequence" entry.
//
// Decoding treats the input as hostile: every length is bounds-checked and any inconsistency
// throws StreamEntryError (never a RangeError from Buffer reads, never a huge allocation).

import { EntryOp } from './ops.js';
import { decodeName, NameMemo, nameByteLength, writeNameSized } from '../../protocol/names.js';

/** Subjects of consecutive entries mostly repeat: one memo for encoding, one for decoding. */
const encodedSubjects = new NameMemo();
const decodedSubjects = new NameMemo();
import { readI64LE, writeI64LE } from '../../protocol/int64.js';
import { S2Error, s2Decode, s2Encode } from './s2.js';
import { goJson } from '../api/json.js';
import { putUvarint, uvarintLen } from '../store/varint.js';

export type StreamEntryErrorCode = 'bad_op' | 'short' | 'truncated' | 'range' | 'bad_flags' | 'compressed' | 'bad_json';

/** Thrown for any malformed stream entry. */
export class StreamEntryError extends Error {
  constructor(readonly code: StreamEntryErrorCode, message: string) {
    super(`stream entry: ${message}`);
    this.name = 'StreamEntryError';
  }
}

/**
 * Bodies whose subject+reply+hdr+msg exceed this are offered to S2 (newest; 2.9.10 used 4096
 * and only when every peer advertised compress_ok: in our 2.9.10 captures 5000- and 12000-byte
 * proposals went out uncompressed as op 4, even after a leader stepdown).
 */
export const COMPRESS_THRESHOLD = 8192;
/** Minimum body length after the op byte (all fixed fields, empty strings). */
export const STREAM_MSG_MIN_BODY = 26;
/** Flag bit 0 of the trailing uvarint: the message came from a source or mirror. */
export const MSG_FLAG_SOURCED = 1;
/** Bound on a decompressed op 14 body: larger than any message a stream accepts. */
export const MAX_DECOMPRESSED_BODY = 64 * 1024 * 1024 + 65536 * 3;

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

export interface StreamMsgEntry {
  /** Proposal: last sequence before this message; catch-up: this message's sequence. */
  lseq: number;
  /** The leader's timestamp in ns since the Unix epoch (does not fit a double). */
  ts: bigint;
  subject: string;
  reply: string;
  /** Header block, or null when empty (as nats-server). */
  hdr: Buffer | null;
  /** Payload, or null when empty. */
  msg: Buffer | null;
  /**
   * The trailing flags uvarint. `undefined` means the entry had none (2.9.10 layout) and an
   * encoder given `undefined` writes none, so a decoded entry re-encodes to the same bytes.
   */
  flags?: number;
}

export interface DecodedStreamMsg extends StreamMsgEntry {
  /** True when it arrived as op 14 (S2 block). */
  compressed: boolean;
}

/** True when the entry is the "skip one sequence" form. */
export function isSkipEntry(m: StreamMsgEntry): boolean {
  return m.subject === '' && m.ts === 0n && (m.msg === null || m.msg.length === 0) &&
    (m.hdr === null || m.hdr.length === 0);
}

/** Whether the message was sourced or mirrored (flag bit 0). */
export function isSourced(m: StreamMsgEntry): boolean {
  return m.flags !== undefined && (m.flags & MSG_FLAG_SOURCED) !== 0;
}


// Module constants: BigInt shifts in the per-message range check would allocate every call.
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

function checkSeq(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new StreamEntryError('range', `${what} ${v} is not a sequence`);
}

/** Exact length of the uncompressed body (without the op byte). */
function bodyLen(sl: number, rl: number, hl: number, ml: number, flags: number | undefined): number {
  return STREAM_MSG_MIN_BODY + sl + rl + hl + ml + (flags === undefined ? 0 : uvarintLen(flags));
}

function writeBody(out: Buffer, off: number, m: StreamMsgEntry, sl: number, rl: number): number {
  // lseq is a safe integer (checked): two u32 halves avoid a BigInt per message.
  out.writeUInt32LE(m.lseq % 0x100000000, off);
  out.writeUInt32LE(Math.floor(m.lseq / 0x100000000), off + 4);
  writeI64LE(out, off + 8, m.ts);
  off += 16;
  out.writeUInt16LE(sl, off);
  off += 2;
  if (sl) off = encodedSubjects.write(out, off, m.subject, sl);
  out.writeUInt16LE(rl, off);
  off += 2;
  if (rl) off = writeNameSized(out, off, m.reply, rl);
  const hl = m.hdr ? m.hdr.length : 0;
  out.writeUInt16LE(hl, off);
  off += 2;
  if (hl) off += m.hdr!.copy(out, off);
  const ml = m.msg ? m.msg.length : 0;
  out.writeUInt32LE(ml, off);
  off += 4;
  if (ml) off += m.msg!.copy(out, off);
  if (m.flags !== undefined) off = putUvarint(out, off, m.flags);
  return off;
}

export interface EncodeStreamMsgOptions {
  /** Offer bodies above the threshold to S2 (op 14 if smaller). Default true. */
  allowCompress?: boolean;
  /** Default COMPRESS_THRESHOLD. */
  threshold?: number;
}

/**
 * Encode a stream message entry (op byte included). The uncompressed form is written into a
 * single exactly-sized Buffer. Unlike nats-server we refuse oversized fields instead of
 * silently clipping them: a clipped message would be stored differently from what was acked.
 */
export function encodeStreamMsg(m: StreamMsgEntry, opts: EncodeStreamMsgOptions = {}): Buffer {
  checkSeq(m.lseq, 'lseq');
  if (m.ts < INT64_MIN || m.ts > INT64_MAX) throw new StreamEntryError('range', 'timestamp outside int64');
  if (m.flags !== undefined) checkSeq(m.flags, 'flags');
  // Subjects and replies may hold escaped invalid UTF-8 bytes (names.ts): size and write them as sent.
  const sl = encodedSubjects.byteLength(m.subject);
  const rl = m.reply.length === 0 ? 0 : nameByteLength(m.reply);
  const hl = m.hdr ? m.hdr.length : 0;
  const ml = m.msg ? m.msg.length : 0;
  if (sl > U16_MAX || rl > U16_MAX || hl > U16_MAX) throw new StreamEntryError('range', 'subject, reply or header over 65535 bytes');
  if (ml > U32_MAX) throw new StreamEntryError('range', 'payload over 4 GiB');
  const len = bodyLen(sl, rl, hl, ml, m.flags);
  const total = sl + rl + hl + ml;
  const out = Buffer.allocUnsafe(1 + len);
  out[0] = EntryOp.streamMsgOp;
  const end = writeBody(out, 1, m, sl, rl);
  if (end !== out.length) throw new StreamEntryError('range', 'encoded length mismatch');
  if ((opts.allowCompress ?? true) && total > (opts.threshold ?? COMPRESS_THRESHOLD)) {
    const packed = s2Encode(out.subarray(1));
    // Only worth it (the receiver pays a decode) when it actually shrinks.
    if (packed.length + 1 < out.length) {
      const c = Buffer.allocUnsafe(1 + packed.length);
      c[0] = EntryOp.compressedStreamMsgOp;
      packed.copy(c, 1);
      return c;
    }
  }
  return out;
}

/** A skip entry for sequence bookkeeping (catch-up gaps, or a proposal that only advances). */
export function encodeSkipEntry(lseq: number): Buffer {
  return encodeStreamMsg({ lseq, ts: 0n, subject: '', reply: '', hdr: null, msg: null }, { allowCompress: false });
}

/** A Buffer over the same bytes (no copy) for raft entry data typed as Uint8Array. */
export function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Decode the body after the op byte of op 4 (or the decompressed body of op 14). `withReply`
 * false leaves `reply` empty: the apply path never reads it (the leader keeps each proposal's
 * reply itself), and turning it into a string was a measurable part of every replica's apply.
 */
export function decodeStreamMsgBody(body: Buffer, compressed = false, withReply = true): DecodedStreamMsg {
  return decodeBodyAt(body, 0, body.length, compressed, withReply);
}

/** Throws unless `n` bytes are left before `end` at `off` (offsets in the text are from the body start). */
function need(end: number, start: number, off: number, n: number, what: string): void {
  if (end - off < n) throw new StreamEntryError('truncated', `${what} needs ${n} bytes at ${off - start}`);
}

/**
 * decodeStreamMsgBody for the body `buf[start, end)`: the op 4 entry is decoded in place, without a
 * view of its body or a closure (every replica decodes every message).
 */
function decodeBodyAt(buf: Buffer, start: number, end: number, compressed: boolean, withReply: boolean): DecodedStreamMsg {
  if (end - start < STREAM_MSG_MIN_BODY) throw new StreamEntryError('short', `body of ${end - start} bytes`);
  const lo = buf.readUInt32LE(start);
  const hi = buf.readUInt32LE(start + 4);
  if (hi > 0x1fffff) throw new StreamEntryError('range', `lseq ${buf.readBigUInt64LE(start)} beyond 2^53`);
  const lseq = hi * 0x100000000 + lo;
  const ts = readI64LE(buf, start + 8);
  let off = start + 16;
  const sl = buf.readUInt16LE(off);
  off += 2;
  need(end, start, off, sl, 'subject');
  const subject = sl ? decodedSubjects.decode(buf, off, off + sl) : '';
  off += sl;
  need(end, start, off, 2, 'reply length');
  const rl = buf.readUInt16LE(off);
  off += 2;
  need(end, start, off, rl, 'reply');
  const reply = rl && withReply ? decodeName(buf, off, off + rl) : '';
  off += rl;
  need(end, start, off, 2, 'header length');
  const hl = buf.readUInt16LE(off);
  off += 2;
  need(end, start, off, hl, 'header');
  const hdr = hl ? buf.subarray(off, off + hl) : null;
  off += hl;
  need(end, start, off, 4, 'payload length');
  const ml = buf.readUInt32LE(off);
  off += 4;
  need(end, start, off, ml, 'payload');
  const msg = ml ? buf.subarray(off, off + ml) : null;
  off += ml;
  // One object shape for every decoded message (flags always present, maybe undefined).
  const out: DecodedStreamMsg = { lseq, ts, subject, reply, hdr, msg, flags: undefined, compressed };
  if (off < end) {
    // Trailing flags uvarint (newer servers). Anything else after it is an error: we would
    // not re-encode it and silently dropping bytes hides corruption.
    let v = 0;
    let mul = 1;
    let i = off;
    for (;; i++) {
      if (i >= end || i - off >= 9) throw new StreamEntryError('bad_flags', 'unterminated flags varint');
      const b = buf[i]!;
      v += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) break;
    }
    if (i + 1 !== end) throw new StreamEntryError('bad_flags', `${end - i - 1} bytes after flags`);
    out.flags = v;
  }
  return out;
}

/** Decode an op 4 or op 14 entry (op byte first). */
export function decodeStreamMsg(entry: Buffer, maxDecompressed = MAX_DECOMPRESSED_BODY, withReply = true): DecodedStreamMsg {
  return decodeStreamMsgAt(entry, 0, entry.length, maxDecompressed, withReply);
}

/**
 * decodeStreamMsg of the entry `buf[start, end)`, e.g. one entry of a received append entry read
 * straight from the AE's bytes (raft's WireEntry): no view of the entry is made.
 */
export function decodeStreamMsgAt(buf: Buffer, start: number, end: number, maxDecompressed = MAX_DECOMPRESSED_BODY, withReply = true): DecodedStreamMsg {
  if (end <= start) throw new StreamEntryError('short', 'empty entry');
  const op = buf[start];
  if (op === EntryOp.streamMsgOp) return decodeBodyAt(buf, start + 1, end, false, withReply);
  if (op === EntryOp.compressedStreamMsgOp) {
    let body: Buffer;
    try {
      body = s2Decode(buf.subarray(start + 1, end), maxDecompressed);
    } catch (err) {
      if (err instanceof S2Error) throw new StreamEntryError('compressed', err.message);
      throw err;
    }
    return decodeBodyAt(body, 0, body.length, true, withReply);
  }
  throw new StreamEntryError('bad_op', `op ${op} is not a stream message`);
}

// ---- JSON ops ---------------------------------------------------------------------------

/** Client info carried in purge/delete proposals (passed through verbatim). */
export type ClientInfoJson = Record<string, unknown>;

/** nats-server's streamPurge (op 5). Field order is nats-server's; Go's json.Encoder ends it with a newline. */
export interface StreamPurge {
  client?: ClientInfoJson;
  stream: string;
  last_seq: number;
  subject: string;
  reply: string;
  /** JSApiStreamPurgeRequest: filter / seq / keep, verbatim. */
  request?: Record<string, unknown>;
}

/** nats-server's streamMsgDelete (op 6). */
export interface StreamMsgDelete {
  client?: ClientInfoJson;
  stream: string;
  seq: number;
  no_erase?: boolean;
  subject: string;
  reply: string;
}

/** A run of deleted sequences sent during catch-up (op 15). */
export interface DeleteRange {
  first: number;
  num: number;
}

function withOp(op: number, json: string, newline: boolean): Buffer {
  const n = Buffer.byteLength(json, 'utf8');
  const out = Buffer.allocUnsafe(1 + n + (newline ? 1 : 0));
  out[0] = op;
  out.write(json, 1, n, 'utf8');
  if (newline) out[out.length - 1] = 0x0a;
  return out;
}

function parseJsonBody(entry: Buffer, op: number, name: string): Record<string, unknown> {
  if (entry.length === 0 || entry[0] !== op) throw new StreamEntryError('bad_op', `not a ${name} entry`);
  let v: unknown;
  try {
    v = JSON.parse(entry.toString('utf8', 1));
  } catch (err) {
    throw new StreamEntryError('bad_json', `${name}: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new StreamEntryError('bad_json', `${name} is not an object`);
  return v as Record<string, unknown>;
}

/** Go's json.Unmarshal matches keys case-insensitively; find a field that way. */
function field(o: Record<string, unknown>, name: string): unknown {
  if (name in o) return o[name];
  const want = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === want) return o[k];
  return undefined;
}

function seqField(o: Record<string, unknown>, name: string, what: string): number {
  const v = field(o, name);
  if (v === undefined || v === null) return 0;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new StreamEntryError('bad_json', `${what}.${name} is not a sequence`);
  return v;
}

function strField(o: Record<string, unknown>, name: string, what: string): string {
  const v = field(o, name);
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') throw new StreamEntryError('bad_json', `${what}.${name} is not a string`);
  return v;
}

function objField(o: Record<string, unknown>, name: string, what: string): Record<string, unknown> | undefined {
  const v = field(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new StreamEntryError('bad_json', `${what}.${name} is not an object`);
  return v as Record<string, unknown>;
}

export function encodePurge(p: StreamPurge): Buffer {
  checkSeq(p.last_seq, 'last_seq');
  const o: Record<string, unknown> = {};
  if (p.client) o.client = p.client;
  o.stream = p.stream;
  o.last_seq = p.last_seq;
  o.subject = p.subject;
  o.reply = p.reply;
  if (p.request) o.request = p.request;
  return withOp(EntryOp.purgeStreamOp, goJson(o), true);
}

export function decodePurge(entry: Buffer): StreamPurge {
  const o = parseJsonBody(entry, EntryOp.purgeStreamOp, 'streamPurge');
  const out: StreamPurge = {
    stream: strField(o, 'stream', 'streamPurge'),
    last_seq: seqField(o, 'last_seq', 'streamPurge'),
    subject: strField(o, 'subject', 'streamPurge'),
    reply: strField(o, 'reply', 'streamPurge'),
  };
  const client = objField(o, 'client', 'streamPurge');
  if (client) out.client = client;
  const request = objField(o, 'request', 'streamPurge');
  if (request) out.request = request;
  return out;
}

export function encodeMsgDelete(d: StreamMsgDelete): Buffer {
  checkSeq(d.seq, 'seq');
  const o: Record<string, unknown> = {};
  if (d.client) o.client = d.client;
  o.stream = d.stream;
  o.seq = d.seq;
  if (d.no_erase) o.no_erase = true;
  o.subject = d.subject;
  o.reply = d.reply;
  return withOp(EntryOp.deleteMsgOp, goJson(o), true);
}

export function decodeMsgDelete(entry: Buffer): StreamMsgDelete {
  const o = parseJsonBody(entry, EntryOp.deleteMsgOp, 'streamMsgDelete');
  const out: StreamMsgDelete = {
    stream: strField(o, 'stream', 'streamMsgDelete'),
    seq: seqField(o, 'seq', 'streamMsgDelete'),
    subject: strField(o, 'subject', 'streamMsgDelete'),
    reply: strField(o, 'reply', 'streamMsgDelete'),
  };
  const ne = field(o, 'no_erase');
  if (ne !== undefined && ne !== null && typeof ne !== 'boolean') throw new StreamEntryError('bad_json', 'streamMsgDelete.no_erase is not a boolean');
  if (ne === true) out.no_erase = true;
  const client = objField(o, 'client', 'streamMsgDelete');
  if (client) out.client = client;
  return out;
}

/**
 * Delete range (op 15). nats-server's DeleteRange struct has no JSON tags, so Go writes the
 * field names capitalised (`{"First":N,"Num":N}`) followed by json.Encoder's newline, and reads
 * any capitalisation. We write what Go writes and read either.
 */
export function encodeDeleteRange(dr: DeleteRange): Buffer {
  checkSeq(dr.first, 'first');
  checkSeq(dr.num, 'num');
  return withOp(EntryOp.deleteRangeOp, `{"First":${dr.first},"Num":${dr.num}}`, true);
}

export function decodeDeleteRange(entry: Buffer): DeleteRange {
  const o = parseJsonBody(entry, EntryOp.deleteRangeOp, 'deleteRange');
  const dr = { first: seqField(o, 'first', 'deleteRange'), num: seqField(o, 'num', 'deleteRange') };
  if (dr.first + dr.num > Number.MAX_SAFE_INTEGER) throw new StreamEntryError('bad_json', 'deleteRange beyond 2^53');
  return dr;
}

/** Every stream-group entry, decoded. */
export type StreamGroupEntry =
  | { op: typeof EntryOp.streamMsgOp | typeof EntryOp.compressedStreamMsgOp; msg: DecodedStreamMsg }
  | { op: typeof EntryOp.purgeStreamOp; purge: StreamPurge }
  | { op: typeof EntryOp.deleteMsgOp; del: StreamMsgDelete }
  | { op: typeof EntryOp.deleteRangeOp; range: DeleteRange };

/**
 * Decode any stream-group EntryNormal payload; unknown ops throw StreamEntryError('bad_op').
 * `withReply` false: a message entry's reply is left empty (see decodeStreamMsgBody).
 */
export function decodeStreamGroupEntry(entry: Buffer, withReply = true): StreamGroupEntry {
  if (entry.length === 0) throw new StreamEntryError('short', 'empty entry');
  switch (entry[0]) {
    case EntryOp.streamMsgOp:
    case EntryOp.compressedStreamMsgOp:
      return { op: entry[0], msg: decodeStreamMsg(entry, MAX_DECOMPRESSED_BODY, withReply) } as StreamGroupEntry;
    case EntryOp.purgeStreamOp:
      return { op: EntryOp.purgeStreamOp, purge: decodePurge(entry) };
    case EntryOp.deleteMsgOp:
      return { op: EntryOp.deleteMsgOp, del: decodeMsgDelete(entry) };
    case EntryOp.deleteRangeOp:
      return { op: EntryOp.deleteRangeOp, range: decodeDeleteRange(entry) };
    default:
      throw new StreamEntryError('bad_op', `op ${entry[0]} is not a stream group op`);
  }
}
