// Idle index chunks are packed (chunk-codec.ts) and unpacked on access: the index answers exactly as
// one that never packs, whatever the operations in between, and a packed index costs a few bytes
// per message instead of ~44.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { test } from 'node:test';
import { createFileStore, createMemStore } from '../../src/jetstream/store/index.js';
import { CHUNK_SIZE, MsgIndex, type IndexMode } from '../../src/jetstream/store/msg-index.js';
import { codecSamples, emptyColumns, packColumns, unpackColumns, type Columns } from '../../src/jetstream/store/chunk-codec.js';
import { tmpDir } from './store-helpers.js';
import { seededRandom } from '../helpers/wait.js';

/** Everything the index says about every sequence in [1, last] and about each subject. */
function describe(ix: MsgIndex, subjects: string[]): unknown {
  const per: unknown[] = [];
  for (let s = 1; s <= ix.lastSeq + 1; s++) {
    const c = ix.lookup(s);
    if (c === undefined) {
      per.push(0);
      continue;
    }
    const i = ix.slot;
    per.push([c.subj[i], c.ts[i], c.size[i], c.next[i], c.prev[i], c.loc[i], c.rlen[i], c.hlen ? c.hlen[i] : null]);
  }
  const subj = subjects.map((f) => [f, ix.filteredState(1, f), ix.nextMatch(f, 1), ix.lastMatch(f), ix.prevMatch(f, ix.lastSeq)]);
  return {
    per, subj, first: ix.firstSeq, last: ix.lastSeq, msgs: ix.msgs, bytes: ix.bytes, runs: ix.deletedRuns(),
    wild: ix.filteredState(1, 'k.>'), from: ix.countFrom(Math.floor(ix.lastSeq / 2)), t: ix.seqFromTime(5_000_000_000n),
  };
}

for (const mode of ['file', 'memory'] as IndexMode[]) {
  test(`${mode} index: packing at any point changes no answer`, () => {
    for (const seed of [1, 2, 3]) {
      const r = seededRandom(seed);
      const plain = new MsgIndex(mode);
      const packed = new MsgIndex(mode);
      const subjects = ['k.a', 'k.b', 'k.c', 'other', 'k.d.e'];
      let ts = 1_000_000_000n;
      let seq = 0;
      for (let step = 0; step < 400; step++) {
        const op = r();
        if (op < 0.55) {
          // A run of adds; timestamps and locations sometimes jump far (absolute values in the codec).
          const n = 1 + Math.floor(r() * 300);
          for (let j = 0; j < n; j++) {
            seq += r() < 0.002 ? 1 + Math.floor(r() * 3 * CHUNK_SIZE) : 1;
            ts += r() < 0.01 ? 2n ** 60n : r() < 0.01 ? -(2n ** 40n) : BigInt(Math.floor(r() * 50_000));
            const subject = subjects[Math.floor(r() * subjects.length)];
            const size = 20 + Math.floor(r() * 3) * 7;
            const loc = (1 + Math.floor(seq / 5000)) * 2 ** 32 + seq * 150 + (r() < 0.05 ? 2 ** 31 : 0);
            for (const ix of [plain, packed]) {
              const c = ix.add(seq, subject, ts, size);
              c.loc[ix.slot] = loc;
              c.rlen[ix.slot] = 150 + (seq % 11);
              if (c.hlen) c.hlen[ix.slot] = seq % 3 === 0 ? -1 : seq % 40;
            }
          }
        } else if (op < 0.85 && plain.msgs > 0) {
          // Remove a random run (sparse chunks, dropped chunks, subject head/tail changes).
          const from = plain.firstSeq + Math.floor(r() * (plain.lastSeq - plain.firstSeq + 1));
          const n = 1 + Math.floor(r() * (r() < 0.1 ? 5000 : 40));
          for (let s = from; s < from + n; s++) assert.equal(packed.remove(s), plain.remove(s));
        } else if (op < 0.95) {
          packed.packAll();
        } else {
          packed.sweep();
        }
      }
      const a = JSON.stringify(describe(plain, subjects), big);
      packed.packAll();
      const b = JSON.stringify(describe(packed, subjects), big);
      // Compared as strings: a deepEqual diff of ~100k entries would take minutes to print.
      assert.ok(a === b, `seed ${seed}: answers differ at offset ${firstDiff(a, b)}: ${a.slice(firstDiff(a, b) - 80, firstDiff(a, b) + 80)} vs ${b.slice(firstDiff(a, b) - 80, firstDiff(a, b) + 80)}`);
    }
  });
}

test('a packed index costs a few bytes per message and still answers for every message', () => {
  const ix = new MsgIndex('file');
  const total = 50 * CHUNK_SIZE;
  let ts = 1_700_000_000_000_000_000n;
  for (let s = 1; s <= total; s++) {
    const c = ix.add(s, s % 1000 === 0 ? `rare.${s}` : 'orders.new', (ts += 31_000n), 158);
    c.loc[ix.slot] = (1 + Math.floor(s / 50_000)) * 2 ** 32 + (s % 50_000) * 158;
    c.rlen[ix.slot] = 158;
  }
  const before = ix.chunkBytes();
  assert.equal(before.packedChunks, 0);
  ix.packAll();
  const after = ix.chunkBytes();
  assert.equal(after.columns, 0);
  assert.equal(after.packedChunks, after.chunks);
  const perMsg = after.packed / total;
  assert.ok(perMsg < 12, `packed index bytes per message: ${perMsg.toFixed(1)} (unpacked ${(before.columns / total).toFixed(1)})`);
  // Answers come back exactly; reading one chunk unpacks only that chunk.
  assert.equal(ix.tsOf(4097), 1_700_000_000_000_000_000n + 4097n * 31_000n);
  assert.equal(ix.chunkBytes().packedChunks, after.chunks - 1);
  assert.equal(ix.filteredState(1, 'orders.new').msgs, total - Math.floor(total / 1000));
  assert.equal(ix.lastMatch('rare.*'), Math.floor(total / 1000) * 1000);
  assert.deepEqual(ix.deletedRuns(), []);
  // A removal inside a packed chunk keeps the subject links exact.
  ix.packAll();
  assert.equal(ix.remove(3 * CHUNK_SIZE + 10), true);
  assert.equal(ix.nextMatch('orders.new', 3 * CHUNK_SIZE + 10), 3 * CHUNK_SIZE + 11);
  assert.equal(ix.prevMatch('orders.new', 3 * CHUNK_SIZE + 10), 3 * CHUNK_SIZE + 9);
  assert.deepEqual(ix.deletedRuns(), [[3 * CHUNK_SIZE + 10, 1]]);
  // Two sweeps without access pack what was unpacked.
  ix.sweep();
  ix.sweep();
  assert.equal(ix.chunkBytes().packedChunks, ix.chunkBytes().chunks);
});

