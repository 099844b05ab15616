// Leader kills under load: KV compare-and-set on an R3 bucket, and an R3 pull consumer with
// explicit acks and max_deliver while its leader is killed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { pollUntil, skipReason, streamInfoWithLeader, type JsCluster } from './js-cluster-harness.js';
import { fetchOnce } from './js-repl-helpers.js';
import { createR3, publishRange, startWithEnv } from './js-repl-snapshot-helpers.js';

const skip = skipReason('tsnats');

async function connectAlive(c: JsCluster, not: string): Promise<NatsConnection> {
  return c.connect(c.nodes.find((n) => n.alive && n.name !== not)!);
}

test('R3 KV: compare-and-set increments across a stream leader kill: no lost or doubled update', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv({});
  try {
    const meta = await c.waitMetaLeader();
    let nc = await c.connect(meta);
    const kvm = new Kvm(nc);
    const kv = await pollUntil(async () => kvm.create('CAS', { replicas: 3, history: 64 }), 'bucket CAS', 30_000, 200);
    await kv.put('n', '0');
    const si = await streamInfoWithLeader<{ cluster?: { leader?: string } }>(nc, 'KV_CAS');
    const victim = c.node(si.cluster!.leader!);
    if (victim === meta) nc = await connectAlive(c, victim.name);
    const kv2 = await new Kvm(nc).open('CAS');
    let ok = 0;
    let unknown = 0;
    const revs = new Set<number>();
    const worker = async (stopAt: number): Promise<void> => {
      while (ok < stopAt) {
        try {
          const e = await kv2.get('n');
          if (!e) continue;
          const rev = await kv2.update('n', String(Number(e.string()) + 1), e.revision);
          assert.ok(!revs.has(rev), `revision ${rev} acknowledged twice`);
          revs.add(rev);
          ok++;
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          // wrong last sequence (10071: another worker won) is a refusal; anything else (no answer
          // during the failover) may still have been committed
          if ((err as { code?: number }).code !== 10071 && !/wrong last sequence/.test((err as Error).message)) unknown++;
        }
      }
    };
    const load = Promise.all([worker(150), worker(150), worker(150)]);
    await pollUntil(() => (ok >= 40 ? true : undefined), '40 updates', 60_000, 5);
    await c.kill(victim);
    await load;
    const last = await pollUntil(async () => (await kv2.get('n')) ?? undefined, 'n readable', 30_000, 100);
    const value = Number(last.string());
    assert.ok(value >= ok && value <= ok + unknown, `counter ${value} after ${ok} acknowledged and ${unknown} unanswered compare-and-set updates`);
    // Every stored value is the one before it plus one: no two updates took the same revision.
    const jsm = await jetstreamManager(nc, { timeout: 20_000 });
    const state = (await jsm.streams.info('KV_CAS')).state;
    // (the bucket keeps the last 64 values)
    let prev: number | undefined;
    for (let seq = state.first_seq; seq <= state.last_seq; seq++) {
      const m = await jsm.streams.getMessage('KV_CAS', { seq });
      assert.ok(m, `message ${seq}`);
      const v = Number(m.string());
      if (prev !== undefined) assert.equal(v, prev + 1, `value at sequence ${seq}`);
      prev = v;
    }
    assert.equal(prev, value, 'the last stored value is the counter');
    await c.restart(victim);
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});

test('R3 pull consumer, explicit ack and max_deliver 2: its leader killed under ack load; no confirmed ack redelivered, none beyond max_deliver, none lost', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv({});
  try {
    const meta = await c.waitMetaLeader();
    let nc = await c.connect(meta);
    const jsm = await jetstreamManager(nc, { timeout: 20_000 });
    await createR3(nc, 'FO');
    await jsm.consumers.add('FO', { durable_name: 'W', ack_policy: AckPolicy.Explicit, max_deliver: 2, ack_wait: 3_000_000_000 });
    await publishRange(nc, 'FO', 1, 600);
    const ci = await jsm.consumers.info('FO', 'W');
    const victim = c.node(ci.cluster!.leader!);
    if (victim === meta) nc = await connectAlive(c, victim.name);
    const cons = await jetstream(nc, { timeout: 20_000 }).consumers.get('FO', 'W');
    const confirmed = new Set<number>();
    const deliveries = new Map<number, number>();
    const violations: string[] = [];
    let killed = false;
    const each = async (m: JsMsg): Promise<void> => {
      if (confirmed.has(m.seq)) violations.push(`${m.seq} delivered (dc ${m.info.deliveryCount}) after its ack was confirmed`);
      if (m.info.deliveryCount > 2) violations.push(`${m.seq} delivered ${m.info.deliveryCount} times (max_deliver 2)`);
      deliveries.set(m.seq, (deliveries.get(m.seq) ?? 0) + 1);
      // Every fifth message of the first delivery is not acked: redelivered once after ack_wait.
      if (m.info.deliveryCount === 1 && m.seq % 5 === 0) return;
      try {
        await m.ackAck({ timeout: 5_000 });
        confirmed.add(m.seq);
      } catch { /* not confirmed: may be delivered again */ }
    };
    await pollUntil(async () => {
      await fetchOnce(cons, { max_messages: 50, expires: 2_000 }, each);
      if (!killed && confirmed.size >= 150) {
        killed = true;
        await c.kill(victim);
      }
      const done = [...Array(600).keys()].every((i) => confirmed.has(i + 1) || (deliveries.get(i + 1) ?? 0) >= 2);
      return done ? true : undefined;
    }, 'every message acknowledged or delivered twice', 120_000, 10);
    assert.deepEqual(violations, []);
    const missing = [...Array(600).keys()].map((i) => i + 1).filter((s) => !deliveries.has(s));
    assert.deepEqual(missing, [], 'every message delivered');
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
