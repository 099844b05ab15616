// The real RaftNode (node.ts, its WAL and meta files, unchanged) in the
// deterministic simulator: a simulated disk that keeps only what was
// fsync'ed (names need a directory fsync), crashes and power loss, bit rot
// in the durable WAL or snapshot of one server at a time, a lossy reordering
// network, clock jumps, stepdowns, snapshots taken from inside apply().
// Every seed must keep: one leader per term, identical state machines,
// in-order applies with no repeat across restarts, every acknowledged
// proposal applied once, votes and acks durable when sent, progress after
// the heal. Known bugs switched on must be caught.
// Reproduce: runNodeScenario({ seed, traceLimit: 20000 }) and read .trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runNodeScenario } from '../../src/raft/sim/node-scenario.js';
import { type InjectedFault, withInjectedFault } from '../../src/raft/test-faults.js';

const SEEDS = Number(process.env.TSNATS_NODE_SIM_SEEDS ?? 150);

test(`${SEEDS} seeded simulations of the real node, WAL and meta files keep every check`, () => {
  const failures: string[] = [];
  let applied = 0;
  let acked = 0;
  let corruptions = 0;
  let restarts = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = runNodeScenario({ seed });
    if (!r.ok) failures.push(`seed ${seed} (${r.nodes} nodes): ${r.error}`);
    applied += r.stats.applied;
    acked += r.stats.acked;
    corruptions += r.stats.corruptions;
    restarts += r.stats.restarts;
  }
  assert.deepEqual(failures, []);
  // The runs did real work and really hit the faults.
  assert.ok(applied >= SEEDS * 40, `only ${applied} indexes applied`);
  assert.ok(acked >= SEEDS * 40, `only ${acked} proposals acknowledged`);
  assert.ok(corruptions >= SEEDS / 2, `only ${corruptions} corruptions`);
  assert.ok(restarts >= SEEDS * 5, `only ${restarts} restarts`);
});

test('node simulation determinism: same seed, same run; different seeds, different runs', () => {
  const seeds = [7, 8, 9, 1234];
  const runs = seeds.map((seed) => runNodeScenario({ seed }));
  for (const [k, seed] of seeds.entries()) {
    const again = runNodeScenario({ seed });
    assert.deepEqual(again.stats, runs[k].stats, `seed ${seed}`);
    assert.equal(again.fingerprint, runs[k].fingerprint);
  }
  assert.equal(new Set(runs.map((r) => r.fingerprint)).size, seeds.length);
});

const CUT_SEEDS = Number(process.env.TSNATS_NODE_SIM_CUT_SEEDS ?? 60);

test(`${CUT_SEEDS} seeded simulations with WALs cut cleanly (kill -9, newest segment cut at a record boundary or removed) keep every check`, () => {
  const failures: string[] = [];
  let corruptions = 0;
  for (let seed = 1; seed <= CUT_SEEDS; seed++) {
    const r = runNodeScenario({ seed, cutTails: true });
    if (!r.ok) failures.push(`seed ${seed} (${r.nodes} nodes): ${r.error}`);
    corruptions += r.stats.corruptions;
  }
  assert.deepEqual(failures, []);
  assert.ok(corruptions >= CUT_SEEDS / 2, `only ${corruptions} cuts and corruptions`);
});

function firstCatch(fault: InjectedFault, seeds: number, consequencesOnly: boolean, cutTails = false, removeLogs = false): { seed: number; error: string } | undefined {
  return withInjectedFault(fault, () => {
    for (let seed = 1; seed <= seeds; seed++) {
      const r = runNodeScenario({ seed, consequencesOnly, cutTails, removeLogs });
      if (!r.ok) return { seed, error: r.error ?? '' };
    }
    return undefined;
  });
}

test('real node, injected "vote sent before the term/vote write is durable": caught within 5 seeds', () => {
  const c = firstCatch('voteBeforeDurable', 5, false);
  assert.ok(c, 'not caught');
  assert.match(c.error, /granted a vote in term \d+ before it was durable/);
});

test('real node, injected "ack before fsync": caught within 5 seeds; by its consequences alone within 200', () => {
  const c = firstCatch('ackBeforeFsync', 5, false);
  assert.ok(c, 'not caught');
  assert.match(c.error, /acknowledged index \d+ but only \d+ is durable/);
  const e = firstCatch('ackBeforeFsync', 200, true);
  assert.ok(e, 'consequence not seen');
  assert.match(e.error, /differs from|never applied|two leaders|gap or repeat/);
});

test('real node, injected "snapshot from inside apply() one index too low" (issue 12): caught within 10 seeds', () => {
  const c = firstCatch('snapshotBelowApplied', 10, true);
  assert.ok(c, 'not caught');
  assert.match(c.error, /snapshot for \d+ holds state of \d+|gap or repeat|differs from/);
});

test('real node, injected "WAL recovery ignores its durable witness" with clean cuts: caught by its consequences within 20 seeds', () => {
  const c = firstCatch('ignoreDurableWitness', 20, true, true);
  assert.ok(c, 'not caught');
  assert.match(c.error, /differs from|never applied|two leaders|gap or repeat/);
});

test(`${CUT_SEEDS} seeded simulations with logs removed (kill -9, then as above, or the whole wal/ or group directory removed; a witness copy outside it) keep every check`, () => {
  const failures: string[] = [];
  let corruptions = 0;
  for (let seed = 1; seed <= CUT_SEEDS; seed++) {
    const r = runNodeScenario({ seed, removeLogs: true });
    if (!r.ok) failures.push(`seed ${seed} (${r.nodes} nodes): ${r.error}`);
    corruptions += r.stats.corruptions;
  }
  assert.deepEqual(failures, []);
  assert.ok(corruptions >= CUT_SEEDS / 2, `only ${corruptions} cuts and corruptions`);
});

test('real node, injected "a removed wal/ or group directory is not noticed" with logs removed: caught by its consequences within 60 seeds', () => {
  const c = firstCatch('ignoreRemovedLog', 60, true, false, true);
  assert.ok(c, 'not caught');
  assert.match(c.error, /differs from|never applied|two leaders|gap or repeat/);
});
