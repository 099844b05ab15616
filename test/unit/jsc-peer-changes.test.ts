// The meta leader's peer-change decisions (peer-changes.ts) and a group leader's membership steps
// (stream-membership.ts reconcileMembership), without servers: deterministic placement inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftError, type RaftNode } from '../../src/raft/index.js';
import type { ConsumerAssignment, RaftGroupJson, StreamAssignment, StreamEntry } from '../../src/jetstream/cluster/assignments.js';
import type { PlacementContext, PlacementPeer } from '../../src/jetstream/cluster/placement.js';
import {
  consumersAfterPeerRemoval, consumersFollowing, fillMissingPeer, placementConfigOf, remapGroup, scaleConsumerGroup, scaleGroup,
} from '../../src/jetstream/cluster/peer-changes.js';
import { reconcileMembership } from '../../src/jetstream/cluster/stream-membership.js';
import { scalingSupported } from '../../src/jetstream/cluster/cluster-api.js';

const GiB = 1024 ** 3;

function peer(id: string, extra: Partial<PlacementPeer> = {}): PlacementPeer {
  return {
    id, name: id, cluster: 'C1', tags: [], offline: false,
    stats: { maxMemory: GiB, maxStore: 10 * GiB, usedMemory: 0, reservedMemory: 0, usedStore: 0, reservedStore: 0, haAssets: 1 },
    ...extra,
  };
}

function ctx(peers: PlacementPeer[]): PlacementContext {
  let x = 0.37;
  return { peers, assignments: [], random: () => (x = (x * 9301 + 0.49297) % 1) };
}

function entry(peers: string[], replicas: number, consumers: ConsumerAssignment[] = []): StreamEntry {
  const sa: StreamAssignment = {
    client: { acc: 'A', cluster: 'C1' }, created: '2026-01-01T00:00:00Z',
    stream: { name: 'S', subjects: ['s'], num_replicas: replicas, storage: 'file', max_bytes: -1 },
    group: { name: 'S-R3F-abcdefgh', peers, store: 'file', cluster: 'C1', preferred: peers[0] },
    sync: '$JSC.SYNC.x', subject: '$JS.API.STREAM.CREATE.S', reply: '_INBOX.1',
  };
  return { sa, consumers: new Map(consumers.map((c) => [c.name, c])) } as unknown as StreamEntry;
}

function consumer(name: string, peers: string[], durable: boolean): ConsumerAssignment {
  return {
    client: { acc: 'A' }, created: '2026-01-01T00:00:00Z', name, stream: 'S',
    consumer: durable ? { durable_name: name, ack_policy: 'explicit' } : { ack_policy: 'none' },
    group: { name: `C-R${peers.length}F-${name}`, peers, store: 'file', preferred: peers[0] }, subject: 'x', reply: 'y',
  };
}

test('placementConfigOf reads replicas, storage, max_bytes and placement of an assignment', () => {
  const e = entry(['a', 'b', 'c'], 3);
  e.sa.stream.placement = { tags: ['ssd'] };
  assert.deepEqual(placementConfigOf(e.sa), { num_replicas: 3, storage: 'file', max_bytes: -1, placement: { tags: ['ssd'] } });
});

test('remapGroup: the removed peer is replaced by a free server, the others stay, preferred cleared', () => {
  const e = entry(['a', 'b', 'c'], 3);
  const r = remapGroup(e.sa, 'b', 'C1', ctx(['a', 'b', 'c', 'd'].map((id) => peer(id))));
  assert.equal(r.replaced, true);
  assert.deepEqual(r.group.peers, ['a', 'c', 'd']);
  assert.equal(r.group.preferred, undefined);
  assert.equal(r.group.name, e.sa.group.name);
  // The assignment itself is not changed.
  assert.deepEqual(e.sa.group.peers, ['a', 'b', 'c']);
});

