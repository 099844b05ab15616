// Deterministic Raft simulation: 2,000 seeds of chaos (loss, duplication,
// reordering, partitions, crashes losing unsynced writes, slow disks, clock
// drift, stepdowns, snapshots, client load) on 3- and 5-node groups. Every
// seed must keep the safety invariants at every step and, once the network
// heals, elect a leader and apply a new proposal everywhere within a bound.
// Reproduce a failing seed with: node dist/test/sim/run-sim.js --start <seed> --seeds 1 --verbose
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario, type ScenarioResult } from '../../src/raft/sim/scenario.js';

const SEEDS = Number(process.env.TSNATS_SIM_SEEDS ?? 2000);

function check(r: ScenarioResult): void {
  assert.ok(r.ok, `seed ${r.seed} (${r.nodes} nodes) failed: ${r.error}`);
}

test(`${SEEDS} seeded simulations keep every invariant and make progress after the heal`, () => {
  const failures: string[] = [];
  let committed = 0;
  let leaders = 0;
  let threeNode = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = runScenario({ seed });
    if (!r.ok) failures.push(`seed ${seed} (${r.nodes} nodes): ${r.error}`);
    committed += r.stats.committed;
    leaders += r.stats.leaders;
    if (r.nodes === 3) threeNode++;
  }
  assert.deepEqual(failures, []);
  // The runs did real work: many elections and commits, both group sizes.
  assert.ok(leaders >= SEEDS * 2, `only ${leaders} leaders elected`);
  assert.ok(committed >= SEEDS * 50, `only ${committed} indexes committed`);
  assert.ok(threeNode > SEEDS / 4 && threeNode < (SEEDS * 3) / 4, `3-node runs: ${threeNode}`);
});

test('a failing seed reproduces exactly (same events, same outcome)', () => {
  const a = runScenario({ seed: 4242 });
  const b = runScenario({ seed: 4242 });
  assert.deepEqual(a.stats, b.stats);
  assert.equal(a.ok, b.ok);
});

// ---- regressions: each seed once found a bug; the name says which.

test('seed 619: a duplicated catch-up snapshot AE is installed once, never stored as a log entry', () => {
  check(runScenario({ seed: 619 }));
});

test('seed 318: duplicated snapshot AE stored at the snapshot index broke log matching', () => {
  check(runScenario({ seed: 318 }));
});

test('seeds 286, 464, 487, 499, 670, 862: snapshot AE applied as a normal entry after its install', () => {
  for (const seed of [286, 464, 487, 499, 670, 862]) check(runScenario({ seed }));
});

test('seed 1: reordered catch-up entries cancelled catch-up forever (livelock after the heal)', () => {
  check(runScenario({ seed: 1 }));
});

test('seeds 3, 4, 5: followers stuck behind a catch-up stream with gaps never caught up', () => {
  for (const seed of [3, 4, 5]) check(runScenario({ seed }));
});

test('seeds 3887, 774: a removed server counted its own vote and was elected without a committed entry', () => {
  // 3887 found it; after later fixes changed the schedules, 774 is the seed that hits it.
  for (const seed of [3887, 774]) check(runScenario({ seed }));
});

test('long chaos, seeds 1204 and 1610: a deposed leader becoming ready after a newer commit is not a violation', () => {
  for (const seed of [1204, 1610]) check(runScenario({ seed, chaosMs: 30_000, livenessMs: 30_000 }));
});

test('seed 9203: a follower with a longer divergent log stayed in catch-up forever after the heal', () => {
  check(runScenario({ seed: 9203 }));
});

test('every message through the NRG codec: 50 seeds', () => {
  for (let seed = 10_001; seed <= 10_050; seed++) check(runScenario({ seed, codec: true }));
});
