// Sublist: wildcard matching, queue groups, removal, cache invalidation; and a
// seeded property test against a brute-force matcher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Sublist } from '../../src/core/sublist.js';
import { isValidSubject, isValidLiteralSubject, subjectMatchesFilter } from '../../src/core/subject.js';
import { ClientKind, Subscription, type InboundMsg, type MsgSink } from '../../src/core/types.js';
import { seededRandom } from '../helpers/wait.js';

const sink: MsgSink = { kind: ClientKind.CLIENT, cid: 1, deliverMsg: (_s: Subscription, _m: InboundMsg) => true };
let sidSeq = 0;
const sub = (subject: string, queue?: string) => new Subscription(subject, queue, String(++sidSeq), sink);
const subjects = (subs: readonly Subscription[]) => subs.map((s) => s.subject).sort();

test('literal, * and > matching', () => {
  const sl = new Sublist();
  for (const s of ['foo', 'foo.bar', 'foo.*', 'foo.>', '*.bar', '>', 'foo.*.baz', 'foo.bar.>']) assert.ok(sl.insert(sub(s)));
  assert.deepEqual(subjects(sl.match('foo').psubs), ['>', 'foo']);
  assert.deepEqual(subjects(sl.match('foo.bar').psubs), ['*.bar', '>', 'foo.*', 'foo.>', 'foo.bar']);
  assert.deepEqual(subjects(sl.match('foo.bar.baz').psubs), ['>', 'foo.*.baz', 'foo.>', 'foo.bar.>']);
  assert.deepEqual(subjects(sl.match('x.y').psubs), ['>']);
  // a published wildcard token is matched literally
  assert.deepEqual(subjects(sl.match('foo.*').psubs), ['>', 'foo.*', 'foo.>']);
  // empty tokens never match
  assert.equal(sl.match('foo..bar').psubs.length, 0);
  assert.equal(sl.match('foo.').psubs.length, 0);
  assert.equal(sl.size, 8);
});

test('invalid subjects are refused', () => {
  const sl = new Sublist();
  for (const s of ['', 'foo..bar', '.foo', 'foo.', 'foo.>.bar', '>.foo', 'a b']) assert.equal(sl.insert(sub(s)), false, s);
  assert.equal(sl.size, 0);
  assert.ok(isValidSubject('foo*.bar>'), 'wildcards only count as whole tokens');
  assert.ok(isValidLiteralSubject('foo*.bar>'));
  assert.equal(isValidLiteralSubject('foo.*'), false);
  assert.equal(isValidLiteralSubject('foo.>'), false);
});

test('subjects with an empty token match nothing, also under wildcards', () => {
  const sl = new Sublist();
  for (const f of ['>', '*.>', 'foo.*', 'foo.>', '*', 'foo.*.bar']) assert.ok(sl.insert(sub(f)));
  for (const s of ['', '.', 'foo..bar', '.foo', 'foo.', 'foo.bar.', '..']) {
    const r = sl.match(s);
    assert.equal(r.psubs.length + r.qsubs.length, 0, JSON.stringify(s));
  }
  assert.deepEqual(subjects(sl.match('foo.x.bar').psubs), ['*.>', '>', 'foo.*.bar', 'foo.>']);
});

test('queue groups are grouped by name across matching subjects', () => {
  const sl = new Sublist();
  const a = sub('q.*', 'g1');
  const b = sub('q.x', 'g1');
  const c = sub('q.x', 'g2');
  const d = sub('q.x');
  for (const s of [a, b, c, d]) sl.insert(s);
  const r = sl.match('q.x');
  assert.equal(r.psubs.length, 1);
  assert.equal(r.qsubs.length, 2);
  const groups = r.qsubs.map((g) => g.map((s) => s.sid).sort()).sort((x, y) => x.length - y.length);
  assert.deepEqual(groups, [[c.sid], [a.sid, b.sid].sort()]);
});

