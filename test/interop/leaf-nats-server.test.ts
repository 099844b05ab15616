// Leaf nodes against the real nats-server 2.9.10: nats-server as hub with a tsnats leaf, and a
// tsnats hub with a nats-server leaf, in plain TCP and with TLS (mutual verification). Interest on the far side is awaited by publishing until
// the first message arrives (nats-server's interest is not visible from here).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection, type Msg } from '@nats-io/transport-node';
import { captureLog, startTestServer, type ServerHandle } from '../helpers/server.js';
import { accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, userJwt } from '../helpers/jwt-flow.js';
import { client, exercise, leafListenPort, natsServer, publishUntilSeen } from '../helpers/leaf-interop.js';
import { natsServerSkip, opensslSkip } from '../helpers/nats-server.js';
import { makeCerts } from '../helpers/certs.js';
import { waitUntil } from '../helpers/wait.js';
import { getLeafnodes } from '../../src/leaf/index.js';
import { loadConfigText } from '../../src/config/load.js';

const skip = natsServerSkip();

test('leaf interop: nats-server 2.9.10 hub, tsnats leaf', { skip }, async (t) => {
  const hub = await natsServer(t, 'listen: 127.0.0.1:-1\nleafnodes { listen: "127.0.0.1:-1" }\n');
  const leafPort = await leafListenPort(hub);
  const leaf: ServerHandle = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`nats://127.0.0.1:${leafPort}`] }] },
  }, t);
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1, 5000, 'leaf link');
  await exercise(t, `nats://127.0.0.1:${hub.port}`, leaf.clientUrl);
});

test('leaf interop: tsnats hub, nats-server 2.9.10 leaf', { skip }, async (t) => {
  const hub = await startTestServer({ leafnodes: { host: '127.0.0.1', port: 0, users: [], reconnectMs: 50, remotes: [] } }, t);
  const port = getLeafnodes(hub.server)!.port;
  const leaf = await natsServer(t, `listen: 127.0.0.1:-1\nleafnodes { remotes [ { url: "nats://127.0.0.1:${port}" } ] }\n`);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 10000, 'leaf link');
  await exercise(t, hub.clientUrl, `nats://127.0.0.1:${leaf.port}`);
});

test('leaf interop: nats-server hub authorizes the tsnats leaf and binds it to account A', { skip }, async (t) => {
  const hub = await natsServer(t, [
    'listen: 127.0.0.1:-1',
    'accounts { A { users [ { user: a, password: a } ] }, B { users [ { user: b, password: b } ] } }',
    'leafnodes { listen: "127.0.0.1:-1", authorization { users [ { user: lu, password: lp, account: A } ] } }',
  ].join('\n') + '\n');
  const leafPort = await leafListenPort(hub);
  const leaf = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`nats://lu:lp@127.0.0.1:${leafPort}`] }] },
  }, t);
  // (the binding to A is shown by where the leaf's messages arrive)
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1, 10000, 'leaf link');
  const inA = await connect({ servers: `nats://127.0.0.1:${hub.port}`, user: 'a', pass: 'a' });
  t.after(() => inA.close());
  const inB = await connect({ servers: `nats://127.0.0.1:${hub.port}`, user: 'b', pass: 'b' });
  t.after(() => inB.close());
  const gotA: Msg[] = [];
  const gotB: Msg[] = [];
  inA.subscribe('acc.msg', { callback: (_e, m) => { gotA.push(m); } });
  inB.subscribe('acc.msg', { callback: (_e, m) => { gotB.push(m); } });
  await inA.flush();
  await inB.flush();
  const lc = await client(leaf.clientUrl, t);
  await publishUntilSeen(lc, 'acc.msg', gotA);
  await inB.flush();
  assert.equal(gotB.length, 0, 'account B never sees the leaf traffic');

  // a wrong password is refused by nats-server
  const bad = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`nats://lu:nope@127.0.0.1:${leafPort}`] }] },
  }, t);
  await waitUntil(() => /authentication error|Authorization Violation/i.test(hub.output()), 10000, 'hub refuses the bad password');
  void bad;
});

