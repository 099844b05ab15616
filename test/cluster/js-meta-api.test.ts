// Clustered JetStream, meta group: the JetStream API of a 3-server cluster with R1 assets, checked
// against nats-server 2.9.10 and tsnats (TSNATS_META=0 skips the tsnats runs). Every request is answered exactly once
// whichever server the client is on; the answers are the JSON nats-server sends. One cluster per
// implementation is shared by the tests of this file (each test uses its own stream names).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import {
  IMPLS, JsCluster, SYS, apiRequest, peerIdOf, pollUntil, skipReason, type JsNode, type MetaCluster,
} from './js-cluster-harness.js';

// server_tags: one tag naming the node (to place a stream on a chosen server) plus shared ones.
const TAGS = [['node:n1', 'az:1', 'ssd'], ['node:n2', 'az:2'], ['node:n3', 'az:3', 'ssd']];

interface ApiError { code: number; err_code: number; description: string }
interface StreamResp {
  type: string;
  error?: ApiError;
  config?: { name: string; max_msgs: number; num_replicas: number; subjects: string[] };
  created?: string;
  did_create?: boolean;
  cluster?: { name: string; leader: string };
  state?: { messages: number };
  success?: boolean;
}
interface NamesResp { type: string; total: number; streams: string[] | null; consumers?: string[] | null; error?: ApiError }
interface ListResp { type: string; total: number; streams: StreamResp[] }

function r1(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 1, storage: 'file', ...extra };
}

/** The stream's directory as nats-server lays it out: <store_dir>/jetstream/<account>/streams/<name>. */
function streamDirOn(n: JsNode, stream: string): boolean {
  return existsSync(join(n.storeDir, 'jetstream', 'APP', 'streams', stream));
}

