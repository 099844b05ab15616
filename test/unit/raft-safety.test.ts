// Election safety against lost state and disruptive nodes (issue 12, Raft
// items): a node that lost state in recovery, the vote-response flag byte as
// NRG 2.9.10 reads it, pre-vote by probing, removed servers, leader transfer
// only to a caught-up peer. One core driven by hand with crafted messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ae, NATS0, NATS1, normal, RecordingHost, SINGLE_ID, singleNode } from '../../src/raft/sim/recording-host.js';
import { decodeVoteResponse, encodeVoteResponse, encodePeerId } from '../../src/raft/codec.js';
import { candidateVoteInbox, peerIdForServerName, readsEmptyVoteFlag } from '../../src/raft/subjects.js';
import { EntryType } from '../../src/raft/types.js';

const PEERS = [SINGLE_ID, NATS0, NATS1];
const LIVE = '$NRG.AE.TEST';
const MIN_ELECTION = 4000;

/** How nats-server 2.9.10 reads a vote response (server/raft.go, decodeVoteResponse: granted = msg[16] == 1). */
function grantedFor2910(msg: Uint8Array): boolean {
  return msg.length === 17 && msg[16] === 1;
}

test('vote response flag byte: a grant from a restarted empty-log voter reads as a grant to nats-server 2.9.10', () => {
  // Captured from 2.9.10 (vector nrg/vote_response_meta_initial): voter BXScrY9i grants with flag byte 01.
  const captured = Buffer.from('0000000000000000425853637259396901', 'hex');
  assert.equal(grantedFor2910(captured), true);
  assert.deepEqual(decodeVoteResponse(captured), { term: 0, peer: 'BXScrY9i', granted: true, empty: false });

  // Our voter restarted with an empty log (a memory-storage group, a wiped disk) ...
  const voter = singleNode({ id: 'BXScrY9i', peers: ['BXScrY9i', NATS0, NATS1], recovering: true });
  // ... asked by a 2.9.10 candidate (its inbox is a random $NRG.R.<8>, as captured).
  voter.core.handleVoteRequest({ term: 1, lastTerm: 0, lastIndex: 0, candidate: 'fjFyEjc1' }, '$NRG.R.g33yWIk4');
  const [r] = voter.host.take('vresp');
  const bytes = encodeVoteResponse(r.msg);
  assert.equal(bytes[16], 0x01, 'flag byte exactly 1');
  assert.equal(grantedFor2910(bytes), true);
  assert.deepEqual(Buffer.from(bytes.subarray(8, 17)), captured.subarray(8, 17), 'voter id and flag byte as nats-server writes them');

  // To a candidate of ours the same voter says "granted, empty log" (bits 0 and 1).
  const ours = candidateVoteInbox('TEST', NATS0, 2, () => 0.3);
  assert.equal(readsEmptyVoteFlag(ours, 'TEST', NATS0, 2), true);
  assert.equal(readsEmptyVoteFlag('$NRG.R.g33yWIk4', 'TEST', NATS0, 2), false);
  assert.equal(readsEmptyVoteFlag(ours, 'TEST', NATS0, 3), false, 'bound to the term');
  voter.core.handleVoteRequest({ term: 2, lastTerm: 0, lastIndex: 0, candidate: NATS0 }, ours);
  const [r2] = voter.host.take('vresp');
  assert.equal(encodeVoteResponse(r2.msg)[16], 0x03);
  assert.deepEqual(decodeVoteResponse(encodeVoteResponse(r2.msg)), { term: 2, peer: 'BXScrY9i', granted: true, empty: true });
  // A refusal is 0 for everyone.
  voter.core.handleVoteRequest({ term: 2, lastTerm: 0, lastIndex: 0, candidate: NATS1 }, '$NRG.R.aaaaaaaa');
  assert.equal(encodeVoteResponse(voter.host.take('vresp')[0].msg)[16], 0x00);
});

