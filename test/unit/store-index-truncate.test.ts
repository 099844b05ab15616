// Truncating the tail of a sparse index chunk and appending again keeps lookups and subject
// chains right (a replicated stream's replica cuts its store back to its snapshot at start).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHUNK_SIZE, MsgIndex } from '../../src/jetstream/store/msg-index.js';

test('msg index: appends after removing the tail of a sparse chunk', () => {
  const ix = new MsgIndex('file');
  const last = CHUNK_SIZE + 14; // 15 entries in the second chunk
  for (let s = 1; s <= last; s++) ix.add(s, `k.${s % 3}`, BigInt(s), 10);
  // Remove the newest 10 one by one, as the store's truncate does (the chunk turns sparse on the way).
  for (let s = last; s > last - 10; s--) assert.equal(ix.remove(s), true);
  ix.setLast(last - 10, BigInt(last - 10));
  for (let s = last - 9; s <= last + 20; s++) ix.add(s, `k.${s % 3}`, BigInt(s), 10);
  for (let s = 1; s <= last + 20; s++) assert.equal(ix.has(s), true, `seq ${s}`);
  for (let k = 0; k < 3; k++) {
    // Walk each subject's chain: every message of the subject once, in order.
    const ss = ix.subjects.get(`k.${k}`)!;
    const seen: number[] = [];
    for (let s = ss.first; s !== 0; s = ix.nextOf(s)) seen.push(s);
    const want: number[] = [];
    for (let s = 1; s <= last + 20; s++) if (s % 3 === k) want.push(s);
    assert.deepEqual(seen, want, `subject k.${k}`);
  }
});
