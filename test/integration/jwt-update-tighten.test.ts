// An account JWT update that tightens the account (operator mode, full resolver, pushed with
// $SYS.REQ.CLAIMS.UPDATE), side by side with nats-server 2.9.10: what happens to the users
// already connected. 2.9.10 (updateAccountClaimsWithRefresh) applies the new subscription and
// payload limits to them and disconnects those at or over the subscription limit, but the new
// default permissions only reach connections made after the update.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import type { RawClient } from '../helpers/raw-client.js';
import {
  accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, rawJwtConnect, userJwt,
} from '../helpers/jwt-flow.js';

type Spawn = (args: string[]) => Promise<ChildServer>;

/** The -ERR lines of what a connection got. */
const errs = (text: string): string[] => text.split('\r\n').filter((l) => l.startsWith('-ERR'));
/** What a connection got without the server's own PINGs (the first comes ~2s after CONNECT). */
const noPings = (text: string): string => text.replace(/^PING\r\n/gm, '');

async function flow(spawn: Spawn, dir: string): Promise<Record<string, unknown>> {
  const op = await newOperator();
  const a = createAccount();
  const conf = join(dir, 'full.conf');
  writeFileSync(conf, operatorConfig(op, { [a.getPublicKey()]: await accountJwt(op, 'A', a) },
    `listen: "127.0.0.1:-1"\nresolver: { type: full, dir: "${join(dir, 'jwt')}" }`).replace('resolver: MEMORY\n', ''));
  const srv = await spawn(['-c', conf]);
  const out: Record<string, unknown> = {};
  const conns: RawClient[] = [];
  try {
    const user = async (name: string, proto = ''): Promise<RawClient> => {
      const kp = createUser();
      const c = await rawJwtConnect(srv.port, await userJwt(name, kp, a), kp);
      conns.push(c);
      if (proto !== '') c.send(proto);
      assert.equal(noPings(await c.flushPing(5000)), '');
      return c;
    };
    const perms = await user('perms', 'SUB bar 1\r\n');
    const over = await user('over', 'SUB s.1 1\r\nSUB s.2 2\r\nSUB s.3 3\r\n');
    const at = await user('at', 'SUB t.1 1\r\nSUB t.2 2\r\n');
    const under = await user('under', 'SUB u.1 1\r\n');
    const payload = await user('payload');
    const su = createUser();
    const sys = await connect({ port: srv.port, authenticator: credsAuthenticator(credsOf(await userJwt('sys', su, op.sys), su)) });
    try {
      await new Promise((r) => setTimeout(r, 1100)); // a newer JWT needs a later iat (seconds)
      const update = await accountJwt(op, 'A', a, {
        default_permissions: { pub: { deny: ['foo'] }, sub: { deny: ['bar'] } },
        limits: { subs: 2, payload: 4 },
      });
      const reply = await sys.request('$SYS.REQ.CLAIMS.UPDATE', update, { timeout: 5000 });
      out.update = (JSON.parse(reply.string()) as { data?: { code: number } }).data?.code;
    } finally {
      await sys.close();
    }
    // over and at the new subscription limit
    await over.waitClosed(5000);
    out.over = errs(over.text);
    await at.waitClosed(5000);
    out.at = errs(at.text);
    out.under = noPings(await under.flushPing(5000));
    // the new payload limit applies to a connected user
    payload.send('PUB p 5\r\nhello\r\n');
    await payload.waitClosed(5000);
    out.payload = errs(payload.text);
    // the new default permissions do not: publish on foo and receive on bar as before
    perms.send('PUB foo 1\r\nx\r\nPUB bar 2\r\nhi\r\n');
    out.perms = noPings(await perms.flushPing(5000));
    // a user connecting now gets them
    const late = await user('late');
    late.send('PUB foo 1\r\nx\r\nSUB bar 1\r\n');
    const text = await late.flushPing(5000);
    out.late = errs(text);
    // after the PONG to its first PING, an INFO with its own max_payload
    const info = text.split('\r\n').find((l) => l.startsWith('INFO '));
    out.lateInfo = info === undefined ? null : (JSON.parse(info.slice(5)) as { max_payload: number }).max_payload;
  } finally {
    for (const c of conns) c.close();
    await srv.stop();
  }
  return out;
}

test('an account JWT update that tightens limits and default permissions: connected users as nats-server', { skip: natsServerSkip(), timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jwt-tighten-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [d1, d2] = [join(dir, 'n'), join(dir, 't')];
  for (const d of [d1, d2]) mkdirSync(d);
  const want = await flow(spawnNatsServer, d1);
  const got = await flow(spawnTsnats, d2);
  assert.deepEqual(got, {
    update: 200,
    over: ["-ERR 'maximum subscriptions exceeded'"],
    at: ["-ERR 'maximum subscriptions exceeded'"],
    under: '',
    payload: ["-ERR 'Maximum Payload Violation'"],
    perms: 'MSG bar 1 2\r\nhi\r\n',
    late: ["-ERR 'Permissions Violation for Publish to \"foo\"'", "-ERR 'Permissions Violation for Subscription to \"bar\"'"],
    lateInfo: 4,
  });
  assert.deepEqual(got, want);
});
