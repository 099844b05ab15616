// A leader's server reported gone (RaftCore.peerGone: the route to it closed, as a kill -9 closes
// it): followers elect a new leader without waiting out the election timeout, through probes whose
// answers are pre-votes, so a leader that the other members still hear is never deposed.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ae, NATS0, NATS1, normal, SINGLE_ID, singleNode } from '../../src/raft/sim/recording-host.js';
import { DEFAULT_TIMING } from '../../src/raft/core-types.js';
import { LocalCluster } from '../../src/raft/local-cluster.js';
import { isProbeVoteInbox, probeVoteInbox, readsEmptyVoteFlag } from '../../src/raft/subjects.js';

const PEERS = [SINGLE_ID, NATS0, NATS1];
const LIVE = '$NRG.AE.TEST';

/** A follower of NATS0 at term 2 holding one entry. */
function follower(id = SINGLE_ID) {
  const n = singleNode({ id, peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 2, pterm: 0, pindex: 0, entries: [normal('a')] }), '$R', LIVE);
  n.persistAll();
  assert.equal(n.core.leader, NATS0);
  return n;
}

test('probe and pre-vote inboxes: recognised only for the same group, candidate and term; never read as an empty-flag vote inbox', () => {
  let r = 0.1;
  const inbox = probeVoteInbox('G', SINGLE_ID, 5, () => (r = (r + 0.37) % 1));
  assert.match(inbox, /^\$NRG\.R\.[0-9A-Za-z]{8}$/);
  assert.equal(isProbeVoteInbox(inbox, 'G', SINGLE_ID, 5), true);
  assert.equal(isProbeVoteInbox(inbox, 'G', SINGLE_ID, 6), false);
  assert.equal(isProbeVoteInbox(inbox, 'H', SINGLE_ID, 5), false);
  assert.equal(isProbeVoteInbox(inbox, 'G', NATS0, 5), false);
  assert.equal(readsEmptyVoteFlag(inbox, 'G', SINGLE_ID, 5), false);
});

test('a follower told its leader is gone probes after a short delay; only pre-vote grants from a quorum start the real candidacy', () => {
  const f = follower();
  f.core.peerGone(NATS1); // not our leader: nothing changes
  assert.ok(f.core.electionTimerRemainingMs() > DEFAULT_TIMING.goneLeaderDelayMaxMs);
  const events = f.host.events.length;
  f.core.peerGone(NATS0);
  const remaining = f.core.electionTimerRemainingMs();
  assert.ok(remaining >= 0 && remaining <= DEFAULT_TIMING.goneLeaderDelayMaxMs, `timer ${remaining} ms`);
  f.expireElectionAlone();
  const [probe] = f.host.take('vreq');
  assert.deepEqual(probe.msg, { term: 2, lastTerm: 2, lastIndex: 1, candidate: SINGLE_ID });
  assert.equal(isProbeVoteInbox(probe.reply, 'TEST', SINGLE_ID, 2), true);
  assert.equal(f.core.isProbing, true);
  assert.deepEqual(f.host.events.slice(events).filter((e) => e.startsWith('tav')), [], 'a probe persists nothing');
  // A refusal is an answer, but not a pre-vote: unlike an ordinary probe it does not start a candidacy.
  f.core.handleVoteResponse({ term: 2, peer: NATS1, granted: false, empty: false }, probe.reply);
  assert.equal(f.core.state, 'follower');
  assert.equal(f.core.term, 2);
  // Retries stay short while the leader is not heard.
  f.expireElectionAlone();
  const [again] = f.host.take('vreq');
  assert.equal(again.msg.term, 2);
  // A grant from a member makes a quorum with our own vote: the real candidacy at term 3.
  f.core.handleVoteResponse({ term: 2, peer: NATS1, granted: true, empty: false }, again.reply);
  assert.equal(f.core.state, 'candidate');
  assert.equal(f.core.term, 3);
  const [real] = f.host.take('vreq');
  assert.equal(real.msg.term, 3);
  assert.equal(isProbeVoteInbox(real.reply, 'TEST', SINGLE_ID, 3), false);
});

