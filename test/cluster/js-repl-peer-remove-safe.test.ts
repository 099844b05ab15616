// STREAM.PEER.REMOVE never drops the replicas that hold a stream's data (peer-remove-guard.ts), on
// 3-server tsnats clusters of child processes. nats-server 2.9.10 proposes any removal: removing the
// R1 holder right after an R1 -> R3 update left it with a leader and 0 of 100 messages
// (bench/attack/probe-seed-remove.ts), so these checks are tsnats only.
// * the holder (and a new replica) of an R1 -> R3 update whose seed snapshot is held back: refused
//   with 10051, the group unchanged; once seeded, the holder's removal goes through as 10075 (no
//   spare server) and every message stays;
// * the same removal sent right after the update without any fault: whichever answer comes, every
//   acknowledged message is there, with a leader;
// * an R3 stream whose third replica is down: removing the only current follower, or the leader,
//   is refused with nothing changed; with the replica back, removing the leader goes through;
// * the same while the third replica, restarted behind the leader's compacted log, is still
//   fetching messages with `$JSC` (held there by the test-only TSNATS_FAULT_HOLD_CATCHUP_FILE):
//   refused; once it caught up, the follower's removal goes through.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { JsCluster, apiRequest, pollUntil, skipReason, type JsNode } from './js-cluster-harness.js';
import { assertAllReadable, ownClusterName, publishAcked, serversOf, waitSettled, type InfoResp } from './js-repl-scale-helpers.js';
import { clusterPerTest, heldCatchupCluster, moveMetaLeader, r1StreamWithMessages, startHeldCluster } from './js-repl-scale-seed-helpers.js';
import { publishRange, waitReplicas, withEnv } from './js-repl-snapshot-helpers.js';

const T = 'io.nats.jetstream.api.v1.';
type RemoveResp = { type: string; success?: boolean; error?: { code: number; err_code: number; description: string } };

async function removePeer(nc: NatsConnection, stream: string, peer: string): Promise<RemoveResp> {
  // Sent again while no meta leader takes it (an election after a restart): unanswered, or 10008.
  const r = await pollUntil(async () => {
    const x = await apiRequest<RemoveResp>(nc, `$JS.API.STREAM.PEER.REMOVE.${stream}`, { peer }, { waitMs: 10_000 });
    return x.first === undefined || x.first.error?.err_code === 10008 ? undefined : x;
  }, `an answer to the removal of ${peer}`, 60_000, 250);
  assert.equal(r.all.length, 1, JSON.stringify(r.all));
  assert.equal(r.first!.type, `${T}stream_remove_peer_response`);
  return r.first!;
}

function assertRefused(r: RemoveResp): void {
  assert.equal(r.error?.err_code, 10051, JSON.stringify(r));
  assert.match(r.error!.description, /^peer remove refused: /);
}

const REMAP_FAILED = { type: `${T}stream_remove_peer_response`, error: { code: 503, err_code: 10075, description: 'peer remap failed' } };

