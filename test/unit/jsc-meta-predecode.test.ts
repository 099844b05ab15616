// MetaPredecode: a follower's meta entries decoded after their append (while the fsync runs) are
// used by the apply only when the applied bytes are the decoded bytes; applied indexes are dropped
// and not decoded again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { EntryType } from '../../src/raft/index.js';
import { decodeMetaEntry } from '../../src/jetstream/cluster/assignments.js';
import { MetaPredecode } from '../../src/jetstream/cluster/meta-predecode.js';
import { metaEntryFixtures } from '../fixtures/cluster/locate.js';

const fx = metaEntryFixtures();
const r1 = fx['ae_meta_assign_stream_r1']!;
const r3 = fx['ae_meta_assign_stream_r3']!;
const normal = (data: Uint8Array) => ({ type: EntryType.Normal, data });

test('meta predecode: decoded after the append turn, taken for the same bytes only, dropped once applied', async () => {
  const p = new MetaPredecode();
  const wire = Buffer.from(r1);
  p.appended(7, [{ type: EntryType.PeerState, data: Buffer.from('peers') }, normal(wire)]);
  assert.equal(p.take(7, 0, r1), undefined, 'nothing is decoded in the append call itself (the fsync starts first)');
  wire.fill(0); // the caller's buffer is not kept
  await tick();
  const d = p.take(7, 0, r1);
  assert.deepEqual(d, decodeMetaEntry(r1), 'the decode of the appended bytes');
  assert.equal(p.take(7, 0, r3), undefined, 'other bytes at the index (a truncated and rewritten log) decode at apply');
  assert.equal(p.take(7, 1, r1), undefined, 'only the entries that were appended');
  assert.equal(p.take(8, 0, r1), undefined);

  p.appliedThrough(7);
  assert.equal(p.take(7, 0, r1), undefined, 'an applied index is dropped');
  p.appended(6, [normal(r3)]);
  p.appended(7, [normal(r3)]);
  await tick();
  assert.equal(p.take(7, 0, r3), undefined, 'indexes already applied are not decoded ahead');
});

test('meta predecode: an entry applied before the idle decode ran is not decoded afterwards', async () => {
  const p = new MetaPredecode();
  p.appended(3, [normal(r1)]);
  p.appended(4, [normal(r3), normal(r1)]);
  p.appliedThrough(3);
  await tick();
  assert.equal(p.take(3, 0, r1), undefined);
  assert.deepEqual(p.take(4, 0, r3), decodeMetaEntry(r3));
  assert.deepEqual(p.take(4, 1, r1), decodeMetaEntry(r1));
});

test("meta predecode: the leader's own proposals are decoded after the output its append turn queued", async () => {
  const p = new MetaPredecode();
  p.appended(5, [normal(r1)], true);
  // What the server queues in the same turn: its socket flush (a setImmediate).
  let decodedAtFlush: unknown = 'not run';
  setImmediate(() => {
    decodedAtFlush = p.take(5, 0, r1);
  });
  await tick();
  assert.equal(decodedAtFlush, undefined, "the append's flush runs before the leader's decode");
  await tick();
  assert.deepEqual(p.take(5, 0, r1), decodeMetaEntry(r1), 'decoded one loop iteration later');
});