test('remapGroup: without a free server (or one that matches the tags) the peer is only dropped', () => {
  const e = entry(['a', 'b', 'c'], 3);
  const none = remapGroup(e.sa, 'a', 'C1', ctx(['a', 'b', 'c'].map((id) => peer(id))));
  assert.equal(none.replaced, false);
  assert.deepEqual(none.group.peers, ['b', 'c']);
  assert.equal(none.group.preferred, undefined);
  e.sa.stream.placement = { tags: ['ssd'] };
  const tagged = remapGroup(e.sa, 'a', 'C1', ctx([peer('a'), peer('b'), peer('c'), peer('d')]));
  assert.equal(tagged.replaced, false);
  assert.deepEqual(tagged.group.peers, ['b', 'c']);
  const withTag = remapGroup(e.sa, 'a', 'C1', ctx([peer('a'), peer('b'), peer('c'), peer('d', { tags: ['ssd'] })]));
  assert.deepEqual(withTag.group.peers, ['b', 'c', 'd']);
});

test('consumersFollowing: durables and replicated ephemerals take the peers; a single old peer that stays is preferred', () => {
  const e = entry(['a', 'b', 'c'], 3, [
    consumer('D', ['a', 'b', 'c'], true), consumer('R1', ['b'], true), consumer('E', ['a'], false), consumer('RE', ['a', 'b', 'c'], false),
  ]);
  const f = consumersFollowing(e, ['a', 'b', 'c', 'd']);
  assert.deepEqual(f.map((c) => [c.name, c.group.peers, c.group.preferred, c.subject, c.reply]), [
    ['D', ['a', 'b', 'c', 'd'], undefined, '', ''],
    ['R1', ['a', 'b', 'c', 'd'], 'b', '', ''],
    ['RE', ['a', 'b', 'c', 'd'], undefined, '', ''],
  ]);
  // Its one peer is not among the new ones: nobody holds its state, no preferred leader.
  assert.equal(consumersFollowing(e, ['a', 'c', 'd']).find((c) => c.name === 'R1')!.group.preferred, undefined);
  assert.deepEqual(consumersFollowing(e, ['a', 'c'], (c) => c.name !== 'D').map((c) => c.name), ['D']);
  // The assignments themselves are not changed.
  assert.deepEqual([e.consumers.get('D')!.group.peers, e.consumers.get('D')!.group.preferred], [['a', 'b', 'c'], 'a']);
});

test('consumersAfterPeerRemoval: durables take the new peers, ephemerals on the removed peer go', () => {
  const e = entry(['a', 'b', 'c'], 3, [consumer('D', ['a', 'b', 'c'], true), consumer('E1', ['b'], false), consumer('E2', ['c'], false)]);
  const r = consumersAfterPeerRemoval(e, 'b', ['a', 'c', 'd']);
  assert.deepEqual(r.assign.map((c) => [c.name, c.group.peers, c.group.preferred, c.reply]), [['D', ['a', 'c', 'd'], undefined, '']]);
  assert.deepEqual(r.remove.map((c) => c.name), ['E1']);
});

test('scaleGroup up: current peers stay, placement adds the rest; from R1 the old peer is preferred', () => {
  const all = ['a', 'b', 'c', 'd', 'e'].map((id) => peer(id));
  const e = entry(['a', 'b', 'c'], 3, [consumer('D', ['a', 'b', 'c'], true), consumer('E', ['a'], false)]);
  const up = scaleGroup(e, 5, { ...placementConfigOf(e.sa), num_replicas: 5 }, 'C1', ctx(all), '', () => true);
  assert.ok(up.ok);
  assert.deepEqual(up.group.peers.slice(0, 3), ['a', 'b', 'c']);
  assert.deepEqual([...up.group.peers].sort(), ['a', 'b', 'c', 'd', 'e']);
  assert.deepEqual(up.consumers.map((c) => [c.name, c.group.peers]), [['D', up.group.peers]]);
  const one = entry(['c'], 1, [consumer('D', ['c'], true)]);
  const fromOne = scaleGroup(one, 3, { ...placementConfigOf(one.sa), num_replicas: 3 }, 'C1', ctx(all), '', () => true);
  assert.ok(fromOne.ok);
  assert.equal(fromOne.group.preferred, 'c');
  assert.equal(fromOne.group.peers[0], 'c');
  assert.equal(fromOne.consumers[0]!.group.preferred, 'c');
  const tooMany = scaleGroup(e, 5, { ...placementConfigOf(e.sa), num_replicas: 5 }, 'C1', ctx(all.slice(0, 4)), '', () => true);
  assert.ok(!tooMany.ok);
  assert.equal(tooMany.error.errCode, 10005);
});

