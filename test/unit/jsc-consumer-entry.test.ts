// Consumer group entries against nats-server 2.9.10 captures: op 12 (pull request), the AE
// with op 13 + op 7 (zig-zag timestamp equal to the stream message's ts), op 8 (ack); plus
// ops 10 and 18, round trips at the edges, and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAppendEntry } from '../../src/raft/codec.js';
import { RaftError } from '../../src/raft/types.js';
import {
  ConsumerEntryError, decodeAckUpdate, decodeConsumerEntry, decodeDeliveredMs, encodeAckUpdate, encodeAddPendingRequest, encodeConsumerEntry,
  encodeDeliveredUpdate, encodeDeliveredUpdateMs, encodeRemovePendingRequest, encodeResetSeq, encodeSkipUpdate, OpSlab, type ConsumerGroupEntry,
} from '../../src/jetstream/cluster/consumer-entry.js';
import { decodeStreamMsg } from '../../src/jetstream/cluster/stream-entry.js';
import { EntryOp } from '../../src/jetstream/cluster/ops.js';
import { loadVector } from './jsc-vectors.js';

function entries(name: string): Buffer[] {
  const v = loadVector('nrg', name);
  const ae = decodeAppendEntry(Buffer.from(v.payload_hex, 'hex'));
  assert.ok(!(ae instanceof RaftError));
  return ae.entries.map((e) => Buffer.from(e.data));
}

test('consumer entry: addPendingRequest (op 12) from the capture', () => {
  const [e] = entries('ae_consumer_add_pending_request');
  const d = decodeConsumerEntry(e!);
  assert.deepEqual(d, { op: EntryOp.addPendingRequest, reply: '_INBOX.pull1' });
  assert.deepEqual(encodeAddPendingRequest('_INBOX.pull1'), e);
  assert.deepEqual(encodeConsumerEntry(d), e);
});

test('consumer entry: one AE with removePendingRequest (op 13) then updateDeliveredOp (op 7)', () => {
  const es = entries('ae_consumer_remove_pending_and_delivered');
  assert.equal(es.length, 2);
  const rm = decodeConsumerEntry(es[0]!);
  assert.deepEqual(rm, { op: EntryOp.removePendingRequest, reply: '_INBOX.pull1' });
  assert.deepEqual(encodeRemovePendingRequest('_INBOX.pull1'), es[0]);
  const dl = decodeConsumerEntry(es[1]!);
  assert.deepEqual(dl, { op: EntryOp.updateDeliveredOp, dseq: 1, sseq: 1, dc: 1, ts: 1795738563295351080n });
  assert.deepEqual(encodeConsumerEntry(dl), es[1]);
  // The timestamp is the stream message's own stored timestamp (the plain publish, seq 1).
  const streamMsg = loadVector('nrg', 'ae_stream_msg_plain');
  const sae = decodeAppendEntry(Buffer.from(streamMsg.payload_hex, 'hex'));
  assert.ok(!(sae instanceof RaftError));
  assert.equal(decodeStreamMsg(Buffer.from(sae.entries[0]!.data)).ts, (dl as { ts: bigint }).ts);
});

test('consumer entry: updateAcksOp (op 8) from the capture', () => {
  const [e] = entries('ae_consumer_update_acks');
  const d = decodeConsumerEntry(e!);
  assert.deepEqual(d, { op: EntryOp.updateAcksOp, dseq: 1, sseq: 1 });
  assert.deepEqual(encodeAckUpdate({ dseq: 1, sseq: 1 }), e);
});

test('consumer entry: skip (op 10) and reset (op 18) layouts', () => {
  const s = encodeSkipUpdate(0x0102030405);
  assert.equal(s.toString('hex'), '0a0504030201000000');
  assert.deepEqual(decodeConsumerEntry(s), { op: EntryOp.updateSkipOp, sseq: 0x0102030405 });
  const r = encodeResetSeq(77, '_INBOX.reset');
  assert.equal(r[0], 18);
  assert.equal(r.readBigUInt64LE(1), 77n);
  assert.equal(r.toString('latin1', 9), '_INBOX.reset');
  assert.deepEqual(decodeConsumerEntry(r), { op: EntryOp.resetSeqOp, sseq: 77, reply: '_INBOX.reset' });
  assert.deepEqual(decodeConsumerEntry(encodeResetSeq(5, '')), { op: EntryOp.resetSeqOp, sseq: 5, reply: '' });
});

