// A follower's stream raft WAL cut cleanly (at a record boundary) while it is down, then the leader
// killed. The cut looks like a log that never went further; without the WAL's durable witness the
// damaged follower voted for the other follower, which had missed the last acknowledged messages
// (both logs "ended" at the same index), and that one led without them. With the witness the damaged
// follower recovers as lost state: no leader (and no PubAck) until the intact leader is back, and
// every acknowledged message survives on every replica.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, truncateSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { pollUntil, skipReason, streamInfoWithLeader, type JsNode } from './js-cluster-harness.js';
import { assertReplicasIdentical, createR3, filesMatching, payloadOf, publishRange, startWithEnv, streamLeader, waitReplicas } from './js-repl-snapshot-helpers.js';

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
    await c.kill(leader);
    await c.restart(damaged);
    await c.restart(behind);
    await pollUntil(async () => (/below its durable witness/.test(damaged.log()) ? true : undefined), 'the damaged replica reports its lost tail', 60_000, 100);
    await c.waitMetaLeader();
    // The two must not elect a leader that lacks 101..150. Probe for longer than an election takes
    // (a leader among them would answer within it): any PubAck must follow 150.
    const nc2 = await c.connect(behind);
    const js = jetstream(nc2, { timeout: 2_000 });
    const early = await pollUntil(async () => {
      try {
        return await js.publish('cut.1', payloadOf(151), { msgID: 'id-151', expect: { streamName: 'CUT' } });
      } catch {
        return undefined;
      }
    }, 'a PubAck while the intact replica is down', 20_000, 250).catch(() => undefined);
    if (early) assert.equal(early.seq, 151, 'PubAck while the intact replica is down follows the last acknowledged message');
    await c.restart(leader);
    await c.waitMetaLeader();
    const si = await streamInfoWithLeader<{ state: { last_seq: number }; cluster?: { leader?: string } }>(nc2, 'CUT');
    assert.ok(si.state.last_seq >= 150, `stream ends at ${si.state.last_seq}, acknowledged up to 150`);
    const end = si.state.last_seq;
    await publishRange(nc2, 'CUT', end + 1, end + 10);
    await waitReplicas(c, 'CUT', end + 10);
    await nc2.close();
    for (const n of c.nodes) await c.stop(n);
    await assertReplicasIdentical(c, 'CUT', end + 10);
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
