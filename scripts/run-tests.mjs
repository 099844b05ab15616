// Runs every compiled test file under dist/test with node's test runner.
// Usage: node scripts/run-tests.mjs [substring filters...]
// Files ending in .slow.test.js run too; set TSNATS_SKIP_SLOW=1 to leave them out locally.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';

const root = new URL('../dist/test/', import.meta.url).pathname;
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith('.test.js')) files.push(p);
  }
})(root);
const filters = process.argv.slice(2);
let selected = filters.length ? files.filter((f) => filters.some((s) => f.includes(s))) : files;
if (process.env.TSNATS_SKIP_SLOW) selected = selected.filter((f) => !f.endsWith('.slow.test.js'));
selected.sort();
if (selected.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// Tests mostly wait on sockets and timers, so a little more concurrency than
// cores keeps the suite short without making timing-sensitive tests flaky.
const concurrency = Number(process.env.TSNATS_TEST_CONCURRENCY ?? Math.max(2, availableParallelism()));
const r = spawnSync(process.execPath, [
  '--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...selected,
], { stdio: 'inherit' });
process.exit(r.status ?? 1);
