// R3 streams under kill -9, on 3-server clusters of child processes, checked against
// nats-server 2.9.10 and tsnats: the stream leader is killed right after an acknowledged
// publish while more publishes are in flight; another replica leads, holds every acknowledged
// message exactly once at its acknowledged sequence and takes new publishes; the killed server
// is restarted, catches up, and once it leads it serves the same messages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { IMPLS, JsCluster, apiRequest, pollUntil, skipReason, streamInfoWithLeader } from './js-cluster-harness.js';

interface Info {
  error?: { err_code: number; description: string };
  state?: { messages: number; last_seq: number; first_seq: number };
  cluster?: { leader?: string; replicas?: Array<{ name: string; current: boolean; lag?: number; offline?: boolean }> };
}

async function createR3(nc: NatsConnection, name: string): Promise<void> {
  // Placement needs every server's info at the meta leader; retry "no suitable peers" (10005) until then.
  await pollUntil(async () => {
    const r = await apiRequest<Info>(nc, `$JS.API.STREAM.CREATE.${name}`, { name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 3, storage: 'file' }, { settleMs: 0 });
    if (r.first?.error?.err_code === 10005) return undefined;
    assert.equal(r.first?.error, undefined, JSON.stringify(r.first));
    return true;
  }, `R3 stream ${name} created`, 30_000, 200);
}

const info = (nc: NatsConnection, name: string, notLeader?: string): Promise<Info> => streamInfoWithLeader<Info>(nc, name, notLeader);

/** Every message of the stream as seq -> payload, read with MSG.GET from its leader. */
async function readAll(nc: NatsConnection, name: string, lastSeq: number): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (let seq = 1; seq <= lastSeq; seq++) {
    const r = await apiRequest<{ message?: { seq: number; data?: string }; error?: { err_code: number } }>(
      nc, `$JS.API.STREAM.MSG.GET.${name}`, { seq }, { settleMs: 0 });
    if (r.first?.message) out.set(seq, Buffer.from(r.first.message.data ?? '', 'base64').toString());
    else assert.equal(r.first?.error?.err_code, 10037, `seq ${seq}: ${JSON.stringify(r.first)}`);
  }
  return out;
}

for (const impl of IMPLS) {
  describe(`R3 stream under kill -9 on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    before(async () => {
      c = await JsCluster.start({ impl, size: 3 });
      await c.waitMetaLeader({ peers: 3 });
    });
    after(async () => {
      await c?.shutdown();
    });

    test('the stream leader killed right after an ack: every acknowledged message is on the new leader, once, at its sequence; the restarted server catches up', async () => {
      const boot = await c.connect(c.nodes[0]!);
      await createR3(boot, 'KR');
      const first = await info(boot, 'KR');
      const leader = c.node(first.cluster!.leader!);
      const others = c.nodes.filter((n) => n !== leader);
      const nc = await c.connect(others[0]!);
      const js = jetstream(nc, { timeout: 3000 });
      // A durable R3 consumer; it consumes (and acknowledges) while the leader is killed.
      const jsm = await jetstreamManager(nc);
      await jsm.consumers.add('KR', { durable_name: 'W', ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000 });
      const cons = await js.consumers.get('KR', 'W');
      const consumed = new Set<string>();
      const consume = async (n: number): Promise<void> => {
        const it = await cons.fetch({ max_messages: n, expires: 1000 });
        for await (const m of it) {
          consumed.add(m.string());
          m.ack();
        }
      };
      const acked = new Map<number, string>();
      const failed: string[] = [];
      let killed = false;
      let next = 0;
      // 8 publishers in parallel; the leader is killed synchronously after the 150th ack.
      const worker = async (): Promise<void> => {
        while (next < 300) {
          const payload = `p${next++}`;
          try {
            const pa = await js.publish('kr.x', payload);
            assert.ok(!acked.has(pa.seq), `sequence ${pa.seq} acknowledged twice`);
            acked.set(pa.seq, payload);
            if (!killed && acked.size >= 150) {
              killed = true;
              void c.kill(leader);
            }
          } catch {
            failed.push(payload);
          }
        }
      };
      const consumer = (async () => {
        while (next < 300) await consume(20).catch(() => undefined);
      })();
      await Promise.all([...Array.from({ length: 8 }, worker), consumer]);
      assert.ok(killed);
      assert.ok(!leader.alive || (await c.kill(leader), true));

      const now = await info(nc, 'KR', leader.name);
      assert.notEqual(now.cluster!.leader, leader.name);
      // New publishes go to the new leader.
      const pa = await pollUntil(async () => js.publish('kr.x', 'after').catch(() => undefined), 'a publish after failover', 30_000, 100);
      acked.set(pa.seq, 'after');
      const st = (await info(nc, 'KR', leader.name)).state!;
      const stored = await readAll(nc, 'KR', st.last_seq);
      for (const [seq, payload] of acked) assert.equal(stored.get(seq), payload, `acknowledged seq ${seq} on the new leader`);
      const counts = new Map<string, number>();
      for (const p of stored.values()) counts.set(p, (counts.get(p) ?? 0) + 1);
      for (const [p, n] of counts) assert.equal(n, 1, `${p} stored ${n} times`);

      // The consumer (its leader may have died with the stream leader) delivers every acknowledged message.
      await pollUntil(async () => {
        await consume(100).catch(() => undefined);
        return [...acked.values()].every((p) => consumed.has(p)) ? true : undefined;
      }, 'every acknowledged message consumed after the failover', 60_000, 0);

      // The killed server comes back, catches up and, once leader, serves the same messages.
      await c.restart(leader);
      await c.waitMetaLeader({ peers: 3 });
      const sys = nc;
      await pollUntil(async () => {
        const i = await info(sys, 'KR');
        const reps = i.cluster?.replicas ?? [];
        return reps.length === 2 && reps.every((r) => r.current && !r.offline && !r.lag) ? true : undefined;
      }, 'both followers current', 30_000, 200);
      for (let k = 0; k < 20; k++) {
        const cur = (await info(sys, 'KR')).cluster!.leader!;
        if (cur === leader.name) break;
        const sd = await apiRequest<{ success?: boolean }>(sys, '$JS.API.STREAM.LEADER.STEPDOWN.KR', undefined, { settleMs: 0 });
        assert.equal(sd.first?.success, true, JSON.stringify(sd.first));
        await info(sys, 'KR', cur);
      }
      const back = await info(sys, 'KR');
      assert.equal(back.cluster!.leader, leader.name, 'the restarted server leads');
      assert.equal(back.state!.last_seq, st.last_seq);
      assert.deepEqual([...(await readAll(sys, 'KR', st.last_seq))], [...stored], 'same messages on the restarted server');
    });
  });
}

