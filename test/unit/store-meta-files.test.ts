// Stream meta files: meta.inf is guarded by meta.sum (HighwayHash-64, as
// nats-server), a damaged or hand-edited meta.inf is reported and the stream is
// left on disk unloaded, an interrupted write is completed, and creating a
// stream over a leftover directory never adopts (and trims) its old data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreFactory } from '../../src/jetstream/store-factory.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import type { StreamConfig, StreamConfigRequest } from '../../src/jetstream/api/types.js';
import { highwayHash64 } from '../../src/jetstream/store/highwayhash.js';
import { metaChecksum, readCheckedFileSync, writeCheckedFileSync } from '../../src/jetstream/store/checked-file.js';

function fixturesDir(): string {
  const candidates = [
    fileURLToPath(new URL('../../../test/fixtures/nats-server-meta/', import.meta.url)),
    path.join(process.cwd(), 'test', 'fixtures', 'nats-server-meta'),
  ];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'stream-ORDERS.meta.inf')));
  if (!found) throw new Error(`nats-server meta fixtures not found in ${candidates.join(', ')}`);
  return found;
}

type Ctx = { after: (fn: () => Promise<void>) => void };
const cleanups = new WeakMap<Ctx, Array<() => Promise<unknown>>>();

/** A temp dir removed after the test, once everything registered with onCleanup (stores) has stopped. */
function tmp(t: Ctx): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnats-meta-'));
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
function onCleanup(t: Ctx, fn: () => Promise<unknown>): void {
  const list = cleanups.get(t);
  if (list) list.unshift(fn);
  else t.after(async () => { await fn(); });
}

function cfgOf(req: StreamConfigRequest): StreamConfig {
  return checkStreamConfig(req, { lookupStream: () => undefined });
}

test('HighwayHash-64 matches the reference vectors (key 00..1f, input 00..i-1)', () => {
  const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
  // From the HighwayHash reference test vectors (64-bit output, little-endian hex), lengths 0..35:
  // covers the empty input, every remainder shape (1..3 bytes, 4-aligned, >=16) and more than one packet.
  const expected = [
    '536ec222de567a90', '78ddcdc7aa43ab7e', '623db5b09a56d0b8', '803d468aabef6b5c', 'da7e009368a405f2', '4145a9e468168a2b',
    '6fcaef5b32cc4cbd', '8294f53817ae024d', '71315fe5085120e1', '84157ac74e64d232', '0ba903b1cd0ae1f6', '155c415b61f4bbc3',
    '9cfa630004c23c24', 'ff41e665ce589aa8', '235a4548a331b024', '3bf349a4863f7940', '32b87ef98934abcf', 'e2c0c5c8d267fe19',
    'c25c569ca690dd04', '04c571238e51d975', '16ddd341119bad38', 'e0708acd2c436402', '90336888625adba9', '8c023f009254b0d7',
    '1ee559ea5a615f20', '8428052196c8e0ee', '4f4f28a7931afc1b', '1da90db7b5752151', '39c6a2a076891ff7', 'e7e3841fef3f09ae',
    '0f866111b092ca22', '685a03cf7c00c79f', 'fc80d5ecd964c9a0', 'fc8131a03cf7902c', '9eeb91564ef85c18', '9baa5227eff5c14f',
  ];
  const input = Buffer.alloc(expected.length);
  for (let i = 0; i < input.length; i++) input[i] = i;
  for (let i = 0; i < expected.length; i++) {
    assert.equal(highwayHash64(key, input.subarray(0, i)).toString('hex'), expected[i], `length ${i}`);
  }
});

test('meta.sum of files written by nats-server 2.9.10 verifies with our checksum', () => {
  const dir = fixturesDir();
  const streamInf = fs.readFileSync(path.join(dir, 'stream-ORDERS.meta.inf'));
  assert.equal(metaChecksum('ORDERS', streamInf), fs.readFileSync(path.join(dir, 'stream-ORDERS.meta.sum'), 'latin1'));
  const consInf = fs.readFileSync(path.join(dir, 'consumer-ORDERS-dur.meta.inf'));
  assert.equal(metaChecksum('ORDERS/dur', consInf), fs.readFileSync(path.join(dir, 'consumer-ORDERS-dur.meta.sum'), 'latin1'));
  // The key matters: the same bytes under another stream's name do not verify.
  assert.notEqual(metaChecksum('OTHER', streamInf), fs.readFileSync(path.join(dir, 'stream-ORDERS.meta.sum'), 'latin1'));
});

