// Authentication and permissions from the options (authorization and accounts
// blocks): users, tokens, nkeys, accounts isolation, permissions, no_auth_user,
// reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import { clientSubCount, startTestServer } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import type { AccountConfig } from '../../src/config/options.js';

/** the options' users are enforced (the default, as by the CLI) */
const CFG = { configAuth: true };
const account = (name: string, users: AccountConfig['users']): AccountConfig => ({ name, users, exports: [], imports: [], mappings: {} });

test('embedded servers enforce configured users by default; configAuth:false leaves auth to the embedder', async (t) => {
  const h = await startTestServer({ authorization: { user: 'u', password: 'p' } }, t);
  await assert.rejects(connect({ servers: h.clientUrl, reconnect: false }), /auth/i);
  const ok = await connect({ servers: h.clientUrl, user: 'u', pass: 'p' });
  await ok.close();

  const open = await startTestServer({ authorization: { user: 'u', password: 'p' } }, t, { configAuth: false });
  const nc = await connect({ servers: open.clientUrl });
  await nc.close();
});

test('single user and token', async (t) => {
  const h = await startTestServer({ authorization: { user: 'u', password: 'p' } }, t, CFG);
  const nc = await connect({ servers: h.clientUrl, user: 'u', pass: 'p' });
  await nc.close();
  await assert.rejects(connect({ servers: h.clientUrl, user: 'u', pass: 'x', reconnect: false }), /auth/i);
  await assert.rejects(connect({ servers: h.clientUrl, reconnect: false }), /auth/i);

  const tk = await startTestServer({ authorization: { token: 's3cr3t' } }, t, CFG);
  const nt = await connect({ servers: tk.clientUrl, token: 's3cr3t' });
  await nt.close();
  await assert.rejects(connect({ servers: tk.clientUrl, token: 'nope', reconnect: false }), /auth/i);
});

test('accounts isolate subjects; users land in their account', async (t) => {
  const h = await startTestServer({
    accounts: [account('A', [{ user: 'a1', password: 'x' }, { user: 'a2', password: 'x' }]), account('B', [{ user: 'b1', password: 'x' }])],
  }, t, CFG);
  const conns: NatsConnection[] = [];
  t.after(() => Promise.all(conns.map((c) => c.close())));
  const open = async (user: string) => {
    const c = await connect({ servers: h.clientUrl, user, pass: 'x' });
    conns.push(c);
    return c;
  };
  const [a1, a2, b1] = [await open('a1'), await open('a2'), await open('b1')];
  const gotA: string[] = [];
  const gotB: string[] = [];
  a2.subscribe('news', { callback: (_e, m) => { gotA.push(m.string()); } });
  b1.subscribe('news', { callback: (_e, m) => { gotB.push(m.string()); } });
  await a2.flush();
  await b1.flush();
  a1.publish('news', 'for-A');
  await a1.flush();
  await waitUntil(() => gotA.length === 1);
  await b1.flush();
  assert.deepEqual(gotA, ['for-A']);
  assert.deepEqual(gotB, []);
  const acctOf = (user: string) => [...h.server.clients.values()].find((c) => c.authorizedUser === user)?.account.name;
  assert.equal(acctOf('a1'), 'A');
  assert.equal(acctOf('b1'), 'B');
});

test('permissions: publish allow/deny, subscribe allow with queue entries, delivery-time deny', async (t) => {
  const h = await startTestServer({
    authorization: {
      users: [
        {
          user: 'p', password: 'p',
          permissions: {
            publish: { allow: ['ok.>', 'sub.*'], deny: ['ok.secret'] },
            subscribe: { allow: ['sub.>', 'q.work workers'], deny: ['sub.hidden'] },
          },
        },
        { user: 'free', password: 'f' },
      ],
    },
  }, t, CFG);
  const { c } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  c.send(connectLine({ user: 'p', pass: 'p' })
    + 'SUB sub.> 1\r\nSUB other 2\r\nSUB q.work 3\r\nSUB q.work workers 4\r\nSUB q.work other 5\r\nSUB sub.hidden 6\r\n'
    + 'PUB ok.a 1\r\n1\r\nPUB ok.secret 1\r\n2\r\nPUB nope 1\r\n3\r\n');
  assert.equal(await c.flushPing(),
    "-ERR 'Permissions Violation for Subscription to \"other\"'\r\n"
    + "-ERR 'Permissions Violation for Subscription to \"q.work\"'\r\n"
    + "-ERR 'Permissions Violation for Subscription to \"q.work\" using queue \"other\"'\r\n"
    + "-ERR 'Permissions Violation for Subscription to \"sub.hidden\"'\r\n"
    + "-ERR 'Permissions Violation for Publish to \"ok.secret\"'\r\n"
    + "-ERR 'Permissions Violation for Publish to \"nope\"'\r\n");
  const free = await connect({ servers: h.clientUrl, user: 'free', pass: 'f' });
  t.after(() => free.close());
  free.publish('sub.visible', 'v');
  free.publish('sub.hidden', 'h');
  free.publish('q.work', 'w');
  await free.flush();
  // sub.> is allowed, but sub.hidden is denied: those messages are not delivered
  assert.equal(await c.flushPing(), 'MSG sub.visible 1 1\r\nv\r\nMSG q.work 4 1\r\nw\r\n');
});

test('nkey users sign the nonce', async (t) => {
  const kp = createUser();
  const h = await startTestServer({ authorization: { users: [{ nkey: kp.getPublicKey() }] } }, t, CFG);
  const { c, info } = await RawClient.connectInfo(h.port);
  c.close();
  assert.equal(typeof info.nonce, 'string');
  const nc = await connect({ servers: h.clientUrl, authenticator: nkeyAuthenticator(kp.getSeed()) });
  await nc.flush();
  await nc.close();
  const other = createUser();
  await assert.rejects(connect({ servers: h.clientUrl, authenticator: nkeyAuthenticator(other.getSeed()), reconnect: false }), /auth/i);
});

