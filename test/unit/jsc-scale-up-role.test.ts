// A server's part in a stream group it starts without a directory (stream-membership.ts
// scaleUpRole) and the durable markers that keep the seed's and a new replica's part across a
// restart, on real directories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Stream } from '../../src/jetstream/stream.js';
import { clearSeedMark, markAwaitingSeed, markSeed, scaleUpRole } from '../../src/jetstream/cluster/stream-membership.js';
import { tmpDir } from '../helpers/store-files.js';

const LOCAL = {} as Stream;
const UPDATE = '$JS.API.STREAM.UPDATE.S';

function entry(peers: string[], preferred?: string, subject = UPDATE) {
  return { sa: { subject, group: { peers, ...(preferred ? { preferred } : {}) } } };
}

test('scaleUpRole: the holder of a plain R1 stream scaled up seeds; the new peers wait for it', (t) => {
  const dir = join(tmpDir(t, 'tsnats-role-'), 'S-1');
  const grown = entry(['a', 'b', 'c'], 'a');
  assert.equal(scaleUpRole('a', grown, dir, LOCAL, true), 'seed');
  assert.equal(scaleUpRole('b', grown, dir, undefined, true), 'join');
  assert.equal(scaleUpRole('c', grown, dir, undefined, true), 'join');
});

test('scaleUpRole: other new replicas of an existing group are plain new replicas; creates and restarts have no part', (t) => {
  const dir = join(tmpDir(t, 'tsnats-role-'), 'S-1');
  // R3 -> R5 (the preferred peer of the create stays): the data is in the group's log, which raft protects.
  assert.equal(scaleUpRole('d', entry(['a', 'b', 'c', 'd', 'e'], 'a'), dir, undefined), 'new');
  // A peer added to a raft group left on one server (its data is in that group's log).
  assert.equal(scaleUpRole('b', entry(['a', 'b']), dir, undefined), 'new');
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
