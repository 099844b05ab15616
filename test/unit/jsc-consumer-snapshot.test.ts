// Consumer raft snapshot = nats-server's binary consumer state (magic 22). Bytes are built here
// from Go's encodeConsumerState layout (v2) and decodeConsumerState's v1 rules, and checked
// against the store codec this module re-exports.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConsumerSnapshotError, decodeConsumerSnapshot, encodeConsumerSnapshot, isConsumerSnapshot,
} from '../../src/jetstream/cluster/consumer-snapshot.js';

function uv(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}
const zz = (v: number): number[] => uv(v >= 0 ? v * 2 : -v * 2 - 1);

test('consumer snapshot v2: Go layout with pending (base timestamp) and redelivered', () => {
  const base = 1_795_738_563; // seconds
  // ack floor (consumer 3, stream 10), delivered (consumer 6, stream 15);
  // pending: stream 12 (dseq 4, 5 s before base), stream 15 (dseq 6, at base);
  // redelivered: stream 12 twice.
  const bytes = Buffer.from([
    22, 2, 3, 10, 6, 15, 2, ...zz(base),
    ...uv(12 - 10), ...uv(4 - 3), ...zz(5),
    ...uv(15 - 10), ...uv(6 - 3), ...zz(0),
    1, ...uv(12 - 10), 2,
  ]);
  assert.ok(isConsumerSnapshot(bytes));
  const s = decodeConsumerSnapshot(bytes);
  assert.deepEqual(s.ackFloor, { consumerSeq: 3, streamSeq: 10 });
  assert.deepEqual(s.delivered, { consumerSeq: 6, streamSeq: 15 });
  assert.deepEqual([...s.pending], [[12, { seq: 4, tsMs: (base - 5) * 1000 }], [15, { seq: 6, tsMs: base * 1000 }]]);
  assert.deepEqual([...s.redelivered], [[12, 2]]);
  // Our encoder (the store's codec) writes the same layout: re-encoding gives a state that
  // decodes identically (the base timestamp is "now", so compare decoded values).
  const again = encodeConsumerSnapshot(s);
  assert.deepEqual([...again.subarray(0, 7)], [22, 2, 3, 10, 6, 15, 2]);
  assert.deepEqual(decodeConsumerSnapshot(again), s);
});

test('consumer snapshot v2: no pending writes no base timestamp', () => {
  const bytes = Buffer.from([22, 2, 5, 5, 5, 5, 0, 0]);
  const s = decodeConsumerSnapshot(bytes);
  assert.equal(s.pending.size, 0);
  assert.deepEqual(encodeConsumerSnapshot(s), bytes);
});

test('consumer snapshot v1: delivered relative to the ack floor, pending without dseq, ts above base', () => {
  const base = 1_000_000;
  const bytes = Buffer.from([
    22, 1, 3, 10, 4, 6, 1, ...zz(base), ...uv(2), ...zz(7), 1, ...uv(2), 3,
  ]);
  const s = decodeConsumerSnapshot(bytes);
  assert.deepEqual(s.ackFloor, { consumerSeq: 3, streamSeq: 10 });
  assert.deepEqual(s.delivered, { consumerSeq: 4 + 2, streamSeq: 6 + 9 });
  assert.deepEqual([...s.pending], [[12, { seq: 0, tsMs: (base + 7) * 1000 }]]);
  assert.deepEqual([...s.redelivered], [[12, 3]]);
});

test('consumer snapshot: malformed input throws ConsumerSnapshotError', () => {
  const good = Buffer.from([22, 2, 3, 10, 6, 15, 1, ...zz(100), 2, 1, ...zz(0), 1, 2, 2]);
  assert.ok(decodeConsumerSnapshot(good));
  for (let n = 0; n < good.length; n++) {
    assert.throws(() => decodeConsumerSnapshot(good.subarray(0, n)), ConsumerSnapshotError, `cut at ${n}`);
  }
  const v1 = Buffer.from([22, 1, 3, 10, 4, 6, 1, ...zz(5), 2, ...zz(7), 1, 2, 3]);
  for (let n = 0; n < v1.length; n++) {
    assert.throws(() => decodeConsumerSnapshot(v1.subarray(0, n)), ConsumerSnapshotError, `v1 cut at ${n}`);
  }
  assert.throws(() => decodeConsumerSnapshot(Buffer.from([42, 2, 0, 0, 0, 0, 0, 0])), ConsumerSnapshotError);
  assert.throws(() => decodeConsumerSnapshot(Buffer.from([22, 3, 0, 0, 0, 0, 0, 0])), ConsumerSnapshotError);
  // A pending stream sequence of 0 (delta 0 over ack floor 0) is corruption in Go too.
  assert.throws(() => decodeConsumerSnapshot(Buffer.from([22, 2, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0])), ConsumerSnapshotError);
});
