// Shared helpers for the store tests: run one case against both store kinds.
import assert from 'node:assert/strict';
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

function seqsOf(s: StreamStore, filter: string): number[] {
  const out: number[] = [];
  for (let m = s.loadNextMsg(filter, 1); m; m = s.loadNextMsg(filter, m.seq + 1)) out.push(m.seq);
  return out;
}

/** Apply a seeded random mix of stores, removals, purges, compacts, truncates, skips and restarts,
 *  checking the store against a plain Map model along the way. */
export async function runRandomModel(kit: StoreKit, seedIn: number, steps: number,
  opts: Partial<FileStoreOptions> = {}): Promise<void> {
  const seqs = seqsOf;
  // Deterministic pseudo-random sequence of operations checked against a Map model.
  let seed = seedIn;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  let s = kit.make({ maxMsgsPerSubject: 4 }, opts);
  const model = new Map<number, { subj: string; data: string }>();
  let last = 0;
  let first = 1;
  const subjects = ['a.1', 'a.2', 'b.1', 'b.2', 'c'];
  const perSubjectTrim = (subj: string): void => {
    const list = [...model.entries()].filter(([, v]) => v.subj === subj).map(([k]) => k).sort((x, y) => x - y);
    while (list.length > 4) model.delete(list.shift()!);
  };
  for (let step = 0; step < steps; step++) {
    const op = rnd(100);
    if (op < 60) {
      const subj = subjects[rnd(subjects.length)];
      const data = `d${step}`;
      // The model knows the next sequence: one past the last one consumed (stored, skipped, compacted to).
      const expectSeq = last + 1;
      assert.equal(s.storeMsg(subj, undefined, b(data)).seq, expectSeq, `seq at step ${step}`);
      last = expectSeq;
      model.set(expectSeq, { subj, data });
      perSubjectTrim(subj);
    } else if (op < 75) {
      const keys = [...model.keys()];
      if (keys.length) {
        const k = keys[rnd(keys.length)];
        assert.equal(op < 72 ? s.removeMsg(k) : s.eraseMsg(k), true);
        model.delete(k);
      }
    } else if (op < 78) {
      const subj = subjects[rnd(subjects.length)];
      const keep = rnd(3);
      const n = s.purgeEx(subj, 0, keep);
      const list = [...model.entries()].filter(([, v]) => v.subj === subj).map(([k]) => k).sort((x, y) => x - y);
      const drop = Math.max(0, list.length - keep);
      assert.equal(n, keep >= list.length ? 0 : drop);
      for (const k of list.slice(0, keep >= list.length ? 0 : drop)) model.delete(k);
    } else if (op < 80) {
      const at = first + rnd(Math.max(1, last - first + 2));
      s.compact(at);
      for (const k of [...model.keys()]) if (k < at) model.delete(k);
      if (at > last) last = at - 1;
    } else if (op < 82) {
      if (last > 0) {
        const at = Math.max(0, last - rnd(5));
        s.truncate(at);
        for (const k of [...model.keys()]) if (k > at) model.delete(k);
        last = at;
      }
    } else if (op < 84) {
      const n = 1 + rnd(3);
      s.skipMsgs(last + 1, n);
      last += n;
    } else if (op < 86) {
      s = await kit.reopen(s);
    } else {
      // verify
      const keys = [...model.keys()].sort((x, y) => x - y);
      const st = s.state();
      assert.equal(st.msgs, keys.length, `msgs at step ${step}`);
      assert.equal(st.lastSeq, last, `last at step ${step}`);
      if (keys.length) assert.equal(st.firstSeq, keys[0], `first at step ${step}`);
      else assert.equal(st.firstSeq, last + 1);
      first = keys.length ? keys[0] : last + 1;
      const got = seqs(s, '>');
      assert.deepEqual(got, keys, `seqs at step ${step}`);
      for (const k of keys.slice(-3)) {
        const m = s.loadMsg(k)!;
        assert.equal(m.subject, model.get(k)!.subj);
        assert.equal(m.data.toString(), model.get(k)!.data);
      }
      for (const subj of subjects) {
        const ks = keys.filter((k) => model.get(k)!.subj === subj);
        const f = s.filteredState(1, subj);
        assert.equal(f.msgs, ks.length);
        if (ks.length) {
          assert.equal(f.first, ks[0]);
          assert.equal(f.last, ks[ks.length - 1]);
          assert.equal(s.loadLastMsg(subj)!.seq, ks[ks.length - 1]);
        }
      }
      assert.equal(s.filteredState(1, 'a.*').msgs, keys.filter((k) => model.get(k)!.subj.startsWith('a.')).length);
      // Queries from a random start against brute force over the model.
      const start = keys.length ? keys[0] - 1 + rnd(keys[keys.length - 1] - keys[0] + 3) : 1;
      for (const filter of step % 2 === 0 ? FILTERS : []) {
        const match = keys.filter((k) => filterMatch(model.get(k)!.subj, filter));
        const from = match.filter((k) => k >= start);
        const fstate = s.filteredState(start, filter);
        const ctx = `${filter} from ${start} at step ${step}`;
        assert.equal(fstate.msgs, from.length, `filteredState ${ctx}`);
        if (from.length) {
          assert.equal(fstate.first, from[0], `filteredState.first ${ctx}`);
          assert.equal(fstate.last, from[from.length - 1], `filteredState.last ${ctx}`);
        }
        assert.equal(s.numPending(start, filter, false).total, from.length, `numPending ${ctx}`);
        const lastPer = new Map<string, number>();
        for (const k of match) lastPer.set(model.get(k)!.subj, k);
        const lps = [...lastPer.values()].filter((k) => k >= start).length;
        assert.equal(s.numPending(start, filter, true).total, lps, `numPending lastPerSubject ${ctx}`);
        assert.equal(s.loadNextMsg(filter, start)?.seq, from[0], `loadNextMsg ${ctx}`);
        const before = match.filter((k) => k <= start);
        assert.equal(s.loadPrevMsg(filter, start)?.seq, before[before.length - 1], `loadPrevMsg ${ctx}`);
        assert.equal(s.loadLastMsg(filter)?.seq, match[match.length - 1], `loadLastMsg ${ctx}`);
        const maxSeq = Math.max(start, 1);
        const bounded = new Map<string, number>();
        for (const k of match) if (k <= maxSeq) bounded.set(model.get(k)!.subj, k);
        assert.deepEqual(s.multiLastSeqs([filter], maxSeq, 0), [...bounded.values()].sort((x, y) => x - y), `multiLastSeqs ${ctx}`);
      }
    }
  }
}

const FILTERS = ['>', 'a.*', 'a.1', 'b.>', '*.2', 'c', 'nope.*'];

function filterMatch(subject: string, filter: string): boolean {
  if (filter === '>' || filter === '') return true;
  const st = subject.split('.');
  const ft = filter.split('.');
  for (let i = 0; i < ft.length; i++) {
    if (ft[i] === '>') return st.length > i;
    if (i >= st.length) return false;
    if (ft[i] !== '*' && ft[i] !== st[i]) return false;
  }
  return st.length === ft.length;
}
