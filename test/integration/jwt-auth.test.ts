// Operator (JWT) mode: the nsc-style flow built in the test (operator -> account
// -> user keys and JWTs made with @nats-io/jwt), users connecting with creds
// through the official client, permissions, signing keys and scopes, bearer
// tokens, revocation, expiry, account and user limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, credsAuthenticator, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { startTestServer } from '../helpers/server.js';
import { loadConfigText } from '../../src/config/load.js';
import {
  accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, rawJwtConnect, userJwt,
} from '../helpers/jwt-flow.js';

async function serverFor(t: Parameters<typeof startTestServer>[1], text: string, opts = {}) {
  const { options } = loadConfigText(text, 'jwt.conf');
  return startTestServer({ ...options, ...opts }, t);
}

test('creds connect: INFO has a nonce, users of one account talk, other accounts are isolated', async (t) => {
  const op = await newOperator();
  const [a, b] = [createAccount(), createAccount()];
  const h = await serverFor(t, operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a),
    [b.getPublicKey()]: await accountJwt(op, 'B', b),
  }));
  const [u1, u2, u3] = [createUser(), createUser(), createUser()];
  const conns: NatsConnection[] = [];
  t.after(() => Promise.all(conns.map((c) => c.close())));
  const open = async (jwt: string, ukp: typeof u1) => {
    const nc = await connect({ servers: h.clientUrl, authenticator: credsAuthenticator(credsOf(jwt, ukp)) });
    conns.push(nc);
    return nc;
  };
  const a1 = await open(await userJwt('a1', u1, a), u1);
  const a2 = await open(await userJwt('a2', u2, a), u2);
  const b1 = await open(await userJwt('b1', u3, b), u3);
  assert.equal(a1.info?.auth_required, true);
  assert.equal(typeof a1.info?.nonce, 'string');
  const gotA: string[] = [];
  const gotB: string[] = [];
  a2.subscribe('news', { callback: (_e, m) => { gotA.push(m.string()); } });
  b1.subscribe('news', { callback: (_e, m) => { gotB.push(m.string()); } });
  await a2.flush();
  await b1.flush();
  a1.publish('news', 'hello');
  await a1.flush();
  await a2.flush();
  await b1.flush();
  assert.deepEqual(gotA, ['hello']);
  assert.deepEqual(gotB, []);
  // the authorized user is the user's public key, the account the account's (connz)
  const c = [...h.server.clients.values()].find((x) => x.authorizedUser === u1.getPublicKey());
  assert.equal(c?.account.name, a.getPublicKey());
});

test('refused: no JWT, a bad nonce signature, a user of an unknown account, an account not signed by the operator', async (t) => {
  const op = await newOperator();
  const a = createAccount();
  const rogueOperator = (await import('@nats-io/jwt')).createOperator();
  const rogue = createAccount();
  const h = await serverFor(t, operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a),
    // signed by an operator the server does not trust: not loaded
    [rogue.getPublicKey()]: await (await import('@nats-io/jwt')).encodeAccount('R', rogue, {}, { signer: rogueOperator }),
  }));
  const u = createUser();
  const jwt = await userJwt('u', u, a);
  await assert.rejects(connect({ servers: h.clientUrl, reconnect: false }), /Authorization Violation/);
  // signed by another key than the JWT's subject
  const other = createUser();
  const bad = await rawJwtConnect(h.port, jwt, other);
  await bad.waitFor("-ERR 'Authorization Violation'\r\n");
  await bad.waitClosed();
  const unknown = createAccount();
  await assert.rejects(connect({
    servers: h.clientUrl, reconnect: false, authenticator: credsAuthenticator(credsOf(await userJwt('x', u, unknown), u)),
  }), /Authorization Violation/);
  await assert.rejects(connect({
    servers: h.clientUrl, reconnect: false, authenticator: credsAuthenticator(credsOf(await userJwt('x', u, rogue), u)),
  }), /Authorization Violation/);
  const ok = await connect({ servers: h.clientUrl, authenticator: jwtAuthenticator(jwt, u.getSeed()) });
  await ok.close();
});

