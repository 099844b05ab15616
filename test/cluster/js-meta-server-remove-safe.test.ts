// SERVER.REMOVE gives every stream of the removed server another peer (nats-server's
// processRemovePeer). Like STREAM.PEER.REMOVE (js-repl-peer-remove-safe.test.ts), tsnats refuses it
// while the replicas that would stay of any of those streams lack its data (10051, the server stays
// in the meta group); nats-server 2.9.10 removes the server whatever its streams' replicas hold,
// so these checks are tsnats only:
// * the holder of an R1 -> R3 update whose seed snapshot is held back: refused, the stream unchanged;
//   once seeded the holder goes and every message stays on the two others;
// * an R3 stream whose third replica, restarted behind the leader's compacted log, is still fetching
//   messages with `$JSC` (held by TSNATS_FAULT_HOLD_CATCHUP_FILE): removing the leader or the only
//   current follower is refused; once it caught up, the removal goes through.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { JsCluster, SYS, apiRequest, pollUntil, skipReason, type JsNode } from './js-cluster-harness.js';
import { assertAllReadable, publishAcked, serversOf, waitSettled, type InfoResp } from './js-repl-scale-helpers.js';
import { clusterPerTest, heldCatchupCluster, moveMetaLeader, r1StreamWithMessages, startHeldCluster } from './js-repl-scale-seed-helpers.js';
import { publishRange, waitReplicas } from './js-repl-snapshot-helpers.js';

type RemoveResp = { type: string; success?: boolean; error?: { code: number; err_code: number; description: string } };
const OK = { type: 'io.nats.jetstream.api.v1.meta_server_remove_response', success: true };

/** SERVER.REMOVE through a system-account connection to `via` (not the server removed): its one answer. */
async function serverRemove(cl: JsCluster, via: JsNode, peer: string): Promise<RemoveResp> {
  const sys = await cl.connect(via, SYS);
  const r = await pollUntil(async () => {
    const x = await apiRequest<RemoveResp>(sys, '$JS.API.SERVER.REMOVE', { peer }, { waitMs: 10_000 });
    return x.first === undefined || x.first.error?.err_code === 10008 ? undefined : x;
  }, `an answer to the removal of ${peer}`, 60_000, 250);
  assert.equal(r.all.length, 1, JSON.stringify(r.all));
  return r.first!;
}

function assertRefused(r: RemoveResp, stream: string): void {
  assert.equal(r.type, OK.type);
  assert.equal(r.error?.err_code, 10051, JSON.stringify(r));
  assert.match(r.error!.description, new RegExp(`^peer remove refused: .* \\(stream '.* > ${stream}'\\)$`));
}

/** STREAM.INFO once the stream has a leader: every server still a replica, every message there. */
async function assertUnchanged(cl: JsCluster, nc: NatsConnection, stream: string, messages: number): Promise<InfoResp> {
  const info = await pollUntil(async () => {
    const r = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.INFO.${stream}`, undefined, { settleMs: 0, waitMs: 2000 });
    return r.first?.cluster?.leader ? r.first : undefined;
  }, `${stream} with a leader`);
  assert.deepEqual(serversOf(info.cluster).sort(), cl.nodes.map((n) => n.name).sort(), JSON.stringify(info.cluster));
  assert.equal(info.state!.messages, messages);
  return info;
}

describe('SERVER.REMOVE keeps the replicas holding the data (tsnats)', { skip: skipReason('tsnats') }, () => {
  const clusters = clusterPerTest();

  test('the holder of an R1 -> R3 update still seeding is not removed; once seeded it is', async () => {
    const cl = clusters.use(await startHeldCluster());
    await cl.waitMetaLeader({ peers: 3 });
    const holder = await r1StreamWithMessages(cl, await cl.connect(cl.nodes[0]!), 'H');
    const others = cl.nodes.filter((n) => n !== holder);
    if ((await cl.metaLeader()) === holder) await moveMetaLeader(cl, others[0]!);
    const nc = await cl.connect(others[0]!);
    const up = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.UPDATE.H', { name: 'H', subjects: ['h'], num_replicas: 3 });
    assert.equal(up.first?.error, undefined, JSON.stringify(up.first));

    assertRefused(await serverRemove(cl, others[0]!, holder.name), 'H');
    const still = await assertUnchanged(cl, nc, 'H', 10);
    assert.equal(still.cluster!.leader, holder.name);
    await cl.waitMetaLeader({ peers: 3 });

    // Restarted without the fault, the holder seeds the others; then it may go.
    await cl.stop(holder);
    await cl.restart(holder);
    await waitSettled(nc, '$JS.API.STREAM.INFO.H', 3);
    assert.deepEqual(await serverRemove(cl, others[0]!, holder.name), OK);
    const two = await waitSettled(nc, '$JS.API.STREAM.INFO.H', 2, [holder.name]);
    assert.equal(two.state!.messages, 10);
    await assertAllReadable(nc, 'H', 10);
    await publishAcked(nc, 'h', 11, 12);
    await assertAllReadable(nc, 'H', 12);
  });

  test('an R3 stream with a replica still catching up keeps its leader and its only current follower', async (t) => {
    const { cl, nc, leader, lagging, current, hold } = await heldCatchupCluster(t, (c) => clusters.use(c));
    assertRefused(await serverRemove(cl, lagging, current.name), 'C');
    assertRefused(await serverRemove(cl, lagging, leader.name), 'C');
    await assertUnchanged(cl, nc, 'C', 400);

    rmSync(hold);
    await waitReplicas(cl, 'C', 400);
    await waitSettled(nc, '$JS.API.STREAM.INFO.C', 3);
    // The one that is not the meta leader goes (a leader removing itself is another test's matter).
    const metaNow = await cl.metaLeader();
    const gone = current !== metaNow ? current : leader;
    const stay = cl.nodes.find((n) => n !== gone)!;
    assert.deepEqual(await serverRemove(cl, stay, gone.name), OK);
    const ncs = await cl.connect(stay);
    const two = await waitSettled(ncs, '$JS.API.STREAM.INFO.C', 2, [gone.name]);
    assert.equal(two.state!.messages, 400);
    await publishRange(ncs, 'C', 401, 410);
    // The two replicas left, each with every message (the removed server is stopped out of the check).
    await cl.stop(gone);
    await waitReplicas(cl, 'C', 410);
  });
});
