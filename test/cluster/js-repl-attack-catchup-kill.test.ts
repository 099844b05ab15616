// kill -9 of a replica in the middle of its own recovery: a follower that missed 2,000 messages
// (the leader compacted past them: small snapshot thresholds) is restarted, killed again as soon as
// its replica is seen catching up (it holds more than before, not yet all), and restarted once more
// while publishing goes on. Nothing acknowledged may be lost and the replicas must end identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pollUntil, skipReason } from './js-cluster-harness.js';
import { SMALL_SNAPSHOTS, assertReplicasIdentical, createR3, localState, publishRange, restartWithEnv, startWithEnv, streamLeader, waitReplicas } from './js-repl-snapshot-helpers.js';
import { shortElections } from './js-short-elections.js';

// Elections after the kills and restarts take 1.5-3 s instead of 4-9 s; what is checked does not depend on it.
shortElections();

const skip = skipReason('tsnats');
const BEFORE = 200;
const MISSED = 2000;
const AFTER = 200;

test('a follower killed -9 in the middle of its catch-up and restarted again loses nothing and ends identical', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  try {
    const meta = await c.waitMetaLeader({ peers: 3 });
    const nc = await c.connect(meta);
    await createR3(nc, 'K');
    await publishRange(nc, 'K', 1, BEFORE);
    await waitReplicas(c, 'K', BEFORE);
    const leader = await streamLeader(c, nc, 'K');
    const victim = c.nodes.find((n) => n !== leader && n !== meta) ?? c.nodes.find((n) => n !== leader)!;
    const client = victim === meta ? await c.connect(c.nodes.find((n) => n !== victim)!) : nc;
    await c.kill(victim);
    await publishRange(client, 'K', BEFORE + 1, BEFORE + MISSED);
    await restartWithEnv(c, victim, SMALL_SNAPSHOTS);
    // Killed again at the first sight of a partial catch-up (or, if it was quicker than the poll, once caught up).
    const seen = await pollUntil(async () => {
      const s = await localState(c, victim, 'K').catch(() => undefined);
      return s && s.last_seq > BEFORE ? s.last_seq : undefined;
    }, `${victim.name} catching up`, 60_000, 10);
    await c.kill(victim);
    if (process.env.ATTACK_DEBUG) console.error(`${victim.name} killed at last_seq ${seen} of ${BEFORE + MISSED}`);
    await restartWithEnv(c, victim, SMALL_SNAPSHOTS);
    await publishRange(client, 'K', BEFORE + MISSED + 1, BEFORE + MISSED + AFTER);
    const total = BEFORE + MISSED + AFTER;
    await waitReplicas(c, 'K', total, 90_000);
    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'K', total);
    assert.ok(seen > BEFORE);
  } finally {
    await c.shutdown();
  }
});