test('user permissions from the JWT, and the account default permissions for users without any', async (t) => {
  const op = await newOperator();
  const a = createAccount();
  const h = await serverFor(t, operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a, { default_permissions: { pub: { allow: ['dflt.>'] }, sub: { allow: ['_INBOX.>'] } } }),
  }));
  const u = createUser();
  const jwt = await userJwt('u', u, a, { pub: { allow: ['ok.>'], deny: ['ok.no'] }, sub: { allow: ['in.>'] } });
  const c = await rawJwtConnect(h.port, jwt, u);
  c.send('PUB ok.yes 0\r\n\r\nPUB ok.no 0\r\n\r\nPUB other 0\r\n\r\nSUB in.x 1\r\nSUB out.x 2\r\n');
  const seen = await c.flushPing();
  assert.deepEqual(seen.split('\r\n').filter((l) => l.startsWith('-ERR')), [
    "-ERR 'Permissions Violation for Publish to \"ok.no\"'",
    "-ERR 'Permissions Violation for Publish to \"other\"'",
    "-ERR 'Permissions Violation for Subscription to \"out.x\"'",
  ]);
  c.close();
  const d = createUser();
  const dc = await rawJwtConnect(h.port, await userJwt('d', d, a), d);
  dc.send('PUB dflt.x 0\r\n\r\nPUB ok.yes 0\r\n\r\n');
  assert.deepEqual((await dc.flushPing()).split('\r\n').filter((l) => l.startsWith('-ERR')),
    ["-ERR 'Permissions Violation for Publish to \"ok.yes\"'"]);
  dc.close();
});

test('signing keys: plain and scoped (template with name, subject, account and tags); a scoped user with its own permissions is refused', async (t) => {
  const op = await newOperator();
  const a = createAccount();
  const plainKey = createAccount();
  const scopedKey = createAccount();
  const h = await serverFor(t, operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a, {
      signing_keys: [plainKey.getPublicKey(), {
        kind: 'user_scope', key: scopedKey.getPublicKey(), role: 'dev',
        template: { pub: { allow: ['{{name()}}.>', 'team.{{tag(team)}}'] }, sub: { allow: ['{{account-name()}}.{{subject()}}'] }, subs: -1, payload: -1, data: -1 },
      }],
    }),
  }));
  const u = createUser();
  const viaPlain = await userJwt('p', u, a, {}, { signer: plainKey });
  const nc = await connect({ servers: h.clientUrl, authenticator: credsAuthenticator(credsOf(viaPlain, u)) });
  await nc.close();

  const s = createUser();
  const scoped = await userJwt('alice', s, a, { tags: ['team:red'] }, { signer: scopedKey, scoped: true });
  const c = await rawJwtConnect(h.port, scoped, s);
  c.send(`PUB alice.x 0\r\n\r\nPUB team.red 0\r\n\r\nPUB team.blue 0\r\n\r\nSUB A.${s.getPublicKey()} 1\r\nSUB A.other 2\r\n`);
  assert.deepEqual((await c.flushPing()).split('\r\n').filter((l) => l.startsWith('-ERR')), [
    "-ERR 'Permissions Violation for Publish to \"team.blue\"'",
    "-ERR 'Permissions Violation for Subscription to \"A.other\"'",
  ]);
  c.close();
  // a template tag the user does not have: the permissions cannot be built
  const n = createUser();
  const noTag = await rawJwtConnect(h.port, await userJwt('bob', n, a, {}, { signer: scopedKey, scoped: true }), n);
  await noTag.waitFor("-ERR 'Authorization Violation'\r\n");
  const own = createUser();
  const withPerms = await rawJwtConnect(h.port, await userJwt('x', own, a, { pub: { allow: ['x'] }, tags: ['team:red'] }, { signer: scopedKey }), own);
  await withPerms.waitFor("-ERR 'Authorization Violation'\r\n");
  // a signing key the account does not list
  const stranger = createAccount();
  const st = createUser();
  const viaStranger = await rawJwtConnect(h.port, await userJwt('s', st, a, {}, { signer: stranger }), st);
  await viaStranger.waitFor("-ERR 'Authorization Violation'\r\n");
});

