// /jsz?consumers=true and StreamInfo's consumer_count on every server of a 3-server cluster,
// nats-server 2.9.10 and tsnats: every replica of an R3 stream reports the stream's consumers
// (consumer_detail with the consumer group's cluster block and the replica's own copy of the
// state), followers included, and the count is the meta state's, whichever server leads the
// consumer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { IMPLS, JsCluster, apiRequest, pollUntil, skipReason, streamInfoWithLeader } from './js-cluster-harness.js';

interface ConsumerDetail {
  name: string;
  ack_floor: { stream_seq: number };
  num_pending: number;
  cluster?: { leader?: string; replicas?: { name: string }[] };
  [k: string]: unknown;
}
interface Jsz {
  consumers: number;
  account_details?: { stream_detail?: { name: string; state: { consumer_count: number }; consumer_detail?: ConsumerDetail[] }[] }[];
}

/** ConsumerInfo fields in nats-server 2.9.10's order (tsnats adds `ts` as newer servers do). */
const FIELDS = ['stream_name', 'name', 'created', 'delivered', 'ack_floor', 'num_ack_pending', 'num_redelivered',
  'num_waiting', 'num_pending', 'cluster'];

for (const impl of IMPLS) {
  describe(`/jsz consumer detail on every replica, ${impl}`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    before(async () => {
      c = await JsCluster.start({ impl, size: 3 });
    });
    after(async () => {
      await c?.shutdown();
    });

    test('an R3 stream\'s consumer is reported by all three servers, leading it or not', async () => {
      const nc = await c.connect(c.nodes[0]!);
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'JZ', subjects: ['jz.>'], num_replicas: 3 });
      const streamLeader = (await streamInfoWithLeader(nc, 'JZ')).cluster!.leader!;
      await jsm.consumers.add('JZ', { durable_name: 'D', ack_policy: AckPolicy.Explicit });
      const js = jetstream(nc);
      await js.publish('jz.1', 'one');
      await js.publish('jz.2', 'two');
      const m = await (await js.consumers.get('JZ', 'D')).next({ expires: 5000 });
      assert.ok(m);
      assert.ok(await m.ackAck());

      // Move the consumer's leadership off the stream leader, so that the count cannot come from
      // the consumers the stream leader happens to run.
      const consumerLeader = await pollUntil(async () => {
        const ci = await jsm.consumers.info('JZ', 'D');
        const l = ci.cluster?.leader;
        if (l && l !== streamLeader && (ci.cluster?.replicas ?? []).length === 2) return l;
        if (l === streamLeader) await apiRequest(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.JZ.D', undefined, { settleMs: 0, waitMs: 2000 });
        return undefined;
      }, 'a consumer leader other than the stream leader', 60_000, 300);
      assert.equal((await jsm.streams.info('JZ')).state.consumer_count, 1);
      // `created` is the assignment's: the same from every leader the consumer has had.
      const created = (await jsm.consumers.info('JZ', 'D')).created;

      for (const n of c.nodes) {
        // The leader's figures are current. nats-server 2.9.10 followers report the delivered and
        // ack state their consumer object last loaded (stale); tsnats followers report their
        // replicated copy, so for tsnats every server must show the ack.
        const current = impl === 'tsnats' || n.name === consumerLeader;
        const d = await pollUntil(async () => {
          const j = await c.monitor<Jsz>(n, '/jsz?consumers=true');
          const sd = j.account_details?.flatMap((a) => a.stream_detail ?? []).find((s) => s.name === 'JZ');
          const cd = sd?.consumer_detail?.[0];
          if (!cd || cd.cluster?.leader !== consumerLeader) return undefined;
          return !current || (cd.ack_floor.stream_seq === 1 && cd.num_pending === 1) ? { j, sd: sd!, cd } : undefined;
        }, `${n.name}'s /jsz to show consumer D${current ? ' with the ack' : ''}`, 30_000, 100);
        assert.equal(d.sd.consumer_detail!.length, 1, n.name);
        assert.equal(d.cd.name, 'D');
        assert.equal(d.cd.created, created, `${n.name}: created`);
        assert.equal(d.sd.state.consumer_count, 1, `${n.name}: consumer_count`);
        assert.equal(d.j.consumers, 1, `${n.name}: /jsz consumers`);
        assert.deepEqual(Object.keys(d.cd).filter((k) => k !== 'ts'), FIELDS, `${n.name}: fields and their order`);
        assert.equal(d.cd.cluster?.replicas?.length, 2, `${n.name}: the group's other two peers`);
        assert.ok(!d.cd.cluster!.replicas!.some((r) => r.name === n.name), `${n.name}: replicas exclude the reporting server`);
      }
      await nc.close();
    });
  });
}
