// Split votes among few survivors (3 of 5 need every vote): a lost candidacy is noticed and retried
// soon through a pre-vote probe, of two probers exactly one steps back, an open candidacy vetoes a
// competing probe, and a vote we grant ends our own probe. The core alone, with a manual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ae, NATS0, NATS1, normal, SINGLE_ID, singleNode } from '../../src/raft/sim/recording-host.js';
import { DEFAULT_TIMING } from '../../src/raft/core-types.js';
import { isProbeVoteInbox, peerIdForServerName, probeVoteInbox } from '../../src/raft/subjects.js';

const NATS2 = peerIdForServerName('nats-2');
const NATS3 = peerIdForServerName('nats-3');
const PEERS = [SINGLE_ID, NATS0, NATS1, NATS2, NATS3];
const LIVE = '$NRG.AE.TEST';

/** A follower of NATS0 at term 2 holding one entry, in a group of five. */
function follower(id = SINGLE_ID) {
  const n = singleNode({ id, peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 2, pterm: 0, pindex: 0, entries: [normal('a')] }), '$R', LIVE);
  n.persistAll();
  return n;
}

/** The follower, told its leader NATS0 is gone, probes; NATS1 and NATS2 grant; it campaigns at term 3. */
function candidateAfterGone() {
  const f = follower();
  f.core.peerGone(NATS0);
  f.expireElectionAlone();
  const [probe] = f.host.take('vreq');
  for (const p of [NATS1, NATS2]) f.core.handleVoteResponse({ term: 2, peer: p, granted: true, empty: false }, probe.reply);
  assert.equal(f.core.state, 'candidate');
  assert.equal(f.core.term, 3);
  f.persistAll();
  const [req] = f.host.take('vreq');
  return { f, inbox: req.reply };
}

test('a split vote among three survivors is noticed at the first refusal that leaves no quorum: the retry comes within the campaign timeout, as a pre-vote probe', () => {
  const { f, inbox } = candidateAfterGone();
  const before = f.core.electionTimerRemainingMs();
  // NATS1 voted for itself at term 3 (it campaigned at the same moment). Our vote and NATS2's, the
  // only other member heard lately (NATS0 and NATS3 are silent), cannot make three: lost. The retry
  // is scheduled within the campaign timeout, not after the election timeout.
  f.core.handleVoteResponse({ term: 3, peer: NATS1, granted: false, empty: false }, inbox);
  const remaining = f.core.electionTimerRemainingMs();
  assert.ok(remaining <= DEFAULT_TIMING.campaignTimeoutMaxMs && remaining <= before, `retry in ${remaining} ms (was ${before})`);
  assert.equal(f.core.state, 'candidate');
  // The retry is a probe at term 3 that needs pre-vote grants: not a blind candidacy at term 4.
  f.expireElectionAlone();
  const [probe] = f.host.take('vreq');
  assert.equal(probe.msg.term, 3);
  assert.equal(isProbeVoteInbox(probe.reply, 'TEST', SINGLE_ID, 3), true);
  assert.equal(f.core.isProbing, true);
  // A refusal is not a pre-vote grant: no candidacy yet.
  f.core.handleVoteResponse({ term: 3, peer: NATS1, granted: false, empty: false }, probe.reply);
  assert.equal(f.core.term, 3);
  f.core.handleVoteResponse({ term: 3, peer: NATS1, granted: true, empty: false }, probe.reply);
  f.core.handleVoteResponse({ term: 3, peer: NATS2, granted: true, empty: false }, probe.reply);
  assert.equal(f.core.term, 4);
  assert.equal(f.core.state, 'candidate');
  // The winner's append ends it.
  f.core.handleAppendEntry(ae({ leader: NATS1, term: 4, pterm: 2, pindex: 1 }), '$R', LIVE);
  assert.equal(f.core.state, 'follower');
  assert.equal(f.core.leader, NATS1);
});

test('a candidacy that may still win waits: one refusal while two members heard lately have not answered is no split', () => {
  const f = follower();
  f.core.peerGone(NATS0);
  f.expireElectionAlone();
  const [probe] = f.host.take('vreq');
  // NATS3 answers the probe without a pre-vote grant (and no veto): heard from, so it may still vote.
  f.core.handleVoteResponse({ term: 2, peer: NATS3, granted: false, empty: false }, probe.reply);
  for (const p of [NATS1, NATS2]) f.core.handleVoteResponse({ term: 2, peer: p, granted: true, empty: false }, probe.reply);
  assert.equal(f.core.term, 3);
  const [req] = f.host.take('vreq');
  const before = f.core.electionTimerRemainingMs();
  f.core.handleVoteResponse({ term: 3, peer: NATS1, granted: false, empty: false }, req.reply);
  assert.equal(f.core.electionTimerRemainingMs(), before, 'timer unchanged: NATS2 and NATS3 may still grant');
  f.core.handleVoteResponse({ term: 3, peer: NATS2, granted: true, empty: false }, req.reply);
  f.core.handleVoteResponse({ term: 3, peer: NATS3, granted: true, empty: false }, req.reply);
  assert.equal(f.core.state, 'leader');
});

