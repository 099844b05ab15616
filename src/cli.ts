#!/usr/bin/env node
// Launcher of the `tsnats` command (the command itself is cli-run.ts).
//
// A server process spends most of its start loading code. `npm run build` also writes
// the whole of dist/src as one file (dist/src/bundle/tsnats.js, scripts/bundle.mjs) with
// a V8 code cache (tsnats.cache): compiling that one script with its cache costs about
// half the CPU of loading ~155 ES modules one by one (BENCHMARKS.md, start-up). The ES
// modules are used instead when there is no bundle, when it is older than the last tsc
// build (a tree rebuilt with plain `tsc`), or with TSNATS_NO_BUNDLE=1.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Script } from 'node:vm';

function mtimeMs(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function runBundled(): boolean {
  if (process.env.TSNATS_NO_BUNDLE === '1') return false;
  const srcDir = dirname(fileURLToPath(import.meta.url));
  const file = join(srcDir, 'bundle', 'tsnats.js');
  const bundleTime = mtimeMs(file);
  if (bundleTime === undefined) return false;
  // tsc rewrites its build info on every build that changed something: a bundle older than that is stale.
  const tscTime = mtimeMs(join(srcDir, '..', '.tsbuildinfo'));
  if (tscTime !== undefined && tscTime > bundleTime) return false;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(join(srcDir, 'bundle', 'tsnats.cache'));
  } catch {
    // no cache: V8 compiles from source
  }
  // A cache from another Node.js/V8 version is rejected by V8 and the source compiled instead.
  // The bundle is ASCII (scripts/bundle.mjs escapes everything else), so latin1 reads the same text
  // without UTF-8 decoding its ~1.8 MB.
  const script = new Script(readFileSync(file, 'latin1'), { filename: file, cachedData });
  const load = script.runInThisContext() as (req: NodeRequire, dir: string, toUrl: typeof pathToFileURL) => (id: string) => unknown;
  load(createRequire(import.meta.url), srcDir, pathToFileURL)('./cli-run.js');
  return true;
}

if (!runBundled()) await import('./cli-run.js');
