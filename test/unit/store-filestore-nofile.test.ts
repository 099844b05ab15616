// A file store that runs out of file descriptors (EMFILE: a low open-files limit) while it writes
// must not fail for good: once descriptors are free again the same store takes writes, every
// message stored meanwhile becomes durable at its sequence, and a restart finds them all. Before,
// the first EMFILE latched the store: every later write failed until the server restarted.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as path from 'node:path';
import { test } from 'node:test';
import { createFileStore } from '../../src/jetstream/store/index.js';
import { tmpDir } from './store-helpers.js';
import { pollUntil } from '../helpers/wait.js';

const require = createRequire(import.meta.url);
const cjsFs = require('node:fs') as typeof fs;

function emfile(what: string): NodeJS.ErrnoException {
  const e = new Error(`EMFILE: too many open files, open '${what}'`) as NodeJS.ErrnoException;
  e.code = 'EMFILE';
  return e;
}

/** fs.open (callback form, as the store creates block files) fails with EMFILE for block files while `failing()`. */
function injectOpenFailure(failing: () => boolean): () => void {
  const orig = cjsFs.open;
  cjsFs.open = function patched(this: unknown, ...args: unknown[]) {
    const p = String(args[0]);
    const cb = args[args.length - 1] as (err: Error | null) => void;
    if (failing() && p.endsWith('.blk')) {
      setImmediate(() => cb(emfile(p)));
      return;
    }
    return (orig as (...a: unknown[]) => void).apply(this, args);
  } as typeof fs.open;
  syncBuiltinESMExports();
  return () => {
    cjsFs.open = orig;
    syncBuiltinESMExports();
  };
}

const payload = (seq: number): Buffer => Buffer.from(`m${seq}-`.padEnd(300, String.fromCharCode(97 + (seq % 26))));

function assertAll(s: ReturnType<typeof createFileStore>, n: number): void {
  assert.equal(s.state().msgs, n);
  for (let seq = 1; seq <= n; seq++) assert.deepEqual(s.loadMsg(seq)?.data, payload(seq), `message ${seq}`);
}

test('EMFILE creating a block file: the writes wait and complete once descriptors are free; nothing lost or duplicated', async (t) => {
  const dir = path.join(tmpDir(t), 's');
  const logs: string[] = [];
  const cfg = { name: 'N', storage: 'file' as const };
  const opts = { dir, blockSizeBytes: 4096, sync: 'always' as const, log: (m: string) => logs.push(m) };
  let failing = false;
  const restore = injectOpenFailure(() => failing);
  t.after(restore);
  let s = createFileStore(cfg, opts);
  t.after(() => s.stop().catch(() => undefined));
  const errors: Error[] = [];
  s.onDurable((_seq, err) => { if (err) errors.push(err); });

  for (let seq = 1; seq <= 10; seq++) s.storeMsg('a', undefined, payload(seq));
  await s.flush();
  failing = true;
  // 40 more messages of 300 bytes: several new 4 KiB blocks, none of which can be opened now.
  for (let seq = 11; seq <= 50; seq++) s.storeMsg('a', undefined, payload(seq));
  let flushed = false;
  const pending = s.flush().then(() => { flushed = true; });
  await pollUntil(() => (logs.some((l) => /waits for file descriptors/.test(l)) ? true : undefined), 'the retry logged', 10_000, 10);
  assert.ok(s.durableSeq() < 50, 'not durable while no block file can be opened');
  assert.equal(flushed, false, 'the flush waits instead of failing');
  assert.deepEqual(errors, [], 'no durability error reported');

  failing = false;
  await pending;
  assert.equal(s.durableSeq(), 50);
  for (let seq = 51; seq <= 60; seq++) s.storeMsg('a', undefined, payload(seq));
  await s.flush();
  assert.equal(s.durableSeq(), 60);
  assert.deepEqual(errors, []);
  assertAll(s, 60);
  await s.stop();

  s = createFileStore(cfg, opts);
  assertAll(s, 60);
  await s.stop();
});

test('EMFILE in the first sync (the deferred fsyncs of a new store): retried until it succeeds, then durable', async (t) => {
  const dir = path.join(tmpDir(t), 's');
  let failures = 3;
  let calls = 0;
  const cfg = { name: 'P', storage: 'file' as const };
  const s = createFileStore(cfg, {
    dir, sync: 'always', log: () => undefined,
    beforeFirstSync: async () => {
      calls++;
      if (failures-- > 0) throw emfile(path.join(dir, 'meta.sum'));
    },
  });
  t.after(() => s.stop().catch(() => undefined));
  for (let seq = 1; seq <= 5; seq++) s.storeMsg('a', undefined, payload(seq));
  await s.flush();
  assert.equal(calls, 4, 'the deferred fsyncs ran again until they succeeded, then never again');
  assert.equal(s.durableSeq(), 5);
  s.storeMsg('a', undefined, payload(6));
  await s.flush();
  assert.equal(calls, 4);
  assertAll(s, 6);
});

test('stop() while descriptors stay short: it ends (with the error) instead of waiting forever', async (t) => {
  const dir = path.join(tmpDir(t), 's');
  const cfg = { name: 'S', storage: 'file' as const };
  let failing = true;
  const restore = injectOpenFailure(() => failing);
  t.after(restore);
  const s = createFileStore(cfg, { dir, sync: 'always', log: () => undefined });
  s.storeMsg('a', undefined, payload(1));
  await assert.rejects(s.stop(), /EMFILE/);
  failing = false;
});