test('a retry after a split is vetoed by a member that already follows the winner (whose append has not reached us)', () => {
  const { f, inbox } = candidateAfterGone();
  for (const p of [NATS1, NATS2]) f.core.handleVoteResponse({ term: 3, peer: p, granted: false, empty: false }, inbox);
  f.expireElectionAlone();
  const [probe] = f.host.take('vreq');
  f.core.handleVoteResponse({ term: 3, peer: NATS2, granted: false, empty: false, liveLeader: true }, probe.reply);
  assert.equal(f.core.isProbing, false);
  assert.equal(f.core.term, 3, 'no higher term that would depose the winner');
  assert.deepEqual(f.host.take('vreq'), []);
});

test('of two survivors probing at once, exactly one steps back: the one with the higher id (equal logs), or the shorter log', () => {
  const [lo, hi] = [NATS1, NATS2].sort();
  const probeOf = (cand: string, lastTerm = 2, lastIndex = 1) => ({ msg: { term: 2, lastTerm, lastIndex, candidate: cand }, reply: probeVoteInbox('TEST', cand, 2, Math.random) });
  const probing = (id: string) => {
    const n = follower(id);
    n.core.peerGone(NATS0);
    n.expireElectionAlone();
    n.host.take('vreq');
    assert.equal(n.core.isProbing, true);
    return n;
  };
  // The higher id grants the lower id's probe and steps back: its own probe is over.
  const h = probing(hi);
  const fromLo = probeOf(lo);
  h.core.handleVoteRequest(fromLo.msg, fromLo.reply);
  assert.equal(h.host.take('vresp')[0].msg.granted, true);
  assert.equal(h.core.isProbing, false);
  assert.ok(h.core.electionTimerRemainingMs() >= 2 * DEFAULT_TIMING.goneLeaderDelayMaxMs - 1);
  // The lower id grants the higher id's probe too (a pre-vote binds nothing) but goes on probing.
  const l = probing(lo);
  const fromHi = probeOf(hi);
  l.core.handleVoteRequest(fromHi.msg, fromHi.reply);
  assert.equal(l.host.take('vresp')[0].msg.granted, true);
  assert.equal(l.core.isProbing, true);
  // Whatever the ids, a more up-to-date log wins: the lower id steps back for a longer log.
  const longer = probeOf(hi, 2, 2);
  l.core.handleVoteRequest(longer.msg, longer.reply);
  assert.equal(l.host.take('vresp')[0].msg.granted, true);
  assert.equal(l.core.isProbing, false);
});

test('an open candidacy vetoes a competing probe; once lost it vetoes nothing', () => {
  const { f, inbox } = candidateAfterGone();
  const probe = { term: 3, lastTerm: 2, lastIndex: 1, candidate: NATS1 };
  f.core.handleVoteRequest(probe, probeVoteInbox('TEST', NATS1, 3, Math.random));
  assert.deepEqual(f.host.take('vresp')[0].msg, { term: 3, peer: SINGLE_ID, granted: false, empty: false, liveLeader: true });
  for (const p of [NATS1, NATS2]) f.core.handleVoteResponse({ term: 3, peer: p, granted: false, empty: false }, inbox);
  // Lost: NATS1's probe (a longer log: we step back for it) is granted, and so is the next one.
  const better = { ...probe, lastIndex: 2 };
  for (let i = 0; i < 2; i++) {
    f.core.handleVoteRequest(better, probeVoteInbox('TEST', NATS1, 3, Math.random));
    assert.deepEqual(f.host.take('vresp')[0].msg, { term: 3, peer: SINGLE_ID, granted: true, empty: false });
  }
});

test('a vote granted while our own probe is out ends that probe: its late grants start no candidacy', () => {
  const f = follower();
  f.core.peerGone(NATS0);
  f.expireElectionAlone();
  const [probe] = f.host.take('vreq');
  f.core.handleVoteRequest({ term: 3, lastTerm: 2, lastIndex: 1, candidate: NATS1 }, '$VR');
  f.persistAll();
  assert.equal(f.host.take('vresp')[0].msg.granted, true);
  assert.equal(f.core.isProbing, false);
  for (const p of [NATS1, NATS2]) f.core.handleVoteResponse({ term: 2, peer: p, granted: true, empty: false }, probe.reply);
  assert.equal(f.core.state, 'follower');
  assert.equal(f.core.term, 3);
  assert.equal(f.core.vote, NATS1);
});
