// Membership changes (§G) and snapshots (§F) on a hand-driven core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ae, NATS0, NATS1, normal, peerEntry, RecordingHost, SINGLE_ID, singleNode } from '../../src/raft/sim/recording-host.js';
import { decodeAppendEntry, encodeAppendEntry, encodePeerState } from '../../src/raft/codec.js';
import { RaftCore } from '../../src/raft/core.js';
import { type AppendEntry, EntryType, RaftError } from '../../src/raft/types.js';

const PEERS = [SINGLE_ID, NATS0, NATS1];
const LIVE = '$NRG.AE.TEST';
const NEW = 'NEWPEER1';

function readyLeader(peers = PEERS) {
  const n = singleNode({ peers });
  n.expireElection();
  n.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, n.core.currentVoteInbox);
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: n.core.lastIndex, peer: NATS0, success: true }, '');
  n.applyAll();
  assert.equal(n.core.isLeader, true);
  n.host.take('ae');
  return n;
}

function ack(n: ReturnType<typeof singleNode>, peer: string): void {
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: n.core.term, index: n.core.lastIndex, peer, success: true }, '');
  n.applyAll();
}

const isCode = (code: string) => (e: unknown) => e instanceof RaftError && e.code === code;

test('ProposeRemovePeer: the change goes alone, counts at once, becomes official at commit', () => {
  const n = readyLeader();
  n.core.propose(Buffer.from('queued first'));
  n.core.proposeRemovePeer(NATS1);
  const sent = n.host.take('ae');
  assert.equal(sent.length, 2, 'queued proposal flushed before the change');
  assert.deepEqual(sent[1].msg.entries.map((e) => e.type), [EntryType.RemovePeer]);
  assert.equal(n.core.clusterSize, 2);
  assert.equal(n.core.membershipChangeInProgress, true);
  assert.throws(() => n.core.proposeRemovePeer(NATS0), isCode('membership_change'));
  assert.throws(() => n.core.proposeAddPeer(NEW), isCode('membership_change'));
  ack(n, NATS0);
  assert.equal(n.core.membershipChangeInProgress, false);
  assert.deepEqual(n.core.peerIds().sort(), [SINGLE_ID, NATS0].sort());
  assert.deepEqual(n.host.peerState?.knownPeers.sort(), [SINGLE_ID, NATS0].sort());
  // The removal is handed up too.
  assert.ok(n.host.applied.some((a) => a.entries.some((e) => e.type === EntryType.RemovePeer)));
});

test('ProposeRemovePeerNonExistent / ForwardedRemovePeerProposalNonExistent / ProposeRemovePeerAll', () => {
  const n = readyLeader();
  assert.throws(() => n.core.proposeRemovePeer('NOSUCHID'), isCode('peer_not_found'));
  n.core.handleForwardedRemovePeer(Buffer.from('NOSUCHID'), '');
  assert.equal(n.host.take('ae').length, 0);
  n.core.proposeRemovePeer(NATS0);
  ack(n, NATS1);
  n.core.proposeRemovePeer(NATS1);
  // With only ourselves left, our own durable write commits the removal.
  n.persistAll();
  n.applyAll();
  assert.deepEqual(n.core.peerIds(), [SINGLE_ID]);
  assert.equal(n.core.quorumNeeded, 1);
  assert.throws(() => n.core.proposeRemovePeer(SINGLE_ID), isCode('remove_last_node'));
});

test('a follower forwards a removal to $NRG.RP.<group>; the leader applies it', () => {
  const f = singleNode({ peers: PEERS });
  f.core.proposeRemovePeer(NATS1);
  const [raw] = f.host.take('raw');
  assert.equal(raw.subject, '$NRG.RP.TEST');
  assert.equal(Buffer.from(raw.msg).toString(), NATS1);
  const l = readyLeader();
  l.core.handleForwardedRemovePeer(raw.msg, '');
  assert.deepEqual(l.host.take('ae')[0].msg.entries.map((e) => e.type), [EntryType.RemovePeer]);
});

