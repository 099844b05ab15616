// Shared helpers for the store tests: run one case against both store kinds.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createFileStore, createMemStore } from '../../src/jetstream/store/index.js';
import type { FileStoreOptions, NowNs, StoreConfig, StreamStore } from '../../src/jetstream/store/index.js';

export interface StoreKit {
  kind: 'memory' | 'file';
  /** Create a store (file stores get a fresh temp dir unless opts.dir is given). */
  make(cfg?: Partial<StoreConfig>, opts?: Partial<FileStoreOptions> & { now?: NowNs }): StreamStore;
  /** File store: stop and open again on the same directory (memory store: same instance). */
  reopen(s: StreamStore, cfg?: Partial<StoreConfig>): Promise<StreamStore>;
}

export function tmpDir(t: TestContext, prefix = 'store-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function kitFor(kind: 'memory' | 'file', t: TestContext): StoreKit {
  const stores: StreamStore[] = [];
  const dirs = new Map<StreamStore, { dir: string; opts: Partial<FileStoreOptions> & { now?: NowNs }; cfg: StoreConfig }>();
  t.after(async () => {
    for (const s of stores) await s.stop().catch(() => undefined);
  });
  const kit: StoreKit = {
    kind,
    make(cfg = {}, opts = {}) {
      const full: StoreConfig = { name: 'TEST', storage: kind, ...cfg };
      let s: StreamStore;
      if (kind === 'memory') s = createMemStore(full, { now: opts.now });
      else {
        const dir = opts.dir ?? path.join(tmpDir(t), 'stream');
        const o = { blockSizeBytes: 64 * 1024, ...opts, dir };
        s = createFileStore(full, o);
        dirs.set(s, { dir, opts: o, cfg: full });
      }
      stores.push(s);
      return s;
    },
    async reopen(s, cfg) {
      if (kind === 'memory') return s;
      const d = dirs.get(s)!;
      await s.stop();
      const full = { ...d.cfg, ...cfg };
      const n = createFileStore(full, { ...d.opts, dir: d.dir });
      dirs.set(n, { ...d, cfg: full });
      stores.push(n);
      return n;
    },
  };
  return kit;
}

/** Register `name` once per store kind. */
export function storeTest(name: string, fn: (kit: StoreKit, t: TestContext) => void | Promise<void>): void {
  for (const kind of ['memory', 'file'] as const) {
    test(`[${kind}] ${name}`, async (t) => {
      await fn(kitFor(kind, t), t);
    });
  }
}

export function fakeClock(startMs = 1_700_000_000_000): { now: NowNs; advanceMs(ms: number): void } {
  let ns = BigInt(startMs) * 1_000_000n;
  return {
    now: () => ns,
    advanceMs(ms: number) {
      ns += BigInt(ms) * 1_000_000n;
    },
  };
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const b = (s: string): Buffer => Buffer.from(s);
