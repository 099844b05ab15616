// File streams: data and config survive a restart (sequences, dedupe window, deletes),
// and a snapshot taken with the chunked SNAPSHOT protocol restores into a new stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startServer, type ServerHandle } from '../../src/index.js';

async function boot(dir: string): Promise<{ server: ServerHandle; nc: NatsConnection }> {
  const server = await startServer({
    port: 0, host: '127.0.0.1',
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always', strict: true },
  }, { quietLog: true });
  const nc = await connect({ servers: server.clientUrl, reconnect: false });
  return { server, nc };
}

async function stop(e: { server: ServerHandle; nc: NatsConnection }): Promise<void> {
  await e.nc.close().catch(() => {});
  await e.server.shutdown();
}

async function api(nc: NatsConnection, subject: string, body: unknown = ''): Promise<Record<string, any>> {
  const m = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 3000 });
  return JSON.parse(m.string()) as Record<string, any>;
}

test('file streams and their config are recovered after a restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jsr-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let env = await boot(dir);
  try {
    const jsm = await jetstreamManager(env.nc);
    await jsm.streams.add({ name: 'F', subjects: ['f.>'], max_msgs_per_subject: 3, allow_direct: true, description: 'kept' });
    await jsm.streams.add({ name: 'MEM', subjects: ['mem.>'], storage: 'memory' as any });
    const js = jetstream(env.nc);
    for (let i = 1; i <= 5; i++) await js.publish(`f.${i % 2}`, `v${i}`, { msgID: `id-${i}` });
    await jsm.streams.deleteMessage('F', 3);
    assert.ok(existsSync(join(dir, 'jetstream', '$G', 'streams', 'F')));
  } finally {
    await stop(env);
  }

  env = await boot(dir);
  try {
    const jsm = await jetstreamManager(env.nc);
    const si = await jsm.streams.info('F');
    assert.equal(si.config.description, 'kept');
    assert.equal(si.config.max_msgs_per_subject, 3);
    assert.equal(si.state.messages, 4);
    assert.equal(si.state.last_seq, 5);
    assert.equal(si.state.num_deleted, 1);
    // Memory streams do not survive a restart (as with nats-server).
    const mem = await api(env.nc, '$JS.API.STREAM.INFO.MEM');
    assert.equal(mem.error?.err_code, 10059);
    // The duplicate window was rebuilt from the stored Nats-Msg-Id headers.
    const js = jetstream(env.nc);
    const dup = await js.publish('f.1', 'again', { msgID: 'id-5' });
    assert.equal(dup.duplicate, true);
    assert.equal(dup.seq, 5);
    const next = await js.publish('f.1', 'new');
    assert.equal(next.seq, 6);
    // Subjects are live again and direct get is served.
    const m = await env.nc.request('$JS.API.DIRECT.GET.F.f.1', '', { timeout: 2000 });
    assert.equal(m.string(), 'new');
    // Delete removes the directory.
    await jsm.streams.delete('F');
    assert.equal(existsSync(join(dir, 'jetstream', '$G', 'streams', 'F')), false);
  } finally {
    await stop(env);
  }
});

test('snapshot and restore with the chunked, acknowledged protocol', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jss-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const env = await boot(dir);
  t.after(() => stop(env));
  const { nc } = env;
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'SNAP', subjects: ['snap.>'] });
  const js = jetstream(nc);
  const payload = 'x'.repeat(3000);
  for (let i = 1; i <= 40; i++) await js.publish(`snap.${i % 4}`, `${i}:${payload}`);
  await jsm.streams.deleteMessage('SNAP', 7);

  // Snapshot: chunks arrive on the deliver subject; each has an ack reply we must answer.
  const deliver = '_INBOX.snapdeliver';
  const chunks: Buffer[] = [];
  let endCode: number | undefined;
  const sub = nc.subscribe(deliver);
  const collected = (async () => {
    for await (const m of sub) {
      if (m.data.length === 0 && m.headers) {
        endCode = m.headers.code;
        break;
      }
      chunks.push(Buffer.from(m.data));
      if (m.reply) nc.publish(m.reply, '');
    }
  })();
  const snapResp = await api(nc, '$JS.API.STREAM.SNAPSHOT.SNAP', { deliver_subject: deliver, chunk_size: 4096, window_size: 16384 });
  assert.equal(snapResp.type, 'io.nats.jetstream.api.v1.stream_snapshot_response');
  assert.equal(snapResp.config.name, 'SNAP');
  assert.equal(snapResp.state.messages, 39);
  await collected;
  assert.equal(endCode, 204);
  assert.ok(chunks.length > 10, `expected many chunks, got ${chunks.length}`);

  // Restore into a fresh name after deleting the original.
  await jsm.streams.delete('SNAP');
  const exists = await api(nc, '$JS.API.STREAM.RESTORE.SNAP', { config: snapResp.config, state: snapResp.state });
  assert.equal(exists.type, 'io.nats.jetstream.api.v1.stream_restore_response');
  const target = exists.deliver_subject as string;
  assert.match(target, /^\$JS\.SNAPSHOT\.RESTORE\.SNAP\./);
  for (const c of chunks) {
    const ack = await nc.request(target, c, { timeout: 2000 });
    assert.equal(ack.data.length, 0);
  }
  const fin = JSON.parse((await nc.request(target, new Uint8Array(0), { timeout: 5000 })).string());
  assert.equal(fin.type, 'io.nats.jetstream.api.v1.stream_create_response');
  assert.equal(fin.error, undefined, JSON.stringify(fin.error));
  assert.equal(fin.state.messages, 39);
  assert.equal(fin.state.last_seq, 40);
  const m = await jsm.streams.getMessage('SNAP', { seq: 40 });
  assert.equal(m?.string(), `40:${payload}`);
  assert.equal(await jsm.streams.getMessage('SNAP', { seq: 7 }), null);
  // The restored stream takes new messages on its subjects.
  assert.equal((await js.publish('snap.x', 'after')).seq, 41);
  // The restored data counts in the account usage.
  const usage = await api(nc, '$JS.API.INFO');
  const restoredBytes = (await api(nc, '$JS.API.STREAM.INFO.SNAP')).state.bytes;
  assert.equal(usage.storage + usage.memory, restoredBytes);
  // Restoring over an existing stream is refused.
  const again = await api(nc, '$JS.API.STREAM.RESTORE.SNAP', { config: snapResp.config, state: snapResp.state });
  assert.deepEqual(again.error, { code: 400, err_code: 10130, description: 'stream name already in use, cannot restore' });

  // A corrupt upload fails with 10062 and leaves no stream behind.
  const bad = await api(nc, '$JS.API.STREAM.RESTORE.BAD', { config: { ...snapResp.config, name: 'BAD', subjects: ['bad.>'] }, state: snapResp.state });
  const badTarget = bad.deliver_subject as string;
  await nc.request(badTarget, Buffer.from('this is not a snapshot'), { timeout: 2000 });
  const badFin = JSON.parse((await nc.request(badTarget, new Uint8Array(0), { timeout: 5000 })).string());
  assert.equal(badFin.error?.err_code, 10062);
  assert.match(badFin.error.description, /^restore failed: /);
  assert.equal((await api(nc, '$JS.API.STREAM.INFO.BAD')).error?.err_code, 10059);
  assert.equal(existsSync(join(dir, 'jetstream', '$G', 'streams', 'BAD')), false);
});