test('checked file: every crash point of a write leaves a pair that verifies (old or new)', (t) => {
  const dir = tmp(t);
  writeCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'K', Buffer.from('old'));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['meta.inf', 'meta.sum']);
  // Crash after step 1 (new file written, sum not yet replaced): the old pair is used.
  fs.writeFileSync(path.join(dir, 'meta.inf.new'), 'new');
  let r = readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'K');
  assert.equal(r.status, 'ok');
  assert.equal(r.status === 'ok' && r.data.toString(), 'old');
  // Crash after step 2 (sum replaced, rename not done): the write is completed.
  fs.writeFileSync(path.join(dir, 'meta.sum'), metaChecksum('K', Buffer.from('new')));
  r = readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'K');
  assert.ok(r.status === 'ok' && r.rolledForward);
  assert.equal(r.status === 'ok' && r.data.toString(), 'new');
  assert.equal(fs.readFileSync(path.join(dir, 'meta.inf'), 'utf8'), 'new');
  assert.equal(fs.existsSync(path.join(dir, 'meta.inf.new')), false);
});

test('checked file: a flipped bit, a truncation or a missing file is damage, not data', (t) => {
  const dir = tmp(t);
  const data = Buffer.from(JSON.stringify({ name: 'S', subjects: ['a'] }));
  writeCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'S', data);
  const flipped = Buffer.from(data);
  flipped[5] ^= 0x04;
  fs.writeFileSync(path.join(dir, 'meta.inf'), flipped);
  assert.equal(readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'S').status, 'damaged');
  fs.writeFileSync(path.join(dir, 'meta.inf'), data.subarray(0, 10));
  assert.equal(readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'S').status, 'damaged');
  fs.rmSync(path.join(dir, 'meta.inf'));
  assert.equal(readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'S').status, 'damaged');
  fs.rmSync(path.join(dir, 'meta.sum'));
  assert.equal(readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'S').status, 'missing');
});

async function makeStream(root: string, cfg: StreamConfig, msgs: number): Promise<void> {
  const f = new StoreFactory(root, 'always', () => undefined);
  const store = await f.open('$G', cfg, 1000n);
  await f.saveMeta('$G', cfg, 1000n);
  for (let i = 1; i <= msgs; i++) store.storeMsg(`${cfg.name.toLowerCase()}.x`, undefined, Buffer.from(`m${i}`));
  await store.stop();
}

test('stream meta: saveMeta writes meta.inf + meta.sum; recovery loads it', async (t) => {
  const root = tmp(t);
  const cfg = cfgOf({ name: 'A', subjects: ['a.>'], max_msgs: 100 });
  await makeStream(root, cfg, 3);
  const dir = path.join(root, '$G', 'streams', 'A');
  const inf = fs.readFileSync(path.join(dir, 'meta.inf'));
  assert.equal(fs.readFileSync(path.join(dir, 'meta.sum'), 'latin1'), metaChecksum('A', inf));
  assert.deepEqual(fs.readdirSync(dir).filter((n) => /^meta\.(inf|sum)/.test(n)).sort(), ['meta.inf', 'meta.sum'], 'no temp files left');
  const warns: string[] = [];
  const rec = await new StoreFactory(root, 'always', (m) => warns.push(m)).recover('$G');
  assert.deepEqual(rec.map((r) => r.config.name), ['A']);
  assert.equal(rec[0]!.config.max_msgs, 100);
  assert.equal(rec[0]!.store.state().msgs, 3);
  assert.deepEqual(warns, []);
  await rec[0]!.store.stop();
});

