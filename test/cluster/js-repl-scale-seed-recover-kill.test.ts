// A stream scaled from R1 to R3 while one of its new servers is down, on a 3-server tsnats cluster
// of child processes. That server learns of the scale-up only when it comes back: from the meta
// leader's log, or (once the meta log was compacted) from a meta snapshot, which holds the new
// assignment but not the one it replaced. Until the old holder's stream snapshot is committed in
// the new group, the holder's store is the only copy of the acknowledged messages; the returning
// server must not lead with its empty store either, even once it has the holder's first log entry
// and the holder is killed -9 (stream-membership.ts scaleUpRole).
//
// The holder is started with the test-only fault injection TSNATS_FAULT_DELAY_SEED_SNAPSHOT_MS
// (stream-group.ts), which holds the window open, and restarted without it. The other two servers
// then get longer than their largest election timeout (shortened: js-short-elections.ts) to elect a
// leader they must not. Afterwards every acknowledged message is on the leader and on every
// replica, the R1 durable kept its acknowledgements, and the next publish takes the next
// sequence. (tsnats only: the window is ours.)
//
// The price of that guard, checked last: a server that recovers an R3 stream and durable created
// while it was down, from a meta snapshot, cannot tell them from seeded ones and waits as an
// observer too; it must stop waiting once entries are committed, and may then lead both. And an
// R3 create whose servers all went down before creating their replicas, recovered from their meta
// snapshots, has only new replicas: it must still elect.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { JsCluster, apiRequest, pollUntil, skipReason, type JsNode } from './js-cluster-harness.js';
import { consumeAcked, ownClusterName, publishAcked, waitSettled, type InfoResp } from './js-repl-scale-helpers.js';
import { metaSnapshotIndex, waitReplicas } from './js-repl-snapshot-helpers.js';
import { ELECTION_WINDOW_MS, shortElections } from './js-short-elections.js';
import { assertKept, clusterPerTest, dropReplica, heardFromLeader, holdsStreamGroup, moveMetaLeader, r1StreamWithMessages, startHeldCluster } from './js-repl-scale-seed-helpers.js';
import { delay } from '../helpers/wait.js';

shortElections();

