// Shorter raft election timeouts for the tsnats servers of one test file (the test-only
// TSNATS_TEST_RAFT_ELECTION_MS, src/raft/test-faults.ts). With raft's defaults (4-9 s) a test
// waits 4-9 s for every election after a leader is killed, and 10 s wherever it must show that
// an election does not happen; here 1.5-3 s and 4 s. nats-server nodes keep their own timeouts.

/** Election timeouts of the tsnats servers of a file that calls shortElections. */
const TEST_ELECTION_MS = { min: 1500, max: 3000 };

/** Longer than those servers' largest election timeout (with the same 1 s margin as 10 s over 9 s). */
export const ELECTION_WINDOW_MS = TEST_ELECTION_MS.max + 1000;

/**
 * Every tsnats server this test file starts from now on, restarted ones too, runs with the shorter
 * election timeouts: it sets the variable in this process's environment, which the harness
 * passes to its children. Each test file runs in its own process; call it at the top of the file,
 * before a cluster starts.
 */
export function shortElections(): void {
  process.env.TSNATS_TEST_RAFT_ELECTION_MS = `${TEST_ELECTION_MS.min}-${TEST_ELECTION_MS.max}`;
}
