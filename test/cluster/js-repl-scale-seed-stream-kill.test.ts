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
// without it. The new replicas then get longer than their largest election timeout (shortened:
// js-short-elections.ts) to do what they must not. Afterwards every acknowledged message is on
// the leader and on every replica, and the next publish takes the next sequence. (tsnats only:
// the crash window is ours.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JsCluster, apiRequest, pollUntil, skipReason, type JsNode } from './js-cluster-harness.js';
import { waitSettled, type InfoResp } from './js-repl-scale-helpers.js';
import { ELECTION_WINDOW_MS, shortElections } from './js-short-elections.js';
import { assertKept, clusterPerTest, heardFromLeader, moveMetaLeader, r1StreamWithMessages, startHeldCluster } from './js-repl-scale-seed-helpers.js';
import { delay } from '../helpers/wait.js';

shortElections();

describe('R1 -> R3 stream seeding under kill -9 on a 3-server tsnats cluster', { skip: skipReason('tsnats') }, () => {
  const clusters = clusterPerTest();

  /**
   * A cluster whose servers hold the seed's snapshot back, an R1 stream `name` with 10
   * acknowledged messages, the meta leader moved off its server, and the stream scaled to R3: the
   * holder leads the new group and its first entry has reached both new replicas, but its data
   * has not. Returns the holder and the new replicas.
   */
  async function openWindow(name: string): Promise<{ cl: JsCluster; holder: JsNode; joiners: JsNode[] }> {
    const cl = clusters.use(await startHeldCluster());
    await cl.waitMetaLeader({ peers: 3 });
    const nc = await cl.connect(cl.nodes[0]!);
    const subject = name.toLowerCase();
    const holder = await r1StreamWithMessages(cl, nc, name);
    const joiners = cl.nodes.filter((n) => n !== holder);
    // The meta leader must survive the holder's kill (it places nothing here, but answers INFO's routing).
    if ((await cl.metaLeader()) === holder) await moveMetaLeader(cl, joiners[0]!);
    const up = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.UPDATE.${name}`, { name, subjects: [subject], num_replicas: 3 });
    assert.equal(up.first?.error, undefined, JSON.stringify(up.first));
    // The holder leads and both new replicas answer its appends.
    const info = await waitSettled(nc, `$JS.API.STREAM.INFO.${name}`, 3);
    assert.equal(info.cluster?.leader, holder.name);
    await pollUntil(() => (joiners.every(heardFromLeader) ? true : undefined), 'the holder\'s first entry on both new replicas', 30_000, 20);
    return { cl, holder, joiners };
  }

  test('the holder killed -9 once its first entry reached the new replicas: they wait for it', async () => {
    const { cl, holder, joiners } = await openWindow('SS1');
    await cl.kill(holder);
    await delay(ELECTION_WINDOW_MS);
    await cl.restart(holder);
    await assertKept(cl, 'SS1', joiners[0]!);
  });

  test('a new replica killed -9 and restarted in the window, the holder killed too: the new replicas still wait for it', async () => {
    const { cl, holder, joiners } = await openWindow('SS2');
    await cl.kill(joiners[1]!);
    await cl.kill(holder);
    await cl.restart(joiners[1]!);
    await delay(ELECTION_WINDOW_MS);
    await cl.restart(holder);
    await assertKept(cl, 'SS2', joiners[0]!);
  });
});
