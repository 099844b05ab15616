// A follower frozen (SIGSTOP) long enough that the stream leader compacts its log past it, then
// thawed (SIGCONT): its connections were never closed, so it first reads what queued up while it
// slept, then must catch up from the leader's snapshot. Afterwards every replica is identical.
// A durable consumer acknowledged meanwhile must come back on it with the same ack floor; the
// consumer led on the frozen server, so the thawed server must take the acks made under the next
// leader although its own Consumer was still running when they arrived.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';
import { fetchOnce } from './js-repl-helpers.js';
import {
  SMALL_SNAPSHOTS, assertReplicasIdentical, createR3, publishRange, startWithEnv, streamLeader, streamSnapshotIndex, waitReplicas,
} from './js-repl-snapshot-helpers.js';

const skip = skipReason('tsnats');

/** Step the consumer down until `name` leads it. */
async function moveConsumerLeader(nc: NatsConnection, jsm: JetStreamManager, name: string): Promise<void> {
  await pollUntil(async () => {
    // Right after a stepdown the consumer has no leader for a moment (503): ask again.
    const ci = await jsm.consumers.info('STOP', 'D').catch(() => undefined);
    if (ci === undefined) return undefined;
    if (ci.cluster?.leader === name) return true;
    await apiRequest(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.STOP.D', undefined, { settleMs: 0 });
    return undefined;
  }, `consumer leader on ${name}`, 60_000, 1_000);
}

test('a follower SIGSTOPped while the leader compacts past it, then SIGCONT: caught up from the snapshot, identical', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  let frozen: number | undefined;
  try {
    const meta = await c.waitMetaLeader();
    const nc = await c.connect(meta);
    await createR3(nc, 'STOP');
    const jsm = await jetstreamManager(nc, { timeout: 20_000 });
    await jsm.consumers.add('STOP', { durable_name: 'D', ack_policy: AckPolicy.Explicit });
    await publishRange(nc, 'STOP', 1, 100);
    await waitReplicas(c, 'STOP', 100);
    const leader = await streamLeader(c, nc, 'STOP');
    const follower = c.nodes.find((n) => n !== leader && n !== meta)!;
    const before = streamSnapshotIndex(follower);
    // The consumer leads on the server about to freeze: thawed, it must apply the next leader's
    // acks (and snapshots) instead of skipping them as its own (it still ran its Consumer then).
    await moveConsumerLeader(nc, jsm, follower.name);
    frozen = follower.pid!;
    process.kill(frozen, 'SIGSTOP');
    await publishRange(nc, 'STOP', 101, 900);
    // ack the first 300 while it sleeps (once the consumer has a leader that is awake: it may have been the frozen one)
    await pollUntil(async () => {
      const r = await apiRequest<{ cluster?: { leader?: string } }>(nc, '$JS.API.CONSUMER.INFO.STOP.D', undefined, { settleMs: 0, waitMs: 2_000 });
      const l = r.first?.cluster?.leader;
      return l !== undefined && l !== follower.name ? true : undefined;
    }, 'a consumer leader awake', 60_000, 100);
    const cons = await jetstream(nc, { timeout: 20_000 }).consumers.get('STOP', 'D');
    let acked = 0;
    await pollUntil(async () => {
      await fetchOnce(cons, { max_messages: 100, expires: 2_000 }, async (m) => {
        if (m.seq <= 300) {
          await m.ackAck();
          acked = Math.max(acked, m.seq);
        }
      });
      return acked >= 300 ? true : undefined;
    }, 'acks of 1..300', 60_000, 10);
    const leaderSnap = await pollUntil(() => {
      const i = streamSnapshotIndex(leader);
      return i > before + 5 ? i : undefined;
    }, 'the leader compacted past the frozen follower', 30_000, 100);
    process.kill(frozen, 'SIGCONT');
    frozen = undefined;
    await publishRange(nc, 'STOP', 901, 920);
    await waitReplicas(c, 'STOP', 920);
    await pollUntil(async () => {
      const si = await jsm.streams.info('STOP');
      return (si.cluster?.replicas ?? []).length === 2 && si.cluster!.replicas!.every((r) => r.current) ? true : undefined;
    }, 'every stream replica current', 30_000, 100);
    await pollUntil(async () => {
      const ci = await jsm.consumers.info('STOP', 'D');
      return (ci.cluster?.replicas ?? []).length === 2 && ci.cluster!.replicas!.every((r) => r.current) ? true : undefined;
    }, 'every consumer replica current', 30_000, 100);
    assert.ok(leaderSnap > 0);
    // The thawed follower takes over the consumer: its ack floor is the replicated one.
    await moveConsumerLeader(nc, jsm, follower.name);
    const ci = await jsm.consumers.info('STOP', 'D');
    assert.ok(ci.ack_floor.stream_seq >= 300, `ack floor ${ci.ack_floor.stream_seq} on ${ci.cluster?.leader}`);
    await nc.close();
    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'STOP', 920);
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    if (frozen !== undefined) process.kill(frozen, 'SIGCONT');
    await c.shutdown();
  }
});