test('remote queue weight expands the group', () => {
  const sl = new Sublist();
  const routeSink: MsgSink = { kind: ClientKind.ROUTE, cid: 9, deliverMsg: () => false };
  const remote = new Subscription('w', 'g', 'r1', routeSink);
  remote.weight = 3;
  sl.insert(remote);
  sl.insert(sub('w', 'g'));
  assert.equal(sl.match('w').qsubs[0].length, 4);
});

test('remove prunes and invalidates the cache', () => {
  const sl = new Sublist();
  const s1 = sub('a.b.c');
  const s2 = sub('a.*.c');
  sl.insert(s1);
  sl.insert(s2);
  const before = sl.match('a.b.c');
  assert.equal(before.psubs.length, 2);
  assert.equal(sl.match('a.b.c'), before, 'second match is served from the cache');
  const gen = sl.genid;
  assert.ok(sl.remove(s1));
  assert.ok(sl.genid > gen);
  assert.deepEqual(subjects(sl.match('a.b.c').psubs), ['a.*.c']);
  assert.equal(before.psubs.length, 2, 'an old result is not mutated');
  assert.equal(sl.remove(s1), false);
  assert.ok(sl.remove(s2));
  assert.equal(sl.size, 0);
  assert.equal(sl.match('a.b.c').psubs.length, 0);
  assert.deepEqual(sl.all(), []);
});

test('property: sublist matches a brute-force matcher (seeded)', () => {
  const rnd = seededRandom(42);
  const toks = ['a', 'b', 'c', 'dd'];
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)];
  const randFilter = (): string => {
    const n = 1 + Math.floor(rnd() * 4);
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = rnd();
      if (i === n - 1 && r < 0.15) parts.push('>');
      else if (r < 0.35) parts.push('*');
      else parts.push(pick(toks));
    }
    return parts.join('.');
  };
  const randSubject = (): string => {
    // Up to 7 tokens: also past the deepest filter level, where a match walks the rest of the
    // subject without creating token strings.
    const n = 1 + Math.floor(rnd() * 7);
    return Array.from({ length: n }, () => pick(toks)).join('.');
  };
  const sl = new Sublist();
  const live: Subscription[] = [];
  for (let step = 0; step < 3000; step++) {
    const r = rnd();
    if (r < 0.5 || live.length === 0) {
      const s = sub(randFilter(), rnd() < 0.3 ? pick(['q1', 'q2']) : undefined);
      assert.ok(sl.insert(s));
      live.push(s);
    } else if (r < 0.7) {
      const i = Math.floor(rnd() * live.length);
      assert.ok(sl.remove(live[i]));
      live.splice(i, 1);
    } else {
      const subj = randSubject();
      const res = sl.match(subj);
      const got = [...res.psubs, ...res.qsubs.flat()].map((s) => s.sid).sort();
      const want = live.filter((s) => subjectMatchesFilter(subj, s.subject)).map((s) => s.sid).sort();
      assert.deepEqual(got, want, `step ${step} subject ${subj}`);
      for (const g of res.qsubs) assert.equal(new Set(g.map((s) => s.queue)).size, 1, 'one queue name per group');
    }
  }
  assert.equal(sl.size, live.length);
});

