// `npm run bench [-- <suite>...] [--quick] [--no-pin] [--profile] [--json] [--tsnats-only|--nats-only]`
//
// Runs the selected suites (default: every suite marked byDefault) against
// tsnats and, when installed, nats-server, with the same load generator in the
// same run, and prints one table: each figure, the tsnats/nats-server ratio
// and PASS/MISS against the target. See BENCHMARKS.md for the method.

import { mkdtempSync, rmSync, readdirSync, statSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir, cpus, loadavg, totalmem, setPriority, getPriority } from 'node:os';
import { join } from 'node:path';
import {
  detectPinning, findNatsServer, launchServer, natsServerVersion, pinSelf, TSNATS_CLI,
  type RunningServer, type ServerKind, type ServerSpec,
} from './lib/servers.js';
import { builtinSuites, discoveredSuites, scriptSuites, selectSuites, type SuiteEntry } from './lib/registry.js';
import { renderTable, type SuiteRows } from './lib/report.js';
import { renderSummary, summarizeProfile } from './profile-summary.js';
import type { BenchContext } from './lib/types.js';

/** --nice: servers and generator ahead of unrelated work on a shared machine */
const NICE_PRIORITY = -10;

interface Flags {
  suites: string[];
  quick: boolean;
  pin: boolean;
  profile: boolean;
  json: boolean;
  nice: boolean;
  kinds: ServerKind[];
}

function parseFlags(argv: string[]): Flags {
  const f: Flags = { suites: [], quick: false, pin: true, profile: false, json: false, nice: false, kinds: ['tsnats', 'nats-server'] };
  for (const a of argv) {
    if (a === '--quick') f.quick = true;
    else if (a === '--no-pin') f.pin = false;
    else if (a === '--profile') f.profile = true;
    else if (a === '--json') f.json = true;
    else if (a === '--nice') f.nice = true;
    else if (a === '--tsnats-only') f.kinds = ['tsnats'];
    else if (a === '--nats-only') f.kinds = ['nats-server'];
    else if (a === '-h' || a === '--help') {
      console.log('usage: node dist/bench/run.js [suite...] [--quick] [--no-pin] [--nice] [--profile] [--json] [--tsnats-only|--nats-only]');
      process.exit(0);
    } else if (a.startsWith('-')) throw new Error(`unknown flag ${a}`);
    else f.suites.push(a);
  }
  return f;
}

