// Stream raft snapshot state: the binary layout (magic 42, v1 and v2 with sources, run-length
// and AVL sequence-set delete blocks, built here byte by byte from nats-server's layout), the
// 2.9.10 JSON form, compatibility with the store's own v1 codec, and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  StreamSnapshotError, decodeStreamSnapshot, deleteBlocksFrom, deletedSequences, encodeStreamSnapshot,
  encodeStreamSnapshotJson, numDeleted, planSnapshotApply, type StreamSnapshotState,
} from '../../src/jetstream/cluster/stream-snapshot.js';
import { decodeStreamState, encodeStreamState } from '../../src/jetstream/store/stream-state-codec.js';

function uv(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

const u64 = (v: bigint): number[] => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return [...b];
};
const u32 = (v: number): number[] => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return [...b];
};

/** An AVL seqset v2 node as nats-server writes it: base, 32 bitmap words, u16 height. */
function seqsetNode(base: bigint, bits: Map<number, bigint>, height = 1): number[] {
  const out = [...u64(base)];
  for (let i = 0; i < 32; i++) out.push(...u64(bits.get(i) ?? 0n));
  out.push(height & 0xff, height >> 8);
  return out;
}

test('stream snapshot: v1 with a run-length block, byte layout', () => {
  const s: StreamSnapshotState = { msgs: 7, bytes: 300, firstSeq: 1, lastSeq: 10, failed: 2, deleted: [{ kind: 'range', first: 4, num: 3 }] };
  const b = encodeStreamSnapshot(s);
  assert.deepEqual([...b], [42, 1, 7, ...uv(300), 1, 10, 2, 3, 33, 4, 3]);
  assert.deepEqual(decodeStreamSnapshot(b), s);
  // The store's codec writes the same layout and reads ours.
  const store = encodeStreamState({ msgs: 7, bytes: 300, firstSeq: 1, lastSeq: 10, failed: 2, deleted: [[4, 3]] });
  assert.deepEqual(store, b);
  assert.deepEqual(decodeStreamState(b).deleted, [[4, 3]]);
});

test('stream snapshot: no deletes, big numbers', () => {
  const s: StreamSnapshotState = { msgs: 2 ** 40, bytes: 2 ** 52, firstSeq: 5, lastSeq: 2 ** 40 + 4, failed: 0, deleted: [] };
  const b = encodeStreamSnapshot(s);
  assert.deepEqual(decodeStreamSnapshot(b), s);
  assert.equal(b[b.length - 1], 0, 'numDeleted 0 ends the encoding');
});

test('stream snapshot: decodes an AVL sequence-set block built from nats-server\'s layout', () => {
  // Deleted 3, 5 and 2050 (second node, base 2048), plus a run 100..104.
  const node1 = seqsetNode(0n, new Map([[0, (1n << 3n) | (1n << 5n)]]), 2);
  const node2 = seqsetNode(2048n, new Map([[0, 1n << 2n]]));
  const bytes = Buffer.from([
    42, 1, ...uv(2000), ...uv(99999), 1, ...uv(2100), 0, ...uv(8),
    22, 2, ...u32(2), ...u32(3), ...node1, ...node2,
    33, 100, 5,
  ]);
  const s = decodeStreamSnapshot(bytes);
  assert.equal(s.msgs, 2000);
  assert.equal(s.lastSeq, 2100);
  assert.deepEqual(s.deleted, [{ kind: 'set', seqs: [3, 5, 2050] }, { kind: 'range', first: 100, num: 5 }]);
  assert.equal(numDeleted(s.deleted), 8);
  assert.deepEqual([...deletedSequences(s.deleted)], [3, 5, 2050, 100, 101, 102, 103, 104]);
  // Our encoder writes the same node layout (aligned bases, height 1); the bytes differ only in
  // the height field of node 1, which Go recomputes when it re-inserts the nodes.
  const again = encodeStreamSnapshot(s);
  assert.deepEqual(decodeStreamSnapshot(again), s);
  const expect = Buffer.from(bytes);
  const heightAt = 2 + uv(2000).length + uv(99999).length + 1 + uv(2100).length + 1 + 1 + 10 + 8 + 32 * 8;
  expect[heightAt] = 1;
  assert.deepEqual(again, expect);
});

test('stream snapshot: a v1 AVL set (64 buckets per node) is read too', () => {
  const words = [...u64(0n)];
  for (let i = 0; i < 64; i++) words.push(...u64(i === 40 ? 1n : 0n)); // seq 40*64 = 2560
  words.push(1, 0);
  const b = Buffer.from([42, 1, 1, 1, 1, ...uv(3000), 0, 1, 22, 1, ...u32(1), ...u32(1), ...words]);
  assert.deepEqual(decodeStreamSnapshot(b).deleted, [{ kind: 'set', seqs: [2560] }]);
});