test('consumer entry: round trips at the edges (negative and extreme timestamps, 2^53-1)', () => {
  const cases: ConsumerGroupEntry[] = [
    { op: EntryOp.updateDeliveredOp, dseq: 0, sseq: 0, dc: 0, ts: 0n },
    { op: EntryOp.updateDeliveredOp, dseq: 2 ** 53 - 1, sseq: 2 ** 53 - 1, dc: 300, ts: -1n },
    { op: EntryOp.updateDeliveredOp, dseq: 1, sseq: 2, dc: 3, ts: (1n << 63n) - 1n },
    { op: EntryOp.updateDeliveredOp, dseq: 1, sseq: 2, dc: 3, ts: -(1n << 63n) },
    { op: EntryOp.updateAcksOp, dseq: 128, sseq: 16384 },
    { op: EntryOp.updateSkipOp, sseq: 2 ** 53 - 1 },
    { op: EntryOp.addPendingRequest, reply: '' },
    { op: EntryOp.resetSeqOp, sseq: 0, reply: 'é' },
  ];
  for (const c of cases) assert.deepEqual(decodeConsumerEntry(encodeConsumerEntry(c)), c);
  // Go's PutVarint: -1 is the single byte 0x01, and 1 is 0x02.
  assert.equal(encodeDeliveredUpdate({ dseq: 1, sseq: 1, dc: 1, ts: -1n }).toString('hex'), '0701010101');
  assert.equal(encodeDeliveredUpdate({ dseq: 1, sseq: 1, dc: 1, ts: 1n }).toString('hex'), '0701010102');
  // The extreme int64 values take 10 bytes.
  assert.equal(encodeDeliveredUpdate({ dseq: 0, sseq: 0, dc: 0, ts: -(1n << 63n) }).length, 1 + 3 + 10);
});

test('consumer entry: malformed input throws ConsumerEntryError', () => {
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['unknown op', Buffer.from([9, 1, 1])],
    ['stream op', Buffer.from([4, 0])],
    ['delivered truncated', Buffer.from([7, 1, 1, 1])],
    ['delivered varint unterminated', Buffer.from([7, 1, 1, 1, 0x80])],
    ['ack missing sseq', Buffer.from([8, 1])],
    ['ack trailing', Buffer.from([8, 1, 1, 0])],
    ['ack 11-byte varint', Buffer.from([8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1])],
    ['ack varint over 64 bits', Buffer.from([8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 1])],
    ['ack seq beyond 2^53', Buffer.from([8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1])],
    ['skip short', Buffer.from([10, 1, 2, 3])],
    ['skip long', Buffer.alloc(10, 10)],
    ['reset short', Buffer.from([18, 1, 2])],
  ];
  for (const [what, b] of bad) assert.throws(() => decodeConsumerEntry(b), ConsumerEntryError, what);
  assert.throws(() => encodeAckUpdate({ dseq: -1, sseq: 0 }), ConsumerEntryError);
  assert.throws(() => encodeDeliveredUpdate({ dseq: 1, sseq: 1, dc: 1, ts: 1n << 63n }), ConsumerEntryError);
  assert.throws(() => encodeSkipUpdate(1.5), ConsumerEntryError);
});

test('consumer entry: random bytes never throw anything but ConsumerEntryError', () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 5000; i++) {
    const len = Math.floor(next() * 14);
    const b = Buffer.alloc(len);
    for (let k = 0; k < len; k++) b[k] = Math.floor(next() * 256);
    if (len > 0 && next() < 0.7) b[0] = [7, 8, 10, 12, 13, 18][Math.floor(next() * 6)]!;
    try {
      const d = decodeConsumerEntry(b);
      // A skip update that decodes re-encodes to the same bytes (fixed layout).
      if (d.op === EntryOp.updateSkipOp) assert.deepEqual(encodeConsumerEntry(d), b);
    } catch (err) {
      assert.ok(err instanceof ConsumerEntryError, `${(err as Error).name}: ${(err as Error).message}`);
    }
  }
});

