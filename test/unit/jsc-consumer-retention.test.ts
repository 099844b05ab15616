// Pure pieces of replicated consumers: nats-server needAck from a follower's stored state
// (interest retention on replicas), the retention config read from an assignment, and the
// wait queue observer a consumer leader uses to mirror waiting pull requests (ops 12/13).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retentionConfig, stateNeedsAck } from '../../src/jetstream/cluster/consumer-retention.js';
import { emptyConsumerState } from '../../src/jetstream/store/consumer-state-codec.js';
import { WaitQueue, WaitingRequest } from '../../src/jetstream/consumer/wait-queue.js';

test('stateNeedsAck: explicit keeps pending and undelivered, all/none keep everything above the floor', () => {
  const st = emptyConsumerState();
  st.ackFloor = { consumerSeq: 3, streamSeq: 5 };
  st.delivered = { consumerSeq: 6, streamSeq: 9 };
  st.pending.set(7, { seq: 5, tsMs: 0 });
  st.pending.set(9, { seq: 6, tsMs: 0 });
  const explicit = [4, 5, 6, 7, 8, 9, 10, 11].map((s) => stateNeedsAck(st, 'explicit', s));
  // 6 and 8 were acknowledged above the floor; 10, 11 not delivered yet.
  assert.deepEqual(explicit, [false, false, false, true, false, true, true, true]);
  assert.deepEqual([5, 6, 8, 12].map((s) => stateNeedsAck(st, 'all', s)), [false, true, true, true]);
  assert.deepEqual([5, 6].map((s) => stateNeedsAck(st, 'none', s)), [false, true]);
});

test('retentionConfig reads ack policy and filters from an assignment config, bad fields default safely', () => {
  const a = retentionConfig({ ack_policy: 'all', filter_subject: 'a.*', filter_subjects: ['b.>', 7] });
  assert.equal(a.ackPolicy, 'all');
  assert.equal(a.filters.matches('a.x'), true);
  assert.equal(a.filters.matches('b.x.y'), true);
  assert.equal(a.filters.matches('c'), false);
  const b = retentionConfig({ ack_policy: 42, filter_subject: null });
  assert.equal(b.ackPolicy, 'none');
  assert.equal(b.filters.matches('anything'), true);
});

test('wait queue observer: added once, removed once per request; round-robin requeue is not a removal', () => {
  const events: string[] = [];
  const q = new WaitQueue(10, { publish: () => {}, hasInterest: () => true, heartbeat: () => {} });
  q.observer = { added: (r) => events.push(`+${r}`), removed: (r) => events.push(`-${r}`) };
  q.add(new WaitingRequest('r1', 2, 0, 0, false, 0, 0));
  q.add(new WaitingRequest('r2', 1, 0, 0, false, 0, 0));
  q.add(new WaitingRequest('r3', 5, 0, 1000, false, 0, 0));
  assert.equal(q.nextWaiting(10, 0)?.reply, 'r1'); // r1 wants one more: to the back
  assert.equal(q.nextWaiting(10, 0)?.reply, 'r2'); // r2 done
  assert.equal(q.nextWaiting(10, 0)?.reply, 'r3');
  assert.equal(q.nextWaiting(10, 0)?.reply, 'r1'); // r1 done
  assert.deepEqual(events, ['+r1', '+r2', '+r3', '-r2', '-r1']);
  q.processWaiting(false, 2000); // r3 expires (408)
  assert.deepEqual(events.slice(5), ['-r3']);
  q.add(new WaitingRequest('r4', 1, 0, 0, false, 0, 0));
  q.clear();
  assert.deepEqual(events.slice(6), ['+r4', '-r4']);
  assert.equal(q.n, 0);
});
