// The seeding roles of a server that learns of an R1 -> R3 scale-up only from a meta snapshot
// (it was down while the update was committed and the meta log was compacted meanwhile): the
// snapshot keeps neither the replaced assignment nor the API subject, yet the new replicas of the
// stream (stream-membership.ts scaleUpRole) and of its durable (consumer-seed.ts prepareSeedRole)
// must still wait for the old holder's data, and the holder must still seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  MetaAssignments, MetaOp, decodeMetaEntry, encodeConsumerEntry, encodeStreamEntry,
  type ConsumerAssignment, type DecodedEntry, type StreamAssignment,
} from '../../src/jetstream/cluster/assignments.js';
import { consumersFollowing, scaleGroup } from '../../src/jetstream/cluster/peer-changes.js';
import type { PlacementContext } from '../../src/jetstream/cluster/placement.js';
import { scaleUpRole } from '../../src/jetstream/cluster/stream-membership.js';
import { prepareSeedRole, scaledFromOne } from '../../src/jetstream/cluster/consumer-seed.js';
import type { Stream } from '../../src/jetstream/stream.js';
import { tmpDir } from '../helpers/store-files.js';

function applied(m: MetaAssignments, op: number, a: StreamAssignment | ConsumerAssignment): void {
  const bytes = 'sync' in a ? encodeStreamEntry(op, a) : encodeConsumerEntry(op, a as ConsumerAssignment);
  const d = decodeMetaEntry(bytes) as DecodedEntry;
  assert.ok(!('error' in d), JSON.stringify(d));
  assert.notEqual(m.apply(d).kind, 'ignored');
}

test('recovered from a meta snapshot, the new replicas of a stream and durable scaled up from R1 wait for the holder', (t) => {
  const m = new MetaAssignments();
  const created = '2026-12-07T06:00:00Z';
  const sa: StreamAssignment = {
    client: { acc: 'APP', server: 'a' }, created, stream: { name: 'S', subjects: ['s'], num_replicas: 1 },
    group: { name: 'S-R1F-00000001', peers: ['a'], store: 'file' }, sync: '$JSC.SYNC.x', subject: '$JS.API.STREAM.CREATE.S', reply: '_INBOX.1',
  };
  applied(m, MetaOp.assignStream, sa);
  applied(m, MetaOp.assignConsumer, {
    client: { acc: 'APP' }, created, name: 'D', stream: 'S', consumer: { durable_name: 'D', ack_policy: 'explicit' },
    group: { name: 'C-R1F-00000002', peers: ['a'], store: 'file' }, subject: '$JS.API.CONSUMER.CREATE.S.D', reply: '_INBOX.2',
  });
  // The meta leader's scale-up (cluster-api.ts streamUpdate): the group grows around the holder.
  const entry = m.stream('APP', 'S')!;
  const stats = { maxMemory: 1e9, maxStore: 1e9, usedMemory: 0, usedStore: 0, reservedMemory: 0, reservedStore: 0, haAssets: 0 };
  const ctx: PlacementContext = {
    peers: ['c', 'b', 'a'].map((id) => ({ id, name: id, cluster: 'C1', tags: [], offline: false, stats })),
    assignments: [], random: () => 0.5,
  };
  const up = scaleGroup(entry, 3, { num_replicas: 3, storage: 'file', max_bytes: -1 }, 'C1', ctx, '', () => true);
  assert.ok(up.ok);
  assert.deepEqual(up.group.peers[0], 'a', 'placement lists the existing peer first');
  applied(m, MetaOp.updateStream, { ...sa, stream: { ...sa.stream, num_replicas: 3 }, group: up.group, subject: '$JS.API.STREAM.UPDATE.S', reply: '_INBOX.3' });
  for (const ca of consumersFollowing(m.stream('APP', 'S')!, up.group.peers)) applied(m, MetaOp.assignConsumer, ca);

  const recovered = MetaAssignments.fromSnapshot(m.toSnapshot(), (w) => assert.fail(w)).stream('APP', 'S')!;
  assert.equal(recovered.sa.subject, '', 'a meta snapshot keeps no API subject');
  const root = tmpDir(t, 'tsnats-seed-roles-');
  const [holder, ...joiners] = recovered.sa.group.peers as [string, ...string[]];
  assert.equal(holder, 'a');
  assert.equal(scaleUpRole('a', recovered, join(root, 'a', 'S'), {} as Stream), 'seed');
  for (const j of joiners) assert.equal(scaleUpRole(j, recovered, join(root, j, 'S'), undefined), 'join', `stream replica on ${j}`);
  const ca = recovered.consumers.get('D')!;
  for (const j of joiners) assert.deepEqual(prepareSeedRole(join(root, j, 'D'), j, ca, undefined), { kind: 'join' }, `consumer replica on ${j}`);
});

test('recovered from a meta snapshot, a consumer created R3 with a preferred leader is no scale-up: its replicas do not wait for a seed', (t) => {
  const m = new MetaAssignments();
  const created = '2026-12-07T06:00:00Z';
  applied(m, MetaOp.assignStream, {
    client: { acc: 'APP', server: 'a' }, created, stream: { name: 'S', subjects: ['s'], num_replicas: 3 },
    group: { name: 'S-R3F-00000001', peers: ['a', 'b', 'c'], store: 'file', preferred: 'a' }, sync: '$JSC.SYNC.x', subject: '$JS.API.STREAM.CREATE.S', reply: '_INBOX.1',
  });
  // As nats-server 2.9.10 and placement.ts assign a new durable: a random preferred leader.
  applied(m, MetaOp.assignConsumer, {
    client: { acc: 'APP' }, created, name: 'D', stream: 'S', consumer: { durable_name: 'D', ack_policy: 'explicit' },
    group: { name: 'C-R3F-00000002', peers: ['a', 'b', 'c'], store: 'file', preferred: 'b' }, subject: '$JS.API.CONSUMER.CREATE.S.D', reply: '_INBOX.2',
  });
  const ca = MetaAssignments.fromSnapshot(m.toSnapshot(), (w) => assert.fail(w)).stream('APP', 'S')!.consumers.get('D')!;
  assert.equal(ca.subject, '', 'a meta snapshot keeps no API subject');
  assert.equal(ca.group.preferred, 'b', 'the preferred leader is kept');
  assert.equal(scaledFromOne(ca), false);
  const root = tmpDir(t, 'tsnats-seed-roles-');
  for (const p of ['a', 'c']) assert.equal(prepareSeedRole(join(root, p, 'D'), p, ca, undefined), undefined, `replica on ${p}`);
});
