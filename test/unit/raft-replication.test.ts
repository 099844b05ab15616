// Replication, commit and quorum accounting (§C), follower log consistency
// and truncation (§D) and the catch-up protocol (§E) on a hand-driven core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ae, NATS0, NATS1, normal, RecordingHost, SINGLE_ID, singleNode } from '../../src/raft/sim/recording-host.js';
import { encodePeerState } from '../../src/raft/codec.js';
import { EntryType, RaftError } from '../../src/raft/types.js';

const PEERS = [SINGLE_ID, NATS0, NATS1];
const FIVE = [SINGLE_ID, NATS0, NATS1, 'AAAAAAAA', 'BBBBBBBB'];
const LIVE = '$NRG.AE.TEST';

function leaderOf(peers: string[], votesFrom: string[]) {
  const n = singleNode({ peers });
  n.expireElection();
  for (const p of votesFrom) n.core.handleVoteResponse({ term: n.core.term, peer: p, granted: true, empty: false }, n.core.currentVoteInbox);
  assert.equal(n.core.state, 'leader');
  return n;
}

/** A leader whose first entry (its peer state) is committed and applied, with nothing left to send. */
function readyLeader() {
  const n = leaderOf(PEERS, [NATS0]);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  n.applyAll();
  n.host.take('ae');
  return n;
}

/** Feed a follower `count` live entries of `term` from nats-0 (pindex continuing its log). */
function feed(n: ReturnType<typeof singleNode>, term: number, texts: string[], commit = 0): void {
  for (const t of texts) {
    n.core.handleAppendEntry(ae({ leader: NATS0, term, commit, pterm: n.core.lastTerm, pindex: n.core.lastIndex, entries: [normal(t)] }), '$R', LIVE);
  }
}

test('QuorumAccounting: cluster of 5 needs the leader plus two acks', () => {
  const n = leaderOf(FIVE, [NATS0, NATS1]);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  assert.equal(n.core.commit, 0);
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS1, success: true }, '');
  assert.equal(n.core.commit, 1);
});

test('RevalidateQuorumAfterLeaderChange: acks from an earlier term do not count after re-election', () => {
  const n = leaderOf(FIVE, [NATS0, NATS1]);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  n.core.stepDown();
  n.expireElection();
  for (const p of [NATS0, NATS1]) n.core.handleVoteResponse({ term: n.core.term, peer: p, granted: true, empty: false }, n.core.currentVoteInbox);
  assert.equal(n.core.state, 'leader');
  const term = n.core.term;
  n.persistAll();
  n.core.handleAppendEntryResponse({ term, index: n.core.lastIndex, peer: NATS1, success: true }, '');
  assert.equal(n.core.commit, 0, 'the term-1 ack of nats-0 was discarded');
  n.core.handleAppendEntryResponse({ term, index: n.core.lastIndex, peer: NATS0, success: true }, '');
  assert.equal(n.core.commit, n.core.lastIndex);
});

test('OnlyCommitIfCurrentTerm / AppendEntryCanEstablishQuorumAfterLeaderChange', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 1, ['a', 'b']);
  n.persistAll();
  n.expireElection();
  n.core.handleVoteResponse({ term: 2, peer: NATS0, granted: true, empty: false }, n.core.currentVoteInbox);
  assert.equal(n.core.state, 'leader');
  assert.equal(n.core.lastIndex, 3, 'inherited 2 entries + the no-op');
  n.persistAll();
  // A follower holding only the old-term entries: counting them commits nothing.
  n.core.handleAppendEntryResponse({ term: 1, index: 2, peer: NATS0, success: true }, '');
  assert.equal(n.core.commit, 0);
  // Once the current-term no-op has quorum, everything before commits with it.
  n.core.handleAppendEntryResponse({ term: 2, index: 3, peer: NATS0, success: true }, '');
  assert.equal(n.core.commit, 3);
  assert.deepEqual(n.host.applied.map((a) => a.index), [1, 2, 3]);
  assert.deepEqual(n.host.applied[0].entries.map((e) => Buffer.from(e.data).toString()), ['a']);
});

