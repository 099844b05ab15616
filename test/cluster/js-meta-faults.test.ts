// Clustered JetStream, meta group under faults (kill -9 and restarts of servers in child processes),
// checked against nats-server 2.9.10 and tsnats (TSNATS_META=0 skips the tsnats runs): a server that was down while
// assets were created, changed and deleted catches up; a meta leader killed in the middle of a
// STREAM.CREATE never leaves it half applied; a restart of every server recovers the same state.
// One cluster per implementation, shared by the tests in order; each test leaves all servers up.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { IMPLS, JsCluster, SETTLE_MS, SYS, apiRequest, pollUntil, skipReason, type JsNode } from './js-cluster-harness.js';

const TAGS = [['node:n1'], ['node:n2'], ['node:n3']];

interface StreamResp {
  type: string;
  error?: { code: number; err_code: number; description: string };
  config?: { name: string; max_msgs: number };
  did_create?: boolean;
  created?: string;
  cluster?: { name: string; leader: string };
  state?: { messages: number; last_seq: number; consumer_count: number };
}
interface NamesResp { total: number; streams: string[] | null; consumers?: string[] | null }

function r1(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 1, storage: 'file', ...extra };
}
const on = (n: JsNode) => ({ placement: { tags: [`node:${n.name}`] } });
const durable = (stream: string, name: string) => ({ stream_name: stream, config: { durable_name: name, ack_policy: 'explicit' } });
const streamDir = (n: JsNode, s: string) => join(n.storeDir, 'jetstream', 'APP', 'streams', s);
const consumerDir = (n: JsNode, s: string, d: string) => join(streamDir(n, s), 'obs', d);

