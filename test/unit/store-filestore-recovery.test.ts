// Recovery of damaged block files: every cut is logged with the sequences it lost and reported in
// state().lost; a bad record in the middle of a block does not take the good records after it.
//
// Expectations are independent of the store's record parser: a message is located on disk by a
// unique marker in its payload, and what must survive is what the test wrote.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createFileStore, type FileStore } from '../../src/jetstream/store/index.js';
import { tmpDir } from './store-helpers.js';

const N = 300;
const BLOCK = 4096;
const marker = (seq: number): string => `<${seq}>`;
const payload = (seq: number): string => `${marker(seq)}`.padEnd(40 + ((seq * 13) % 60), '.');
const cfg = { name: 'REC', storage: 'file' as const };

interface Fixture {
  dir: string;
  logs: string[];
  open(): FileStore;
}

async function fixture(t: TestContext): Promise<Fixture> {
  const logs: string[] = [];
  const stores: FileStore[] = [];
  // Registered before the temp dir so the stores stop before their directory is removed.
  t.after(async () => {
    for (const s of stores) await s.stop().catch(() => undefined);
  });
  const dir = path.join(tmpDir(t), 's');
  const open = (): FileStore => {
    const s = createFileStore(cfg, { dir, blockSizeBytes: BLOCK, log: (m) => logs.push(m) });
    stores.push(s);
    return s;
  };
  const s = open();
  for (let i = 1; i <= N; i++) assert.equal(s.storeMsg(`s.${i % 5}`, undefined, Buffer.from(payload(i))).seq, i);
  await s.stop();
  return { dir, logs, open };
}

function blockFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'msgs')).filter((f) => f.endsWith('.blk'))
    .sort((a, b) => parseInt(a) - parseInt(b)).map((f) => path.join(dir, 'msgs', f));
}

/** The block file holding seq's payload and the payload's offset in it. */
function locate(dir: string, seq: number): { file: string; at: number } {
  for (const file of blockFiles(dir)) {
    const at = fs.readFileSync(file).indexOf(marker(seq));
    if (at >= 0) return { file, at };
  }
  throw new Error(`seq ${seq} not on disk`);
}

/** Sequences whose payload is in file, in file order. */
function seqsIn(file: string): number[] {
  const text = fs.readFileSync(file).toString('latin1');
  return [...text.matchAll(/<(\d+)>/g)].map((m) => Number(m[1]));
}

function flip(file: string, at: number): void {
  const buf = fs.readFileSync(file);
  buf[at] ^= 0x5a;
  fs.writeFileSync(file, buf);
}

function dropIndex(file: string): void {
  fs.rmSync(file.replace(/\.blk$/, '.idx'), { force: true });
}

function checkAllBut(s: FileStore, lost: number[]): void {
  const gone = new Set(lost);
  for (let seq = 1; seq <= N; seq++) {
    const m = s.loadMsg(seq);
    if (gone.has(seq)) assert.equal(m, undefined, `seq ${seq} should be gone`);
    else assert.equal(m?.data.toString(), payload(seq), `seq ${seq} must survive`);
  }
  assert.equal(s.state().msgs, N - gone.size);
}

test('a flipped bit in a middle block without index loses only that record, logged and reported', async (t) => {
  const f = await fixture(t);
  const files = blockFiles(f.dir);
  assert.ok(files.length >= 5);
  const mid = files[2];
  const inMid = seqsIn(mid);
  const victim = inMid[Math.floor(inMid.length / 2)];
  dropIndex(mid);
  flip(mid, locate(f.dir, victim).at + 2);
  const s = f.open();
  assert.deepEqual(s.state().lost?.msgs, [victim]);
  assert.ok(s.state().lost!.bytes > 0);
  checkAllBut(s, [victim]);
  assert.ok(f.logs.some((l) => l.includes(String(victim)) && /lost/.test(l)), f.logs.join('\n'));
  // The store keeps working and a clean restart keeps every good record.
  assert.equal(s.storeMsg('after', undefined, Buffer.from('x')).seq, N + 1);
  await s.stop();
  const again = f.open();
  assert.equal(again.state().msgs, N);
  assert.equal(again.loadMsg(victim + 1)?.data.toString(), payload(victim + 1));
});

