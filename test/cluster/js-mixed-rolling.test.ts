// Rolling replacement (issue 11): three nats-server 2.9.10 nodes hold an R3 stream with data and an
// R3 durable consumer with acknowledged messages; one at a time, each is stopped and replaced by a
// tsnats node with the same server name and an empty store dir. After every replacement the new
// node has caught up (meta group, stream replica) from the others; at the end only tsnats serves
// the cluster: every acknowledged message is there, publishes continue at the next sequence and
// the consumer continues after its ack floor.
// Skipped, saying so, where nats-server is missing (an error under CI=true).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { JsCluster, apiRequest, skipReason, type JsNode } from './js-cluster-harness.js';
import { createStream, infoEverywhere, replicaStates, streamInfoEverywhere, withLogs, type ApiError, type ClusterBlock } from './js-mixed-helpers.js';

interface ConsumerInfo { error?: ApiError; cluster?: ClusterBlock; delivered: { stream_seq: number }; ack_floor: { stream_seq: number }; num_ack_pending: number }

describe('rolling replacement of 3 nats-server nodes by tsnats nodes', { skip: skipReason('nats-server') }, () => {
  let c: JsCluster;
  let ncs: NatsConnection[];
  before(async () => {
    c = await JsCluster.start({ impl: 'nats-server', size: 3 });
    ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
  });
  after(async () => {
    await c?.shutdown();
  });

  test('R3 stream and consumer survive; at the end all data is served by tsnats only', () => withLogs(c, async () => {
    const r = await createStream(ncs[0]!,
      { name: 'ROLL', subjects: ['roll.>'], num_replicas: 3, storage: 'file' });
    assert.equal(r.first?.error, undefined, JSON.stringify(r.first));
    const expected: string[] = [];
    const publish = async (count: number): Promise<void> => {
      for (let k = 0; k < count; k++) {
        const n = c.nodes.filter((x) => x.alive)[k % c.nodes.filter((x) => x.alive).length]!;
        const seq = expected.length + 1;
        const ack = await jetstream(ncs[n.index]!).publish(`roll.${seq}`, `r${seq}`);
        assert.equal(ack.seq, seq, `seq of a publish via ${n.name} (${n.impl})`);
        expected.push(`${seq}:roll.${seq}:r${seq}`);
      }
    };
    await publish(30);
    const cr = await apiRequest<ConsumerInfo>(ncs[1]!, '$JS.API.CONSUMER.DURABLE.CREATE.ROLL.D',
      { stream_name: 'ROLL', config: { durable_name: 'D', ack_policy: 'explicit' } });
    assert.equal(cr.first?.error, undefined, JSON.stringify(cr.first));
    let acked = 0;
    const consume = async (count: number): Promise<void> => {
      const n = c.nodes[acked % 3]!;
      const cons = await jetstream(ncs[n.index]!).consumers.get('ROLL', 'D');
      for (let k = 0; k < count; k++) {
        const m = await cons.next({ expires: 10_000 });
        assert.ok(m, `a message of D via ${n.name} (${n.impl})`);
        assert.equal(m.seq, acked + 1, `no acknowledged message redelivered (via ${n.name}, ${n.impl})`);
        assert.ok(await m.ackAck());
        acked = m.seq;
      }
    };
    await consume(5);

    for (const n of [...c.nodes]) {
      const ctx = `after replacing ${n.name}`;
      // 2.9.10 confirms an ack before its consumer group commits it: stop a server only once every
      // replica is current, or an acknowledged message may be delivered again (at-least-once).
      const ci0 = await infoEverywhere<ConsumerInfo>(c, ncs, 'ROLL', 'D');
      assert.equal(ci0.ack_floor.stream_seq, acked);
      await streamInfoEverywhere(c, ncs, 'ROLL');
      await c.stop(n);
      await c.replace(n, 'tsnats');
      ncs[n.index] = await c.connect(n);
      await c.waitMetaLeader({ timeoutMs: 60_000 });
      await replicaStates(c, 'ROLL', expected.length);
      const info = await streamInfoEverywhere(c, ncs, 'ROLL');
      assert.equal(info.state?.messages, expected.length, ctx);
      const ci = await infoEverywhere<ConsumerInfo>(c, ncs, 'ROLL', 'D');
      assert.equal(ci.ack_floor.stream_seq, acked, ctx);
      await publish(10);
      await consume(5);
    }
    assert.deepEqual(c.nodes.map((n) => n.impl), ['tsnats', 'tsnats', 'tsnats']);
    await replicaStates(c, 'ROLL', expected.length);
    for (const via of c.nodes) {
      const got: string[] = [];
      for (let seq = 1; seq <= expected.length; seq++) {
        const m = await apiRequest<{ message?: { seq: number; subject: string; data: string } }>(
          ncs[via.index]!, '$JS.API.STREAM.MSG.GET.ROLL', { seq }, { settleMs: 0 });
        assert.ok(m.first?.message, `seq ${seq} via ${via.name}: ${JSON.stringify(m.first)}`);
        got.push(`${m.first.message.seq}:${m.first.message.subject}:${Buffer.from(m.first.message.data, 'base64').toString()}`);
      }
      assert.deepEqual(got, expected, `every message via ${via.name}`);
    }
    await consume(5);
    assert.equal(acked, 5 * 5);
    const meta = await Promise.all(c.nodes.map((n: JsNode) => c.metaOf(n)));
    assert.ok(meta.every((m) => m?.cluster_size === 3 && m.leader === meta[0]!.leader), JSON.stringify(meta));
  }));
});
