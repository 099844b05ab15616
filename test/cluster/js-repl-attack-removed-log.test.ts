// A follower's whole stream raft group directory (`_js_/<group>/`: WAL, durable witness, term and
// vote, peers) removed while it is down, its stream store left, then the leader killed. Without a
// trace outside that directory the follower restarted as a brand-new member: an empty log that
// votes as a full one, so its vote elected the other follower, which had missed the last
// acknowledged messages, and that one led without them (PubAck 101 after 150). With the copy of
// the durable witness in the stream's store directory, the follower recovers as lost state: no
// leader (and no PubAck) until the intact leader is back, and every acknowledged message
// survives on every replica.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { skipReason, type JsNode } from './js-cluster-harness.js';
import { assertLostLogKeepsAcks, createR3, filesMatching, publishRange, startWithEnv, streamLeader, waitReplicas } from './js-repl-snapshot-helpers.js';

const skip = skipReason('tsnats');

/** n's stream raft group directory (`…/_js_/S-…`). */
function streamGroupDir(n: JsNode): string {
  const peers = filesMatching(n.storeDir, /\/_js_\/S-[^/]+\/peers\.idx$/);
  assert.equal(peers.length, 1, `${n.name}: one stream group`);
  return dirname(peers[0]!);
}

test('a follower whose stream group directory was removed while down, then the leader killed: every acknowledged message survives', { skip, timeout: 240_000 }, async () => {
  const c = await startWithEnv({});
  try {
    let nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'RMD');
    await publishRange(nc, 'RMD', 1, 100);
    await waitReplicas(c, 'RMD', 100);
    const leader = await streamLeader(c, nc, 'RMD');
    const [damaged, behind] = c.nodes.filter((n) => n !== leader) as [JsNode, JsNode];
    // `behind` misses 101..150; `damaged` acknowledges them with the leader, then loses its whole log.
    await nc.close();
    await c.kill(behind);
    nc = await c.connect(leader);
    await publishRange(nc, 'RMD', 101, 150);
    await nc.close();
    await c.kill(damaged);
    const groupDir = streamGroupDir(damaged);
    rmSync(groupDir, { recursive: true });
    assert.equal(filesMatching(damaged.storeDir, /\/streams\/RMD\/raft-witness\.idx$/).length, 1, 'the store keeps the witness copy');
    await assertLostLogKeepsAcks(c, 'RMD', 'rmd.1', { leader, damaged, behind }, /below its witness copy/);
    assert.ok(existsSync(groupDir), 'the group directory is created again');
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
