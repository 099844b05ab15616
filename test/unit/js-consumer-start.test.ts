// Starting position of new consumers over a real memory store, and the
// reconciliation of restored state with a stream that lost data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemStore } from '../../src/jetstream/store/memstore.js';
import { decodeConsumerConfig } from '../../src/jetstream/consumer/config.js';
import { reconcileWithStream, selectStartingSeq } from '../../src/jetstream/consumer/start-position.js';

function store(): MemStore {
  const s = new MemStore({ name: 'S', storage: 'memory' });
  const subjects = ['a', 'b', 'a', 'c', 'b', 'a'];
  for (const subj of subjects) s.storeMsg(subj, undefined, Buffer.from(subj));
  return s;
}

test('start position per deliver policy', () => {
  const s = store();
  const start = (cfg: Record<string, unknown>, filters: string[] = []) =>
    selectStartingSeq(s, decodeConsumerConfig(cfg), filters, -1);
  assert.equal(start({ deliver_policy: 'all' }).sseq, 1);
  assert.equal(start({ deliver_policy: 'last' }).sseq, 6);
  assert.equal(start({ deliver_policy: 'last', filter_subject: 'b' }, ['b']).sseq, 5);
  assert.equal(start({ deliver_policy: 'new' }).sseq, 7);
  assert.equal(start({ deliver_policy: 'by_start_sequence', opt_start_seq: 4 }).sseq, 4);
  assert.equal(start({ deliver_policy: 'by_start_sequence', opt_start_seq: 40 }).sseq, 40, 'future start sequences are kept');
  const lps = start({ deliver_policy: 'last_per_subject', filter_subject: '>' }, ['>']);
  assert.deepEqual(lps.lss?.seqs, [4, 5, 6]);
  assert.equal(lps.sseq, 4);
  assert.equal(lps.lss?.resume, 6);
  // With one message per subject, last-per-subject is a plain "all".
  assert.equal(selectStartingSeq(s, decodeConsumerConfig({ deliver_policy: 'last_per_subject', filter_subject: '>' }), ['>'], 1).lss, undefined);
  s.purge();
  assert.equal(start({ deliver_policy: 'all' }).sseq, 7, 'after a purge the first sequence moved on');
});

test('restored state ahead of a stream that lost data is pulled back', () => {
  const pending = new Map([[8, { seq: 6, tsMs: 0 }], [10, { seq: 8, tsMs: 0 }], [12, { seq: 9, tsMs: 0 }]]);
  const rdc = new Map([[10, 2], [12, 3]]);
  const d = { sseq: 13, dseq: 10, adflr: 5, asflr: 7, pending, rdc };
  reconcileWithStream(d, 10);
  assert.deepEqual([...d.pending.keys()], [8, 10]);
  assert.deepEqual([...d.rdc.keys()], [10]);
  assert.equal(d.sseq, 11);
  assert.equal(d.dseq, 9);
  const e = { sseq: 21, dseq: 15, adflr: 14, asflr: 20, pending: new Map(), rdc: new Map() };
  reconcileWithStream(e, 12);
  assert.deepEqual([e.sseq, e.asflr, e.dseq, e.adflr], [13, 12, 15, 14]);
});