test('a file store restarts with its index packed and serves every message from it', async (t) => {
  const dir = path.join(tmpDir(t), 's');
  const cfg = { name: 'PACK', storage: 'file' as const };
  const n = 6 * CHUNK_SIZE;
  const body = (i: number): Buffer => Buffer.from(`m${i}`.padEnd(64, '.'));
  const s1 = createFileStore(cfg, { dir, blockSizeBytes: 256 * 1024 });
  for (let i = 1; i <= n; i++) s1.storeMsg(`kv.${i % 7}`, undefined, body(i));
  for (let i = 2 * CHUNK_SIZE; i < 2 * CHUNK_SIZE + 100; i++) s1.removeMsg(i);
  await s1.stop();

  const s2 = createFileStore(cfg, { dir, blockSizeBytes: 256 * 1024 });
  t.after(() => s2.stop());
  const mem = s2.indexMemory();
  // Recovery packs as it goes: at most the chunks the last block touched are unpacked.
  assert.ok(mem.packedChunks >= mem.chunks - 2, JSON.stringify(mem));
  assert.ok(mem.packed / n < 12, `packed bytes per message ${(mem.packed / n).toFixed(1)}`);
  const st = s2.state();
  assert.equal(st.msgs, n - 100);
  assert.equal(st.deleted?.length, 100);
  assert.equal(s2.filteredState(1, 'kv.3').msgs, Math.floor((n - 3) / 7) + 1 - countIn(2 * CHUNK_SIZE, 100, 3));
  for (let i = 1; i <= n; i++) {
    const m = s2.loadMsg(i);
    if (i >= 2 * CHUNK_SIZE && i < 2 * CHUNK_SIZE + 100) assert.equal(m, undefined);
    else assert.equal(m!.data.toString(), body(i).toString(), `seq ${i}`);
  }
  assert.equal(s2.loadLastMsg('kv.5')!.seq, lastOf(n, 5));
  // Removing through packed chunks (the head of a subject) and adding keep working.
  s2.packIndex();
  assert.equal(s2.removeMsg(7), true);
  assert.equal(s2.loadNextMsg('kv.0', 1)!.seq, 14);
  assert.equal(s2.storeMsg('kv.0', undefined, body(n + 1)).seq, n + 1);
  s2.packIndex();
  assert.equal(s2.loadLastMsg('kv.0')!.seq, n + 1);
});

test('a memory store packs idle chunks too', () => {
  const s = createMemStore({ name: 'M', storage: 'memory' });
  const n = 6 * CHUNK_SIZE;
  for (let i = 1; i <= n; i++) s.storeMsg('m.x', i % 2 === 0 ? Buffer.from('NATS/1.0\r\nA: b\r\n\r\n') : undefined, Buffer.from(`p${i}`));
  s.packIndex();
  assert.equal(s.indexMemory().columns, 0);
  for (const i of [1, 2, 4097, n]) {
    const m = s.loadMsg(i)!;
    assert.equal(m.data.toString(), `p${i}`);
    assert.equal(m.headers?.toString(), i % 2 === 0 ? 'NATS/1.0\r\nA: b\r\n\r\n' : undefined);
  }
  void s.stop();
});

const big = (_k: string, v: unknown): unknown => (typeof v === 'bigint' ? v.toString() : v);

function firstDiff(a: string, b: string): number {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return i;
}

function countIn(from: number, n: number, k: number): number {
  let c = 0;
  for (let i = from; i < from + n; i++) if (i % 7 === k) c++;
  return c;
}

function lastOf(n: number, k: number): number {
  let i = n;
  while (i % 7 !== k) i--;
  return i;
}

test('chunk codec: entries with locations past 2^32, large timestamp halves and differences, sparse slots, both column sets round-trip exactly', () => {
  const fields = ['subj', 'ts', 'size', 'next', 'prev', 'loc', 'rlen', 'hlen'] as const;
  const live = (cols: Columns, end: number) => {
    const rows: unknown[] = [];
    for (let k = 0; k < end; k++) rows.push(cols.subj[k]! < 0 ? null : fields.map((f) => cols[f]?.[k] ?? null));
    return rows;
  };
  const samples = codecSamples();
  assert.equal(samples.length, 4);
  for (const s of samples) {
    const back = emptyColumns(s.end, s.cols.hlen !== null);
    unpackColumns(packColumns(s.cols, s.end, s.base, s.slots), back, s.end, s.base, s.slots);
    assert.deepEqual(live(back, s.end), live(s.cols, s.end));
    assert.ok(live(s.cols, s.end).some((r) => r !== null && (r as number[])[5]! > 2 ** 32));
  }
});
