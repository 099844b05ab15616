// Elections, terms and votes (upstream server/raft_test.go TestNRG* cases), driving
// one core by hand with crafted messages, as upstream's single-node tests do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ae, NATS0, NATS1, normal, SINGLE_ID, singleNode } from '../../src/raft/sim/recording-host.js';
import { decodePeerState } from '../../src/raft/codec.js';
import { candidateVoteInbox } from '../../src/raft/subjects.js';
import { EntryType, RaftError, type PeerState } from '../../src/raft/types.js';

const PEERS = [SINGLE_ID, NATS0, NATS1];

/** A 3-member group where this node won term 1 (its first entry not yet committed). */
function electedLeader() {
  const n = singleNode({ peers: PEERS });
  n.expireElection();
  n.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, n.core.currentVoteInbox);
  assert.equal(n.core.state, 'leader');
  return n;
}

test('SwitchToCandidateResetsVote: term+1, self vote persisted before the vote request goes out', () => {
  const n = singleNode({ peers: PEERS });
  n.host.term = 0;
  n.expireElection();
  assert.equal(n.core.state, 'candidate');
  assert.equal(n.core.term, 1);
  assert.equal(n.host.term, 1);
  assert.equal(n.host.vote, SINGLE_ID);
  const tav = n.host.events.indexOf(`tav 1 ${SINGLE_ID}`);
  const sent = n.host.events.indexOf('send vreq');
  assert.ok(tav >= 0 && sent > tav, `events: ${n.host.events.join(', ')}`);
  const [vr] = n.host.take('vreq');
  assert.equal(vr.subject, '$NRG.V.TEST');
  assert.match(vr.reply, /^\$NRG\.R\.[0-9A-Za-z]{8}$/);
  assert.deepEqual(vr.msg, { term: 1, lastTerm: 0, lastIndex: 0, candidate: SINGLE_ID });
  assert.equal(n.host.subs.get(vr.reply), 'vote-response');
  // Timing out again starts a new term with a fresh inbox.
  n.expireElection();
  assert.equal(n.core.term, 2);
  const [vr2] = n.host.take('vreq');
  assert.notEqual(vr2.reply, vr.reply);
  assert.equal(n.host.subs.has(vr.reply), false);
});

test('DoesntRequestVoteOnWriteError: no vote request when term/vote cannot be persisted', () => {
  const n = singleNode({ peers: PEERS });
  n.host.failTermVote = true;
  n.expireElection();
  assert.equal(n.host.take('vreq').length, 0);
  assert.deepEqual(n.host.writeFailures, ['term and vote']);
  assert.equal(n.core.state, 'closed');
});

test('ReportLeaderAfterNoopEntry: leader appends a peer-state no-op and reports leadership only once it is applied', () => {
  const n = electedLeader();
  const aes = n.host.take('ae');
  assert.equal(aes.length, 1);
  assert.equal(aes[0].subject, '$NRG.AE.TEST');
  assert.equal(aes[0].msg.entries.length, 1);
  assert.equal(aes[0].msg.entries[0].type, EntryType.PeerState);
  const ps = decodePeerState(aes[0].msg.entries[0].data) as PeerState;
  assert.deepEqual(new Set(ps.knownPeers), new Set(PEERS));
  assert.equal(ps.clusterSize, 3);
  assert.equal(n.core.lastIndex, 1);
  assert.equal(n.core.isLeader, false, 'not leader for the upper layer before the no-op is applied');
  assert.deepEqual(n.host.signals, []);
  // Quorum: our own durable copy plus one follower ack.
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  assert.equal(n.core.commit, 0, 'leader entry not durable yet');
  n.persistAll();
  assert.equal(n.core.commit, 1);
  n.applyAll();
  assert.equal(n.core.isLeader, true);
  assert.deepEqual(n.host.signals, [{ isLeader: true, term: 1 }]);
  // Proposals subject is only subscribed by the leader.
  assert.equal(n.host.subs.get('$NRG.P.TEST'), 'proposal');
  assert.equal(n.host.subs.get('$NRG.RP.TEST'), 'remove-peer');
});