test('no_auth_user and reload of users', async (t) => {
  const h = await startTestServer({
    accounts: [account('APP', [{ user: 'anon', password: 'x' }, { user: 'dev', password: 'old' }])],
    noAuthUser: 'anon',
  }, t, CFG);
  const { c, info } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  assert.equal(info.auth_required, undefined);
  c.send(connectLine() + 'SUB x 1\r\n');
  await c.flushPing();
  assert.equal(clientSubCount(h.server.lookupAccount('APP')!), 1);

  const dev = await connect({ servers: h.clientUrl, user: 'dev', pass: 'old' });
  await dev.close();
  h.server.reload({ ...h.server.options, accounts: [account('APP', [{ user: 'anon', password: 'x' }, { user: 'dev', password: 'new' }])] });
  await assert.rejects(connect({ servers: h.clientUrl, user: 'dev', pass: 'old', reconnect: false }), /auth/i);
  const dev2 = await connect({ servers: h.clientUrl, user: 'dev', pass: 'new' });
  await dev2.close();
});

test('allow_responses: negative max and expires mean unlimited; an expiry ends the permission', async (t) => {
  const svcPerms = (expiresMs: number) => ({ subscribe: { allow: ['req'] }, allowResponses: { max: -1, expiresMs } });
  const h = await startTestServer({
    authorization: {
      users: [
        { user: 'forever', password: 's', permissions: svcPerms(-1) },
        { user: 'brief', password: 's', permissions: svcPerms(20) },
        { user: 'cli', password: 'c' },
      ],
    },
  }, t, CFG);
  const cli = await connect({ servers: h.clientUrl, user: 'cli', pass: 'c' });
  t.after(() => cli.close());
  const answers: string[] = [];
  cli.subscribe('rep.*', { callback: (_e, m) => void answers.push(`${m.subject}:${m.string()}`) });
  const svc = async (user: string, reply: string): Promise<RawClient> => {
    const { c } = await RawClient.connectInfo(h.port);
    t.after(() => c.close());
    c.send(connectLine({ user, pass: 's' }) + 'SUB req 1\r\n');
    await c.flushPing();
    cli.publish('req', 'q', { reply });
    await cli.flush();
    await c.waitFor(`MSG req 1 ${reply} 1\r\nq\r\n`);
    c.clear();
    return c;
  };
  const forever = await svc('forever', 'rep.1');
  forever.send('PUB rep.1 1\r\na\r\n'.repeat(5));
  assert.equal(await forever.flushPing(), '');
  forever.close();
  // publish denies rep.2, but it was a request's reply subject: answers pass until the
  // permission expires, then the same publish is a violation
  const brief = await svc('brief', 'rep.2');
  let n = 0;
  await waitUntil(async () => {
    brief.send(`PUB rep.2 1\r\n${n++ % 10}\r\n`);
    return (await brief.flushPing()) === "-ERR 'Permissions Violation for Publish to \"rep.2\"'\r\n";
  });
  await cli.flush();
  assert.deepEqual(answers.filter((a) => a.startsWith('rep.1')), ['rep.1:a', 'rep.1:a', 'rep.1:a', 'rep.1:a', 'rep.1:a']);
  assert.equal(answers.filter((a) => a.startsWith('rep.2')).length, n - 1);
});

test('reload: tightened permissions remove denied subscriptions; changed password and removed user disconnect', async (t) => {
  const perms = (allow: string[]) => ({ subscribe: { allow } });
  const h = await startTestServer({
    authorization: {
      users: [
        { user: 'a', password: 'a', permissions: perms(['foo.>', 'q.work workers']) },
        { user: 'b', password: 'b' },
        { user: 'gone', password: 'g' },
      ],
    },
  }, t, CFG);
  const [a, b, gone] = await Promise.all([0, 1, 2].map(async () => (await RawClient.connectInfo(h.port)).c));
  t.after(() => [a, b, gone].forEach((x) => x.close()));
  a.send(connectLine({ user: 'a', pass: 'a' }) + 'SUB foo.> 1\r\nSUB foo.bar 2\r\nSUB q.work workers 3\r\n');
  b.send(connectLine({ user: 'b', pass: 'b' }));
  gone.send(connectLine({ user: 'gone', pass: 'g' }));
  for (const x of [a, b, gone]) assert.equal(await x.flushPing(), '');

  const changed = h.server.reload({
    ...h.server.options,
    authorization: { users: [{ user: 'a', password: 'a', permissions: perms(['foo.bar', 'q.work other']) }, { user: 'b', password: 'new' }] },
  });
  assert.deepEqual(changed, ['authorization']);
  assert.equal(await a.flushPing(),
    "-ERR 'Permissions Violation for Subscription to \"foo.>\" (sid \"1\")'\r\n"
    + "-ERR 'Permissions Violation for Subscription to \"q.work\" (sid \"3\")'\r\n");
  await b.waitClosed();
  assert.equal(b.text, "-ERR 'Authorization Violation'\r\n");
  await gone.waitClosed();
  assert.equal(gone.text, '');
  const pub = await connect({ servers: h.clientUrl, user: 'b', pass: 'new' });
  t.after(() => pub.close());
  pub.publish('foo.bar', '1');
  pub.publish('foo.baz', '2');
  pub.publish('q.work', '3');
  await pub.flush();
  assert.equal(await a.flushPing(), 'MSG foo.bar 2 1\r\n1\r\n');
});
