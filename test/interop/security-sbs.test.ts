// Side by side with nats-server 2.9.10, same config file: TLS (required, mutual,
// verify_and_map with e-mail SAN and DNs in both attribute orders) and bcrypt
// passwords give the same connect outcome on both servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import { makeCerts } from '../helpers/certs.js';
import { natsServerSkip, opensslSkip } from '../helpers/nats-server.js';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { RawClient } from '../helpers/raw-client.js';

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
