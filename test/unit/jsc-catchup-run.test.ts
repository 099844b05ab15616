// A whole catch-up run without I/O: the leader's sender walks a store with deleted messages
// and runs of deletes under a small flow-control window, the follower applies what it gets,
// and ends with exactly the leader's messages (same sequences, timestamps, payloads) and gaps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CatchupError, CatchupWindow, parseCatchupAckSize } from '../../src/jetstream/cluster/catchup.js';
import {
  CatchupSender, applyCatchupEntry, catchupComplete, isCatchupEof, type CatchupSink, type CatchupSource,
  type CatchupSourceMsg,
} from '../../src/jetstream/cluster/catchup-run.js';
import { encodeDeleteRange, encodeSkipEntry, encodeStreamMsg } from '../../src/jetstream/cluster/stream-entry.js';
import { EntryOp } from '../../src/jetstream/cluster/ops.js';

class Source implements CatchupSource {
  msgs = new Map<number, CatchupSourceMsg>();
  last = 0;
  loadMsg(seq: number) {
    return this.msgs.get(seq);
  }
  lastSeq() {
    return this.last;
  }
}

class Sink implements CatchupSink {
  msgs = new Map<number, CatchupSourceMsg>();
  last = 0;
  writes = 0;
  lastSeq() {
    return this.last;
  }
  storeRaw(subject: string, hdr: Buffer | null, msg: Buffer | null, seq: number, ts: bigint) {
    assert.equal(seq, this.last + 1);
    this.msgs.set(seq, { subject, hdr, msg, ts });
    this.last = seq;
    this.writes++;
  }
  skipMsg(seq: number) {
    assert.equal(seq, this.last + 1);
    this.last = seq;
    this.writes++;
  }
  skipMsgs(first: number, num: number) {
    assert.equal(first, this.last + 1);
    this.last = first + num - 1;
    this.writes++;
  }
}

function source(deleted: (s: number) => boolean, n = 100): Source {
  const src = new Source();
  for (let s = 1; s <= n; s++) {
    if (!deleted(s)) src.msgs.set(s, { subject: `s.${s % 3}`, hdr: s % 7 === 0 ? Buffer.from('NATS/1.0\r\nA: b\r\n\r\n') : null, msg: Buffer.from(`m${s}`), ts: 1_795_738_563_000_000_000n + BigInt(s) });
  }
  src.last = n;
  return src;
}

const gaps = (s: number) => s === 5 || (s >= 10 && s <= 30) || s === 50 || s === 100;

function run(src: Source, sink: Sink, deleteRanges: boolean, window: CatchupWindow, first = sink.last + 1, last = src.last) {
  const sender = new CatchupSender({ peer: 'p', first_seq: first, last_seq: last, delete_ranges: deleteRanges, min_applied: 0 }, src, window);
  const kinds: string[] = [];
  let rounds = 0;
  while (!sender.done) {
    const batch = sender.next();
    rounds++;
    assert.ok(rounds < 10_000);
    const acks: number[] = [];
    for (const o of batch) {
      kinds.push(o.kind);
      if (o.kind === 'eof') {
        assert.ok(isCatchupEof(o.payload));
        continue;
      }
      applyCatchupEntry(sink, o.payload);
      if (o.kind === 'msg') acks.push(parseCatchupAckSize(`$JSC.ACK.abcdefgh.${o.payload.length}`));
    }
    if (batch.length === 0) assert.equal(window.canSend(), false, 'an empty batch only when the window is full');
    for (const a of acks) window.acked(a);
  }
  return { kinds, rounds };
}

test('catch-up run with delete ranges: follower ends identical to the leader', () => {
  const src = source(gaps);
  const sink = new Sink();
  const w = new CatchupWindow(1 << 20, 10);
  const { kinds, rounds } = run(src, sink, true, w);
  assert.equal(sink.last, 100);
  assert.deepEqual([...sink.msgs.keys()], [...src.msgs.keys()]);
  for (const [s, m] of src.msgs) assert.deepEqual(sink.msgs.get(s), m);
  // 10..30 went as one op-15 range, 5 and 50 and 100 as skip entries, then EOF.
  assert.equal(kinds.filter((k) => k === 'range').length, 1);
  assert.equal(kinds.filter((k) => k === 'msg').length, src.msgs.size + 3);
  assert.equal(kinds[kinds.length - 1], 'eof');
  assert.ok(rounds >= Math.ceil((src.msgs.size + 3) / 11), `the window of 10 messages forced several rounds (${rounds})`);
  assert.deepEqual([w.outBytes, w.outMsgs], [0, 0]);
  assert.ok(catchupComplete(sink.last, { first_seq: 1, last_seq: 100, delete_ranges: true, min_applied: 0 }));
});

