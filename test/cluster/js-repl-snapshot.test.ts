// Replicated stream snapshots and WAL compaction on a 3-node tsnats cluster (child processes):
// (a) a follower that was down while the leader compacted its log past the follower's end
//     installs the leader's snapshot and fetches the missing messages with `$JSC` catch-up;
// (b) every server killed (-9) after compaction and started again: nothing acknowledged is lost.
// The compaction thresholds are made small through the environment (raft-snapshot-policy.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pollUntil, skipReason } from './js-cluster-harness.js';
import {
  SMALL_SNAPSHOTS, assertReplicasIdentical, createR3, publishRange, restartWithEnv, startWithEnv, streamLeader,
  streamSnapshotIndex, waitReplicas,
} from './js-repl-snapshot-helpers.js';
import { shortElections } from './js-short-elections.js';

// Elections after the restarts and kills take 1.5-3 s instead of 4-9 s; what is checked does not depend on it.
shortElections();

const skip = skipReason('tsnats');

test('repl snapshot: a follower behind the compacted log catches up from snapshot + $JSC catch-up', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  try {
    let nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'SNAP');
    await publishRange(nc, 'SNAP', 1, 300);
    await waitReplicas(c, 'SNAP', 300);
    await pollUntil(() => (c.nodes.every((n) => streamSnapshotIndex(n) > 0) ? true : undefined), 'a stream snapshot on every replica', 30_000, 100);

    const leader = await streamLeader(c, nc, 'SNAP');
    // Neither the stream leader nor the meta leader (API requests wait for no meta election).
    const metaLeader = await c.waitMetaLeader();
    const follower = c.nodes.find((n) => n !== leader && n !== metaLeader)!;
    // Keep a connection to a server that stays up.
    if (follower === c.nodes[0]) nc = await c.connect(leader);
    await c.stop(follower);
    const followerIndex = streamSnapshotIndex(follower);
    assert.ok(followerIndex > 0, 'the follower snapshotted on shutdown');

    await publishRange(nc, 'SNAP', 301, 700);
    // The leader's log no longer holds the entries the follower is missing.
    await pollUntil(() => (streamSnapshotIndex(leader) > followerIndex + 5 ? true : undefined), 'the leader compacted past the follower', 30_000, 100);

    await restartWithEnv(c, follower, SMALL_SNAPSHOTS);
    await c.waitMetaLeader();
    await waitReplicas(c, 'SNAP', 700);
    assert.match(follower.log(), /catching up from the leader/, 'the follower ran a $JSC catch-up');
    assert.match(follower.log(), /caught up to \d+ in \d+ run/);

    // The caught-up follower takes part again: new publishes reach every replica.
    await publishRange(nc, 'SNAP', 701, 720);
    await waitReplicas(c, 'SNAP', 720);
    const jsm = await jetstreamManager(nc, { timeout: 20_000 });
    const si = await jsm.streams.info('SNAP');
    assert.equal(si.state.last_seq, 720);
    await pollUntil(async () => {
      const info = await jsm.streams.info('SNAP');
      return (info.cluster?.replicas ?? []).length === 2 && info.cluster!.replicas!.every((r) => r.current) ? true : undefined;
    }, 'every replica current', 30_000, 100);

    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'SNAP', 720);
  } catch (e) {
    if (process.env.SNAP_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log().split('\n').filter((l) => !/Route|Router/.test(l)).join('\n')}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});

test('repl snapshot: every server killed after compaction and restarted: nothing acknowledged lost', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  try {
    let nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'ALL');
    await publishRange(nc, 'ALL', 1, 500);
    await pollUntil(() => (c.nodes.every((n) => streamSnapshotIndex(n) > 0) ? true : undefined), 'a stream snapshot on every replica', 30_000, 100);
    // Entries after the last snapshot stay in the WAL only: the restart must replay them.
    await publishRange(nc, 'ALL', 501, 520);

    for (const n of c.nodes) await c.kill(n);
    for (const n of c.nodes) await restartWithEnv(c, n, SMALL_SNAPSHOTS);
    await c.waitMetaLeader();
    nc = await c.connect(c.nodes[1]!);
    await streamLeader(c, nc, 'ALL');
    await waitReplicas(c, 'ALL', 520);

    const js = jetstream(nc, { timeout: 20_000 });
    const dup = await js.publish('all.1', 'again', { msgID: 'id-510' });
    assert.equal(dup.duplicate, true, 'the dedupe window survived the restart');
    assert.equal(dup.seq, 510);
    await publishRange(nc, 'ALL', 521, 530);
    await waitReplicas(c, 'ALL', 530);

    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'ALL', 530);
  } catch (e) {
    if (process.env.SNAP_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log().split('\n').filter((l) => !/Route|Router/.test(l)).join('\n')}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
