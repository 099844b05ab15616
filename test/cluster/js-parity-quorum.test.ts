// Parity of sendConsumerLostQuorumAdvisory (nats-server jetstream_cluster.go): the leader of an R3
// consumer whose two peers are killed steps down for lost quorum and publishes
// $JS.EVENT.ADVISORY.CONSUMER.QUORUM_LOST.<stream>.<consumer>. Three servers as child processes,
// nats-server 2.9.10 and tsnats (the stream-level QUORUM_LOST is js-repl-advisories').
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { IMPLS, JsCluster, apiRequest, pollUntil, skipReason, streamInfoWithLeader } from './js-cluster-harness.js';

interface ApiError { code: number; err_code: number; description: string }

for (const impl of IMPLS) {
  describe(`consumer quorum lost on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    before(async () => {
      c = await JsCluster.start({ impl, size: 3 });
    });
    after(async () => {
      await c?.shutdown();
    });

    test('the two other peers of an R3 consumer killed: its leader sends QUORUM_LOST', async () => {
      const nc0 = await c.connect(c.nodes[0]!);
      const s = await apiRequest<{ error?: ApiError }>(nc0, '$JS.API.STREAM.CREATE.QL',
        { name: 'QL', subjects: ['ql.>'], num_replicas: 3, storage: 'file' }, { waitMs: 30_000 });
      assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
      await streamInfoWithLeader(nc0, 'QL');
      const cr = await apiRequest<{ error?: ApiError }>(nc0, '$JS.API.CONSUMER.CREATE.QL.D',
        { stream_name: 'QL', config: { durable_name: 'D', ack_policy: 'explicit' } }, { waitMs: 30_000 });
      assert.equal(cr.first?.error, undefined, JSON.stringify(cr.first));
      const leaderName = await pollUntil(async () => {
        const r = await apiRequest<{ cluster?: { leader?: string; replicas?: { current: boolean }[] } }>(nc0, '$JS.API.CONSUMER.INFO.QL.D', undefined, { settleMs: 0, waitMs: 2000 });
        const cl = r.first?.cluster;
        return cl?.leader && (cl.replicas ?? []).filter((x) => x.current).length === 2 ? cl.leader : undefined;
      }, 'a consumer leader with two current replicas', 30_000, 100);
      const leader = c.node(leaderName);
      const watch: NatsConnection = await c.connect(leader);
      const lost: Array<{ subject: string; body: Record<string, any> }> = [];
      watch.subscribe('$JS.EVENT.ADVISORY.CONSUMER.QUORUM_LOST.>', { callback: (_e, m) => { lost.push({ subject: m.subject, body: m.json() }); } });
      await watch.flush();
      for (const n of c.nodes.filter((x) => x !== leader)) await c.kill(n);
      const a = await pollUntil(async () => lost.find((x) => x.subject.endsWith('.QL.D')), 'a consumer QUORUM_LOST advisory', 90_000, 100);
      assert.equal(a.subject, '$JS.EVENT.ADVISORY.CONSUMER.QUORUM_LOST.QL.D');
      assert.equal(a.body.type, 'io.nats.jetstream.advisory.v1.consumer_quorum_lost');
      assert.equal(a.body.stream, 'QL');
      assert.equal(a.body.consumer, 'D');
      assert.ok(Array.isArray(a.body.replicas), JSON.stringify(a.body));
    });
  });
}
