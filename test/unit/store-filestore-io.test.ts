// File store I/O faults: a failing read is an error to the caller and a log line, never a
// deletion; open block files are bounded by an LRU.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';
import { createFileStore, isStoreError } from '../../src/jetstream/store/index.js';
import { tmpDir } from './store-helpers.js';

const require = createRequire(import.meta.url);
const cjsFs = require('node:fs') as typeof fs;

/** Make fs.readSync throw `code` while `failing()` is true (the store imports node:fs as ESM). */
function injectReadFailure(failing: () => boolean, code: string): () => void {
  const orig = cjsFs.readSync;
  cjsFs.readSync = function patched(this: unknown, ...args: unknown[]) {
    if (failing()) {
      const e = new Error(`${code}: injected read failure`) as NodeJS.ErrnoException;
      e.code = code;
      throw e;
    }
    return (orig as (...a: unknown[]) => number).apply(this, args);
  } as typeof fs.readSync;
  syncBuiltinESMExports();
  return () => {
    cjsFs.readSync = orig;
    syncBuiltinESMExports();
  };
}

/** Open file descriptors of this process on block files under dir. */
function openFdsUnder(dir: string): number {
  let n = 0;
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir) && target.endsWith('.blk')) n++;
    } catch {
      // The fd closed while listing.
    }
  }
  return n;
}

const payload = (seq: number): string => `msg-${seq}-`.padEnd(200, String.fromCharCode(97 + (seq % 26)));

test('a read error (EIO, EMFILE) is an error to the caller and a log line; no message is lost or deleted', async (t) => {
  // Registered before the temp dir so the store stops before its directory is removed.
  t.after(() => s.stop().catch(() => undefined));
  const dir = path.join(tmpDir(t), 's');
  const logs: string[] = [];
  const cfg = { name: 'R', storage: 'file' as const };
  const opts = { dir, blockSizeBytes: 4096, cacheBytes: 1024, log: (m: string) => logs.push(m) };
  let s = createFileStore(cfg, opts);
  const N = 1000;
  for (let i = 1; i <= N; i++) s.storeMsg(`r.${i % 3}`, undefined, Buffer.from(payload(i)));
  await s.stop();
  s = createFileStore(cfg, opts);

  let failing = true;
  const restore = injectReadFailure(() => failing, 'EIO');
  let errors = 0;
  try {
    for (let seq = 1; seq <= N; seq += 37) {
      try {
        s.loadMsg(seq);
      } catch (e) {
        assert.ok(isStoreError(e, 'ErrStoreRead'), `unexpected error ${String(e)}`);
        errors++;
      }
    }
    failing = false;
  } finally {
    restore();
  }
  assert.ok(errors > 0, 'the injected failure reached the caller');
  assert.ok(logs.some((l) => l.includes('EIO')), `read failure logged: ${logs.join(' | ')}`);
  const st = s.state();
  assert.equal(st.msgs, N);
  assert.equal(st.numDeleted, 0);
  assert.equal(st.lost, undefined);
  for (let seq = 1; seq <= N; seq++) assert.equal(s.loadMsg(seq)?.data.toString(), payload(seq), `seq ${seq}`);
  // Nothing was written that would delete them at the next start either.
  await s.stop();
  s = createFileStore(cfg, opts);
  assert.equal(s.state().msgs, N);
  for (let seq = 1; seq <= N; seq++) assert.equal(s.loadMsg(seq)?.data.toString(), payload(seq), `seq ${seq} after restart`);
});

test('open block files are bounded by an LRU (many blocks, small cap)', async (t) => {
  // Registered before the temp dir so the store stops before its directory is removed.
  t.after(() => s.stop().catch(() => undefined));
  const dir = path.join(tmpDir(t), 's');
  const cfg = { name: 'L', storage: 'file' as const };
  const opts = { dir, blockSizeBytes: 1024, cacheBytes: 1024, maxOpenBlocks: 4 };
  let s = createFileStore(cfg, opts);
  const N = 2000;
  for (let i = 1; i <= N; i++) {
    s.storeMsg('l', undefined, Buffer.from(payload(i)));
    if (i % 100 === 0) await s.flush();
  }
  await s.flush();
  const blocks = fs.readdirSync(path.join(dir, 'msgs')).filter((f) => f.endsWith('.blk')).length;
  assert.ok(blocks > 200, `expected many blocks, got ${blocks}`);
  assert.ok(openFdsUnder(dir) <= 4, `open block files while writing: ${openFdsUnder(dir)}`);
  await s.stop();
  s = createFileStore(cfg, opts);
  // Random reads over every block.
  for (let k = 0; k < 3 * N; k++) {
    const seq = 1 + ((k * 7919) % N);
    assert.equal(s.loadMsg(seq)?.data.toString(), payload(seq));
    if (k % 500 === 0) assert.ok(openFdsUnder(dir) <= 4, `open block files while reading: ${openFdsUnder(dir)}`);
  }
  // Removals and erases across blocks still work with evicted descriptors.
  for (let seq = 2; seq <= N; seq += 50) assert.equal(s.eraseMsg(seq), true);
  await s.flush();
  assert.ok(openFdsUnder(dir) <= 4);
  await s.stop();
  s = createFileStore(cfg, opts);
  assert.equal(s.state().msgs, N - Math.ceil((N - 1) / 50));
  assert.equal(s.loadMsg(2), undefined);
  assert.equal(s.loadMsg(3)?.data.toString(), payload(3));
});