test('a flipped bit in the length field of a record still lets the records after it be recovered', async (t) => {
  const f = await fixture(t);
  const mid = blockFiles(f.dir)[1];
  const inMid = seqsIn(mid);
  const victim = inMid[3];
  dropIndex(mid);
  // The payload marker sits after the fixed 24-byte head and the subject ("s.N", 3 bytes).
  const recStart = locate(f.dir, victim).at - 24 - 3;
  flip(mid, recStart + 1);
  const s = f.open();
  assert.deepEqual(s.state().lost?.msgs, [victim]);
  checkAllBut(s, [victim]);
});

test('bad records in the write block (no index, as after a crash) lose only themselves', async (t) => {
  const f = await fixture(t);
  const files = blockFiles(f.dir);
  const last = files[files.length - 1];
  const inLast = seqsIn(last);
  assert.ok(inLast.length >= 4);
  const victims = [inLast[1], inLast[inLast.length - 2]];
  dropIndex(last);
  for (const v of victims) flip(last, locate(f.dir, v).at + 1);
  const s = f.open();
  assert.deepEqual(s.state().lost?.msgs, victims);
  checkAllBut(s, victims);
  for (const v of victims) assert.ok(f.logs.some((l) => l.includes(String(v))), `${v} logged: ${f.logs.join('\n')}`);
  assert.equal(s.storeMsg('after', undefined, Buffer.from('x')).seq, N + 1);
});

test('a torn tail of the write block is cut, logged and its sequence reported lost', async (t) => {
  const f = await fixture(t);
  const files = blockFiles(f.dir);
  const last = files[files.length - 1];
  dropIndex(last);
  fs.truncateSync(last, locate(f.dir, N).at + 2);
  const s = f.open();
  assert.deepEqual(s.state().lost?.msgs, [N]);
  checkAllBut(s, [N]);
  assert.equal(s.state().lastSeq, N - 1);
  assert.ok(f.logs.some((l) => l.includes(String(N)) && /torn|cut/.test(l)), f.logs.join('\n'));
  // New writes continue right after the cut and survive a restart.
  assert.equal(s.storeMsg('after', undefined, Buffer.from('new')).seq, N);
  await s.stop();
  const again = f.open();
  assert.equal(again.loadMsg(N)?.data.toString(), 'new');
  assert.equal(again.state().msgs, N);
});

test('a middle block truncated without its index reports every sequence up to the next block as lost', async (t) => {
  const f = await fixture(t);
  const files = blockFiles(f.dir);
  const mid = files[2];
  const inMid = seqsIn(mid);
  const cutFrom = inMid[Math.floor(inMid.length / 3)];
  dropIndex(mid);
  fs.truncateSync(mid, locate(f.dir, cutFrom).at);
  const expected = inMid.filter((x) => x >= cutFrom);
  const s = f.open();
  assert.deepEqual(s.state().lost?.msgs, expected);
  checkAllBut(s, expected);
  assert.ok(f.logs.some((l) => l.includes(`${expected[0]}`) && l.includes(`${expected[expected.length - 1]}`)), f.logs.join('\n'));
});

test('a flipped bit in a sealed block with its index is found on read and reported lost', async (t) => {
  const f = await fixture(t);
  const mid = blockFiles(f.dir)[1];
  assert.ok(fs.existsSync(mid.replace(/\.blk$/, '.idx')));
  const victim = seqsIn(mid)[2];
  flip(mid, locate(f.dir, victim).at + 1);
  const s = f.open();
  checkAllBut(s, [victim]);
  assert.deepEqual(s.state().lost?.msgs, [victim]);
  assert.ok(f.logs.some((l) => l.includes(String(victim))));
});