test('granted votes count only on the inbox of the current candidacy; 2.9.10 voters report their old term', () => {
  const n = singleNode({ peers: [SINGLE_ID, NATS0, NATS1, 'AAAAAAAA', 'BBBBBBBB'] });
  n.expireElection();
  const old = n.core.currentVoteInbox;
  n.expireElection();
  assert.equal(n.core.term, 2);
  // A stale grant for term 1 arriving late on the old inbox does not count.
  n.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, old);
  n.core.handleVoteResponse({ term: 1, peer: NATS1, granted: true, empty: false }, old);
  assert.equal(n.core.state, 'candidate');
  // 2.9.10 answers with its pre-request term (1 < 2): counted on the current inbox.
  n.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, n.core.currentVoteInbox);
  assert.equal(n.core.state, 'candidate');
  n.core.handleVoteResponse({ term: 0, peer: NATS1, granted: true, empty: false }, n.core.currentVoteInbox);
  assert.equal(n.core.state, 'leader');
});

test('a vote response with a higher term makes a candidate adopt it and step down', () => {
  const n = singleNode({ peers: PEERS });
  n.expireElection();
  n.core.handleVoteResponse({ term: 7, peer: NATS0, granted: false, empty: false }, n.core.currentVoteInbox);
  assert.equal(n.core.state, 'follower');
  assert.equal(n.core.term, 7);
  assert.equal(n.core.vote, '');
  assert.equal(n.host.term, 7);
});

test('UnsuccessfulVoteRequestDoesntResetElectionTimer: a stale request is denied and leaves the timer alone', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ term: 2, entries: [normal('a')] }), '$R', '$NRG.AE.TEST');
  const before = n.core.electionTimerRemainingMs();
  n.clock.advance(100);
  n.core.handleVoteRequest({ term: 1, lastTerm: 1, lastIndex: 0, candidate: NATS1 }, '$VR');
  const [resp] = n.host.take('vresp');
  assert.deepEqual(resp.msg, { term: 2, peer: SINGLE_ID, granted: false, empty: false });
  assert.equal(n.core.electionTimerRemainingMs(), before - 100);
});

test('UnsuccessfulVoteRequestCampaignEarly: grant resets the timer; denying an outdated higher-term candidate adopts the term and campaigns early', () => {
  const n = singleNode({ peers: PEERS, timing: { electionTimeoutMinMs: 4000, electionTimeoutMaxMs: 9000 } });
  n.core.handleVoteRequest({ term: 1, lastTerm: 0, lastIndex: 0, candidate: NATS0 }, '$VR');
  assert.equal(n.core.term, 1);
  assert.equal(n.core.vote, NATS0);
  assert.equal(n.host.vote, NATS0, 'vote persisted');
  const persistedAt = n.host.events.indexOf(`tav 1 ${NATS0}`);
  assert.ok(persistedAt >= 0 && persistedAt < n.host.events.indexOf('send vresp'), 'vote durable before the reply');
  assert.ok(n.core.electionTimerRemainingMs() >= 4000, 'granting resets the full election timeout');
  assert.equal(n.host.take('vresp')[0].msg.granted, true);
  // We hold a longer log now; an outdated candidate on term 2 is denied.
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, entries: [normal('x')] }), '$R', '$NRG.AE.TEST');
  n.clock.advance(4000); // the leader has been silent for a minimum election timeout
  n.core.handleVoteRequest({ term: 2, lastTerm: 0, lastIndex: 0, candidate: NATS1 }, '$VR');
  assert.equal(n.core.term, 2);
  assert.equal(n.core.vote, '');
  assert.equal(n.host.take('vresp').at(-1)!.msg.granted, false);
  assert.ok(n.core.electionTimerRemainingMs() < 800, 'campaigns early (campaign timeout)');
  // As candidate, a same-term denial does not touch our timer.
  n.expireElection();
  assert.equal(n.core.state, 'candidate');
  const t = n.core.electionTimerRemainingMs();
  n.core.handleVoteRequest({ term: 3, lastTerm: 0, lastIndex: 0, candidate: NATS1 }, '$VR');
  assert.equal(n.core.electionTimerRemainingMs(), t);
  // A higher-term outdated candidate restarts our campaign on its term.
  n.core.handleVoteRequest({ term: 4, lastTerm: 0, lastIndex: 0, candidate: NATS1 }, '$VR');
  assert.equal(n.core.state, 'follower');
  assert.equal(n.core.term, 4);
  assert.equal(n.host.take('vresp').at(-1)!.msg.granted, false);
});

