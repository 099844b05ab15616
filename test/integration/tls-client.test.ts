// Client TLS (issue 13) through the official client: required, available
// (allow_non_tls), an untrusted CA, mutual TLS, verify_and_map, pinned certs,
// handshake_first, a plaintext client on a TLS port and a handshake that never
// finishes; plus bcrypt passwords. Certificates are made per test with openssl.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { waitUntil } from '../helpers/wait.js';
import { connect } from '@nats-io/transport-node';
import bcrypt from 'bcryptjs';
import { startTestServer, captureLog } from '../helpers/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { makeCerts, type CertFiles } from '../helpers/certs.js';
import { opensslSkip } from '../helpers/nats-server.js';
import { spkiSha256 } from '../../src/tls/settings.js';
import type { Options } from '../../src/config/options.js';

const skip = opensslSkip();

function serverTls(c: CertFiles, extra: Partial<NonNullable<Options['tls']>> = {}): Options['tls'] {
  return { certFile: c.serverCert, keyFile: c.serverKey, ...extra };
}

async function roundTrip(nc: Awaited<ReturnType<typeof connect>>): Promise<void> {
  const sub = nc.subscribe('tls.echo', { max: 1 });
  nc.publish('tls.echo', 'hello');
  for await (const m of sub) assert.equal(m.string(), 'hello');
}

test('tls required: INFO says so, the official client upgrades and pub/sub works', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ tls: serverTls(c) }, t);
  const { c: raw, info } = await RawClient.connectInfo(h.port);
  raw.close();
  assert.equal(info.tls_required, true);
  assert.equal(info.tls_available, undefined);
  assert.equal(info.tls_verify, undefined);
  const nc = await connect({ port: h.port, tls: { ca: c.pem(c.ca) } });
  t.after(() => nc.close());
  await roundTrip(nc);
  const client = [...h.server.clients.values()][0]!;
  assert.match(client.tlsVersion ?? '', /^1\.[23]$/);
  assert.ok(client.tlsCipher);
});

test('tls available (allow_non_tls): TLS and plaintext clients both work', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ tls: serverTls(c), allowNonTls: true }, t);
  const { c: raw, info } = await RawClient.connectInfo(h.port);
  assert.equal(info.tls_required, undefined);
  assert.equal(info.tls_available, true);
  raw.send('CONNECT {"verbose":false}\r\nPING\r\n');
  await raw.waitFor('PONG');
  raw.close();
  const plain = await connect({ port: h.port, tls: null });
  t.after(() => plain.close());
  await roundTrip(plain);
  const secure = await connect({ port: h.port, tls: { ca: c.pem(c.ca) } });
  t.after(() => secure.close());
  await roundTrip(secure);
  const versions = [...h.server.clients.values()].map((cl) => cl.tlsVersion);
  assert.ok(versions.includes(undefined) && versions.some((v) => v !== undefined), String(versions));
});

test('a client that trusts another CA cannot connect', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ tls: serverTls(c) }, t);
  await assert.rejects(connect({ port: h.port, tls: { ca: c.pem(c.otherCa) }, reconnect: false }));
  // and the default trust store does not know our CA either
  await assert.rejects(connect({ port: h.port, tls: {}, reconnect: false }));
});

test('mutual TLS (verify): a client certificate from the CA is required', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ tls: serverTls(c, { caFile: c.ca, verify: true }) }, t);
  const log = captureLog(h);
  const { c: raw, info } = await RawClient.connectInfo(h.port);
  raw.close();
  assert.equal(info.tls_verify, true);
  const nc = await connect({ port: h.port, tls: { ca: c.pem(c.ca), cert: c.pem(c.clientCert), key: c.pem(c.clientKey) } });
  t.after(() => nc.close());
  await roundTrip(nc);
  await assert.rejects(connect({ port: h.port, tls: { ca: c.pem(c.ca) }, reconnect: false }), 'no client certificate');
  // a certificate the server's CA did not sign (the other CA's own)
  const stranger = { cert: c.pem(c.otherCa), key: c.pem(c.otherCaKey) };
  await assert.rejects(connect({ port: h.port, tls: { ca: c.pem(c.ca), ...stranger }, reconnect: false }));
  assert.ok(log.some((l) => /TLS handshake error/.test(l)), log.join('\n'));
  assert.equal(h.server.clients.size, 1);
});

