// The bounded chaos run of `npm test`: a few fixed seeds of the chaos suite (bench/chaos; CI_RUNS
// in run.ts) whose schedules together hold every fault kind (checked in chaos-parts.test.ts),
// against nats-server (chaos-nats-server.slow.test.ts) and tsnats (chaos-tsnats.slow.test.ts), one
// file each so each stays within the runner's per-file time limit. Each seed is its own test so a failure names its seed; the
// assertion message carries the whole report with the schedule and the replay command.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos, report, ciFaults, CI_RUNS } from '../../bench/chaos/run.js';
import { natsServerSkip, requireNatsServer } from '../helpers/nats-server.js';
import type { Impl } from '../../bench/chaos/cluster.js';

function skipFor(impl: Impl): string | false {
  if (impl === 'nats-server') return natsServerSkip();
  return false;
}

export function chaosCiSuite(impl: Impl): void {
  describe(`chaos on ${impl}`, { skip: skipFor(impl) }, () => {
    const kindsRun = new Set<string>();
    const { seeds, durationS } = CI_RUNS[impl];
    for (const seed of seeds) {
      test(`seed ${seed}: every acknowledged message survives, replicas agree, the consumer delivers all`, async () => {
        if (impl === 'nats-server') requireNatsServer();
        const lines: string[] = [];
        const r = await runChaos({ seed, durationS, impl, faults: ciFaults(impl), log: (m) => lines.push(m) });
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