test('ProposeRemovePeerLeader: after the removal of itself commits the leader transfers, steps down and closes', () => {
  const n = readyLeader();
  n.core.handleAppendEntryResponse({ term: 1, index: 1, peer: NATS1, success: true }, '');
  n.core.proposeRemovePeer(SINGLE_ID);
  n.host.take('ae');
  assert.equal(n.core.clusterSize, 2);
  // Quorum is now the two remaining peers.
  n.persistAll();
  n.core.handleAppendEntryResponse({ term: 1, index: n.core.lastIndex, peer: NATS0, success: true }, '');
  assert.ok(n.core.commit < n.core.lastIndex, 'the leader no longer counts itself: one ack is not enough');
  n.core.handleAppendEntryResponse({ term: 1, index: n.core.lastIndex, peer: NATS1, success: true }, '');
  n.applyAll();
  assert.equal(n.core.state, 'closed');
  const transfer = n.host.take('ae').find((s) => s.msg.entries.some((e) => e.type === EntryType.LeaderTransfer));
  assert.ok(transfer, 'leadership handed to a remaining peer');
  assert.deepEqual(n.host.signals.at(-1), { isLeader: false, term: 1 });
});

test('TruncateWALRevertsUncommittedAddPeer / ...RemovePeer', () => {
  const n = singleNode({ peers: PEERS });
  n.core.handleAppendEntry(ae({ term: 1, entries: [normal('a')] }), '$R', LIVE);
  n.core.handleAppendEntry(ae({ term: 1, pterm: 1, pindex: 1, entries: [peerEntry(EntryType.AddPeer, NEW)] }), '$R', LIVE);
  assert.equal(n.core.clusterSize, 4);
  assert.equal(n.core.quorumNeeded, 3);
  assert.equal(n.core.membershipChangeInProgress, true);
  // New leader in term 2 overwrites index 2.
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 2, pterm: 1, pindex: 1, entries: [normal('b')] }), '$R', LIVE);
  assert.equal(n.core.clusterSize, 3);
  assert.equal(n.core.quorumNeeded, 2);
  assert.equal(n.core.membershipChangeInProgress, false);
  assert.equal(n.core.peerIds().includes(NEW), false);

  const m = singleNode({ peers: PEERS });
  m.core.handleAppendEntry(ae({ term: 1, entries: [peerEntry(EntryType.RemovePeer, NATS1)] }), '$R', LIVE);
  assert.equal(m.core.clusterSize, 2);
  m.core.handleAppendEntry(ae({ leader: NATS1, term: 2, entries: [normal('x')] }), '$R', LIVE);
  assert.equal(m.core.clusterSize, 3);
  assert.ok(m.core.peerIds().includes(NATS1));
  // Truncating entries after the change leaves it in progress.
  const k = singleNode({ peers: PEERS });
  k.core.handleAppendEntry(ae({ term: 1, entries: [peerEntry(EntryType.AddPeer, NEW)] }), '$R', LIVE);
  k.core.handleAppendEntry(ae({ term: 1, pterm: 1, pindex: 1, entries: [normal('y')] }), '$R', LIVE);
  k.core.handleAppendEntry(ae({ leader: NATS1, term: 2, pterm: 1, pindex: 1, entries: [normal('z')] }), '$R', LIVE);
  assert.equal(k.core.membershipChangeInProgress, true);
  assert.equal(k.core.clusterSize, 4);
});

test('UncommittedMembershipChangeOnNewLeader: an inherited pending change blocks new ones', () => {
  const n = singleNode({ peers: [...PEERS, NEW] });
  n.core.handleAppendEntry(ae({ term: 1, entries: [peerEntry(EntryType.RemovePeer, NEW)] }), '$R', LIVE);
  n.persistAll();
  n.expireElection();
  n.core.handleVoteResponse({ term: 2, peer: NATS0, granted: true, empty: false }, n.core.currentVoteInbox);
  assert.equal(n.core.state, 'leader');
  assert.throws(() => n.core.proposeRemovePeer(NATS1), isCode('membership_change'));
  n.host.take('ae');
  n.core.handleForwardedRemovePeer(Buffer.from(NATS1), '');
  assert.equal(n.host.take('ae').length, 0);
});