test('scaleGroup down: the stream leader stays first, then online peers in order', () => {
  const e = entry(['a', 'b', 'c', 'd', 'e'], 5, [consumer('D', ['a', 'b', 'c', 'd', 'e'], true)]);
  const down = scaleGroup(e, 3, { ...placementConfigOf(e.sa), num_replicas: 3 }, 'C1', ctx([]), 'd', (p) => p !== 'b');
  assert.ok(down.ok);
  assert.deepEqual(down.group.peers, ['d', 'a', 'c']);
  assert.deepEqual(down.consumers[0]!.group.peers, ['d', 'a', 'c']);
  const toOne = scaleGroup(e, 1, { ...placementConfigOf(e.sa), num_replicas: 1 }, 'C1', ctx([]), 'e', () => true);
  assert.ok(toOne.ok);
  assert.deepEqual(toOne.group.peers, ['e']);
  assert.equal(toOne.group.name, e.sa.group.name);
  const noLeader = scaleGroup(e, 3, { ...placementConfigOf(e.sa), num_replicas: 3 }, 'C1', ctx([]), '', () => true);
  assert.ok(noLeader.ok);
  assert.deepEqual(noLeader.group.peers, ['a', 'b', 'c']);
});

test('fillMissingPeer: a stream short of a peer takes a new server of its cluster, with its durables', () => {
  const e = entry(['a', 'b'], 3, [consumer('D', ['a', 'b'], true), consumer('E', ['a'], false)]);
  const f = fillMissingPeer(e, 'z', 'C1', 'C1');
  assert.ok(f);
  assert.deepEqual(f.sa.group.peers, ['a', 'b', 'z']);
  assert.equal(f.sa.reply, '');
  assert.deepEqual(f.consumers.map((c) => [c.name, c.group.peers, c.group.preferred]), [['D', ['a', 'b', 'z'], undefined]]);
  assert.equal(fillMissingPeer(e, 'z', 'OTHER', 'C1'), undefined);
  assert.equal(fillMissingPeer(entry(['a', 'b', 'c'], 3), 'z', 'C1', 'C1'), undefined);
  assert.equal(fillMissingPeer(e, 'a', 'C1', 'C1'), undefined);
});

test('scalingSupported: any change between counts of at least one', () => {
  assert.equal(scalingSupported(3, 5), true);
  assert.equal(scalingSupported(5, 3), true);
  assert.equal(scalingSupported(3, 1), true);
  assert.equal(scalingSupported(1, 3), true);
  assert.equal(scalingSupported(0, 3), false);
});

/** A raft node as reconcileMembership sees it; membership changes apply at once. */
function fakeNode(peers: string[], leader = true, busy = false): RaftNode & { changes: string[] } {
  const changes: string[] = [];
  const n = {
    changes,
    isLeader: leader,
    peers: () => [...peers],
    get quorumNeeded() {
      return Math.floor(peers.length / 2) + 1;
    },
    forceKnownPeers(keep: string[]) {
      changes.push(`=${keep.join(',')}`);
      peers.splice(0, peers.length, ...keep);
    },
    proposeRemovePeer(p: string) {
      if (busy) throw new RaftError('membership_change');
      changes.push(`-${p}`);
      peers.splice(peers.indexOf(p), 1);
    },
    proposeAddPeer(p: string) {
      if (busy) throw new RaftError('membership_change');
      changes.push(`+${p}`);
      peers.push(p);
    },
  };
  return n as unknown as RaftNode & { changes: string[] };
}

