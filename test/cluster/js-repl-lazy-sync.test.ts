// Replicated streams' stores sync lazily (store-factory.ts replicaSync): a PubAck waits for the
// raft commit (the WAL fsync'ed on a quorum) and the apply, not for the store's fsync. So the
// WAL, not the store, is what makes an acknowledged message durable, and a restart must rebuild
// any store tail that never reached the disk from it. Here: bursts of async publishes (256 in
// flight) with snapshots and compaction running meanwhile, then every server killed (-9) right
// after the last PubAck and started again: every acknowledged message is on every replica, once,
// at its acknowledged sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { skipReason } from './js-cluster-harness.js';
import {
  SMALL_SNAPSHOTS, assertReplicasIdentical, createR3, publishRange, restartWithEnv, startWithEnv, streamLeader,
  streamSnapshotIndex, waitReplicas,
} from './js-repl-snapshot-helpers.js';
import { shortElections } from './js-short-elections.js';

// Elections after each kill take 1.5-3 s instead of 4-9 s; what is checked does not depend on it.
shortElections();

const skip = skipReason('tsnats');

test('repl lazy store sync: all servers killed right after a burst\'s PubAcks, restarted: every acknowledged message on every replica', { skip, timeout: 240_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  try {
    let nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'LAZY');
    // Two rounds: the second starts from stores a kill -9 cut short and the WAL repaired.
    let acked = 0;
    for (const round of [1, 2]) {
      await publishRange(nc, 'LAZY', acked + 1, acked + 1500, 256);
      acked += 1500;
      // No wait for followers or store syncs: kill at once.
      for (const n of c.nodes) await c.kill(n);
      assert.ok(c.nodes.some((n) => streamSnapshotIndex(n) > 0), `round ${round}: snapshots ran during the burst`);
      for (const n of c.nodes) await restartWithEnv(c, n, SMALL_SNAPSHOTS);
      await c.waitMetaLeader();
      nc = await c.connect(c.nodes[round % 3]!);
      await streamLeader(c, nc, 'LAZY');
      await waitReplicas(c, 'LAZY', acked);
      const jsm = await jetstreamManager(nc, { timeout: 20_000 });
      assert.equal((await jsm.streams.info('LAZY')).state.last_seq, acked, `round ${round}: nothing more than was acknowledged`);
    }
    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'LAZY', acked);
  } catch (e) {
    if (process.env.SNAP_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log().split('\n').filter((l) => !/Route|Router/.test(l)).join('\n')}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
