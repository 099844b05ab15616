// Servers leaving, checked against nats-server 2.9.10 and tsnats with the same steps:
// * SERVER.REMOVE of a stopped server: the replicated stream it held gets another server in its
//   place (nats-server's processRemovePeer), with every acknowledged message kept and its durable
//   consumer continuing;
// * STREAM.PEER.REMOVE on a 3-server cluster: no server can take the peer's place, so the answer
//   is 10075 and the stream continues on the two others;
// * SERVER.REMOVE of a running server: the SERVER.REMOVED advisory, and the server disables its
//   JetStream.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { IMPLS, JsCluster, SYS, apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';
import { assertAllReadable, consumeAcked, publishAcked, serversOf, waitSettled, type InfoResp, ownClusterName } from './js-repl-scale-helpers.js';

for (const impl of IMPLS) {
  describe(`SERVER.REMOVE on a 5-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    before(async () => {
      c = await JsCluster.start({ impl, size: 5, clusterName: ownClusterName(), tags: [1, 2, 3, 4, 5].map((i) => [`node:n${i}`]) });
    });
    after(async () => {
      await c?.shutdown();
    });

    test('SERVER.REMOVE of a stopped server: its replica of an R3 stream moves to another server, data kept', async () => {
      await c.waitMetaLeader();
      const meta = await c.metaLeader();
      const nc = await c.connect(meta);
      const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.G', { name: 'G', subjects: ['g'], num_replicas: 3 });
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      const cons = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.CREATE.G.D', { stream_name: 'G', config: { durable_name: 'D', ack_policy: 'explicit' } });
      assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
      await publishAcked(nc, 'g', 1, 15);
      await consumeAcked(nc, 'G', 'D', 1, 5);
      const info = await waitSettled(nc, '$JS.API.STREAM.INFO.G', 3);
      // A replica that is neither the meta leader nor the stream leader.
      const goneName = serversOf(info.cluster).find((s) => s !== meta.name && s !== info.cluster!.leader)!;
      const gone = c.node(goneName);
      await c.stop(gone);
      const sys = await c.connect(meta, SYS);
      const ok = await apiRequest(sys, '$JS.API.SERVER.REMOVE', { peer: goneName });
      assert.deepEqual(ok.all, [{ type: 'io.nats.jetstream.api.v1.meta_server_remove_response', success: true }]);

      const after = await waitSettled(nc, '$JS.API.STREAM.INFO.G', 3, [goneName]);
      assert.equal(after.state!.messages, 15);
      await waitSettled(nc, '$JS.API.CONSUMER.INFO.G.D', 3, [goneName]);
      await assertAllReadable(nc, 'G', 15);
      await publishAcked(nc, 'g', 16, 20);
      await consumeAcked(nc, 'G', 'D', 6, 15);
    });
  });

  describe(`peer remove without a spare server on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let nc: NatsConnection;
    before(async () => {
      c = await JsCluster.start({ impl, size: 3, clusterName: ownClusterName() });
      nc = await c.connect(c.nodes[0]!);
    });
    after(async () => {
      await c?.shutdown();
    });

    test('STREAM.PEER.REMOVE answers 10075 and the stream continues on the two other servers', async () => {
      const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.Q', { name: 'Q', subjects: ['q'], num_replicas: 3 });
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      await publishAcked(nc, 'q', 1, 10);
      const info = await waitSettled(nc, '$JS.API.STREAM.INFO.Q', 3);
      const follower = info.cluster!.replicas![0]!.name;
      const r = await apiRequest(nc, '$JS.API.STREAM.PEER.REMOVE.Q', { peer: follower });
      assert.deepEqual(r.all, [{ type: 'io.nats.jetstream.api.v1.stream_remove_peer_response',
        error: { code: 503, err_code: 10075, description: 'peer remap failed' } }]);
      const two = await waitSettled(nc, '$JS.API.STREAM.INFO.Q', 2, [follower]);
      assert.equal(two.config!.num_replicas, 3);
      assert.equal(two.state!.messages, 10);
      await publishAcked(nc, 'q', 11, 15);
      await assertAllReadable(nc, 'Q', 15);
    });

    test('SERVER.REMOVE of a running server: it announces SERVER.REMOVED and leaves JetStream', async () => {
      // The server the stream no longer uses (its peer removal above).
      const q = await waitSettled(nc, '$JS.API.STREAM.INFO.Q', 2);
      const victim = c.nodes.find((n) => !serversOf(q.cluster).includes(n.name))!;
      const sys = await c.connect(c.nodes.find((n) => n !== victim)!, SYS);
      const seen: Array<Record<string, unknown>> = [];
      sys.subscribe('$JS.EVENT.ADVISORY.SERVER.REMOVED', { callback: (_e, m) => { seen.push(m.json()); } });
      await sys.flush();
      const ok = await apiRequest(sys, '$JS.API.SERVER.REMOVE', { peer: victim.name });
      assert.deepEqual(ok.all, [{ type: 'io.nats.jetstream.api.v1.meta_server_remove_response', success: true }]);
      const adv = await pollUntil(() => seen[0], 'the SERVER.REMOVED advisory');
      assert.equal(adv.type, 'io.nats.jetstream.advisory.v1.server_removed');
      assert.equal(adv.server, victim.name);
      assert.equal(adv.cluster, c.spec.clusterName);
      assert.match(String(adv.server_id), /^N[A-Z0-9]{55}$/);
      assert.deepEqual(Object.keys(adv), ['type', 'id', 'timestamp', 'server', 'server_id', 'cluster']);
      await pollUntil(async () => (victim.log().includes('JetStream being DISABLED, our server was removed from the cluster') ? true : undefined),
        'the removed server saying JetStream is disabled');
      // The stream keeps the two other servers.
      await waitSettled(nc, '$JS.API.STREAM.INFO.Q', 2, [victim.name]);
    });
  });
}
