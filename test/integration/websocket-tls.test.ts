// wss: a websocket block with a tls block serves the websocket port over TLS (the client port's
// TLS settings code, src/tls/settings.ts), optionally verifying client certificates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { opensslSkip } from '../helpers/nats-server.js';
import { makeCerts } from '../helpers/certs.js';
import { startTestServer, captureLog } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { rawWs, wsBlock } from '../helpers/ws.js';

test('wss: NATS over websocket over TLS, and a required client certificate', { skip: opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  const h = await startTestServer({ websocket: wsBlock({ noTls: false, tls: { certFile: c.serverCert, keyFile: c.serverKey } }) }, t);
  const log = captureLog(h);
  const port = h.server.listeners.port('websocket')!;
  const url = `wss://127.0.0.1:${port}`;
  const conn = await rawWs(url, { ca: c.pem(c.ca) });
  assert.match(conn.received[0]!, /^INFO \{/);
  conn.ws.send('CONNECT {"verbose":false}\r\nSUB s 1\r\nPUB s 2\r\nhi\r\nPING\r\n');
  await waitUntil(() => conn.received.join('').includes('PONG'), 5000, 'PONG');
  assert.ok(conn.received.join('').includes('MSG s 1 2\r\nhi\r\n'));
  conn.ws.close();
  // a client that does not trust the certificate never gets in
  await assert.rejects(rawWs(url));
  assert.deepEqual(h.server.listeners.urls('websocket'), [`wss://127.0.0.1:${port}`]);
  assert.ok(!log.some((l) => l.includes('DO NOT USE IN PRODUCTION')));

  const v = await startTestServer({
    websocket: wsBlock({ noTls: false, tls: { certFile: c.serverCert, keyFile: c.serverKey, caFile: c.ca, verify: true } }),
  }, t);
  const vurl = `wss://127.0.0.1:${v.server.listeners.port('websocket')}`;
  await assert.rejects(rawWs(vurl, { ca: c.pem(c.ca) }));
  const withCert = await rawWs(vurl, { ca: c.pem(c.ca), cert: c.pem(c.clientCert), key: c.pem(c.clientKey) });
  assert.match(withCert.received[0]!, /^INFO \{/);
  withCert.ws.close();
});