test('voters grant only candidates whose log is at least as up to date (last term, then index)', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ term: 2, entries: [normal('a')] }), '$R', '$NRG.AE.TEST');
  n.core.handleAppendEntry(ae({ term: 2, pterm: 2, pindex: 1, entries: [normal('b')] }), '$R', '$NRG.AE.TEST');
  n.clock.advance(4000); // the leader has been silent for a minimum election timeout
  n.core.handleVoteRequest({ term: 3, lastTerm: 2, lastIndex: 1, candidate: NATS1 }, '$VR');
  assert.equal(n.host.take('vresp')[0].msg.granted, false, 'shorter log, same last term');
  n.core.handleVoteRequest({ term: 4, lastTerm: 1, lastIndex: 9, candidate: NATS1 }, '$VR');
  assert.equal(n.host.take('vresp')[0].msg.granted, false, 'older last term');
  n.core.handleVoteRequest({ term: 5, lastTerm: 3, lastIndex: 1, candidate: NATS1 }, '$VR');
  const [g] = n.host.take('vresp');
  assert.equal(g.msg.granted, true, 'newer last term');
  assert.equal(g.msg.term, 5);
  // One vote per term: another candidate in term 5 is denied.
  n.core.handleVoteRequest({ term: 5, lastTerm: 3, lastIndex: 1, candidate: NATS0 }, '$VR');
  assert.equal(n.host.take('vresp')[0].msg.granted, false);
  // ...but the same candidate asking again gets the vote again.
  n.core.handleVoteRequest({ term: 5, lastTerm: 3, lastIndex: 1, candidate: NATS1 }, '$VR');
  assert.equal(n.host.take('vresp')[0].msg.granted, true);
});

test('vote response carries the empty-log flag only for a recovering empty voter', () => {
  // A candidate of ours names its vote inbox so voters know it reads the flag.
  const ours = candidateVoteInbox('TEST', NATS0, 1, () => 0.5);
  const fresh = singleNode({ peers: PEERS });
  fresh.core.handleVoteRequest({ term: 1, lastTerm: 0, lastIndex: 0, candidate: NATS0 }, ours);
  assert.equal(fresh.host.take('vresp')[0].msg.empty, false, 'initializing: not flagged');
  const wiped = singleNode({ peers: PEERS, recovering: true });
  wiped.core.handleVoteRequest({ term: 1, lastTerm: 0, lastIndex: 0, candidate: NATS0 }, ours);
  assert.equal(wiped.host.take('vresp')[0].msg.empty, true);
  // A candidate does not win on empty votes alone unless the whole group answered.
  const c = singleNode({ peers: [SINGLE_ID, NATS0, NATS1, 'AAAAAAAA', 'BBBBBBBB'] });
  c.expireElection();
  for (const p of [NATS0, NATS1]) c.core.handleVoteResponse({ term: 1, peer: p, granted: true, empty: true }, c.core.currentVoteInbox);
  assert.equal(c.core.state, 'candidate');
  c.core.handleVoteResponse({ term: 1, peer: 'AAAAAAAA', granted: true, empty: false }, c.core.currentVoteInbox);
  assert.equal(c.core.state, 'candidate');
  c.core.handleVoteResponse({ term: 1, peer: 'BBBBBBBB', granted: true, empty: true }, c.core.currentVoteInbox);
  assert.equal(c.core.state, 'leader', 'heard from all five');
});

test('InlineStepdown and StepDownOnSameTermDoesntClearVote', () => {
  const n = electedLeader();
  n.core.stepDown();
  assert.equal(n.core.state, 'follower', 'stepDown returns as follower');
  assert.equal(n.core.vote, SINGLE_ID);
  const m = electedLeader();
  m.host.take('aer');
  // Old-term AE: rejected with our term, we stay leader.
  m.core.handleAppendEntry(ae({ leader: NATS1, term: 0 }), '$OLD', '$NRG.AE.TEST');
  assert.equal(m.core.state, 'leader');
  const [rej] = m.host.take('aer');
  assert.deepEqual(rej.msg, { term: 1, index: 1, peer: SINGLE_ID, success: false });
  // Same-term AE from another leader: step down, keep the vote.
  m.core.handleAppendEntry(ae({ leader: NATS1, term: 1, pterm: 1, pindex: 1 }), '$R', '$NRG.AE.TEST');
  assert.equal(m.core.state, 'follower');
  assert.equal(m.core.leader, NATS1);
  assert.equal(m.core.vote, SINGLE_ID);
  assert.equal(m.core.term, 1);
});

