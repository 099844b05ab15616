// Clustered JetStream across implementations (issue 11, meta group): nats-server 2.9.10 and tsnats
// nodes in one cluster — 2 nats-server + 1 tsnats and 1 nats-server + 2 tsnats. The meta group forms
// with all three as members and every server reports the same meta_cluster; either kind can lead
// (forced with META.LEADER.STEPDOWN); R1 streams and consumers placed on any node (a tsnats node
// included, placed by a Go leader from the statsz tsnats publishes) are seen from every server with
// exactly one reply; messages are published and consumed through either kind.
// Skipped, saying so, where nats-server is missing (an error under CI=true).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import {
  JsCluster, SYS, apiRequest, peerIdOf, pollUntil, skipReason, type Impl, type JsNode,
} from './js-cluster-harness.js';
import { MIXES, leadMeta } from './js-mixed-helpers.js';

const TAGS = [['node:n1'], ['node:n2'], ['node:n3']];


interface ApiError { code: number; err_code: number; description: string }
interface StreamResp {
  type: string;
  error?: ApiError;
  config?: { name: string; num_replicas: number };
  did_create?: boolean;
  cluster?: { name: string; leader: string };
  state?: { messages: number };
}
interface NamesResp { type: string; total: number; streams: string[] | null; consumers?: string[] | null; error?: ApiError }
interface ConsumerResp { type: string; error?: ApiError; name?: string; stream_name?: string; cluster?: { name: string; leader: string } }