test('verify_and_map: the certificate names the user (e-mail SAN, then subject DN)', { skip }, async (t) => {
  const c = makeCerts(t);
  const bob = c.issue('bob', '/CN=bob/OU=ops/O=acme');
  const eve = c.issue('eve', '/CN=eve/O=acme');
  const h = await startTestServer({
    tls: serverTls(c, { caFile: c.ca, verifyAndMap: true }),
    authorization: {
      users: [
        { user: 'client@tsnats.test', permissions: { publish: { allow: ['mapped.>'] }, subscribe: { allow: ['mapped.>'] } } },
        // written in another attribute order than the certificate's
        { user: 'O=acme,OU=ops,CN=bob' },
      ],
    },
  }, t, { configAuth: true });
  const byEmail = await connect({ port: h.port, tls: { ca: c.pem(c.ca), cert: c.pem(c.clientCert), key: c.pem(c.clientKey) } });
  t.after(() => byEmail.close());
  await byEmail.flush();
  const byDn = await connect({ port: h.port, tls: { ca: c.pem(c.ca), cert: c.pem(bob.cert), key: c.pem(bob.key) } });
  t.after(() => byDn.close());
  await byDn.flush();
  const users = [...h.server.clients.values()].map((cl) => cl.authorizedUser).sort();
  assert.deepEqual(users, ['O=acme,OU=ops,CN=bob', 'client@tsnats.test']);
  // permissions of the mapped user apply
  const denied = new Promise<string>((resolve) => {
    void (async () => {
      for await (const s of byEmail.status()) if (s.type === 'error') resolve(String((s as { error?: Error }).error?.message ?? ''));
    })();
  });
  byEmail.publish('other.subject', 'x');
  assert.match(await denied, /Permissions Violation for Publish to "other.subject"/);
  // a valid certificate of nobody configured is refused
  await assert.rejects(
    connect({ port: h.port, tls: { ca: c.pem(c.ca), cert: c.pem(eve.cert), key: c.pem(eve.key) }, reconnect: false }),
    /Authorization Violation/,
  );
});

test('pinned_certs: only the listed client keys pass the handshake', { skip }, async (t) => {
  const c = makeCerts(t);
  const other = c.issue('unpinned', '/CN=unpinned');
  const pin = spkiSha256(new X509Certificate(readFileSync(c.clientCert)));
  const h = await startTestServer({ tls: serverTls(c, { caFile: c.ca, verify: true, pinnedCerts: [pin] }) }, t);
  const log = captureLog(h);
  const nc = await connect({ port: h.port, tls: { ca: c.pem(c.ca), cert: c.pem(c.clientCert), key: c.pem(c.clientKey) } });
  t.after(() => nc.close());
  await nc.flush();
  await assert.rejects(connect({ port: h.port, tls: { ca: c.pem(c.ca), cert: c.pem(other.cert), key: c.pem(other.key) }, reconnect: false }));
  assert.ok(log.some((l) => /TLS handshake error: certificate not pinned/.test(l)), log.join('\n'));
});

test('handshake_first: the TLS handshake comes before INFO', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ tls: serverTls(c, { handshakeFirst: true }) }, t);
  const nc = await connect({ port: h.port, tls: { ca: c.pem(c.ca), handshakeFirst: true } });
  t.after(() => nc.close());
  await roundTrip(nc);
  // a raw TLS socket gets INFO as the first thing inside the tunnel
  const sock = tls.connect({ host: '127.0.0.1', port: h.port, ca: c.pem(c.ca) });
  t.after(() => sock.destroy());
  const first = await new Promise<string>((resolve, reject) => {
    sock.once('data', (b) => resolve(b.toString()));
    sock.once('error', reject);
  });
  assert.match(first, /^INFO \{.*"tls_required":true/);
});