test('bearer tokens need no nonce signature unless the account disallows them', async (t) => {
  const op = await newOperator();
  const [a, strict] = [createAccount(), createAccount()];
  const h = await serverFor(t, operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a),
    [strict.getPublicKey()]: await accountJwt(op, 'S', strict, { limits: { disallow_bearer: true } }),
  }));
  const u = createUser();
  const ok = await rawJwtConnect(h.port, await userJwt('b', u, a, { bearer_token: true }), null);
  assert.equal(await ok.flushPing(), '');
  ok.close();
  const notBearer = await rawJwtConnect(h.port, await userJwt('n', u, a), null);
  await notBearer.waitFor("-ERR 'Authorization Violation'\r\n");
  const refused = await rawJwtConnect(h.port, await userJwt('b', u, strict, { bearer_token: true }), null);
  await refused.waitFor("-ERR 'Authorization Violation'\r\n");
});

test('revoked users and expired users are refused; a connected user is disconnected when its JWT expires', async (t) => {
  const op = await newOperator();
  const a = createAccount();
  const revoked = createUser();
  const revokedJwt = await userJwt('r', revoked, a);
  const nowSec = Math.floor(Date.now() / 1000);
  const h = await serverFor(t, operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a, { revocations: { [revoked.getPublicKey()]: nowSec + 1 } }),
  }));
  await assert.rejects(connect({ servers: h.clientUrl, reconnect: false, authenticator: credsAuthenticator(credsOf(revokedJwt, revoked)) }),
    /Authorization Violation/);
  const old = createUser();
  await assert.rejects(connect({
    servers: h.clientUrl, reconnect: false,
    authenticator: credsAuthenticator(credsOf(await userJwt('old', old, a, {}, { exp: nowSec - 10 }), old)),
  }), /Authorization Violation/);

  const soon = createUser();
  const c = await rawJwtConnect(h.port, await userJwt('soon', soon, a, {}, { exp: Math.floor(Date.now() / 1000) + 2 }), soon);
  assert.equal(await c.flushPing(), '');
  await c.waitFor("-ERR 'User Authentication Expired'\r\n", 10_000);
  await c.waitClosed();
  assert.ok(h.server.closedClients.list().some((x) => x.reason === 'Authentication Expired'));
});

test('account limits: max connections; user limits: subscriptions and payload', async (t) => {
  const op = await newOperator();
  const a = createAccount();
  const h = await serverFor(t, operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a, { limits: { conn: 1, subs: -1, payload: -1, data: -1 } }),
  }));
  const u = createUser();
  const jwt = await userJwt('u', u, a, { subs: 1, payload: 8 });
  const first = await rawJwtConnect(h.port, jwt, u);
  assert.equal(await first.flushPing(), '');
  const second = await rawJwtConnect(h.port, jwt, u);
  await second.waitFor("-ERR 'maximum account active connections exceeded'\r\n");
  await second.waitClosed();
  first.send('SUB a 1\r\nSUB b 2\r\n');
  assert.deepEqual((await first.flushPing()).split('\r\n').filter((l) => l.startsWith('-ERR')), ["-ERR 'maximum subscriptions exceeded'"]);
  first.send('PUB a 9\r\n123456789\r\n');
  await first.waitFor("-ERR 'Maximum Payload Violation'\r\n");
  await first.waitClosed();
});