test('a node that lost state in recovery never campaigns and votes as an empty log until a live AE lines up with its log', () => {
  // What survived recovery: one entry of term 3.
  const host = new RecordingHost();
  host.entries.push(ae({ leader: NATS0, term: 3, entries: [normal('a')] }));
  host.term = 3;
  host.peerState = { knownPeers: PEERS, clusterSize: 3, domainExt: 0 };
  const n = singleNode({ peers: PEERS, recovering: true, stateLost: true, host });
  assert.equal(n.core.lastIndex, 1);
  assert.equal(n.core.status().stateLost, true);
  // Timers fire, peers are reachable: still no candidacy.
  for (let k = 0; k < 3; k++) n.expireElection();
  assert.equal(n.core.state, 'follower');
  assert.equal(n.core.term, 3);
  assert.equal(n.host.take('vreq').length, 0);
  // It holds entries (what survived), but towards our candidates it compares as empty: a shorter log gets the vote, flagged empty.
  const inbox = candidateVoteInbox('TEST', NATS1, 4, () => 0.1);
  n.core.handleVoteRequest({ term: 4, lastTerm: 0, lastIndex: 0, candidate: NATS1 }, inbox);
  const [v] = n.host.take('vresp');
  assert.equal(v.msg.granted, true);
  assert.equal(v.msg.empty, true);
  // A candidate of ours counts empty votes only when the whole group answered.
  const c = singleNode({ peers: PEERS });
  c.expireElection();
  c.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: true }, c.core.currentVoteInbox);
  assert.equal(c.core.state, 'candidate', 'own vote + an empty vote is not a quorum');

  // A leader's live AE that lines up with its log: caught up, campaigns again later.
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 4, pterm: 4, pindex: 3 }), '$R', LIVE);
  assert.equal(n.core.status().stateLost, true, 'a mismatching AE is not a catch-up');
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 4, pterm: n.core.lastTerm, pindex: n.core.lastIndex, entries: [normal('b')] }), '$R', LIVE);
  assert.equal(n.core.status().stateLost, false);
  n.clock.advance(MIN_ELECTION * 3);
  n.expireElection();
  assert.equal(n.core.state, 'candidate');
});

test('a follower whose commit is ahead of the leader log says so (warning + status flag) instead of silently dropping appends', () => {
  const n = singleNode({ peers: PEERS });
  const warnings: string[] = [];
  n.host.log = (level, msg) => {
    if (level === 'warn') warnings.push(msg);
  };
  for (let i = 0; i < 5; i++) n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, commit: i, pterm: i === 0 ? 0 : 1, pindex: i, entries: [normal(`e${i}`)] }), '$R', LIVE);
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, commit: 5, pterm: 1, pindex: 5 }), '$R', LIVE);
  assert.equal(n.core.commit, 5);
  assert.equal(n.core.status().commitAheadOfLeader, false);
  // New leader of term 2 whose log ends at 2 (it lost committed entries).
  n.clock.advance(MIN_ELECTION);
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 2, commit: 2, pterm: 1, pindex: 2 }), '$R', LIVE);
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 2, commit: 2, pterm: 1, pindex: 2, entries: [normal('x')] }), '$R', LIVE);
  assert.equal(n.core.status().commitAheadOfLeader, true);
  assert.equal(warnings.filter((w) => w.includes('ahead of leader')).length, 1, `one loud warning: ${warnings.join(' | ')}`);
  assert.equal(n.core.lastIndex, 5, 'committed entries are kept');
  // Once that leader's log reaches our commit the flag clears.
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 2, commit: 5, pterm: 1, pindex: 5 }), '$R', LIVE);
  assert.equal(n.core.status().commitAheadOfLeader, false);
});

test('pre-vote by probe: a node that hears from nobody does not raise its term; it campaigns once a quorum answers', () => {
  const n = singleNode({ peers: PEERS, restored: { term: 7, vote: NATS0, peerState: { knownPeers: PEERS, clusterSize: 3, domainExt: 0 } } });
  // Partitioned: the timer fires again and again, no answers.
  for (let k = 0; k < 5; k++) n.expireElectionAlone();
  assert.equal(n.core.term, 7, 'term never raised while cut off');
  assert.equal(n.core.state, 'follower');
  const probes = n.host.take('vreq');
  assert.equal(probes.length, 5);
  for (const p of probes) assert.deepEqual(p.msg, { term: 7, lastTerm: 0, lastIndex: 0, candidate: SINGLE_ID });
  assert.equal(n.host.events.filter((e) => e.startsWith('tav')).length, 0, 'nothing persisted');
  // The partition heals: one refusal (at term 7) makes a quorum with ourselves: now the real candidacy.
  n.core.handleVoteResponse({ term: 7, peer: NATS0, granted: false, empty: false }, probes[4].reply);
  assert.equal(n.core.state, 'candidate');
  assert.equal(n.core.term, 8);
  assert.equal(n.host.take('vreq')[0].msg.term, 8);
  // A voter receiving a probe at its own term changes nothing.
  const v = singleNode({ id: NATS0, peers: PEERS, restored: { term: 7, vote: NATS1, peerState: { knownPeers: PEERS, clusterSize: 3, domainExt: 0 } } });
  v.core.handleVoteRequest({ term: 7, lastTerm: 0, lastIndex: 0, candidate: SINGLE_ID }, '$VR');
  assert.equal(v.core.term, 7);
  assert.equal(v.core.vote, NATS1);
  assert.equal(v.host.take('vresp')[0].msg.granted, false);
});

