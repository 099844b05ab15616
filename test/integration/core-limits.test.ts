// Limits and liveness: slow consumers (pending bytes, write deadline), stale
// connections, the first PING, max_connections, max_subscriptions, auth
// timeout and the authenticator/permissions hook.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connect } from '@nats-io/transport-node';
import { startTestServer, type ServerHandle } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import { subjectMatchesFilter } from '../../src/core/subject.js';
import type { ClientAuthenticator } from '../../src/core/auth-hook.js';

/** A subscriber that never reads its socket. */
async function stalledSubscriber(port: number, subject: string): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.setNoDelay(true);
  s.write(connectLine() + `SUB ${subject} 1\r\nPING\r\n`);
  await new Promise<void>((resolve) => {
    let acc = '';
    const onData = (b: Buffer) => {
      acc += b.toString();
      if (acc.includes('PONG')) {
        s.off('data', onData);
        s.pause();
        resolve();
      }
    };
    s.on('data', onData);
  });
  return s;
}

/** Publish `count` messages of `size` bytes from a raw connection, in large writes. */
async function flood(
  port: number, subject: string, count: number, size: number, pace?: (sent: number) => Promise<void>,
): Promise<void> {
  const s = net.connect({ port, host: '127.0.0.1' });
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.on('data', () => undefined);
  s.write(connectLine());
  const frame = `PUB ${subject} ${size}\r\n${'x'.repeat(size)}\r\n`;
  const batch = Buffer.from(frame.repeat(64));
  for (let sent = 0; sent < count; sent += 64) {
    if (!s.write(batch)) await new Promise<void>((r) => s.once('drain', () => r()));
    if (pace) await pace(sent + 64);
  }
  await new Promise<void>((resolve) => {
    s.write('PING\r\n');
    let acc = '';
    s.on('data', (b) => {
      acc += b.toString();
      if (acc.includes('PONG')) resolve();
    });
  });
  s.destroy();
}

test('slow consumer (pending bytes) is cut without -ERR; others keep receiving', async (t) => {
  const h = await startTestServer({ maxPendingBytes: 512 * 1024, maxPayloadBytes: 64 * 1024 }, t);
  const stalled = await stalledSubscriber(h.port, 'flood');
  t.after(() => stalled.destroy());
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  let received = 0;
  nc.subscribe('flood', { callback: () => { received++; } });
  await nc.flush();
  const COUNT = 16 * 1024;
  // Paced so the healthy subscriber never falls far behind while the stalled one does.
  await flood(h.port, 'flood', COUNT, 1024, async (sent) => {
    if (sent % 256 === 0) await waitUntil(() => received >= sent - 64, 5000, 'healthy subscriber keeps up');
  });
  await waitUntil(() => received === COUNT, 10000, 'healthy subscriber got everything');
  await waitUntil(() => h.server.closedClients.list().some((c) => c.reason === 'Slow Consumer (Pending Bytes)'), 5000, 'slow consumer recorded');
  assert.ok(h.server.stats.slowConsumers >= 1);
  // the stalled socket sees no -ERR: only MSG frames were sent to it
  stalled.resume();
  let text = '';
  stalled.on('data', (b) => { text += b.toString('latin1'); });
  await new Promise<void>((r) => (stalled.destroyed ? r() : stalled.once('close', () => r())));
  assert.ok(!text.includes('-ERR'), 'no -ERR to a slow consumer');
});

test('slow consumer (write deadline)', async (t) => {
  const h = await startTestServer({ writeDeadlineMs: 300, maxPayloadBytes: 64 * 1024 }, t);
  const stalled = await stalledSubscriber(h.port, 'wd');
  t.after(() => stalled.destroy());
  await flood(h.port, 'wd', 16 * 1024, 1024);
  await waitUntil(() => h.server.closedClients.list().some((c) => c.reason === 'Slow Consumer (Write Deadline)'), 5000, 'write deadline slow consumer');
  await waitUntil(() => h.server.clients.size === 0, 3000, 'all connections gone');
});

test('stale connection: unanswered PINGs close it with -ERR', async (t) => {
  const h = await startTestServer({ pingIntervalMs: 250, pingMax: 2 }, t);
  const raw = await RawClient.connect(h.port);
  t.after(() => raw.close());
  raw.send(connectLine());
  await raw.waitClosed(5000);
  assert.match(raw.text, /PING\r\nPING\r\n-ERR 'Stale Connection'\r\n$/);
  await waitUntil(() => h.server.closedClients.list().some((c) => c.reason === 'Stale Connection'));
  // a real client answers the PINGs and stays
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const c = [...h.server.clients.values()][0];
  // several server PINGs answered (RTT measured again) and still connected
  await waitUntil(() => c.rttMs > 0 && Date.now() - c.startMs > 1000, 5000, 'pings answered for a while');
  assert.equal(nc.isClosed(), false);
  assert.equal(h.server.clients.size, 1);
});

