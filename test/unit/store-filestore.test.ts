// File store specifics: blocks and their index files, block removal, erase on
// disk, group commit, and recovery from truncated or corrupted block files.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { createFileStore, readStoreMeta, type FileStore, type StoreConfig } from '../../src/jetstream/store/index.js';
import { b, runRandomModel, tmpDir, type StoreKit } from './store-helpers.js';

function fileKit(t: import('node:test').TestContext, blockSizeBytes: number): StoreKit {
  const stores: FileStore[] = [];
  t.after(async () => {
    for (const s of stores) await s.stop().catch(() => undefined);
  });
  const dir = path.join(tmpDir(t), 'stream');
  let cfg: StoreConfig = { name: 'T', storage: 'file' };
  return {
    kind: 'file',
    make(c = {}, o = {}) {
      cfg = { ...cfg, ...c };
      const s = createFileStore(cfg, { dir, blockSizeBytes, ...o });
      stores.push(s);
      return s;
    },
    async reopen(s) {
      await s.stop();
      const n = createFileStore(cfg, { dir, blockSizeBytes });
      stores.push(n);
      return n;
    },
  };
}

function blockFiles(dir: string, ext: string): string[] {
  return fs.readdirSync(path.join(dir, 'msgs')).filter((f) => f.endsWith(ext)).sort((a, c) => parseInt(a) - parseInt(c));
}

test('random operations with tiny blocks (rotation, block retirement, kept tombstones)', async (t) => {
  for (const seed of [1, 42, 1234]) {
    await runRandomModel(fileKit(t, 400 + seed), seed, 800);
  }
  // Seeds (and block sizes) that once found bugs in a longer fuzz run: a record replay that lost
  // the last sequence, a retirement ping-pong that never ended, a resurrected message.
  for (const [seed, blockSize] of [[113, 881], [122, 314], [237, 969], [415, 355]]) {
    await runRandomModel(fileKit(t, blockSize), seed, 700);
  }
});

test('sealed blocks get index files; recovery gives the same state with or without them', async (t) => {
  const dir = path.join(tmpDir(t), 's');
  const cfg = { name: 'T', storage: 'file' as const };
  let s = createFileStore(cfg, { dir, blockSizeBytes: 4096 });
  for (let i = 1; i <= 500; i++) s.storeMsg(`sub.${i % 7}`, i % 3 ? undefined : b('NATS/1.0\r\nK: v\r\n\r\n'), b(`payload-${i}`));
  s.removeMsg(50);
  s.removeMsg(51);
  s.eraseMsg(300);
  const before = s.state();
  const subjects = s.subjectsState('>');
  await s.stop();
  const blks = blockFiles(dir, '.blk');
  const idxs = blockFiles(dir, '.idx');
  assert.ok(blks.length > 5, `expected several blocks, got ${blks.length}`);
  assert.ok(idxs.length >= blks.length - 2, `expected index files for sealed blocks: ${idxs.length}/${blks.length}`);
  const check = (x: FileStore): void => {
    assert.deepEqual(x.state(), before);
    assert.deepEqual(x.subjectsState('>'), subjects);
    for (const seq of [1, 49, 52, 299, 301, 500]) assert.equal(x.loadMsg(seq)!.data.toString(), `payload-${seq}`);
    assert.equal(x.loadMsg(3)!.headers!.toString(), 'NATS/1.0\r\nK: v\r\n\r\n');
    assert.equal(x.loadMsg(300), undefined);
  };
  s = createFileStore(cfg, { dir, blockSizeBytes: 4096 });
  check(s);
  await s.stop();
  for (const f of idxs) fs.rmSync(path.join(dir, 'msgs', f));
  s = createFileStore(cfg, { dir, blockSizeBytes: 4096 });
  check(s);
  await s.stop();
  // A damaged index file is ignored (its crc fails), not trusted.
  const oneIdx = path.join(dir, 'msgs', blockFiles(dir, '.idx')[0]);
  const ib = fs.readFileSync(oneIdx);
  ib[40] ^= 0xff;
  fs.writeFileSync(oneIdx, ib);
  s = createFileStore(cfg, { dir, blockSizeBytes: 4096 });
  check(s);
  await s.stop();
  assert.deepEqual(readStoreMeta(dir)!.config.name, 'T');
});

