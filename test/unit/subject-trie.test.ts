// The subject trie used for $JS.API overlap checks must give exactly the answers
// of the pairwise checks (subjectsCollide, subjectIsSubsetMatch), with wildcards
// on both sides, and refuse (not stall) when a request's queries get too costly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SubjectTrie, OverlapWorkExceeded, firstSelfCollision } from '../../src/jetstream/subject-trie.js';
import { subjectsCollide, subjectIsSubsetMatch } from '../../src/jetstream/subjects.js';

/** Small deterministic PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomSubject(r: () => number): string {
  const n = 1 + Math.floor(r() * 4);
  const toks: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = r();
    if (i === n - 1 && x < 0.15) toks.push('>');
    else if (x < 0.4) toks.push('*');
    else toks.push(['a', 'b', 'c'][Math.floor(r() * 3)]!);
  }
  return toks.join('.');
}

test('trie collides/coveredBy agree with the pairwise checks (wildcards on both sides)', () => {
  const r = rng(7);
  for (let round = 0; round < 300; round++) {
    const stored = Array.from({ length: 1 + Math.floor(r() * 8) }, () => randomSubject(r));
    const trie = new SubjectTrie();
    stored.forEach((s, i) => trie.insert(s, i));
    for (let q = 0; q < 10; q++) {
      const query = randomSubject(r);
      assert.equal(trie.collides(query), stored.some((s) => subjectsCollide(query, s)), `${query} vs ${stored}`);
      assert.equal(trie.coveredBy(query), stored.some((s) => subjectIsSubsetMatch(query, s)), `${query} in ${stored}`);
    }
    // excluding one's own entry (duplicates still count)
    for (let i = 0; i < stored.length; i++) {
      const others = stored.filter((_, j) => j !== i);
      assert.equal(trie.collides(stored[i]!, i), others.some((s) => subjectsCollide(stored[i]!, s)), `${stored[i]} vs ${others}`);
      assert.equal(trie.coveredBy(stored[i]!, i), others.some((s) => subjectIsSubsetMatch(stored[i]!, s)), `${stored[i]} in ${others}`);
    }
  }
});

test('trie: hand-picked wildcard cases', () => {
  const t = new SubjectTrie();
  ['foo.*', 'bar.>', 'baz.x.y'].forEach((s, i) => t.insert(s, i));
  assert.equal(t.collides('foo.bar'), true);
  assert.equal(t.collides('foo.bar.baz'), false);
  assert.equal(t.collides('*.x.*'), true, 'bar.> and baz.x.y');
  assert.equal(t.collides('>'), true);
  assert.equal(t.collides('bar'), false, "'>' needs one more token");
  assert.equal(t.collides('qux.>'), false);
  assert.equal(t.collides('foo.*', 0), false, 'itself excluded');
  assert.equal(t.collides('bar.>', 1), false, 'itself excluded under a >');
  assert.equal(t.coveredBy('bar.a.b'), true);
  assert.equal(t.coveredBy('foo.>'), false);
  assert.equal(t.coveredBy('*.x.y'), false);
});

test('firstSelfCollision names the same pair as the pairwise loop', () => {
  assert.equal(firstSelfCollision(['a', 'b', 'c.*']), undefined);
  assert.deepEqual(firstSelfCollision(['x', 'a.b', 'c', 'a.*', '*.b']), { i: 1, j: 3 });
  assert.deepEqual(firstSelfCollision(['q.>', 'a.b', 'q.z.z']), { i: 0, j: 2 });
});

test('60,000 literal subjects plus wildcards are checked; a fan-out beyond the budget is refused', () => {
  const subs = Array.from({ length: 60_000 }, (_, i) => `orders.region${i % 300}.item${i}`);
  subs.push('audit.*.>');
  assert.equal(firstSelfCollision(subs), undefined);
  assert.deepEqual(firstSelfCollision([...subs, 'orders.*.item59999']), { i: 59_999, j: 60_001 });
  // Wildcard queries over a wide, non-colliding trie: each costs the trie's width.
  const wide = Array.from({ length: 30_000 }, (_, i) => `k${i}.end`);
  const stars = Array.from({ length: 30_000 }, (_, i) => `*.other${i}`);
  assert.throws(() => firstSelfCollision([...wide, ...stars]), OverlapWorkExceeded);
});
