// The pull requests an R3 consumer's leader holds are known to the consumer group (addPendingRequest
// / removePendingRequest): every one CONSUMER.INFO counts as waiting gets exactly one "409
// Leadership Change" from the next leader, whichever server that is. Two ways this failed
// (js-repl-pull-leader.test.ts, now and then under CI load):
// - the old leader won the election after its own stepdown (no follower had acknowledged its last
//   entries, so the stepdown named no successor): it had not recorded the requests it applied
//   while leading, and answered none of them;
// - num_waiting counted a request the moment it arrived, before its addPendingRequest committed: a
//   leader killed right after left a successor that never heard of it.
// tsnats only: the first test reaches into the in-process servers' consumer groups, the second
// asserts that num_waiting waits for the commit (nats-server 2.9.10 counts a request at once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { withPlaceableCluster } from './js-repl-helpers.js';
import { metaOf } from './js-meta-own-helpers.js';
import { JsCluster, apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';
import { PULL_NEXT, assertLeadershipChange, consumerInfo, createPD, infoFromLeader } from './js-pull-leader-helpers.js';
import { shortElections } from './js-short-elections.js';

shortElections();

const WAIT_60S = JSON.stringify({ batch: 1, expires: 60_000_000_000 });

const PROBE = 'probe';

/** Every message published to `inbox` on nc, in order, except interestSeen's probes. */
function collect(nc: NatsConnection, inbox: string): Msg[] {
  const got: Msg[] = [];
  nc.subscribe(inbox, { callback: (_e, m) => { if (m.string() !== PROBE) got.push(m); } });
  return got;
}

/**
 * Until the server of `via` has learnt the interest in `inbox` (a subscription on another server
 * travels over a route): a pull request it takes before that has no requester and is dropped.
 */
async function interestSeen(via: NatsConnection, inbox: string, sub: NatsConnection): Promise<void> {
  let seen = false;
  const s = sub.subscribe(inbox, { callback: (_e, m) => { if (m.string() === PROBE) seen = true; } });
  try {
    await sub.flush();
    await pollUntil(async () => {
      via.publish(inbox, PROBE);
      await via.flush();
      return seen ? true : undefined;
    }, `interest in ${inbox} on the other server`, 10_000, 20);
  } finally {
    s.unsubscribe();
  }
}

test('tsnats: the old consumer leader that wins again after its stepdown answers the requests it held 409', { skip: skipReason('tsnats') }, async () => {
  await withPlaceableCluster('tsnats-pull-rewin-', async (nodes, ncs) => {
    const leaderName = await createPD(ncs[0]!);
    const group = (i: number) => metaOf(nodes[i]!).streamGroups.get('$G', 'P')?.consumers.get('D');
    const li = nodes.findIndex((n) => n.name === leaderName);
    const followers = [0, 1, 2].filter((i) => i !== li);
    await pollUntil(() => ([0, 1, 2].every((i) => group(i) !== undefined) && group(li)!.isLeader ? true : undefined), 'the consumer on every server', 10_000);
    const nc = ncs[followers[0]!]!;
    const inbox = createInbox();
    const raw = collect(nc, inbox);
    await nc.flush();
    nc.publish(PULL_NEXT, WAIT_60S, { reply: inbox });
    await pollUntil(async () => ((await consumerInfo(nc))?.num_waiting === 1 ? true : undefined), 'the request waiting', 10_000);
    // Committed: the followers apply only what the group committed.
    await pollUntil(() => (followers.every((i) => group(i)!.pendingRequestReplies().includes(inbox)) ? true : undefined), 'the followers knowing the request', 10_000);
    // Observers never campaign (a leader transfer to them is ignored): the old leader, whose log
    // is as complete as theirs, is the only one that can win the election after its stepdown.
    for (const i of followers) group(i)!.node.setObserver(true);
    const sd = await apiRequest<{ success?: boolean }>(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.P.D', undefined, { settleMs: 0 });
    assert.equal(sd.first?.success, true, JSON.stringify(sd.first));
    await pollUntil(() => (group(li)!.isLeader ? undefined : true), 'the stepdown', 10_000, 5);
    await assertLeadershipChange(raw);
    const after = await infoFromLeader(nc, leaderName, true);
    assert.equal(after.num_waiting, 0);
    // The new term's leader told the group that the request is answered: no replica keeps it for a
    // later leader to answer again.
    await pollUntil(() => ([0, 1, 2].every((i) => !group(i)!.pendingRequestReplies().includes(inbox)) ? true : undefined), 'every replica forgetting the request', 10_000);
    assert.equal(raw.length, 1, 'one answer per request');
    for (const i of followers) group(i)!.node.setObserver(false);
  });
});

test('tsnats: num_waiting counts a request once the consumer group committed it; a leader killed then leaves it to the next one', { skip: skipReason('tsnats') }, async () => {
  const c = await JsCluster.start({ impl: 'tsnats', size: 3 });
  const frozen: number[] = [];
  try {
    const leaderName = await createPD(await c.connect(c.nodes[0]!));
    const leader = c.node(leaderName);
    const others = c.nodes.filter((n) => n !== leader);
    // The INFO below is answered by the leader after it took the request: one connection, in order.
    const ncL = await c.connect(leader);
    const ncF = await c.connect(others[0]!);
    const inbox = createInbox();
    const raw = collect(ncF, inbox);
    await interestSeen(ncL, inbox, ncF);
    for (const n of others) {
      process.kill(n.pid!, 'SIGSTOP');
      frozen.push(n.pid!);
    }
    ncL.publish(PULL_NEXT, WAIT_60S, { reply: inbox });
    const held = await consumerInfo(ncL);
    assert.equal(held?.error, undefined, JSON.stringify(held));
    assert.equal(held?.num_waiting, 0, 'not counted while no follower can store it');
    for (const pid of frozen.splice(0)) process.kill(pid, 'SIGCONT');
    await pollUntil(async () => ((await consumerInfo(ncL))?.num_waiting === 1 ? true : undefined), 'the request counted', 20_000);
    await c.kill(leader);
    await assertLeadershipChange(raw);
    const after = await infoFromLeader(ncF, leaderName);
    assert.equal(after.num_waiting, 0);
    assert.equal(raw.length, 1, 'one answer per request');
  } finally {
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    await c.shutdown();
  }
});