test('a returning node with a higher term does not depose a healthy leader: followers and the leader refuse it without changing term', () => {
  // Follower that hears from its leader.
  const f = singleNode({ peers: PEERS });
  f.core.handleAppendEntry(ae({ leader: NATS0, term: 2, pterm: 0, pindex: 0, entries: [normal('a')] }), '$R', LIVE);
  f.clock.advance(MIN_ELECTION / 2);
  f.core.handleAppendEntry(ae({ leader: NATS0, term: 2, commit: 1, pterm: 2, pindex: 1 }), '$R', LIVE);
  f.core.handleVoteRequest({ term: 9, lastTerm: 2, lastIndex: 5, candidate: NATS1 }, '$VR');
  assert.equal(f.core.term, 2, 'term unchanged');
  assert.equal(f.core.leader, NATS0);
  const [r] = f.host.take('vresp');
  assert.deepEqual({ granted: r.msg.granted, term: r.msg.term }, { granted: false, term: 2 });
  // After a minimum election timeout without the leader, the same request is a real election.
  f.clock.advance(MIN_ELECTION);
  f.core.handleVoteRequest({ term: 9, lastTerm: 2, lastIndex: 5, candidate: NATS1 }, '$VR');
  assert.equal(f.core.term, 9);
  assert.equal(f.host.take('vresp')[0].msg.granted, true);

  // A leader that hears from a quorum refuses too and stays leader.
  const l = singleNode({ peers: PEERS });
  l.expireElection();
  l.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, l.core.currentVoteInbox);
  assert.equal(l.core.state, 'leader');
  l.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  l.core.handleVoteRequest({ term: 5, lastTerm: 1, lastIndex: 9, candidate: NATS1 }, '$VR');
  assert.equal(l.core.state, 'leader');
  assert.equal(l.core.term, 1);
});

test('the target of a leader transfer is not refused as disruptive', () => {
  const f = singleNode({ peers: PEERS });
  f.core.handleAppendEntry(ae({ leader: NATS0, term: 2, entries: [{ type: EntryType.LeaderTransfer, data: encodePeerId(NATS1) }] }), '$R', LIVE);
  f.core.handleVoteRequest({ term: 3, lastTerm: 2, lastIndex: 1, candidate: NATS1 }, '$VR');
  assert.equal(f.host.take('vresp')[0].msg.granted, true);
  assert.equal(f.core.term, 3);
});

test('a server removed from the group never campaigns', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, entries: [{ type: EntryType.RemovePeer, data: encodePeerId(SINGLE_ID) }] }), '$R', LIVE);
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, commit: 1, pterm: 1, pindex: 1 }), '$R', LIVE);
  n.persistAll();
  n.applyAll();
  assert.equal(n.core.peerIds().includes(SINGLE_ID), false);
  for (let k = 0; k < 3; k++) {
    n.clock.advance(MIN_ELECTION * 3);
    n.expireElection();
  }
  assert.equal(n.core.state, 'follower');
  assert.equal(n.host.take('vreq').length, 0);
});

test('leader transfer goes only to a caught-up peer; a lagging preferred peer is replaced by one that is caught up', () => {
  const PEERS5 = [SINGLE_ID, NATS0, NATS1, peerIdForServerName('nats-2'), peerIdForServerName('nats-3')];
  const l = singleNode({ peers: PEERS5 });
  l.expireElection();
  for (const p of [NATS0, NATS1]) l.core.handleVoteResponse({ term: 1, peer: p, granted: true, empty: false }, l.core.currentVoteInbox);
  assert.equal(l.core.state, 'leader');
  l.persistAll();
  for (let i = 0; i < 3; i++) l.core.propose(Buffer.from(`p${i}`));
  l.core.flush();
  l.persistAll();
  const last = l.core.lastIndex;
  // NATS0 lags (acknowledged 1), NATS1 has everything; both are healthy.
  l.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  l.core.handleAppendEntryResponse({ term: 1, index: last, peer: NATS1, success: true }, '');
  l.host.take('ae');
  l.core.stepDown(NATS0);
  const transfer = l.host.take('ae').flatMap((a) => a.msg.entries).filter((e) => e.type === EntryType.LeaderTransfer);
  assert.equal(transfer.length, 1);
  assert.equal(Buffer.from(transfer[0].data).toString(), NATS1, 'the caught-up peer, not the lagging preferred one');
  assert.equal(l.core.state, 'follower');

  // Nobody caught up: step down without naming anyone.
  const l2 = singleNode({ peers: PEERS });
  l2.expireElection();
  l2.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, l2.core.currentVoteInbox);
  l2.persistAll();
  l2.core.handleAppendEntryResponse({ term: 1, index: 0, peer: NATS0, success: true }, '');
  l2.host.take('ae');
  l2.core.stepDown(NATS0);
  assert.equal(l2.host.take('ae').flatMap((a) => a.msg.entries).filter((e) => e.type === EntryType.LeaderTransfer).length, 0);
  assert.equal(l2.core.state, 'follower');
});
