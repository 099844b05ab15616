// A replica's whole consumer raft group directory (`_js_/C-…/`: WAL, durable witness, term and
// vote, peers) removed while it is down, the consumer's store (`streams/<s>/obs/<c>/`) left, then
// the consumer leader killed. Without a trace outside that directory the replica restarted as a
// brand-new member: an empty log that votes as a full one while "initializing", so its vote
// elected the other follower, which had missed the acknowledgements, and that one led with an ack
// floor of 0: every acknowledged message was delivered again. With the copy of the durable witness
// in the consumer's store directory the replica recovers as lost state: no consumer leader until
// the intact one is back, and no acknowledged message is delivered again, on any replica.
// The same attack with the replica's consumer WAL cut in half or a bit flipped in it (the stream
// cases are js-repl-attack-cut-wal / -two-damaged): its WAL recovery finds the loss itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, statSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ELECTION_WINDOW_MS, shortElections } from './js-short-elections.js';
import { pollUntil, skipReason, type JsCluster, type JsNode } from './js-cluster-harness.js';
import { createR3, filesMatching, flipBit, publishRange, startWithEnv, waitReplicas } from './js-repl-snapshot-helpers.js';

shortElections();

const skip = skipReason('tsnats');
const STREAM = 'CRM';
const DURABLE = 'D';
const TOTAL = 40;
/** Acknowledged (ack sync) while one follower is down. */
const ACKED = 20;

/** The newest segment of the raft WAL in `groupDir`. */
function newestSegment(groupDir: string): string {
  const segs = filesMatching(groupDir, /\/wal\/\d{20}\.wal$/).sort();
  assert.ok(segs.length > 0, `a WAL segment in ${groupDir}`);
  return segs[segs.length - 1]!;
}

/** n's consumer raft group directory (`…/_js_/C-…`). */
function consumerGroupDir(n: JsNode): string | undefined {
  const peers = filesMatching(n.storeDir, /\/_js_\/C-[^/]+\/peers\.idx$/);
  assert.ok(peers.length <= 1, `${n.name}: at most one consumer group`);
  return peers[0] === undefined ? undefined : dirname(peers[0]);
}

/** The consumer's ack floor as n's own replica holds it (/jsz reports every replica's local state). */
async function localAckFloor(c: JsCluster, n: JsNode): Promise<number | undefined> {
  type Detail = { name: string; consumer_detail?: { name: string; ack_floor?: { stream_seq?: number } }[] };
  const j = await c.monitor<{ account_details?: { stream_detail?: Detail[] }[] }>(n, '/jsz?consumers=true');
  for (const a of j.account_details ?? []) {
    for (const s of a.stream_detail ?? []) {
      if (s.name !== STREAM) continue;
      for (const cd of s.consumer_detail ?? []) if (cd.name === DURABLE) return cd.ack_floor?.stream_seq ?? 0;
    }
  }
  return undefined;
}

/** Fetch up to `max` messages (whatever arrives within `expiresMs`; nothing when there is no leader). */
async function fetchSome(nc: NatsConnection, max: number, expiresMs: number): Promise<JsMsg[]> {
  const out: JsMsg[] = [];
  try {
    const cons = await jetstream(nc, { timeout: 2_000 }).consumers.get(STREAM, DURABLE);
    for await (const m of await cons.fetch({ max_messages: max, expires: expiresMs })) out.push(m);
  } catch { /* no consumer leader: nothing delivered */ }
  return out;
}

/**
 * R3 stream of 40 and durable D; `behind` down while `damaged` and the consumer leader confirm the
 * acks of 1..20; `damage` hits `damaged`'s consumer group while it is down; the leader is killed and
 * the two followers restarted. While the intact leader is down nothing acknowledged may be delivered
 * (`damaged` must log `lostLog`); once it is back, 21..40 are delivered and every replica, the
 * damaged one included, ends with the whole stream acknowledged.
 */
