// Replicated durable consumers across implementations (issue 11): an R3 pull consumer of an R3
// stream with replicas on nats-server 2.9.10 and tsnats (2 + 1 and 1 + 2). The consumer's
// leadership is moved (CONSUMER.LEADER.STEPDOWN, repeated until the wanted server leads) to every
// server in turn; each leader delivers the next messages, through a client on every server, and
// the acks it receives are replicated: the next leader — of the other kind as often as not —
// continues after the last acknowledged message (no redelivery of acked messages), reports the
// same delivered / ack floor as every other server, and redelivers a message delivered but not
// acknowledged before the failover, as explicit ack with ack_wait (and max_ack_pending 1) says.
// A nats-server meta leader lists the tsnats-led consumer (CONSUMER.LIST, $JSC.CI). On a work-queue stream, acks taken by a consumer leader of one kind remove the message from the
// replicas of both kinds (stream leader of the other kind).
// Skipped, saying so, where nats-server is missing (an error under CI=true).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { type JsCluster, apiRequest, skipReason } from './js-cluster-harness.js';
import { MIXES, createStream, infoEverywhere, leadGroup, leadMeta, leadStream, replicaStates, type ClusterBlock, type ApiError, startMixed } from './js-mixed-helpers.js';

interface ConsumerInfo {
  type: string;
  error?: ApiError;
  cluster?: ClusterBlock;
  config?: { durable_name?: string; num_replicas?: number; ack_policy?: string };
  delivered: { consumer_seq: number; stream_seq: number };
  ack_floor: { consumer_seq: number; stream_seq: number };
  num_ack_pending: number;
  num_redelivered: number;
  num_pending: number;
}

const MSGS = 60;
const ACK_WAIT_NS = 2_000_000_000;