test('stream meta: a hand-edited meta.inf is detected, the stream is not loaded, nothing is removed', async (t) => {
  const root = tmp(t);
  await makeStream(root, cfgOf({ name: 'A', subjects: ['a.>'] }), 5);
  await makeStream(root, cfgOf({ name: 'B', subjects: ['b.>'] }), 2);
  const dir = path.join(root, '$G', 'streams', 'A');
  const metaPath = path.join(dir, 'meta.inf');
  // A valid JSON config, just not the one that was written: max_msgs 2 would trim 3 of the 5 messages.
  const edited = JSON.parse(fs.readFileSync(metaPath, 'utf8')) as { config: StreamConfig };
  edited.config.max_msgs = 2;
  fs.writeFileSync(metaPath, JSON.stringify(edited));
  const before = snapshotDir(dir);
  const warns: string[] = [];
  const rec = await new StoreFactory(root, 'always', (m) => warns.push(m)).recover('$G');
  assert.deepEqual(rec.map((r) => r.config.name), ['B'], 'the other stream is served');
  assert.equal(warns.length, 1);
  assert.match(warns[0]!, /'\$G > A'.*checksum/);
  assert.deepEqual(snapshotDir(dir), before, 'the damaged stream directory is left exactly as it was');
  for (const r of rec) await r.store.stop();
});

test('stream meta: a torn meta.inf (truncated) is detected and the stream left on disk', async (t) => {
  const root = tmp(t);
  await makeStream(root, cfgOf({ name: 'A', subjects: ['a.>'] }), 4);
  const dir = path.join(root, '$G', 'streams', 'A');
  const metaPath = path.join(dir, 'meta.inf');
  fs.truncateSync(metaPath, 17);
  const before = snapshotDir(dir);
  const warns: string[] = [];
  const rec = await new StoreFactory(root, 'always', (m) => warns.push(m)).recover('$G');
  assert.deepEqual(rec, []);
  assert.equal(warns.length, 1);
  assert.match(warns[0]!, /'\$G > A' NOT loaded: meta\.inf does not match its checksum/);
  assert.deepEqual(snapshotDir(dir), before);
});

test('stream meta: a meta.inf from before checksums (no meta.sum) is loaded, warned about and given a sum', async (t) => {
  const root = tmp(t);
  await makeStream(root, cfgOf({ name: 'A', subjects: ['a.>'] }), 2);
  const dir = path.join(root, '$G', 'streams', 'A');
  fs.rmSync(path.join(dir, 'meta.sum'));
  const warns: string[] = [];
  const rec = await new StoreFactory(root, 'always', (m) => warns.push(m)).recover('$G');
  assert.deepEqual(rec.map((r) => r.config.name), ['A']);
  assert.equal(warns.length, 1);
  assert.match(warns[0]!, /no checksum/);
  assert.equal(fs.readFileSync(path.join(dir, 'meta.sum'), 'latin1'), metaChecksum('A', fs.readFileSync(path.join(dir, 'meta.inf'))));
  for (const r of rec) await r.store.stop();
});

test('stream meta: a meta.inf naming another stream is not loaded under this directory', async (t) => {
  const root = tmp(t);
  await makeStream(root, cfgOf({ name: 'A', subjects: ['a.>'] }), 1);
  await makeStream(root, cfgOf({ name: 'B', subjects: ['b.>'] }), 1);
  const a = path.join(root, '$G', 'streams', 'A');
  const b = path.join(root, '$G', 'streams', 'B');
  // Copy B's pair into A: the sum is B's, keyed with "B", so it does not verify as A's.
  fs.copyFileSync(path.join(b, 'meta.inf'), path.join(a, 'meta.inf'));
  fs.copyFileSync(path.join(b, 'meta.sum'), path.join(a, 'meta.sum'));
  const warns: string[] = [];
  const rec = await new StoreFactory(root, 'always', (m) => warns.push(m)).recover('$G');
  assert.deepEqual(rec.map((r) => r.config.name), ['B']);
  assert.equal(warns.length, 1);
  for (const r of rec) await r.store.stop();
});

