// R3 durable consumers of an R3 stream on an in-process 3-server cluster, through the
// official clients: the consumer's delivered and ack state is replicated to every peer, one
// CONSUMER.INFO answer (from its leader, with the replicas), and after CONSUMER.LEADER.STEPDOWN
// the new leader continues from the replicated state: acknowledged messages are not delivered
// again, unacknowledged ones are redelivered, new ones follow.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, requestAll, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';

const j = (s: string): Record<string, any> => JSON.parse(s) as Record<string, any>;

const cg = (n: JsNode, s: string, c: string) => metaOf(n).streamGroups.get('$G', s)?.consumers.get(c);

test('repl: R3 durable consumer state replicated; stepdown continues from it', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'C', subjects: ['c.>'], num_replicas: 3 });
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 20; i++) await js.publish('c.x', `m${i}`);
    const r = await requestAll(ncs[2]!, nodes, '$JS.API.CONSUMER.CREATE.C.D', JSON.stringify({
      stream_name: 'C', config: { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 1_000_000_000 },
    }));
    assert.equal(r.length, 1, r.join('\n'));
    assert.equal(j(r[0]!).name, 'D', r[0]);
    await waitFor(() => nodes.filter((n) => cg(n, 'C', 'D')?.isLeader).length === 1, 'a consumer leader');
    const leader = nodes.find((n) => cg(n, 'C', 'D')?.isLeader)!;
    assert.equal(j(r[0]!).cluster.leader, leader.name);

    const c = await jetstream(ncs[0]!).consumers.get('C', 'D');
    const got: number[] = [];
    const iter = await c.fetch({ max_messages: 10, expires: 5000 });
    for await (const m of iter) {
      got.push(m.seq);
      if (m.seq <= 5) await m.ackAck();
    }
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Every replica holds the same delivered / ack floor.
    await waitFor(() => nodes.every((n) => {
      const st = cg(n, 'C', 'D')?.state();
      return st !== undefined && st.delivered.streamSeq === 10 && st.ackFloor.streamSeq === 5 && st.pending.size === 5;
    }), 'consumer state on every replica');

    const info = await requestAll(ncs[1]!, nodes, '$JS.API.CONSUMER.INFO.C.D');
    assert.equal(info.length, 1);
    const ci = j(info[0]!);
    assert.equal(ci.num_ack_pending, 5);
    assert.equal(ci.delivered.stream_seq, 10);
    assert.equal(ci.ack_floor.stream_seq, 5);
    assert.equal(ci.cluster.leader, leader.name);
    assert.equal(ci.cluster.replicas.length, 2);

    const sd = await requestAll(ncs[0]!, nodes, '$JS.API.CONSUMER.LEADER.STEPDOWN.C.D');
    assert.equal(sd.length, 1);
    assert.deepEqual(j(sd[0]!), { type: 'io.nats.jetstream.api.v1.consumer_leader_stepdown_response', success: true });
    await waitFor(() => { const l = nodes.find((n) => cg(n, 'C', 'D')?.isLeader); return l !== undefined && l !== leader; }, 'a new consumer leader');
    await waitFor(async () => {
      const x = await requestAll(ncs[2]!, nodes, '$JS.API.CONSUMER.INFO.C.D');
      return x.length === 1 && j(x[0]!).cluster?.leader !== leader.name && j(x[0]!).ack_floor?.stream_seq === 5;
    }, 'info from the new leader with the replicated ack floor');

    // The rest: 6..10 again (unacknowledged), 11..20 new; 1..5 never again.
    const after = new Set<number>();
    await waitFor(async () => {
      const it = await c.fetch({ max_messages: 20, expires: 1500 });
      for await (const m of it) {
        assert.ok(m.seq > 5, `acknowledged ${m.seq} delivered again`);
        after.add(m.seq);
        await m.ackAck();
      }
      return after.size === 15;
    }, 'messages 6..20 after the stepdown', 30_000);
    await waitFor(async () => {
      const x = j((await requestAll(ncs[0]!, nodes, '$JS.API.CONSUMER.INFO.C.D'))[0]!);
      return x.num_ack_pending === 0 && x.num_pending === 0 && x.ack_floor.stream_seq === 20;
    }, 'all acknowledged');
    await waitFor(() => nodes.every((n) => cg(n, 'C', 'D')?.state().ackFloor.streamSeq === 20), 'ack floor 20 on every replica');

    // An ephemeral is R1 on one stream peer; once inactive it removes itself, also from the meta state.
    const eph = await requestAll(ncs[0]!, nodes, '$JS.API.CONSUMER.CREATE.C', JSON.stringify({
      stream_name: 'C', config: { ack_policy: AckPolicy.Explicit, inactive_threshold: 500_000_000 },
    }));
    assert.equal(eph.length, 1);
    const ename = j(eph[0]!).name as string;
    assert.equal(nodes.filter((n) => cg(n, 'C', ename) !== undefined).length, 1, 'an R1 consumer group on one server');
    assert.equal(j(eph[0]!).cluster.leader, nodes.find((n) => cg(n, 'C', ename))!.name);
    await waitFor(() => nodes.every((n) => !metaOf(n).state.stream('$G', 'C')!.consumers.has(ename) && cg(n, 'C', ename) === undefined),
      'the inactive ephemeral gone from the meta state and every server', 30_000);

    assert.equal(await jsm.consumers.delete('C', 'D'), true);
    await waitFor(() => nodes.every((n) => cg(n, 'C', 'D') === undefined), 'consumer group gone everywhere');
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
