// CLI: node dist/test/sim/run-sim.js --seeds N [--start S] [--nodes 3|5] [--chaos MS] [--inject FAULT] [--verbose]
// --consequences-only checks only end-to-end consequences, not the direct durability/commit rules.
// --inject switches on one known bug (src/raft/test-faults.ts) to measure how many seeds catch it.
// Runs seeded Raft simulations (src/raft/sim) and prints progress and the
// seed of every failure; a failing seed reproduces exactly with --start <seed> --seeds 1.
import { runScenario } from '../../src/raft/sim/scenario.js';
import { type InjectedFault, injectedFaults } from '../../src/raft/test-faults.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seeds = Number(arg('seeds') ?? 100);
const start = Number(arg('start') ?? 1);
const nodesArg = arg('nodes');
const nodes = nodesArg ? Number(nodesArg) : undefined;
const chaosMs = arg('chaos') ? Number(arg('chaos')) : undefined;
const verbose = process.argv.includes('--verbose');
const consequencesOnly = process.argv.includes('--consequences-only');
const inject = arg('inject');
if (inject !== undefined) {
  if (!(inject in injectedFaults)) {
    console.error(`unknown fault ${inject}; one of: ${Object.keys(injectedFaults).join(', ')}`);
    process.exit(2);
  }
  injectedFaults[inject as InjectedFault] = true;
}
if (!Number.isInteger(seeds) || seeds <= 0 || !Number.isInteger(start) || (nodes !== undefined && nodes !== 3 && nodes !== 5)) {
  console.error('usage: run-sim --seeds N [--start S] [--nodes 3|5] [--chaos MS] [--verbose]');
  process.exit(2);
}

const t0 = Date.now();
const failures: number[] = [];
let events = 0;
let committed = 0;
for (let seed = start; seed < start + seeds; seed++) {
  const r = runScenario({ seed, nodes, chaosMs, consequencesOnly });
  events += r.stats.events;
  committed += r.stats.committed;
  if (!r.ok) {
    failures.push(seed);
    console.log(`FAIL seed=${seed} nodes=${r.nodes}: ${r.error}`);
    if (verbose) {
      // Deterministic: the same seed with tracing on shows how it got there.
      const again = runScenario({ seed, nodes, chaosMs, consequencesOnly, traceLimit: 400 });
      for (const l of again.trace ?? []) console.log(`  ${l}`);
    }
  } else if (verbose) {
    console.log(`ok seed=${seed} nodes=${r.nodes} events=${r.stats.events} leaders=${r.stats.leaders} committed=${r.stats.committed} proposals=${r.stats.proposals}`);
  }
  const done = seed - start + 1;
  if (!verbose && (done % 100 === 0 || done === seeds)) {
    console.log(`${done}/${seeds} seeds, ${failures.length} failed, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
}
console.log(`seeds ${start}..${start + seeds - 1}: ${seeds - failures.length} ok, ${failures.length} failed; ${events} events, ${committed} committed indexes, ${((Date.now() - t0) / 1000).toFixed(1)}s`);
if (failures.length > 0) {
  console.log(`failing seeds: ${failures.join(' ')}`);
  process.exit(1);
}
