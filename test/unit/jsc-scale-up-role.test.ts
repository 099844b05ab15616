// A server's part in a stream group it starts without a directory (stream-membership.ts
// scaleUpRole) and the durable markers that keep the seed's and a new replica's part across a
// restart, on real directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stream } from '../../src/jetstream/stream.js';
import { clearSeedMark, markAwaitingSeed, markSeed, scaleUpRole } from '../../src/jetstream/cluster/stream-membership.js';
import { prepareSeedRole } from '../../src/jetstream/cluster/consumer-seed.js';
import { emptyConsumerState } from '../../src/jetstream/store/consumer-state-codec.js';
import { tmpDir } from '../helpers/store-files.js';

const LOCAL = {} as Stream;
/** The first 12 bytes of a witness copy (u64 index, u32 checksum left 0) claiming `n`. */
const index = (n: number) => Buffer.from([n, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const UPDATE = '$JS.API.STREAM.UPDATE.S';

function entry(peers: string[], preferred?: string, subject = UPDATE) {
  return { sa: { subject, group: { name: 'S-1', peers, ...(preferred ? { preferred } : {}) } } };
}

test('scaleUpRole: the holder of a plain R1 stream scaled up seeds; the new peers wait for it', (t) => {
  const dir = join(tmpDir(t, 'tsnats-role-'), 'S-1');
  const grown = entry(['a', 'b', 'c'], 'a');
  assert.equal(scaleUpRole('a', grown, dir, LOCAL), 'seed');
  assert.equal(scaleUpRole('b', grown, dir, undefined), 'join');
  assert.equal(scaleUpRole('c', grown, dir, undefined), 'join');
  // As a server that was down during the update recovers it from a meta snapshot (no API subject).
  assert.equal(scaleUpRole('c', entry(['a', 'b', 'c'], 'a', ''), dir, undefined), 'join');
  // An update that cleared the preference: the first listed peer (placement lists existing peers first).
  assert.equal(scaleUpRole('a', entry(['a', 'b', 'c']), dir, LOCAL), 'seed');
  assert.equal(scaleUpRole('b', entry(['a', 'b', 'c']), dir, undefined), 'join');
  // A preferred peer that is no longer a member names nobody.
  assert.equal(scaleUpRole('a', entry(['a', 'b', 'c'], 'x'), dir, LOCAL), 'seed');
});

test('scaleUpRole: other new replicas wait too; the first peer, creates and restarts have no part', (t) => {
  const dir = join(tmpDir(t, 'tsnats-role-'), 'S-1');
  // R3 -> R5 (the preferred peer of the create stays) and a peer added to a group left on one
  // server: from the assignment alone these cannot be told from a seeded group.
  assert.equal(scaleUpRole('d', entry(['a', 'b', 'c', 'd', 'e'], 'a'), dir, undefined), 'join');
  assert.equal(scaleUpRole('b', entry(['a', 'b']), dir, undefined), 'join');
  // The first peer without the stream (all replicas of a create recovered from a meta snapshot,
  // none with a directory yet): a plain new member, which campaigns, so that the group elects.
  assert.equal(scaleUpRole('a', entry(['a', 'b', 'c'], 'a', ''), dir, undefined), undefined);
  assert.equal(scaleUpRole('a', entry(['a', 'b', 'c'], undefined, ''), dir, undefined), undefined);
  assert.equal(scaleUpRole('b', entry(['a', 'b', 'c'], 'a', '$JS.API.STREAM.CREATE.S'), dir, undefined), undefined);
  assert.equal(scaleUpRole('a', entry(['a']), dir, LOCAL), undefined);
  mkdirSync(dir);
  assert.equal(scaleUpRole('b', entry(['a', 'b', 'c'], 'a'), dir, undefined), undefined);
});

test('the markers: a restart finds its part until it is cleared; the directory is created with the marker in it', (t) => {
  const root = tmpDir(t, 'tsnats-role-');
  const plain = entry(['a', 'b', 'c']);
  const joiner = join(root, 'S-join');
  assert.equal(markAwaitingSeed(joiner), true);
  assert.deepEqual(readdirSync(joiner), ['awaiting-seed']);
  assert.equal(markAwaitingSeed(joiner), false, 'a restart finds the marker');
  assert.equal(scaleUpRole('b', plain, joiner, undefined), 'join');
  clearSeedMark(joiner, 'join');
  assert.equal(existsSync(join(joiner, 'awaiting-seed')), false);
  assert.equal(scaleUpRole('b', plain, joiner, undefined), undefined);

  const seed = join(root, 'S-seed');
  markSeed(seed);
  assert.equal(scaleUpRole('a', plain, seed, undefined), 'seed');
  clearSeedMark(seed);
  assert.equal(scaleUpRole('a', plain, seed, undefined), undefined);
});

test('scaleUpRole: a group directory removed while the stream\'s store keeps a witness copy of that group is no scale-up', (t) => {
  const root = tmpDir(t, 'tsnats-role-');
  const dir = join(root, 'S-1');
  const copy = join(root, 'raft-witness.idx');
  const grown = entry(['a', 'b', 'c'], 'a');
  // No copy, an empty one, one of another group, or one claiming nothing: a scale-up as before.
  assert.equal(scaleUpRole('a', grown, dir, LOCAL, copy), 'seed');
  for (const other of [Buffer.alloc(0), Buffer.concat([index(7), Buffer.from('S-2')]), Buffer.concat([index(0), Buffer.from('S-1')])]) {
    writeFileSync(copy, other);
    assert.equal(scaleUpRole('a', grown, dir, LOCAL, copy), 'seed');
    assert.equal(scaleUpRole('b', grown, dir, undefined, copy), 'join');
  }
  // The group's log was here: a plain start (raft finds the loss through the same copy), never a seed.
  writeFileSync(copy, Buffer.concat([index(7), Buffer.from('S-1')]));
  assert.equal(scaleUpRole('a', grown, dir, LOCAL, copy), undefined);
  assert.equal(scaleUpRole('b', grown, dir, undefined, copy), undefined);
});

test('prepareSeedRole: a consumer group directory removed while its store keeps the group\'s witness copy is no new replica; a seed drops a stale copy', (t) => {
  const root = tmpDir(t, 'tsnats-role-');
  const copy = join(root, 'raft-witness.idx');
  // A durable scaled up from R1 around `a` (a meta snapshot's assignment: no API subject).
  const ca = { subject: '', group: { name: 'C-R1F-1', peers: ['a', 'b', 'c'], preferred: 'a', store: 'file' as const } };
  const other = Buffer.concat([index(7), Buffer.from('C-R1F-2')]);
  writeFileSync(copy, other);
  assert.deepEqual(prepareSeedRole(join(root, 'b1'), 'b', ca, undefined, copy), { kind: 'join' }, 'another group\'s copy: a new replica');
  writeFileSync(copy, Buffer.concat([index(7), Buffer.from('C-R1F-1')]));
  assert.equal(prepareSeedRole(join(root, 'b2'), 'b', ca, undefined, copy), undefined, 'its own copy: lost state, not a joiner');
  assert.equal(existsSync(join(root, 'b2')), false, 'no marker directory');
  assert.ok(existsSync(copy), 'the copy stays for raft to find');
  // The seed's R1 consumer ran after that group was here: its state is newer than the copy's claim.
  const seeded = prepareSeedRole(join(root, 'a1'), 'a', ca, emptyConsumerState(), copy);
  assert.equal(seeded?.kind, 'seed');
  assert.equal(existsSync(copy), false, 'the stale copy is gone');
  assert.deepEqual(readdirSync(join(root, 'a1')), ['seed-state']);
});
