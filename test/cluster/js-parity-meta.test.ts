// Parity of the meta layer (nats-server jetstream_cluster.go) for behaviour no other test shows:
// - jsClusteredConsumerListRequest: CONSUMER.LIST (and NAMES) of an R1 and of an R3 stream, asked
//   through every server, is answered once with every consumer;
// - createRaftGroup / processClusterDeleteStream: every peer of an R3 stream has the group's
//   directory under <system account>/_js_ with a peers.idx naming the three peers; the delete removes it;
// - processConsumerAssignmentResults: a consumer the meta leader accepted but the stream's server
//   refuses (on a workqueue stream, one that does not deliver all) is answered once with that server's error and
//   its assignment is taken back, so no server lists it and the name can be created again.
// - processStreamAssignmentResults: a stream update the stream's server refuses (a storage change:
//   nats-server's meta leader refuses it itself, tsnats's holder after the assignment) leaves the
//   assigned config as it was: the original create is idempotent again, a valid update works.
// - processConsumerLeaderChange / sendConsumerLeaderElectAdvisory: CONSUMER.LEADER.STEPDOWN of an
//   R3 durable is answered once and the new leader announces itself on
//   $JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.<stream>.<consumer> with the replicas.
// - processConsumerAssignmentResults when the stream's server is the meta leader itself: a consumer
//   update it refuses (deliver policy) leaves the assigned config, so the original config is still
//   "the same consumer" for a create.
// Run against nats-server 2.9.10 and tsnats with the same assertions; one cluster per implementation.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { decodePeerState } from '../../src/raft/codec.js';
import { IMPLS, JsCluster, apiRequest, peerIdOf, pollUntil, skipReason, streamInfoWithLeader, type JsNode } from './js-cluster-harness.js';

interface ApiError { code: number; err_code: number; description: string }
interface ConsumerInfo { name: string; stream_name: string; config: { durable_name?: string; filter_subject?: string } }
interface ListResp { type: string; total: number; consumers: ConsumerInfo[] | null; error?: ApiError }
interface NamesResp { type: string; total: number; consumers: string[] | null; error?: ApiError }
interface CreateResp { type: string; name?: string; error?: ApiError }

const CREATE_T = 'io.nats.jetstream.api.v1.consumer_create_response';

