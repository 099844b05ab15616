// A follower's stream raft WAL cut cleanly (at a record boundary) while it is down, then the leader
// killed. The cut looks like a log that never went further; without the WAL's durable witness the
// damaged follower voted for the other follower, which had missed the last acknowledged messages
// (both logs "ended" at the same index), and that one led without them. With the witness the damaged
// follower recovers as lost state: no leader (and no PubAck) until the intact leader is back, and
// every acknowledged message survives on every replica.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync } from 'node:fs';
import { skipReason, type JsNode } from './js-cluster-harness.js';
import { assertLostLogKeepsAcks, createR3, filesMatching, publishRange, startWithEnv, streamLeader, waitReplicas } from './js-repl-snapshot-helpers.js';

const skip = skipReason('tsnats');

/** The newest segment of n's stream group WAL. */
function streamWal(n: JsNode): string {
  const segs = filesMatching(n.storeDir, /\/_js_\/S-[^/]+\/wal\/\d{20}\.wal$/).sort();
  assert.ok(segs.length > 0, `${n.name}: a stream WAL segment`);
  return segs[segs.length - 1]!;
}

/** Record boundaries (byte offsets) of a WAL segment: u32 LE payload length, 24-byte header. */
function recordStarts(path: string): number[] {
  const b = readFileSync(path);
  const out: number[] = [];
  for (let off = 0; off + 24 <= b.length; off += 24 + b.readUInt32LE(off)) out.push(off);
  return out;
}

test('a follower stream WAL cut cleanly while down, then the leader killed: every acknowledged message survives', { skip, timeout: 240_000 }, async () => {
  const c = await startWithEnv({});
  try {
    let nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'CUT');
    await publishRange(nc, 'CUT', 1, 100);
    await waitReplicas(c, 'CUT', 100);
    const leader = await streamLeader(c, nc, 'CUT');
    const [damaged, behind] = c.nodes.filter((n) => n !== leader) as [JsNode, JsNode];
    // `behind` misses 101..150; `damaged` acknowledges them with the leader, then loses them cleanly.
    await nc.close();
    await c.kill(behind);
    const wal = streamWal(damaged);
    const cutAt = statSync(wal).size;
    nc = await c.connect(leader);
    await publishRange(nc, 'CUT', 101, 150);
    await nc.close();
    await c.kill(damaged);
    assert.equal(streamWal(damaged), wal, 'still one segment');
    const starts = recordStarts(wal);
    assert.ok(starts.includes(cutAt), `the WAL size before 101..150 (${cutAt}) is a record boundary`);
    assert.ok(starts.length > starts.indexOf(cutAt), 'the cut drops the acknowledged entries of 101..150 (batched, several per record)');
    truncateSync(wal, cutAt);
    await assertLostLogKeepsAcks(c, 'CUT', 'cut.1', { leader, damaged, behind }, /below its durable witness/);
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