test('blocks whose messages are all gone are deleted from disk', async (t) => {
  const dir = path.join(tmpDir(t), 's');
  const s = createFileStore({ name: 'T', storage: 'file' }, { dir, blockSizeBytes: 2048 });
  t.after(() => s.stop().catch(() => undefined));
  for (let i = 1; i <= 300; i++) s.storeMsg('a', undefined, Buffer.alloc(50, i));
  await s.flush();
  const many = blockFiles(dir, '.blk').length;
  assert.ok(many >= 10);
  s.compact(250);
  await s.flush();
  await s.flush();
  const few = blockFiles(dir, '.blk').length;
  assert.ok(few <= 4, `expected old blocks removed, ${few} left of ${many}`);
  // Interior removals of a whole block remove it too.
  for (let i = 250; i <= 280; i++) s.removeMsg(i);
  s.purge();
  await s.flush();
  await s.flush();
  assert.ok(blockFiles(dir, '.blk').length <= 2);
  assert.equal(s.storeMsg('a', undefined, b('x')).seq, 301);
  await s.stop();
});

test('eraseMsg overwrites the payload on disk', async (t) => {
  const dir = path.join(tmpDir(t), 's');
  const s = createFileStore({ name: 'T', storage: 'file' }, { dir });
  s.storeMsg('a', undefined, b('keep-me'));
  s.storeMsg('a', undefined, b('secret-payload-xyz'));
  s.storeMsg('a', undefined, b('keep-me-too'));
  await s.flush();
  assert.ok(fs.readFileSync(path.join(dir, 'msgs', '1.blk')).includes('secret-payload-xyz'));
  s.eraseMsg(2);
  await s.stop();
  assert.ok(!fs.readFileSync(path.join(dir, 'msgs', '1.blk')).includes('secret-payload-xyz'));
  const s2 = createFileStore({ name: 'T', storage: 'file' }, { dir });
  t.after(() => s2.stop().catch(() => undefined));
  assert.equal(s2.loadMsg(2), undefined);
  assert.equal(s2.loadMsg(3)!.data.toString(), 'keep-me-too');
  assert.deepEqual(s2.state().deleted, [2]);
  await s2.stop();
});

test('group commit: many writes share few fsyncs; durable seq reaches the last write', async (t) => {
  const dir = path.join(tmpDir(t), 's');
  const s = createFileStore({ name: 'T', storage: 'file' }, { dir, sync: 'always' });
  t.after(() => s.stop().catch(() => undefined));
  assert.equal(s.ackWaitsForSync, true);
  const reports: number[] = [];
  s.onDurable((seq, err) => {
    assert.equal(err, undefined);
    reports.push(seq);
  });
  let stored = 0;
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 200; i++) stored = s.storeMsg('a', undefined, Buffer.alloc(128)).seq;
    // durableSeq() is exactly what was reported to the listener, and never ahead of what was stored.
    assert.equal(s.durableSeq(), reports.length ? reports[reports.length - 1] : 0);
    assert.ok(s.durableSeq() <= stored);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(stored, 1000);
  await s.flush();
  assert.equal(s.durableSeq(), 1000);
  assert.equal(reports[reports.length - 1], 1000);
  assert.ok(reports.length <= 10, `expected grouped fsyncs, got ${reports.length} reports`);
  for (let i = 1; i < reports.length; i++) assert.ok(reports[i] > reports[i - 1]);

  const s2 = createFileStore({ name: 'T2', storage: 'file' }, { dir: path.join(dir, '..', 'i'), sync: { intervalMs: 50 } });
  t.after(() => s2.stop().catch(() => undefined));
  assert.equal(s2.ackWaitsForSync, false);
  s2.storeMsg('a', undefined, b('x'));
  assert.equal(s2.durableSeq(), 1);
  await s2.stop();
  await s.stop();
});

/** Where each message's record lies in the block files, found without the store's record parser:
 *  the payload starts with a unique marker, and the record layout is fixed (record.ts): a 24-byte
 *  head, the subject, the payload, a 4-byte crc (no headers, no ttl here). */
