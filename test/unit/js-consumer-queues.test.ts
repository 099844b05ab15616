// The consumer's small state machines: pull request queue (round robin,
// expiry/no_wait/max_bytes statuses, heartbeats), redelivery queue, flow control window.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WaitQueue, WaitingRequest, type WaitQueueIo } from '../../src/jetstream/consumer/wait-queue.js';
import { RedeliveryQueue } from '../../src/jetstream/consumer/redelivery-queue.js';
import { FlowControl } from '../../src/jetstream/consumer/flow-control.js';

function io(interest: Set<string> = new Set(['r1', 'r2', 'r3'])): WaitQueueIo & { sent: string[]; hbs: string[] } {
  const sent: string[] = [];
  const hbs: string[] = [];
  return {
    sent, hbs,
    publish: (subject, hdr) => { sent.push(`${subject} ${hdr.toString('latin1').split('\r\n')[0]}`); },
    hasInterest: (s) => interest.has(s),
    heartbeat: (r) => { hbs.push(r); },
  };
}

test('wait queue hands out messages round robin and drops finished requests', () => {
  const q = new WaitQueue(10, io());
  q.add(new WaitingRequest('r1', 2, 0, 0, false, 0, 0));
  q.add(new WaitingRequest('r2', 1, 0, 0, false, 0, 0));
  q.add(new WaitingRequest('r3', 2, 0, 0, false, 0, 0));
  const order: string[] = [];
  for (let wr = q.nextWaiting(10, 0); wr !== null; wr = q.nextWaiting(10, 0)) order.push(wr.reply);
  assert.deepEqual(order, ['r1', 'r2', 'r3', 'r1', 'r3']);
  assert.equal(q.n, 0);
});

test('wait queue: max_waiting, expiry 408 with pending, no_wait 404 at end of stream, lost interest', () => {
  const x = io(new Set(['r1', 'r2']));
  const q = new WaitQueue(2, x);
  assert.ok(q.add(new WaitingRequest('r1', 5, 0, 1000, false, 0, 0)));
  assert.ok(q.add(new WaitingRequest('r2', 3, 0, 0, true, 0, 0)));
  assert.equal(q.add(new WaitingRequest('r3', 1, 0, 0, false, 0, 0)), false, 'full');
  // Nothing due yet: next timer is r1's expiry.
  assert.equal(q.processWaiting(false, 500), 1000);
  // End of stream: the no_wait request without expiry ends with 404.
  assert.equal(q.processWaiting(true, 600), 1000);
  assert.deepEqual(x.sent, ['r2 NATS/1.0 404 No Messages']);
  q.processWaiting(false, 1000);
  assert.deepEqual(x.sent.slice(1), ['r1 NATS/1.0 408 Request Timeout']);
  assert.equal(q.n, 0);
  // A request whose requester is gone is dropped silently.
  q.add(new WaitingRequest('gone', 1, 0, 0, false, 0, 0));
  assert.equal(q.nextWaiting(1, 0), null);
  assert.equal(q.n, 0);
});

test('wait queue: max_bytes budget, 409 for a message that does not fit, heartbeats', () => {
  const x = io();
  const q = new WaitQueue(5, x);
  q.add(new WaitingRequest('r1', 10, 100, 0, false, 0, 0));
  assert.equal(q.nextWaiting(60, 0)?.reply, 'r1');
  assert.equal(q.nextWaiting(60, 0), null, '60 > 40 left');
  assert.deepEqual(x.sent, ['r1 NATS/1.0 409 Message Size Exceeds MaxBytes']);
  q.add(new WaitingRequest('r2', 1, 0, 5000, false, 100, 0));
  assert.equal(q.processWaiting(false, 50), 100, 'first heartbeat due at 100');
  assert.equal(q.processWaiting(false, 100), 200);
  assert.deepEqual(x.hbs, ['r2']);
});

test('redelivery queue keeps order, ignores duplicates, removes lazily, puts back at the front', () => {
  const q = new RedeliveryQueue();
  for (const s of [5, 3, 9, 3]) q.add(s);
  assert.equal(q.size, 3);
  q.remove(3);
  q.addFront(1);
  assert.deepEqual(q.toArray(), [1, 5, 9]);
  assert.equal(q.pop(), 1);
  assert.equal(q.pop(), 5);
  q.add(3);
  assert.equal(q.pop(), 9);
  assert.equal(q.pop(), 3);
  assert.equal(q.pop(), 0);
  assert.equal(q.size, 0);
});

test('flow control: request past half the window, stall past the window, slow-start growth on answers', () => {
  const fc = new FlowControl(1600); // window starts at 100
  assert.equal(fc.delivered(40), false);
  assert.equal(fc.delivered(20), true, 'over half');
  fc.requested('$JS.FC.S.C.aaaa');
  assert.equal(fc.outstanding, '$JS.FC.S.C.aaaa');
  assert.equal(fc.delivered(50), false);
  assert.equal(fc.stalled, true, '110 > 100');
  assert.equal(fc.answered('$JS.FC.S.C.other'), false, 'stale answer ignored');
  assert.equal(fc.answered('$JS.FC.S.C.aaaa'), true);
  assert.equal(fc.stalled, false);
  assert.equal(fc.outstanding, '');
  // Window doubled to 200: 150 more bytes do not stall.
  assert.equal(fc.delivered(100), true);
  fc.requested('$JS.FC.S.C.bbbb');
  assert.equal(fc.stalled, false);
});