test('account expiry: connected users are disconnected with nats-server\'s error, new ones refused', async (t) => {
  const op = await newOperator();
  const a = createAccount();
  const h = await serverFor(t, operatorConfig(op, {
    // far enough ahead for a loaded machine to start the server and connect before it expires
    [a.getPublicKey()]: await accountJwt(op, 'A', a, {}, { exp: Math.floor(Date.now() / 1000) + 5 }),
  }));
  const u = createUser();
  const jwt = await userJwt('u', u, a);
  const c = await rawJwtConnect(h.port, jwt, u);
  assert.equal(await c.flushPing(), '');
  await c.waitFor("-ERR 'Account Authentication Expired'\r\n", 15_000);
  await c.waitClosed();
  const again = await rawJwtConnect(h.port, jwt, u);
  await again.waitFor("-ERR 'Authorization Violation'\r\n");
});

test('bad input: garbage JWTs and signed JWTs with fields of the wrong types never hurt the server', async (t) => {
  const op = await newOperator();
  const a = createAccount();
  const h = await serverFor(t, operatorConfig(op, { [a.getPublicKey()]: await accountJwt(op, 'A', a) }));
  const u = createUser();
  for (const jwt of ['a.b.c', 'eyJ.eyJ.x', '...', 'x'.repeat(3000), `${await userJwt('u', u, a)}x`]) {
    const c = await rawJwtConnect(h.port, jwt, u);
    await c.waitFor("-ERR 'Authorization Violation'\r\n");
  }
  const odd = { pub: { allow: 5 }, sub: { deny: [1, null, 'x.>'] }, tags: 'team:red', allowed_connection_types: 3, src: 7, subs: 'many' };
  const c = await rawJwtConnect(h.port, await userJwt('odd', u, a, odd as never), u);
  c.send('SUB x.y 1\r\nPUB q 0\r\n\r\n');
  await c.flushPing().catch(() => undefined);
  c.close();
  // the server still serves a normal user
  const nc = await connect({ servers: h.clientUrl, authenticator: credsAuthenticator(credsOf(await userJwt('ok', u, a), u)) });
  await nc.flush();
  await nc.close();
});

test('user JWT response permissions (resp): reply subjects answered within max; resp alone replaces the account defaults', async (t) => {
  const op = await newOperator();
  const a = createAccount();
  const h = await serverFor(t, operatorConfig(op, {
    [a.getPublicKey()]: await accountJwt(op, 'A', a, { default_permissions: { pub: { allow: ['dflt.>'] }, sub: {} } }),
  }));
  const svc = createUser();
  // ttl in nanoseconds as @nats-io/jwt writes it; 0 max would mean the default (1)
  const sc = await rawJwtConnect(h.port, await userJwt('svc', svc, a, { resp: { max: 2, ttl: 60e9 } }), svc);
  t.after(() => sc.close());
  sc.send('SUB req 1\r\n');
  await sc.flushPing();
  const cli = createUser();
  const cc = await rawJwtConnect(h.port, await userJwt('cli', cli, a, { pub: { allow: ['>'] } }), cli);
  t.after(() => cc.close());
  cc.send('SUB rep.> 9\r\nPUB req rep.1 1\r\nq\r\n');
  await cc.flushPing();
  await sc.waitFor('MSG req 1 rep.1 1\r\nq\r\n');
  sc.clear();
  sc.send('PUB rep.1 1\r\na\r\nPUB rep.1 1\r\nb\r\nPUB rep.1 1\r\nc\r\nPUB dflt.x 0\r\n\r\n');
  assert.equal(await sc.flushPing(),
    "-ERR 'Permissions Violation for Publish to \"rep.1\"'\r\n-ERR 'Permissions Violation for Publish to \"dflt.x\"'\r\n");
  assert.equal(await cc.flushPing(), 'MSG rep.1 9 1\r\na\r\nMSG rep.1 9 1\r\nb\r\n');
});
