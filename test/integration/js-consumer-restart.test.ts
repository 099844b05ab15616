// Consumer state survives restarts: a clean shutdown (in-process) and a SIGKILL
// of a server running as a child process. Delivered/ack floor/pending come back,
// acked messages are not redelivered, unacked ones are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startTestServer } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';

const MS = 1_000_000;

function jsOpts(dir: string) {
  return {
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always' as const, strict: true },
  };
}

async function fetchSeqs(nc: NatsConnection, consumer: string, n: number, ack: (seq: number) => boolean): Promise<number[]> {
  const c = await jetstream(nc).consumers.get('S', consumer);
  // Every fetch here asks for messages that are all stored, so it ends with the n-th one; the long
  // expiry only sets the client's idle-heartbeat window (expires / 2), which an ack-sync loop on a
  // loaded machine could outlast at 1 s ("heartbeats missed", seen once under load).
  const it = await c.fetch({ max_messages: n, expires: 10_000 });
  const seqs: number[] = [];
  for await (const m of it) {
    seqs.push(m.seq);
    if (ack(m.seq)) await m.ackAck();
  }
  return seqs;
}

test('clean restart: durable pull consumer resumes where it was, unacked messages come back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-cons-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let h = await startTestServer(jsOpts(dir));
  let nc = await connect({ servers: h.clientUrl });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
    const js = jetstream(nc);
    for (let i = 0; i < 10; i++) await js.publish('s.a', `m${i}`);
    await jsm.consumers.add('S', { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 500 * MS });
    await jsm.consumers.add('S', { durable_name: 'P', deliver_subject: 'dlv.p', ack_policy: AckPolicy.None });
    assert.deepEqual(await fetchSeqs(nc, 'D', 5, (s) => s !== 3 && s !== 5), [1, 2, 3, 4, 5]);
    const ci = await jsm.consumers.info('S', 'D');
    assert.deepEqual([ci.delivered.stream_seq, ci.ack_floor.stream_seq, ci.num_ack_pending], [5, 2, 2]);
  } finally {
    await nc.close();
    await h.shutdown();
  }

  h = await startTestServer(jsOpts(dir), t);
  nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const names = await jsm.consumers.list('S').next();
  assert.deepEqual(names.map((c) => c.name).sort(), ['D', 'P']);
  const ci = await jsm.consumers.info('S', 'D');
  assert.deepEqual([ci.delivered.consumer_seq, ci.delivered.stream_seq], [5, 5]);
  assert.deepEqual([ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq], [2, 2]);
  assert.equal(ci.num_ack_pending, 2);
  assert.equal(ci.num_pending, 5);
  assert.equal(ci.config.ack_wait, 500 * MS);
  // Unacked 3 and 5 are redelivered (delivery count 2), then 6..10.
  const c = await jetstream(nc).consumers.get('S', 'D');
  const got: Array<[number, number]> = [];
  const it = await c.consume({ max_messages: 10 });
  for await (const m of it) {
    got.push([m.seq, m.info.deliveryCount]);
    m.ack();
    if (got.length === 7) break;
  }
  const sorted = [...got].sort((a, b) => a[0] - b[0]);
  assert.deepEqual(sorted.map((g) => g[0]), [3, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(sorted.filter((g) => g[0] === 3 || g[0] === 5).map((g) => g[1]), [2, 2]);
});

/** Run a tsnats server in a child process (so it can be SIGKILLed). Resolves with its port. */
function spawnServer(dir: string): Promise<{ proc: ChildProcess; port: number }> {
  const indexUrl = new URL('../../src/index.js', import.meta.url).href;
  const code = `
    const { startServer } = await import(${JSON.stringify(indexUrl)});
    const h = await startServer({ host: '127.0.0.1', port: 0, jetstream: { enabled: true, storeDir: ${JSON.stringify(dir)},
      maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always', strict: true } }, { quietLog: true });
    process.stdout.write('PORT ' + h.port + '\\n');
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`child did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]) });
      }
    });
    proc.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    proc.on('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
  });
}

function kill9(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill('SIGKILL');
  });
}

test('SIGKILL: acked progress survives, nothing acked comes back, unacked does', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-cons-kill-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let child = await spawnServer(dir);
  t.after(() => kill9(child.proc));
  let nc = await connect({ servers: `nats://127.0.0.1:${child.port}`, reconnect: false });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
  const js = jetstream(nc);
  for (let i = 0; i < 20; i++) await js.publish('s.k', `m${i}`);
  await jsm.consumers.add('S', { durable_name: 'K', ack_policy: AckPolicy.Explicit, ack_wait: 300 * MS });
  // Ack 1..8 (ack-sync: the server has processed each), leave 9 and 10 unacked.
  assert.deepEqual(await fetchSeqs(nc, 'K', 10, (s) => s <= 8), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const before = await jsm.consumers.info('S', 'K');
  assert.deepEqual([before.ack_floor.stream_seq, before.delivered.stream_seq], [8, 10]);
  // An ack-sync reply means the consumer state holding that ack is on disk: kill at once.
  await kill9(child.proc);
  await nc.close();

  child = await spawnServer(dir);
  nc = await connect({ servers: `nats://127.0.0.1:${child.port}`, reconnect: false });
  t.after(() => nc.close());
  const jsm2 = await jetstreamManager(nc);
  const ci = await jsm2.consumers.info('S', 'K');
  assert.equal(ci.ack_floor.stream_seq, 8);
  assert.equal(ci.delivered.stream_seq, 10);
  assert.equal(ci.num_ack_pending, 2);
  const c = await jetstream(nc).consumers.get('S', 'K');
  const seen: number[] = [];
  const it = await c.consume({ max_messages: 20 });
  for await (const m of it) {
    seen.push(m.seq);
    m.ack();
    if (seen.length === 12) break;
  }
  assert.deepEqual([...seen].sort((a, b) => a - b), [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]);
  await waitUntil(async () => (await jsm2.consumers.info('S', 'K')).num_ack_pending === 0, 3000, 'all acked');
  await kill9(child.proc);
});