test('stream snapshot: version 2 carries sources before the delete blocks', () => {
  const s: StreamSnapshotState = {
    msgs: 3, bytes: 30, firstSeq: 1, lastSeq: 4, failed: 1, deleted: [{ kind: 'range', first: 2, num: 1 }],
    sources: new Map([['ORDERS', { seq: 17, ident: 'ORDERS:abc' }], ['X', { seq: 0, ident: '' }]]),
  };
  const b = encodeStreamSnapshot(s);
  assert.equal(b[1], 2);
  assert.deepEqual([...b.subarray(2, 8)], [3, 30, 1, 4, 1, 2]);
  assert.deepEqual(b.subarray(8, 15).toString('latin1'), '\x06ORDERS');
  assert.deepEqual(decodeStreamSnapshot(b), s);
});

test('stream snapshot: 2.9.10 JSON form, decode and encode', () => {
  const text = '{"messages":3,"bytes":120,"first_seq":2,"last_seq":6,"clfs":1,"deleted":[3,5]}';
  const s = decodeStreamSnapshot(Buffer.from(text));
  assert.deepEqual(s, { msgs: 3, bytes: 120, firstSeq: 2, lastSeq: 6, failed: 1, deleted: [{ kind: 'set', seqs: [3, 5] }] });
  assert.equal(encodeStreamSnapshotJson(s).toString(), text);
  const none = '{"messages":0,"bytes":0,"first_seq":0,"last_seq":0,"clfs":0}';
  assert.equal(encodeStreamSnapshotJson(decodeStreamSnapshot(Buffer.from(none))).toString(), none);
  // Binary and JSON describe the same state.
  assert.deepEqual(decodeStreamSnapshot(encodeStreamSnapshot(s)), s);
});

test('stream snapshot: deleteBlocksFrom keeps long runs as ranges', () => {
  const seqs = [1, 2, 7, ...Array.from({ length: 40 }, (_, i) => 100 + i), 200];
  const blocks = deleteBlocksFrom(seqs);
  assert.deepEqual(blocks, [{ kind: 'set', seqs: [1, 2, 7] }, { kind: 'range', first: 100, num: 40 }, { kind: 'set', seqs: [200] }]);
  assert.deepEqual([...deletedSequences(blocks)], seqs);
  const s: StreamSnapshotState = { msgs: 1, bytes: 1, firstSeq: 1, lastSeq: 300, failed: 0, deleted: blocks };
  assert.deepEqual(decodeStreamSnapshot(encodeStreamSnapshot(s)), s);
});

