// What a restart must keep for publishers: the dedupe window, the last msg id for
// Nats-Expected-Last-Msg-Id, per-subject sequences, max_age expiry and the account usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, headers as mkHeaders, type NatsConnection } from '@nats-io/transport-node';
import { startTestServer, type ServerHandle } from '../helpers/server.js';

type Json = Record<string, any>;

async function start(dir: string): Promise<{ h: ServerHandle; nc: NatsConnection }> {
  const h = await startTestServer({
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always', strict: true },
  });
  return { h, nc: await connect({ servers: h.clientUrl, reconnect: false }) };
}

async function req(nc: NatsConnection, subject: string, body: unknown = '', hdrs?: Record<string, string>): Promise<Json> {
  let h;
  if (hdrs) {
    h = mkHeaders();
    for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  }
  const m = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 2000, headers: h });
  return m.json<Json>();
}

test('dedupe, expected headers, max_age and usage survive a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jsaudit-rst-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let env = await start(dir);
  t.after(async () => {
    await env.nc.close().catch(() => {});
    await env.h.shutdown().catch(() => {});
  });
  assert.equal((await req(env.nc, '$JS.API.STREAM.CREATE.R', { name: 'R', subjects: ['r.*'], duplicate_window: 60e9 })).error, undefined);
  assert.equal((await req(env.nc, '$JS.API.STREAM.CREATE.E', { name: 'E', subjects: ['e'], max_age: 700e6, duplicate_window: 500e6 })).error, undefined);
  assert.deepEqual(await req(env.nc, 'r.a', 'one', { 'Nats-Msg-Id': 'id-1' }), { stream: 'R', seq: 1 });
  assert.deepEqual(await req(env.nc, 'r.b', 'two', { 'Nats-Msg-Id': 'id-2' }), { stream: 'R', seq: 2 });
  assert.deepEqual(await req(env.nc, 'e', 'old'), { stream: 'E', seq: 1 });
  const before = await req(env.nc, '$JS.API.INFO');

  await env.nc.close();
  await env.h.shutdown();
  env = await start(dir);
  const { nc } = env;

  const after = await req(nc, '$JS.API.INFO');
  assert.equal(after.storage, before.storage, 'account storage usage is recovered with the streams');
  assert.equal(after.streams, 2);
  assert.deepEqual(await req(nc, 'r.a', 'again', { 'Nats-Msg-Id': 'id-1' }), { stream: 'R', seq: 1, duplicate: true });
  assert.deepEqual((await req(nc, 'r.c', 'x', { 'Nats-Expected-Last-Msg-Id': 'id-1' })).error,
    { code: 400, err_code: 10070, description: 'wrong last msg ID: id-2' });
  assert.deepEqual(await req(nc, 'r.c', 'x', { 'Nats-Expected-Last-Msg-Id': 'id-2' }), { stream: 'R', seq: 3 });
  assert.deepEqual((await req(nc, 'r.a', 'x', { 'Nats-Expected-Last-Subject-Sequence': '2' })).error,
    { code: 400, err_code: 10071, description: 'wrong last sequence: 1' });
  assert.deepEqual(await req(nc, 'r.a', 'x', { 'Nats-Expected-Last-Subject-Sequence': '1' }), { stream: 'R', seq: 4 });

  // The message stored before the restart still expires on time.
  const deadline = Date.now() + 3000;
  let st: Json = {};
  while (Date.now() < deadline) {
    st = (await req(nc, '$JS.API.STREAM.INFO.E')).state;
    if (st.messages === 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(st.messages, 0, 'max_age removed the recovered message');
  assert.equal(st.last_seq, 1);
  const usage = await req(nc, '$JS.API.INFO');
  const r = (await req(nc, '$JS.API.STREAM.INFO.R')).state;
  assert.equal(usage.storage, r.bytes, 'usage = bytes of the streams that still hold messages');
});
