// A stream scaled from R1 to R3 while servers crash, on a 3-server tsnats cluster of child
// processes. Until the old holder's stream snapshot is committed in the new group, the holder's
// store is the only copy of the acknowledged messages: the new replicas must not elect a leader
// among themselves (its empty store would become the stream, and the holder's messages would be
// overwritten when it returns), not even once they have the holder's first log entry, and not
// after a kill -9 and restart of their own (stream-membership.ts, the scale-up markers).
//
// The window between the holder's first entry reaching the new replicas and its snapshot being
// committed is milliseconds wide; the holder is started with the test-only fault injection
// TSNATS_FAULT_DELAY_SEED_SNAPSHOT_MS (stream-group.ts), which holds it open, and is restarted
// without it. The new replicas then get longer than raft's largest election timeout to do what
// they must not. Afterwards every acknowledged message is on the leader and on every replica, and
// the next publish takes the next sequence. (tsnats only: the crash window is ours.)
import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { JsCluster, SYS, apiRequest, pollUntil, skipReason, type JsNode } from './js-cluster-harness.js';
import { assertAllReadable, ownClusterName, publishAcked, waitSettled, type InfoResp } from './js-repl-scale-helpers.js';
import { waitReplicas, withEnv } from './js-repl-snapshot-helpers.js';
import { delay } from '../helpers/wait.js';

/** Longer than raft's maximum election timeout: time in which unguarded new replicas would elect. */
const ELECTION_WINDOW_MS = 10_000;
/** Holds the window open for the whole test (the holder is restarted without it). */
const HOLD_WINDOW = { TSNATS_FAULT_DELAY_SEED_SNAPSHOT_MS: '600000' };
/** raft's lost-state marker (src/raft/log/meta-files.ts): gone once a leader's entry reached the node. */
const STATE_LOST_FILE = 'state-lost';

/** The stream raft group directories (`S-*`, in the system account's `_js_`) a node holds. */
function streamGroupDirs(n: JsNode): string[] {
  const root = join(n.storeDir, 'jetstream');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((acc) => {
    const js = join(root, acc, '_js_');
    return existsSync(js) ? readdirSync(js).filter((d) => d.startsWith('S-')).map((d) => join(js, d)) : [];
  });
}

/** The node has a stream group directory and has heard from a leader (raft left lost-state mode). */
function heardFromLeader(n: JsNode): boolean {
  const dirs = streamGroupDirs(n);
  return dirs.length === 1 && readdirSync(dirs[0]!).length > 1 && !existsSync(join(dirs[0]!, STATE_LOST_FILE));
}

describe('R1 -> R3 stream seeding under kill -9 on a 3-server tsnats cluster', { skip: skipReason('tsnats') }, () => {
  let c: JsCluster | undefined;
  afterEach(async () => {
    await c?.shutdown();
    c = undefined;
  });
  after(async () => {
    await c?.shutdown();
  });

  /**
   * A cluster whose servers hold the seed's snapshot back, an R1 stream `name` with 10
   * acknowledged messages, the meta leader moved off its server, and the stream scaled to R3: the
   * holder leads the new group and its first entry has reached both new replicas, but its data
   * has not. Returns the holder and the new replicas.
   */
  async function openWindow(name: string): Promise<{ holder: JsNode; joiners: JsNode[] }> {
    const cl = await withEnv(HOLD_WINDOW, () => JsCluster.start({ impl: 'tsnats', size: 3, clusterName: ownClusterName() }));
    c = cl;
    await cl.waitMetaLeader({ peers: 3 });
    const nc = await cl.connect(cl.nodes[0]!);
    const subject = name.toLowerCase();
    const created = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.CREATE.${name}`, { name, subjects: [subject], num_replicas: 1 });
    assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
    await publishAcked(nc, subject, 1, 10);
    const holder = cl.node((await waitSettled(nc, `$JS.API.STREAM.INFO.${name}`, 1)).cluster!.leader!);
    const joiners = cl.nodes.filter((n) => n !== holder);
    // The meta leader must survive the holder's kill (it places nothing here, but answers INFO's routing).
    if ((await cl.metaLeader()) === holder) {
      const sys = await cl.connect(joiners[0]!, SYS);
      await apiRequest(sys, '$JS.API.META.LEADER.STEPDOWN');
      await cl.waitMetaLeader({ not: holder.name });
    }
    const up = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.UPDATE.${name}`, { name, subjects: [subject], num_replicas: 3 });
    assert.equal(up.first?.error, undefined, JSON.stringify(up.first));
    // The holder leads and both new replicas answer its appends.
    const info = await waitSettled(nc, `$JS.API.STREAM.INFO.${name}`, 3);
    assert.equal(info.cluster?.leader, holder.name);
    await pollUntil(() => (joiners.every(heardFromLeader) ? true : undefined), 'the holder\'s first entry on both new replicas', 30_000, 20);
    return { holder, joiners };
  }

  /** Every acknowledged message on the leader and on each replica; the next publish is sequence 11. */
  async function assertKept(name: string, via: JsNode): Promise<void> {
    const cl = c!;
    const nc = await cl.connect(via);
    const info = await waitSettled(nc, `$JS.API.STREAM.INFO.${name}`, 3, [], 60_000);
    assert.equal(info.state?.messages, 10, `the leader (${info.cluster?.leader}) holds the acknowledged messages: ${JSON.stringify(info)}`);
    assert.equal(info.state?.last_seq, 10, JSON.stringify(info));
    await assertAllReadable(nc, name, 10);
    await waitReplicas(cl, name, 10);
    await publishAcked(nc, name.toLowerCase(), 11, 11);
    await waitReplicas(cl, name, 11);
  }

  test('the holder killed -9 once its first entry reached the new replicas: they wait for it', async () => {
    const { holder, joiners } = await openWindow('SS1');
    const cl = c!;
    await cl.kill(holder);
    await delay(ELECTION_WINDOW_MS);
    await cl.restart(holder);
    await assertKept('SS1', joiners[0]!);
  });

  test('a new replica killed -9 and restarted in the window, the holder killed too: the new replicas still wait for it', async () => {
    const { holder, joiners } = await openWindow('SS2');
    const cl = c!;
    await cl.kill(joiners[1]!);
    await cl.kill(holder);
    await cl.restart(joiners[1]!);
    await delay(ELECTION_WINDOW_MS);
    await cl.restart(holder);
    await assertKept('SS2', joiners[0]!);
  });
});