test('property: ack subjects of one consumer share a match only while nothing tells their numbers apart (seeded)', () => {
  const rnd = seededRandom(7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  // Interest a server may hold: a consumer's ack subscription, routed or imported wider and
  // narrower ones, some of which look at the numeric tokens.
  const filters = [
    '$JS.ACK.S.C.>', '$JS.ACK.S.D.>', '$JS.ACK.*.C.>', '$JS.ACK.S.*.>', '$JS.ACK.>', '$JS.>', '>',
    '$JS.ACK.S.C.1.>', '$JS.ACK.S.C.*.2.>', '$JS.ACK.S.C.*.*.*.*.*', '$JS.ACK.S.C.*', '$JS.*.S.C.>',
    '$JS.ACK.S.C.1.1.1.1.0', '$JS.ACK.T.C.>',
  ];
  const subject = (): string => {
    const n = pick([5, 6, 9, 9, 9, 11]);
    const head = ['$JS', 'ACK', pick(['S', 'T']), pick(['C', 'D'])];
    const tail = Array.from({ length: n - 4 }, () => pick(['0', '1', '2']));
    return [...head, ...tail].join('.');
  };
  const sl = new Sublist();
  const live: Subscription[] = [];
  for (let step = 0; step < 4000; step++) {
    const r = rnd();
    if (r < 0.06 || live.length === 0) {
      const s = sub(pick(filters), rnd() < 0.2 ? 'q' : undefined);
      assert.ok(sl.insert(s));
      live.push(s);
    } else if (r < 0.1) {
      const i = Math.floor(rnd() * live.length);
      assert.ok(sl.remove(live[i]!));
      live.splice(i, 1);
    } else {
      const subj = subject();
      const res = sl.match(subj);
      const got = [...res.psubs, ...res.qsubs.flat()].map((s) => s.sid).sort();
      const want = live.filter((s) => subjectMatchesFilter(subj, s.subject)).map((s) => s.sid).sort();
      assert.deepEqual(got, want, `step ${step} subject ${subj}`);
    }
  }
});

test('JetStream ack subjects are matched without entering the cache', () => {
  const sl = new Sublist();
  assert.ok(sl.insert(sub('$JS.ACK.S.C.>')));
  assert.ok(sl.insert(sub('foo')));
  sl.match('foo');
  for (let i = 1; i <= 3000; i++) assert.deepEqual(subjects(sl.match(`$JS.ACK.S.C.1.${i}.${i}.1765072800000000000.0`).psubs), ['$JS.ACK.S.C.>']);
  // Each ack subject is used once: caching them would have evicted 'foo'.
  assert.equal(sl.stats().numCache, 1);
  assert.equal(sl.match('$JS.ACK.S.D.1.1.1.1.0').psubs.length, 0);
  // Subjects that only look alike still go through the cache.
  sl.match('$JS.ACKS.x');
  sl.match('$JS.AC');
  assert.equal(sl.stats().numCache, 3);
});

test('matchOnce (a reply subject used once) matches like match() and leaves the cache alone', () => {
  const sl = new Sublist();
  for (const s of ['_INBOX.abc.*', '_INBOX.>', 'foo.>']) assert.ok(sl.insert(sub(s)));
  assert.ok(sl.insert(sub('_INBOX.abc.*', 'q')));
  sl.match('foo.bar');
  assert.equal(sl.stats().numCache, 1);
  for (let i = 0; i < 50; i++) {
    const once = sl.matchOnce(`_INBOX.abc.${i}`);
    assert.deepEqual(subjects(once.psubs), ['_INBOX.>', '_INBOX.abc.*']);
    assert.equal(once.qsubs.length, 1);
    assert.deepEqual(subjects(once.psubs), subjects(sl.match(`_INBOX.abc.x${i}`).psubs));
  }
  assert.equal(sl.stats().numCache, 51, 'only the match() calls were cached');
  // The last subject is remembered (a requester reusing one reply subject), and forgotten on a change.
  assert.equal(sl.matchOnce('_INBOX.abc.same'), sl.matchOnce('_INBOX.abc.same'));
  const extra = sub('_INBOX.abc.same');
  assert.ok(sl.insert(extra));
  assert.deepEqual(subjects(sl.matchOnce('_INBOX.abc.same').psubs), ['_INBOX.>', '_INBOX.abc.*', '_INBOX.abc.same']);
  sl.remove(extra);
  assert.deepEqual(subjects(sl.matchOnce('_INBOX.abc.same').psubs), ['_INBOX.>', '_INBOX.abc.*']);
  assert.equal(sl.matchOnce('nothing.here').psubs.length, 0);
  assert.equal(sl.matchOnce('_INBOX..x').psubs.length, 0, 'an empty token matches nothing');
});