/** STREAM.INFO of a stream that has a leader (its replicas need not be current). */
function infoWithLeader(nc: NatsConnection, stream: string): Promise<InfoResp> {
  return pollUntil(async () => {
    const r = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.INFO.${stream}`, undefined, { settleMs: 0, waitMs: 2000 });
    return r.first?.cluster?.leader ? r.first : undefined;
  }, `${stream} with a leader`);
}

/** After a refusal: the stream still has a leader, all three servers and every message. */
async function assertUnchanged(cl: JsCluster, nc: NatsConnection, stream: string, messages: number): Promise<InfoResp> {
  const still = await infoWithLeader(nc, stream);
  assert.deepEqual(serversOf(still.cluster).sort(), cl.nodes.map((n) => n.name).sort(), JSON.stringify(still.cluster));
  assert.equal(still.state!.messages, messages);
  return still;
}

describe('STREAM.PEER.REMOVE keeps the replicas holding the data (tsnats)', { skip: skipReason('tsnats') }, () => {
  const clusters = clusterPerTest();

  /** A 3-server cluster (children started with `env`) with its meta group formed, and a connection to its first server. */
  async function startThree(env: Record<string, string> = {}): Promise<{ cl: JsCluster; nc: NatsConnection }> {
    const cl = clusters.use(await withEnv(env, () => JsCluster.start({ impl: 'tsnats', size: 3, clusterName: ownClusterName() })));
    await cl.waitMetaLeader({ peers: 3 });
    return { cl, nc: await cl.connect(cl.nodes[0]!) };
  }

  test('R1 -> R3 still seeding: removing the holder or a new replica is refused; once seeded the holder goes', async () => {
    const cl = clusters.use(await startHeldCluster());
    await cl.waitMetaLeader({ peers: 3 });
    const holder = await r1StreamWithMessages(cl, await cl.connect(cl.nodes[0]!), 'H');
    const joiners = cl.nodes.filter((n) => n !== holder);
    const nc = await cl.connect(joiners[0]!);
    // The holder is restarted below; the meta leader stays up meanwhile.
    if ((await cl.metaLeader()) === holder) await moveMetaLeader(cl, joiners[0]!);
    const up = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.UPDATE.H', { name: 'H', subjects: ['h'], num_replicas: 3 });
    assert.equal(up.first?.error, undefined, JSON.stringify(up.first));

    assertRefused(await removePeer(nc, 'H', holder.name));
    assertRefused(await removePeer(nc, 'H', joiners[1]!.name));
    const still = await assertUnchanged(cl, nc, 'H', 10);
    assert.equal(still.cluster!.leader, holder.name);

    // Restarted without the fault, the holder sends its snapshot: the new replicas catch up, then it may go.
    await cl.stop(holder);
    await cl.restart(holder);
    await waitSettled(nc, '$JS.API.STREAM.INFO.H', 3);
    assert.deepEqual(await removePeer(nc, 'H', holder.name), REMAP_FAILED);
    const two = await waitSettled(nc, '$JS.API.STREAM.INFO.H', 2, [holder.name]);
    assert.equal(two.state!.messages, 10);
    await assertAllReadable(nc, 'H', 10);
    await publishAcked(nc, 'h', 11, 12);
    await assertAllReadable(nc, 'H', 12);
  });

  test('the holder removed right after R1 -> R3 (no fault): every acknowledged message stays', async () => {
    const { cl, nc } = await startThree();
    const holder = await r1StreamWithMessages(cl, nc, 'P');
    const up = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.UPDATE.P', { name: 'P', subjects: ['p'], num_replicas: 3 });
    assert.equal(up.first?.error, undefined, JSON.stringify(up.first));
    const r = await removePeer(nc, 'P', holder.name);
    // Refused while seeding, or (the usual case) let through once the seed is done: nats-server's 10075.
    if (r.error?.err_code === 10051) {
      assertRefused(r);
      await waitSettled(nc, '$JS.API.STREAM.INFO.P', 3);
    } else {
      assert.deepEqual(r, REMAP_FAILED);
      await waitSettled(nc, '$JS.API.STREAM.INFO.P', 2, [holder.name]);
    }
    await assertAllReadable(nc, 'P', 10);
    await publishAcked(nc, 'p', 11, 11);
    await assertAllReadable(nc, 'P', 11);
  });

  test('R3 with a replica down: the only current follower and the leader stay; with it back the leader goes', async () => {
    const { cl, nc: nc0 } = await startThree();
    const created = await apiRequest<InfoResp>(nc0, '$JS.API.STREAM.CREATE.R', { name: 'R', subjects: ['r'], num_replicas: 3 });
    assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
    await publishAcked(nc0, 'r', 1, 20);
    const info = await waitSettled(nc0, '$JS.API.STREAM.INFO.R', 3);
    const leader = cl.node(info.cluster!.leader!);
    const followers = cl.nodes.filter((n) => n !== leader);
    // The follower to stop: not the meta leader (the removals need one that stays up).
    const meta = await cl.metaLeader();
    const down: JsNode = followers.find((n) => n !== meta)!;
    const current = followers.find((n) => n !== down)!;
    await cl.stop(down);
    const nc = await cl.connect(leader);
    await publishAcked(nc, 'r', 21, 25);

    assertRefused(await removePeer(nc, 'R', current.name));
    assertRefused(await removePeer(nc, 'R', leader.name));
    await assertUnchanged(cl, nc, 'R', 25);

    await cl.restart(down);
    await cl.waitMetaLeader({ peers: 3 });
    await waitSettled(nc, '$JS.API.STREAM.INFO.R', 3);
    await waitReplicas(cl, 'R', 25);
    const ldr = (await waitSettled(nc, '$JS.API.STREAM.INFO.R', 3)).cluster!.leader!;
    assert.deepEqual(await removePeer(nc, 'R', ldr), REMAP_FAILED);
    const two = await waitSettled(nc, '$JS.API.STREAM.INFO.R', 2, [ldr]);
    assert.equal(two.state!.messages, 25);
    const survivor = cl.node(two.cluster!.leader!);
    const ncs = await cl.connect(survivor);
    await assertAllReadable(ncs, 'R', 25);
    await publishAcked(ncs, 'r', 26, 27);
    await assertAllReadable(ncs, 'R', 27);
  });

  test('R3 with a replica still catching up after a restart: the only current follower and the leader stay', async (t) => {
    const { cl, nc, leader, current, hold } = await heldCatchupCluster(t, (c) => clusters.use(c));
    assertRefused(await removePeer(nc, 'C', current.name));
    assertRefused(await removePeer(nc, 'C', leader.name));
    await assertUnchanged(cl, nc, 'C', 400);

    rmSync(hold);
    await waitReplicas(cl, 'C', 400);
    await waitSettled(nc, '$JS.API.STREAM.INFO.C', 3);
    assert.deepEqual(await removePeer(nc, 'C', current.name), REMAP_FAILED);
    const two = await waitSettled(nc, '$JS.API.STREAM.INFO.C', 2, [current.name]);
    assert.equal(two.state!.messages, 400);
    await publishRange(nc, 'C', 401, 410);
    // The two replicas left (the removed server, no longer a peer, is stopped out of the check).
    await cl.stop(current);
    await waitReplicas(cl, 'C', 410);
  });
});