// ---- TLS (certificates made by the test with openssl) ----

const tlsSkip = skip || opensslSkip();

test('leaf interop TLS: nats-server 2.9.10 hub verifying client certificates, tsnats leaf over tls://', { skip: tlsSkip }, async (t) => {
  const c = makeCerts(t);
  const hub = await natsServer(t, [
    'listen: 127.0.0.1:-1',
    `leafnodes { listen: "127.0.0.1:-1", tls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}", ca_file: "${c.ca}", verify: true } }`,
  ].join('\n') + '\n');
  const leafPort = await leafListenPort(hub);
  const leaf = await startTestServer({
    leafnodes: {
      host: '127.0.0.1', users: [], reconnectMs: 50,
      remotes: [{ urls: [`tls://127.0.0.1:${leafPort}`], tls: { certFile: c.clientCert, keyFile: c.clientKey, caFile: c.ca } }],
    },
  }, t);
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1, 10000, 'TLS leaf link');
  assert.equal(getLeafnodes(leaf.server)!.connections()[0]!.tls, true);
  await exercise(t, `nats://127.0.0.1:${hub.port}`, leaf.clientUrl);

  // without a client certificate nats-server refuses the handshake and nothing links
  const noCert = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`tls://127.0.0.1:${leafPort}`], tls: { caFile: c.ca } }] },
  }, t);
  await waitUntil(() => /TLS leafnode handshake error/.test(hub.output()), 10000, 'nats-server refuses the leaf without a certificate');
  void noCert;
});

test('leaf interop TLS: tsnats hub verifying client certificates, nats-server 2.9.10 leaf', { skip: tlsSkip }, async (t) => {
  const c = makeCerts(t);
  const hub = await startTestServer({
    leafnodes: {
      host: '127.0.0.1', port: 0, users: [], reconnectMs: 50, remotes: [],
      tls: { certFile: c.serverCert, keyFile: c.serverKey, caFile: c.ca, verify: true },
    },
  }, t);
  const port = getLeafnodes(hub.server)!.port;
  const leaf = await natsServer(t, [
    'listen: 127.0.0.1:-1',
    `leafnodes { remotes [ { url: "tls://127.0.0.1:${port}", tls { cert_file: "${c.clientCert}", key_file: "${c.clientKey}", ca_file: "${c.ca}" } } ] }`,
  ].join('\n') + '\n');
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 10000, 'TLS leaf link');
  assert.equal(getLeafnodes(hub.server)!.connections()[0]!.tls, true);
  await exercise(t, hub.clientUrl, `nats://127.0.0.1:${leaf.port}`);
});

// ---- operator mode: credentials ----

test('leaf interop: nats-server 2.9.10 operator-mode hub takes the tsnats leaf\'s credentials; untrusted ones are refused', { skip }, async (t) => {
  const op = await newOperator();
  const akp = createAccount();
  const ajwt = await accountJwt(op, 'APP', akp);
  const hub = await natsServer(t, operatorConfig(op, { [akp.getPublicKey()]: ajwt }, 'listen: 127.0.0.1:-1\nleafnodes { listen: "127.0.0.1:-1" }'));
  const leafPort = await leafListenPort(hub);
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-leaf-creds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ukp = createUser();
  writeFileSync(join(dir, 'leaf.creds'), credsOf(await userJwt('leaf', ukp, akp), ukp));
  const leaf = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`nats://127.0.0.1:${leafPort}`], credentials: join(dir, 'leaf.creds') }] },
  }, t);
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1, 10000, 'leaf link');
  const ckp = createUser();
  const hc = await connect({ servers: `nats://127.0.0.1:${hub.port}`, authenticator: credsAuthenticator(credsOf(await userJwt('c', ckp, akp), ckp)) });
  t.after(() => hc.close());
  const lc = await client(leaf.clientUrl, t);
  const got: Msg[] = [];
  lc.subscribe('creds.down', { callback: (_e, m) => { got.push(m); } });
  await lc.flush();
  await publishUntilSeen(hc, 'creds.down', got);

  const stranger = createAccount();
  const skp = createUser();
  writeFileSync(join(dir, 'bad.creds'), credsOf(await userJwt('x', skp, stranger), skp));
  const bad = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`nats://127.0.0.1:${leafPort}`], credentials: join(dir, 'bad.creds') }] },
  }, t);
  const badLog = captureLog(bad);
  await waitUntil(() => badLog.filter((l) => /Authorization Violation/.test(l)).length >= 2, 10000, 'refused by nats-server, and retried');
  assert.equal(getLeafnodes(bad.server)!.connections().length, 0);
});