for (const mix of MIXES) {
  describe(`meta group of a mixed cluster: ${mix.label}`, { skip: skipReason('nats-server') }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    let sys: NatsConnection;
    before(async () => {
      c = await JsCluster.start({ impl: 'nats-server', size: 3, impls: mix.impls, tags: TAGS });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
      sys = await c.connect(c.nodes[0]!, SYS);
    });
    after(async () => {
      await c?.shutdown();
    });

    const leadBy = (kind: Impl): Promise<JsNode> => leadMeta(c, sys, kind);

    test('the meta group forms with all three servers; /jsz meta_cluster agrees on every server', async () => {
      const leader = await c.waitMetaLeader();
      const metas = await Promise.all(c.nodes.map((n) => c.metaOf(n)));
      for (const [i, m] of metas.entries()) {
        const who = `${c.nodes[i]!.name} (${c.nodes[i]!.impl})`;
        assert.equal(m?.name, 'C1', who);
        assert.equal(m?.leader, leader.name, who);
        assert.equal(m?.peer, peerIdOf(leader.name), who);
        assert.equal(m?.cluster_size, 3, who);
      }
      const lm = metas[leader.index]!;
      const replicas = (lm.replicas ?? []).map((r) => ({ name: r.name, current: r.current, peer: r.peer }))
        .sort((a, b) => a.name.localeCompare(b.name));
      const others = c.nodes.filter((n) => n !== leader).map((n) => ({ name: n.name, current: true, peer: peerIdOf(n.name) }));
      assert.deepEqual(replicas, others);
    });

    for (const kind of ['nats-server', 'tsnats'] as Impl[]) {
      test(`${kind} meta leader: R1 streams and consumers on every node, seen from every server; messages through either kind`, async () => {
        const leader = await leadBy(kind);
        assert.equal(leader.impl, kind);
        const tag = kind === 'tsnats' ? 'TL' : 'GL';
        const names = c.nodes.map((n) => `${tag}_${n.name.toUpperCase()}`);

        // One R1 stream on each node, each created through a different server.
        await Promise.all(c.nodes.map(async (n, i) => {
          const via = c.nodes[(i + 1) % 3]!;
          const cfg = { name: names[i], subjects: [`${names[i]!.toLowerCase()}.>`], num_replicas: 1, storage: 'file', placement: { tags: [`node:${n.name}`] } };
          const r = await apiRequest<StreamResp>(ncs[via.index]!, `$JS.API.STREAM.CREATE.${names[i]}`, cfg);
          assert.equal(r.all.length, 1, `one reply to STREAM.CREATE ${names[i]} via ${via.name} (${via.impl})`);
          assert.equal(r.first!.error, undefined, `STREAM.CREATE ${names[i]} via ${via.name}: ${JSON.stringify(r.first)}`);
          assert.equal(r.first!.type, 'io.nats.jetstream.api.v1.stream_create_response');
          assert.equal(r.first!.did_create, true);
          assert.deepEqual(r.first!.cluster, { name: 'C1', leader: n.name });
        }));

        // A repeated create with the same config is answered (idempotent) through every server, whoever holds it.
        await Promise.all(c.nodes.map(async (n, i) => {
          const cfg = { name: names[i], subjects: [`${names[i]!.toLowerCase()}.>`], num_replicas: 1, storage: 'file', placement: { tags: [`node:${n.name}`] } };
          for (const via of c.nodes) {
            const r = await apiRequest<StreamResp>(ncs[via.index]!, `$JS.API.STREAM.CREATE.${names[i]}`, cfg);
            assert.equal(r.all.length, 1, `one reply to a repeated STREAM.CREATE ${names[i]} via ${via.name} (${via.impl})`);
            assert.equal(r.first!.error, undefined, JSON.stringify(r.first));
            assert.equal(r.first!.type, 'io.nats.jetstream.api.v1.stream_create_response');
            assert.equal(r.first!.config?.name, names[i]);
            assert.deepEqual(r.first!.cluster, { name: 'C1', leader: n.name });
          }
        }));

        // Every server lists and describes all of them, with one reply.
        await Promise.all(c.nodes.map(async (via) => {
          const r = await apiRequest<NamesResp>(ncs[via.index]!, '$JS.API.STREAM.NAMES', {});
          assert.equal(r.all.length, 1, `one reply to STREAM.NAMES via ${via.name} (${via.impl})`);
          assert.equal(r.first!.type, 'io.nats.jetstream.api.v1.stream_names_response');
          assert.deepEqual((r.first!.streams ?? []).filter((s) => s.startsWith(`${tag}_`)).sort(), [...names].sort());
          for (const [i, s] of names.entries()) {
            const info = await apiRequest<StreamResp>(ncs[via.index]!, `$JS.API.STREAM.INFO.${s}`);
            assert.equal(info.all.length, 1, `one reply to STREAM.INFO ${s} via ${via.name} (${via.impl})`);
            assert.equal(info.first!.type, 'io.nats.jetstream.api.v1.stream_info_response');
            assert.equal(info.first!.config?.name, s);
            assert.deepEqual(info.first!.cluster, { name: 'C1', leader: c.nodes[i]!.name });
          }
        }));

        // A durable on every stream, created through the next server; every server lists it.
        await Promise.all(names.map(async (s, i) => {
          const via = c.nodes[(i + 2) % 3]!;
          const r = await apiRequest<ConsumerResp>(ncs[via.index]!, `$JS.API.CONSUMER.CREATE.${s}.D`,
            { stream_name: s, config: { durable_name: 'D', ack_policy: 'explicit' } });
          assert.equal(r.all.length, 1, `one reply to CONSUMER.CREATE ${s}.D via ${via.name} (${via.impl})`);
          assert.equal(r.first!.error, undefined, JSON.stringify(r.first));
          assert.equal(r.first!.type, 'io.nats.jetstream.api.v1.consumer_create_response');
          assert.deepEqual(r.first!.cluster, { name: 'C1', leader: c.nodes[i]!.name });
        }));
        await Promise.all(c.nodes.map(async (via) => {
          for (const s of names) {
            const r = await apiRequest<NamesResp>(ncs[via.index]!, `$JS.API.CONSUMER.NAMES.${s}`, {});
            assert.equal(r.all.length, 1, `one reply to CONSUMER.NAMES ${s} via ${via.name} (${via.impl})`);
            assert.deepEqual(r.first!.consumers, ['D']);
          }
        }));

        // Publish to every stream through every server; consume each stream through every server.
        for (const [i, s] of names.entries()) {
          for (const via of c.nodes) {
            const ack = await jetstream(ncs[via.index]!).publish(`${s.toLowerCase()}.x`, `from ${via.name}`);
            assert.equal(ack.stream, s);
            assert.equal(ack.seq, via.index + 1, `seq of the publish via ${via.name} (${via.impl}) to ${s} on ${c.nodes[i]!.name}`);
          }
          for (const via of c.nodes) {
            const cons = await jetstream(ncs[via.index]!).consumers.get(s, 'D');
            const m = await cons.next({ expires: 5_000 });
            assert.ok(m, `a message of ${s} through ${via.name} (${via.impl})`);
            assert.equal(m.seq, via.index + 1);
            assert.equal(m.string(), `from ${c.nodes[via.index]!.name}`);
            await m.ackAck();
          }
          const info = await apiRequest<{ num_ack_pending: number; delivered: { stream_seq: number }; ack_floor: { stream_seq: number } }>(
            ncs[(i + 1) % 3]!, `$JS.API.CONSUMER.INFO.${s}.D`);
          assert.equal(info.first!.delivered.stream_seq, 3);
          assert.equal(info.first!.ack_floor.stream_seq, 3);
          assert.equal(info.first!.num_ack_pending, 0);
        }

        // Deleting through any server removes them everywhere.
        await Promise.all(names.map(async (s, i) => {
          const via = c.nodes[(i + 1) % 3]!;
          const r = await apiRequest(ncs[via.index]!, `$JS.API.STREAM.DELETE.${s}`);
          assert.equal(r.all.length, 1, `one reply to STREAM.DELETE ${s} via ${via.name} (${via.impl})`);
          assert.deepEqual(r.first, { type: 'io.nats.jetstream.api.v1.stream_delete_response', success: true });
        }));
        await Promise.all(c.nodes.map((via) => pollUntil(async () => {
          const r = await apiRequest<NamesResp>(ncs[via.index]!, '$JS.API.STREAM.NAMES', {}, { settleMs: 0 });
          return (r.first?.streams ?? []).some((s) => s.startsWith(`${tag}_`)) ? undefined : true;
        }, `${tag} streams gone on ${via.name}`)));
      });
    }
  });
}
