// The meta leader's rule for STREAM.PEER.REMOVE (peer-remove-guard.ts quorumHolds): the group a
// removal leaves must have a quorum of replicas that hold everything up to the leader's commit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quorumHolds, type ReplicaState } from '../../src/jetstream/cluster/peer-remove-guard.js';

const st = (holds: boolean, applied: number, leader = false): ReplicaState => ({ holds, leader, applied, commit: applied });

test('peer remove guard: a quorum of the new group must hold the data up to the target', () => {
  // R1 -> R3 seeding: the seed holds, the new replicas wait for it.
  const seeding = new Map([['seed', st(true, 3, true)], ['j1', st(false, 3)], ['j2', st(false, 3)]]);
  assert.equal(quorumHolds(seeding, ['j1', 'j2'], 3), false, 'the seed removed: nobody left holds the data');
  assert.equal(quorumHolds(seeding, ['seed', 'j2'], 3), false, 'a new replica removed: one of two holds');
  // Seeded: every replica holds.
  const seeded = new Map([['seed', st(true, 9, true)], ['j1', st(true, 9)], ['j2', st(true, 8)]]);
  assert.equal(quorumHolds(seeded, ['j1', 'j2'], 8), true);
  assert.equal(quorumHolds(seeded, ['j1', 'j2'], 9), false, 'j2 has not applied the target yet');
  // A replacement placed by the removal counts in the group size but holds nothing yet.
  assert.equal(quorumHolds(seeded, ['seed', 'j1', 'new'], 9), true);
  assert.equal(quorumHolds(seeded, ['seed', 'new', 'j2'], 9), false);
  // A replica that did not answer (offline) holds nothing as far as the decision goes.
  assert.equal(quorumHolds(new Map([['l', st(true, 5, true)]]), ['l', 'down'], 5), false);
  assert.equal(quorumHolds(new Map(), [], 0), false, 'an empty group never');
});