for (const impl of IMPLS) {
  describe(`meta group faults on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    before(async () => {
      c = await JsCluster.start({ impl, size: 3, tags: TAGS });
    });
    after(async () => {
      await c?.shutdown();
    });

    /**
     * Make `x` the meta leader by stepping the leader down until x wins. Each stepdown hands the
     * leadership to a random other current peer (1 chance in 2 on three servers), so 20 tries fail
     * with probability 2^-20; stopping a server to force the choice does not work on 2.9.10, which
     * keeps a just-killed peer "current" for a while and may hand leadership to it.
     */
    async function makeLeader(x: JsNode): Promise<void> {
      const sys = await c.connect(x, SYS);
      try {
        for (let i = 0; i < 20; i++) {
          const leader = await c.metaLeader();
          if (leader === x) return;
          const r = await apiRequest(sys, '$JS.API.META.LEADER.STEPDOWN', undefined, { settleMs: 0 });
          assert.deepEqual(r.first, { type: 'io.nats.jetstream.api.v1.meta_leader_stepdown_response', success: true });
          await c.waitMetaLeader({ not: leader.name });
        }
        assert.fail(`${x.name} never became the meta leader`);
      } finally {
        await sys.close();
      }
    }

    test('a server down during creates, updates and deletes catches up when restarted', async (t) => {
      const leader = await c.metaLeader();
      const others = c.nodes.filter((n) => n !== leader);
      const x = others[0]!; // goes down
      const y = others[1]!;
      const nc = await c.connect(y);
      for (const s of ['CU_DEL', 'CU_KEEP']) {
        let r = await apiRequest<StreamResp>(nc, `$JS.API.STREAM.CREATE.${s}`, r1(s, on(x)), { settleMs: 0 });
        if (r.first === undefined && impl === 'nats-server') {
          // nats-server 2.9.10 on a loaded machine (CI) has been seen to send no reply to this first
          // create at all; the stream itself is what this test is about, so ask for it. tsnats must reply.
          t.diagnostic(`nats-server sent no reply to STREAM.CREATE.${s}; checking the stream with STREAM.INFO`);
          r = await apiRequest<StreamResp>(nc, `$JS.API.STREAM.INFO.${s}`, undefined, { settleMs: 0 });
        }
        assert.equal(r.first?.cluster?.leader, x.name);
      }
      for (const d of ['K1', 'K2']) {
        const r = await apiRequest(nc, `$JS.API.CONSUMER.CREATE.CU_KEEP.${d}`, durable('CU_KEEP', d), { settleMs: 0 });
        assert.equal(r.first?.error, undefined);
      }
      assert.ok(existsSync(streamDir(x, 'CU_DEL')));

      await c.kill(x);
      await c.waitMetaLeader();
      // Assets held by the stopped server: the meta leader still applies these changes, but the reply
      // comes from the asset's server, so nats-server 2.9.10 sends none while that server is down.
      const offline = await Promise.all([
        apiRequest(nc, '$JS.API.STREAM.DELETE.CU_DEL', undefined, { waitMs: 1500 }),
        apiRequest(nc, '$JS.API.CONSUMER.DELETE.CU_KEEP.K1', undefined, { waitMs: 1500 }),
        apiRequest(nc, '$JS.API.CONSUMER.CREATE.CU_KEEP.K3', durable('CU_KEEP', 'K3'), { waitMs: 1500 }),
      ]);
      t.diagnostic(`replies while the holder is down (stream delete, consumer delete, consumer create): ${offline.map((r) => r.all.length).join(', ')}`);
      for (const r of offline) {
        assert.ok(r.all.length <= 1, 'never more than one reply');
        if (r.first !== undefined) assert.equal((r.first as { error?: unknown }).error, undefined, 'a reply, if any, is a success');
      }
      // Assets on the servers that are up work as usual while x is down.
      for (const [s, where] of [['CU_NEW1', leader], ['CU_NEW2', y]] as const) {
        const r = await apiRequest<StreamResp>(nc, `$JS.API.STREAM.CREATE.${s}`, r1(s, on(where)));
        assert.equal(r.all.length, 1);
        assert.equal(r.first!.did_create, true);
      }
      const upd = await apiRequest<StreamResp>(nc, '$JS.API.STREAM.UPDATE.CU_NEW2', r1('CU_NEW2', { ...on(y), max_msgs: 7 }));
      assert.equal(upd.first?.config?.max_msgs, 7);
      const cn = await apiRequest(nc, '$JS.API.CONSUMER.CREATE.CU_NEW1.N1', durable('CU_NEW1', 'N1'));
      assert.equal(cn.all.length, 1);
      const names = await apiRequest<NamesResp>(nc, '$JS.API.STREAM.NAMES', undefined, { settleMs: 0 });
      const expected = ['CU_KEEP', 'CU_NEW1', 'CU_NEW2'];
      for (const s of expected) assert.ok(names.first!.streams?.includes(s), `${s} listed`);
      assert.ok(!names.first!.streams?.includes('CU_DEL'), 'CU_DEL deleted while its server is down');
      assert.ok(existsSync(streamDir(x, 'CU_DEL')), 'x still has the deleted stream on disk while down');

      await c.restart(x);
      await c.waitMetaLeader();
      // x applies what it missed: the deleted stream and consumer leave its disk, the new consumer appears.
      await pollUntil(() => (!existsSync(streamDir(x, 'CU_DEL')) ? true : undefined), 'CU_DEL removed on x');
      await pollUntil(() => (!existsSync(consumerDir(x, 'CU_KEEP', 'K1')) ? true : undefined), 'K1 removed on x');
      await pollUntil(() => (existsSync(consumerDir(x, 'CU_KEEP', 'K3')) ? true : undefined), 'K3 created on x');
      const ncx = await c.connect(x);
      const k3 = await apiRequest<{ name?: string; cluster?: unknown }>(ncx, '$JS.API.CONSUMER.INFO.CU_KEEP.K3');
      assert.equal(k3.all.length, 1);
      assert.equal(k3.first!.name, 'K3');
      assert.deepEqual(k3.first!.cluster, { name: 'C1', leader: x.name });
      const k1 = await apiRequest<StreamResp>(ncx, '$JS.API.CONSUMER.INFO.CU_KEEP.K1');
      assert.equal(k1.first?.error?.err_code, 10014);

      // x's own meta state: make it the leader, then the listings come from it.
      await makeLeader(x);
      const ncx2 = await c.connect(x);
      const xNames = await apiRequest<NamesResp>(ncx2, '$JS.API.STREAM.NAMES');
      assert.equal(xNames.all.length, 1);
      for (const s of expected) assert.ok(xNames.first!.streams?.includes(s), `${s} known to x`);
      assert.ok(!xNames.first!.streams?.includes('CU_DEL'));
      const xCons = await apiRequest<NamesResp>(ncx2, '$JS.API.CONSUMER.NAMES.CU_KEEP');
      assert.deepEqual([...(xCons.first!.consumers ?? [])].sort(), ['K2', 'K3']);
      const xCons1 = await apiRequest<NamesResp>(ncx2, '$JS.API.CONSUMER.NAMES.CU_NEW1');
      assert.deepEqual(xCons1.first!.consumers, ['N1']);
      const list = await apiRequest<{ streams: StreamResp[] }>(ncx2, '$JS.API.STREAM.LIST');
      assert.equal(list.first!.streams.find((s) => s.config?.name === 'CU_NEW2')?.config?.max_msgs, 7);
      for (const s of [...expected]) await apiRequest(nc, `$JS.API.STREAM.DELETE.${s}`, undefined, { settleMs: 0 });
    });

    test('kill -9 of the meta leader in the middle of STREAM.CREATE: created once or not at all, and a retry works', async (t) => {
      // Round 0 places the stream on a surviving server, round 1 lets the leader place it anywhere
      // (possibly on the server that is killed).
      for (let round = 0; round < 2; round++) {
        const name = `MID${round}`;
        const leader = await c.metaLeader();
        const others = c.nodes.filter((n) => n !== leader);
        const nc = await c.connect(others[0]!);
        const cfg = round === 0 ? r1(name, on(others[1]!)) : r1(name);
        const replies: StreamResp[] = [];
        const inbox = createInbox();
        nc.subscribe(inbox, { callback: (_e, m) => { replies.push(m.json<StreamResp>()); } });
        await nc.flush();
        nc.publish(`$JS.API.STREAM.CREATE.${name}`, JSON.stringify(cfg), { reply: inbox });
        await nc.flush();
        await c.kill(leader);
        await c.waitMetaLeader({ not: leader.name });
        await c.restart(leader);
        await c.waitMetaLeader();
        // See the SETTLE_MS comment: a late duplicate would have arrived by now.
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        assert.ok(replies.length <= 1, `at most one reply, got ${replies.length}`);
        const answered = replies[0];
        if (answered !== undefined && answered.error === undefined) assert.equal(answered.did_create, true);

        const names = await apiRequest<NamesResp>(nc, '$JS.API.STREAM.NAMES', undefined, { settleMs: 0 });
        const count = (names.first!.streams ?? []).filter((s) => s === name).length;
        assert.ok(count <= 1);
        if (answered !== undefined && answered.error === undefined) assert.equal(count, 1, 'an acknowledged create is kept');

        const retry = await apiRequest<StreamResp>(nc, `$JS.API.STREAM.CREATE.${name}`, cfg);
        assert.equal(retry.all.length, 1, 'one reply to the retry');
        assert.equal(retry.first!.error, undefined);
        assert.equal(retry.first!.did_create, count === 0 ? true : undefined);
        const holder = retry.first!.cluster!.leader;
        t.diagnostic(`round ${round}: killed leader ${leader.name}; reply before the retry: ${answered === undefined ? 'none' : JSON.stringify(answered.error ?? { did_create: answered.did_create })}; `
          + `stream existed: ${count === 1}; held by ${holder}`);
        if (round === 0) assert.equal(holder, others[1]!.name);
        const after = await apiRequest<NamesResp>(nc, '$JS.API.STREAM.NAMES', undefined, { settleMs: 0 });
        assert.equal((after.first!.streams ?? []).filter((s) => s === name).length, 1);
        assert.deepEqual(c.nodes.filter((n) => existsSync(streamDir(n, name))).map((n) => n.name), [holder]);
        for (const n of c.nodes) {
          const ncn = await c.connect(n);
          const info = await apiRequest<StreamResp>(ncn, `$JS.API.STREAM.INFO.${name}`, undefined, { settleMs: 0 });
          assert.deepEqual(info.first?.cluster, { name: 'C1', leader: holder });
          await ncn.close();
        }
        await apiRequest(nc, `$JS.API.STREAM.DELETE.${name}`, undefined, { settleMs: 0 });
        await nc.close();
      }
    });

    let rsBefore: Record<string, unknown> | undefined;
    /** Every server, through a client of its own, reports `want` (waiting for it to settle). */
    const expectStateEverywhere = async (want: Record<string, unknown>): Promise<void> => {
      for (const n of c.nodes) {
        const ncn = await c.connect(n);
        const now = await pollUntil(async () => {
          const s = await snapshot(ncn);
          return JSON.stringify(s) === JSON.stringify(want) ? s : undefined;
        }, `the state before the restart via ${n.name}`).catch(async () => snapshot(ncn));
        assert.deepEqual(now, want, `state via ${n.name}`);
        await ncn.close();
      }
    };

    test('a restart of every server (kill -9) recovers the same streams, consumers, placement and messages', async () => {
      const nc = await c.connect(c.nodes[0]!);
      const jsm = await jetstreamManager(nc);
      const js = jetstream(nc);
      for (const n of c.nodes) {
        const s = `RS_${n.name}`;
        const r = await apiRequest<StreamResp>(nc, `$JS.API.STREAM.CREATE.${s}`, r1(s, on(n)), { settleMs: 0 });
        assert.equal(r.first?.cluster?.leader, n.name);
        for (let i = 0; i < 3; i++) await js.publish(`${s.toLowerCase()}.m`, `m${i}`);
        await jsm.consumers.add(s, { durable_name: 'C', ack_policy: AckPolicy.Explicit });
        await jsm.consumers.add(s, { durable_name: 'E', ack_policy: AckPolicy.Explicit });
      }
      const before = await snapshot(nc);
      rsBefore = before;
      await nc.close();

      await Promise.all(c.nodes.map((n) => c.kill(n)));
      for (const n of c.nodes) await c.restart(n);
      await c.waitMetaLeader();
      // Every server answers for the whole cluster again (asset requests go to the holders).
      await expectStateEverywhere(before);
    });

    test('a graceful restart of every server (SIGTERM, which snapshots the meta state) recovers the same state', async () => {
      assert.ok(rsBefore, 'runs after the kill -9 restart test, on its streams');
      await Promise.all(c.nodes.map((n) => c.stop(n)));
      for (const n of c.nodes) await c.restart(n);
      await c.waitMetaLeader();
      await expectStateEverywhere(rsBefore!);
    });
  });
}

/** Names, placement, message counts and consumers of the RS_* streams, as the API reports them. */
async function snapshot(nc: NatsConnection): Promise<Record<string, unknown>> {
  const names = await apiRequest<NamesResp>(nc, '$JS.API.STREAM.NAMES', undefined, { settleMs: 0 });
  const rs = (names.first?.streams ?? []).filter((s) => s.startsWith('RS_')).sort();
  const out: Record<string, unknown> = { names: rs };
  for (const s of rs) {
    const info = await apiRequest<StreamResp>(nc, `$JS.API.STREAM.INFO.${s}`, undefined, { settleMs: 0, waitMs: 3000 });
    const cons = await apiRequest<NamesResp>(nc, `$JS.API.CONSUMER.NAMES.${s}`, undefined, { settleMs: 0, waitMs: 3000 });
    out[s] = {
      leader: info.first?.cluster?.leader,
      messages: info.first?.state?.messages,
      last_seq: info.first?.state?.last_seq,
      consumers: [...(cons.first?.consumers ?? [])].sort(),
    };
  }
  return out;
}