describe('R1 -> R3 stream seeding with a new replica down during the scale-up, on a 3-server tsnats cluster', { skip: skipReason('tsnats') }, () => {
  const clusters = clusterPerTest();

  /** Compact the meta log past what it holds now: each new meta leader takes a snapshot (moved to `other`, then back to `leader`). */
  async function compactMeta(cl: JsCluster, leader: JsNode, other: JsNode): Promise<number> {
    const before = metaSnapshotIndex(leader);
    await moveMetaLeader(cl, other);
    await moveMetaLeader(cl, leader);
    return pollUntil(() => (metaSnapshotIndex(leader) > before ? metaSnapshotIndex(leader) : undefined), 'a meta snapshot on the meta leader', 30_000, 20);
  }

  /** Step the group's leader down (`what`: STREAM name, or CONSUMER stream.name) until `n` leads it. */
  async function leadsAfterStepdowns(nc: NatsConnection, what: string, n: JsNode): Promise<void> {
    const kind = what.includes('.') ? 'CONSUMER' : 'STREAM';
    await pollUntil(async () => {
      const info = await apiRequest<InfoResp>(nc, `$JS.API.${kind}.INFO.${what}`, undefined, { settleMs: 0 });
      const leader = info.first?.cluster?.leader;
      if (leader === n.name) return true;
      if (leader) await apiRequest(nc, `$JS.API.${kind}.LEADER.STEPDOWN.${what}`, undefined, { settleMs: 0 });
      return undefined;
    }, `${n.name} leading ${kind} ${what}`, 90_000, 1000);
  }

  /**
   * R1 stream `name` with 10 acknowledged messages and durable D (acks 1..4) on the holder; the
   * meta leader on another server (`live`); the third server (`late`) killed -9; the stream scaled
   * to R3 and the holder leading with its snapshot held back. With `compactMeta` the meta leader
   * then compacts its log past the update (each new meta leader takes a snapshot), so that `late`
   * recovers the assignment from a snapshot. `late` comes back, the holder leads and both new
   * replicas receive its first entry; then the holder is killed -9 and, after an election window, restarted.
   */
  async function lateReplica(name: string, viaSnapshot: boolean): Promise<void> {
    const cl = clusters.use(await startHeldCluster());
    await cl.waitMetaLeader({ peers: 3 });
    const holder = await r1StreamWithMessages(cl, await cl.connect(cl.nodes[0]!), name, true);
    const [live, late] = cl.nodes.filter((n) => n !== holder) as [JsNode, JsNode];
    await moveMetaLeader(cl, live);
    await cl.kill(late);
    const nc = await cl.connect(live);
    const up = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.UPDATE.${name}`, { name, subjects: [name.toLowerCase()], num_replicas: 3 });
    assert.equal(up.first?.error, undefined, JSON.stringify(up.first));
    // A new replica in raft's lost-state mode votes only as "empty", and a candidate needs every
    // member's vote then: the holder cannot lead before `late` is back.
    await pollUntil(() => (holdsStreamGroup(live) ? true : undefined), 'the live new replica\'s stream group', 30_000, 20);
    const compactedAt = viaSnapshot ? await compactMeta(cl, live, holder) : 0;
    await cl.restart(late);
    await pollUntil(() => (heardFromLeader(late) && heardFromLeader(live) ? true : undefined), 'the holder\'s first entry on both new replicas', 30_000, 20);
    if (viaSnapshot) assert.ok(metaSnapshotIndex(late) >= compactedAt, 'the returning server recovered the meta state from the leader\'s snapshot');
    await cl.kill(holder);
    await delay(ELECTION_WINDOW_MS);
    await cl.restart(holder);
    await assertKept(cl, name, live, true);
  }

  test('the returning server replays the scale-up from the meta log; the holder killed -9: nobody leads without its data', async () => {
    await lateReplica('SL1', false);
  });

  test('the returning server recovers the scale-up from a meta snapshot; the holder killed -9: nobody leads without its data', async () => {
    await lateReplica('SL2', true);
  });

  test('an R3 stream and durable created while a server was down, recovered from a meta snapshot: it waits only until entries are committed', async () => {
    const cl = clusters.use(await JsCluster.start({ impl: 'tsnats', size: 3, clusterName: ownClusterName() }));
    await cl.waitMetaLeader({ peers: 3 });
    const [a, b, late] = cl.nodes as [JsNode, JsNode, JsNode];
    await moveMetaLeader(cl, a);
    await cl.kill(late);
    const nc = await cl.connect(a);
    const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.SL3', { name: 'SL3', subjects: ['sl3'], num_replicas: 3 });
    assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
    const cons = await apiRequest<InfoResp>(nc, '$JS.API.CONSUMER.CREATE.SL3.D', { stream_name: 'SL3', config: { durable_name: 'D', ack_policy: 'explicit' } });
    assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
    const compactedAt = await compactMeta(cl, a, b);
    await cl.restart(late);
    await pollUntil(() => (holdsStreamGroup(late) ? true : undefined), 'the returning server\'s stream replica', 30_000, 20);
    assert.ok(metaSnapshotIndex(late) >= compactedAt, 'the returning server recovered the meta state from the leader\'s snapshot');
    await publishAcked(nc, 'sl3', 1, 10);
    await consumeAcked(nc, 'SL3', 'D', 1, 4);
    await leadsAfterStepdowns(nc, 'SL3', late);
    await leadsAfterStepdowns(nc, 'SL3.D', late);
    await assertKept(cl, 'SL3', late, true);
  });

  test('an R3 create whose servers all went down before creating their replicas, recovered from meta snapshots: the group elects', async () => {
    const cl = clusters.use(await JsCluster.start({ impl: 'tsnats', size: 3, clusterName: ownClusterName() }));
    await cl.waitMetaLeader({ peers: 3 });
    const nc = await cl.connect(cl.nodes[0]!);
    const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.SL4', { name: 'SL4', subjects: ['sl4'], num_replicas: 3 });
    assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
    await waitSettled(nc, '$JS.API.STREAM.INFO.SL4', 3);
    // A graceful stop leaves a meta snapshot (which keeps no API subject); without their replicas
    // the servers are where a crash right after applying the create would leave them.
    for (const n of cl.nodes) await cl.stop(n);
    for (const n of cl.nodes) {
      assert.ok(metaSnapshotIndex(n) > 0, `${n.name} has a meta snapshot`);
      dropReplica(n, 'SL4');
    }
    for (const n of cl.nodes) await cl.restart(n);
    await cl.waitMetaLeader({ peers: 3 });
    const again = await cl.connect(cl.nodes[0]!);
    await waitSettled(again, '$JS.API.STREAM.INFO.SL4', 3, [], 60_000);
    await publishAcked(again, 'sl4', 1, 3);
    await waitReplicas(cl, 'SL4', 3);
  });
});