for (const impl of IMPLS) {
  describe(`meta API on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    before(async () => {
      c = await JsCluster.start({ impl, size: 3, tags: TAGS });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
    });
    after(async () => {
      await c?.shutdown();
    });

    const holders = (stream: string) => c.nodes.filter((n) => streamDirOn(n, stream)).map((n) => n.name);

    test('create, update and delete R1 streams from a client on every server: exactly one reply each', async () => {
      // The three servers' request chains run side by side (their settle windows overlap).
      await Promise.all([0, 1, 2].map(async (i) => {
        const name = `CRUD${i}`;
        const created = await apiRequest<StreamResp>(ncs[i]!, `$JS.API.STREAM.CREATE.${name}`, r1(name));
        assert.equal(created.all.length, 1, `one reply to STREAM.CREATE via ${c.nodes[i]!.name}`);
        const cr = created.first!;
        assert.equal(cr.type, 'io.nats.jetstream.api.v1.stream_create_response');
        assert.equal(cr.error, undefined);
        assert.equal(cr.did_create, true);
        assert.equal(cr.config?.name, name);
        assert.equal(cr.config?.num_replicas, 1);
        assert.equal(cr.cluster?.name, 'C1');
        // The R1 stream lives on exactly the server the reply names as its leader.
        assert.deepEqual(holders(name), [cr.cluster!.leader]);

        const updated = await apiRequest<StreamResp>(ncs[(i + 1) % 3]!, `$JS.API.STREAM.UPDATE.${name}`, r1(name, { max_msgs: 10 }));
        assert.equal(updated.all.length, 1, 'one reply to STREAM.UPDATE');
        assert.equal(updated.first!.type, 'io.nats.jetstream.api.v1.stream_update_response');
        assert.equal(updated.first!.error, undefined);
        assert.equal(updated.first!.config?.max_msgs, 10);
        assert.equal(updated.first!.cluster?.leader, cr.cluster!.leader);
        assert.equal(updated.first!.created, cr.created);

        const deleted = await apiRequest<StreamResp>(ncs[(i + 2) % 3]!, `$JS.API.STREAM.DELETE.${name}`);
        assert.equal(deleted.all.length, 1, 'one reply to STREAM.DELETE');
        assert.deepEqual(deleted.first, { type: 'io.nats.jetstream.api.v1.stream_delete_response', success: true });
        await pollUntil(() => (holders(name).length === 0 ? true : undefined), `${name} removed from disk`);
        const again = await apiRequest<StreamResp>(ncs[i]!, `$JS.API.STREAM.DELETE.${name}`);
        assert.equal(again.all.length, 1);
        assert.deepEqual(again.first!.error, { code: 404, err_code: 10059, description: 'stream not found' });
      }));
    });

    test('consumers: create, info, names and delete from a client on every server, one reply each', async () => {
      const stream = 'CONS';
      const s = await apiRequest<StreamResp>(ncs[0]!, `$JS.API.STREAM.CREATE.${stream}`, r1(stream, { placement: { tags: ['node:n2'] } }));
      assert.equal(s.first?.cluster?.leader, 'n2');
      await Promise.all([0, 1, 2].map(async (i) => {
        const d = `D${i}`;
        const r = await apiRequest<Record<string, unknown>>(ncs[i]!, `$JS.API.CONSUMER.CREATE.${stream}.${d}`,
          { stream_name: stream, config: { durable_name: d, ack_policy: 'explicit' } });
        assert.equal(r.all.length, 1, `one reply to CONSUMER.CREATE via ${c.nodes[i]!.name}`);
        const cr = r.first!;
        assert.equal(cr.type, 'io.nats.jetstream.api.v1.consumer_create_response');
        assert.equal(cr.error, undefined);
        assert.equal(cr.stream_name, stream);
        assert.equal(cr.name, d);
        // An R1 stream's consumers live with it.
        assert.deepEqual(cr.cluster, { name: 'C1', leader: 'n2' });
        const info = await apiRequest<Record<string, unknown>>(ncs[(i + 1) % 3]!, `$JS.API.CONSUMER.INFO.${stream}.${d}`);
        assert.equal(info.all.length, 1, 'one reply to CONSUMER.INFO');
        assert.equal(info.first!.type, 'io.nats.jetstream.api.v1.consumer_info_response');
        assert.equal(info.first!.name, d);
        assert.equal(info.first!.created, cr.created);
      }));
      await Promise.all([0, 1, 2].map(async (i) => {
        const names = await apiRequest<NamesResp>(ncs[i]!, `$JS.API.CONSUMER.NAMES.${stream}`);
        assert.equal(names.all.length, 1);
        assert.equal(names.first!.type, 'io.nats.jetstream.api.v1.consumer_names_response');
        assert.deepEqual([...(names.first!.consumers ?? [])].sort(), ['D0', 'D1', 'D2']);
      }));
      await Promise.all([0, 1, 2].map(async (i) => {
        const del = await apiRequest(ncs[(i + 2) % 3]!, `$JS.API.CONSUMER.DELETE.${stream}.D${i}`);
        assert.equal(del.all.length, 1, 'one reply to CONSUMER.DELETE');
        assert.deepEqual(del.first, { type: 'io.nats.jetstream.api.v1.consumer_delete_response', success: true });
      }));
      const gone = await apiRequest(ncs[1]!, `$JS.API.CONSUMER.DELETE.${stream}.D0`);
      assert.equal(gone.all.length, 1);
      assert.deepEqual(gone.first, {
        type: 'io.nats.jetstream.api.v1.consumer_delete_response',
        error: { code: 404, err_code: 10014, description: 'consumer not found' },
      });
      const info = await apiRequest(ncs[2]!, `$JS.API.CONSUMER.INFO.${stream}.D0`);
      assert.equal(info.all.length, 1);
      assert.deepEqual(info.first, {
        type: 'io.nats.jetstream.api.v1.consumer_info_response',
        error: { code: 404, err_code: 10014, description: 'consumer not found' },
      });
      await apiRequest(ncs[0]!, `$JS.API.STREAM.DELETE.${stream}`, undefined, { settleMs: 0 });
    });

    test('STREAM.NAMES, STREAM.LIST and STREAM.INFO are cluster-wide: every server sees every R1 stream and its holder', async () => {
      const placed = new Map<string, string>();
      await Promise.all(c.nodes.map(async (n) => {
        const name = `LS_${n.name}`;
        const r = await apiRequest<StreamResp>(ncs[0]!, `$JS.API.STREAM.CREATE.${name}`, r1(name, { placement: { tags: [`node:${n.name}`] } }), { settleMs: 0 });
        assert.equal(r.first?.cluster?.leader, n.name, `placement.tags node:${n.name}`);
        placed.set(name, n.name);
      }));
      await Promise.all([0, 1, 2].map(async (i) => {
        const names = await apiRequest<NamesResp>(ncs[i]!, '$JS.API.STREAM.NAMES');
        assert.equal(names.all.length, 1, 'one reply to STREAM.NAMES');
        const nr = names.first!;
        assert.equal(nr.type, 'io.nats.jetstream.api.v1.stream_names_response');
        for (const s of placed.keys()) assert.ok(nr.streams?.includes(s), `${s} listed via ${c.nodes[i]!.name}`);
        assert.equal(nr.total, nr.streams!.length);

        const list = await apiRequest<ListResp>(ncs[i]!, '$JS.API.STREAM.LIST');
        assert.equal(list.all.length, 1, 'one reply to STREAM.LIST');
        assert.equal(list.first!.type, 'io.nats.jetstream.api.v1.stream_list_response');
        for (const [s, holder] of placed) {
          const e = list.first!.streams.find((x) => x.config?.name === s);
          assert.ok(e, `${s} in STREAM.LIST via ${c.nodes[i]!.name}`);
          assert.deepEqual(e.cluster, { name: 'C1', leader: holder });
        }

        await Promise.all([...placed].map(async ([s, holder]) => {
          const info = await apiRequest<StreamResp>(ncs[i]!, `$JS.API.STREAM.INFO.${s}`);
          assert.equal(info.all.length, 1, `one reply to STREAM.INFO.${s} via ${c.nodes[i]!.name}`);
          assert.equal(info.first!.type, 'io.nats.jetstream.api.v1.stream_info_response');
          assert.equal(info.first!.config?.name, s);
          assert.deepEqual(info.first!.cluster, { name: 'C1', leader: holder });
        }));
      }));
      for (const s of placed.keys()) await apiRequest(ncs[1]!, `$JS.API.STREAM.DELETE.${s}`, undefined, { settleMs: 0 });
    });

    test('publish to and consume from an R1 stream through servers that do not hold it', async () => {
      const r = await apiRequest<StreamResp>(ncs[1]!, '$JS.API.STREAM.CREATE.PC', r1('PC', { placement: { tags: ['node:n1'] } }));
      assert.equal(r.first?.cluster?.leader, 'n1');
      const js3 = jetstream(ncs[2]!);
      for (let i = 1; i <= 5; i++) {
        const ack = await js3.publish(`pc.m${i}`, `m${i}`);
        assert.equal(ack.stream, 'PC');
        assert.equal(ack.seq, i);
      }
      const jsm2 = await jetstreamManager(ncs[1]!);
      await jsm2.consumers.add('PC', { durable_name: 'W', ack_policy: AckPolicy.Explicit });
      const consumer = await js3.consumers.get('PC', 'W');
      const got: string[] = [];
      const iter = await consumer.fetch({ max_messages: 5, expires: 5000 });
      for await (const m of iter) {
        got.push(`${m.subject}|${m.string()}`);
        await m.ackAck();
      }
      assert.deepEqual(got, [1, 2, 3, 4, 5].map((i) => `pc.m${i}|m${i}`));
      const ci = await jsm2.consumers.info('PC', 'W');
      assert.equal(ci.num_ack_pending, 0);
      assert.equal(ci.ack_floor.stream_seq, 5);
      const si = await jsm2.streams.info('PC');
      assert.equal(si.state.messages, 5);
      await jsm2.streams.delete('PC');
    });

    test('placement: unknown cluster, too many replicas and unmatched tags fail with 10005; tags choose the server', async () => {
      const noPeers = { code: 400, err_code: 10005, description: 'no suitable peers for placement' };
      const cases: [string, Record<string, unknown>, ApiError][] = [
        ['PL_CLUSTER', r1('PL_CLUSTER', { placement: { cluster: 'NOPE' } }), noPeers],
        ['PL_R5', r1('PL_R5', { num_replicas: 5 }), noPeers],
        ['PL_GPU', r1('PL_GPU', { placement: { tags: ['gpu'] } }),
          { code: 400, err_code: 10005, description: "no suitable peers for placement, tags not matched ['gpu']" }],
        ['PL_SSD3', r1('PL_SSD3', { num_replicas: 3, placement: { tags: ['ssd'] } }),
          { code: 400, err_code: 10005, description: "no suitable peers for placement, tags not matched ['ssd']" }],
      ];
      await Promise.all(cases.map(async ([name, cfg, err]) => {
        const r = await apiRequest<StreamResp>(ncs[2]!, `$JS.API.STREAM.CREATE.${name}`, cfg);
        assert.equal(r.all.length, 1, `one reply for ${name}`);
        assert.deepEqual(r.first, { type: 'io.nats.jetstream.api.v1.stream_create_response', error: err }, name);
      }));
      const names = await apiRequest<NamesResp>(ncs[0]!, '$JS.API.STREAM.NAMES', undefined, { settleMs: 0 });
      for (const [name] of cases) assert.ok(!(names.first!.streams ?? []).includes(name), `${name} was not created`);

      const [az3, ssd, inCluster] = await Promise.all([
        apiRequest<StreamResp>(ncs[0]!, '$JS.API.STREAM.CREATE.PL_AZ3', r1('PL_AZ3', { placement: { tags: ['ssd', 'az:3'] } })),
        apiRequest<StreamResp>(ncs[1]!, '$JS.API.STREAM.CREATE.PL_SSD', r1('PL_SSD', { placement: { tags: ['ssd'] } })),
        apiRequest<StreamResp>(ncs[1]!, '$JS.API.STREAM.CREATE.PL_C1', r1('PL_C1', { placement: { cluster: 'C1' } })),
      ]);
      assert.equal(az3.all.length, 1);
      assert.equal(az3.first!.did_create, true);
      assert.deepEqual(az3.first!.cluster, { name: 'C1', leader: 'n3' });
      assert.deepEqual(az3.first!.config && (az3.first!.config as unknown as { placement: unknown }).placement, { tags: ['ssd', 'az:3'] });
      assert.deepEqual(holders('PL_AZ3'), ['n3']);
      assert.equal(ssd.all.length, 1);
      assert.ok(['n1', 'n3'].includes(ssd.first!.cluster!.leader), `ssd stream on an ssd server, got ${ssd.first!.cluster!.leader}`);
      assert.equal(inCluster.all.length, 1);
      assert.equal(inCluster.first!.did_create, true);
      for (const s of ['PL_AZ3', 'PL_SSD', 'PL_C1']) await apiRequest(ncs[0]!, `$JS.API.STREAM.DELETE.${s}`, undefined, { settleMs: 0 });
    });

    test('an unknown stream gets 10059 "stream not found" from exactly one server, whichever server is asked', async () => {
      const notFound = { code: 404, err_code: 10059, description: 'stream not found' };
      await Promise.all([0, 1, 2].map(async (i) => {
        const info = await apiRequest<StreamResp>(ncs[i]!, '$JS.API.STREAM.INFO.NOPE');
        assert.equal(info.all.length, 1, `one reply to STREAM.INFO via ${c.nodes[i]!.name}`);
        // 2.9.10 puts the paging fields of the info response after the error.
        assert.deepEqual(info.first, { type: 'io.nats.jetstream.api.v1.stream_info_response', error: notFound, total: 0, offset: 0, limit: 0 });
        const upd = await apiRequest<StreamResp>(ncs[i]!, '$JS.API.STREAM.UPDATE.NOPE', r1('NOPE'));
        assert.equal(upd.all.length, 1);
        assert.deepEqual(upd.first, { type: 'io.nats.jetstream.api.v1.stream_update_response', error: notFound });
        const del = await apiRequest<StreamResp>(ncs[i]!, '$JS.API.STREAM.DELETE.NOPE');
        assert.equal(del.all.length, 1);
        assert.deepEqual(del.first, { type: 'io.nats.jetstream.api.v1.stream_delete_response', error: notFound });
        const cons = await apiRequest<StreamResp>(ncs[i]!, '$JS.API.CONSUMER.CREATE.NOPE.D',
          { stream_name: 'NOPE', config: { durable_name: 'D', ack_policy: 'explicit' } });
        assert.equal(cons.all.length, 1);
        assert.deepEqual(cons.first, { type: 'io.nats.jetstream.api.v1.consumer_create_response', error: notFound });
      }));
    });

    test('an identical create is idempotent; a different config is 10058; overlapping subjects are 10065', async () => {
      const first = await apiRequest<StreamResp>(ncs[0]!, '$JS.API.STREAM.CREATE.IDEM', r1('IDEM'));
      assert.equal(first.first!.did_create, true);
      const again = await apiRequest<StreamResp>(ncs[1]!, '$JS.API.STREAM.CREATE.IDEM', r1('IDEM'));
      assert.equal(again.all.length, 1);
      assert.equal(again.first!.error, undefined);
      assert.equal(again.first!.did_create, undefined, 'no did_create on the second create');
      assert.equal(again.first!.created, first.first!.created);
      assert.deepEqual(again.first!.cluster, first.first!.cluster);
      const diff = await apiRequest<StreamResp>(ncs[2]!, '$JS.API.STREAM.CREATE.IDEM', r1('IDEM', { max_msgs: 3 }));
      assert.equal(diff.all.length, 1);
      assert.deepEqual(diff.first, {
        type: 'io.nats.jetstream.api.v1.stream_create_response',
        error: { code: 400, err_code: 10058, description: 'stream name already in use with a different configuration' },
      });
      const overlap = await apiRequest<StreamResp>(ncs[2]!, '$JS.API.STREAM.CREATE.OVL', { ...r1('OVL'), subjects: ['idem.x'] });
      assert.equal(overlap.all.length, 1);
      assert.deepEqual(overlap.first, {
        type: 'io.nats.jetstream.api.v1.stream_create_response',
        error: { code: 400, err_code: 10065, description: 'subjects overlap with an existing stream' },
      });
      await apiRequest(ncs[0]!, '$JS.API.STREAM.DELETE.IDEM', undefined, { settleMs: 0 });
    });

    test('concurrent identical creates through every server: one stream, created once; the others get it without did_create', async () => {
      for (let k = 0; k < 2; k++) {
        const name = `CONC${k}`;
        // Two requests per server, all in flight together.
        const rs = await Promise.all([0, 1, 2, 0, 1, 2].map((i) => apiRequest<StreamResp>(ncs[i]!, `$JS.API.STREAM.CREATE.${name}`, r1(name))));
        for (const r of rs) {
          assert.equal(r.all.length, 1, 'one reply per request');
          assert.equal(r.first!.error, undefined);
        }
        assert.equal(rs.filter((r) => r.first!.did_create === true).length, 1, 'exactly one reply says did_create');
        assert.equal(new Set(rs.map((r) => r.first!.created)).size, 1, 'every reply describes the same stream');
        assert.equal(holders(name).length, 1);
        const cons = await Promise.all([0, 1, 2].map((i) => apiRequest<{ created?: string; error?: unknown }>(ncs[i]!, `$JS.API.CONSUMER.CREATE.${name}.D`,
          { stream_name: name, config: { durable_name: 'D', ack_policy: 'explicit' } })));
        for (const r of cons) {
          assert.equal(r.all.length, 1);
          assert.equal(r.first!.error, undefined);
        }
        assert.equal(new Set(cons.map((r) => r.first!.created)).size, 1, 'one consumer');
        await apiRequest(ncs[0]!, `$JS.API.STREAM.DELETE.${name}`, undefined, { settleMs: 0 });
      }
    });

    test('bad requests and stream-level operations from any server: one reply each, nats-server\'s errors, the stream intact', async () => {
      const cfg = r1('BAD', { placement: { tags: ['node:n2'] } });
      const created = await apiRequest<StreamResp>(ncs[0]!, '$JS.API.STREAM.CREATE.BAD', cfg, { settleMs: 0 });
      assert.equal(created.first?.did_create, true);
      const createType = 'io.nats.jetstream.api.v1.stream_create_response';
      const updateType = 'io.nats.jetstream.api.v1.stream_update_response';
      const cases: [string, unknown, unknown][] = [
        ['$JS.API.STREAM.UPDATE.BAD', { ...cfg, storage: 'memory' },
          { type: updateType, error: { code: 500, err_code: 10052, description: 'stream configuration update can not change storage type' } }],
        ['$JS.API.STREAM.UPDATE.BAD', { ...cfg, name: 'OTHER' },
          { type: updateType, error: { code: 400, err_code: 10056, description: 'stream name in subject does not match request' } }],
        ['$JS.API.STREAM.CREATE.BAD2', r1('OTHER2'),
          { type: createType, error: { code: 400, err_code: 10056, description: 'stream name in subject does not match request' } }],
      ];
      await Promise.all(cases.map(async ([subject, body, want], k) => {
        const r = await apiRequest(ncs[k % 3]!, subject, body);
        assert.equal(r.all.length, 1, `one reply to ${subject} ${JSON.stringify(body)}`);
        assert.deepEqual(r.first, want);
      }));
      // A body that is not a stream config: 10025. 2.9.10 says just "invalid JSON"; newer servers (and
      // tsnats' single-server API, on purpose) append the decoder's message: "invalid JSON: json: ...".
      await Promise.all([['$JS.API.STREAM.UPDATE.BAD', updateType], ['$JS.API.STREAM.CREATE.BAD3', createType]].map(async ([subject, type], k) => {
        const r = await apiRequest<StreamResp>(ncs[k % 3]!, subject!, 'not json');
        assert.equal(r.all.length, 1, `one reply to ${subject}`);
        assert.equal(r.first!.type, type);
        assert.deepEqual([r.first!.error?.code, r.first!.error?.err_code], [400, 10025]);
        assert.match(r.first!.error!.description, /^invalid JSON(: .+)?$/);
      }));
      const info = await apiRequest<StreamResp>(ncs[2]!, '$JS.API.STREAM.INFO.BAD');
      assert.equal((info.first!.config as unknown as { storage: string }).storage, 'file', 'the refused update left the stream as it was');
      assert.equal(info.first!.config?.name, 'BAD');

      // The same durable twice is the same consumer; a different ack policy is refused.
      const durable = { stream_name: 'BAD', config: { durable_name: 'DUR', ack_policy: 'explicit' } };
      const d1 = await apiRequest<Record<string, unknown>>(ncs[0]!, '$JS.API.CONSUMER.CREATE.BAD.DUR', durable);
      const d2 = await apiRequest<Record<string, unknown>>(ncs[1]!, '$JS.API.CONSUMER.CREATE.BAD.DUR', durable);
      assert.equal(d2.all.length, 1);
      assert.equal(d2.first!.error, undefined);
      assert.equal(d2.first!.created, d1.first!.created);
      const d3 = await apiRequest(ncs[2]!, '$JS.API.CONSUMER.CREATE.BAD.DUR', { stream_name: 'BAD', config: { durable_name: 'DUR', ack_policy: 'none' } });
      assert.equal(d3.all.length, 1);
      assert.deepEqual(d3.first, {
        type: 'io.nats.jetstream.api.v1.consumer_create_response',
        error: { code: 500, err_code: 10012, description: 'ack policy can not be updated' },
      });
      // An ephemeral consumer, created through a server that does not hold the stream.
      const eph = await apiRequest<{ name?: string; cluster?: unknown; config?: Record<string, unknown> }>(ncs[2]!, '$JS.API.CONSUMER.CREATE.BAD',
        { stream_name: 'BAD', config: { ack_policy: 'none' } });
      assert.equal(eph.all.length, 1);
      assert.equal(typeof eph.first!.name, 'string');
      assert.equal(eph.first!.name!.length, 8);
      assert.deepEqual(eph.first!.cluster, { name: 'C1', leader: 'n2' });
      assert.equal(eph.first!.config?.inactive_threshold, 5_000_000_000);

      // Messages: get, delete and purge through the servers that do not hold the stream.
      for (let i = 1; i <= 3; i++) await ncs[0]!.request('bad.x', `m${i}`);
      const get = await apiRequest<{ message?: { seq: number; subject: string; data: string } }>(ncs[0]!, '$JS.API.STREAM.MSG.GET.BAD', { seq: 2 });
      assert.equal(get.all.length, 1);
      assert.deepEqual([get.first!.message?.seq, get.first!.message?.subject, Buffer.from(get.first!.message!.data, 'base64').toString()], [2, 'bad.x', 'm2']);
      const del = await apiRequest(ncs[2]!, '$JS.API.STREAM.MSG.DELETE.BAD', { seq: 2 });
      assert.equal(del.all.length, 1);
      assert.deepEqual(del.first, { type: 'io.nats.jetstream.api.v1.stream_msg_delete_response', success: true });
      const purge = await apiRequest(ncs[0]!, '$JS.API.STREAM.PURGE.BAD');
      assert.equal(purge.all.length, 1);
      assert.deepEqual(purge.first, { type: 'io.nats.jetstream.api.v1.stream_purge_response', success: true, purged: 2 });

      // ACCOUNT INFO: one reply from whichever server, the same counts; deleting the stream drops them.
      const counts = async () => Promise.all(ncs.map(async (nc) => {
        const r = await apiRequest<{ type: string; streams: number; consumers: number }>(nc, '$JS.API.INFO');
        assert.equal(r.all.length, 1);
        assert.equal(r.first!.type, 'io.nats.jetstream.api.v1.account_info_response');
        return [r.first!.streams, r.first!.consumers];
      }));
      const before = await counts();
      assert.ok(before.every((x) => x[0] === before[0]![0] && x[1] === before[0]![1]), `same counts everywhere: ${JSON.stringify(before)}`);
      assert.ok(before[0]![0]! >= 1 && before[0]![1]! >= 2);
      await apiRequest(ncs[1]!, '$JS.API.STREAM.DELETE.BAD', undefined, { settleMs: 0 });
      const afterDel = await counts();
      assert.ok(afterDel.every((x) => x[0] === before[0]![0]! - 1 && x[1] === before[0]![1]! - 2), `one stream and two consumers fewer: ${JSON.stringify(afterDel)}`);
    });

    test('/jsz meta_cluster: the leader lists the other peers as replicas; followers name the leader', async () => {
      const leader = await c.metaLeader();
      for (const n of c.nodes) {
        const m = (await c.metaOf(n))!;
        assert.equal(m.name, 'C1');
        assert.equal(m.leader, leader.name);
        // 2.9.10 reports the leader's peer id in `peer` on every server.
        assert.equal(m.peer, peerIdOf(leader.name));
        assert.equal(m.cluster_size, 3);
        if (n === leader) {
          const reps = [...(m.replicas ?? [])].sort((a, b) => a.name.localeCompare(b.name));
          assert.deepEqual(reps.map((r) => r.name), c.nodes.filter((x) => x !== leader).map((x) => x.name));
          for (const r of reps) {
            assert.equal(r.current, true);
            assert.equal(typeof r.active, 'number');
            assert.equal(r.peer, peerIdOf(r.name));
            assert.equal(r.offline, undefined);
          }
          assert.deepEqual(Object.keys(m).sort(), ['cluster_size', 'leader', 'name', 'peer', 'replicas']);
        } else {
          // 2.9.10 lists replicas only on the leader.
          assert.deepEqual(Object.keys(m).sort(), ['cluster_size', 'leader', 'name', 'peer']);
        }
      }
      // The ids are nats-server's hash of the server name (the vectors' n1).
      assert.equal(peerIdOf('n1'), 'fjFyEjc1');
      // /jsz?leader-only=true answers on the meta leader only.
      for (const n of c.nodes) {
        const r = await fetch(`${n.monitorUrl}/jsz?leader-only=true`);
        const body = await r.text();
        if (n === leader) {
          assert.equal(r.status, 200);
          assert.equal((JSON.parse(body) as { meta_cluster: MetaCluster }).meta_cluster.leader, leader.name);
        } else {
          assert.equal(r.status, 400);
          assert.equal(body, 'filtered response: not leader');
        }
      }
    });

    test('META.LEADER.STEPDOWN from the system account: success, a different leader, and the API keeps working', async () => {
      const old = await c.metaLeader();
      const sys = await c.connect(c.nodes[(old.index + 1) % 3]!, SYS);
      const r = await apiRequest(sys, '$JS.API.META.LEADER.STEPDOWN');
      assert.equal(r.all.length, 1, 'one reply to META.LEADER.STEPDOWN');
      assert.deepEqual(r.first, { type: 'io.nats.jetstream.api.v1.meta_leader_stepdown_response', success: true });
      const now = await c.waitMetaLeader({ not: old.name });
      assert.notEqual(now.name, old.name);
      const meta: MetaCluster = (await c.metaOf(old))!;
      assert.equal(meta.leader, now.name);
      const created = await apiRequest<StreamResp>(ncs[old.index]!, '$JS.API.STREAM.CREATE.AFTER_SD', r1('AFTER_SD'));
      assert.equal(created.all.length, 1);
      assert.equal(created.first!.did_create, true);
      await apiRequest(ncs[0]!, '$JS.API.STREAM.DELETE.AFTER_SD', undefined, { settleMs: 0 });
    });
  });
}
