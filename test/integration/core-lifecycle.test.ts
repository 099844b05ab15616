// Server lifecycle in-process: lame duck mode, shutdown, reload, start time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connect } from '@nats-io/transport-node';
import { startTestServer } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { RawClient, connectLine } from '../helpers/raw-client.js';

test('lame duck: stop accepting, INFO ldm:true, close clients after the grace period, then exit', async (t) => {
  const h = await startTestServer({ lameDuckDurationMs: 1200, lameDuckGracePeriodMs: 300 }, t);
  const nc = await connect({ servers: h.clientUrl, reconnect: false });
  t.after(() => nc.close());
  const statuses: string[] = [];
  void (async () => {
    for await (const s of nc.status()) statuses.push(s.type);
  })();
  const raw = await RawClient.connect(h.port);
  t.after(() => raw.close());
  raw.send(connectLine());
  await raw.flushPing();
  raw.clear();
  const old = await RawClient.connect(h.port);
  t.after(() => old.close());
  old.send(connectLine({ protocol: 0 }));
  await old.flushPing();
  old.clear();

  const t0 = Date.now();
  const done = h.server.enterLameDuckMode();
  const info = await raw.waitFor(/INFO \{.*\} \r\n/);
  assert.match(info, /"ldm":true/);
  await waitUntil(() => statuses.includes('ldm'), 2000, 'nats.js saw lame duck mode');
  await assert.rejects(new Promise((resolve, reject) => {
    const s = net.connect({ port: h.port, host: '127.0.0.1' }, () => { s.destroy(); resolve(undefined); });
    s.on('error', reject);
  }), /ECONNREFUSED/);
  await nc.closed();
  const closedAfter = Date.now() - t0;
  assert.ok(closedAfter >= 250, `clients closed after the grace period (${closedAfter}ms)`);
  // Resolves once every client is gone (the test timeout, not a time bound, catches a hang).
  await done;
  await raw.waitClosed();
  await old.waitClosed();
  assert.ok(!old.text.includes('INFO'), 'protocol 0 clients get no async INFO');
  assert.equal(h.server.running, false);
  assert.ok(h.server.closedClients.list().every((c) => c.reason === 'Server Shutdown'));
});

test('shutdown closes clients and the listener', async (t) => {
  const h = await startTestServer({}, t);
  const nc = await connect({ servers: h.clientUrl, reconnect: false });
  await h.shutdown();
  await nc.closed();
  await assert.rejects(RawClient.connect(h.port), /ECONNREFUSED/);
  assert.equal(h.server.clients.size, 0);
  await h.shutdown(); // idempotent
});

test('reload applies limits to new and existing connections', async (t) => {
  const h = await startTestServer({ maxPayloadBytes: 1024 }, t);
  const { c, info } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  assert.equal(info.max_payload, 1024);
  c.send(connectLine() + 'SUB big 1\r\n');
  await c.flushPing();
  const changed = h.server.reload({ ...h.server.options, maxPayloadBytes: 4096, debug: true });
  assert.deepEqual(changed.sort(), ['debug', 'maxPayloadBytes']);
  const { c: c2, info: info2 } = await RawClient.connectInfo(h.port);
  t.after(() => c2.close());
  assert.equal(info2.max_payload, 4096);
  const body = 'z'.repeat(3000);
  c.send(`PUB big 3000\r\n${body}\r\n`);
  assert.equal(await c.flushPing(), `MSG big 1 3000\r\n${body}\r\n`);
  assert.equal(h.server.log.debugEnabled, true);
});

test('accepts a client as soon as startServer resolves (start-up time is measured by npm run bench)', async (t) => {
  const h = await startTestServer({}, t);
  const { c, info } = await RawClient.connectInfo(h.port);
  c.close();
  assert.equal(info.port, h.port);
});