test('IgnoreTrackResponseWhenNotLeader', () => {
  const n = leaderOf(PEERS, [NATS0]);
  n.persistAll();
  n.core.stepDown();
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  assert.equal(n.core.commit, 0);
});

test('followers acknowledge only what is durable, one ack per group commit', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 1, ['a', 'b', 'c']);
  assert.equal(n.host.take('aer').length, 0, 'nothing durable yet');
  n.core.persisted(2);
  const [a1] = n.host.take('aer');
  assert.deepEqual(a1.msg, { term: 1, index: 2, peer: SINGLE_ID, success: true });
  assert.equal(a1.subject, '$R');
  n.core.persisted(3);
  assert.deepEqual(n.host.take('aer').map((a) => a.msg.index), [3]);
  // A heartbeat with everything durable is answered at once.
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, commit: 3, pterm: 1, pindex: 3 }), '$R', LIVE);
  assert.deepEqual(n.host.take('aer').map((a) => a.msg.index), [3]);
  assert.equal(n.core.commit, 3);
});

test('proposals are batched into one append entry per flush and reported committed by sequence', () => {
  const n = readyLeader();
  const seqs = ['a', 'b', 'c'].map((t) => n.core.propose(Buffer.from(t)));
  n.core.flush();
  const [batch] = n.host.take('ae');
  assert.equal(batch.msg.entries.length, 3);
  assert.equal(batch.msg.pindex, 1);
  assert.equal(batch.msg.commit, 1);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 2, peer: NATS1, success: true }, '');
  assert.deepEqual(n.host.committedSeqs, [seqs[2]]);
  // After a commit with nothing queued, a heartbeat tells followers the new commit.
  n.core.flush();
  const [hb] = n.host.take('ae');
  assert.equal(hb.msg.entries.length, 0);
  assert.equal(hb.msg.commit, 2);
});

test('proposeRange: ranges of one shared buffer go out and apply as the bytes of plain proposals', () => {
  const n = readyLeader();
  const shared = Buffer.from('xxalphabetagammaxx');
  const seqs = [n.core.proposeRange(shared, 2, 7), n.core.propose(Buffer.from('plain')), n.core.proposeRange(shared, 7, 16)];
  assert.deepEqual(seqs, [seqs[0], seqs[0] + 1, seqs[0] + 2], 'one proposal sequence each');
  n.core.flush();
  const [batch] = n.host.take('ae');
  assert.deepEqual(batch.msg.entries.map((e) => [e.type, Buffer.from(e.data).toString()]),
    [[EntryType.Normal, 'alpha'], [EntryType.Normal, 'plain'], [EntryType.Normal, 'betagamma']]);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 2, peer: NATS1, success: true }, '');
  n.applyAll();
  assert.deepEqual(n.host.committedSeqs, [seqs[2]]);
  const last = n.host.applied[n.host.applied.length - 1]!;
  assert.deepEqual(last.entries.map((e) => Buffer.from(e.data).toString()), ['alpha', 'plain', 'betagamma']);
  n.core.stepDown();
  assert.throws(() => n.core.proposeRange(shared, 0, 2), (e: unknown) => e instanceof RaftError && e.code === 'not_leader');
});

test('forwarded proposals are accepted only by a ready leader and confirmed with an empty reply', () => {
  const n = leaderOf(PEERS, [NATS0]);
  n.core.handleForwardedProposal(Buffer.from('early'), '$REPLY');
  n.core.flush();
  assert.equal(n.core.lastIndex, 1, 'ignored before the leader is ready');
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  n.applyAll();
  n.core.handleForwardedProposal(Buffer.from('fwd'), '$REPLY');
  n.core.flush();
  assert.equal(n.core.lastIndex, 2);
  const raw = n.host.take('raw');
  assert.deepEqual(raw.map((r) => [r.subject, r.msg.length]), [['$REPLY', 0]]);
  // A follower forwards to $NRG.P.<group>.
  const f = singleNode({ peers: PEERS });
  f.core.forwardProposal(Buffer.from('hello'));
  assert.deepEqual(f.host.take('raw').map((r) => [r.subject, Buffer.from(r.msg).toString()]), [['$NRG.P.TEST', 'hello']]);
});

