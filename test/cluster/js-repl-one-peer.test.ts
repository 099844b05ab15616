// An R3 stream left on one server: two of its three servers are stopped and removed with
// SERVER.REMOVE, and no other server matches its placement, so nothing replaces them. The stream
// keeps its R3 config and runs as a raft group of one on the survivor (as nats-server keeps the
// group), so every publish is acknowledged and stored, before and after the survivor restarts,
// and its durable consumer continues. Scaling it to R1 afterwards keeps the data.
// tsnats only: this checks that tsnats does not serve the stream as a plain local stream (which
// after a restart dropped publishes), an internal state nats-server has no counterpart for.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JsCluster, SYS, apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';
import { assertAllReadable, consumeAcked, ownClusterName, publishAcked, serversOf, waitSettled, type InfoResp } from './js-repl-scale-helpers.js';

describe('an R3 stream whose two other servers were removed (tsnats)', { skip: skipReason('tsnats') }, () => {
  let c: JsCluster;
  before(async () => {
    // n3..n5 carry the tag the stream asks for; n1 and n2 keep the meta group's quorum.
    c = await JsCluster.start({ impl: 'tsnats', size: 5, clusterName: ownClusterName(), tags: [[], [], ['disk:ssd'], ['disk:ssd'], ['disk:ssd']] });
  });
  after(async () => {
    await c?.shutdown();
  });

  async function removeServer(name: string): Promise<void> {
    const sys = await c.connect(c.node('n1'), SYS);
    try {
      // Retried until the meta leader (possibly one just elected) accepts it.
      await pollUntil(async () => {
        const r = await apiRequest<{ success?: boolean }>(sys, '$JS.API.SERVER.REMOVE', { peer: name });
        return r.first?.success === true ? true : undefined;
      }, `SERVER.REMOVE ${name}`, 45_000, 250);
    } finally {
      await sys.close();
    }
  }

  test('runs as a one-server raft group: publishes acked and stored across a restart, consumer kept, then R1', async () => {
    const nc = await c.connect(c.node('n1'));
    const cfg = { name: 'O', subjects: ['o'], num_replicas: 3, placement: { tags: ['disk:ssd'] } };
    const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.O', cfg);
    assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
    const cons = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.CREATE.O.D', { stream_name: 'O', config: { durable_name: 'D', ack_policy: 'explicit' } });
    assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
    await publishAcked(nc, 'o', 1, 10);
    await consumeAcked(nc, 'O', 'D', 1, 3);
    const info = await waitSettled(nc, '$JS.API.STREAM.INFO.O', 3);
    assert.deepEqual(serversOf(info.cluster).sort(), ['n3', 'n4', 'n5']);

    // Keep the stream leader; stop and remove the two others, one after the other.
    const survivor = info.cluster!.leader!;
    const gone = ['n3', 'n4', 'n5'].filter((n) => n !== survivor);
    for (const name of gone) {
      await c.stop(c.node(name));
      await removeServer(name);
    }
    const alone = await waitSettled(nc, '$JS.API.STREAM.INFO.O', 1, gone);
    assert.equal(alone.cluster!.leader, survivor);
    assert.equal(alone.config!.num_replicas, 3);
    await publishAcked(nc, 'o', 11, 20);

    // Restarted in that state, it still takes every publish.
    await c.stop(c.node(survivor));
    await c.restart(c.node(survivor));
    await waitSettled(nc, '$JS.API.STREAM.INFO.O', 1, gone);
    await publishAcked(nc, 'o', 21, 30);
    const st = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.INFO.O');
    assert.equal(st.first?.state?.messages, 30, JSON.stringify(st.first));
    await assertAllReadable(nc, 'O', 30);
    await consumeAcked(nc, 'O', 'D', 4, 27);

    // Scaled down to R1 on the survivor: the data stays.
    const upd = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.UPDATE.O', { ...cfg, num_replicas: 1 });
    assert.equal(upd.first?.error, undefined, JSON.stringify(upd.first));
    await publishAcked(nc, 'o', 31, 35);
    await assertAllReadable(nc, 'O', 35);
  });
});