// Ctrl-C: leave through process.exit so the 'exit' hook in servers.ts kills the servers.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2));
  const t0 = performance.now();
  const log = (m: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${m}\n`);

  const entries: SuiteEntry[] = [...builtinSuites(), ...discoveredSuites(), ...scriptSuites()];
  const { selected, unknown } = selectSuites(entries, flags.suites);
  if (unknown.length) {
    console.error(`unknown suite(s): ${unknown.join(', ')}; available: ${entries.map((e) => e.name).join(', ')}`);
    return 2;
  }

  const natsBin = findNatsServer();
  const kinds: ServerKind[] = [];
  const skipped: string[] = [];
  for (const k of flags.kinds) {
    if (k === 'nats-server' && !natsBin) skipped.push('nats-server not found on PATH (set NATS_SERVER_BIN): its side is skipped');
    else if (k === 'tsnats' && !existsSync(TSNATS_CLI)) skipped.push(`${TSNATS_CLI} missing (run npm run build): tsnats side skipped`);
    else kinds.push(k);
  }
  if (flags.nice) {
    // Before any worker thread or server exists: they inherit the priority.
    try {
      setPriority(NICE_PRIORITY);
    } catch (err) {
      log(`--nice: cannot raise priority (${(err as Error).message}); running at normal priority`);
    }
  }
  const pinning = detectPinning(!flags.pin);
  if (pinning) pinSelf(pinning.generatorCpus);

  const scratch = mkdtempSync(join(tmpdir(), 'tsnats-bench-'));
  const profileDir = flags.profile ? join(scratch, 'profiles') : undefined;
  if (profileDir) mkdirSync(profileDir);
  // Stores hold hundreds of MB after the JetStream suite: remove them on every
  // way out (servers are killed first by the 'exit' hook in servers.ts).
  process.on('exit', () => {
    if (profileDir) {
      for (const f of readdirSync(scratch)) if (f !== 'profiles') rmSync(join(scratch, f), { recursive: true, force: true });
    } else {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  printHeader(natsBin, pinning ? `servers on CPU ${pinning.serverCpus}, load generator on CPU ${pinning.generatorCpus}` : 'none', flags);
  for (const s of skipped) log(s);

  const results: SuiteRows[] = [];
  const running = new Set<RunningServer>();
  let tempCount = 0;
  try {
    for (const entry of selected) {
      let suite;
      try {
        suite = await entry.load();
      } catch (err) {
        log(`suite ${entry.name} not loaded: ${(err as Error).message}`);
        results.push({ suite: entry.name, rows: [{ name: 'suite', tsnats: null, natsServer: null, unit: '', note: `not loaded: ${(err as Error).message}` }] });
        continue;
      }
      const ctx: BenchContext = {
        kinds,
        quick: flags.quick,
        log: (m) => log(m),
        tempDir: (prefix) => mkdtempSync(join(scratch, `${prefix}-${++tempCount}-`)),
        startServer: async (spec: ServerSpec) => {
          const s = await launchServer(spec, {
            natsServerBin: natsBin,
            pinning,
            scratchDir: scratch,
            cpuProfileDir: spec.kind === 'tsnats' ? profileDir : undefined,
          });
          running.add(s);
          const stop = s.stop;
          s.stop = async () => { running.delete(s); await stop(); };
          return s;
        },
      };
      // Scripts measure themselves: give them every CPU, as when run alone.
      if (pinning) pinSelf(entry.script ? `${pinning.serverCpus},${pinning.generatorCpus}` : pinning.generatorCpus);
      const suiteStart = performance.now();
      log(`suite ${suite.name}: ${suite.description}`);
      try {
        results.push({ suite: suite.name, rows: await suite.run(ctx) });
      } catch (err) {
        log(`suite ${suite.name} failed: ${(err as Error).stack}`);
        results.push({ suite: suite.name, rows: [{ name: 'suite', tsnats: null, natsServer: null, unit: '', note: `failed: ${(err as Error).message}` }] });
      } finally {
        for (const s of [...running]) await s.stop();
      }
      log(`suite ${suite.name} took ${((performance.now() - suiteStart) / 1000).toFixed(1)} s`);
    }
  } finally {
    for (const s of [...running]) await s.stop();
  }

  console.log(renderTable(results));
  if (skipped.length) console.log(['', ...skipped.map((s) => `- ${s}`)].join('\n'));
  if (flags.json) console.log(`\nBENCH_RESULTS ${JSON.stringify(results)}`);
  if (profileDir) printProfiles(profileDir);
  return 0;
}

function printHeader(natsBin: string | undefined, pinningText: string, flags: Flags): void {
  const cpu = cpus();
  console.log(`# tsnats benchmark ${new Date().toISOString()}${flags.quick ? ' (--quick: reduced counts)' : ''}`);
  console.log(`machine: ${cpu.length} x ${cpu[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`node ${process.version}; nats-server ${natsBin ? `${natsServerVersion(natsBin)} (${natsBin})` : 'not installed'}`);
  console.log(`CPU pinning: ${pinningText}; scheduling priority (nice) ${getPriority()}`);
  console.log('');
}

function printProfiles(dir: string): void {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
  if (files.length === 0) {
    console.log(`\nno CPU profiles were written to ${dir} (the tsnats process must exit normally on SIGINT)`);
    return;
  }
  // The largest profile is the long-running server that carried the load.
  files.sort((a, b) => statSync(b).size - statSync(a).size);
  console.log(`\nCPU profiles of the tsnats processes: ${dir}`);
  console.log(`summary of the largest (${files[0]}):\n`);
  console.log(renderSummary(summarizeProfile(files[0]), 30));
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