test('DontSwitchToCandidateWithInflightSelfMembershipChange (addition); a pending self-removal may campaign without its own vote', () => {
  const n = singleNode({ peers: [NATS0, NATS1] });
  n.core.handleAppendEntry(ae({ term: 1, entries: [peerEntry(EntryType.AddPeer, SINGLE_ID)] }), '$R', LIVE);
  n.expireElection();
  assert.equal(n.core.state, 'follower');
  assert.equal(n.core.leader, '');
  assert.equal(n.host.take('vreq').length, 0);
  // Once the change is truncated away it campaigns again.
  n.core.handleAppendEntry(ae({ leader: NATS1, term: 2, entries: [normal('x')] }), '$R', LIVE);
  n.expireElection();
  assert.equal(n.core.state, 'candidate');

  // Pending removal of ourselves: we may hold the only complete log, so we
  // campaign, but our own vote does not count (quorum of the new membership).
  const r = singleNode({ peers: PEERS });
  r.core.handleAppendEntry(ae({ term: 1, entries: [peerEntry(EntryType.RemovePeer, SINGLE_ID)] }), '$R', LIVE);
  r.clock.advance(20_000);
  r.expireElection();
  assert.equal(r.core.state, 'candidate');
  r.core.handleVoteResponse({ term: r.core.term, peer: NATS0, granted: true, empty: false }, r.core.currentVoteInbox);
  assert.equal(r.core.state, 'candidate', 'one vote of two remaining members is not a quorum');
  r.core.handleVoteResponse({ term: r.core.term, peer: NATS1, granted: true, empty: false }, r.core.currentVoteInbox);
  assert.equal(r.core.state, 'leader');
});

test('TrackPeerAutoAddOnlyUnmanaged: an unmanaged leader proposes adding a peer it hears from', () => {
  const n = readyLeader();
  n.core.handleAppendEntryResponse({ term: 1, index: 0, peer: NEW, success: true }, '');
  const [add] = n.host.take('ae');
  assert.deepEqual(add.msg.entries.map((e) => [e.type, Buffer.from(e.data).toString()]), [[EntryType.AddPeer, NEW]]);
  const m = singleNode({ peers: PEERS, managed: true });
  m.expireElection();
  m.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, m.core.currentVoteInbox);
  ack(m, NATS0);
  m.host.take('ae');
  m.core.handleAppendEntryResponse({ term: 1, index: 0, peer: NEW, success: true }, '');
  assert.equal(m.host.take('ae').length, 0);
});

test('LeaderResurrectsRemovedPeers / AppendEntryResurrectsLeader: removed peers are not re-added', () => {
  const n = readyLeader();
  n.core.proposeRemovePeer(NATS1);
  ack(n, NATS0);
  n.host.take('ae');
  n.core.handleAppendEntryResponse({ term: 1, index: 3, peer: NATS1, success: true }, '');
  assert.equal(n.host.take('ae').length, 0);
  assert.equal(n.core.peerIds().includes(NATS1), false);
});

test('accepts 2.9.10 batched duplicate add-peer entries for a known peer (vector ae_meta_add_peer_batched_x4)', () => {
  const hexes =
    '666a4679456a63310100000000000000030000000000000001000000000000000300000000000000040009000000033434' +
    '6a7a6b5639440900000003343 46a7a6b563944090000000334346a7a6b563944090000000334346a7a6b563944';
  const buf = Buffer.from(hexes.replace(/ /g, ''), 'hex');
  const vec = decodeAppendEntry(buf) as AppendEntry;
  assert.equal(vec.entries.length, 4);
  const n = singleNode({ peers: ['fjFyEjc1', '44jzkV9D', SINGLE_ID] });
  for (let i = 0; i < 3; i++) n.core.handleAppendEntry(ae({ leader: 'fjFyEjc1', term: 1, pterm: i ? 1 : 0, pindex: i, entries: [normal(`e${i}`)] }), '$R', LIVE);
  n.core.handleAppendEntry(vec, '$R', LIVE);
  assert.equal(n.core.lastIndex, 4);
  assert.equal(n.core.clusterSize, 3, 'known peer: size unchanged');
  n.core.handleAppendEntry(ae({ leader: 'fjFyEjc1', term: 1, commit: 4, pterm: 1, pindex: 4 }), '$R', LIVE);
  assert.equal(n.core.commit, 4);
  assert.equal(n.core.membershipChangeInProgress, false);
});