test('stream snapshot: malformed input throws StreamSnapshotError', () => {
  const good = encodeStreamSnapshot({ msgs: 7, bytes: 300, firstSeq: 1, lastSeq: 10, failed: 2, deleted: [{ kind: 'set', seqs: [4, 6, 9] }] });
  for (let n = 0; n < good.length; n++) {
    assert.throws(() => decodeStreamSnapshot(good.subarray(0, n)), StreamSnapshotError, `cut at ${n}`);
  }
  const cases: Array<[string, Buffer]> = [
    ['unknown version', Buffer.from([42, 3, 0, 0, 0, 0, 0, 0])],
    ['unknown block magic', Buffer.from([42, 1, 1, 1, 1, 3, 0, 1, 99])],
    ['set node count beyond buffer', Buffer.from([42, 1, 1, 1, 1, 3, 0, 1, 22, 2, ...u32(1000), ...u32(1)])],
    ['set size mismatch', Buffer.from([42, 1, 1, 1, 1, 3, 0, 1, 22, 2, ...u32(1), ...u32(5), ...seqsetNode(0n, new Map([[0, 1n]]))])],
    ['set version', Buffer.from([42, 1, 1, 1, 1, 3, 0, 1, 22, 9, ...u32(0), ...u32(0)])],
    ['trailing bytes without deletes', Buffer.from([42, 1, 1, 1, 1, 1, 0, 0, 7])],
    ['varint too long', Buffer.from([42, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['json not object', Buffer.from('[1,2]')],
    ['json garbage', Buffer.from('{"messages":')],
    ['json negative', Buffer.from('{"messages":-1}')],
    ['json deleted not array', Buffer.from('{"deleted":5}')],
    ['json deleted junk', Buffer.from('{"deleted":["x"]}')],
    ['empty', Buffer.alloc(0)],
  ];
  for (const [what, b] of cases) assert.throws(() => decodeStreamSnapshot(b), StreamSnapshotError, what);
  assert.throws(() => encodeStreamSnapshot({ msgs: -1, bytes: 0, firstSeq: 0, lastSeq: 0, failed: 0, deleted: [] }), StreamSnapshotError);
  assert.throws(() => encodeStreamSnapshot({ msgs: 0, bytes: 0, firstSeq: 0, lastSeq: 0, failed: 0, deleted: [{ kind: 'set', seqs: [3, 2] }] }), StreamSnapshotError);
});

test('stream snapshot: random state round trips and random mutations only throw StreamSnapshotError', () => {
  let seed = 99;
  const r = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < 300; i++) {
    const seqs = [...new Set(Array.from({ length: Math.floor(r() * 200) }, () => 1 + Math.floor(r() * 10000)))].sort((a, b) => a - b);
    const s: StreamSnapshotState = {
      msgs: Math.floor(r() * 10000), bytes: Math.floor(r() * 1e9), firstSeq: 1, lastSeq: 10000, failed: Math.floor(r() * 5),
      deleted: deleteBlocksFrom(seqs, 1 + Math.floor(r() * 8)),
    };
    const b = encodeStreamSnapshot(s);
    const d = decodeStreamSnapshot(b);
    assert.deepEqual([...deletedSequences(d.deleted)], seqs);
    assert.equal(d.msgs, s.msgs);
    const m = Buffer.from(b);
    for (let k = 0; k < 3; k++) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
    try {
      decodeStreamSnapshot(m);
    } catch (err) {
      assert.ok(err instanceof StreamSnapshotError, `${(err as Error).name}: ${(err as Error).message}`);
    }
  }
});

test('installing a snapshot: purge below its first seq, delete what it deleted, adopt clfs, fetch the rest', () => {
  const snap: StreamSnapshotState = {
    msgs: 10, bytes: 100, firstSeq: 5, lastSeq: 20, failed: 3,
    deleted: [{ kind: 'set', seqs: [6, 9, 18] }, { kind: 'range', first: 12, num: 2 }],
  };
  const held = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const plan = planSnapshotApply({ firstSeq: 1, lastSeq: 12 }, snap, (s) => held.has(s));
  assert.deepEqual(plan, { compactTo: 5, deletes: [6, 9, 12], clfs: 3, catchup: { firstSeq: 13, lastSeq: 20 } });
  // Already ahead or equal: nothing to fetch; deletes only of what we hold.
  const eq = planSnapshotApply({ firstSeq: 5, lastSeq: 20 }, snap, (s) => s !== 9);
  assert.deepEqual(eq, { deletes: [6, 12, 13, 18], clfs: 3 });
  // A snapshot whose first sequence is beyond everything we have (purged stream).
  const far = planSnapshotApply({ firstSeq: 1, lastSeq: 3 }, { ...snap, firstSeq: 50, lastSeq: 60, deleted: [] }, () => true);
  assert.deepEqual(far, { compactTo: 50, deletes: [], clfs: 3, catchup: { firstSeq: 50, lastSeq: 60 } });
});

// A raft snapshot file written by nats-server 2.9.10 for an R3 stream (3-node cluster on
// 127.0.0.1: 20 publishes with 15 distinct Nats-Msg-Ids -> 5 duplicates, deletes of 3, 7, 8, 9,
// then 66 000 publishes; identical on all three replicas). Framing: u64 term, u64 index,
// u32 peer-state length, peer state, data, 8-byte hash.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterFixturesDir } from '../fixtures/cluster/locate.js';

test('stream snapshot: the 2.9.10 raft snapshot file (JSON) decodes and re-encodes byte for byte', () => {
  const b = readFileSync(join(clusterFixturesDir(), 'stream-raft-snapshot-2.9.10.snap.1.454'));
  assert.equal(b.readBigUInt64LE(8), 454n);
  const psLen = b.readUInt32LE(16);
  const data = b.subarray(20 + psLen, b.length - 8);
  const s = decodeStreamSnapshot(data);
  assert.deepEqual(s, { msgs: 66011, bytes: 2442814, firstSeq: 1, lastSeq: 66015, failed: 5, deleted: [{ kind: 'set', seqs: [3, 7, 8, 9] }] });
  assert.deepEqual(encodeStreamSnapshotJson(s), data);
  // msgs + deleted covers first..last, and the binary form carries the same state.
  assert.equal(s.msgs + numDeleted(s.deleted), s.lastSeq - s.firstSeq + 1);
  assert.deepEqual(decodeStreamSnapshot(encodeStreamSnapshot(s)), s);
  // A replica that stopped at 100 with everything still held: delete 3,7,8,9, fetch the rest.
  assert.deepEqual(planSnapshotApply({ firstSeq: 1, lastSeq: 100 }, s, () => true),
    { deletes: [3, 7, 8, 9], clfs: 5, catchup: { firstSeq: 101, lastSeq: 66015 } });
});
