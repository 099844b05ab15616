// A consumer leader waits for its stream replica to be current (nats-server's consumer checks
// that its stream is current). An R1 durable of an R3 stream runs on server P. P is stopped and
// the others take more messages, then they stop too and P comes back: P's consumer group leads
// at once (one peer) while P's stream replica misses messages 11..20 and has no leader to learn
// them from. The consumer must not deliver from that store. Once a second stream server is back,
// P's replica catches up and the consumer delivers every message in order.
// tsnats only (how a tsnats consumer group sequences its start with its stream replica).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { JsCluster, apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';
import { consumeAcked, ownClusterName, publishAcked, waitSettled, type InfoResp } from './js-repl-scale-helpers.js';

describe('a consumer on a stream replica that is not current (tsnats)', { skip: skipReason('tsnats') }, () => {
  let c: JsCluster;
  before(async () => {
    // The stream lives on n3..n5; n1 and n2 keep the meta group's quorum.
    c = await JsCluster.start({ impl: 'tsnats', size: 5, clusterName: ownClusterName(), tags: [[], [], ['disk:ssd'], ['disk:ssd'], ['disk:ssd']] });
  });
  after(async () => {
    await c?.shutdown();
  });

  test('does not deliver until the replica is current, then delivers every message in order', async () => {
    const nc = await c.connect(c.node('n1'));
    const cfg = { name: 'W', subjects: ['w'], num_replicas: 3, placement: { tags: ['disk:ssd'] } };
    const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.W', cfg);
    assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
    const cons = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.CREATE.W.D',
      { stream_name: 'W', config: { durable_name: 'D', ack_policy: 'explicit', num_replicas: 1 } });
    assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
    await publishAcked(nc, 'w', 1, 10);
    await waitSettled(nc, '$JS.API.STREAM.INFO.W', 3);
    const p = (await waitSettled(nc, '$JS.API.CONSUMER.INFO.W.D', 1)).cluster!.leader!;
    const others = ['n3', 'n4', 'n5'].filter((n) => n !== p);
    // P a stream follower, so the others keep taking publishes without an election.
    await pollUntil(async () => {
      const info = await waitSettled(nc, '$JS.API.STREAM.INFO.W', 3);
      if (info.cluster!.leader !== p) return true;
      await apiRequest(nc, '$JS.API.STREAM.LEADER.STEPDOWN.W');
      return undefined;
    }, `the stream led by a server other than ${p}`, 60_000, 250);

    await c.stop(c.node(p));
    await publishAcked(nc, 'w', 11, 20);
    for (const n of others) await c.stop(c.node(n));
    await c.restart(c.node(p));

    // P's consumer leads at once; until the stream replica there is current, a pull request gets
    // no message (no reply, or a status without data). Several tries, each a full round trip.
    for (let i = 0; i < 5; i++) {
      const reply = await nc.request('$JS.API.CONSUMER.MSG.NEXT.W.D', JSON.stringify({ batch: 1, expires: 200_000_000 }),
        { timeout: 1000, noMux: true, headers: natsHeaders() }).catch(() => undefined);
      if (reply) assert.equal(reply.data.length, 0, `delivered ${reply.string()} from an incomplete store`);
    }

    // A second stream server back: P catches up and the consumer starts from message 1.
    await c.restart(c.node(others[0]!));
    await consumeAcked(nc, 'W', 'D', 1, 20);
  });
});