test('catch-up run without delete ranges (2.9.10 follower): every gap is a skip entry', () => {
  const src = source(gaps);
  const sink = new Sink();
  const { kinds } = run(src, sink, false, new CatchupWindow(300, 1000));
  assert.equal(kinds.filter((k) => k === 'range').length, 0);
  assert.equal(kinds.filter((k) => k === 'msg').length, 100);
  assert.equal(sink.last, 100);
  assert.equal(sink.writes, 100);
});

test('catch-up run from the middle, and a request beyond the leader\'s last sequence', () => {
  const src = source(() => false, 40);
  const sink = new Sink();
  for (let s = 1; s <= 20; s++) sink.storeRaw(src.msgs.get(s)!.subject, null, src.msgs.get(s)!.msg, s, src.msgs.get(s)!.ts);
  run(src, sink, true, new CatchupWindow(), 21, 60);
  assert.equal(sink.last, 40, 'sent what the leader has, then EOF');
  assert.equal(catchupComplete(sink.last, { first_seq: 21, last_seq: 60, delete_ranges: true, min_applied: 0 }), false);
});

test('catch-up: the sender stops at a full window and resumes after acks', () => {
  const src = source(() => false, 10);
  const w = new CatchupWindow(10_000, 2);
  const sender = new CatchupSender({ first_seq: 1, last_seq: 10, delete_ranges: true, min_applied: 0 }, src, w);
  const first = sender.next();
  assert.equal(first.length, 3, 'checked before each send: 0, 1, 2 outstanding are all <= 2');
  assert.deepEqual(sender.next(), []);
  for (const o of first) w.acked(o.payload.length);
  assert.equal(sender.next().length, 3);
  assert.equal(sender.done, false);
});

test('catch-up follower: resends are ignored, gaps and bad entries are errors', () => {
  const sink = new Sink();
  const m = (seq: number) => encodeStreamMsg({ lseq: seq, ts: 1n, subject: 'x', reply: '', hdr: null, msg: Buffer.from('y') });
  assert.deepEqual(applyCatchupEntry(sink, m(1)), { kind: 'stored', lastSeq: 1 });
  assert.deepEqual(applyCatchupEntry(sink, m(1)), { kind: 'have', lastSeq: 1 });
  assert.throws(() => applyCatchupEntry(sink, m(3)), CatchupError);
  assert.deepEqual(applyCatchupEntry(sink, encodeSkipEntry(2)), { kind: 'skip', lastSeq: 2 });
  // A range overlapping what we have only writes the new part.
  assert.deepEqual(applyCatchupEntry(sink, encodeDeleteRange({ first: 2, num: 4 })), { kind: 'range', lastSeq: 5 });
  assert.equal(sink.last, 5);
  assert.deepEqual(applyCatchupEntry(sink, encodeDeleteRange({ first: 1, num: 3 })), { kind: 'have', lastSeq: 5 });
  assert.throws(() => applyCatchupEntry(sink, encodeDeleteRange({ first: 9, num: 2 })), CatchupError);
  assert.throws(() => applyCatchupEntry(sink, encodeDeleteRange({ first: 6, num: 0 })), CatchupError);
  assert.throws(() => applyCatchupEntry(sink, Buffer.alloc(0)), CatchupError);
  assert.throws(() => applyCatchupEntry(sink, Buffer.from([EntryOp.purgeStreamOp, 0x7b, 0x7d])), CatchupError);
  assert.throws(() => applyCatchupEntry(sink, m(6).subarray(0, 20)), CatchupError);
  assert.throws(() => applyCatchupEntry(sink, Buffer.from([EntryOp.deleteRangeOp, 0x7b])), CatchupError);
  assert.equal(sink.last, 5, 'nothing written by the failures');
});