test('reconcileMembership: one change per step, removals before additions, never the leader itself', () => {
  const n = fakeNode(['me', 'b', 'x']);
  const want = ['me', 'b', 'y', 'z'];
  let steps = 0;
  while (!reconcileMembership(n, 'me', want)) steps++;
  assert.equal(steps, 3);
  assert.deepEqual(n.changes, ['-x', '+y', '+z']);
  assert.deepEqual(n.peers(), ['me', 'b', 'y', 'z']);
  // A leader not in the wanted set does not remove itself.
  const self = fakeNode(['me', 'b', 'c']);
  assert.equal(reconcileMembership(self, 'me', ['b', 'c']), true);
  assert.deepEqual(self.changes, []);
  // Followers do nothing; a pending change is retried on a later step.
  assert.equal(reconcileMembership(fakeNode(['a'], false), 'me', ['a', 'b']), true);
  const busy = fakeNode(['me', 'b'], true, true);
  assert.equal(reconcileMembership(busy, 'me', ['me', 'b', 'c']), false);
  assert.deepEqual(busy.changes, []);
});

test('reconcileMembership: a leader left with fewer peers than a quorum adopts them (no removal could commit)', () => {
  const n = fakeNode(['me', 'b', 'c']);
  assert.equal(reconcileMembership(n, 'me', ['me']), false);
  assert.equal(reconcileMembership(n, 'me', ['me']), true);
  assert.deepEqual(n.changes, ['=me']);
  // R5 -> R2 keeps two of five: adopted; R5 -> R3 keeps a quorum: removals one at a time.
  const five = fakeNode(['me', 'b', 'c', 'd', 'e']);
  while (!reconcileMembership(five, 'me', ['me', 'b'])) { /* steps */ }
  assert.deepEqual(five.changes, ['=me,b']);
  const three = fakeNode(['me', 'b', 'c', 'd', 'e']);
  while (!reconcileMembership(three, 'me', ['me', 'b', 'c'])) { /* steps */ }
  assert.deepEqual(three.changes, ['-d', '-e']);
});

test('scaleConsumerGroup: the group and its name kept; down keeps the leader, up adds stream peers', () => {
  const g: RaftGroupJson = { name: 'C-R3F-abcdefgh', peers: ['a', 'b', 'c'], store: 'file', cluster: 'C1', preferred: 'a' };
  const online = (p: string): boolean => p !== 'b';
  const down = scaleConsumerGroup(g, ['a', 'b', 'c', 'd', 'e'], 1, 'c', online)!;
  assert.deepEqual(down, { ...g, peers: ['c'], preferred: 'c' });
  assert.deepEqual(g.peers, ['a', 'b', 'c'], 'the assignment itself is not changed');
  // Without a known leader: online peers first; to one replica: refused (nobody known to hold every ack).
  assert.deepEqual(scaleConsumerGroup(g, ['a', 'b', 'c'], 2, '', online)!.peers, ['a', 'c']);
  assert.equal(scaleConsumerGroup(g, ['a', 'b', 'c'], 1, '', online), undefined);
  assert.equal(scaleConsumerGroup(g, ['a', 'b', 'c'], 2, '', online)!.preferred, undefined);
  // Up: every current peer stays, first; the new ones are stream peers, online ones first.
  const up = scaleConsumerGroup({ ...g, peers: ['c'] }, ['a', 'b', 'c', 'd', 'e'], 3, 'c', online, () => 0)!;
  assert.equal(up.name, g.name);
  assert.equal(up.peers[0], 'c');
  assert.equal(up.peers.length, 3);
  assert.ok(!up.peers.includes('b'), `an offline peer only when online ones do not suffice: ${up.peers}`);
  assert.equal(up.preferred, 'c');
  const all = scaleConsumerGroup({ ...g, peers: ['c'] }, ['a', 'b', 'c'], 3, '', online)!;
  assert.deepEqual([...all.peers].sort(), ['a', 'b', 'c']);
  assert.equal(all.preferred, undefined);
});
