// The consumer raft group's snapshot is the binary consumer state (jetstream-cluster.md §6):
//   u8 22 | u8 version | uvarint ackfloor.consumer | ackfloor.stream | delivered.consumer
//   | delivered.stream | uvarint #pending | [varint base ts(s) | per pending: uvarint sseq-asflr,
//   (v2) uvarint dseq-adflr, varint base-ts(s)] | uvarint #redelivered | per: uvarint sseq-asflr, count
// It is the same layout the store persists for a consumer, so the store's codec
// (src/jetstream/store/consumer-state-codec.ts, version 2) is reused as is. This module adds
// what only a raft snapshot can meet: version 1 states (no consumer sequence per pending
// entry, timestamps as offsets *above* the base, delivered stored relative to the ack floor),
// and a typed error for the cluster layer.

import { decodeConsumerState, emptyConsumerState, encodeConsumerState } from '../store/consumer-state-codec.js';
import { isStoreError } from '../store/errors.js';
import type { ConsumerState } from '../store/types.js';

export { encodeConsumerState as encodeConsumerSnapshot, emptyConsumerState };

export const CONSUMER_STATE_MAGIC = 22;

export class ConsumerSnapshotError extends Error {
  constructor(message: string) {
    super(`consumer snapshot: ${message}`);
    this.name = 'ConsumerSnapshotError';
  }
}

function uvarint(buf: Buffer, pos: { off: number }): number {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos.off >= buf.length) throw new ConsumerSnapshotError('truncated');
    const b = buf[pos.off++]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (!Number.isSafeInteger(v)) throw new ConsumerSnapshotError('value beyond 2^53');
      return v;
    }
    mul *= 128;
  }
  throw new ConsumerSnapshotError('varint too long');
}

function varint(buf: Buffer, pos: { off: number }): number {
  const u = uvarint(buf, pos);
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** Version 1 (older servers): pending without consumer sequences, ts = base + offset. */
function decodeV1(buf: Buffer): ConsumerState {
  const pos = { off: 2 };
  const s = emptyConsumerState();
  s.ackFloor.consumerSeq = uvarint(buf, pos);
  s.ackFloor.streamSeq = uvarint(buf, pos);
  s.delivered.consumerSeq = uvarint(buf, pos);
  s.delivered.streamSeq = uvarint(buf, pos);
  // v1 stored delivered relative to the ack floor.
  if (s.ackFloor.consumerSeq > 1) s.delivered.consumerSeq += s.ackFloor.consumerSeq - 1;
  if (s.ackFloor.streamSeq > 1) s.delivered.streamSeq += s.ackFloor.streamSeq - 1;
  const np = uvarint(buf, pos);
  if (np > 0) {
    const base = varint(buf, pos);
    for (let i = 0; i < np; i++) {
      const sseq = uvarint(buf, pos) + s.ackFloor.streamSeq;
      const tsSec = varint(buf, pos) + base;
      if (sseq === 0) throw new ConsumerSnapshotError('pending stream sequence 0');
      s.pending.set(sseq, { seq: 0, tsMs: tsSec * 1000 });
    }
  }
  const nr = uvarint(buf, pos);
  for (let i = 0; i < nr; i++) {
    const d = uvarint(buf, pos);
    const n = uvarint(buf, pos);
    if (d > 0 && n > 0) s.redelivered.set(d + s.ackFloor.streamSeq, n);
  }
  return s;
}

export function isConsumerSnapshot(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === CONSUMER_STATE_MAGIC && (buf[1] === 1 || buf[1] === 2);
}

/** Decode a consumer snapshot (version 1 or 2); malformed input throws ConsumerSnapshotError. */
export function decodeConsumerSnapshot(buf: Buffer): ConsumerState {
  if (!isConsumerSnapshot(buf)) throw new ConsumerSnapshotError('bad magic or version');
  if (buf[1] === 1) return decodeV1(buf);
  try {
    return decodeConsumerState(buf);
  } catch (err) {
    if (isStoreError(err)) throw new ConsumerSnapshotError(err.message);
    throw err;
  }
}
