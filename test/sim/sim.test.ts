// Deterministic Raft simulation: 2,000 seeds of chaos (loss, duplication,
// reordering, partitions, crashes losing unsynced writes, crashes during
// fsync, power loss of a majority or of everyone, wiped disks and corrupted
// log tails on a minority, slow disks, clock drift and jumps, stepdowns,
// leader removal, snapshots, client load) on 3- and 5-node groups. Every
// seed must keep the safety invariants at every step and, once the network
// heals, elect a leader and apply a new proposal everywhere within a bound;
// every proposal acknowledged to its client must have been applied once.
// Sensitivity: known bugs switched on (src/raft/test-faults.ts) must be caught.
// Reproduce a failing seed with: node dist/test/sim/run-sim.js --start <seed> --seeds 1 --verbose
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runScenario, type ScenarioResult } from '../../src/raft/sim/scenario.js';
import { type InjectedFault, withInjectedFault } from '../../src/raft/test-faults.js';

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

test('determinism: the same seed gives the same run; different seeds give different runs', () => {
  const seeds = [4242, 4243, 17, 900, 1999];
  const runs = seeds.map((seed) => runScenario({ seed }));
  for (const [k, seed] of seeds.entries()) {
    const again = runScenario({ seed });
    assert.deepEqual(again.stats, runs[k].stats, `seed ${seed} stats`);
    assert.equal(again.fingerprint, runs[k].fingerprint, `seed ${seed} fingerprint`);
    assert.equal(again.ok, runs[k].ok);
  }
  const distinct = new Set(runs.map((r) => r.fingerprint));
  assert.equal(distinct.size, seeds.length, 'every seed produced a different run');
  assert.equal(new Set(runs.map((r) => r.stats.events)).size, seeds.length, 'event counts differ between seeds');
});

// ---- sensitivity: each known bug, switched on, must be caught.

function firstCatch(fault: InjectedFault, seeds: number[], consequencesOnly = false): { seed: number; error: string } | undefined {
  return withInjectedFault(fault, () => {
    for (const seed of seeds) {
      const r = runScenario({ seed, consequencesOnly });
      if (!r.ok) return { seed, error: r.error ?? '' };
    }
    return undefined;
  });
}
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

test('injected bug "commit of an earlier term by counting" is caught within 10 seeds', () => {
  const c = firstCatch('commitEarlierTermByCounting', range(1, 10));
  assert.ok(c, 'not caught');
  assert.match(c.error, /committed index \d+ of term \d+ by counting/);
});

test('injected bug "ack before fsync" is caught within 10 seeds, and by its consequence alone (a leader lacking a committed entry) within 20', () => {
  const c = firstCatch('ackBeforeFsync', range(1, 10));
  assert.ok(c, 'not caught');
  assert.match(c.error, /acknowledged index \d+ but only \d+ is durable/);
  const e = firstCatch('ackBeforeFsync', range(1, 20), true);
  assert.ok(e, 'consequence not seen');
  assert.match(e.error, /lacks committed index|never applied|committed a different entry|truncates committed/);
});

test('injected bug "vote forgotten on crash" (vote sent before durable) is caught within 10 seeds; seed 682 shows its consequence: two leaders in one term', () => {
  const c = firstCatch('voteBeforeDurable', range(1, 10));
  assert.ok(c, 'not caught');
  assert.match(c.error, /granted a vote in term \d+ before it was durable/);
  const e = firstCatch('voteBeforeDurable', [682], true);
  assert.ok(e, 'consequence not seen');
  assert.match(e.error, /two leaders in term \d+/);
  // And without the bug the same seed is fine.
  assert.equal(runScenario({ seed: 682, consequencesOnly: true }).ok, true);
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