test('ReplayAddPeerKeepsClusterSize: replaying a committed add-peer on restart keeps the new size', () => {
  const host = new RecordingHost();
  const n = singleNode({ peers: PEERS, host });
  n.core.handleAppendEntry(ae({ term: 1, entries: [peerEntry(EntryType.AddPeer, NEW)] }), '$R', LIVE);
  n.core.handleAppendEntry(ae({ term: 1, commit: 1, pterm: 1, pindex: 1, entries: [normal('x')] }), '$R', LIVE);
  assert.equal(n.core.clusterSize, 4);
  // Restart from the same storage (peers.idx as written, log replayed).
  const again = singleNode({ peers: PEERS, host: Object.assign(new RecordingHost(), { entries: host.entries, peerState: undefined }) });
  assert.equal(again.core.clusterSize, 4);
  assert.equal(again.core.quorumNeeded, 3);
  assert.equal(again.core.commit, 1);
  assert.equal(again.core.membershipChangeInProgress, false);
});

test('snapshots: none before anything is applied, no double snapshot, refused during catch-up unless forced', () => {
  const n = readyLeader();
  const first = n.core.prepareSnapshot();
  assert.ok(!(first instanceof RaftError));
  assert.equal(first.lastIndex, 1);
  n.core.snapshotInstalled(first.lastIndex, first.lastTerm);
  const again = n.core.prepareSnapshot();
  assert.ok(again instanceof RaftError && again.code === 'snapshot_not_allowed', 'IgnoreDoubleSnapshot');
  n.core.propose(Buffer.from('x'));
  n.core.flush();
  ack(n, NATS0);
  n.host.snapshot = { lastTerm: 1, lastIndex: 1, peerState: new Uint8Array(8), data: Buffer.from('s') };
  n.core.handleAppendEntryResponse({ term: 0, index: 0, peer: NATS1, success: false }, '$NRG.CR.catchup1');
  assert.equal(n.core.leaderCatchupsRunning, 1);
  const busy = n.core.prepareSnapshot();
  assert.ok(busy instanceof RaftError && busy.code === 'snapshot_in_progress', 'InstallSnapshotForce: refused');
  assert.ok(!(n.core.prepareSnapshot(true) instanceof RaftError), 'InstallSnapshotForce: forced');
  const fresh = singleNode({ peers: PEERS });
  const none = fresh.core.prepareSnapshot();
  assert.ok(none instanceof RaftError && none.code === 'snapshot_not_allowed');
});

test('SnapshotExcludesUncommittedMembershipChange', () => {
  const n = readyLeader();
  n.core.proposeAddPeer(NEW);
  assert.equal(n.core.clusterSize, 4);
  const snap = n.core.prepareSnapshot();
  assert.ok(!(snap instanceof RaftError));
  assert.equal(snap.peerState.knownPeers.includes(NEW), false);
  assert.equal(snap.peerState.clusterSize, 3);
});

test('SendSnapshotInstallsSnapshot: a leader snapshot travels as an EntrySnapshot and is applied as one', () => {
  const n = readyLeader();
  n.core.sendSnapshot(Buffer.from('FULL-STATE'));
  const [s] = n.host.take('ae');
  assert.deepEqual(s.msg.entries.map((e) => e.type), [EntryType.Snapshot]);
  ack(n, NATS0);
  const last = n.host.applied.at(-1)!;
  assert.equal(last.entries[0].type, EntryType.Snapshot);
  assert.equal(Buffer.from(last.entries[0].data).toString(), 'FULL-STATE');
  // Round trip of the stored AE through the codec keeps the entry intact.
  const rt = decodeAppendEntry(encodeAppendEntry(s.msg)) as AppendEntry;
  assert.equal(Buffer.from(rt.entries[0].data).toString(), 'FULL-STATE');
});