for (const mix of MIXES) {
  describe(`R3 durable consumer in a mixed cluster: ${mix.label}`, { skip: skipReason('nats-server') }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    let sys: NatsConnection;
    before(async () => {
      ({ c, ncs, sys } = await startMixed(mix.impls));
    });
    after(async () => {
      await c?.shutdown();
    });

    test('acks replicated; failover to every server (both kinds) continues after the ack floor; an unacked message is redelivered', async () => {
      const s = await createStream(ncs[0]!,
        { name: 'CR3', subjects: ['cr3.>'], num_replicas: 3, storage: 'file' });
      assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
      for (let i = 1; i <= MSGS; i++) {
        const ack = await jetstream(ncs[i % 3]!).publish(`cr3.${i}`, `m${i}`);
        assert.equal(ack.seq, i);
      }
      // Created through the tsnats server of the first mix / the Go server of the second.
      const via = c.nodes[mix.impls.filter((k) => k === 'tsnats').length === 1 ? 2 : 0]!;
      const cr = await apiRequest<ConsumerInfo>(ncs[via.index]!, '$JS.API.CONSUMER.DURABLE.CREATE.CR3.D',
        { stream_name: 'CR3', config: { durable_name: 'D', ack_policy: 'explicit', ack_wait: ACK_WAIT_NS, max_deliver: -1, max_ack_pending: 1 } });
      assert.equal(cr.all.length, 1, `one reply to CONSUMER.DURABLE.CREATE via ${via.name} (${via.impl}): ${JSON.stringify(cr.all)}`);
      assert.equal(cr.first!.error, undefined, JSON.stringify(cr.first));
      assert.equal(cr.first!.type, 'io.nats.jetstream.api.v1.consumer_create_response');

      let delivered = 0; // highest stream sequence delivered so far
      let unacked = 0; // a message delivered but not acknowledged before the last failover
      const ackFloor = (): number => (unacked !== 0 ? unacked - 1 : delivered);
      // Leaders in turn n3, n1, n2, n3: every server leads, and the failovers n3->n1, n1->n2, n2->n3
      // take the consumer from each kind to the other and, in each mix, to its own kind; the last
      // leader is n3 (tsnats, for the CONSUMER.LIST check below).
      for (const [step, target] of [2, 0, 1, 2].map((i) => c.nodes[i]!).entries()) {
        const leader = await leadGroup(c, ncs, target, 'CR3', 'D');
        const ctx = `consumer leader ${leader.name} (${leader.impl}), step ${step}`;
        const info = await infoEverywhere<ConsumerInfo>(c, ncs, 'CR3', 'D');
        assert.equal(info.ack_floor.stream_seq, ackFloor(), `ack floor after failover, ${ctx}`);
        assert.equal(info.delivered.stream_seq, delivered, `delivered after failover, ${ctx}`);
        assert.equal(info.num_ack_pending, unacked !== 0 ? 1 : 0, ctx);

        if (unacked !== 0) {
          // Delivered, never acked, leader changed since: redelivered once its ack_wait is over
          // (a 2.9.10 leader counts from the first delivery, tsnats from taking over). With
          // max_ack_pending 1 nothing else can be delivered before it.
          const cons = await jetstream(ncs[leader.index]!).consumers.get('CR3', 'D');
          const m = await cons.next({ expires: 15_000 });
          assert.ok(m, `redelivery of ${unacked}, ${ctx}`);
          assert.equal(m.seq, unacked, `redelivered message, ${ctx}`);
          assert.equal(m.redelivered, true, `redelivered flag, ${ctx}`);
          assert.ok(await m.ackAck());
          unacked = 0;
        }
        // Pull and ack the next messages through a client on every server.
        for (const n of c.nodes) {
          const cons = await jetstream(ncs[n.index]!).consumers.get('CR3', 'D');
          for (let k = 0; k < 2; k++) {
            const m = await cons.next({ expires: 10_000 });
            assert.ok(m, `a message via ${n.name} (${n.impl}), ${ctx}`);
            assert.equal(m.seq, delivered + 1, `next message via ${n.name} (${n.impl}), ${ctx}`);
            assert.equal(m.redelivered, false, `seq ${m.seq} is not a redelivery, ${ctx}`);
            assert.equal(m.string(), `m${m.seq}`);
            assert.ok(await m.ackAck(), `ack of ${m.seq} confirmed, ${ctx}`);
            delivered = m.seq;
          }
        }
        // One more delivered and left unacknowledged for the next leader to redeliver.
        const cons = await jetstream(ncs[(leader.index + 1) % 3]!).consumers.get('CR3', 'D');
        const m = await cons.next({ expires: 10_000 });
        assert.ok(m);
        assert.equal(m.seq, delivered + 1);
        unacked = m.seq;
        delivered = m.seq;
        const after = await infoEverywhere<ConsumerInfo>(c, ncs, 'CR3', 'D');
        assert.equal(after.ack_floor.stream_seq, ackFloor(), ctx);
        assert.equal(after.delivered.stream_seq, delivered, ctx);
        assert.equal(after.num_ack_pending, 1, ctx);
        assert.equal(after.num_pending, MSGS - delivered, ctx);
      }
      assert.ok(delivered < MSGS);

      // A nats-server meta leader gathers CONSUMER.LIST from the consumer leaders on $JSC.CI: the
      // last leader above is tsnats (n3).
      assert.equal(c.nodes[2]!.impl, 'tsnats');
      await leadMeta(c, sys, 'nats-server');
      for (const n of c.nodes) {
        const l = await apiRequest<{ total: number; consumers?: { name: string; cluster?: { leader?: string } }[]; missing?: string[] }>(
          ncs[n.index]!, '$JS.API.CONSUMER.LIST.CR3', {});
        assert.equal(l.all.length, 1, `one reply to CONSUMER.LIST via ${n.name}`);
        assert.equal(l.first!.total, 1, `CONSUMER.LIST via ${n.name}: ${JSON.stringify(l.first).slice(0, 300)}`);
        assert.equal(l.first!.consumers?.[0]?.name, 'D');
        assert.equal(l.first!.consumers?.[0]?.cluster?.leader, c.nodes[2]!.name);
      }
      const del = await apiRequest(ncs[1]!, '$JS.API.CONSUMER.DELETE.CR3.D');
      assert.equal(del.all.length, 1, `one reply to CONSUMER.DELETE: ${JSON.stringify(del.all)}`);
      assert.deepEqual(del.first, { type: 'io.nats.jetstream.api.v1.consumer_delete_response', success: true });
      const sd = await apiRequest(ncs[2]!, '$JS.API.STREAM.DELETE.CR3');
      assert.equal(sd.all.length, 1, `one reply to STREAM.DELETE: ${JSON.stringify(sd.all)}`);
    });

    test('work queue: acks taken by a consumer leader of one kind remove the message on every replica', async () => {
      const s = await createStream(ncs[1]!,
        { name: 'WQ3', subjects: ['wq3.>'], num_replicas: 3, storage: 'file', retention: 'workqueue' });
      assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
      for (let i = 1; i <= 6; i++) assert.equal((await jetstream(ncs[i % 3]!).publish(`wq3.${i}`, `w${i}`)).seq, i);
      const cr = await apiRequest<ConsumerInfo>(ncs[0]!, '$JS.API.CONSUMER.DURABLE.CREATE.WQ3.W',
        { stream_name: 'WQ3', config: { durable_name: 'W', ack_policy: 'explicit' } });
      assert.equal(cr.first?.error, undefined, JSON.stringify(cr.first));
      const go = c.nodes.find((n) => n.impl === 'nats-server')!;
      const ts = c.nodes.find((n) => n.impl === 'tsnats')!;
      let acked = 0;
      for (const [streamLeader, consumerLeader] of [[ts, go], [go, ts]] as const) {
        await leadStream(c, ncs, 'WQ3', streamLeader);
        await leadGroup(c, ncs, consumerLeader, 'WQ3', 'W');
        const cons = await jetstream(ncs[streamLeader.index]!).consumers.get('WQ3', 'W');
        for (let k = 0; k < 3; k++) {
          const m = await cons.next({ expires: 10_000 });
          assert.ok(m);
          assert.equal(m.seq, acked + 1);
          assert.ok(await m.ackAck());
          acked = m.seq;
        }
        // Every replica (its own /jsz) dropped the acknowledged messages.
        await replicaStates(c, 'WQ3', 6, { messages: 6 - acked, last_seq: 6 });
      }
      const sd = await apiRequest(ncs[2]!, '$JS.API.STREAM.DELETE.WQ3');
      assert.equal(sd.all.length, 1, `one reply to STREAM.DELETE: ${JSON.stringify(sd.all)}`);
    });
  });
}
