// The bounded chaos run of `npm test`: a few fixed seeds of the chaos suite
// (bench/chaos) with every fault kind, against nats-server (chaos-nats-server.slow.test.ts)
// and tsnats (chaos-tsnats.slow.test.ts), one file each so each stays within the runner's
// per-file time limit. Each seed is its own test so a failure names its seed; the
// assertion message carries the whole report with the schedule and the replay command.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos, report, ciFaults } from '../../bench/chaos/run.js';
import { natsServerSkip, requireNatsServer } from '../helpers/nats-server.js';
import type { Impl } from '../../bench/chaos/cluster.js';

/**
 * Fixed seeds per implementation: together they schedule every fault kind of ciFaults() at least once,
 * and the leader as a target (checked below, and in chaos-parts.test.ts without servers). nats-server
 * runs only the faults it survives (ciFaults: see bench/chaos/README.md for the ones it does not).
 */
const CI_SEEDS: Record<Impl, number[]> = { 'nats-server': [1, 2, 8], tsnats: [1, 6, 15] };
const CI_DURATION_S = 12;

function skipFor(impl: Impl): string | false {
  if (impl === 'nats-server') return natsServerSkip();
  return false;
}

export function chaosCiSuite(impl: Impl): void {
  describe(`chaos on ${impl}`, { skip: skipFor(impl) }, () => {
    const kindsRun = new Set<string>();
    for (const seed of CI_SEEDS[impl]) {
      test(`seed ${seed}: every acknowledged message survives, replicas agree, the consumer delivers all`, async () => {
        if (impl === 'nats-server') requireNatsServer();
        const lines: string[] = [];
        const r = await runChaos({ seed, durationS: CI_DURATION_S, impl, faults: ciFaults(impl), log: (m) => lines.push(m) });
        for (const e of r.executed) if (e.node !== undefined) kindsRun.add(e.fault.kind);
        const text = `${report(r, impl)}\n--- progress ---\n${lines.join('\n')}`;
        assert.deepEqual(r.violations, [], text);
        assert.ok(r.stats.acked > 0, `no publish was acknowledged\n${text}`);
        assert.ok(r.executed.length > 0, `no fault ran\n${text}`);
        // a fault resolved to no node (no leader in time) did nothing: at least one must really have hit
        assert.ok(r.executed.some((e) => e.node !== undefined), `every fault was skipped\n${text}`);
      });
    }
    test('the seeds together exercised every fault kind', () => {
      assert.deepEqual([...kindsRun].sort(), [...ciFaults(impl)].sort());
    });
  });
}
