// Changing the servers of a replicated stream on a 5-server cluster, checked against nats-server
// 2.9.10 and tsnats with the same steps: STREAM.PEER.REMOVE (its errors; a follower and then the
// leader replaced by another server) and STREAM.UPDATE of num_replicas R3 -> R5 -> R3 -> R1. After
// every step the stream and its durable consumer are on the expected number of current servers,
// every acknowledged message is readable, and the consumer continues after its last ack.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { IMPLS, JsCluster, apiRequest, apiRequestAnswered, pollUntil, skipReason } from './js-cluster-harness.js';
import { assertAllReadable, consumeAcked, publishAcked, serversOf, waitSettled, type InfoResp, ownClusterName } from './js-repl-scale-helpers.js';

const T = 'io.nats.jetstream.api.v1.';

for (const impl of IMPLS) {
  describe(`replica changes on a 5-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    before(async () => {
      c = await JsCluster.start({ impl, size: 5, clusterName: ownClusterName() });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
    });
    after(async () => {
      await c?.shutdown();
    });

    test('STREAM.PEER.REMOVE errors: one reply each, with nats-server\'s codes', async () => {
      const nc = ncs[1]!;
      const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.E', { name: 'E', subjects: ['e'], num_replicas: 3 });
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      const info = await waitSettled(nc, '$JS.API.STREAM.INFO.E', 3);
      const outsider = c.nodes.map((n) => n.name).find((n) => !serversOf(info.cluster).includes(n))!;
      const cases: Array<[string, unknown, number, string]> = [
        ['$JS.API.STREAM.PEER.REMOVE.E', { peer: outsider }, 10040, 'peer not a member'],
        ['$JS.API.STREAM.PEER.REMOVE.E', { peer: 'nobody' }, 10040, 'peer not a member'],
        ['$JS.API.STREAM.PEER.REMOVE.E', {}, 10003, 'bad request'],
        ['$JS.API.STREAM.PEER.REMOVE.E', { peer: '' }, 10003, 'bad request'],
        ['$JS.API.STREAM.PEER.REMOVE.E', '', 10025, 'invalid JSON'],
        ['$JS.API.STREAM.PEER.REMOVE.E', { peer: 5 }, 10025, 'invalid JSON'],
        ['$JS.API.STREAM.PEER.REMOVE.NOPE', { peer: info.cluster!.leader }, 10059, 'stream not found'],
      ];
      for (const [subject, body, code, text] of cases) {
        const r = await apiRequest<InfoResp>(nc, subject, body);
        assert.equal(r.all.length, 1, `${subject} ${JSON.stringify(body)}: ${JSON.stringify(r.all)}`);
        assert.equal(r.first!.type, `${T}stream_remove_peer_response`);
        assert.equal(r.first!.error?.err_code, code, `${JSON.stringify(body)}: ${JSON.stringify(r.first)}`);
        assert.equal(r.first!.error?.description, text);
      }
      const del = await apiRequest<{ success?: boolean }>(nc, '$JS.API.STREAM.DELETE.E');
      assert.equal(del.first?.success, true);
    });

    test('peer remove of an R1 stream\'s server: the stream is placed on another server', async () => {
      const nc = ncs[3]!;
      const created = await apiRequestAnswered<InfoResp>(nc, '$JS.API.STREAM.CREATE.ONE', { name: 'ONE', subjects: ['one'], num_replicas: 1 });
      assert.equal(created.all.length, 1, JSON.stringify(created.all));
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      const holder = created.first!.cluster!.leader!;
      const r = await apiRequest<{ type: string; success?: boolean }>(nc, '$JS.API.STREAM.PEER.REMOVE.ONE', { peer: holder });
      assert.deepEqual(r.all, [{ type: `${T}stream_remove_peer_response`, success: true }]);
      const moved = await pollUntil(async () => {
        const i = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.INFO.ONE', undefined, { settleMs: 0 });
        const l = i.first?.cluster?.leader;
        return l && l !== holder ? i.first : undefined;
      }, 'ONE on another server');
      assert.equal(moved.config!.num_replicas, 1);
      const del = await apiRequest<{ success?: boolean }>(nc, '$JS.API.STREAM.DELETE.ONE');
      assert.deepEqual(del.all.map((x) => x.success), [true]);
    });

    test('peer remove of a follower, then of the leader: replaced by other servers, data and consumer kept', async () => {
      const nc = ncs[0]!;
      const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.P', { name: 'P', subjects: ['p'], num_replicas: 3 });
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      const cons = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.CREATE.P.D', { stream_name: 'P', config: { durable_name: 'D', ack_policy: 'explicit' } });
      assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
      await publishAcked(nc, 'p', 1, 20);
      await consumeAcked(nc, 'P', 'D', 1, 5);
      let info = await waitSettled(nc, '$JS.API.STREAM.INFO.P', 3);

      const follower = info.cluster!.replicas![0]!.name;
      const r = await apiRequest<{ type: string; success?: boolean }>(ncs[2]!, '$JS.API.STREAM.PEER.REMOVE.P', { peer: follower });
      assert.deepEqual(r.all, [{ type: `${T}stream_remove_peer_response`, success: true }]);
      info = await waitSettled(nc, '$JS.API.STREAM.INFO.P', 3, [follower]);
      assert.equal(info.config!.num_replicas, 3);
      assert.equal(info.state!.messages, 20);
      await waitSettled(nc, '$JS.API.CONSUMER.INFO.P.D', 3, [follower]);
      await assertAllReadable(nc, 'P', 20);
      await publishAcked(nc, 'p', 21, 25);
      await consumeAcked(nc, 'P', 'D', 6, 5);

      const leader = info.cluster!.leader!;
      const r2 = await apiRequest<{ type: string; success?: boolean }>(ncs[3]!, '$JS.API.STREAM.PEER.REMOVE.P', { peer: leader });
      assert.deepEqual(r2.all, [{ type: `${T}stream_remove_peer_response`, success: true }]);
      info = await waitSettled(nc, '$JS.API.STREAM.INFO.P', 3, [leader]);
      assert.equal(info.state!.messages, 25);
      await waitSettled(nc, '$JS.API.CONSUMER.INFO.P.D', 3, [leader]);
      await assertAllReadable(nc, 'P', 25);
      await publishAcked(nc, 'p', 26, 30);
      await consumeAcked(nc, 'P', 'D', 11, 20);
      await assertAllReadable(nc, 'P', 30);
    });

    test('STREAM.UPDATE num_replicas R3 -> R5 -> R3 -> R1: one update reply each, data and consumer kept', async () => {
      const nc = ncs[4]!;
      const cfg = { name: 'S', subjects: ['s'], num_replicas: 3, storage: 'file' };
      const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.S', cfg);
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      const cons = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.CREATE.S.D', { stream_name: 'S', config: { durable_name: 'D', ack_policy: 'explicit' } });
      assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
      await publishAcked(nc, 's', 1, 20);
      await consumeAcked(nc, 'S', 'D', 1, 4);
      await waitSettled(nc, '$JS.API.STREAM.INFO.S', 3);

      let last = 20;
      let acked = 4;
      for (const replicas of [5, 3, 1]) {
        const before = await waitSettled(nc, '$JS.API.STREAM.INFO.S', replicas === 5 ? 3 : replicas === 3 ? 5 : 3);
        const up = await apiRequest<InfoResp>(ncs[replicas % 5]!, '$JS.API.STREAM.UPDATE.S', { ...cfg, num_replicas: replicas });
        assert.equal(up.all.length, 1, JSON.stringify(up.all));
        assert.equal(up.first!.type, `${T}stream_update_response`, JSON.stringify(up.first));
        assert.equal(up.first!.error, undefined, JSON.stringify(up.first));
        assert.equal(up.first!.config!.num_replicas, replicas);
        assert.equal(up.first!.state!.messages, last);
        const info = await waitSettled(nc, '$JS.API.STREAM.INFO.S', replicas);
        assert.equal(info.config!.num_replicas, replicas);
        assert.equal(info.state!.messages, last);
        // Scaling down keeps the leader (nats-server asks it before choosing the peers that stay).
        if (replicas < 5) assert.equal(info.cluster!.leader, before.cluster!.leader);
        if (replicas > 1) await waitSettled(nc, '$JS.API.CONSUMER.INFO.S.D', replicas);
        await assertAllReadable(nc, 'S', last);
        await publishAcked(nc, 's', last + 1, last + 5);
        last += 5;
        await consumeAcked(nc, 'S', 'D', acked + 1, 3);
        acked += 3;
      }
      const ci = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.INFO.S.D', undefined, { settleMs: 0 });
      assert.equal(ci.first!.ack_floor!.stream_seq, acked);
      assert.equal(ci.first!.num_pending, last - acked);
      await consumeAcked(nc, 'S', 'D', acked + 1, last - acked);
      await assertAllReadable(nc, 'S', last);
    });
  });
}
