// Memory store specifics: slab storage of message bytes, compaction of
// mostly-dead slabs, big messages, erase overwriting bytes in place.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemStore, type MemStore } from '../../src/jetstream/store/index.js';

const slabCount = (s: MemStore): number => (s as unknown as { slabs: Map<number, unknown> }).slabs.size;

test('KV-like churn: long-lived keys do not pin dead slabs, values stay intact', async (t) => {
  const s = createMemStore({ name: 'KV', storage: 'memory', maxMsgsPerSubject: 1 });
  t.after(() => s.stop());
  const value = (key: string, rev: number): Buffer => Buffer.from(`${key}:${rev}:`.padEnd(200, '.'));
  const latest = new Map<string, number>();
  // Static keys are written once, spread through the stream; hot keys are rewritten all the time.
  for (let round = 0; round < 200; round++) {
    const stat = `static.${round}`;
    s.storeMsg(stat, undefined, value(stat, 0));
    latest.set(stat, 0);
    for (let k = 0; k < 200; k++) {
      const key = `hot.${k}`;
      const rev = (latest.get(key) ?? -1) + 1;
      s.storeMsg(key, undefined, value(key, rev));
      latest.set(key, rev);
    }
  }
  await new Promise((r) => setImmediate(r));
  s.compactNow();
  // ~40,000 writes of ~200 bytes = ~8 MB written, 400 live values ~ 80 KB: only a few slabs remain.
  assert.ok(slabCount(s) <= 3, `slabs: ${slabCount(s)}`);
  assert.equal(s.state().msgs, latest.size);
  for (const [key, rev] of latest) {
    const m = s.loadLastMsg(key)!;
    assert.deepEqual(m.data, value(key, rev), key);
  }
});

test('big messages get their own slab and are freed with the message', async (t) => {
  const s = createMemStore({ name: 'B', storage: 'memory' });
  t.after(() => s.stop());
  const big = Buffer.alloc(2 * 1024 * 1024, 7);
  const hdr = Buffer.from('NATS/1.0\r\nBig: yes\r\n\r\n');
  const { seq } = s.storeMsg('big', hdr, big);
  s.storeMsg('small', undefined, Buffer.from('x'));
  const m = s.loadMsg(seq)!;
  assert.deepEqual(m.headers, hdr);
  assert.equal(m.data.length, big.length);
  assert.ok(m.data.every((b) => b === 7));
  const before = slabCount(s);
  s.removeMsg(seq);
  assert.equal(slabCount(s), before - 1);
  assert.equal(s.loadMsg(seq + 1)!.data.toString(), 'x');
});

test('eraseMsg overwrites the bytes a reader still holds; removeMsg does not', (t) => {
  const s = createMemStore({ name: 'E', storage: 'memory' });
  t.after(() => s.stop());
  s.storeMsg('a', undefined, Buffer.from('secret-one'));
  s.storeMsg('a', undefined, Buffer.from('secret-two'));
  const held1 = s.loadMsg(1)!;
  const held2 = s.loadMsg(2)!;
  s.removeMsg(1);
  s.eraseMsg(2);
  assert.equal(held1.data.toString(), 'secret-one');
  assert.notEqual(held2.data.toString(), 'secret-two');
  assert.equal(s.loadMsg(2), undefined);
});