test('pre-vote answers change nothing; a follower that hears its leader refuses, one told the leader is gone grants; a leader refuses', () => {
  const v = follower(NATS1);
  const events = v.host.events.length;
  let r = 0.3;
  const rnd = () => (r = (r + 0.29) % 1);
  const ask = (lastTerm: number, lastIndex: number, term = 2) => {
    const inbox = probeVoteInbox('TEST', SINGLE_ID, term, rnd);
    v.core.handleVoteRequest({ term, lastTerm, lastIndex, candidate: SINGLE_ID }, inbox);
    const [resp] = v.host.take('vresp');
    assert.equal(resp.subject, inbox);
    return resp.msg;
  };
  assert.deepEqual(ask(2, 1), { term: 2, peer: NATS1, granted: false, empty: false, liveLeader: true }, 'the leader is live');
  v.core.peerGone(NATS0);
  assert.deepEqual(ask(2, 1), { term: 2, peer: NATS1, granted: true, empty: false });
  assert.equal(ask(0, 0).granted, false, 'a shorter log gets no pre-vote');
  assert.equal(ask(2, 1, 1).granted, false, 'nor does a stale term');
  assert.equal(v.core.term, 2);
  assert.equal(v.core.vote, '');
  assert.equal(v.core.leader, NATS0);
  assert.deepEqual(v.host.events.slice(events).filter((e) => e.startsWith('tav')), [], 'nothing persisted');
  // The real request that follows is not refused as disruptive.
  v.core.handleVoteRequest({ term: 3, lastTerm: 2, lastIndex: 1, candidate: SINGLE_ID }, '$VR');
  assert.equal(v.host.take('vresp')[0].msg.granted, true);
  assert.equal(v.core.term, 3);

  const l = singleNode({ peers: PEERS });
  l.expireElection();
  l.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, l.core.currentVoteInbox);
  assert.equal(l.core.state, 'leader');
  l.core.handleVoteRequest({ term: 1, lastTerm: 5, lastIndex: 9, candidate: NATS1 }, probeVoteInbox('TEST', NATS1, 1, rnd));
  assert.deepEqual(l.host.take('vresp')[0].msg, { term: 1, peer: SINGLE_ID, granted: false, empty: false, liveLeader: true });
  assert.equal(l.core.state, 'leader');
});

test('a follower whose timer ran out before it heard the leader (a restarted server) does not raise its term when a member has a live leader', () => {
  const f = follower();
  // No append from the leader for a whole election timeout: the probe at the current term.
  f.expireElectionAlone();
  const [probe] = f.host.take('vreq');
  assert.equal(isProbeVoteInbox(probe.reply, 'TEST', SINGLE_ID, 2), true);
  const events = f.host.events.length;
  // The leader (or a follower hearing it) refuses and says why: no candidacy, nothing persisted.
  f.core.handleVoteResponse({ term: 2, peer: NATS0, granted: false, empty: false, liveLeader: true }, probe.reply);
  assert.equal(f.core.state, 'follower');
  assert.equal(f.core.term, 2);
  assert.equal(f.core.isProbing, false);
  assert.deepEqual(f.host.take('vreq'), []);
  assert.deepEqual(f.host.events.slice(events).filter((e) => e.startsWith('tav')), [], 'no term or vote written');
  // The other member's answer to that probe arrives after the veto: ignored.
  f.core.handleVoteResponse({ term: 2, peer: NATS1, granted: false, empty: false }, probe.reply);
  assert.equal(f.core.state, 'follower');
  assert.deepEqual(f.host.take('vreq'), []);
  // It waits a whole election timeout, long enough for the leader's next heartbeat, and follows it.
  assert.ok(f.core.electionTimerRemainingMs() >= DEFAULT_TIMING.electionTimeoutMinMs - 1, `timer ${f.core.electionTimerRemainingMs()} ms`);
  f.core.handleAppendEntry(ae({ leader: NATS0, term: 2, pterm: 2, pindex: 1, commit: 1 }), '$R', LIVE);
  assert.equal(f.core.leader, NATS0);
  assert.equal(f.core.term, 2);
  const [ack] = f.host.take('aer');
  assert.deepEqual(ack.msg, { term: 2, index: 1, peer: SINGLE_ID, success: true });

  // Answers without the reason (NRG 2.9.10 voters) still count as reachability, as 2.9.10 itself campaigns.
  const g = follower();
  g.expireElectionAlone();
  const [p2] = g.host.take('vreq');
  g.core.handleVoteResponse({ term: 2, peer: NATS1, granted: false, empty: false }, p2.reply);
  assert.equal(g.core.state, 'candidate');
  assert.equal(g.core.term, 3);
});

