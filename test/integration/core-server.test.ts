// Server extension points: INFO fields, async INFO, trace logging,
// no_auth_user binding, and the route hooks (interest callbacks, RouteSink
// forwarding with queue picks, deliverRouted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { startTestServer, captureLog, clientSubCount } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import { ClientKind, InboundMsg, Subscription, type RouteSink } from '../../src/core/types.js';
import type { Account } from '../../src/core/account.js';

test('INFO: client_advertise, extra fields, async INFO only to protocol 1 clients', async (t) => {
  const h = await startTestServer({ clientAdvertise: 'nats.example.com:4333' }, t);
  const { c, info } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  assert.equal(info.host, 'nats.example.com');
  assert.equal(info.port, 4333);
  assert.equal(info.version, '2.10.0');
  assert.equal(info.proto, 1);
  assert.equal(info.headers, true);
  assert.equal(typeof info.go, 'string');
  assert.match(String(info.server_id), /^N[A-Z2-7]{55}$/);
  assert.equal(info.server_name, info.server_id);
  c.send(connectLine());
  await c.flushPing();
  const { c: old } = await RawClient.connectInfo(h.port);
  t.after(() => old.close());
  old.send(connectLine({ protocol: 0 }));
  await old.flushPing();

  h.server.setInfoField('jetstream', true);
  h.server.setInfoField('connect_urls', ['10.0.0.1:4222', '10.0.0.2:4222'], true);
  const line = await c.waitFor(/INFO \{.*\} \r\n/);
  const async = JSON.parse(/INFO (\{.*\}) \r\n/.exec(line)![1]);
  assert.deepEqual(async.connect_urls, ['10.0.0.1:4222', '10.0.0.2:4222']);
  assert.equal(async.jetstream, true);
  assert.equal(await old.flushPing(), '', 'protocol 0 clients get no async INFO');
  const { c: c3, info: info3 } = await RawClient.connectInfo(h.port);
  c3.close();
  assert.equal(info3.jetstream, true);
  const keys = Object.keys(info3);
  assert.ok(keys.indexOf('jetstream') < keys.indexOf('client_id'), 'jetstream comes before client_id as in nats-server');
  h.server.setInfoField('connect_urls', undefined);
  const { c: c4, info: info4 } = await RawClient.connectInfo(h.port);
  c4.close();
  assert.equal(info4.connect_urls, undefined);
});

test('trace logging in nats-server style', async (t) => {
  const h = await startTestServer({ trace: true }, t);
  const lines = captureLog(h);
  const { c } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  c.send(connectLine({ pass: 'secret', user: 'u' }) + 'SUB t 1\r\nPUB t 2\r\nhi\r\n');
  await c.flushPing();
  const text = lines.join('');
  assert.match(text, /\[TRC\] 127\.0\.0\.1:\d+ - cid:\d+ - <<- \[CONNECT \{.*"pass":"\[REDACTED\]".*\}\]/);
  assert.ok(!text.includes('secret'));
  assert.match(text, /<<- \[SUB t 1\]/);
  assert.match(text, /<<- \[PUB t 2\]/);
  assert.match(text, /->> \[MSG t 1 2\]/);
  assert.match(text, /<<- \[PING\]/);
});

test('no_auth_user style authenticator binds clients without CONNECT credentials', async (t) => {
  const h = await startTestServer({}, t);
  const app = h.server.registerAccount('APP');
  h.server.setAuthenticator({
    authRequired: true,
    noAuthUser: true,
    authenticate: (o) => (o.user === undefined ? { account: app, user: 'anon' } : o.user === 'sys' ? { account: h.server.systemAccount, user: 'sys' } : null),
  });
  const { c, info } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  assert.equal(info.auth_required, undefined);
  c.send('SUB x 1\r\nPUB x 1\r\nx\r\n');
  assert.equal(await c.flushPing(), '+OK\r\n+OK\r\nMSG x 1 1\r\nx\r\n');
  assert.equal(clientSubCount(app), 1, 'subscription lives in the no-auth account');
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const got: string[] = [];
  nc.subscribe('x', { callback: (_e, m) => { got.push(m.string()); } });
  await nc.flush();
  c.send('PUB x 2\r\nyy\r\n');
  await waitUntil(() => got.length === 1);
  const sys = await connect({ servers: h.clientUrl, user: 'sys', pass: 'x' });
  t.after(() => sys.close());
  await sys.flush();
  const conn = [...h.server.clients.values()].find((cl) => cl.authorizedUser === 'sys');
  assert.equal(conn?.account.name, '$SYS');
});

class FakeRoute implements RouteSink {
  readonly kind = ClientKind.ROUTE;
  forwarded: { subject: string; reply: string; queues: string[] | null; payload: string; account: string }[] = [];
  constructor(readonly cid: number) {}
  deliverMsg(): boolean {
    return false;
  }
  forwardMsg(account: Account, msg: InboundMsg, queues: string[] | null): boolean {
    this.forwarded.push({ subject: msg.subject, reply: msg.reply, queues: queues ? [...queues] : null, payload: msg.payload().toString(), account: account.name });
    return true;
  }
}

