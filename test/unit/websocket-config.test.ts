// The websocket {} block: every field nats-server 2.9.10 reads, its aliases, and its errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfigText, validateOptions } from '../../src/config/load.js';
import { tlsUnsupportedError } from '../../src/config/tls-unsupported.js';

const load = (text: string) => loadConfigText(text, 't.conf').options;

function loadError(text: string): string {
  try {
    load(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError);
    return e.message;
  }
  throw new Error('expected an error');
}

test('websocket block: all fields', () => {
  const o = load(`websocket {
    listen: "127.0.0.1:8443"
    advertise: "ws.example:443"
    no_tls: true
    same_origin: true
    allowed_origins: ["http://a.example", "https://b.example:8443"]
    handshake_timeout: "3s"
    compression: true
    authorization { user: u, password: p, timeout: 2.5 }
    no_auth_user: someone
  }`);
  assert.deepEqual(o.websocket, {
    host: '127.0.0.1', port: 8443, advertise: 'ws.example:443', noTls: true, sameOrigin: true,
    allowedOrigins: ['http://a.example', 'https://b.example:8443'], handshakeTimeoutMs: 3000, compression: true,
    username: 'u', password: 'p', authTimeoutSec: 2.5, noAuthUser: 'someone',
  });
  assert.deepEqual(o.unsupported, []);
});

test('websocket block: aliases, integer handshake timeout, port -1 and 0', () => {
  const o = load('ws { port: -1, host: 0.0.0.0, origin: "http://x.example", handshake_timeout: 4, compress: true, authentication { token: t } }');
  assert.equal(o.websocket?.port, 0);
  assert.deepEqual(o.websocket?.allowedOrigins, ['http://x.example']);
  assert.equal(o.websocket?.handshakeTimeoutMs, 4000);
  assert.equal(o.websocket?.compression, true);
  assert.equal(o.websocket?.token, 't');
  // port 0: no websocket listener (and nothing to validate)
  const off = load('websocket { port: 0 }');
  assert.equal(off.websocket?.port, undefined);
  assert.equal(validateOptions(off), undefined);
});

// Texts and positions as `nats-server -t` prints them for the same lines.
test('websocket block: errors', () => {
  assert.equal(loadError('websocket { port: 1, bogus: 1 }'), 't.conf:1:21: unknown field "bogus"');
  assert.equal(loadError('websocket { port: 1, handshake_timeout: "soon" }'), 't.conf:1:21: time: invalid duration "soon"');
  assert.equal(loadError('websocket { port: 1, authorization { nope: 1 } }'), 't.conf:1:37: unknown field "nope"');
  assert.equal(loadError('websocket: 1'), 't.conf:1:0: Expected websocket to be a map, got int64');
});

test('websocket block: start-up checks (nats-server validateWebsocketOptions)', () => {
  assert.equal(validateOptions(load('websocket { port: 1 }')), 'websocket requires TLS configuration');
  assert.equal(validateOptions(load('websocket { port: 1, no_tls: true }')), undefined);
  assert.equal(validateOptions(load('websocket { port: 1, no_tls: true, jwt_cookie: c }')),
    'trusted operators or trusted keys configuration is required for JWT authentication via cookie "c"');
  // a tls block replaces no_tls (wss); what tsnats cannot honour in it is refused
  const base = load('websocket { port: 1 }');
  const tls = { ...base, websocket: { ...base.websocket!, tls: { certFile: 'c.pem', keyFile: 'k.pem' } } };
  assert.equal(validateOptions(tls), undefined);
  assert.equal(tlsUnsupportedError(tls), undefined);
  const limited = { ...tls, websocket: { ...tls.websocket, tls: { ...tls.websocket.tls, connectionRateLimit: 5 } } };
  assert.match(tlsUnsupportedError(limited) ?? '', /websocket \(tls block\): connection_rate_limit/);
});
