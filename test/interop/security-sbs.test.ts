// Side by side with nats-server 2.9.10, same config file: TLS (required, mutual,
// verify_and_map with e-mail SAN and DNs in both attribute orders) and bcrypt
// passwords give the same connect outcome on both servers; response and queue
// permissions, and a SIGHUP reload that changes users and permissions, give the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import { makeCerts } from '../helpers/certs.js';
import { natsServerSkip, opensslSkip } from '../helpers/nats-server.js';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import { runScenario, type Scenario } from '../helpers/scenario.js';

const skip = opensslSkip() || natsServerSkip();

/** "ok" or the first line of the connect error. */
async function outcome(port: number, opts: ConnectionOptions): Promise<string> {
  try {
    const nc = await connect({ port, reconnect: false, timeout: 3000, ...opts });
    await nc.flush();
    await nc.close();
    return 'ok';
  } catch (e) {
    const msg = String((e as Error).message);
    if (/Authorization Violation/i.test(msg)) return 'auth violation';
    return 'refused';
  }
}

async function both(conf: string, fn: (s: ChildServer) => Promise<string[]>): Promise<{ ns: string[]; ts: string[] }> {
  const ns = await spawnNatsServer(['-c', conf]);
  const ts = await spawnTsnats(['-c', conf]);
  try {
    return { ns: await fn(ns), ts: await fn(ts) };
  } finally {
    await ns.stop();
    await ts.stop();
  }
}

test('verify_and_map and mutual TLS: same outcomes as nats-server', { skip }, async (t) => {
  const c = makeCerts(t);
  const bob = c.issue('bob', '/CN=bob/OU=ops/O=acme');
  const carol = c.issue('carol', '/CN=carol/O=acme');
  const dave = c.issue('dave', '/CN=dave/O=acme', ['DNS:dave.acme.test']);
  const eve = c.issue('eve', '/CN=eve/O=acme');
  const conf = join(c.dir, 'map.conf');
  writeFileSync(conf, [
    'listen: 127.0.0.1:-1',
    `tls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}", ca_file: "${c.ca}", verify_and_map: true }`,
    'authorization { users: [',
    '  { user: "client@tsnats.test" }',
    '  { user: "O=acme,OU=ops,CN=bob" }',
    '  { user: "CN=carol,O=acme" }',
    '  { user: "dave.acme.test" }',
    '] }',
  ].join('\n'));
  const ca = c.pem(c.ca);
  const who = [
    { ca, cert: c.pem(c.clientCert), key: c.pem(c.clientKey) },
    { ca, cert: c.pem(bob.cert), key: c.pem(bob.key) },
    { ca, cert: c.pem(carol.cert), key: c.pem(carol.key) },
    { ca, cert: c.pem(dave.cert), key: c.pem(dave.key) },
    { ca, cert: c.pem(eve.cert), key: c.pem(eve.key) },
    { ca },
  ];
  const r = await both(conf, async (s) => {
    const out: string[] = [];
    for (const tls of who) out.push(await outcome(s.port, { tls }));
    return out;
  });
  assert.deepEqual(r.ts, r.ns);
  assert.deepEqual(r.ts.slice(0, 4), ['ok', 'ok', 'ok', 'ok']);
});

test('bcrypt users: same outcomes as nats-server', { skip }, async (t) => {
  const c = makeCerts(t);
  const conf = join(c.dir, 'bcrypt.conf');
  writeFileSync(conf, [
    'listen: 127.0.0.1:-1',
    'authorization { users: [',
    `  { user: a, password: "${bcrypt.hashSync('pa', 6).replace(/^\$2b\$/, '$2a$')}" }`,
    `  { user: b, password: "${bcrypt.hashSync('pb', 6)}" }`,
    '] }',
  ].join('\n'));
  const tries: [string, string][] = [['a', 'pa'], ['b', 'pb'], ['a', 'pb'], ['b', ''], ['c', 'pa']];
  const r = await both(conf, async (s) => {
    const out: string[] = [];
    for (const [user, pass] of tries) out.push(await outcome(s.port, { user, pass }));
    return out;
  });
  assert.deepEqual(r.ts, r.ns);
  assert.deepEqual(r.ts, ['ok', 'ok', 'auth violation', 'auth violation', 'auth violation']);
});

test('plaintext clients on a TLS-required port: same bytes as nats-server', { skip }, async (t) => {
  const c = makeCerts(t);
  const conf = join(c.dir, 'plain.conf');
  writeFileSync(conf, `listen: 127.0.0.1:-1\ntls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}", timeout: 0.5 }\n`);
  const r = await both(conf, async (s) => {
    const out: string[] = [];
    for (const send of ['CONNECT {"verbose":false}\r\nPING\r\n', null]) {
      const { c: raw, info } = await RawClient.connectInfo(s.port);
      assert.equal(info.tls_required, true);
      if (send !== null) raw.send(send);
      await raw.waitClosed(10_000);
      out.push(raw.text);
    }
    return out;
  });
  assert.deepEqual(r.ts, r.ns);
  assert.deepEqual(r.ts, ['', '']);
});