test('a plaintext client on a TLS-required port is closed at once; a silent one at the TLS timeout (as nats-server)', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ tls: serverTls(c, { timeoutSec: 0.5 }) }, t);
  const log = captureLog(h);
  // a client that sends CONNECT in plaintext: the handshake fails at once
  const { c: talker } = await RawClient.connectInfo(h.port);
  talker.send('CONNECT {"verbose":false}\r\nPING\r\n');
  await talker.waitClosed();
  assert.doesNotMatch(talker.text, /PONG/);
  // a client that never starts the handshake: closed at the TLS timeout; nats-server's
  // -ERR 'Secure Connection - TLS Required' never reaches the wire either
  const { c: silent } = await RawClient.connectInfo(h.port);
  await silent.waitClosed(10_000);
  assert.equal(silent.text, '');
  assert.ok(log.some((l) => /TLS handshake error: tls: first record does not look like a TLS handshake/.test(l)), log.join('\n'));
  assert.ok(log.some((l) => /TLS handshake timeout/.test(l)), log.join('\n'));
  const reasons = h.server.closedClients.list().map((cc) => cc.reason);
  assert.deepEqual(reasons, ["TLS Handshake Failure", "TLS Handshake Failure"]);
  assert.equal(h.server.clients.size, 0);
});

test('bcrypt passwords ($2a$ and $2b$) are checked, plain ones still work', async (t) => {
  const a = bcrypt.hashSync('s3cret', 4).replace(/^\$2b\$/, '$2a$');
  const b = bcrypt.hashSync('other', 4);
  assert.match(a, /^\$2a\$/);
  assert.match(b, /^\$2b\$/);
  const h = await startTestServer({
    authorization: { users: [{ user: 'alice', password: a }, { user: 'bob', password: b }, { user: 'carol', password: 'plain' }] },
  }, t, { configAuth: true });
  for (const [user, pass] of [['alice', 's3cret'], ['bob', 'other'], ['carol', 'plain'], ['alice', 's3cret']]) {
    const nc = await connect({ port: h.port, user, pass });
    await nc.flush();
    await nc.close();
  }
  for (const [user, pass] of [['alice', 'wrong'], ['bob', b], ['carol', 'wrong'], ['alice', '']]) {
    await assert.rejects(connect({ port: h.port, user, pass, reconnect: false }), /Authorization Violation/, `${user}/${pass}`);
  }
});

test('bcrypt token', async (t) => {
  const h = await startTestServer({ authorization: { token: bcrypt.hashSync('tok', 4) } }, t, { configAuth: true });
  const nc = await connect({ port: h.port, token: 'tok' });
  await nc.close();
  await assert.rejects(connect({ port: h.port, token: 'nope', reconnect: false }), /Authorization Violation/);
});

test('handshake_first with a fallback delay: TLS-first clients and INFO-first clients both connect', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ tls: serverTls(c, { handshakeFirst: true, handshakeFirstFallbackMs: 50 }) }, t);
  const first = await connect({ port: h.port, tls: { ca: c.pem(c.ca), handshakeFirst: true } });
  t.after(() => first.close());
  await roundTrip(first);
  // a client that waits for INFO gets it (tls_required) after the delay, then upgrades
  const { c: raw, info } = await RawClient.connectInfo(h.port);
  raw.close();
  assert.equal(info.tls_required, true);
  const later = await connect({ port: h.port, tls: { ca: c.pem(c.ca) } });
  t.after(() => later.close());
  await roundTrip(later);
  assert.ok([...h.server.clients.values()].filter((cl) => cl.tlsVersion !== undefined).length >= 2);
});

test('connz shows the TLS version and cipher suite of TLS clients', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ tls: serverTls(c), httpPort: 0, httpHost: '127.0.0.1' }, t);
  const nc = await connect({ port: h.port, tls: { ca: c.pem(c.ca) } });
  t.after(() => nc.close());
  await nc.flush();
  const port = h.server.listeners.port('monitoring')!;
  const connz = await (await fetch(`http://127.0.0.1:${port}/connz`)).json() as { connections: Record<string, unknown>[] };
  assert.equal(connz.connections.length, 1);
  assert.match(String(connz.connections[0]!.tls_version), /^1\.[23]$/);
  assert.match(String(connz.connections[0]!.tls_cipher_suite), /^TLS_/);
});

