// Two of five servers gone at once, the leader among them (js-meta-remove-retry stops two of five):
// the three survivors need every one of their votes. Before split votes were detected and broken,
// such elections took up to ~4 minimum election timeouts (16 s at NRG's 4 s; a CI run saw no meta
// leader for over 20 s) with several split rounds. In simulated time, deterministic per seed; the
// simulation's safety invariants are checked at every event.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SIM_TIMING } from '../../src/raft/sim/cluster.js';
import { survivorElection, type SurvivorsTold } from '../../src/raft/sim/survivor-election.js';

const SEEDS = Number(process.env.TSNATS_SIM_SEEDS_SURVIVORS ?? 300);
const MIN = SIM_TIMING.electionTimeoutMinMs!;
const MAX = SIM_TIMING.electionTimeoutMaxMs!;

// Bounds (simulated ms). Told of the crash, survivors elect within the minimum election timeout.
// With one survivor untold, it refuses pre-votes while it still hears the old leader (up to MIN
// after the leader's last append), then the others' retry elects: within 2 MIN. Told nothing,
// the first election timer (at most MAX) starts an election that completes within one more
// round trip. Before the change the worst seeds took 1,455 / 1,585 / 1,670 ms (slow disks).
const BOUND: Record<SurvivorsTold, number> = { all: MIN, two: 2 * MIN, none: MAX + 200 };

for (const told of ['all', 'two', 'none'] as const) {
  for (const slowDisk of [false, true]) {
    test(`three survivors of five, ${told} told the leader is gone${slowDisk ? ', slow disks' : ''}: a leader within ${BOUND[told]} ms (sim) on every seed`, (t) => {
      const times: number[] = [];
      const over: string[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) {
        const r = survivorElection({ seed, told, slowDisk });
        times.push(r.leaderlessMs);
        if (r.leaderlessMs < 0 || r.leaderlessMs > BOUND[told]) over.push(`seed ${seed}: ${r.leaderlessMs} ms, ${r.terms} terms`);
      }
      times.sort((a, b) => a - b);
      const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))];
      t.diagnostic(`leaderless ms: p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${times[times.length - 1]}`);
      assert.deepEqual(over, []);
    });
  }
}