test('re-creating a stream over a damaged, unloaded directory never adopts or trims its data', async (t) => {
  const root = tmp(t);
  await makeStream(root, cfgOf({ name: 'A', subjects: ['a.>'] }), 5);
  const dir = path.join(root, '$G', 'streams', 'A');
  fs.writeFileSync(path.join(dir, 'meta.inf'), '{"broken"');
  const oldFiles = snapshotDir(dir);
  const warns: string[] = [];
  const f = new StoreFactory(root, 'always', (m) => warns.push(m));
  assert.deepEqual(await f.recover('$G'), []);
  // The user creates A again, with a limit that would trim the old data if it were adopted.
  const cfg = cfgOf({ name: 'A', subjects: ['a.>'], max_msgs: 1 });
  const store = await f.open('$G', cfg, 2000n);
  await f.saveMeta('$G', cfg, 2000n);
  onCleanup(t, () => store.stop());
  assert.equal(store.state().msgs, 0, 'the new stream starts empty');
  assert.equal(store.state().lastSeq, 0);
  const moved = warns.find((w) => /moved/.test(w));
  assert.ok(moved, `a warning says where the old directory went: ${warns.join(' | ')}`);
  const aside = /moved to (\S+)/.exec(moved!)![1]!.replace(/[.,;]$/, '');
  assert.deepEqual(snapshotDir(aside), oldFiles, 'the old directory is kept intact where the log says');
  assert.ok(!aside.startsWith(path.join(root, '$G', 'streams') + path.sep), 'not under streams/, so it is never recovered as a stream');
});

/** name -> bytes (hex) of every file under dir. */
function snapshotDir(dir: string): Record<string, string> {
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

test('stream delete: a deletion interrupted by a crash is finished at start-up, never resurrected with part of its data', async (t) => {
  const root = tmp(t);
  await makeStream(root, cfgOf({ name: 'A', subjects: ['a.>'] }), 3);
  await makeStream(root, cfgOf({ name: 'B', subjects: ['b.>'] }), 3);
  // A normal delete through the store removes everything.
  const f = new StoreFactory(root, 'always', () => undefined);
  const recB = await f.recover('$G');
  const b = recB.find((r) => r.config.name === 'B')!;
  for (const r of recB) if (r !== b) await r.store.stop();
  await b.store.delete();
  await f.removeDir('$G', 'B');
  assert.equal(fs.existsSync(path.join(root, '$G', 'streams', 'B')), false);
  // What a crash in the middle of deleting A leaves: meta.inf retired first, some data still there.
  const a = path.join(root, '$G', 'streams', 'A');
  fs.renameSync(path.join(a, 'meta.inf'), path.join(a, 'meta.inf.deleted'));
  assert.ok(fs.readdirSync(path.join(a, 'msgs')).length > 0);
  const warns: string[] = [];
  const rec = await new StoreFactory(root, 'always', (m) => warns.push(m)).recover('$G');
  assert.deepEqual(rec, []);
  assert.equal(fs.existsSync(a), false, 'the deletion is completed');
  assert.match(warns.join('\n'), /'\$G > A' was being deleted.*deletion finished/);
});

test('stream delete: retiring meta.inf is the first step (the store deletes its files after it)', async (t) => {
  const root = tmp(t);
  const cfg = cfgOf({ name: 'A', subjects: ['a.>'] });
  const f = new StoreFactory(root, 'always', () => undefined);
  const store = await f.open('$G', cfg, 1n);
  await f.saveMeta('$G', cfg, 1n);
  store.storeMsg('a.x', undefined, Buffer.from('x'));
  const dir = path.join(root, '$G', 'streams', 'A');
  // The file store's delete() starts by stopping the store; look at the directory at that moment.
  let atStop: string[] | undefined;
  const s = store as unknown as { stop: () => Promise<void> };
  const realStop = s.stop.bind(store);
  s.stop = async () => {
    atStop ??= fs.readdirSync(dir).sort();
    await realStop();
  };
  await store.delete();
  assert.ok(atStop, 'delete() stopped the store');
  assert.ok(atStop.includes('meta.inf.deleted') && !atStop.includes('meta.inf'), `meta.inf retired first: ${atStop.join(',')}`);
  assert.ok(atStop.includes('msgs'), 'while the data was still there');
  assert.equal(fs.existsSync(path.join(dir, 'meta.inf')), false);
});
