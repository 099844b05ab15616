// ApiRouter.find indexes its routes by first token: it must pick the same handler as trying every
// pattern in registration order with subjectMatchesFilter (the earliest match wins, re-adding a
// pattern replaces it and moves it last).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiRouter, API_PREFIX, type ApiHandler } from '../../src/jetstream/api/router.js';
import { subjectMatchesFilter } from '../../src/jetstream/subjects.js';

const PATTERNS = [
  'INFO', 'STREAM.CREATE.*', 'STREAM.INFO.*', 'STREAM.MSG.GET.*', 'CONSUMER.CREATE.*', 'CONSUMER.CREATE.*.>',
  'CONSUMER.DURABLE.CREATE.*.*', 'CONSUMER.INFO.*.*', 'CONSUMER.*.X', '*.LIST', 'STREAM.>', 'DIRECT.GET.*', '>',
  'META.LEADER.STEPDOWN', 'CONSUMER.MSG.NEXT.*.*.NOT',
];
const TOKENS = ['INFO', 'STREAM', 'CONSUMER', 'CREATE', 'DURABLE', 'MSG', 'GET', 'NEXT', 'LIST', 'X', 'S1', 'c', '', 'META', 'NOT'];

function reference(patterns: [string, ApiHandler][], subject: string): ApiHandler | undefined {
  const rest = subject.slice(API_PREFIX.length);
  return patterns.find(([p]) => subjectMatchesFilter(rest, p))?.[1];
}

function handlerFor(name: string): ApiHandler {
  const h: ApiHandler = () => {};
  Object.defineProperty(h, 'name', { value: name });
  return h;
}

function randomSubject(rand: () => number): string {
  const n = 1 + Math.floor(rand() * 6);
  const toks: string[] = [];
  for (let i = 0; i < n; i++) toks.push(TOKENS[Math.floor(rand() * TOKENS.length)]!);
  return API_PREFIX + toks.join('.');
}

/** Deterministic PRNG (mulberry32), so a failure replays. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('ApiRouter.find picks the first registered match, as a scan of every pattern would', () => {
  for (const seed of [1, 2, 3]) {
    const rand = prng(seed);
    const router = new ApiRouter();
    // Registration order shuffled per seed: the catch-alls ('>', '*.LIST') land at different places.
    const order = [...PATTERNS].sort(() => rand() - 0.5);
    let ref: [string, ApiHandler][] = [];
    for (const p of order) {
      const h = handlerFor(p);
      router.add(p, h);
      ref.push([p, h]);
    }
    // Re-adding a pattern replaces its handler and moves it to the end.
    const again = order[Math.floor(rand() * order.length)]!;
    const h2 = handlerFor(`${again} (again)`);
    router.add(again, h2);
    ref = ref.filter(([p]) => p !== again);
    ref.push([again, h2]);
    for (let i = 0; i < 3000; i++) {
      const s = randomSubject(rand);
      assert.equal(router.find(s)?.name, reference(ref, s)?.name, `seed ${seed}: ${s}`);
    }
  }
});

test('ApiRouter.find: exact subjects, wildcards, and subjects no route takes', () => {
  const router = new ApiRouter();
  for (const p of ['STREAM.CREATE.*', 'CONSUMER.CREATE.*.>', 'CONSUMER.CREATE.*', '*.NAMES']) router.add(p, handlerFor(p));
  assert.equal(router.find('$JS.API.STREAM.CREATE.ORDERS')?.name, 'STREAM.CREATE.*');
  assert.equal(router.find('$JS.API.STREAM.CREATE.ORDERS.X'), undefined);
  assert.equal(router.find('$JS.API.CONSUMER.CREATE.ORDERS')?.name, 'CONSUMER.CREATE.*');
  assert.equal(router.find('$JS.API.CONSUMER.CREATE.ORDERS.C1.f.>')?.name, 'CONSUMER.CREATE.*.>');
  assert.equal(router.find('$JS.API.STREAM.NAMES')?.name, '*.NAMES');
  assert.equal(router.find('$JS.API.CONSUMER.MSG.NEXT.ORDERS.C1'), undefined);
  assert.equal(router.find('$JS.API.'), undefined);
});
