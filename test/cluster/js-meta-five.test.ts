// Clustered JetStream, meta group on five servers, checked against nats-server 2.9.10 and (with
// TSNATS_META=1) tsnats: the group holds all five servers, every server's clients get exactly one
// answer, META.LEADER.STEPDOWN's answers, a killed meta leader is replaced by one of the four
// others, and SERVER.REMOVE takes a stopped server out of the group. One cluster per
// implementation, shared by the tests in order.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { IMPLS, JsCluster, SYS, apiRequest, apiRequestAnswered, peerIdOf, pollUntil, skipReason } from './js-cluster-harness.js';

interface StreamResp {
  type: string;
  error?: { code: number; err_code: number; description: string };
  did_create?: boolean;
  cluster?: { name: string; leader: string };
  config?: { name: string };
}
interface NamesResp { total: number; streams: string[] | null; consumers?: string[] | null }

function r1(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 1, storage: 'file', ...extra };
}
const STEPDOWN_TYPE = 'io.nats.jetstream.api.v1.meta_leader_stepdown_response';

// This file removes a server for good; the others keep dialling its route port, so a cluster
// another test file starts later on that port must not share our cluster name (it would merge).
const CLUSTER = 'FIVE';

for (const impl of IMPLS) {
  describe(`meta group on a 5-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    before(async () => {
      c = await JsCluster.start({ impl, size: 5, clusterName: CLUSTER, tags: [1, 2, 3, 4, 5].map((i) => [`node:n${i}`]) });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
    });
    after(async () => {
      await c?.shutdown();
    });

    test('the meta group holds all five servers; every server reports its size', async () => {
      // The expected size grows as servers are seen (checkClusterSize), so on a loaded machine a
      // server may still report 4 for a moment after the leader is elected: wait for all to agree.
      await pollUntil(async () => {
        const sizes = await Promise.all(c.nodes.map(async (n) => (await c.metaOf(n))?.cluster_size));
        return sizes.every((s) => s === 5) ? true : undefined;
      }, 'every server reports cluster_size 5');
      const leader = await c.metaLeader();
      const m = (await c.metaOf(leader))!;
      assert.equal(m.cluster_size, 5);
      assert.equal(m.leader, leader.name);
      assert.equal(m.peer, peerIdOf(leader.name));
      const reps = [...(m.replicas ?? [])].sort((a, b) => a.name.localeCompare(b.name));
      assert.deepEqual(reps.map((r) => r.name), c.nodes.filter((n) => n !== leader).map((n) => n.name));
      assert.ok(reps.every((r) => r.current && r.peer === peerIdOf(r.name)));
      for (const n of c.nodes) assert.equal((await c.metaOf(n))!.cluster_size, 5);
    });

    test('R1 streams and consumers created from a client on each of the five servers: one reply each, seen from every server', async () => {
      const created = await Promise.all(ncs.map(async (nc, i) => {
        const subject = `$JS.API.STREAM.CREATE.F${i}`;
        const r = await apiRequest<StreamResp>(nc, subject, r1(`F${i}`));
        // nats-server 2.9.10 can leave one such create unanswered under load (apiRequestAnswered's
        // note; seen in CI): it is asked again, as a client would, and the one answer checked.
        if (impl === 'nats-server' && r.all.length === 0) return { ...(await apiRequestAnswered<StreamResp>(nc, subject, r1(`F${i}`))), retried: true };
        return { ...r, retried: false };
      }));
      const holder = new Map<string, string>();
      created.forEach((r, i) => {
        assert.equal(r.all.length, 1, `one reply via ${c.nodes[i]!.name}`);
        if (!r.retried) assert.equal(r.first!.did_create, true);
        assert.equal(r.first!.cluster?.name, CLUSTER);
        assert.ok(c.nodes.some((n) => n.name === r.first!.cluster?.leader));
        holder.set(`F${i}`, r.first!.cluster!.leader);
      });
      const cons = await Promise.all(ncs.map((nc, i) => apiRequest<{ name?: string; cluster?: unknown }>(nc, `$JS.API.CONSUMER.CREATE.F0.C${i}`,
        { stream_name: 'F0', config: { durable_name: `C${i}`, ack_policy: 'explicit' } })));
      cons.forEach((r, i) => {
        assert.equal(r.all.length, 1, `one consumer reply via ${c.nodes[i]!.name}`);
        assert.equal(r.first!.name, `C${i}`);
        assert.deepEqual(r.first!.cluster, { name: CLUSTER, leader: holder.get('F0') });
      });
      await Promise.all(ncs.map(async (nc, i) => {
        const names = await apiRequest<NamesResp>(nc, '$JS.API.STREAM.NAMES');
        assert.equal(names.all.length, 1);
        for (const s of holder.keys()) assert.ok(names.first!.streams?.includes(s), `${s} via ${c.nodes[i]!.name}`);
        const cn = await apiRequest<NamesResp>(nc, '$JS.API.CONSUMER.NAMES.F0');
        assert.equal(cn.all.length, 1);
        assert.deepEqual([...(cn.first!.consumers ?? [])].sort(), ['C0', 'C1', 'C2', 'C3', 'C4']);
        for (const [s, h] of holder) {
          const info = await apiRequest<StreamResp>(nc, `$JS.API.STREAM.INFO.${s}`, undefined, { settleMs: 0 });
          assert.deepEqual(info.first!.cluster, { name: CLUSTER, leader: h });
        }
      }));
    });

    test('META.LEADER.STEPDOWN answers: unknown cluster 10005, bad JSON 10025, own cluster success', async () => {
      const leader = await c.metaLeader();
      const sys = await c.connect(c.nodes[(leader.index + 1) % 5]!, SYS);
      const unknown = await apiRequest(sys, '$JS.API.META.LEADER.STEPDOWN', { placement: { cluster: 'NOPE' } });
      assert.equal(unknown.all.length, 1);
      const ue = (unknown.first as { type: string; error?: { code: number; err_code: number; description: string } });
      assert.equal(ue.type, STEPDOWN_TYPE);
      assert.deepEqual([ue.error?.code, ue.error?.err_code], [400, 10005]);
      // 2.9.10: "no replacement peer connected"; servers with a leader preference (newer ones, and tsnats
      // as issue 9 asks) check the placement first: "no suitable peers for placement".
      assert.ok(['no replacement peer connected', 'no suitable peers for placement'].includes(ue.error!.description), ue.error!.description);
      const bad = await apiRequest<{ error?: { code: number; err_code: number; description: string } }>(sys, '$JS.API.META.LEADER.STEPDOWN', 'not json');
      assert.equal(bad.all.length, 1);
      // 2.9.10: "invalid JSON"; newer servers (and tsnats) append the decoder's message.
      assert.deepEqual([bad.first!.error?.code, bad.first!.error?.err_code], [400, 10025]);
      assert.match(bad.first!.error!.description, /^invalid JSON(: .+)?$/);
      if (impl === 'nats-server') {
        // 2.9.10 has no leader preference for the meta group: tags are refused (newer servers and
        // tsnats, as issue 9 asks, move the leadership to a server with those tags instead).
        const tags = await apiRequest(sys, '$JS.API.META.LEADER.STEPDOWN', { placement: { tags: ['node:n1'] } });
        assert.deepEqual(tags.first, { type: STEPDOWN_TYPE, error: { code: 400, err_code: 10011, description: 'tags placement not supported for operation' } });
      }
      assert.equal((await c.metaLeader()).name, leader.name, 'refused stepdowns keep the leader');
      const ok = await apiRequest(sys, '$JS.API.META.LEADER.STEPDOWN', { placement: { cluster: CLUSTER } });
      assert.equal(ok.all.length, 1);
      assert.deepEqual(ok.first, { type: STEPDOWN_TYPE, success: true });
      const now = await c.waitMetaLeader({ not: leader.name });
      assert.notEqual(now.name, leader.name);
      await sys.close();
    });

    test('kill -9 of the meta leader: one of the four others leads and serves creates; the killed server rejoins', async () => {
      const leader = await c.metaLeader();
      await c.kill(leader);
      const next = await c.waitMetaLeader({ not: leader.name });
      assert.notEqual(next.name, leader.name);
      const via = ncs[(leader.index + 1) % 5]!;
      // Placed on a live server explicitly: 2.9.10 keeps a killed peer "current" (and placeable) for ~10 s.
      const target = c.nodes[(leader.index + 2) % 5]!;
      const r = await apiRequest<StreamResp>(via, '$JS.API.STREAM.CREATE.AFTER_KILL', r1('AFTER_KILL', { placement: { tags: [`node:${target.name}`] } }));
      assert.equal(r.all.length, 1);
      assert.equal(r.first!.did_create, true);
      assert.deepEqual(r.first!.cluster, { name: CLUSTER, leader: target.name });
      await c.restart(leader);
      await c.waitMetaLeader();
      const back = await c.connect(leader);
      const names = await apiRequest<NamesResp>(back, '$JS.API.STREAM.NAMES');
      assert.equal(names.all.length, 1);
      for (const s of ['F0', 'F1', 'F2', 'F3', 'F4', 'AFTER_KILL']) assert.ok(names.first!.streams?.includes(s), s);
      const info = await apiRequest<StreamResp>(back, '$JS.API.STREAM.INFO.AFTER_KILL');
      assert.equal(info.all.length, 1);
      assert.deepEqual(info.first!.cluster, r.first!.cluster);
    });

    test('SERVER.REMOVE from the system account: unknown peer 10044, bad request 10003; a stopped server leaves the group', async () => {
      const leader = await c.metaLeader();
      const sys = await c.connect(leader, SYS);
      const type = 'io.nats.jetstream.api.v1.meta_server_remove_response';
      const notMember = { code: 400, err_code: 10044, description: 'server is not a member of the cluster' };
      const unknown = await apiRequest(sys, '$JS.API.SERVER.REMOVE', { peer: 'nope' });
      assert.equal(unknown.all.length, 1);
      assert.deepEqual(unknown.first, { type, error: notMember });
      const bad = await apiRequest(sys, '$JS.API.SERVER.REMOVE', {});
      assert.equal(bad.all.length, 1);
      assert.deepEqual(bad.first, { type, error: { code: 400, err_code: 10003, description: 'bad request' } });

      const gone = c.nodes[(leader.index + 1) % 5]!;
      await c.kill(gone);
      const ok = await apiRequest(sys, '$JS.API.SERVER.REMOVE', { peer: gone.name });
      assert.equal(ok.all.length, 1);
      assert.deepEqual(ok.first, { type, success: true });
      const m = await pollUntil(async () => {
        const x = await c.metaOf(leader);
        return x?.cluster_size === 4 ? x : undefined;
      }, 'a meta group of four');
      assert.ok(!(m.replicas ?? []).some((r) => r.name === gone.name), 'the removed server is no longer a replica');
      const again = await apiRequest(sys, '$JS.API.SERVER.REMOVE', { peer: gone.name });
      assert.deepEqual(again.first, { type, error: notMember });
    });
  });
}
