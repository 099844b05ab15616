// On-disk record layout of the file store's message blocks (little endian):
//
//   u32 length      whole record, including this field and the trailing crc
//   u8  type        MSG | DEL | SKIP | MARK | ERASED
//   u8  flags       bit0: has headers, bit1: has ttl
//   u16 subjectLen
//   u64 seq
//   i64 ts          ns since epoch
//   [i64 ttlSec]    if flags bit1
//   [u32 hdrLen]    if flags bit0
//   subject, headers, payload
//   u32 crc32       of every byte before it
//
// DEL: seq = first deleted, payload = u64 count. SKIP: seq = first skipped, payload = u64 count.
// MARK: seq = first sequence of the stream at that point (everything below is gone),
// payload = u64 last sequence (state is set to exactly that), ts = last timestamp.
// ERASED: a MSG overwritten in place by eraseMsg (same length, seq and ts kept, zero payload,
// valid crc); it still consumes its sequence on replay.

import { readI64LE, writeI64LE } from '../../protocol/int64.js';
import { NameMemo } from '../../protocol/names.js';
import { crc32 } from './crc32.js';

/** Subjects of consecutive records mostly repeat (names.ts NameMemo). */
const recordSubjects = new NameMemo();

export const REC_MSG = 1;
export const REC_DEL = 2;
export const REC_SKIP = 3;
export const REC_MARK = 4;
export const REC_ERASED = 5;

export const FLAG_HDR = 1;
export const FLAG_TTL = 2;

export const REC_FIXED = 24;
export const REC_CRC = 4;
export const REC_MIN = REC_FIXED + REC_CRC;
/** Largest record we accept when scanning (guards against garbage lengths). */
export const REC_MAX = 256 * 1024 * 1024;

const TWO32 = 0x1_0000_0000;

export function writeU64(buf: Buffer, off: number, v: number): void {
  // No % on a double (a slow library call in V8): the high half first, the low half from it.
  const hi = Math.floor(v / TWO32);
  buf.writeUInt32LE(v - hi * TWO32, off);
  buf.writeUInt32LE(hi, off + 4);
}

export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO32;
}

// TTL seconds as an i64 in two 32-bit halves: exact for any TTL a number holds, and no BigInt per
// record (ns timestamps do not fit a number and go through protocol/int64 instead).
function writeI64Num(buf: Buffer, off: number, v: number): void {
  const hi = Math.floor(v / TWO32);
  buf.writeUInt32LE(v - hi * TWO32, off);
  buf.writeInt32LE(hi, off + 4);
}

function readI64Num(buf: Buffer, off: number): number {
  return buf.readInt32LE(off + 4) * TWO32 + buf.readUInt32LE(off);
}

export function msgRecordLen(subjectBytes: number, hdrLen: number | -1, dataLen: number, hasTtl: boolean): number {
  return REC_MIN + (hasTtl ? 8 : 0) + (hdrLen >= 0 ? 4 : 0) + subjectBytes + (hdrLen > 0 ? hdrLen : 0) + dataLen;
}

/** Encode a MSG record at off; returns the record length. Caller sized buf with msgRecordLen. */
export function encodeMsg(buf: Buffer, off: number, seq: number, ts: bigint, subject: string, subjectBytes: number,
  hdr: Buffer | undefined, data: Buffer, ttlSec: number): number {
  const start = off;
  const hasTtl = ttlSec !== 0;
  const len = msgRecordLen(subjectBytes, hdr ? hdr.length : -1, data.length, hasTtl);
  buf.writeUInt32LE(len, off);
  buf[off + 4] = REC_MSG;
  buf[off + 5] = (hdr ? FLAG_HDR : 0) | (hasTtl ? FLAG_TTL : 0);
  buf.writeUInt16LE(subjectBytes, off + 6);
  writeU64(buf, off + 8, seq);
  writeI64LE(buf, off + 16, ts);
  off += REC_FIXED;
  if (hasTtl) {
    writeI64Num(buf, off, ttlSec);
    off += 8;
  }
  if (hdr) {
    buf.writeUInt32LE(hdr.length, off);
    off += 4;
  }
  // subjectBytes is nameByteLength(subject): invalid UTF-8 bytes kept by the parser go back to disk as sent.
  off = recordSubjects.write(buf, off, subject, subjectBytes);
  if (hdr) {
    buf.set(hdr, off);
    off += hdr.length;
  }
  buf.set(data, off);
  off += data.length;
  buf.writeUInt32LE(crc32(buf, start, off), off);
  return len;
}

