// A follower whose stream store was damaged while it was down (the tail of its last message
// block cut, and a bit flipped in an early message) detects it at start, cuts its store back to
// what it can trust, never leads meanwhile, and repairs itself from the leader with `$JSC`
// catch-up: afterwards every replica holds the same acknowledged messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, truncateSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import { pollUntil, skipReason } from './js-cluster-harness.js';
import {
  SMALL_SNAPSHOTS, assertReplicasIdentical, createR3, filesMatching, flipBit, publishRange, restartWithEnv, startWithEnv, streamLeader,
  waitReplicas,
} from './js-repl-snapshot-helpers.js';
import { shortElections } from './js-short-elections.js';

// Elections after the restarts take 1.5-3 s instead of 4-9 s; what is checked does not depend on it.
shortElections();

const skip = skipReason('tsnats');


test('repl snapshot: a follower whose store files were truncated and bit-flipped repairs itself from the leader', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  try {
    let nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'REP');
    await publishRange(nc, 'REP', 1, 400);
    await waitReplicas(c, 'REP', 400);
    const leader = await streamLeader(c, nc, 'REP');
    // Neither the stream leader nor the meta leader (API requests wait for no meta election).
    const metaLeader = await c.waitMetaLeader();
    const follower = c.nodes.find((n) => n !== leader && n !== metaLeader)!;
    // Keep a connection to a server that stays up.
    if (follower === c.nodes[0]) nc = await c.connect(leader);
    await c.stop(follower);

    const blocks = filesMatching(follower.storeDir, /\/streams\/REP\/msgs\/\d+\.blk$/).sort();
    assert.ok(blocks.length > 0, 'the follower has message blocks');
    const first = blocks[0]!;
    const last = blocks[blocks.length - 1]!;
    flipBit(first, Math.floor(statSync(first).size / 10));
    const size = statSync(last).size;
    truncateSync(last, size - Math.min(size - 1, 5_000));

    await publishRange(nc, 'REP', 401, 450);
    await restartWithEnv(c, follower, SMALL_SNAPSHOTS);
    await c.waitMetaLeader();
    await waitReplicas(c, 'REP', 450);
    assert.match(follower.log(), /catching up from the leader/);

    const jsm = await jetstreamManager(nc, { timeout: 20_000 });
    await pollUntil(async () => {
      const info = await jsm.streams.info('REP');
      return (info.cluster?.replicas ?? []).length === 2 && info.cluster!.replicas!.every((r) => r.current) ? true : undefined;
    }, 'every replica current', 30_000, 100);
    const si = await jsm.streams.info('REP');
    assert.notEqual(si.cluster?.leader, follower.name, 'the damaged replica did not take over');

    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'REP', 450);
  } catch (e) {
    if (process.env.SNAP_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