test('TruncateDownToCommitted: a new leader replaces an uncommitted entry', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 1, ['a']);
  feed(n, 1, ['b'], 1);
  assert.equal(n.core.commit, 1);
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 2, commit: 1, pterm: 1, pindex: 1, entries: [normal('B')] }), '$R', LIVE);
  assert.equal(n.core.lastIndex, 2);
  assert.equal(n.core.termAt(2), 2);
  assert.equal(Buffer.from(n.host.read(2)!.entries[0].data).toString(), 'B');
  assert.ok(n.host.events.includes('truncate 1'));
});

test('duplicate or delayed AEs never truncate entries we already hold (ParallelCatchupRollback)', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 1, ['a', 'b', 'c']);
  const delayed = ae({ leader: NATS0, term: 1, pterm: 1, pindex: 1, entries: [normal('b')] });
  n.core.handleAppendEntry(delayed, '$R', LIVE);
  assert.equal(n.core.lastIndex, 3);
  assert.ok(!n.host.events.some((e) => e.startsWith('truncate')));
  // A delayed heartbeat behind our tail does not truncate either.
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, commit: 2, pterm: 1, pindex: 2 }), '$R', LIVE);
  assert.equal(n.core.lastIndex, 3);
  assert.equal(n.core.commit, 2, 'but its commit is taken');
});

test('conflicts back off over every higher-term entry at once and ask for catch-up immediately', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 1, ['a']);
  feed(n, 3, ['b', 'c', 'd', 'e']);
  n.host.take('aer');
  // New leader (term 6) holds 1:t1 2:t2 3:t2 4:t2 and sends entry 5 (pindex 4, pterm 2).
  // Our 2..5 are term 3 > 2: none can be the leader's, so all go in one step.
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 6, pterm: 2, pindex: 4, entries: [normal('X')] }), '$LR', LIVE);
  assert.equal(n.core.lastIndex, 1);
  assert.ok(n.host.events.includes('truncate 1'));
  const [req] = n.host.take('aer');
  assert.equal(req.msg.success, false);
  assert.equal(req.msg.index, 1);
  assert.equal(req.subject, '$LR');
  assert.match(req.reply, /^\$NRG\.CR\./);
  assert.equal(n.core.isCatchingUp, true);
});

test('CatchupDoesNotTruncateUncommittedEntriesWithQuorum: entries the new leader also has are kept', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 1, ['a', 'b', 'c']);
  // New leader in term 2 holds 1..2 of term 1 and appends its own entry at 3.
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 2, pterm: 1, pindex: 2, entries: [normal('C')] }), '$R', LIVE);
  assert.equal(n.core.lastIndex, 3);
  assert.equal(n.core.termAt(2), 1, 'matching entry 2 kept');
  assert.equal(n.core.termAt(3), 2);
});

test('ProcessAppendEntryTermMismatchDoesNotRegressCommit', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 1, ['a', 'b', 'c', 'd', 'e', 'f']);
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, commit: 5, pterm: 1, pindex: 6 }), '$R', LIVE);
  assert.equal(n.core.commit, 5);
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 2, pterm: 9, pindex: 4, entries: [normal('z')] }), '$R', LIVE);
  assert.equal(n.core.commit, 5);
  assert.ok(n.core.lastIndex >= 5, 'never truncated below commit');
});

test('catch-up request: a follower behind answers with failure and a $NRG.CR inbox, then ignores live AEs', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, pterm: 1, pindex: 2, entries: [normal('c')] }), '$LEADER', LIVE);
  const [req] = n.host.take('aer');
  assert.deepEqual(req.msg, { term: 0, index: 0, peer: SINGLE_ID, success: false });
  assert.equal(req.subject, '$LEADER');
  assert.match(req.reply, /^\$NRG\.CR\.[0-9A-Za-z]{8}$/);
  assert.equal(n.host.subs.get(req.reply), 'catchup');
  const inbox = req.reply;
  // Catch-up stream (entries 1, 2 re-sent with lterm): stored and acknowledged once durable.
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, lterm: 1, entries: [normal('a')] }), '$LEADER', inbox);
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, lterm: 1, pterm: 1, pindex: 1, entries: [normal('b')] }), '$LEADER', inbox);
  assert.equal(n.core.lastIndex, 2);
  n.persistAll();
  assert.deepEqual(n.host.take('aer').map((a) => [a.msg.index, a.msg.success]), [[2, true]]);
  // Reached the target (pindex 2): the next live AE ends catch-up and is processed.
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, pterm: 1, pindex: 2, entries: [normal('c')] }), '$LEADER', LIVE);
  assert.equal(n.core.isCatchingUp, false);
  assert.equal(n.core.lastIndex, 3);
  assert.equal(n.host.subs.has(inbox), false, 'catch-up inbox unsubscribed');
});