test('route hooks: local interest callbacks, one forward per route, queue picks, deliverRouted', async (t) => {
  const h = await startTestServer({}, t);
  const events: string[] = [];
  h.server.setRouteBridge({
    onLocalInterest: (acc, subject, queue, delta, weight) => events.push(`${acc.name} ${subject} ${queue ?? '-'} ${delta} ${weight}`),
  });
  const acc = h.server.globalAccount;
  const { c } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  c.send(connectLine() + 'SUB a.* 1\r\nSUB a.* 2\r\nSUB w q 3\r\nSUB w q 4\r\nUNSUB 1\r\nUNSUB 2\r\nUNSUB 3\r\n');
  await c.flushPing();
  assert.deepEqual(events, [
    '$G a.* - 1 0',
    '$G w q 1 1',
    '$G w q 1 2',
    '$G a.* - -1 0',
    '$G w q -1 1',
  ]);
  assert.deepEqual(acc.localInterestSnapshot(), [{ subject: 'w', queue: 'q', weight: 1 }]);

  // Two routes with remote interest; overlapping subs on one route -> still one forward.
  const r1 = new FakeRoute(1001);
  const r2 = new FakeRoute(1002);
  for (const [route, subject, queue] of [[r1, 'x.>', undefined], [r1, 'x.y', undefined], [r2, 'x.y', undefined], [r2, 'w', 'q'], [r1, 'only.remote', 'rq']] as const) {
    const sub = new Subscription(subject, queue, `${route.cid}:${subject}:${queue ?? ''}`, route);
    assert.ok(acc.addSubscription(sub));
  }
  assert.equal(events.length, 5, 'remote interest is not local interest');

  c.send('PUB x.y reply.1 2\r\nhi\r\nPUB w 1\r\nW\r\nPUB only.remote 1\r\nR\r\n');
  // Group q has a local member and one behind r2: a client's message goes to exactly one
  // of them, drawn among all members (queue-spread.test.ts checks the distribution).
  const local = await c.flushPing();
  const xy = { subject: 'x.y', reply: 'reply.1', queues: null, payload: 'hi', account: '$G' };
  const wViaR2 = { subject: 'w', reply: '', queues: ['q'], payload: 'W', account: '$G' };
  assert.deepEqual(r1.forwarded, [xy, { subject: 'only.remote', reply: '', queues: ['rq'], payload: 'R', account: '$G' }]);
  if (local === '') assert.deepEqual(r2.forwarded, [xy, wViaR2], 'the route member took it');
  else {
    assert.equal(local, 'MSG w 4 1\r\nW\r\n', 'the local member took it');
    assert.deepEqual(r2.forwarded, [xy]);
  }

  // When the only queue member is remote, the route is picked with the queue name.
  c.send('UNSUB 4\r\nPUB w 1\r\nV\r\n');
  await c.flushPing();
  assert.deepEqual(r2.forwarded.at(-1), { subject: 'w', reply: '', queues: ['q'], payload: 'V', account: '$G' });

  // Messages from a route reach local subscribers only; queue groups only when listed.
  c.send('SUB in.> 5\r\nSUB in.q qq 6\r\n');
  await c.flushPing();
  const before1 = r1.forwarded.length;
  const n1 = acc.deliverFromRoute('in.q', '', undefined, Buffer.from('plain'), undefined);
  const n2 = acc.deliverFromRoute('in.q', 'r', Buffer.from('NATS/1.0\r\nA: b\r\n\r\n'), Buffer.from('grp'), ['qq']);
  assert.equal(n1, 1);
  assert.equal(n2, 2);
  assert.equal(await c.flushPing(),
    'MSG in.q 5 5\r\nplain\r\n'
    + 'HMSG in.q 5 r 18 21\r\nNATS/1.0\r\nA: b\r\n\r\ngrp\r\n'
    + 'HMSG in.q 6 r 18 21\r\nNATS/1.0\r\nA: b\r\n\r\ngrp\r\n');
  assert.equal(r1.forwarded.length, before1, 'nothing goes back to routes');

  // An internal client's publish is forwarded too.
  const ic = acc.createInternalClient('svc');
  ic.publish('x.z', '', undefined, 'from-internal');
  assert.equal(r1.forwarded.at(-1)?.payload, 'from-internal');
  ic.close();
});

test('newest nats-server rules where 2.9.10 differs', async (t) => {
  const h = await startTestServer({}, t);
  const { c } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  // a second CONNECT drops the subscriptions (the account may change)
  c.send(connectLine() + 'SUB a 1\r\n');
  await c.flushPing();
  c.send(connectLine() + 'PUB a 1\r\nx\r\n');
  assert.equal(await c.flushPing(), '');
  assert.equal(clientSubCount(h.server.globalAccount), 0);
  // reserved publish prefixes
  c.send('SUB > 2\r\nPUB $GNR.x 1\r\nx\r\nPUB $NRG.y 1\r\ny\r\nPUB ok 1\r\nz\r\n');
  assert.equal(await c.flushPing(),
    "-ERR 'Permissions Violation for Publish to \"$GNR.x\"'\r\n"
    + "-ERR 'Permissions Violation for Publish to \"$NRG.y\"'\r\n"
    + 'MSG ok 2 1\r\nz\r\n');
  // raft subjects are fine inside the system account
  const seen: string[] = [];
  const ic = h.server.systemAccount.createInternalClient('nrg');
  ic.subscribe('$NRG.>', (subject) => { seen.push(subject); });
  h.server.setAuthenticator({ authRequired: true, authenticate: () => ({ account: h.server.systemAccount, user: 'sys' }) });
  const { c: sys } = await RawClient.connectInfo(h.port);
  t.after(() => sys.close());
  sys.send(connectLine({ user: 'sys' }) + 'PUB $NRG.AE.g 1\r\nx\r\n');
  assert.equal(await sys.flushPing(), '');
  assert.deepEqual(seen, ['$NRG.AE.g']);
  ic.close();
});
