// The committed set of pull requests waiting on a replicated consumer's leader, and num_waiting
// counted from it (src/jetstream/cluster/pending-requests.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WaitQueue, WaitingRequest } from '../../src/jetstream/consumer/wait-queue.js';
import { PendingRequests, knownWaiting } from '../../src/jetstream/cluster/pending-requests.js';

const io = { publish: () => {}, hasInterest: () => true, heartbeat: () => {} };
const req = (reply: string): WaitingRequest => new WaitingRequest(reply, 1, 0, 0, false, 0, 0);

test('pending requests: a count per reply; a remove without its add is ignored', () => {
  const p = new PendingRequests();
  p.remove('a');
  assert.deepEqual(p.replies(), []);
  p.add('a');
  p.add('a');
  p.add('b');
  assert.equal(p.count('a'), 2);
  p.remove('a');
  assert.equal(p.count('a'), 1);
  p.remove('a');
  p.remove('a');
  assert.equal(p.count('a'), 0);
  assert.deepEqual(p.replies(), ['b']);
});

test('pending requests: a new leader takes them all; put back when its consumer did not start', () => {
  const p = new PendingRequests();
  p.add('a');
  p.add('a');
  const taken = p.takeAll();
  assert.deepEqual([...taken], [['a', 2]]);
  assert.deepEqual(p.replies(), []);
  p.add('b');
  p.restore(taken);
  assert.equal(p.count('a'), 2);
  assert.equal(p.count('b'), 1);
});

test('num_waiting of a replicated consumer counts the requests the group committed, each reply at most as often as waiting', () => {
  const wq = new WaitQueue(10, io);
  const known = new PendingRequests();
  wq.observer = { added: () => {}, removed: () => {}, reported: (q) => knownWaiting(q, known) };
  wq.add(req('a'));
  wq.add(req('a'));
  wq.add(req('b'));
  assert.equal(wq.n, 3);
  assert.equal(wq.reported(), 0, 'nothing committed yet');
  known.add('a');
  assert.equal(wq.reported(), 1);
  known.add('a');
  known.add('b');
  assert.equal(wq.reported(), 3);
  // A committed add whose request already left the queue (its remove not committed yet) is not waiting.
  known.add('c');
  assert.equal(wq.reported(), 3);
  wq.observer = undefined;
  assert.equal(wq.reported(), 3, 'without an observer: every request');
});
