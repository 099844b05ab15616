// Per-connection limits of a config-file account (`accounts { A { limits { max_subscriptions,
// max_payload } } }`), the same flow against nats-server 2.9.10 and tsnats (both as child
// processes): nats-server gives every client of the account the lower of the account's and the
// server's limits (client.go applyAccountLimits).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { natsServerSkip } from '../helpers/nats-server.js';
import { KINDS, natsServer, rawClient, type Spawn } from '../helpers/leaf-interop.js';

const skip = natsServerSkip();
const pongs = (s: string): number => s.split('PONG\r\n').length - 1;
const firstErr = (s: string): string => /-ERR '([^']*)'/.exec(s)?.[1] ?? 'none';

async function flow(t: TestContext, spawn: Spawn): Promise<Record<string, unknown>> {
  const s = await natsServer(t, [
    'listen: 127.0.0.1:-1',
    'accounts { A { users [ { user: a, password: a } ], limits { max_subscriptions: 2, max_payload: 64 } } }',
  ].join('\n') + '\n', spawn);
  const out: Record<string, unknown> = {};
  const subs = await rawClient(s.port, { user: 'a', pass: 'a' });
  t.after(() => subs.close());
  await subs.waitFor((x) => pongs(x) >= 1, 5000);
  subs.send('SUB a 1\r\nSUB b 2\r\nPING\r\n');
  await subs.waitFor((x) => pongs(x) >= 2 || x.includes('-ERR'), 5000);
  out.twoSubs = firstErr(subs.text);
  subs.send('SUB c 3\r\nPING\r\n');
  await subs.waitFor((x) => pongs(x) >= 3 || x.includes('-ERR'), 5000);
  out.thirdSub = firstErr(subs.text);

  const pub = await rawClient(s.port, { user: 'a', pass: 'a' });
  t.after(() => pub.close());
  await pub.waitFor((x) => pongs(x) >= 1, 5000);
  pub.send(`PUB x 64\r\n${'a'.repeat(64)}\r\nPING\r\n`);
  await pub.waitFor((x) => pongs(x) >= 2 || x.includes('-ERR'), 5000);
  out.pub64 = firstErr(pub.text);
  pub.send(`PUB x 65\r\n${'a'.repeat(65)}\r\nPING\r\n`);
  await pub.waitFor((x) => pongs(x) >= 3 || x.includes('-ERR'), 5000);
  out.pub65 = firstErr(pub.text);
  // the max_payload of every INFO the client saw
  out.infoMaxPayload = [...pub.text.matchAll(/INFO (\{[^\r]*\})\r\n/g)].map((m) => (JSON.parse(m[1]!) as { max_payload: number }).max_payload);
  return out;
}

test('config account limits side by side: max_subscriptions and max_payload apply to the account\'s clients', { skip }, async (t) => {
  const seen: Record<string, Record<string, unknown>> = {};
  for (const [kind, spawn] of KINDS) seen[kind] = await flow(t, spawn);
  assert.equal(seen['nats-server']!.thirdSub, 'maximum subscriptions exceeded', JSON.stringify(seen['nats-server']));
  assert.deepEqual(seen.tsnats, seen['nats-server']);
});
