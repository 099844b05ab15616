// Catch-up protocol pieces: the $JSC sync request JSON (newest and 2.9.10 forms), subjects,
// the $JSC.ACK.<rand>.<size> flow-control subject, and the window (64 MiB / 256 Ki messages,
// checked before each send as nats-server does, plus the server-wide byte budget).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CATCHUP_MAX_OUT_BYTES, CATCHUP_MAX_OUT_MSGS, CatchupBudget, CatchupError, CatchupWindow, catchupAckWildcard,
  decodeSyncRequest, encodeSyncRequest, formatCatchupAck, parseCatchupAckSize, syncReplySubject, syncRequestFor,
  syncSubject,
} from '../../src/jetstream/cluster/catchup.js';

test('sync request: field names and order as nats-server streamSyncRequest', () => {
  const b = encodeSyncRequest({ peer: 'fjFyEjc1', first_seq: 11, last_seq: 40, delete_ranges: true, min_applied: 77 });
  assert.equal(b.toString(), '{"peer":"fjFyEjc1","first_seq":11,"last_seq":40,"delete_ranges":true,"min_applied":77}');
  assert.deepEqual(decodeSyncRequest(b), { peer: 'fjFyEjc1', first_seq: 11, last_seq: 40, delete_ranges: true, min_applied: 77 });
  // peer is omitempty.
  assert.equal(encodeSyncRequest({ first_seq: 1, last_seq: 1, delete_ranges: false, min_applied: 0 }).toString(),
    '{"first_seq":1,"last_seq":1,"delete_ranges":false,"min_applied":0}');
});

test('sync request: a 2.9.10 request (no delete_ranges / min_applied) decodes with defaults', () => {
  assert.deepEqual(decodeSyncRequest('{"peer":"44jzkV9D","first_seq":3,"last_seq":9}'),
    { peer: '44jzkV9D', first_seq: 3, last_seq: 9, delete_ranges: false, min_applied: 0 });
});

test('sync request: bad input throws CatchupError', () => {
  for (const t of ['', '{', '[]', 'null', '{"first_seq":-1}', '{"first_seq":"1"}', '{"first_seq":1.5}',
    '{"peer":5}', '{"delete_ranges":"yes"}', '{"first_seq":9,"last_seq":3}']) {
    assert.throws(() => decodeSyncRequest(t), CatchupError, t);
  }
  assert.throws(() => encodeSyncRequest({ first_seq: -1, last_seq: 0, delete_ranges: true, min_applied: 0 }), CatchupError);
});

test('sync request: computed from own state and the snapshot (calculateSyncRequest)', () => {
  assert.equal(syncRequestFor(50, 50, 'p', 9), undefined);
  assert.equal(syncRequestFor(60, 50, 'p', 9), undefined);
  assert.deepEqual(syncRequestFor(10, 50, 'p', 9), { peer: 'p', first_seq: 11, last_seq: 50, delete_ranges: true, min_applied: 9 });
});

test('catch-up subjects: 8 base-62 characters; ack wildcard and per-message ack subject', () => {
  assert.match(syncSubject(), /^\$JSC\.SYNC\.[0-9A-Za-z]{8}$/);
  assert.match(syncReplySubject(), /^\$JSC\.R\.[0-9A-Za-z]{8}$/);
  let i = 0;
  const fixed = () => [0, 0.99, 0.5, 0.2, 0.3, 0.4, 0.6, 0.7][i++ % 8]!;
  const w = catchupAckWildcard(fixed);
  assert.equal(w, '$JSC.ACK.0zVCIObh.*');
  const ack = formatCatchupAck(w, 1234);
  assert.equal(ack, '$JSC.ACK.0zVCIObh.1234');
  assert.equal(parseCatchupAckSize(ack), 1234);
  assert.equal(parseCatchupAckSize('$JSC.ACK.0zVCIObh.0'), 0);
  assert.equal(parseCatchupAckSize('$JSC.ACK.0zVCIObh.12a'), -1);
  assert.equal(parseCatchupAckSize('$JSC.ACK.0zVCIObh.'), -1);
  assert.equal(parseCatchupAckSize('$JSC.ACK.0zVCIObh.-5'), -1);
  assert.equal(parseCatchupAckSize('nodots'), 0);
  assert.throws(() => formatCatchupAck('$JSC.ACK.x', 1), CatchupError);
  assert.throws(() => formatCatchupAck(w, -1), CatchupError);
});

test('catch-up window: bytes limit, checked before sending (one message may overshoot)', () => {
  const w = new CatchupWindow(1000, 100);
  assert.ok(w.canSend());
  w.sent(600);
  assert.ok(w.canSend());
  w.sent(600); // 1200 outstanding: over the limit after this send
  assert.equal(w.canSend(), false);
  w.acked(600);
  assert.ok(w.canSend());
  assert.equal(w.outMsgs, 1);
  // A single message larger than the window still goes out when nothing is outstanding.
  w.acked(600);
  assert.deepEqual([w.outBytes, w.outMsgs], [0, 0]);
  w.sent(5000);
  assert.equal(w.canSend(), false);
  w.acked(5000);
  assert.ok(w.canSend());
});

test('catch-up window: message count limit (256 Ki by default) and bad ack sizes', () => {
  const w = new CatchupWindow();
  assert.equal(w.maxBytes, CATCHUP_MAX_OUT_BYTES);
  assert.equal(w.maxMsgs, CATCHUP_MAX_OUT_MSGS);
  for (let i = 0; i <= CATCHUP_MAX_OUT_MSGS; i++) {
    assert.ok(w.canSend(), `message ${i}`);
    w.sent(27);
  }
  assert.equal(w.canSend(), false);
  w.acked(parseCatchupAckSize('$JSC.ACK.x.27'));
  assert.ok(w.canSend());
  // An ack with an unparsable size releases the message but no bytes; never goes negative.
  const v = new CatchupWindow(100, 10);
  v.sent(50);
  v.acked(-1);
  assert.deepEqual([v.outBytes, v.outMsgs], [50, 0]);
  v.acked(1000);
  assert.deepEqual([v.outBytes, v.outMsgs], [0, 0]);
});

test('catch-up window: the server-wide budget is shared and released on close', () => {
  const budget = new CatchupBudget(1000);
  const a = new CatchupWindow(10_000, 100, budget);
  const b = new CatchupWindow(10_000, 100, budget);
  a.sent(700);
  b.sent(400);
  assert.equal(budget.outBytes, 1100);
  assert.equal(a.canSend(), false, 'over the server-wide cap');
  assert.equal(b.canSend(), false);
  b.acked(400);
  assert.ok(a.canSend());
  b.sent(900);
  a.close();
  assert.equal(budget.outBytes, 900);
  b.close();
  assert.equal(budget.outBytes, 0);
  assert.deepEqual([b.outBytes, b.outMsgs], [0, 0]);
});