// ---- permissions of the client user a leaf authenticates as ----

const PERMS_HUB = [
  'listen: 127.0.0.1:-1',
  'accounts { A { users [',
  '  { user: lu, password: lp, permissions { publish: "up.>", subscribe: { allow: "down.>", deny: "down.secret" } } }',
  '  { user: c, password: c }',
  '] } }',
].join('\n');

/** Leaf-side clients subscribe inside and outside the permissions; the link must survive and carry only what is allowed. */
async function exercisePerms(t: TestContext, hubUrl: string, leafUrl: string, linkAlive: () => boolean): Promise<void> {
  const hc = await connect({ servers: hubUrl, user: 'c', pass: 'c' });
  t.after(() => hc.close());
  const lc = await client(leafUrl, t);
  const down: Msg[] = [];
  lc.subscribe('down.>', { callback: (_e, m) => { down.push(m); } });
  lc.subscribe('nope', { callback: () => undefined });
  await lc.flush();
  const up: Msg[] = [];
  hc.subscribe('up.ok', { callback: (_e, m) => { up.push(m); } });
  await hc.flush();
  await publishUntilSeen(hc, 'down.x', down);
  await publishUntilSeen(lc, 'up.ok', up);
  hc.publish('down.secret', 'no');
  hc.publish('down.last', 'yes');
  await waitUntil(() => down.some((m) => m.subject === 'down.last'), 5000, 'down.last');
  assert.equal(down.some((m) => m.subject === 'down.secret'), false, 'subscribe deny applies to the leaf');
  assert.ok(linkAlive(), 'the link was not cut for a permissions violation');
}

test('leaf interop: nats-server 2.9.10 hub with a permissioned leaf user, tsnats leaf', { skip }, async (t) => {
  const hub = await natsServer(t, `${PERMS_HUB}\nleafnodes { listen: "127.0.0.1:-1" }\n`);
  const leafPort = await leafListenPort(hub);
  const leaf = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`nats://lu:lp@127.0.0.1:${leafPort}`] }] },
  }, t);
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1, 10000, 'leaf link');
  const first = getLeafnodes(leaf.server)!.connections()[0]!;
  await exercisePerms(t, `nats://127.0.0.1:${hub.port}`, leaf.clientUrl, () => !first.closed && !/Violation/.test(hub.output()));
});

test('leaf interop: tsnats hub with a permissioned leaf user, nats-server 2.9.10 leaf', { skip }, async (t) => {
  const { options } = loadConfigText(`${PERMS_HUB}\nleafnodes { listen: "127.0.0.1:-1" }\n`, 'hub.conf');
  const hub = await startTestServer(options, t);
  const port = getLeafnodes(hub.server)!.port;
  const leaf = await natsServer(t, `listen: 127.0.0.1:-1\nleafnodes { remotes [ { url: "nats://lu:lp@127.0.0.1:${port}" } ] }\n`);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 10000, 'leaf link');
  const first = getLeafnodes(hub.server)!.connections()[0]!;
  await exercisePerms(t, hub.clientUrl, `nats://127.0.0.1:${leaf.port}`, () => !first.closed);
});
