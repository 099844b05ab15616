// Two of three replicas damaged while down: the tails of their newest stream message blocks torn off
// (and a bit flipped in one), the raft WALs intact. The one intact replica must end up the source:
// every acknowledged message on every replica, once, at its sequence, and none served corrupted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, truncateSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { pollUntil, skipReason, streamInfoWithLeader } from './js-cluster-harness.js';
import {
  SMALL_SNAPSHOTS, assertReplicasIdentical, createR3, filesMatching, flipBit, payloadOf, publishRange, restartWithEnv, startWithEnv, streamLeader,
  streamSnapshotIndex, waitReplicas,
} from './js-repl-snapshot-helpers.js';
import { shortElections } from './js-short-elections.js';

// Elections after the restarts take 1.5-3 s instead of 4-9 s; what is checked does not depend on it.
shortElections();

const skip = skipReason('tsnats');


function damage(storeDir: string, stream: string, flip: boolean): void {
  const blocks = filesMatching(storeDir, new RegExp(`/streams/${stream}/msgs/\\d+\\.blk$`)).sort();
  assert.ok(blocks.length > 0, 'message blocks present');
  const last = blocks[blocks.length - 1]!;
  const size = statSync(last).size;
  truncateSync(last, size - Math.min(size - 1, 6_000));
  if (flip) flipBit(blocks[0]!, Math.floor(statSync(blocks[0]!).size / 3));
}

test('two of three replicas torn while the cluster is down, the damaged ones restarted first: the intact one is the source', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv({});
  try {
    const nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'TWO');
    await publishRange(nc, 'TWO', 1, 300);
    await waitReplicas(c, 'TWO', 300);
    const leader = await streamLeader(c, nc, 'TWO');
    const damaged = c.nodes.filter((n) => n !== leader);
    await nc.close();
    for (const n of c.nodes) await c.kill(n);
    damage(damaged[0]!.storeDir, 'TWO', false);
    damage(damaged[1]!.storeDir, 'TWO', true);
    for (const n of [...damaged, leader]) await c.restart(n);
    await c.waitMetaLeader();
    const nc2 = await c.connect(leader);
    await streamInfoWithLeader(nc2, 'TWO');
    await publishRange(nc2, 'TWO', 301, 320);
    await waitReplicas(c, 'TWO', 320);
    await nc2.close();
    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'TWO', 320);
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});

test('two of three replicas torn after compaction, only they restarted: no PubAck at a wrong sequence, the intact one repairs them', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  try {
    const nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'TWO');
    await publishRange(nc, 'TWO', 1, 600);
    await waitReplicas(c, 'TWO', 600);
    const leader = await streamLeader(c, nc, 'TWO');
    const damaged = c.nodes.filter((n) => n !== leader);
    await pollUntil(async () => (damaged.every((n) => streamSnapshotIndex(n) > 0) ? true : undefined), 'followers compacted', 30_000, 100);
    await nc.close();
    for (const n of c.nodes) await c.kill(n);
    damage(damaged[0]!.storeDir, 'TWO', false);
    damage(damaged[1]!.storeDir, 'TWO', true);
    for (const n of damaged) await restartWithEnv(c, n, SMALL_SNAPSHOTS);
    await c.waitMetaLeader();
    const nc2 = await c.connect(damaged[0]!);
    const js = jetstream(nc2, { timeout: 3_000 });
    // Whatever the two say, a PubAck must carry the sequence after the last acknowledged one.
    const acked: number[] = [];
    for (let k = 601; k <= 610; k++) {
      try {
        const a = await js.publish(`two.${k % 5}`, payloadOf(k), { msgID: `id-${k}`, expect: { streamName: 'TWO' } });
        acked.push(a.seq);
        assert.equal(a.seq, k, `PubAck of message ${k} while the intact replica is down`);
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        break;
      }
    }
    await restartWithEnv(c, leader, SMALL_SNAPSHOTS);
    await c.waitMetaLeader();
    await streamInfoWithLeader(nc2, 'TWO');
    await publishRange(nc2, 'TWO', 601, 620);
    await waitReplicas(c, 'TWO', 620);
    await nc2.close();
    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'TWO', 620);
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
