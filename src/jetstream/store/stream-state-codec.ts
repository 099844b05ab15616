// Compact binary stream state for replication snapshots, in nats-server's
// EncodedStreamState layout (magic 42, version 1, uvarints msgs, bytes, first,
// last, failed, number deleted, then deleted blocks). We always write deleted
// sequences as run-length blocks (magic 33, first, count).

import { StoreError } from './errors.js';
import type { ReplicatedStreamState } from './types.js';
import { getUvarint, putUvarint, uvarintLen } from './varint.js';

const STREAM_STATE_MAGIC = 42;
const STREAM_STATE_VERSION = 1;
const RUN_LENGTH_MAGIC = 33;

export function encodeStreamState(s: ReplicatedStreamState): Buffer {
  let numDeleted = 0;
  let size = 2 + uvarintLen(s.msgs) + uvarintLen(s.bytes) + uvarintLen(s.firstSeq) + uvarintLen(s.lastSeq) +
    uvarintLen(s.failed);
  for (const [first, n] of s.deleted) {
    numDeleted += n;
    size += 1 + uvarintLen(first) + uvarintLen(n);
  }
  size += uvarintLen(numDeleted);
  const buf = Buffer.alloc(size);
  buf[0] = STREAM_STATE_MAGIC;
  buf[1] = STREAM_STATE_VERSION;
  let off = 2;
  off = putUvarint(buf, off, s.msgs);
  off = putUvarint(buf, off, s.bytes);
  off = putUvarint(buf, off, s.firstSeq);
  off = putUvarint(buf, off, s.lastSeq);
  off = putUvarint(buf, off, s.failed);
  off = putUvarint(buf, off, numDeleted);
  for (const [first, n] of s.deleted) {
    buf[off++] = RUN_LENGTH_MAGIC;
    off = putUvarint(buf, off, first);
    off = putUvarint(buf, off, n);
  }
  return buf.subarray(0, off);
}

export function isEncodedStreamState(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === STREAM_STATE_MAGIC && buf[1] === STREAM_STATE_VERSION;
}

/** Decode an encoded stream state; throws ErrCorruptStreamState. Only run-length delete blocks are understood. */
export function decodeStreamState(buf: Buffer): ReplicatedStreamState {
  if (!isEncodedStreamState(buf)) throw new StoreError('ErrCorruptStreamState');
  const pos = { off: 2 };
  const msgs = getUvarint(buf, pos);
  const bytes = getUvarint(buf, pos);
  const firstSeq = getUvarint(buf, pos);
  const lastSeq = getUvarint(buf, pos);
  const failed = getUvarint(buf, pos);
  const numDeleted = getUvarint(buf, pos);
  if (pos.off < 0) throw new StoreError('ErrCorruptStreamState');
  const deleted: Array<[number, number]> = [];
  if (numDeleted > 0) {
    while (pos.off < buf.length) {
      if (buf[pos.off] !== RUN_LENGTH_MAGIC) throw new StoreError('ErrCorruptStreamState');
      pos.off++;
      const first = getUvarint(buf, pos);
      const n = getUvarint(buf, pos);
      if (pos.off < 0) throw new StoreError('ErrCorruptStreamState');
      deleted.push([first, n]);
    }
  }
  return { msgs, bytes, firstSeq, lastSeq, failed, deleted };
}
