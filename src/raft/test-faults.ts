// Known bugs that can be switched on, for tests only: the simulator's
// sensitivity tests turn one on and check that the seeded runs catch it.
// Production code never sets these; each check costs one property read.
import type { RaftTiming } from './core-types.js';

export const injectedFaults = {
  /** Leader commits an entry of an earlier term by counting replicas (Raft §5.4.2 forbids it). */
  commitEarlierTermByCounting: false,
  /** Followers acknowledge appends before they are fsync'ed. */
  ackBeforeFsync: false,
  /** Votes are sent before the term/vote write is durable, so a crash can forget a granted vote. */
  voteBeforeDurable: false,
  /** installSnapshot() called inside apply() snapshots one index below the entry being applied (issue 12). */
  snapshotBelowApplied: false,
  /** WAL recovery ignores its durable witness: a log cut cleanly looks complete (wal.ts). */
  ignoreDurableWitness: false,
  /** A removed wal/ or group directory is not noticed (its witness copy, the group's other files): the node starts as a new member (node.ts, wal.ts). */
  ignoreRemovedLog: false,
};

export type InjectedFault = keyof typeof injectedFaults;

/** Runs `fn` with one fault switched on, restoring it afterwards. */
export function withInjectedFault<T>(fault: InjectedFault, fn: () => T): T {
  const was = injectedFaults[fault];
  injectedFaults[fault] = true;
  try {
    return fn();
  } finally {
    injectedFaults[fault] = was;
  }
}

/**
 * TSNATS_TEST_RAFT_ELECTION_MS="min-max" (tests only; unset in production): election timeouts of
 * every group of this server, the heartbeat a third of min (nats-server keeps 1 s against 4 s). A
 * test that must wait "longer than any election timeout" for something that must not happen
 * (an election) then waits a few seconds instead of 10. Unset or malformed: raft's defaults.
 */
export function testElectionTiming(env: NodeJS.ProcessEnv = process.env): Partial<RaftTiming> | undefined {
  const m = /^(\d+)-(\d+)$/.exec(env.TSNATS_TEST_RAFT_ELECTION_MS ?? '');
  if (m === null) return undefined;
  const min = Number(m[1]);
  const max = Number(m[2]);
  if (min < 100 || max < min) return undefined;
  return { electionTimeoutMinMs: min, electionTimeoutMaxMs: max, heartbeatMs: Math.floor(min / 3) };
}
