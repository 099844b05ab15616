// /jsz, /varz jetstream and /healthz with JetStream running, streams and
// consumers created by the official JetStream client.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startServer, type ServerHandle } from '../../src/index.js';

interface Env { h: ServerHandle; nc: NatsConnection; storeDir: string }

async function startJs(t: TestContext): Promise<Env> {
  const storeDir = mkdtempSync(join(tmpdir(), 'tsnats-monjs-'));
  const h = await startServer({
    port: 0, host: '127.0.0.1', httpPort: 0,
    jetstream: { enabled: true, storeDir, maxMemoryBytes: 64 * 1024 * 1024, maxFileBytes: 256 * 1024 * 1024, syncIntervalMs: 'always', strict: true, domain: 'hub' },
  }, { quietLog: true });
  const nc = await connect({ servers: h.clientUrl, reconnect: false });
  t.after(async () => {
    await nc.close().catch(() => {});
    await h.shutdown();
    rmSync(storeDir, { recursive: true, force: true });
  });
  return { h, nc, storeDir };
}

async function get(h: ServerHandle, path: string): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(`http://127.0.0.1:${h.httpPort}${path}`);
  const text = await r.text();
  return { status: r.status, text, json: JSON.parse(text) };
}

test('/jsz and /varz report JetStream configuration, usage and streams', async (t) => {
  const { h, nc, storeDir } = await startJs(t);
  const jsm = await jetstreamManager(nc, { domain: 'hub' });
  await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
  await jsm.streams.add({ name: 'EVENTS', subjects: ['events.>'], storage: 'memory' as never });
  await jsm.consumers.add('ORDERS', { durable_name: 'proc', ack_policy: 'explicit' as never });
  const js = jetstream(nc, { domain: 'hub' });
  for (let i = 0; i < 3; i++) await js.publish(`orders.${i}`, 'x'.repeat(10));
  await js.publish('events.a', 'e');

  const j = (await get(h, '/jsz')).json;
  assert.equal(j.disabled, undefined);
  assert.equal(j.server_id, nc.info!.server_id);
  assert.equal(j.config.max_memory, 64 * 1024 * 1024);
  assert.equal(j.config.max_storage, 256 * 1024 * 1024);
  assert.equal(j.config.store_dir, join(storeDir, 'jetstream'));
  assert.equal(j.config.domain, 'hub');
  assert.equal(j.config.sync_always, true);
  assert.equal(j.streams, 2);
  assert.equal(j.consumers, 1);
  assert.equal(j.messages, 4);
  assert.ok(j.bytes > 0);
  assert.equal(j.accounts, 1);
  assert.ok(j.memory > 0, 'the memory stream uses memory');
  assert.ok(j.storage > 0, 'the file stream uses storage');
  assert.ok(j.api.total >= 3, `api total ${j.api.total}`);
  assert.equal(j.total, 1);
  assert.equal(j.account_details, undefined);

  const d = (await get(h, '/jsz?accounts=true&streams=true&consumers=true&config=true')).json;
  assert.equal(d.account_details.length, 1);
  const acc = d.account_details[0];
  assert.equal(acc.name, '$G');
  assert.equal(acc.id, '$G');
  assert.deepEqual(acc.stream_detail.map((s: any) => s.name), ['EVENTS', 'ORDERS']);
  const orders = acc.stream_detail.find((s: any) => s.name === 'ORDERS');
  assert.equal(orders.state.messages, 3);
  assert.equal(orders.config.name, 'ORDERS');
  assert.equal(orders.consumer_detail.length, 1);
  assert.equal(orders.consumer_detail[0].name, 'proc');
  assert.equal(orders.consumer_detail[0].config.durable_name, 'proc');
  const noCfg = (await get(h, '/jsz?consumers=1')).json.account_details[0].stream_detail.find((s: any) => s.name === 'ORDERS');
  assert.equal(noCfg.config, undefined);
  assert.equal(noCfg.consumer_detail[0].config, undefined);
  const one = (await get(h, '/jsz?acc=$G&streams=1')).json;
  assert.equal(one.account_details.length, 1);

  const v = (await get(h, '/varz')).json;
  assert.equal(v.jetstream.config.max_memory, 64 * 1024 * 1024);
  assert.equal(v.jetstream.config.domain, 'hub');
  assert.equal(v.jetstream.stats.accounts, 1);
  assert.ok(v.jetstream.stats.api.total >= 3);
});

test('/healthz checks JetStream accounts, streams and consumers', async (t) => {
  const { h, nc, storeDir } = await startJs(t);
  const jsm = await jetstreamManager(nc, { domain: 'hub' });
  await jsm.streams.add({ name: 'S1', subjects: ['s1.>'] });
  await jsm.consumers.add('S1', { durable_name: 'C1', ack_policy: 'explicit' as never });

  assert.deepEqual((await get(h, '/healthz')).json, { status: 'ok' });
  assert.equal((await get(h, '/healthz?js-enabled-only=true')).status, 200);
  assert.equal((await get(h, '/healthz?account=$G&stream=S1')).status, 200);
  assert.equal((await get(h, '/healthz?account=$G&stream=S1&consumer=C1')).status, 200);

  const noStream = await get(h, '/healthz?account=$G&stream=NOPE');
  assert.equal(noStream.status, 404);
  assert.deepEqual(noStream.json, { status: 'unavailable', error: 'JetStream stream "NOPE" not found on account "$G"' });
  const noConsumer = await get(h, '/healthz?account=$G&stream=S1&consumer=NOPE');
  assert.equal(noConsumer.status, 404);
  assert.equal(noConsumer.json.error, 'JetStream consumer "NOPE" not found for stream "S1" on account "$G"');
  const noAccount = await get(h, '/healthz?account=OTHER');
  assert.equal(noAccount.status, 404);
  assert.equal(noAccount.json.error, 'JetStream account "OTHER" not found');
  const details = await get(h, '/healthz?account=$G&stream=NOPE&details=1');
  assert.equal(details.status, 404);
  assert.deepEqual(details.json, {
    status: 'error',
    errors: [{ type: 'STREAM', account: '$G', stream: 'NOPE', error: 'JetStream stream "NOPE" not found on account "$G"' }],
  });

  // A stream directory that was not recovered makes the server unhealthy.
  mkdirSync(join(storeDir, 'jetstream', '$G', 'streams', 'GHOST'), { recursive: true });
  const ghost = await get(h, '/healthz');
  assert.equal(ghost.status, 503);
  assert.deepEqual(ghost.json, { status: 'unavailable', error: "JetStream stream '$G > GHOST' could not be recovered" });
  assert.equal((await get(h, '/healthz?js-enabled-only=true')).status, 200, 'js-enabled-only skips the asset checks');
});