test('MustNotResetVoteOnStepDownOrLeaderTransfer', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleVoteRequest({ term: 1, lastTerm: 0, lastIndex: 0, candidate: NATS0 }, '$VR');
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, entries: [{ type: EntryType.LeaderTransfer, data: Buffer.from(NATS1) }] }), '$R', '$NRG.AE.TEST');
  assert.equal(n.core.term, 1);
  assert.equal(n.core.vote, NATS0);
  assert.equal(n.host.vote, NATS0);
});

test('leader transfer: the named follower campaigns at once, ignoring the AE timer reset', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(
    ae({ leader: NATS0, term: 1, entries: [{ type: EntryType.LeaderTransfer, data: Buffer.from(SINGLE_ID) }] }),
    '$R',
    '$NRG.AE.TEST',
  );
  assert.ok(n.core.electionTimerRemainingMs() <= 10);
  // A heartbeat from the old leader must not push the campaign back.
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, pterm: 1, pindex: 1 }), '$R', '$NRG.AE.TEST');
  assert.ok(n.core.electionTimerRemainingMs() <= 10);
  n.advance(11);
  assert.equal(n.core.state, 'candidate');
  assert.equal(n.core.term, 2);
});

test('the leader sends EntryLeaderTransfer naming a healthy preferred peer, then steps down', () => {
  const n = electedLeader();
  n.host.take('ae');
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS1, success: true }, '');
  n.core.stepDown(NATS1);
  const [t] = n.host.take('ae');
  assert.equal(t.msg.entries[0].type, EntryType.LeaderTransfer);
  assert.equal(Buffer.from(t.msg.entries[0].data).toString(), NATS1);
  assert.equal(n.core.state, 'follower');
  // Not leader: stepping down again is an error.
  assert.throws(() => n.core.stepDown(), (e: unknown) => e instanceof RaftError && e.code === 'not_leader');
});

test('CandidateDoesntRevertTermAfterOldAE and CandidateDontStepdownDueToLeaderOfPreviousTerm', () => {
  const n = singleNode({ peers: PEERS });
  for (let i = 0; i < 9; i++) n.expireElection();
  assert.equal(n.core.term, 9);
  assert.equal(n.core.state, 'candidate');
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 5 }), '$R', '$NRG.AE.TEST');
  assert.equal(n.core.term, 9);
  assert.equal(n.core.state, 'candidate');
  assert.equal(n.host.take('aer').at(-1)!.msg.success, false);
});

test('AEFromOldLeader: rejected without truncation or catch-up request', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 2, entries: [normal('a')] }), '$R', '$NRG.AE.TEST');
  n.host.take('aer');
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 1, pterm: 0, pindex: 0, entries: [normal('old')] }), '$R1', '$NRG.AE.TEST');
  const [r] = n.host.take('aer');
  assert.deepEqual(r.msg, { term: 2, index: 1, peer: SINGLE_ID, success: false });
  assert.equal(r.reply, '', 'no catch-up inbox');
  assert.equal(n.core.lastIndex, 1);
  assert.ok(!n.host.events.some((e) => e.startsWith('truncate')));
});

test('NoResetOnAppendEntryResponse: a higher-term rejection makes the leader step down and keep its log', () => {
  const n = electedLeader();
  n.core.handleAppendEntryResponse({ term: 3, index: 0, peer: NATS0, success: false }, '');
  assert.equal(n.core.state, 'follower');
  assert.equal(n.core.term, 3);
  assert.equal(n.core.lastIndex, 1);
  assert.equal(n.core.lastTerm, 1);
});

