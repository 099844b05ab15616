// An R3 memory stream whose every server restarted: no replica holds the messages any more and
// none can catch up. After a while without a leader the replicas accept the loss (sequences stay
// used), elect a leader and take publishes again at the next sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { pollUntil, skipReason } from './js-cluster-harness.js';
import { SMALL_SNAPSHOTS, publishRange, restartWithEnv, startWithEnv, streamLeader, streamSnapshotIndex } from './js-repl-snapshot-helpers.js';
import { shortElections } from './js-short-elections.js';

// Elections after the restarts take 1.5-3 s instead of 4-9 s; what is checked does not depend on it.
shortElections();

const skip = skipReason('tsnats');

test('repl snapshot: an R3 memory stream after a restart of every server serves again', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  try {
    let nc = await c.connect(c.nodes[0]!);
    const jsm = await jetstreamManager(nc, { timeout: 20_000 });
    await jsm.streams.add({ name: 'MEM', subjects: ['mem.>'], num_replicas: 3, storage: 'memory' as never });
    await publishRange(nc, 'MEM', 1, 300);
    await pollUntil(() => (c.nodes.every((n) => streamSnapshotIndex(n) > 0) ? true : undefined), 'a stream snapshot on every replica', 30_000, 100);

    for (const n of c.nodes) await c.stop(n);
    for (const n of c.nodes) await restartWithEnv(c, n, SMALL_SNAPSHOTS);
    await c.waitMetaLeader();
    nc = await c.connect(c.nodes[0]!);
    await pollUntil(() => streamLeader(c, nc, 'MEM').catch(() => undefined), 'a MEM leader', 90_000, 500);
    const ack = await pollUntil(async () => {
      try {
        return await jetstream(nc, { timeout: 5_000 }).publish('mem.1', 'after');
      } catch {
        return undefined;
      }
    }, 'a publish after the restart', 90_000, 500);
    assert.equal(ack.seq, 301, 'the sequences of the lost messages stay used');
    assert.ok(c.nodes.some((n) => /memory stream: no leader to catch up from/.test(n.log())), 'a replica accepted the loss');
  } finally {
    await c.shutdown();
  }
});