/** Go's PutUvarint of a 64-bit value, written the slow obvious way (the reference for the fast paths). */
function refUvarint(v: bigint): number[] {
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

function refDelivered(dseq: number, sseq: number, dc: number, ts: bigint): string {
  const zz = ((ts << 1n) ^ (ts >> 63n)) & ((1n << 64n) - 1n);
  return Buffer.from([EntryOp.updateDeliveredOp, ...refUvarint(BigInt(dseq)), ...refUvarint(BigInt(sseq)), ...refUvarint(BigInt(dc)), ...refUvarint(zz)]).toString('hex');
}

test('consumer entry: number fast paths write and read the bytes of the 64-bit reference', () => {
  const seqs = [0, 1, 127, 128, 2 ** 21 - 1, 2 ** 21, 2 ** 49 - 1, 2 ** 49, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER];
  const stamps = [0n, 1n, -1n, 1_000_000n, 1_765_000_000_123_456_789n, (1n << 53n) + 1n, 1n << 56n, (1n << 63n) - 1n, -(1n << 63n), 2_097_151n, 2_097_152n];
  for (const seq of seqs) {
    for (const ts of stamps) {
      const b = encodeDeliveredUpdate({ dseq: seq, sseq: seq, dc: 1, ts });
      assert.equal(b.toString('hex'), refDelivered(seq, seq, 1, ts), `seq ${seq} ts ${ts}`);
      assert.deepEqual(decodeConsumerEntry(b), { op: EntryOp.updateDeliveredOp, dseq: seq, sseq: seq, dc: 1, ts });
    }
    const a = encodeAckUpdate({ dseq: seq, sseq: 5 });
    assert.deepEqual(decodeConsumerEntry(a), { op: EntryOp.updateAcksOp, dseq: seq, sseq: 5 });
  }
  // The leader's millisecond form gives the bytes of the nanosecond one.
  const msValues = [0, 1, 2 ** 21 - 1, 2 ** 21, 1_765_072_800_123, 2 ** 41 + 12345, 2 ** 42 - 1];
  for (const ms of msValues) {
    assert.equal(encodeDeliveredUpdateMs(9, 10, 2, ms).toString('hex'), refDelivered(9, 10, 2, BigInt(ms) * 1_000_000n), `ms ${ms}`);
  }
  assert.throws(() => encodeDeliveredUpdateMs(1, 1, 1, -1), ConsumerEntryError);
  assert.throws(() => encodeDeliveredUpdateMs(1, 1, 1, 2 ** 42), ConsumerEntryError);
});

test('consumer entry: the followers\' millisecond decode equals the 64-bit decode truncated to ms', () => {
  let seed = 11;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  const stamps = [0n, 1n, -1n, 999_999n, 1_000_000n, -999_999n, -1_000_000n, -1_000_001n, 1_765_072_800_123_456_789n,
    (1n << 63n) - 1n, -(1n << 63n), (1n << 53n) + 7n, 2_000_000n * (1n << 21n) - 1n];
  for (let i = 0; i < 500; i++) {
    const v = (BigInt(next()) << 32n) | BigInt(next());
    stamps.push(BigInt.asIntN(64, v));
  }
  for (const ts of stamps) {
    const b = encodeDeliveredUpdate({ dseq: 3, sseq: 4, dc: 2, ts });
    assert.deepEqual(decodeDeliveredMs(b), { dseq: 3, sseq: 4, dc: 2, tsMs: Number(ts / 1_000_000n) }, `ts ${ts}`);
  }
  assert.throws(() => decodeDeliveredMs(encodeAckUpdate({ dseq: 1, sseq: 1 })), ConsumerEntryError);
  assert.throws(() => decodeDeliveredMs(Buffer.from([7, 1, 1, 1, 0x80])), ConsumerEntryError);
  assert.throws(() => decodeDeliveredMs(Buffer.from([7, 1, 1, 1, 2, 0])), ConsumerEntryError);
});

test('consumer entry: followers decode delivered and ack ops into one reused object each', () => {
  const d = { dseq: 0, sseq: 0, dc: 0, tsMs: 0 };
  assert.equal(decodeDeliveredMs(encodeDeliveredUpdateMs(5, 9, 1, 1_765_072_800_123), d), d);
  assert.deepEqual(d, { dseq: 5, sseq: 9, dc: 1, tsMs: 1_765_072_800_123 });
  decodeDeliveredMs(encodeDeliveredUpdateMs(2 ** 40, 2 ** 50, 3, 0), d);
  assert.deepEqual(d, { dseq: 2 ** 40, sseq: 2 ** 50, dc: 3, tsMs: 0 });
  const a = { dseq: 0, sseq: 0 };
  for (const [dseq, sseq] of [[1, 1], [300, 70_000], [Number.MAX_SAFE_INTEGER, 2 ** 49 + 1]] as const) {
    assert.equal(decodeAckUpdate(encodeAckUpdate({ dseq, sseq }), a), a);
    assert.deepEqual(a, { dseq, sseq });
    assert.deepEqual(decodeConsumerEntry(encodeAckUpdate({ dseq, sseq })), { op: 8, dseq, sseq });
  }
  assert.throws(() => decodeAckUpdate(encodeDeliveredUpdateMs(1, 1, 1, 1), a), ConsumerEntryError);
  assert.throws(() => decodeAckUpdate(Buffer.from([8, 1]), a), ConsumerEntryError);
  assert.throws(() => decodeAckUpdate(Buffer.from([8, 1, 1, 0]), a), ConsumerEntryError);
  assert.throws(() => decodeAckUpdate(Buffer.from([8, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 1]), a), ConsumerEntryError);
});

test('consumer entry: ops decoded in place inside their append entry equal the ops decoded alone', () => {
  // A follower decodes each op where it arrived (raft WireEntry: src[start, end)), without a view.
  const ops = [
    encodeDeliveredUpdateMs(1, 7, 1, 1_796_644_715_425), encodeAckUpdate({ dseq: 1, sseq: 7 }),
    encodeDeliveredUpdateMs(2 ** 40, 2 ** 53 - 1, 3, 0), encodeAckUpdate({ dseq: 2 ** 40, sseq: 2 ** 53 - 1 }),
    encodeDeliveredUpdate({ dseq: 5, sseq: 9, dc: 2, ts: -(1n << 63n) }),
  ];
  const ae = Buffer.concat([Buffer.from([0xff]), ...ops, Buffer.from([0x80, 0x80])]);
  const d = { dseq: 0, sseq: 0, dc: 0, tsMs: 0 };
  const a = { dseq: 0, sseq: 0 };
  let at = 1;
  for (const op of ops) {
    const end = at + op.length;
    if (op[0] === EntryOp.updateDeliveredOp) {
      assert.deepEqual({ ...decodeDeliveredMs(ae, d, at, end) }, { ...decodeDeliveredMs(op) });
      assert.throws(() => decodeAckUpdate(ae, a, at, end), ConsumerEntryError);
    } else {
      assert.deepEqual({ ...decodeAckUpdate(ae, a, at, end) }, { ...decodeAckUpdate(op, { dseq: 0, sseq: 0 }) });
      assert.throws(() => decodeDeliveredMs(ae, d, at, end), ConsumerEntryError);
    }
    // One byte short: truncated, although the bytes after `end` would complete it.
    assert.throws(() => (op[0] === EntryOp.updateDeliveredOp ? decodeDeliveredMs(ae, d, at, end - 1) : decodeAckUpdate(ae, a, at, end - 1)), ConsumerEntryError);
    // One byte long: trailing.
    assert.throws(() => (op[0] === EntryOp.updateDeliveredOp ? decodeDeliveredMs(ae, d, at, end + 1) : decodeAckUpdate(ae, a, at, end + 1)), ConsumerEntryError);
    at = end;
  }
  assert.throws(() => decodeAckUpdate(ae, a, 3, 3), ConsumerEntryError);
});

test('consumer entry: OpSlab writes the bytes of encodeDeliveredUpdateMs and encodeAckUpdate, never rewriting them', () => {
  const slab = new OpSlab();
  const written: { buf: Buffer; start: number; end: number; want: Buffer }[] = [];
  const chunks = new Set<Buffer>();
  // Enough ops to fill several chunks, with sequences and timestamps of every varint length.
  for (let i = 0; i < 5_000; i++) {
    const seq = i % 3 === 0 ? 2 ** 53 - 1 - i : i * 9_973;
    if (i % 2 === 0) {
      const ts = i % 5 === 0 ? 2 ** 42 - 1 : 1_796_644_715_425 + i;
      slab.delivered(i + 1, seq, 1 + (i % 4), ts);
      written.push({ buf: slab.buf, start: slab.start, end: slab.end, want: encodeDeliveredUpdateMs(i + 1, seq, 1 + (i % 4), ts) });
    } else {
      slab.ack(i + 1, seq);
      written.push({ buf: slab.buf, start: slab.start, end: slab.end, want: encodeAckUpdate({ dseq: i + 1, sseq: seq }) });
    }
    chunks.add(slab.buf);
  }
  assert.ok(chunks.size > 2, `only ${chunks.size} chunks used`);
  for (const w of written) assert.deepEqual(w.buf.subarray(w.start, w.end), w.want);
  // Out-of-range input is refused before anything is written.
  const before = slab.end;
  assert.throws(() => slab.delivered(1, 1, 1, 2 ** 42), ConsumerEntryError);
  assert.throws(() => slab.ack(-1, 1), ConsumerEntryError);
  assert.throws(() => slab.delivered(1, 2 ** 53, 1, 0), ConsumerEntryError);
  assert.equal(slab.end, before);
});
