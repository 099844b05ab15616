// Memory of the message index follows the live messages, and lost-data tracking is bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { LostData, LOST_LIST_MAX } from '../../src/jetstream/store/lost-data.js';
import { CHUNK_SIZE, MsgIndex } from '../../src/jetstream/store/msg-index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function arrayBufferBytes(): number {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
}

test('one live message per 4096-sequence chunk does not pin the whole chunk', () => {
  const chunks = 200;
  const total = chunks * CHUNK_SIZE;
  const base = arrayBufferBytes();
  const ix = new MsgIndex('file');
  for (let s = 1; s <= total; s++) ix.add(s, `k.${s % 50}`, BigInt(s), 100);
  const full = arrayBufferBytes() - base;
  // Keep one message per chunk (as a KV whose keys were written long ago).
  const keep: number[] = [];
  for (let s = 1; s <= total; s++) {
    if (s % CHUNK_SIZE === 7) keep.push(s);
    else assert.equal(ix.remove(s), true);
  }
  const sparse = arrayBufferBytes() - base;
  // The test's own budget: a few hundred bytes per live message, not 4096 slots of ~44 bytes.
  const perLive = sparse / keep.length;
  assert.ok(perLive < 2048, `index bytes per live message: ${perLive.toFixed(0)} (full index ${full} bytes)`);
  // The index still answers correctly.
  assert.equal(ix.msgs, keep.length);
  assert.equal(ix.firstSeq, keep[0]);
  const seen: number[] = [];
  for (let s = ix.nextLive(1); s !== 0; s = ix.nextLive(s + 1)) seen.push(s);
  assert.deepEqual(seen, keep);
  const back: number[] = [];
  for (let s = ix.prevLive(total); s !== 0; s = ix.prevLive(s - 1)) back.push(s);
  assert.deepEqual(back, [...keep].reverse());
  for (const s of keep) {
    assert.equal(ix.subjectOf(s), `k.${s % 50}`);
    assert.equal(ix.tsOf(s), BigInt(s));
    assert.equal(ix.has(s + 1), false);
  }
  assert.equal(ix.countFrom(keep[10]), keep.length - 10);
  const runs = ix.deletedRuns();
  assert.equal(runs.reduce((a, [, n]) => a + n, 0), ix.lastSeq - ix.firstSeq + 1 - keep.length);
  assert.deepEqual(runs[0], [keep[0] + 1, keep[1] - keep[0] - 1]);
  // Per-subject links survive the change of layout.
  const subj = `k.${keep[3] % 50}`;
  const f = ix.filteredState(1, subj);
  assert.equal(f.msgs, keep.filter((s) => s % 50 === keep[3] % 50).length);
  // Appending after a sparse chunk and removing again keeps working.
  for (let s = total + 1; s <= total + 3 * CHUNK_SIZE; s++) ix.add(s, 'tail', BigInt(s), 1);
  for (let s = total + 1; s < total + 3 * CHUNK_SIZE; s++) ix.remove(s);
  assert.equal(ix.msgs, keep.length + 1);
  assert.equal(ix.lastLive(), total + 3 * CHUNK_SIZE);
  assert.equal(ix.nextLive(keep[keep.length - 1] + 1), total + 3 * CHUNK_SIZE);
});

test('lost-data tracking is bounded and not copied on every state call', () => {
  const lost = new LostData();
  for (let i = 1; i <= 3 * LOST_LIST_MAX; i++) lost.add([i], 10);
  const st = lost.state()!;
  assert.equal(st.msgs.length, LOST_LIST_MAX);
  assert.equal(st.msgs[0], 2 * LOST_LIST_MAX + 1);
  assert.equal(st.bytes, 3 * LOST_LIST_MAX * 10);
  assert.equal(lost.count, 3 * LOST_LIST_MAX);
  assert.equal(lost.state(), st, 'the same object until something changes');
  lost.add([1], 0);
  assert.notEqual(lost.state(), st);
  lost.add([5 * LOST_LIST_MAX], 10);
  assert.equal(lost.state()!.msgs.at(-1), 5 * LOST_LIST_MAX);
  assert.equal(lost.state()!.msgs.length, LOST_LIST_MAX);
});

test('dense and sparse chunks agree with a plain model under random adds and removes', () => {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const ix = new MsgIndex('memory');
  const model = new Map<number, string>();
  let last = 0;
  const subjects = ['a', 'b', 'c.x', 'c.y'];
  for (let round = 0; round < 40; round++) {
    // Bursts of appends, then removal waves of varying density (some chunks go sparse, some back).
    const adds = 200 + rnd(3000);
    for (let i = 0; i < adds; i++) {
      const subj = subjects[rnd(subjects.length)];
      last++;
      ix.add(last, subj, BigInt(last), 1);
      model.set(last, subj);
    }
    const keepOneIn = 1 + rnd(60);
    for (const k of [...model.keys()]) {
      if (rnd(keepOneIn) !== 0) {
        assert.equal(ix.remove(k), true);
        model.delete(k);
      }
    }
    const keys = [...model.keys()].sort((x, y) => x - y);
    assert.equal(ix.msgs, keys.length, `round ${round}`);
    const got: number[] = [];
    for (let s = ix.nextLive(1); s !== 0; s = ix.nextLive(s + 1)) got.push(s);
    assert.deepEqual(got, keys, `nextLive walk, round ${round}`);
    for (let probe = 0; probe < 50; probe++) {
      const s = 1 + rnd(last);
      assert.equal(ix.has(s), model.has(s));
      if (model.has(s)) assert.equal(ix.subjectOf(s), model.get(s));
      const next = keys.find((k) => k >= s) ?? 0;
      assert.equal(ix.nextLive(s), next);
      const prev = [...keys].reverse().find((k) => k <= s) ?? 0;
      assert.equal(ix.prevLive(s), prev);
      assert.equal(ix.countFrom(s), keys.filter((k) => k >= s).length);
      for (const f of ['c.*', 'a']) {
        const m = keys.filter((k) => k >= s && (f === 'a' ? model.get(k) === 'a' : model.get(k)!.startsWith('c.')));
        const fs = ix.filteredState(s, f);
        assert.equal(fs.msgs, m.length, `filteredState ${f} from ${s}`);
        if (m.length) assert.equal(fs.first, m[0]);
        assert.equal(ix.nextMatch(f, s), m[0] ?? 0, `nextMatch ${f} from ${s}`);
      }
    }
    const deleted = ix.deletedRuns().reduce((a, [, n]) => a + n, 0);
    assert.equal(deleted, keys.length ? ix.lastSeq - keys[0] + 1 - keys.length : 0);
    for (const subj of subjects) {
      const list = keys.filter((k) => model.get(k) === subj);
      assert.equal(ix.lastMatch(subj), list[list.length - 1] ?? 0);
      assert.equal(ix.prevMatch(subj, last), list[list.length - 1] ?? 0);
    }
  }
});
