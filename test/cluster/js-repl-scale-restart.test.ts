// Peer changes survive restarts, on nats-server 2.9.10 and tsnats with the same steps: a stream
// scaled R3 -> R5 is still on its five servers with every
// acknowledged message after all servers restart; scaled down to R1 it is still whole on its one
// server after another restart of all servers, and its durable consumer continues after its last
// ack each time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { IMPLS, JsCluster, apiRequest, skipReason } from './js-cluster-harness.js';
import { assertAllReadable, consumeAcked, publishAcked, serversOf, waitSettled, type InfoResp, ownClusterName } from './js-repl-scale-helpers.js';
import { shortElections } from './js-short-elections.js';

// tsnats elections after the restarts take 1.5-3 s instead of 4-9 s (nats-server keeps its own);
// what is checked does not depend on it.
shortElections();

async function restartAll(c: JsCluster): Promise<void> {
  for (const n of c.nodes) await c.stop(n);
  for (const n of c.nodes) await c.restart(n);
  await c.waitMetaLeader();
}

for (const impl of IMPLS) {
  describe(`peer changes and restarts on a 5-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    before(async () => {
      c = await JsCluster.start({ impl, size: 5, clusterName: ownClusterName() });
    });
    after(async () => {
      await c?.shutdown();
    });

    test('R3 -> R5, restart of every server, R5 -> R1, restart again: data and consumer kept', async () => {
      let nc = await c.connect(c.nodes[0]!);
      const cfg = { name: 'W', subjects: ['w'], num_replicas: 3 };
      const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.W', cfg);
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      const cons = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.CREATE.W.D', { stream_name: 'W', config: { durable_name: 'D', ack_policy: 'explicit' } });
      assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
      await publishAcked(nc, 'w', 1, 10);
      await consumeAcked(nc, 'W', 'D', 1, 3);
      const up = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.UPDATE.W', { ...cfg, num_replicas: 5 });
      assert.equal(up.first?.error, undefined, JSON.stringify(up.first));
      await waitSettled(nc, '$JS.API.STREAM.INFO.W', 5);
      await waitSettled(nc, '$JS.API.CONSUMER.INFO.W.D', 5);
      await publishAcked(nc, 'w', 11, 20);

      await restartAll(c);
      nc = await c.connect(c.nodes[1]!);
      const five = await waitSettled(nc, '$JS.API.STREAM.INFO.W', 5);
      assert.equal(five.state!.messages, 20);
      assert.deepEqual([...serversOf(five.cluster)].sort(), c.nodes.map((n) => n.name).sort());
      await assertAllReadable(nc, 'W', 20);
      await consumeAcked(nc, 'W', 'D', 4, 3);

      const down = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.UPDATE.W', { ...cfg, num_replicas: 1 });
      assert.equal(down.first?.error, undefined, JSON.stringify(down.first));
      const one = await waitSettled(nc, '$JS.API.STREAM.INFO.W', 1);
      await publishAcked(nc, 'w', 21, 25);

      await restartAll(c);
      nc = await c.connect(c.nodes[2]!);
      const again = await waitSettled(nc, '$JS.API.STREAM.INFO.W', 1);
      assert.equal(again.cluster!.leader, one.cluster!.leader);
      assert.equal(again.config!.num_replicas, 1);
      assert.equal(again.state!.messages, 25);
      await assertAllReadable(nc, 'W', 25);
      await consumeAcked(nc, 'W', 'D', 7, 19);
    });
  });
}