/** Encode a control record (DEL/SKIP/MARK) with a u64 payload. Returns length (36). */
export function encodeControl(buf: Buffer, off: number, type: number, seq: number, ts: bigint, value: number): number {
  const len = REC_MIN + 8;
  buf.writeUInt32LE(len, off);
  buf[off + 4] = type;
  buf[off + 5] = 0;
  buf.writeUInt16LE(0, off + 6);
  writeU64(buf, off + 8, seq);
  writeI64LE(buf, off + 16, ts);
  writeU64(buf, off + 24, value);
  buf.writeUInt32LE(crc32(buf, off, off + 32), off + 32);
  return len;
}
export const CONTROL_LEN = REC_MIN + 8;

/** A same-length ERASED record replacing a MSG record of length len. */
export function encodeErased(len: number, seq: number, ts: bigint): Buffer {
  const buf = Buffer.alloc(len);
  buf.writeUInt32LE(len, 0);
  buf[4] = REC_ERASED;
  writeU64(buf, 8, seq);
  writeI64LE(buf, 16, ts);
  buf.writeUInt32LE(crc32(buf, 0, len - 4), len - 4);
  return buf;
}

/** Parsed view of one record (fields valid after a successful parseRecord). */
export class RecordView {
  len = 0;
  type = 0;
  seq = 0;
  ts = 0n;
  ttlSec = 0;
  subjStart = 0;
  subjLen = 0;
  hdrStart = 0;
  hdrLen = -1;
  dataStart = 0;
  dataLen = 0;
  /** u64 payload of control records. */
  value = 0;
}

/** Parse and verify the record at off (within buf[0, end)). False when truncated or corrupt. */
export function parseRecord(buf: Buffer, off: number, end: number, out: RecordView, verify = true): boolean {
  if (end - off < REC_MIN) return false;
  const len = buf.readUInt32LE(off);
  if (len < REC_MIN || len > REC_MAX || len > end - off) return false;
  const type = buf[off + 4];
  if (type < REC_MSG || type > REC_ERASED) return false;
  if (verify && crc32(buf, off, off + len - 4) !== buf.readUInt32LE(off + len - 4)) return false;
  const flags = buf[off + 5];
  const subjLen = buf.readUInt16LE(off + 6);
  out.len = len;
  out.type = type;
  out.seq = readU64(buf, off + 8);
  out.ts = readI64LE(buf, off + 16);
  let p = off + REC_FIXED;
  const bodyEnd = off + len - REC_CRC;
  out.ttlSec = 0;
  out.value = 0;
  if (type === REC_MSG) {
    if (flags & FLAG_TTL) {
      if (p + 8 > bodyEnd) return false;
      out.ttlSec = readI64Num(buf, p);
      p += 8;
    }
    out.hdrLen = -1;
    if (flags & FLAG_HDR) {
      if (p + 4 > bodyEnd) return false;
      out.hdrLen = buf.readUInt32LE(p);
      p += 4;
    }
    out.subjStart = p;
    out.subjLen = subjLen;
    p += subjLen;
    out.hdrStart = p;
    if (out.hdrLen > 0) p += out.hdrLen;
    if (p > bodyEnd) return false;
    out.dataStart = p;
    out.dataLen = bodyEnd - p;
  } else if (type !== REC_ERASED) {
    if (len !== CONTROL_LEN) return false;
    out.value = readU64(buf, off + REC_FIXED);
  }
  return true;
}