for (const impl of IMPLS) {
  describe(`meta parity on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    before(async () => {
      c = await JsCluster.start({ impl, size: 3 });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
    });
    after(async () => {
      await c?.shutdown();
    });

    async function createConsumer(i: number, stream: string, name: string, cfg: Record<string, unknown> = {}) {
      const r = await apiRequest<CreateResp>(ncs[i]!, `$JS.API.CONSUMER.CREATE.${stream}.${name}`,
        { stream_name: stream, config: { durable_name: name, ack_policy: 'explicit', ...cfg } }, { waitMs: 30_000 });
      assert.equal(r.all.length, 1, `one reply to CONSUMER.CREATE ${stream}.${name}`);
      return r.first!;
    }

    /** CONSUMER.LIST and NAMES through every server once every server agrees on `want` (sorted). */
    async function listedEverywhere(stream: string, want: string[]): Promise<void> {
      for (let i = 0; i < 3; i++) {
        // A consumer's leader may still be starting right after the create: wait for the full
        // list, then check that the answer came once and in nats-server's shape.
        const list = await pollUntil(async () => {
          const r = await apiRequest<ListResp>(ncs[i]!, `$JS.API.CONSUMER.LIST.${stream}`);
          const names = (r.first?.consumers ?? []).map((x) => x.name).sort();
          return JSON.stringify(names) === JSON.stringify(want) ? r : undefined;
        }, `CONSUMER.LIST of ${stream} via ${c.nodes[i]!.name} = ${want.join(',')}`, 30_000, 100);
        assert.equal(list.all.length, 1, `one reply to CONSUMER.LIST via ${c.nodes[i]!.name}`);
        const l = list.first!;
        assert.equal(l.type, 'io.nats.jetstream.api.v1.consumer_list_response');
        assert.equal(l.total, want.length);
        for (const ci of l.consumers ?? []) {
          assert.equal(ci.stream_name, stream);
          assert.equal(ci.config.durable_name, ci.name);
        }
        const names = await apiRequest<NamesResp>(ncs[i]!, `$JS.API.CONSUMER.NAMES.${stream}`);
        assert.equal(names.all.length, 1, `one reply to CONSUMER.NAMES via ${c.nodes[i]!.name}`);
        assert.equal(names.first!.type, 'io.nats.jetstream.api.v1.consumer_names_response');
        assert.deepEqual([...(names.first!.consumers ?? [])].sort(), want);
      }
    }

    /** The stream raft group directories (`S-R3F-...`) on node n. */
    const streamGroupDirs = (n: JsNode): string[] => {
      const dir = join(n.storeDir, 'jetstream', 'SYS', '_js_'); // the harness's system account is SYS
      return existsSync(dir) ? readdirSync(dir).filter((d) => d.startsWith('S-R3')).map((d) => join(dir, d)) : [];
    };

    test('an R3 stream\'s raft group: its directory and peers.idx on every peer, gone after the delete', async () => {
      const stream = 'GROUP3';
      const s = await apiRequest<{ error?: ApiError }>(ncs[2]!, `$JS.API.STREAM.CREATE.${stream}`,
        { name: stream, subjects: ['group3.>'], num_replicas: 3, storage: 'file' });
      assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
      await streamInfoWithLeader(ncs[0]!, stream);
      const peers = c.nodes.map((n) => peerIdOf(n.name)).sort();
      for (const n of c.nodes) {
        const dirs = await pollUntil(async () => {
          const d = streamGroupDirs(n).filter((x) => existsSync(join(x, 'peers.idx')));
          return d.length === 1 ? d : undefined;
        }, `one R3 stream group with peers.idx on ${n.name}`, 30_000, 100);
        const ps = decodePeerState(readFileSync(join(dirs[0]!, 'peers.idx')));
        assert.ok(!(ps instanceof Error), `peers.idx of ${n.name} decodes`);
        assert.deepEqual([...ps.knownPeers].sort(), peers, `the group's peers in ${n.name}'s peers.idx`);
        assert.equal(ps.clusterSize, 3);
      }
      const del = await apiRequest<{ success?: boolean }>(ncs[1]!, `$JS.API.STREAM.DELETE.${stream}`, undefined, { waitMs: 30_000 });
      // nats-server 2.9.10 lets every member that knows no stream leader answer too (a follower
      // that has not heard from the new leader yet, on a loaded machine): one or more successes
      // there; tsnats answers once, from the stream leader or the meta leader.
      if (impl === 'tsnats') assert.equal(del.all.length, 1, 'one reply to STREAM.DELETE');
      assert.ok(del.all.length >= 1 && del.all.every((r) => r.success === true), JSON.stringify(del.all));
      for (const n of c.nodes) {
        await pollUntil(async () => (streamGroupDirs(n).length === 0 ? true : undefined), `no stream group dir left on ${n.name}`, 30_000, 100);
      }
    });

    for (const replicas of [1, 3]) {
      test(`CONSUMER.LIST of an R${replicas} stream: one reply through every server, every consumer listed`, async () => {
        const stream = `LIST${replicas}`;
        const s = await apiRequest<{ error?: ApiError }>(ncs[0]!, `$JS.API.STREAM.CREATE.${stream}`,
          { name: stream, subjects: [`list${replicas}.>`], num_replicas: replicas, storage: 'file' }, { waitMs: 30_000 });
        assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
        await streamInfoWithLeader(ncs[1]!, stream);
        for (let i = 0; i < 3; i++) {
          const r = await createConsumer(i, stream, `D${i}`);
          assert.equal(r.error, undefined, JSON.stringify(r));
        }
        await listedEverywhere(stream, ['D0', 'D1', 'D2']);
        const del = await apiRequest(ncs[2]!, `$JS.API.CONSUMER.DELETE.${stream}.D1`);
        assert.equal(del.all.length, 1);
        await listedEverywhere(stream, ['D0', 'D2']);
        await apiRequest(ncs[0]!, `$JS.API.STREAM.DELETE.${stream}`, undefined, { settleMs: 0 });
      });
    }

    test('a consumer the stream\'s server refuses: its error once, the assignment taken back, the name free again', async () => {
      const stream = 'REFUSE';
      const s = await apiRequest<{ error?: ApiError }>(ncs[0]!, `$JS.API.STREAM.CREATE.${stream}`,
        { name: stream, subjects: ['refuse.>'], num_replicas: 1, storage: 'file', retention: 'workqueue' });
      assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
      // The meta leader checks the consumer's own config; the workqueue rules are the stream's
      // server's (nats-server addConsumerWithAssignment), which refuses after the assignment.
      const consumersInMeta = async (i: number) => {
        const r = await apiRequest<{ consumers: number }>(ncs[i]!, '$JS.API.INFO', undefined, { settleMs: 0 });
        return r.first!.consumers;
      };
      const base = await consumersInMeta(0);
      const bad = await createConsumer(1, stream, 'BAD', { deliver_policy: 'last' });
      assert.equal(bad.type, CREATE_T);
      assert.deepEqual(bad.error, { code: 400, err_code: 10101, description: 'consumer must be deliver all on workqueue stream' });
      // The leader removes the refused assignment: the account's consumer count (the meta
      // leader's, from the assignments) is back where it was; no server lists the name.
      for (let i = 0; i < 3; i++) {
        await pollUntil(async () => ((await consumersInMeta(i)) === base ? true : undefined),
          `ACCOUNT INFO via ${c.nodes[i]!.name}: ${base} consumers again`, 30_000, 100);
        await pollUntil(async () => {
          const n = await apiRequest<NamesResp>(ncs[i]!, `$JS.API.CONSUMER.NAMES.${stream}`, undefined, { settleMs: 0 });
          return n.first && (n.first.consumers ?? []).length === 0 ? true : undefined;
        }, `BAD gone from CONSUMER.NAMES via ${c.nodes[i]!.name}`, 30_000, 100);
        const info = await apiRequest(ncs[i]!, `$JS.API.CONSUMER.INFO.${stream}.BAD`);
        assert.equal(info.all.length, 1);
        assert.deepEqual(info.first, {
          type: 'io.nats.jetstream.api.v1.consumer_info_response',
          error: { code: 404, err_code: 10014, description: 'consumer not found' },
        });
      }
      // The same name with a valid configuration is a new consumer (no "already exists").
      const good = await pollUntil(async () => {
        const r = await createConsumer(2, stream, 'BAD', { deliver_policy: 'all' });
        return r.error === undefined ? r : undefined;
      }, 'the valid create of BAD', 30_000, 200);
      assert.equal(good.type, CREATE_T);
      assert.equal(good.name, 'BAD');
      await apiRequest(ncs[0]!, `$JS.API.STREAM.DELETE.${stream}`, undefined, { settleMs: 0 });
    });

    test('a stream update the stream\'s server refuses: its error once, the assigned config unchanged', async () => {
      const stream = 'UPD';
      const cfg = { name: stream, subjects: ['upd.>'], num_replicas: 1, storage: 'file' };
      const s = await apiRequest<{ error?: ApiError }>(ncs[0]!, `$JS.API.STREAM.CREATE.${stream}`, cfg, { waitMs: 30_000 });
      assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
      const bad = await apiRequest<{ type: string; error?: ApiError }>(ncs[1]!, `$JS.API.STREAM.UPDATE.${stream}`,
        { ...cfg, storage: 'memory' }, { waitMs: 30_000 });
      assert.equal(bad.all.length, 1, 'one reply to the refused STREAM.UPDATE');
      assert.equal(bad.first!.type, 'io.nats.jetstream.api.v1.stream_update_response');
      assert.deepEqual(bad.first!.error, { code: 500, err_code: 10052, description: 'stream configuration update can not change storage type' });
      // Were the refused config still assigned, the original create would be 10058 (another config).
      const again = await pollUntil(async () => {
        const r = await apiRequest<{ error?: ApiError; config?: { storage: string } }>(ncs[2]!, `$JS.API.STREAM.CREATE.${stream}`, cfg, { waitMs: 30_000 });
        if (r.first?.error && r.first.error.err_code !== 10058) assert.fail(JSON.stringify(r.first));
        return r.first && !r.first.error ? r : undefined;
      }, 'the original create answered as idempotent', 30_000, 200);
      assert.equal(again.all.length, 1);
      assert.equal(again.first!.config!.storage, 'file');
      const ok = await apiRequest<{ error?: ApiError; config?: { max_msgs: number } }>(ncs[0]!, `$JS.API.STREAM.UPDATE.${stream}`,
        { ...cfg, max_msgs: 5 }, { waitMs: 30_000 });
      assert.equal(ok.all.length, 1);
      assert.equal(ok.first!.error, undefined, JSON.stringify(ok.first));
      assert.equal(ok.first!.config!.max_msgs, 5);
      await apiRequest(ncs[0]!, `$JS.API.STREAM.DELETE.${stream}`, undefined, { settleMs: 0 });
    });

    test('CONSUMER.LEADER.STEPDOWN of an R3 durable: one reply, LEADER_ELECTED names the new leader', async () => {
      const stream = 'CLE';
      const s = await apiRequest<{ error?: ApiError }>(ncs[0]!, `$JS.API.STREAM.CREATE.${stream}`,
        { name: stream, subjects: ['cle.>'], num_replicas: 3, storage: 'file' }, { waitMs: 30_000 });
      assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
      const cr = await createConsumer(1, stream, 'D');
      assert.equal(cr.error, undefined, JSON.stringify(cr));
      type CInfo = { cluster?: { leader?: string; replicas?: { name: string }[] }; error?: ApiError };
      const leaderNow = (not?: string) => pollUntil(async () => {
        const r = await apiRequest<CInfo>(ncs[2]!, `$JS.API.CONSUMER.INFO.${stream}.D`, undefined, { settleMs: 0, waitMs: 2000 });
        const l = r.first?.cluster?.leader;
        return l && l !== not && (r.first?.cluster?.replicas ?? []).length === 2 ? l : undefined;
      }, `a consumer leader${not ? ` other than ${not}` : ''} with two replicas`, 30_000, 100);
      const first = await leaderNow();
      const adv: Array<{ subject: string; body: Record<string, any> }> = [];
      const sub = ncs[0]!.subscribe('$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.>', {
        callback: (_e, m) => { adv.push({ subject: m.subject, body: m.json() }); },
      });
      try {
        // The interest must have reached every server (the new leader may be any of them): a probe
        // published through each server arrives.
        for (const i of [1, 2]) {
          await pollUntil(async () => {
            ncs[i]!.publish(`$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.PROBE.${i}`, JSON.stringify({ probe: i }));
            await ncs[i]!.flush();
            await new Promise((r) => setImmediate(r));
            return adv.some((x) => x.body.probe === i) ? true : undefined;
          }, `the advisory subscription seen from ${c.nodes[i]!.name}`, 30_000, 50);
        }
        const sd = await apiRequest<{ type: string; success?: boolean }>(ncs[1]!, `$JS.API.CONSUMER.LEADER.STEPDOWN.${stream}.D`, undefined, { waitMs: 30_000 });
        assert.equal(sd.all.length, 1, 'one reply to CONSUMER.LEADER.STEPDOWN');
        assert.deepEqual(sd.first, { type: 'io.nats.jetstream.api.v1.consumer_leader_stepdown_response', success: true });
        const now = await leaderNow(first);
        const a = await pollUntil(async () => adv.find((x) => x.body.leader === now), `a LEADER_ELECTED advisory naming ${now}`, 30_000, 50);
        assert.equal(a.subject, `$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED.${stream}.D`);
        assert.equal(a.body.type, 'io.nats.jetstream.advisory.v1.consumer_leader_elected');
        assert.equal(a.body.stream, stream);
        assert.equal(a.body.consumer, 'D');
        // The advisory's replicas are the whole group, the leader included (unlike CONSUMER.INFO's).
        assert.deepEqual(a.body.replicas.map((r: { name: string }) => r.name).sort(), c.nodes.map((n) => n.name).sort());
      } finally {
        sub.unsubscribe();
      }
      await apiRequest(ncs[0]!, `$JS.API.STREAM.DELETE.${stream}`, undefined, { settleMs: 0 });
    });

    test('a consumer update refused by a stream\'s server that is the meta leader: the assigned config unchanged', async () => {
      const meta = (await c.metaLeader()).name;
      // R1 streams go where placement puts them: create until one lands on the meta leader.
      let stream = '';
      for (let k = 0; k < 30 && stream === ''; k++) {
        const name = `ML${k}`;
        const r = await apiRequest<{ error?: ApiError; cluster?: { leader?: string } }>(ncs[0]!, `$JS.API.STREAM.CREATE.${name}`,
          { name, subjects: [`ml${k}.>`], num_replicas: 1, storage: 'memory' }, { waitMs: 30_000, settleMs: 0 });
        assert.equal(r.first?.error, undefined, JSON.stringify(r.first));
        if (r.first!.cluster?.leader === meta) stream = name;
      }
      assert.notEqual(stream, '', `no R1 stream placed on the meta leader ${meta} in 30 creates`);
      const cfg = { durable_name: 'U', ack_policy: 'explicit', deliver_policy: 'all' };
      const created = await apiRequest<CreateResp>(ncs[1]!, `$JS.API.CONSUMER.CREATE.${stream}.U`, { stream_name: stream, config: cfg }, { waitMs: 30_000 });
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      const upd = await apiRequest<CreateResp>(ncs[2]!, `$JS.API.CONSUMER.CREATE.${stream}.U`,
        { stream_name: stream, config: { ...cfg, deliver_policy: 'last' } }, { waitMs: 30_000 });
      assert.equal(upd.all.length, 1, 'one reply to the refused update');
      assert.equal(upd.first!.error?.err_code, 10012, JSON.stringify(upd.first));
      assert.match(upd.first!.error!.description, /deliver policy can not be updated/);
      // Had the refused config stayed assigned, this create of the original one would be an update
      // of another config ("consumer already exists", tsnats) instead of the same consumer.
      const again = await pollUntil(async () => {
        const r = await apiRequest<CreateResp>(ncs[0]!, `$JS.API.CONSUMER.CREATE.${stream}.U`,
          { stream_name: stream, config: cfg, action: 'create' }, { waitMs: 30_000 });
        return r.first && !r.first.error ? r : undefined;
      }, 'the original consumer config accepted as the same consumer', 20_000, 250);
      assert.equal(again.first!.name, 'U');
      for (let k = 0; k < 30; k++) {
        const name = `ML${k}`;
        await apiRequest(ncs[0]!, `$JS.API.STREAM.DELETE.${name}`, undefined, { settleMs: 0, waitMs: 2000 });
        if (name === stream) break;
      }
    });
  });
}
