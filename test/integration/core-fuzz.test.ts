// Randomized (seeded) parser fuzzing over real sockets: garbage, mutated and
// truncated frames on many connections while a well-behaved client keeps doing
// request/reply. The server must never crash, must answer every garbage
// connection with either nothing, a PONG/MSG/+OK or an -ERR, and must keep
// serving the good client. Set TSNATS_FUZZ_SEED to reproduce a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { startTestServer } from '../helpers/server.js';
import { seededRandom, waitUntil } from '../helpers/wait.js';
import { mutate, sendGarbage } from '../helpers/fuzz.js';

const VALID_FRAMES = [
  'CONNECT {"verbose":false,"headers":true,"protocol":1}\r\n',
  'CONNECT {}\r\n',
  'PING\r\n',
  'PONG\r\n',
  'SUB fz.> 1\r\n',
  'SUB fz.a q 2\r\n',
  'UNSUB 1\r\n',
  'UNSUB 2 5\r\n',
  'PUB fz.a 5\r\nhello\r\n',
  'PUB fz.b _INBOX.r 3\r\nabc\r\n',
  'HPUB fz.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
  'PUB svc.echo 2\r\nzz\r\n',
  'pub fz.c 0\r\n\r\n',
];

/** Up to 12 valid or mutated frames, written in random pieces (helpers/fuzz.ts). */
function garbageConnection(port: number, rnd: () => number): Promise<string> {
  const frames = Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => {
    const f = Buffer.from(VALID_FRAMES[Math.floor(rnd() * VALID_FRAMES.length)]!);
    return rnd() < 0.5 ? mutate(rnd, f) : f;
  });
  return sendGarbage(port, seededRandom(Math.floor(rnd() * 2 ** 32)), [], frames);
}

test('fuzzed client traffic never breaks the server (seeded)', async (t) => {
  const seed = Number(process.env.TSNATS_FUZZ_SEED ?? 20261127);
  const rnd = seededRandom(seed);
  const h = await startTestServer({ maxControlLineBytes: 256, maxPayloadBytes: 4096 }, t);
  const svc = await connect({ servers: h.clientUrl });
  t.after(() => svc.close());
  svc.subscribe('svc.echo', { callback: (_e, m) => { if (m.reply) m.respond(m.data); } });
  await svc.flush();
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());

  let good = 0;
  let stop = false;
  const worker = (async () => {
    while (!stop) {
      const r = await nc.request('svc.echo', `n${good}`, { timeout: 2000 });
      assert.equal(r.string(), `n${good}`);
      good++;
    }
  })();

  const ROUNDS = 40;
  const PARALLEL = 6;
  const outputs: string[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const batch = await Promise.all(Array.from({ length: PARALLEL }, () => garbageConnection(h.port, rnd)));
    outputs.push(...batch);
  }
  stop = true;
  await worker;

  assert.ok(good > 10, `good client kept working (${good} requests, seed ${seed})`);
  for (const out of outputs) {
    // Everything a garbage connection receives is a well-formed server frame.
    const rest = out
      .replace(/^INFO \{.*?\} \r\n/, '')
      .replace(/(PING|PONG|\+OK)\r\n/g, '')
      .replace(/-ERR '[^'\r\n]*'\r\n/g, '')
      .replace(/H?MSG [^\r\n]*\r\n/g, (line) => `@${line}`);
    assert.doesNotMatch(rest.replace(/@H?MSG [^\r\n]*\r\n[\s\S]*?\r\n/g, ''), /INFO|ERR/, `seed ${seed}`);
  }
  // The server is still healthy: fresh connections work and the books are clean.
  const fresh = await connect({ servers: h.clientUrl });
  const r = await fresh.request('svc.echo', 'still-alive', { timeout: 2000 });
  assert.equal(r.string(), 'still-alive');
  await fresh.close();
  await waitUntil(() => h.server.clients.size === 2, 3000, 'only the two real clients remain');
  const subs = h.server.globalAccount.sublist.all().map((s) => s.subject).sort();
  // (the $SYS subscriptions are the account's own imports, held by the server)
  assert.deepEqual(subs.filter((s) => !s.startsWith('_INBOX.') && !s.startsWith('$SYS.')), ['svc.echo']);
});