/** Three nodes whose normal election timeout is ten minutes (only the "gone" path can elect within
 *  a test; `fastTimers`: the usual test timings instead), a leader elected by campaign and one entry,
 *  'before', applied everywhere. */
async function clusterWithLeader(t: TestContext, fastTimers = false) {
  const timing = fastTimers ? undefined : { electionTimeoutMinMs: 600_000, electionTimeoutMaxMs: 700_000 };
  const c = new LocalCluster({ size: 3, timing });
  t.after(() => c.destroy());
  c.startAll();
  c.members[0]!.n.campaign();
  const l = await c.waitForLeader();
  l.n.propose(Buffer.from('before'));
  await c.waitForStateSize(1);
  return { c, l, term: l.n.term };
}

test('leader stopped and reported gone: the others elect a new leader, with election timeouts far away', async (t) => {
  const { c, l, term } = await clusterWithLeader(t);
  c.stop(l);
  c.hub.reportGone(l.name, l.id);
  const next = await c.waitForLeader();
  assert.notEqual(next, l);
  // Usually term + 1; when both followers probe at the same moment they may split one vote first.
  assert.ok(next.n.term > term, `new term ${next.n.term} after ${term}`);
  next.n.propose(Buffer.from('after'));
  await c.waitFor(() => c.running().every((m) => m.state.length === 2), 10_000, 'the entry after the failover applied on both');
  for (const m of c.running()) assert.deepEqual(m.stateStrings(), ['before', 'after']);
});

test('a route flap reported to one follower while the leader is live: its pre-votes are refused and nobody changes term', async (t) => {
  const { c, l, term } = await clusterWithLeader(t);
  const f = c.members.find((m) => m !== l)!;
  const probes: number[] = [];
  c.hub.onPublish = (from, subject, _reply, payload) => {
    if (from === f.name && subject.startsWith('$NRG.V.')) probes.push(Number(Buffer.from(payload).readBigUInt64LE(0)));
  };
  // The route between the leader and f closes; the third member still hears the leader.
  c.hub.block(l.name, f.name);
  c.hub.reportGone(l.name, l.id, [f.name]);
  await c.waitFor(() => probes.length >= 3, 20_000, 'three probes from the cut-off follower');
  assert.ok(probes.every((x) => x === term), `probes at term ${term}: ${probes.join(',')}`);
  for (const m of c.members) assert.equal(m.n.term, term, `${m.name} kept term ${term}`);
  assert.equal(l.n.isLeader, true);
  // The route is back: f follows the same leader again.
  c.hub.unblock(l.name, f.name);
  l.n.propose(Buffer.from('after'));
  await c.waitFor(() => f.state.length === 2 && f.n.leaderId === l.id, 10_000, 'f back under the same leader');
  assert.equal(l.n.term, term, 'the leader was never deposed');
});

test('a restarted follower whose timer runs out before the leader reaches it follows that leader; nobody changes term', async (t) => {
  const { c, l, term } = await clusterWithLeader(t, true);
  const f = c.members.find((m) => m !== l)!;
  c.stop(f);
  // Nothing from the leader reaches f until f's election timer has run out and it probes (a server
  // whose routes or first heartbeat come late); from that probe on, everything flows.
  c.hub.block(l.name, f.name, true);
  const probes: number[] = [];
  c.hub.onPublish = (from, subject, _reply, payload) => {
    if (from !== f.name || !subject.startsWith('$NRG.V.')) return;
    probes.push(Number(Buffer.from(payload).readBigUInt64LE(0)));
    c.hub.unblock(l.name, f.name);
  };
  c.restart(f);
  await c.waitFor(() => probes.length > 0, 10_000, 'the restarted follower probing');
  await c.waitFor(() => f.n.leaderId === l.id && f.state.length === 1, 10_000, 'the restarted follower under the same leader');
  l.n.propose(Buffer.from('after'));
  await c.waitFor(() => c.members.every((m) => m.stateStrings().join() === 'before,after'), 10_000, 'the next entry applied everywhere');
  assert.deepEqual(probes, [term], 'one probe at the old term, no candidacy');
  for (const m of c.members) assert.equal(m.n.term, term, `${m.name} kept term ${term}`);
  assert.equal(l.n.isLeader, true);
  assert.deepEqual(l.leaderChanges.filter((x) => !x.isLeader), [], 'the leader never stepped down');
});
