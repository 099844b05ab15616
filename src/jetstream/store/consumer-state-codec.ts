// Binary consumer state, in nats-server's layout (magic 22, version 2): uvarints
// ack floor (consumer, stream), delivered (consumer, stream), pending count; if
// pending: base time in seconds (varint) then per entry stream seq and consumer
// seq as deltas from the ack floor and the delivery time as seconds below the
// base; then the redelivered count and (stream seq delta, count) pairs.

import { StoreError } from './errors.js';
import type { ConsumerState } from './types.js';
import { getUvarint, getVarint, putUvarint, putVarint } from './varint.js';

const MAGIC = 22;
const VERSION = 2;
const MAX_VARINT = 10;

export function emptyConsumerState(): ConsumerState {
  return {
    delivered: { consumerSeq: 0, streamSeq: 0 },
    ackFloor: { consumerSeq: 0, streamSeq: 0 },
    pending: new Map(),
    redelivered: new Map(),
  };
}

export function copyConsumerState(s: ConsumerState): ConsumerState {
  const pending = new Map<number, { seq: number; tsMs: number }>();
  for (const [k, v] of s.pending) pending.set(k, { seq: v.seq, tsMs: v.tsMs });
  return {
    delivered: { ...s.delivered },
    ackFloor: { ...s.ackFloor },
    pending,
    redelivered: new Map(s.redelivered),
  };
}

export function encodeConsumerState(s: ConsumerState): Buffer {
  const size = 2 + 5 * MAX_VARINT + MAX_VARINT + s.pending.size * 3 * MAX_VARINT + MAX_VARINT +
    s.redelivered.size * 2 * MAX_VARINT;
  const buf = Buffer.allocUnsafe(size);
  buf[0] = MAGIC;
  buf[1] = VERSION;
  let off = 2;
  const asflr = s.ackFloor.streamSeq;
  const adflr = s.ackFloor.consumerSeq;
  off = putUvarint(buf, off, adflr);
  off = putUvarint(buf, off, asflr);
  off = putUvarint(buf, off, s.delivered.consumerSeq);
  off = putUvarint(buf, off, s.delivered.streamSeq);
  off = putUvarint(buf, off, s.pending.size);
  if (s.pending.size > 0) {
    const baseSec = Math.round(Date.now() / 1000);
    off = putVarint(buf, off, baseSec);
    for (const [sseq, p] of s.pending) {
      off = putUvarint(buf, off, Math.max(0, sseq - asflr));
      off = putUvarint(buf, off, Math.max(0, p.seq - adflr));
      off = putVarint(buf, off, baseSec - Math.floor(p.tsMs / 1000));
    }
  }
  off = putUvarint(buf, off, s.redelivered.size);
  for (const [sseq, dc] of s.redelivered) {
    off = putUvarint(buf, off, Math.max(0, sseq - asflr));
    off = putUvarint(buf, off, dc);
  }
  return Buffer.from(buf.subarray(0, off));
}

export function decodeConsumerState(buf: Buffer): ConsumerState {
  const bad = (): never => {
    throw new StoreError('ErrCorruptStreamState', 'consumer state');
  };
  if (buf.length < 2 || buf[0] !== MAGIC || buf[1] !== VERSION) bad();
  const pos = { off: 2 };
  const s = emptyConsumerState();
  s.ackFloor.consumerSeq = getUvarint(buf, pos);
  s.ackFloor.streamSeq = getUvarint(buf, pos);
  s.delivered.consumerSeq = getUvarint(buf, pos);
  s.delivered.streamSeq = getUvarint(buf, pos);
  const np = getUvarint(buf, pos);
  if (pos.off < 0) bad();
  if (np > 0) {
    const baseSec = getVarint(buf, pos);
    for (let i = 0; i < np; i++) {
      const sseq = getUvarint(buf, pos) + s.ackFloor.streamSeq;
      const dseq = getUvarint(buf, pos) + s.ackFloor.consumerSeq;
      const tsSec = baseSec - getVarint(buf, pos);
      if (pos.off < 0 || sseq === 0) bad();
      s.pending.set(sseq, { seq: dseq, tsMs: tsSec * 1000 });
    }
  }
  const nr = getUvarint(buf, pos);
  if (pos.off < 0) bad();
  for (let i = 0; i < nr; i++) {
    const sseq = getUvarint(buf, pos) + s.ackFloor.streamSeq;
    const dc = getUvarint(buf, pos);
    if (pos.off < 0) bad();
    s.redelivered.set(sseq, dc);
  }
  return s;
}

/** What a damaged state file still tells us. */
export interface LenientDecode {
  state: ConsumerState;
  /** Absent when the whole state decoded and is consistent. */
  damage?: { reason: string; kept: 'floor' | 'nothing' };
}

/** Internal consistency of a decoded state (what a bit flip that still decodes usually breaks). */
export function consumerStateProblem(s: ConsumerState): string | undefined {
  if (s.ackFloor.streamSeq > s.delivered.streamSeq) return 'ack floor above delivered (stream)';
  if (s.ackFloor.consumerSeq > s.delivered.consumerSeq) return 'ack floor above delivered (consumer)';
  for (const [sseq, p] of s.pending) {
    if (sseq <= s.ackFloor.streamSeq || sseq > s.delivered.streamSeq) return `pending stream sequence ${sseq} out of range`;
    if (p.seq > s.delivered.consumerSeq) return `pending consumer sequence ${p.seq} out of range`;
  }
  return undefined;
}

/**
 * Decode as much of a possibly damaged state as can be trusted (nats-server's
 * decodeConsumerState gives up on the whole file instead). The ack floor and
 * delivered pair come first in the layout: when they decode and agree but the
 * pending/redelivered lists do not, the floor is kept and delivered is pulled
 * back to it, so everything after the floor is delivered again rather than skipped.
 */
export function decodeConsumerStateLenient(buf: Buffer): LenientDecode {
  const nothing = (reason: string): LenientDecode => ({ state: emptyConsumerState(), damage: { reason, kept: 'nothing' } });
  if (buf.length === 0) return nothing('empty file');
  if (buf.length < 2 || buf[0] !== MAGIC || buf[1] !== VERSION) return nothing('bad header');
  try {
    const s = decodeConsumerState(buf);
    const problem = consumerStateProblem(s);
    if (!problem) return { state: s };
  } catch {
    // Fall through to the partial read.
  }
  const pos = { off: 2 };
  const floor = { consumerSeq: getUvarint(buf, pos), streamSeq: getUvarint(buf, pos) };
  const delivered = { consumerSeq: getUvarint(buf, pos), streamSeq: getUvarint(buf, pos) };
  if (pos.off < 0) return nothing('truncated before the ack floor and delivered sequences');
  if (floor.streamSeq > delivered.streamSeq || floor.consumerSeq > delivered.consumerSeq) {
    return nothing('ack floor above delivered');
  }
  const s = emptyConsumerState();
  s.ackFloor = { ...floor };
  s.delivered = { ...floor };
  return { state: s, damage: { reason: 'pending/redelivered lists unreadable', kept: 'floor' } };
}