test('restart recovers commit from stored append entries and re-applies exactly what committed', () => {
  const host = new RecordingHost();
  const n = singleNode({ peers: PEERS, host });
  n.core.handleAppendEntry(ae({ term: 1, entries: [normal('a')] }), '$R', LIVE);
  n.core.handleAppendEntry(ae({ term: 1, pterm: 1, pindex: 1, entries: [normal('b')] }), '$R', LIVE);
  n.core.handleAppendEntry(ae({ term: 1, commit: 2, pterm: 1, pindex: 2, entries: [normal('c')] }), '$R', LIVE);
  const again = new RecordingHost();
  again.entries = host.entries;
  const core = new RaftCore({ id: SINGLE_ID, group: 'TEST', peers: PEERS }, { now: () => 0, random: () => 0.5 }, again, { term: 1, vote: '' });
  assert.equal(core.commit, 2);
  assert.equal(core.lastIndex, 3);
  assert.deepEqual(again.applied.map((a) => Buffer.from(a.entries[0].data).toString()), ['a', 'b']);
});

test('AdjustClusterSize (leader, announced by peer state) and AdjustBootClusterSize (never had a leader)', () => {
  const boot = singleNode({ peers: [SINGLE_ID] });
  boot.core.adjustBootClusterSize(3);
  assert.equal(boot.core.clusterSize, 3);
  assert.equal(boot.core.quorumNeeded, 2);
  const n = readyLeader();
  assert.throws(() => n.core.adjustBootClusterSize(5));
  n.core.adjustClusterSize(5);
  assert.equal(n.core.quorumNeeded, 3);
  const [ps] = n.host.take('ae');
  assert.deepEqual(ps.msg.entries.map((e) => e.type), [EntryType.PeerState]);
  const f = singleNode({ peers: PEERS });
  assert.throws(() => f.core.adjustClusterSize(5), isCode('not_leader'));
});

test('RemovedPeerVoteDoesNotElectLeader: votes of non-members, including a non-member candidate itself, do not count', () => {
  const n = singleNode({ peers: [NATS0, NATS1, 'AAAAAAAA'] });
  n.expireElection();
  assert.equal(n.core.state, 'candidate');
  const inbox = n.core.currentVoteInbox;
  n.core.handleVoteResponse({ term: 1, peer: NEW, granted: true, empty: false }, inbox);
  n.core.handleVoteResponse({ term: 1, peer: NATS0, granted: true, empty: false }, inbox);
  assert.equal(n.core.state, 'candidate', 'own vote + one member is not a quorum of the members');
  n.core.handleVoteResponse({ term: 1, peer: NATS1, granted: true, empty: false }, inbox);
  assert.equal(n.core.state, 'leader');
});

test('a committed peer state does not undo a membership change stored after it', () => {
  const n = singleNode({ peers: PEERS });
  const ps = encodePeerState({ knownPeers: PEERS, clusterSize: 3, domainExt: 0 });
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, entries: [{ type: EntryType.PeerState, data: ps }] }), '$R', LIVE);
  // The removal arrives before we learn that the peer state committed.
  n.core.handleAppendEntry(ae({ leader: NATS0, term: 1, commit: 1, pterm: 1, pindex: 1, entries: [peerEntry(EntryType.RemovePeer, NATS1)] }), '$R', LIVE);
  assert.equal(n.core.commit, 1);
  assert.equal(n.core.peerIds().includes(NATS1), false);
  assert.equal(n.core.clusterSize, 2);
  assert.equal(n.core.membershipChangeInProgress, true);
});

test('forceKnownPeers on a leader that stays: it leads the smaller group, the membership goes in the log, pending entries commit', () => {
  const n = readyLeader();
  assert.throws(() => n.core.forceKnownPeers([NATS0, NATS1]), isCode('not_leader'), 'a leader outside the kept peers refuses');
  n.core.propose(Buffer.from('held back by the removed peers'));
  n.core.forceKnownPeers([SINGLE_ID]);
  assert.equal(n.core.isLeader, true);
  assert.deepEqual(n.core.peerIds(), [SINGLE_ID]);
  assert.equal(n.core.clusterSize, 1);
  const sent = n.host.take('ae').flatMap((a) => a.msg.entries.map((e) => e.type));
  assert.ok(sent.includes(EntryType.PeerState), 'the new membership is in the log for peers added later');
  n.persistAll();
  n.applyAll();
  assert.ok(n.host.applied.some((a) => a.entries.some((e) => e.type === EntryType.Normal && Buffer.from(e.data).toString() === 'held back by the removed peers')),
    'committed by the leader alone');
});
