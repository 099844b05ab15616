// Block compaction: a stream whose messages are mostly removed gives its disk space back, and
// compaction is crash-safe (new file, fsync, rename, directory fsync).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { createFileStore, type FileStore } from '../../src/jetstream/store/index.js';
import { tmpDir } from './store-helpers.js';

function diskBytes(dir: string): number {
  let n = 0;
  for (const f of fs.readdirSync(path.join(dir, 'msgs'))) n += fs.statSync(path.join(dir, 'msgs', f)).size;
  return n;
}

const value = (key: number, rev: number): string => `key-${key}-rev-${rev}-`.padEnd(300, '#');

/** KV-like use: `keys` keys each written once, with heavy churn on one key in between. */
async function kvChurn(s: FileStore, keys: number, churnPerKey: number): Promise<Map<string, string>> {
  const live = new Map<string, string>();
  for (let k = 0; k < keys; k++) {
    s.storeMsg(`kv.k${k}`, undefined, Buffer.from(value(k, 0)));
    live.set(`kv.k${k}`, value(k, 0));
    for (let r = 1; r <= churnPerKey; r++) {
      s.storeMsg('kv.churn', undefined, Buffer.from(value(-1, k * churnPerKey + r)));
      live.set('kv.churn', value(-1, k * churnPerKey + r));
    }
    await s.flush();
  }
  await s.flush();
  return live;
}

function checkLive(s: FileStore, live: Map<string, string>): void {
  assert.equal(s.state().msgs, live.size);
  for (const [subj, v] of live) assert.equal(s.loadLastMsg(subj)?.data.toString(), v, subj);
}

test('mostly-deleted blocks are compacted: disk use follows the live data', async (t) => {
  // Registered before the temp dir so the store stops before its directory is removed.
  t.after(() => s.stop().catch(() => undefined));
  const dir = path.join(tmpDir(t), 's');
  const cfg = { name: 'KV', storage: 'file' as const, maxMsgsPerSubject: 1 };
  const opts = { dir, blockSizeBytes: 64 * 1024, sync: 'always' as const };
  let s = createFileStore(cfg, opts);
  const live = await kvChurn(s, 40, 400);
  const written = 40 * 401 * 330;
  const used = diskBytes(dir);
  // 41 live messages of ~330 bytes: without compaction every key pins a 64 KiB block (> 2.6 MB).
  assert.ok(used < 64 * 1024 * 4, `disk use ${used} bytes for 41 live messages (${written} written)`);
  checkLive(s, live);
  await s.stop();
  s = createFileStore(cfg, opts);
  checkLive(s, live);
  assert.equal(s.state().lastSeq, 40 * 401);
  // Still correct without index files (every block scanned).
  await s.stop();
  for (const f of fs.readdirSync(path.join(dir, 'msgs'))) if (f.endsWith('.idx')) fs.rmSync(path.join(dir, 'msgs', f));
  s = createFileStore(cfg, opts);
  checkLive(s, live);
  assert.equal(s.state().lastSeq, 40 * 401);
  assert.equal(s.storeMsg('kv.new', undefined, Buffer.from('n')).seq, 40 * 401 + 1);
  await s.stop();
});

test('compaction keeps what it must: interior deletes, erased payloads stay gone, last sequence', async (t) => {
  // Registered before the temp dir so the store stops before its directory is removed.
  t.after(() => s.stop().catch(() => undefined));
  const dir = path.join(tmpDir(t), 's');
  const cfg = { name: 'C', storage: 'file' as const };
  const opts = { dir, blockSizeBytes: 16 * 1024, compactMinBytes: 1024 };
  let s = createFileStore(cfg, opts);
  const N = 2000;
  const pay = (i: number): string => `m${i}:`.padEnd(100, 'z');
  for (let i = 1; i <= N; i++) s.storeMsg(`c.${i % 7}`, undefined, Buffer.from(pay(i)));
  await s.flush();
  const keep = new Set<number>();
  for (let i = 1; i <= N; i++) {
    if (i % 10 === 3) keep.add(i);
    else if (i % 10 === 4) assert.equal(s.eraseMsg(i), true);
    else if (i !== N) assert.equal(s.removeMsg(i), true);
  }
  keep.add(N);
  await s.flush();
  await s.flush();
  const used = diskBytes(dir);
  assert.ok(used < N * 130 / 3, `disk use ${used} after removing 90% of ${N * 130} bytes`);
  const check = (x: FileStore): void => {
    const st = x.state();
    assert.equal(st.msgs, keep.size);
    assert.equal(st.lastSeq, N);
    assert.equal(st.firstSeq, 3);
    for (let i = 1; i <= N; i++) {
      const m = x.loadMsg(i);
      if (keep.has(i)) assert.equal(m?.data.toString(), pay(i), `seq ${i}`);
      else assert.equal(m, undefined, `seq ${i} removed`);
    }
  };
  check(s);
  // Erased payloads are not on disk anywhere.
  for (const f of fs.readdirSync(path.join(dir, 'msgs'))) {
    const text = fs.readFileSync(path.join(dir, 'msgs', f)).toString('latin1');
    assert.ok(!text.includes('m14:zz'), `erased payload in ${f}`);
  }
  await s.stop();
  s = createFileStore(cfg, opts);
  check(s);
  await s.stop();
  for (const f of fs.readdirSync(path.join(dir, 'msgs'))) if (f.endsWith('.idx')) fs.rmSync(path.join(dir, 'msgs', f));
  s = createFileStore(cfg, opts);
  check(s);
  // Removing the last message keeps the last sequence even once its block is compacted.
  s.removeMsg(N);
  await s.flush();
  await s.stop();
  for (const f of fs.readdirSync(path.join(dir, 'msgs'))) if (f.endsWith('.idx')) fs.rmSync(path.join(dir, 'msgs', f));
  s = createFileStore(cfg, opts);
  assert.equal(s.state().lastSeq, N);
  assert.equal(s.storeMsg('c.x', undefined, Buffer.from('x')).seq, N + 1);
  await s.stop();
});

test('blocks left mostly dead by an earlier run are compacted after a restart', async (t) => {
  // Registered before the temp dir so the store stops before its directory is removed.
  t.after(() => s.stop().catch(() => undefined));
  const dir = path.join(tmpDir(t), 's');
  const cfg = { name: 'R', storage: 'file' as const };
  // First run: compaction effectively off (as with a store written before it existed).
  let s = createFileStore(cfg, { dir, blockSizeBytes: 16 * 1024, compactMinBytes: Number.MAX_SAFE_INTEGER });
  const N = 3000;
  const pay = (i: number): string => `r${i}:`.padEnd(120, 'q');
  for (let i = 1; i <= N; i++) s.storeMsg('r', undefined, Buffer.from(pay(i)));
  for (let i = 1; i < N; i++) if (i % 100 !== 0) s.removeMsg(i);
  await s.stop();
  const before = diskBytes(dir);
  s = createFileStore(cfg, { dir, blockSizeBytes: 16 * 1024 });
  await s.flush();
  await s.flush();
  const after = diskBytes(dir);
  assert.ok(after < before / 4, `disk ${before} -> ${after}`);
  const keep = [...Array.from({ length: N / 100 }, (_, k) => (k + 1) * 100)];
  assert.equal(s.state().msgs, keep.length);
  for (const i of keep) assert.equal(s.loadMsg(i)?.data.toString(), pay(i));
  await s.stop();
});
