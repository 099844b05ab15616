// Scaling up from one replica, on nats-server 2.9.10 and tsnats with the same steps: an R1 stream
// with messages and a durable consumer is updated to R3. One update reply; the stream ends on
// three current servers; after its leadership (and the consumer's) moved to new replicas every
// acknowledged message is readable there and the consumer continues after its last ack.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { IMPLS, JsCluster, apiRequest, apiRequestAnswered, pollUntil, skipReason } from './js-cluster-harness.js';
import { assertAllReadable, consumeAcked, publishAcked, waitSettled, type InfoResp, ownClusterName } from './js-repl-scale-helpers.js';

const T = 'io.nats.jetstream.api.v1.';

for (const impl of IMPLS) {
  describe(`scale-up from R1 on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let nc: NatsConnection;
    before(async () => {
      c = await JsCluster.start({ impl, size: 3, clusterName: ownClusterName() });
      nc = await c.connect(c.nodes[1]!);
    });
    after(async () => {
      await c?.shutdown();
    });

    test('R1 -> R3: the new replicas get every acknowledged message and the consumer state', async () => {
      const cfg = { name: 'U', subjects: ['u'], num_replicas: 1 };
      const created = await apiRequestAnswered<InfoResp>(nc, '$JS.API.STREAM.CREATE.U', cfg);
      assert.equal(created.all.length, 1, JSON.stringify(created.all));
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      const holder = created.first!.cluster!.leader!;
      const cons = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.CREATE.U.D', { stream_name: 'U', config: { durable_name: 'D', ack_policy: 'explicit' } });
      assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
      await publishAcked(nc, 'u', 1, 30);
      await consumeAcked(nc, 'U', 'D', 1, 5);

      const up = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.UPDATE.U', { ...cfg, num_replicas: 3 });
      assert.equal(up.all.length, 1, JSON.stringify(up.all));
      assert.equal(up.first!.type, `${T}stream_update_response`);
      assert.equal(up.first!.error, undefined, JSON.stringify(up.first));
      assert.equal(up.first!.config!.num_replicas, 3);
      assert.equal(up.first!.state!.messages, 30);
      const info = await waitSettled(nc, '$JS.API.STREAM.INFO.U', 3);
      assert.equal(info.state!.messages, 30);
      await waitSettled(nc, '$JS.API.CONSUMER.INFO.U.D', 3);

      // Move the leadership to a new replica: it must hold everything.
      await pollUntil(async () => {
        const i = await waitSettled(nc, '$JS.API.STREAM.INFO.U', 3);
        if (i.cluster!.leader !== holder) return true;
        await apiRequest(nc, '$JS.API.STREAM.LEADER.STEPDOWN.U', undefined, { settleMs: 0 });
        return undefined;
      }, `the leadership of U away from ${holder}`, 60_000, 500);
      const moved = await waitSettled(nc, '$JS.API.STREAM.INFO.U', 3);
      assert.notEqual(moved.cluster!.leader, holder);
      assert.equal(moved.state!.messages, 30);
      await assertAllReadable(nc, 'U', 30);
      // The consumer's leadership too: the new leader continues from the seeded state.
      await pollUntil(async () => {
        const i = await waitSettled(nc, '$JS.API.CONSUMER.INFO.U.D', 3);
        if (i.cluster!.leader !== holder) return true;
        await apiRequest(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.U.D', undefined, { settleMs: 0 });
        return undefined;
      }, `the leadership of U > D away from ${holder}`, 60_000, 500);
      await publishAcked(nc, 'u', 31, 35);
      await consumeAcked(nc, 'U', 'D', 6, 30);
      await assertAllReadable(nc, 'U', 35);
    });
  });
}
