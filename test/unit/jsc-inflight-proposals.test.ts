// The stream leader's in-flight proposal ring (src/jetstream/cluster/inflight-proposals.ts): takes
// in order and out of order, growth past the initial capacity while wrapped, and the subject scan,
// checked against a Map model with a seeded random sequence of operations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InflightProposals } from '../../src/jetstream/cluster/inflight-proposals.js';
import { seededRandom } from '../helpers/wait.js';

test('in-flight proposals: in-order takes return each proposal\'s fields, also after wrapping and growth', () => {
  const r = new InflightProposals();
  let next = 0;
  let oldest = 0;
  // Keep 100 in flight while 1000 pass (wraps the 256-slot ring), then grow to 700 in flight.
  for (let round = 0; round < 1000; round++) {
    r.push(next, `s.${next % 7}`, next % 3 === 0 ? `id${next}` : '', `_INBOX.r.${next}`);
    next++;
    if (r.size > 100) {
      assert.ok(r.take(oldest));
      assert.equal(r.takenSubject, `s.${oldest % 7}`);
      assert.equal(r.takenId, oldest % 3 === 0 ? `id${oldest}` : '');
      assert.equal(r.takenReply, `_INBOX.r.${oldest}`);
      oldest++;
    }
  }
  for (let k = 0; k < 600; k++) r.push(next++, 'big', '', '');
  assert.equal(r.size, 700);
  for (; oldest < next; oldest++) {
    assert.ok(r.take(oldest), `take ${oldest}`);
    assert.equal(r.takenSubject, oldest >= 1000 ? 'big' : `s.${oldest % 7}`);
  }
  assert.equal(r.size, 0);
  assert.equal(r.take(5), false, 'nothing in flight');
});

test('in-flight proposals: random pushes, out-of-order takes and clears agree with a Map', () => {
  const rnd = seededRandom(7);
  const r = new InflightProposals();
  const model = new Map<number, { subject: string; id: string; reply: string }>();
  let next = 0;
  for (let step = 0; step < 20_000; step++) {
    const x = rnd();
    if (x < 0.5) {
      const e = { subject: `s.${Math.floor(rnd() * 20)}`, id: rnd() < 0.2 ? `m${next}` : '', reply: rnd() < 0.9 ? `r${next}` : '' };
      r.push(next, e.subject, e.id, e.reply);
      model.set(next, e);
      next++;
    } else if (x < 0.97) {
      // Mostly the oldest, sometimes any (in flight or not).
      const keys = [...model.keys()];
      const lseq = keys.length > 0 && rnd() < 0.8 ? keys[0]! : Math.floor(rnd() * (next + 2));
      const want = model.get(lseq);
      assert.equal(r.take(lseq), want !== undefined, `take ${lseq} at step ${step}`);
      if (want) {
        assert.deepEqual({ subject: r.takenSubject, id: r.takenId, reply: r.takenReply }, want);
        model.delete(lseq);
      }
    } else if (x < 0.995) {
      const s = `s.${Math.floor(rnd() * 20)}`;
      assert.equal(r.hasSubject(s), [...model.values()].some((e) => e.subject === s), `hasSubject ${s}`);
    } else {
      r.clear();
      model.clear();
    }
    assert.equal(r.size, model.size);
  }
});