test('IgnoreEntryAfterCanceledCatchup / CancelCatchupWhenDetectingHigherTermDuringVoteRequest', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, pterm: 1, pindex: 5 }), '$LEADER', LIVE);
  const inbox = n.core.catchupInbox;
  assert.ok(inbox);
  n.clock.advance(4000); // the leader has been silent for a minimum election timeout
  n.core.handleVoteRequest({ term: 2, lastTerm: 1, lastIndex: 5, candidate: NATS1 }, '$VR');
  assert.equal(n.core.isCatchingUp, false);
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, lterm: 2, entries: [normal('late')] }), '$LEADER', inbox);
  assert.equal(n.core.lastIndex, 0, 'entry on a cancelled inbox is not stored');
});

test('RejectAppendEntryDuringCatchupFromPreviousLeader: catch-up entries with an older lterm are ignored', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 5, pterm: 1, pindex: 3 }), '$LEADER', LIVE);
  const inbox = n.core.catchupInbox;
  n.clock.advance(4000); // the leader has been silent for a minimum election timeout
  n.core.handleVoteRequest({ term: 6, lastTerm: 9, lastIndex: 9, candidate: NATS1 }, '$VR');
  // (the vote cancelled catch-up; request it again from a term-6 leader)
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 6, pterm: 1, pindex: 3 }), '$L6', LIVE);
  const inbox6 = n.core.catchupInbox;
  assert.notEqual(inbox6, inbox);
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, lterm: 5, entries: [normal('old')] }), '$LEADER', inbox6);
  assert.equal(n.core.lastIndex, 0);
});

test('LeaderCatchupHandling: the leader streams stored entries to the inbox re-stamped with its term', () => {
  const n = leaderOf(PEERS, [NATS0]);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  n.applyAll();
  for (const t of ['a', 'b']) {
    n.core.propose(Buffer.from(t));
    n.core.flush();
  }
  n.host.take('ae');
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS1, success: false }, '$NRG.CR.abcdefgh');
  const sent = n.host.take('ae');
  assert.deepEqual(sent.map((s) => [s.subject, s.msg.pindex, s.msg.lterm]), [
    ['$NRG.CR.abcdefgh', 1, 1],
    ['$NRG.CR.abcdefgh', 2, 1],
  ]);
  assert.equal(sent[0].reply, n.core.aeReply);
  assert.equal(n.core.leaderCatchupsRunning, 1);
  // Acks move the run along; reaching the end finishes it.
  n.core.handleAppendEntryResponse({ term: 1, index: 3, peer: NATS1, success: true }, '');
  assert.equal(n.core.leaderCatchupsRunning, 0);
});

test('a leader behind on its compacted log sends its snapshot and peer state first', () => {
  const host = new RecordingHost();
  const n = singleNode({ peers: PEERS, host });
  n.expireElection();
  n.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, n.core.currentVoteInbox);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS0, success: true }, '');
  n.applyAll();
  for (const t of ['a', 'b', 'c']) {
    n.core.propose(Buffer.from(t));
    n.core.flush();
  }
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: 4, peer: NATS0, success: true }, '');
  n.applyAll();
  const meta = n.core.prepareSnapshot();
  assert.ok(!(meta instanceof Error));
  host.snapshot = { lastTerm: meta.lastTerm, lastIndex: meta.lastIndex, peerState: encodePeerState(meta.peerState), data: Buffer.from('STATE') };
  host.entries = host.entries.slice(meta.lastIndex - host.base);
  host.base = meta.lastIndex;
  n.core.snapshotInstalled(meta.lastIndex, meta.lastTerm);
  n.core.propose(Buffer.from('d'));
  n.core.flush();
  n.host.take('ae');
  n.core.handleAppendEntryResponse({ term: 0, index: 0, peer: NATS1, success: false }, '$NRG.CR.zzzzzzzz');
  const sent = n.host.take('ae');
  assert.equal(sent[0].msg.pindex, 4);
  assert.deepEqual(sent[0].msg.entries.map((e) => e.type), [EntryType.Snapshot, EntryType.PeerState]);
  assert.equal(Buffer.from(sent[0].msg.entries[0].data).toString(), 'STATE');
  assert.deepEqual(sent.slice(1).map((s) => s.msg.pindex), [4]);
});