function recordMap(dir: string, n: number, subjectLen: number, payload: (seq: number) => string):
  Array<{ file: string; start: number; end: number; seq: number }> {
  const out: Array<{ file: string; start: number; end: number; seq: number }> = [];
  const files = blockFiles(dir, '.blk').map((f) => ({ f, buf: fs.readFileSync(path.join(dir, 'msgs', f)) }));
  for (let seq = 1; seq <= n; seq++) {
    const p = Buffer.from(payload(seq));
    const hit = files.find((x) => x.buf.indexOf(p) >= 0);
    assert.ok(hit, `seq ${seq} on disk`);
    const at = hit.buf.indexOf(p);
    out.push({ file: hit.f, start: at - 24 - subjectLen, end: at + p.length + 4, seq });
  }
  return out;
}

test('recovery after truncated or corrupted block files keeps everything before the damage', async (t) => {
  const base = tmpDir(t);
  const orig = path.join(base, 'orig');
  const cfg = { name: 'T', storage: 'file' as const };
  const s = createFileStore(cfg, { dir: orig, blockSizeBytes: 3000 });
  const payload = (seq: number): string => `<${seq}>`.padEnd(10 + ((seq * 37) % 90), 'x');
  for (let i = 1; i <= 400; i++) s.storeMsg(`s.${i % 5}`, undefined, b(payload(i)));
  await s.stop();
  const records = recordMap(orig, 400, 3, payload);
  let rng = 99;
  const rnd = (n: number): number => {
    rng = (rng * 1103515245 + 12345) % 2147483648;
    return rng % n;
  };
  for (let round = 0; round < 24; round++) {
    const dir = path.join(base, `r${round}`);
    fs.cpSync(orig, dir, { recursive: true });
    const files = blockFiles(dir, '.blk');
    const file = files[rnd(files.length)];
    const fp = path.join(dir, 'msgs', file);
    const size = fs.statSync(fp).size;
    const at = rnd(size);
    const truncate = round % 2 === 0;
    // A sealed block with an index file is not re-read at startup: a flipped byte there is found
    // by the record's crc when it is read, and only that record is lost. A truncated block is
    // scanned and cut at the first bad record; everything after the cut in that block is lost.
    const hasIdx = fs.existsSync(fp.replace(/\.blk$/, '.idx'));
    if (truncate) fs.truncateSync(fp, at);
    else {
      const buf = fs.readFileSync(fp);
      buf[at] ^= 1 + rnd(255);
      fs.writeFileSync(fp, buf);
    }
    assert.ok(hasIdx, 'a clean stop indexes every block');
    const lost = new Set(records
      .filter((r) => r.file === file && r.end > at && (truncate || r.start <= at))
      .map((r) => r.seq));
    const r = createFileStore(cfg, { dir, blockSizeBytes: 3000, log: () => undefined });
    const label = `round ${round}: ${truncate ? 'truncate' : 'flip'} ${file}@${at}`;
    for (const rec of records) {
      const m = r.loadMsg(rec.seq);
      if (lost.has(rec.seq)) {
        assert.equal(m, undefined, `${label}: seq ${rec.seq} should be cut`);
      } else {
        assert.ok(m, `${label}: seq ${rec.seq} lost`);
        assert.equal(m.data.toString(), payload(rec.seq), label);
        assert.equal(m.subject, `s.${rec.seq % 5}`);
      }
    }
    assert.equal(r.state().msgs, 400 - lost.size, label);
    // Every cut is reported, with exactly the sequences the test knows were in the cut bytes.
    assert.deepEqual(r.state().lost?.msgs ?? [], [...lost].sort((x, y) => x - y), label);
    // The store keeps working and the cut is permanent.
    const next = r.storeMsg('after', undefined, b('new'));
    assert.equal(next.seq, lost.has(400) ? Math.max(...records.filter((x) => !lost.has(x.seq)).map((x) => x.seq), 0) + 1 : 401);
    await r.stop();
    const r2 = createFileStore(cfg, { dir, blockSizeBytes: 3000 });
    assert.equal(r2.state().msgs, 400 - lost.size + 1, label);
    assert.equal(r2.loadMsg(next.seq)!.data.toString(), 'new');
    await r2.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
