// Mirrors and sources across a server restart and with an origin that only appears
// later: nothing is lost, nothing is copied twice, filters and subject transforms hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startTestServer, type ServerHandle } from '../helpers/server.js';

async function start(dir: string): Promise<{ h: ServerHandle; nc: NatsConnection; jsm: JetStreamManager }> {
  const h = await startTestServer({
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always', strict: true },
  });
  const nc = await connect({ servers: h.clientUrl, reconnect: false });
  return { h, nc, jsm: await jetstreamManager(nc) };
}

async function until(what: string, fn: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Subjects and payloads of a stream, in order. */
async function contents(jsm: JetStreamManager, stream: string): Promise<string[]> {
  const si = await jsm.streams.info(stream);
  const out: string[] = [];
  for (let seq = si.state.first_seq; seq > 0 && seq <= si.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) out.push(`${m.subject}=${m.string()}`);
  }
  return out;
}

test('mirror and filtered/transformed source survive a restart and follow an origin created later', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jsaudit-src-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let env = await start(dir);
  t.after(async () => {
    await env.nc.close().catch(() => {});
    await env.h.shutdown().catch(() => {});
  });

  // Both followers exist before their origin does.
  await env.jsm.streams.add({ name: 'M', mirror: { name: 'O' } });
  await env.jsm.streams.add({
    name: 'S', subjects: ['local.>'],
    sources: [{ name: 'O', subject_transforms: [{ src: 'o.a.*', dest: 'copied.$1' }] }],
  });
  await env.jsm.streams.add({ name: 'O', subjects: ['o.>'] });
  for (let i = 0; i < 6; i++) await env.nc.request(i % 2 ? 'o.b.x' : `o.a.${i}`, `v${i}`);
  await until('mirror and source to catch up', async () =>
    (await env.jsm.streams.info('M')).state.messages === 6 && (await env.jsm.streams.info('S')).state.messages === 3);
  assert.deepEqual(await contents(env.jsm, 'S'), ['copied.0=v0', 'copied.2=v2', 'copied.4=v4']);

  // Restart on the same store directory; the origin keeps receiving afterwards.
  await env.nc.close();
  await env.h.shutdown();
  env = await start(dir);
  for (let i = 6; i < 10; i++) await env.nc.request(i % 2 ? 'o.b.x' : `o.a.${i}`, `v${i}`);
  await until('followers to resume after restart', async () =>
    (await env.jsm.streams.info('M')).state.messages === 10 && (await env.jsm.streams.info('S')).state.messages === 5);
  const origin = await contents(env.jsm, 'O');
  assert.deepEqual(await contents(env.jsm, 'M'), origin, 'the mirror is an exact copy, no gaps or repeats');
  assert.deepEqual(await contents(env.jsm, 'S'),
    ['copied.0=v0', 'copied.2=v2', 'copied.4=v4', 'copied.6=v6', 'copied.8=v8']);
  const mi = await env.jsm.streams.info('M');
  assert.equal(mi.state.last_seq, 10, 'mirror keeps the origin sequence numbers');
  assert.equal(mi.mirror?.name, 'O');
  assert.equal(mi.mirror?.lag, 0);
  const si = await env.jsm.streams.info('S');
  assert.equal(si.sources?.[0]?.name, 'O');
  assert.equal(si.sources?.[0]?.lag, 0);
});

test('an origin deleted and created again: followers resume after the sequences they already have', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jsaudit-src2-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = await start(dir);
  t.after(async () => {
    await env.nc.close().catch(() => {});
    await env.h.shutdown().catch(() => {});
  });
  const { jsm, nc } = env;
  const started = Date.now();
  await jsm.streams.add({ name: 'O', subjects: ['o.>'], storage: 'memory' });
  await jsm.streams.add({ name: 'S', storage: 'memory', sources: [{ name: 'O' }] });
  await jsm.streams.add({ name: 'M', storage: 'memory', mirror: { name: 'O' } });
  for (let i = 0; i < 3; i++) await nc.request('o.a', `x${i}`);
  await until('first copies', async () =>
    (await jsm.streams.info('S')).state.messages === 3 && (await jsm.streams.info('M')).state.messages === 3);

  await jsm.streams.delete('O');
  await jsm.streams.add({ name: 'O', subjects: ['o.>'], storage: 'memory' });
  for (let i = 0; i < 5; i++) await nc.request('o.a', `y${i}`);
  // nats-server 2.9.10 answers the same: the new origin's sequences 1..3 were already
  // seen, so only 4 and 5 are copied by both the source and the mirror.
  await until('copies from the new origin', async () =>
    (await jsm.streams.info('S')).state.messages === 5 && (await jsm.streams.info('M')).state.messages === 5);
  assert.deepEqual(await contents(jsm, 'M'), ['o.a=x0', 'o.a=x1', 'o.a=x2', 'o.a=y3', 'o.a=y4']);
  assert.deepEqual(await contents(jsm, 'S'), ['o.a=x0', 'o.a=x1', 'o.a=x2', 'o.a=y3', 'o.a=y4']);
  const mi = await jsm.streams.info('M');
  assert.equal(mi.mirror?.lag, 0);
  // Attached: the last contact lies within this test (not -1, not a time since the epoch).
  const withinTestNs = (Date.now() - started) * 1e6;
  assert.ok(mi.mirror!.active >= 0 && mi.mirror!.active <= withinTestNs, `attached mirror active ${mi.mirror!.active} ns`);
});