test('first PING comes ~2s after CONNECT', async (t) => {
  const h = await startTestServer({}, t);
  const raw = await RawClient.connect(h.port);
  t.after(() => raw.close());
  raw.send(connectLine());
  const start = Date.now();
  await raw.waitFor('PING\r\n', 10_000);
  const elapsed = Date.now() - start;
  // Only a lower bound: how late the PING may come under load is for the benchmarks.
  assert.ok(elapsed >= 1900, `first PING after ${elapsed}ms`);
  raw.send('PONG\r\n');
  await raw.flushPing();
  const c = [...h.server.clients.values()][0];
  assert.ok(c.rttMs > 0, `rtt measured: ${c.rttMs}`);
});

test('max_connections', async (t) => {
  const h = await startTestServer({ maxConnections: 2 }, t);
  const a = await RawClient.connect(h.port);
  const b = await RawClient.connect(h.port);
  t.after(() => { a.close(); b.close(); });
  await a.waitFor('\r\n');
  await b.waitFor('\r\n');
  const c = await RawClient.connect(h.port);
  t.after(() => c.close());
  await c.waitClosed();
  assert.match(c.text, /^INFO \{.*\} \r\n-ERR 'maximum connections exceeded'\r\n$/);
  a.send(connectLine());
  await a.flushPing();
  assert.ok(h.server.closedClients.list().some((x) => x.reason === 'Maximum Connections Exceeded'));
});

test('max_subscriptions', async (t) => {
  const h = await startTestServer({ maxSubscriptions: 2 }, t);
  const { c } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  c.send(connectLine() + 'SUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPUB a 1\r\nx\r\n');
  assert.equal(await c.flushPing(), "-ERR 'maximum subscriptions exceeded'\r\nMSG a 1 1\r\nx\r\n");
});

/** A test authenticator: user a/b; user lim/lim may not publish to deny.> nor subscribe to nosub.>. */
function testAuth(h: ServerHandle): ClientAuthenticator {
  return {
    authRequired: true,
    authenticate(opts) {
      if (opts.user === 'a' && opts.pass === 'b') return { account: h.server.globalAccount, user: 'a' };
      if (opts.user === 'lim' && opts.pass === 'lim') {
        return {
          account: h.server.globalAccount,
          user: 'lim',
          permissions: {
            canPublish: (s) => !subjectMatchesFilter(s, 'deny.>'),
            canSubscribe: (s) => !subjectMatchesFilter(s, 'nosub.>') && s !== 'nosub.>',
          },
        };
      }
      return null;
    },
  };
}

test('auth: required flag, CONNECT first, bad credentials, timeout, permissions', async (t) => {
  const h = await startTestServer({ authTimeoutMs: 300 }, t);
  h.server.setAuthenticator(testAuth(h));

  const { c: first, info } = await RawClient.connectInfo(h.port);
  t.after(() => first.close());
  assert.equal(info.auth_required, true);
  first.send('PING\r\n');
  await first.waitClosed();
  assert.equal(first.text, "-ERR 'Authorization Violation'\r\n");

  const { c: wrong } = await RawClient.connectInfo(h.port);
  t.after(() => wrong.close());
  wrong.send(connectLine({ user: 'a', pass: 'x' }) + 'PING\r\n');
  await wrong.waitClosed();
  assert.equal(wrong.text, "-ERR 'Authorization Violation'\r\n");

  const { c: slow } = await RawClient.connectInfo(h.port);
  t.after(() => slow.close());
  const t0 = Date.now();
  await slow.waitClosed(3000);
  assert.equal(slow.text, "-ERR 'Authentication Timeout'\r\n");
  assert.ok(Date.now() - t0 >= 250);

  const { c: lim } = await RawClient.connectInfo(h.port);
  t.after(() => lim.close());
  lim.send(connectLine({ user: 'lim', pass: 'lim' }) + 'SUB nosub.x 1\r\nSUB nosub.x q1 2\r\nSUB ok 3\r\nPUB deny.x 2\r\nhi\r\nPUB ok 2\r\nhi\r\n');
  assert.equal(await lim.flushPing(),
    "-ERR 'Permissions Violation for Subscription to \"nosub.x\"'\r\n"
    + "-ERR 'Permissions Violation for Subscription to \"nosub.x\" using queue \"q1\"'\r\n"
    + "-ERR 'Permissions Violation for Publish to \"deny.x\"'\r\n"
    + 'MSG ok 3 2\r\nhi\r\n');

  const nc = await connect({ servers: h.clientUrl, user: 'a', pass: 'b' });
  t.after(() => nc.close());
  const r = nc.subscribe('x', { max: 1 });
  nc.publish('x', 'ok');
  for await (const m of r) assert.equal(m.string(), 'ok');
  await assert.rejects(connect({ servers: h.clientUrl, user: 'a', pass: 'nope', reconnect: false }), /auth/i);
  const reasons = h.server.closedClients.list().map((x) => x.reason);
  assert.ok(reasons.includes('Authentication Timeout'));
  assert.ok(reasons.includes('Authentication Failure'));
});