test('reload turns client TLS on and off for new connections (as nats-server)', { skip }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({}, t);
  const plain = await connect({ port: h.port });
  t.after(() => plain.close());
  const base = h.server.options;
  const changed = h.server.reload({ ...base, tls: serverTls(c) });
  assert.ok(changed.includes('tls'));
  const { c: raw, info } = await RawClient.connectInfo(h.port);
  raw.close();
  assert.equal(info.tls_required, true);
  const secure = await connect({ port: h.port, tls: { ca: c.pem(c.ca) } });
  t.after(() => secure.close());
  await roundTrip(secure);
  // the connection made before the reload keeps working
  await roundTrip(plain);
  // TLS settings tsnats refuses: the previous settings stay
  const log = captureLog(h);
  h.server.reload({ ...base, tls: { certFile: c.serverCert, keyFile: c.serverKey, unsupported: ['ocsp_peer'] } });
  assert.ok(log.some((l) => /Failed to reload the tls configuration/.test(l)), log.join('\n'));
  assert.equal((await RawClient.connectInfo(h.port).then(({ c: r, info: i }) => { r.close(); return i; })).tls_required, true);
  h.server.reload({ ...base, tls: undefined });
  const after = await connect({ port: h.port, tls: null });
  t.after(() => after.close());
  await roundTrip(after);
});

test('clients that reset the connection while the server waits for their first bytes or handshake do not hurt the server', { skip }, async (t) => {
  const c = makeCerts(t);
  for (const opts of [
    { tls: serverTls(c), allowNonTls: true },
    { tls: serverTls(c, { handshakeFirst: true, handshakeFirstFallbackMs: 200 }) },
    { tls: serverTls(c) },
  ] as Partial<Options>[]) {
    const h = await startTestServer(opts, t);
    for (let i = 0; i < 5; i++) {
      const sock = net.connect(h.port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', () => resolve());
        sock.once('error', reject);
      });
      if (i % 2 === 1) await new Promise((r) => sock.once('data', r));
      sock.resetAndDestroy();
    }
    await waitUntil(() => h.server.clients.size === 0, 5000, 'every reset client gone');
    const nc = await connect({ port: h.port, tls: { ca: c.pem(c.ca), handshakeFirst: opts.tls?.handshakeFirst === true } });
    await roundTrip(nc);
    await nc.close();
  }
});

test('bcrypt is checked off the event loop: what a client pipelines after CONNECT waits for the result', async (t) => {
  const hash = bcryptHash('pw');
  const h = await startTestServer({ authorization: { users: [{ user: 'u', password: hash }] } }, t, { configAuth: true });
  // right password, with SUB/PUB/PING in the same packet as CONNECT
  const { c: good } = await RawClient.connectInfo(h.port);
  good.send('CONNECT {"verbose":false,"user":"u","pass":"pw"}\r\nSUB pipe 1\r\nPUB pipe 2\r\nhi\r\nPING\r\n');
  await good.waitFor('PONG', 20_000);
  assert.match(good.text, /^MSG pipe 1 2\r\nhi\r\nPONG\r\n$/);
  good.close();
  // wrong password: the pipelined ops never run
  const { c: bad } = await RawClient.connectInfo(h.port);
  bad.send('CONNECT {"verbose":false,"user":"u","pass":"nope"}\r\nSUB pipe 1\r\nPING\r\n');
  await bad.waitClosed(20_000);
  assert.equal(bad.text, "-ERR 'Authorization Violation'\r\n");
  // the same CONNECT split over two packets, right password
  const { c: split } = await RawClient.connectInfo(h.port);
  split.send('CONNECT {"verbose":false,"user":"u",');
  split.send('"pass":"pw"}\r\nPING\r\n');
  await split.waitFor('PONG', 20_000);
  split.close();
});

function bcryptHash(pw: string): string {
  return bcrypt.hashSync(pw, 4);
}
