// The test-only TSNATS_TEST_RAFT_ELECTION_MS knob (src/raft/test-faults.ts): "min-max" gives those
// election timeouts and a heartbeat of a third of min; anything else leaves raft's defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testElectionTiming } from '../../src/raft/test-faults.js';

test('TSNATS_TEST_RAFT_ELECTION_MS: min-max election timeouts, heartbeat min/3', () => {
  assert.deepEqual(testElectionTiming({ TSNATS_TEST_RAFT_ELECTION_MS: '1500-3000' }), {
    electionTimeoutMinMs: 1500, electionTimeoutMaxMs: 3000, heartbeatMs: 500,
  });
});

test('TSNATS_TEST_RAFT_ELECTION_MS unset or malformed: raft defaults', () => {
  for (const v of [undefined, '', '3000', '3000-1500', '50-100', 'a-b', '1500-3000x']) {
    assert.equal(testElectionTiming({ TSNATS_TEST_RAFT_ELECTION_MS: v }), undefined, String(v));
  }
});
