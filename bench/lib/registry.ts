// The suite registry. A suite is a module exporting `suite: BenchSuite`
// (see types.ts). Built-in suites live in bench/suites/. Other engineers plug
// in without editing this file:
//  - a module compiled to dist/bench/<name>-suite.js exporting `suite`
//    (e.g. bench/js-suite.ts) is discovered and run with the default suites;
//    `npm run bench -- <name>` selects it;
//  - a standalone script dist/bench/<name>-bench.js (bench/raft-bench.ts,
//    bench/store-bench.ts, bench/js-*-bench.ts) is a suite named <name> that
//    runs only when named (`npm run bench -- raft`): it runs as a child
//    process, its output is shown, and rows are taken from any stdout line
//    `BENCH_ROWS <json array of BenchRow>` it prints.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchRow, BenchSuite } from './types.js';

export interface SuiteEntry {
  name: string;
  /** run when no suite is named on the command line */
  byDefault: boolean;
  /** a standalone script run as a child process (not pinned to the generator CPU) */
  script?: boolean;
  load(): Promise<BenchSuite>;
}

const BENCH_DIR = new URL('../', import.meta.url);

export function builtinSuites(): SuiteEntry[] {
  const entry = (name: string, file: string): SuiteEntry => ({
    name,
    byDefault: true,
    load: async () => ((await import(new URL(`suites/${file}`, BENCH_DIR).href)) as { suite: BenchSuite }).suite,
  });
  return [
    entry('core', 'core.js'), entry('js', 'jetstream.js'), entry('cluster', 'cluster.js'), entry('cluster-meta', 'cluster-meta.js'),
    entry('cluster-r3', 'cluster-r3.js'), entry('tls', 'tls.js'),
    entry('ws', 'websocket.js'),
  ];
}

/** `*-suite.js` modules next to run.js, named by their file until loaded. */
export function discoveredSuites(): SuiteEntry[] {
  const dir = fileURLToPath(BENCH_DIR);
  const out: SuiteEntry[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('-suite.js')) continue;
    out.push({
      name: f.slice(0, -'-suite.js'.length),
      byDefault: true,
      load: async () => {
        const mod = (await import(new URL(f, BENCH_DIR).href)) as { suite?: BenchSuite };
        if (!mod.suite || typeof mod.suite.run !== 'function') throw new Error(`${f} does not export a suite`);
        return mod.suite;
      },
    });
  }
  return out;
}

/** `*-bench.js` scripts next to run.js, run as child processes when named. */
export function scriptSuites(): SuiteEntry[] {
  const dir = fileURLToPath(BENCH_DIR);
  const out: SuiteEntry[] = [];
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('-bench.js')) continue;
    const name = f.slice(0, -'-bench.js'.length);
    const script = join(dir, f);
    out.push({
      name,
      byDefault: false,
      script: true,
      load: async () => ({
        name,
        description: `bench/${name}-bench.ts run as a child process`,
        run: (ctx) => runScriptSuite(script, (line) => ctx.log(`${name}: ${line}`)),
      }),
    });
  }
  return out;
}

function runScriptSuite(script: string, log: (line: string) => void): Promise<BenchRow[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code) => {
      const rows: BenchRow[] = [];
      for (const line of out.split('\n')) {
        if (line.startsWith('BENCH_ROWS ')) rows.push(...(JSON.parse(line.slice('BENCH_ROWS '.length)) as BenchRow[]));
        else if (line.trim()) log(line);
      }
      if (code !== 0 && rows.length === 0) reject(new Error(`${script} exited with code ${code}`));
      else resolve(rows);
    });
  });
}

/** Selected entries: all default ones when `names` is empty, else those named (prefix before '-' counts). */
export function selectSuites(all: SuiteEntry[], names: string[]): { selected: SuiteEntry[]; unknown: string[] } {
  if (names.length === 0) return { selected: all.filter((e) => e.byDefault), unknown: [] };
  const matches = (e: SuiteEntry, n: string) => e.name === n || e.name.startsWith(`${n}-`);
  const unknown = names.filter((n) => !all.some((e) => matches(e, n)));
  return { selected: all.filter((e) => names.some((n) => matches(e, n))), unknown };
}