test('allow_responses and queue permissions: same bytes as nats-server', { skip }, async (t) => {
  const c = makeCerts(t);
  const conf = join(c.dir, 'resp.conf');
  writeFileSync(conf, [
    'listen: 127.0.0.1:-1',
    'authorization { users: [',
    '  { user: r, password: r, permissions: {',
    '      allow_responses: { max: 2 }',
    '      subscribe: { allow: ["req", "q.work v1.*", "q.work w1"], deny: ["q.work v1.x"] } } }',
    // only a publish deny: allow_responses turns the implicit "publish anything" off
    '  { user: d, password: d, permissions: { publish: { deny: "rep.9" }, allow_responses: true } }',
    '  { user: b, password: b }',
    '] }',
  ].join('\n'));
  const R = 0;
  const B = 1;
  const D = 2;
  const sc: Scenario = {
    name: 'responses',
    clients: 3,
    steps: [
      { c: R, send: connectLine({ user: 'r', pass: 'r' }) + 'SUB req 1\r\nSUB q.work v1.a 2\r\nSUB q.work v2 3\r\n'
        + 'SUB q.work w1 4\r\nSUB q.work 5\r\nSUB q.work v1.* 6\r\nSUB q.work v1.x 7\r\nSUB q.work v1.> 8\r\n' },
      { c: R, sync: true },
      { c: D, send: connectLine({ user: 'd', pass: 'd' }) + 'SUB req 1\r\nPUB anything 1\r\nx\r\n' },
      { c: D, sync: true },
      { c: B, send: connectLine({ user: 'b', pass: 'b' }) + 'SUB rep.> 9\r\nPUB req rep.1 2\r\nhi\r\nPUB req rep.9 2\r\nhi\r\n' },
      { c: B, sync: true },
      { c: R, sync: true },
      { c: D, sync: true },
      // r: two answers per request, none to subjects it was not asked on
      { c: R, send: 'PUB rep.1 1\r\na\r\nPUB rep.1 1\r\nb\r\nPUB rep.1 1\r\nc\r\nPUB rep.3 1\r\nd\r\nPUB rep.9 1\r\ne\r\nPUB req 1\r\nf\r\n' },
      { c: R, sync: true },
      // d: one answer per request (the default), even to a subject its publish deny names
      { c: D, send: 'PUB rep.9 1\r\ng\r\nPUB rep.9 1\r\nh\r\nPUB rep.1 1\r\ni\r\nPUB rep.1 1\r\nj\r\n' },
      { c: D, sync: true },
      { c: B, sync: true },
      // a request delivered again can be answered again
      { c: B, send: 'PUB req rep.1 2\r\nhi\r\n' },
      { c: B, sync: true },
      { c: R, send: 'PUB rep.1 1\r\nk\r\n' },
      { c: R, sync: true },
      { c: B, sync: true },
    ],
  };
  const r = await both(conf, async (s) => (await runScenario(s.port, sc)).texts);
  assert.deepEqual(r.ts, r.ns);
  assert.match(r.ts[B], /MSG rep\.1 9 1\r\nk\r\n/);
  assert.match(r.ts[R], /Permissions Violation for Subscription to "q.work" using queue "v2"/);
});

test('SIGHUP with changed users and permissions: same bytes as nats-server', { skip }, async (t) => {
  const c = makeCerts(t);
  const conf = join(c.dir, 'reload.conf');
  const users = (lines: string[]) => ['listen: 127.0.0.1:-1', 'authorization { users: [', ...lines, '] }'].join('\n');
  writeFileSync(conf, users([
    '  { user: a, password: a, permissions: { subscribe: { allow: ["foo.>", "q.work workers", "bar"] } } }',
    '  { user: b, password: b }',
    '  { user: c, password: c }',
    '  { user: p, password: p }',
  ]));
  const after = users([
    '  { user: a, password: a, permissions: { subscribe: { allow: ["foo.bar", "foo.*.x", "q.other workers"], deny: ["foo.baz"] } } }',
    '  { user: b, password: changed }',
    '  { user: p, password: p }',
  ]);
  const r = await both(conf, async (s) => {
    const [a, b, cc, p] = await Promise.all([0, 1, 2, 3].map(() => RawClient.connectInfo(s.port)));
    t.after(() => [a, b, cc, p].forEach((x) => x.c.close()));
    a.c.send(connectLine({ user: 'a', pass: 'a' }) + 'SUB foo.> 1\r\nSUB foo.bar 2\r\nSUB q.work workers 3\r\nSUB bar 4\r\nSUB foo.baz 5\r\nSUB foo.y.x 6\r\n');
    b.c.send(connectLine({ user: 'b', pass: 'b' }));
    cc.c.send(connectLine({ user: 'c', pass: 'c' }));
    p.c.send(connectLine({ user: 'p', pass: 'p' }));
    for (const x of [a, b, cc, p]) assert.equal(await x.c.flushPing(), '');
    writeFileSync(conf, after);
    s.proc.kill('SIGHUP');
    // four subscriptions are no longer allowed; the order of their -ERRs is not defined
    const errs = await a.c.waitFor((x) => x.split('-ERR').length === 5);
    a.c.clear();
    await b.c.waitClosed();
    await cc.c.waitClosed();
    p.c.send('PUB foo.bar 1\r\n1\r\nPUB foo.baz 1\r\n2\r\nPUB bar 1\r\n3\r\nPUB foo.y.x 1\r\n4\r\nPUB q.work 1\r\n5\r\n');
    await p.c.flushPing();
    return [errs.split('\r\n').sort().join('\r\n'), b.c.text, cc.c.text, await a.c.flushPing()];
  });
  assert.deepEqual(r.ts, r.ns);
  assert.deepEqual(r.ts.slice(1), ["-ERR 'Authorization Violation'\r\n", '', 'MSG foo.bar 2 1\r\n1\r\nMSG foo.y.x 6 1\r\n4\r\n']);
});