test('TermNoDecreaseAfterWALReset / StepdownWithHighestTermDuringCatchup: terms only move up', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 20 }), '$R', '$NRG.AE.TEST');
  assert.equal(n.core.term, 20);
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 10, entries: [normal('x')] }), '$R', '$NRG.AE.TEST');
  assert.equal(n.core.term, 20);
  assert.equal(n.core.lastIndex, 0);
  const l = electedLeader();
  l.core.handleAppendEntry(ae({ leader: NATS1, term: 10, pterm: 1, pindex: 1, entries: [normal('y')] }), '$R', '$NRG.AE.TEST');
  assert.equal(l.core.state, 'follower');
  assert.equal(l.core.term, 10);
  assert.equal(l.core.lastIndex, 2, 'stored the entry of the new leader');
});

test('observers never campaign but still store, vote and acknowledge; leaving observer re-arms the timer', () => {
  const n = singleNode({ peers: PEERS, observer: true });
  n.expireElection();
  assert.equal(n.core.state, 'follower');
  assert.ok(n.core.electionTimerRemainingMs() > 3600_000, 'observer timer is re-armed far out');
  n.core.handleAppendEntry(ae({ term: 1, entries: [normal('a')] }), '$R', '$NRG.AE.TEST');
  n.persistAll();
  assert.deepEqual(n.host.take('aer').at(-1)!.msg, { term: 1, index: 1, peer: SINGLE_ID, success: true });
  n.clock.advance(4000); // the leader has been silent for a minimum election timeout
  n.core.handleVoteRequest({ term: 2, lastTerm: 1, lastIndex: 1, candidate: NATS1 }, '$VR');
  assert.equal(n.host.take('vresp')[0].msg.granted, true);
  n.core.setObserver(false);
  assert.ok(n.core.electionTimerRemainingMs() < 10_000);
  n.expireElection();
  assert.equal(n.core.state, 'candidate');
});

test('TermFencedProposals: proposals need the current term; losing leadership abandons them', () => {
  const n = electedLeader();
  assert.throws(() => n.core.propose(Buffer.from('x'), 0), (e: unknown) => e instanceof RaftError && e.code === 'not_leader');
  assert.throws(() => n.core.propose(Buffer.from('x'), 2), (e: unknown) => e instanceof RaftError && e.code === 'not_leader');
  const s1 = n.core.propose(Buffer.from('a'), 1);
  const s2 = n.core.propose(Buffer.from('b'));
  n.core.flush();
  assert.deepEqual([s1, s2], [1, 2]);
  n.core.stepDown();
  assert.deepEqual(n.host.abandoned, [[1, 2]]);
  assert.throws(() => n.core.propose(Buffer.from('c')), (e: unknown) => e instanceof RaftError && e.code === 'not_leader');
});

test('single-member group elects itself and commits on its own durable write', () => {
  const n = singleNode();
  assert.equal(n.core.quorumNeeded, 1);
  n.expireElection();
  assert.equal(n.core.state, 'leader');
  n.persistAll();
  n.applyAll();
  assert.equal(n.core.isLeader, true);
  const seq = n.core.propose(Buffer.from('solo'));
  n.core.flush();
  n.persistAll();
  assert.deepEqual(n.host.committedSeqs, [seq]);
  assert.equal(Buffer.from(n.host.applied.at(-1)!.entries[0].data).toString(), 'solo');
});

test('DontSwitchToCandidateAsManagedNodeOutsidePeerSet: managed non-members wait; unmanaged ones campaign', () => {
  const managed = singleNode({ peers: [NATS0, NATS1], managed: true });
  managed.expireElection();
  assert.equal(managed.core.state, 'follower');
  assert.equal(managed.host.take('vreq').length, 0);
  const unmanaged = singleNode({ peers: [NATS0, NATS1] });
  unmanaged.expireElection();
  assert.equal(unmanaged.core.state, 'candidate');
});

test('LostQuorum: a leader that hears from no follower within the window steps down', () => {
  const n = electedLeader();
  n.persistAll();
  assert.equal(n.core.hasQuorum(), true, 'voter heard from recently');
  n.advance(n.core.timing.lostQuorumMs + 1);
  assert.equal(n.core.state, 'follower');
  assert.equal(n.core.hasQuorum(), false);
});
