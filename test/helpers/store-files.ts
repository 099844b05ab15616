// Temp directories and file snapshots for tests that look at a store's files on disk.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** What these helpers need of node:test's TestContext. */
export type AfterCtx = { after: (fn: () => Promise<void>) => void };
const cleanups = new WeakMap<AfterCtx, Array<() => Promise<unknown>>>();

/**
 * A temp dir removed after the test, once everything registered with onCleanup (stores) has
 * stopped: one t.after per test runs the list in order, so removal always comes last.
 */
export function tmpDir(t: AfterCtx, prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  let list = cleanups.get(t);
  if (!list) {
    const fns: Array<() => Promise<unknown>> = [];
    list = fns;
    cleanups.set(t, fns);
    t.after(async () => {
      for (const f of fns.splice(0)) await f().catch(() => undefined);
    });
  }
  list.push(async () => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Run fn after the test, before the temp dirs are removed. */
export function onCleanup(t: AfterCtx, fn: () => Promise<unknown>): void {
  const list = cleanups.get(t);
  if (list) list.unshift(fn);
  else t.after(async () => { await fn(); });
}

/** relative path -> bytes (hex) of every file under dir. */
export function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, path.join(rel, e.name));
      else out[path.join(rel, e.name)] = fs.readFileSync(p).toString('hex');
    }
  };
  walk(dir, '');
  return out;
}
