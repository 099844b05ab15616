// The consumer leader's own copy of an R3 consumer's state (consumer-group.ts
// ReplicatingConsumerStore): its deliveries and acks are proposed, and its local store copies the
// running Consumer's state only when read and at least once a second. That copy must be what the
// followers build from the committed ops, also where the Consumer runs ahead of what it delivered
// (a filtered consumer passes non-matching messages; its floor then moves past its last delivery),
// and after redeliveries; and a leader that steps down must leave it for the next leader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type { ConsumerState } from '../../src/jetstream/store/types.js';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, requestAll, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';

const cg = (n: JsNode, s: string, c: string) => metaOf(n).streamGroups.get('$G', s)?.consumers.get(c);

/** The state as plain data, for comparing replicas. */
function plain(st: ConsumerState): unknown {
  return {
    delivered: st.delivered, ackFloor: st.ackFloor,
    pending: [...st.pending.keys()].sort((a, b) => a - b).map((k) => [k, st.pending.get(k)!.seq]),
    redelivered: [...st.redelivered].sort((a, b) => a[0] - b[0]),
  };
}

/** Every replica, the leader included, holds `want` (waits for the followers to apply). */
async function sameEverywhere(nodes: JsNode[], want: (st: ConsumerState) => boolean, what: string): Promise<void> {
  let seen: unknown[] = [];
  try {
    await waitFor(() => {
      const states = nodes.map((n) => cg(n, 'F', 'D')?.state());
      seen = states.map((s) => (s === undefined ? undefined : plain(s)));
      return states.every((s) => s !== undefined && want(s)) && seen.every((s) => JSON.stringify(s) === JSON.stringify(seen[0]));
    }, what);
  } catch (e) {
    throw new Error(`${(e as Error).message}; replicas: ${JSON.stringify(seen)}`);
  }
}

test('repl: the consumer leader keeps its store as the followers do (filtered consumer, redelivery, stepdown)', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'F', subjects: ['f.>'], num_replicas: 3 });
    const js = jetstream(ncs[1]!);
    // Stream sequences 1..30; the consumer takes f.a: 1, 4, 7, ..., 28 (ten messages); 29 and 30 are not its own.
    for (let i = 1; i <= 30; i++) await js.publish(i % 3 === 1 ? 'f.a' : 'f.b', `m${i}`);
    const r = await requestAll(ncs[2]!, nodes, '$JS.API.CONSUMER.CREATE.F.D', JSON.stringify({
      stream_name: 'F', config: { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000, filter_subject: 'f.a' },
    }));
    assert.equal(r.length, 1, r.join('\n'));
    await waitFor(() => nodes.filter((n) => cg(n, 'F', 'D')?.isLeader).length === 1, 'a consumer leader');
    const leader = nodes.find((n) => cg(n, 'F', 'D')?.isLeader)!;

    const c = await jetstream(ncs[0]!).consumers.get('F', 'D');
    const got: number[] = [];
    const unacked: JsMsg[] = [];
    for await (const m of await c.fetch({ max_messages: 10, expires: 5000 })) {
      got.push(m.seq);
      // 1 and 4 acknowledged (the floor: 6, below the oldest pending), 7 asked again at once, the rest left pending for now.
      if (m.seq <= 4) await m.ackAck();
      else if (m.seq === 7) m.nak();
      else unacked.push(m);
    }
    assert.deepEqual(got, [1, 4, 7, 10, 13, 16, 19, 22, 25, 28]);
    // 7 comes again (delivery count 2).
    for await (const m of await c.fetch({ max_messages: 1, expires: 5000 })) {
      assert.equal(m.seq, 7);
      assert.equal(m.info.deliveryCount, 2);
      unacked.push(m);
    }
    await sameEverywhere(nodes, (st) => st.delivered.streamSeq === 28 && st.delivered.consumerSeq === 11 &&
      st.ackFloor.streamSeq === 6 && st.pending.size === 8 && st.redelivered.get(7) === 1, 'after deliveries, acks and a redelivery');

    // A pull that finds nothing: the Consumer passes 29 and 30 (not its own) and its next stream
    // sequence is 31. Once everything is acknowledged its own floor moves there, past its last
    // delivery (28): every replica still counts up to 28.
    const none: number[] = [];
    for await (const m of await c.fetch({ max_messages: 5, expires: 1000 })) none.push(m.seq);
    assert.deepEqual(none, []);
    for (const m of unacked) assert.equal(await m.ackAck(), true);
    await sameEverywhere(nodes, (st) => st.pending.size === 0 && st.ackFloor.streamSeq === 28 && st.delivered.streamSeq === 28 &&
      st.redelivered.size === 0, 'all acknowledged');

    // The leader steps down: its store (now a follower's) and the new leader's agree; new messages follow.
    const sd = await requestAll(ncs[0]!, nodes, '$JS.API.CONSUMER.LEADER.STEPDOWN.F.D');
    assert.equal(sd.length, 1);
    await waitFor(() => { const l = nodes.find((n) => cg(n, 'F', 'D')?.isLeader); return l !== undefined && l !== leader; }, 'a new consumer leader');
    for (let i = 31; i <= 33; i++) await js.publish('f.a', `m${i}`);
    const after: number[] = [];
    await waitFor(async () => {
      for await (const m of await c.fetch({ max_messages: 5, expires: 1000 })) {
        after.push(m.seq);
        await m.ackAck();
      }
      return after.length >= 3;
    }, 'the new messages from the new leader');
    assert.deepEqual(after, [31, 32, 33]);
    await sameEverywhere(nodes, (st) => st.pending.size === 0 && st.ackFloor.streamSeq === 33 && st.delivered.consumerSeq === 14,
      'after the stepdown');
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
