// Operator mode side by side with the real nats-server 2.9.10: the same
// generated operator/account/user JWTs, the same raw protocol exchanges, and
// the -ERR lines both servers send must be identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import type { RawClient } from '../helpers/raw-client.js';
import {
  accountJwt, createAccount, createUser, newOperator, operatorConfig, rawJwtConnect, userJwt, type KeyPair,
} from '../helpers/jwt-flow.js';

/** Error lines (and whether the server closed) of one exchange. */
async function exchange(c: RawClient, send: string, expectClose: boolean): Promise<string[]> {
  if (send) c.send(send);
  let text: string;
  if (expectClose) {
    await c.waitClosed(10_000);
    text = c.text;
  } else {
    text = await c.flushPing(10_000);
  }
  c.close();
  return text.split('\r\n').filter((l) => l.startsWith('-ERR'));
}

test('operator mode errors match nats-server', { skip: natsServerSkip(), timeout: 60_000 }, async (t) => {
  const op = await newOperator();
  const [a, limited] = [createAccount(), createAccount()];
  const revoked = createUser();
  const revokedJwt = await userJwt('r', revoked, a);
  const nowSec = Math.floor(Date.now() / 1000);
  const conf = operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a, { revocations: { [revoked.getPublicKey()]: nowSec + 1 } }),
    [limited.getPublicKey()]: await accountJwt(op, 'L', limited, { limits: { conn: 1, subs: -1, payload: -1, data: -1 } }),
  }, 'listen: "127.0.0.1:-1"');
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jwt-interop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'op.conf');
  writeFileSync(file, conf);

  const u = createUser();
  const plain = await userJwt('u', u, a, { pub: { allow: ['ok.>'] }, subs: 1, payload: 8 });
  const l = createUser();
  const lJwt = await userJwt('l', l, limited);
  const other = createUser();

  const scenarios: Array<{ name: string; run: (port: number) => Promise<string[]> }> = [
    { name: 'no jwt', run: async (p) => exchange(await rawJwtConnect(p, '', null), '', true) },
    { name: 'bad signature', run: async (p) => exchange(await rawJwtConnect(p, plain, other), '', true) },
    { name: 'revoked', run: async (p) => exchange(await rawJwtConnect(p, revokedJwt, revoked), '', true) },
    { name: 'permissions and subs limit', run: async (p) => exchange(await rawJwtConnect(p, plain, u), 'PUB no 0\r\n\r\nSUB a 1\r\nSUB b 2\r\n', false) },
    { name: 'payload limit', run: async (p) => exchange(await rawJwtConnect(p, plain, u), 'PUB ok.x 9\r\n123456789\r\n', true) },
    {
      name: 'account max connections',
      run: async (p) => {
        const first = await rawJwtConnect(p, lJwt, l);
        await first.flushPing(10_000);
        try {
          return await exchange(await rawJwtConnect(p, lJwt, l), '', true);
        } finally {
          first.close();
        }
      },
    },
    {
      name: 'user expires while connected',
      run: async (p) => {
        const e = createUser();
        const c = await rawJwtConnect(p, await userJwt('e', e, a, {}, { exp: Math.floor(Date.now() / 1000) + 2 }), e);
        await c.flushPing(10_000);
        return exchange(c, '', true);
      },
    },
  ];

  const results = async (srv: ChildServer): Promise<Record<string, string[]>> => {
    const out: Record<string, string[]> = {};
    for (const s of scenarios) out[s.name] = await s.run(srv.port);
    return out;
  };
  const servers: ChildServer[] = [];
  t.after(() => Promise.all(servers.map((s) => s.stop())));
  const real = await spawnNatsServer(['-c', file]);
  servers.push(real);
  const ours = await spawnTsnats(['-c', file]);
  servers.push(ours);
  const [want, got] = await Promise.all([results(real), results(ours)]);
  assert.deepEqual(got, want);
  // and what they are, so a change on both sides is noticed too
  assert.deepEqual(want['no jwt'], ["-ERR 'Authorization Violation'"]);
  assert.deepEqual(want['user expires while connected'], ["-ERR 'User Authentication Expired'"]);
});
