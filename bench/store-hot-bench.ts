// Per-message CPU of the store work every replica does on the replicated publish path:
// record encode + parse (and a read's crc check), the stream-state reads of the apply path, and a file store's
// storeRawMsg with block seals (index built and written per sealed block) included.
//
//   node dist/bench/store-hot-bench.js [--count 300000] [--rounds 3]
//
// Figures are process CPU time (user + system) per operation: the machine is shared, so
// wall time would mostly measure the neighbours.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createFileStore, type StreamStore } from '../src/jetstream/store/index.js';
import { BlockMeta } from '../src/jetstream/store/block-meta.js';
import { MsgIndex, type Chunk } from '../src/jetstream/store/msg-index.js';
import { encodeMsg, msgRecordLen, parseRecord, RecordView, REC_MSG } from '../src/jetstream/store/record.js';

const args = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : def;
};
const COUNT = Number(arg('count', '300000'));
const ROUNDS = Number(arg('rounds', '3'));
const payload = Buffer.alloc(128, 'x');
const subjects = Array.from({ length: 100 }, (_, i) => `bench.sub.${i}`);

/** CPU ns per op of fn(n). */
function cpuPerOp(n: number, fn: (n: number) => void): number {
  const c0 = process.cpuUsage();
  fn(n);
  const d = process.cpuUsage(c0);
  return ((d.user + d.system) * 1000) / n;
}

function recordRoundTrip(n: number): void {
  const subj = subjects[0]!;
  const len = msgRecordLen(subj.length, -1, payload.length, true);
  const buf = Buffer.alloc(len);
  const view = new RecordView();
  let ts = BigInt(Date.now()) * 1_000_000n;
  let sum = 0;
  for (let i = 1; i <= n; i++) {
    encodeMsg(buf, 0, i, ts, subj, subj.length, undefined, payload, 60);
    if (!parseRecord(buf, 0, len, view, false)) throw new Error('record did not parse');
    sum += view.ttlSec;
    ts += 1000n;
  }
  if (sum !== 60 * n) throw new Error('ttl mismatch');
}

/** A read's check of a record: parse with its crc32 verified (a ~170-byte record, crc32.ts). */
function recordVerify(n: number): void {
  const subj = subjects[0]!;
  const len = msgRecordLen(subj.length, -1, payload.length, false);
  // At an odd offset of a page, as records sit in a block read.
  const buf = Buffer.alloc(len + 3);
  encodeMsg(buf, 3, 1, 1n, subj, subj.length, undefined, payload, 0);
  const view = new RecordView();
  for (let i = 0; i < n; i++) if (!parseRecord(buf, 3, 3 + len, view, true)) throw new Error('record did not verify');
}

/** The three reads of the stream state the replicated apply path makes per message. */
function stateReads(s: StreamStore, n: number): void {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s.lastSeq + s.msgs + s.lastSeq;
  if (sum === 0) throw new Error('empty store');
}

function fastStateReads(s: StreamStore, n: number): void {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s.fastState().lastSeq + s.fastState().msgs + s.fastState().lastSeq;
  if (sum === 0) throw new Error('empty store');
}

/** What a block seal does per live message: walk the index over the block's range and add each
 *  message to a BlockMeta. `perMsg` walks with nextLive + lookup per message (the walk before
 *  visitLive); the other one visits the columns in one pass, 8192 per slice like the file store. */
function sealWalk(ix: MsgIndex, n: number, perMsg: boolean): void {
  const m = new BlockMeta(Math.max(16, n));
  const add = (c: Chunk, i: number, s: number): void => {
    m.add(REC_MSG, s, c.ts[i]!, 0, c.loc[i]!, c.rlen[i]!, c.size[i]!, ix.subjectById(c.subj[i]!)!.subject);
  };
  if (perMsg) {
    for (let s = ix.nextLive(1); s !== 0 && s <= n; s = ix.nextLive(s + 1)) {
      const c = ix.lookup(s);
      if (c !== undefined) add(c, ix.slot, s);
    }
  } else {
    for (let from = 1; from !== 0; ) from = ix.visitLive(from, n, 8192, add);
  }
  if (m.n !== n) throw new Error(`walked ${m.n} of ${n}`);
}

function indexOf(n: number): MsgIndex {
  const ix = new MsgIndex('file', 1);
  let ts = BigInt(Date.now()) * 1_000_000n;
  for (let s = 1; s <= n; s++) {
    const c = ix.add(s, subjects[s % subjects.length]!, ts, 170);
    c.loc[ix.slot] = s * 170;
    c.rlen[ix.slot] = 170;
    ts += 1000n;
  }
  return ix;
}

/** storeRawMsg like a replica's apply (leader's seq and ts), 1000 per event-loop turn, then stop
 *  (which waits for the seal of every full block and the index it writes). Small blocks so that
 *  many seals fall inside the run. */
async function fileAppend(dir: string, n: number): Promise<number> {
  const s = createFileStore({ name: 'H', storage: 'file' }, { dir, blockSizeBytes: 1024 * 1024, sync: { intervalMs: 120_000 } });
  const c0 = process.cpuUsage();
  let ts = BigInt(Date.now()) * 1_000_000n;
  for (let i = 1; i <= n; ) {
    const end = Math.min(n, i + 1000);
    for (; i <= end; i++) {
      s.storeRawMsg(subjects[i % subjects.length]!, undefined, payload, s.lastSeq + 1, ts);
      ts += 1000n;
    }
    await new Promise((r) => setImmediate(r));
  }
  await s.stop();
  const d = process.cpuUsage(c0);
  return ((d.user + d.system) * 1000) / n;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'store-hot-'));
  console.log(`store hot-path bench: ${COUNT.toLocaleString('en-US')} x 128-byte messages, ${ROUNDS} rounds, node ${process.version}`);
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const dir = path.join(root, `r${r}`);
      const rec = cpuPerOp(COUNT, recordRoundTrip);
      const verify = cpuPerOp(COUNT, recordVerify);
      const ix = indexOf(COUNT);
      const walkOld = cpuPerOp(COUNT, (n) => sealWalk(ix, n, true));
      const walkNew = cpuPerOp(COUNT, (n) => sealWalk(ix, n, false));
      // The block's chunks packed while it filled (idle > 2 s): the walk plus the sweep that packs
      // again whatever the walk left unpacked.
      ix.packAll();
      const packedOld = cpuPerOp(COUNT, (n) => { sealWalk(ix, n, true); ix.packAll(); });
      const packedNew = cpuPerOp(COUNT, (n) => { sealWalk(ix, n, false); ix.packAll(); });
      const append = await fileAppend(dir, COUNT);
      const s = createFileStore({ name: 'H', storage: 'file' }, { dir, sync: { intervalMs: 120_000 } });
      const acc = cpuPerOp(COUNT, (n) => stateReads(s, n));
      const full = cpuPerOp(COUNT, (n) => fastStateReads(s, n));
      await s.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      console.log(`round ${r}: record encode+parse ${rec.toFixed(0)} ns, parse with crc check ${verify.toFixed(0)} ns; file storeRawMsg (1 MiB blocks, seals incl.) ${(append / 1000).toFixed(2)} us/msg; ` +
        `3 state reads: accessors ${acc.toFixed(0)} ns, fastState() ${full.toFixed(0)} ns; ` +
        `seal index walk: nextLive+lookup ${walkOld.toFixed(0)} ns, visitLive ${walkNew.toFixed(0)} ns; ` +
        `packed chunks: ${packedOld.toFixed(0)} ns, ${packedNew.toFixed(0)} ns`);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