async function lostConsumerLogKeepsAcks(damage: (n: JsNode, groupDir: string) => void, lostLog: RegExp): Promise<void> {
  const c = await startWithEnv({});
  try {
    let nc = await c.connect(c.nodes[0]!);
    await createR3(nc, STREAM);
    await publishRange(nc, STREAM, 1, TOTAL);
    await waitReplicas(c, STREAM, TOTAL);
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    await jsm.consumers.add(STREAM, { durable_name: DURABLE, ack_policy: AckPolicy.Explicit, ack_wait: 60_000_000_000 });
    const leaderName = await pollUntil(async () => {
      const ci = await jsm.consumers.info(STREAM, DURABLE);
      const current = (ci.cluster?.replicas ?? []).filter((r) => r.current).length;
      return ci.cluster?.leader && current === 2 ? ci.cluster.leader : undefined;
    }, 'a consumer leader with two current replicas', 30_000, 100);
    await pollUntil(async () => (c.nodes.every((n) => consumerGroupDir(n) !== undefined) ? true : undefined), 'the consumer group on every server', 30_000, 50);
    const leader = c.node(leaderName);
    const [damaged, behind] = c.nodes.filter((n) => n !== leader) as [JsNode, JsNode];
    await nc.close();

    // `behind` misses the acks of 1..20; `damaged` confirms them with the leader, then loses its group.
    await c.kill(behind);
    nc = await c.connect(leader);
    const got = await fetchSome(nc, ACKED, 10_000);
    assert.deepEqual(got.map((m) => m.seq), Array.from({ length: ACKED }, (_x, i) => i + 1), 'first delivery');
    for (const m of got) assert.ok(await m.ackAck({ timeout: 10_000 }), `ack of ${m.seq} confirmed`);
    await nc.close();
    await c.kill(damaged);
    const groupDir = consumerGroupDir(damaged)!;
    damage(damaged, groupDir);

    await c.kill(leader);
    await c.restart(damaged);
    await c.restart(behind);
    await c.waitMetaLeader();
    // Probe for longer than two elections take: a consumer leader among the two would deliver.
    nc = await c.connect(behind);
    const early: number[] = [];
    await pollUntil(async () => {
      for (const m of await fetchSome(nc, 5, 1_000)) early.push(m.seq);
      return undefined;
    }, 'deliveries while the intact replica is down', 2 * ELECTION_WINDOW_MS, 250).catch(() => undefined);
    assert.ok(early.every((s) => s > ACKED), `acknowledged messages delivered again while the intact replica is down: ${early.join(',')}`);
    assert.match(damaged.log(), lostLog, 'the damaged replica reports its lost consumer log');

    await c.restart(leader);
    await c.waitMetaLeader();
    const rest: number[] = [];
    await pollUntil(async () => {
      for (const m of await fetchSome(nc, TOTAL, 1_500)) {
        rest.push(m.seq);
        await m.ackAck({ timeout: 10_000 }).catch(() => false);
      }
      return new Set(rest).size >= TOTAL - ACKED ? true : undefined;
    }, `messages ${ACKED + 1}..${TOTAL} delivered`, 90_000, 0);
    assert.ok(rest.every((s) => s > ACKED), `nothing acknowledged delivered again: ${rest.join(',')}`);
    await nc.close();
    // Every replica, the damaged one included, ends with the whole stream acknowledged.
    await pollUntil(async () => {
      const floors = await Promise.all(c.nodes.map((n) => localAckFloor(c, n)));
      return floors.every((f) => f === TOTAL) ? true : undefined;
    }, `every replica's ack floor at ${TOTAL}`, 60_000, 100);
    assert.ok(existsSync(groupDir), 'the group directory is there again');
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
}

test('a replica whose consumer group directory was removed while down, then the consumer leader killed: no acknowledged message is delivered again', { skip, timeout: 240_000 }, async () => {
  await lostConsumerLogKeepsAcks((n, groupDir) => {
    const copy = filesMatching(n.storeDir, new RegExp(`/streams/${STREAM}/obs/${DURABLE}/raft-witness\\.idx$`));
    assert.equal(copy.length, 1, 'the consumer store keeps the witness copy');
    rmSync(groupDir, { recursive: true });
  }, /consumer .*below its witness copy/);
});

test('a replica whose consumer WAL was cut in half while down, then the consumer leader killed: no acknowledged message is delivered again', { skip, timeout: 240_000 }, async () => {
  await lostConsumerLogKeepsAcks((_n, groupDir) => {
    const wal = newestSegment(groupDir);
    truncateSync(wal, Math.floor(statSync(wal).size / 2));
  }, /consumer .*WAL recovery: .*may have been acknowledged/);
});

test('a replica whose consumer WAL has a bit flipped while down, then the consumer leader killed: no acknowledged message is delivered again', { skip, timeout: 240_000 }, async () => {
  await lostConsumerLogKeepsAcks((_n, groupDir) => {
    const wal = newestSegment(groupDir);
    flipBit(wal, Math.floor(statSync(wal).size / 2));
  }, /consumer .*WAL recovery: .*may have been acknowledged/);
});