test('a follower installs the leader snapshot from catch-up once, then continues after it', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 3, pterm: 3, pindex: 20 }), '$LEADER', LIVE);
  const inbox = n.core.catchupInbox;
  const snap = ae({
    leader: NATS0,
    term: 3,
    commit: 20,
    pterm: 2,
    pindex: 10,
    entries: [
      { type: EntryType.Snapshot, data: Buffer.from('SNAP') },
      { type: EntryType.PeerState, data: encodePeerState({ knownPeers: PEERS, clusterSize: 3, domainExt: 0 }) },
    ],
  });
  n.core.handleAppendEntry(snap, '$LEADER', inbox);
  assert.equal(n.host.snapshot?.lastIndex, 10);
  assert.equal(n.core.lastIndex, 10);
  assert.equal(n.core.commit, 10);
  assert.deepEqual(n.host.applied.map((a) => [a.index, a.entries[0].type, Buffer.from(a.entries[0].data).toString()]), [[10, EntryType.Snapshot, 'SNAP']]);
  // A duplicate of the snapshot AE is neither re-installed nor stored as an entry.
  n.core.handleAppendEntry(snap, '$LEADER', inbox);
  assert.equal(n.core.lastIndex, 10);
  assert.equal(n.host.applied.length, 1);
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 3, lterm: 3, pterm: 2, pindex: 10, entries: [normal('k')] }), '$LEADER', inbox);
  assert.equal(n.core.lastIndex, 11);
});

test('a catching-up follower with a longer divergent log handles a live AE inside its log (no stuck catch-up)', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 3, ['a', 'b', 'c', 'd', 'e']);
  // Behind a (since deposed) leader: catch-up toward index 9.
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 4, pterm: 4, pindex: 9 }), '$OLD', LIVE);
  assert.equal(n.core.isCatchingUp, true);
  n.host.take('aer');
  // The new leader (term 5) is at index 3 with a term-5 entry there.
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 5, commit: 0, pterm: 5, pindex: 3 }), '$NEW', LIVE);
  assert.equal(n.core.leader, NATS1);
  assert.equal(n.core.lastIndex, 2, 'divergent tail cut');
  const [req] = n.host.take('aer');
  assert.equal(req.subject, '$NEW');
  assert.equal(req.msg.index, 2);
  assert.match(req.reply, /^\$NRG\.CR\./);
});

test('leader back-off: a catch-up request from a follower with an older last term starts below our newer-term entries', () => {
  const n = singleNode({ peers: PEERS });
  feed(n, 2, ['a', 'b', 'c']);
  n.persistAll();
  // Become leader in term 3: entries 1..3 are term 2, 4 (no-op) is term 3.
  n.expireElection();
  n.core.handleVoteResponse({ term: 3, peer: NATS0, granted: true, empty: false }, n.core.currentVoteInbox);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 3, index: 4, peer: NATS0, success: true }, '');
  n.applyAll();
  n.host.take('ae');
  // Follower claims index 6 of term 2 (a divergent tail of an old leader).
  n.core.handleAppendEntryResponse({ term: 2, index: 6, peer: NATS1, success: false }, '$NRG.CR.backoff1');
  const sent = n.host.take('ae');
  assert.deepEqual(sent.map((s) => [s.msg.pindex, s.msg.pterm]), [[3, 2]], 'starts right after our last term-2 entry');
});
