// Progress of long JetStream work: a store recovered at start-up logs how far it is (the
// reporting interval is set low through jetstream.progressIntervalMs instead of making the
// store slow), and work in progress is listed in /healthz?details=true until it ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startServer } from '../../src/index.js';
import type { JetStreamService } from '../../src/jetstream/index.js';
import { ProgressBoard } from '../../src/jetstream/progress.js';

function jsOptions(storeDir: string, progressIntervalMs?: number) {
  return { enabled: true, storeDir, maxMemoryBytes: 64 * 1024 * 1024, maxFileBytes: 1024 * 1024 * 1024, syncIntervalMs: 1000, strict: true, progressIntervalMs };
}

test('store recovery at start-up logs its progress and its end', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-progress-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const storeDir = join(root, 'store');
  const first = await startServer({ port: 0, host: '127.0.0.1', jetstream: jsOptions(storeDir) }, { quietLog: true });
  try {
    const nc = await connect({ servers: first.clientUrl, reconnect: false });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'BIG', subjects: ['big.>'] });
    const js = jetstream(nc);
    // 12 MiB: more than one 8 MiB block, so the recovery has steps to report.
    const payload = Buffer.alloc(16 * 1024, 7);
    const acks = [];
    for (let i = 0; i < 768; i++) acks.push(js.publish(`big.${i % 10}`, payload));
    await Promise.all(acks);
    await nc.close();
  } finally {
    await first.shutdown();
  }

  const logFile = join(root, 'server.log');
  // Not quiet: the log goes to the file (and only there).
  const h = await startServer({ port: 0, host: '127.0.0.1', httpPort: 0, logFile, jetstream: jsOptions(storeDir, 0) });
  t.after(() => h.shutdown());
  const log = readFileSync(logFile, 'utf8');
  const steps = log.split('\n').filter((l) => /JetStream: recovering stream '\$G > BIG': \d+\/2 blocks \(\d+%\)/.test(l));
  assert.ok(steps.length >= 1, `no progress line in:\n${log}`);
  assert.match(steps[steps.length - 1]!, /1\/2 blocks \(50%\), about \d+s left/);
  assert.match(log, /JetStream: recovering stream '\$G > BIG': recovered after \d+\.\ds \(\d\/2 blocks\)/);
  // The progress lines come before the stream is reported restored.
  assert.ok(log.indexOf('recovering stream') < log.indexOf("Restored stream '$G > BIG'"));
  // Recovery is over: nothing left in /healthz.
  const hz = await (await fetch(`http://127.0.0.1:${h.httpPort}/healthz?details=true`)).json() as any;
  assert.equal(hz.progress, undefined);
  const nc = await connect({ servers: h.clientUrl, reconnect: false });
  t.after(() => nc.close());
  assert.equal((await (await jetstreamManager(nc)).streams.info('BIG')).state.messages, 768);
});

test('/healthz?details=true lists long work while it runs', async (t) => {
  const storeDir = mkdtempSync(join(tmpdir(), 'tsnats-progress-hz-'));
  const h = await startServer({ port: 0, host: '127.0.0.1', httpPort: 0, jetstream: jsOptions(storeDir) }, { quietLog: true });
  t.after(async () => {
    await h.shutdown();
    rmSync(storeDir, { recursive: true, force: true });
  });
  const js = h.server.getSubsystem('jetstream') as unknown as JetStreamService;
  const task = js.progress!.begin("JetStream: catching up stream '$G > S' from its leader", 'last seq', 400, 100);
  task.update(250);
  const get = async (q: string): Promise<any> => (await fetch(`http://127.0.0.1:${h.httpPort}/healthz${q}`)).json();
  const hz = await get('?details=true');
  assert.equal(hz.status, 'ok');
  assert.equal(hz.progress.length, 1);
  const p = hz.progress[0];
  assert.deepEqual({ ...p, eta_seconds: undefined, started: undefined },
    { task: "JetStream: catching up stream '$G > S' from its leader", done: 250, total: 400, unit: 'last seq', percent: 62, eta_seconds: undefined, started: undefined });
  assert.ok(p.eta_seconds >= 0);
  assert.ok(!Number.isNaN(Date.parse(p.started)));
  // Without details the answer is nats-server's.
  assert.deepEqual(await get(''), { status: 'ok' });
  task.end();
  assert.equal((await get('?details=true')).progress, undefined);
});

test('progress lines: paced by the interval, with an estimate from the rate so far', () => {
  const lines: string[] = [];
  const quiet = new ProgressBoard((m) => lines.push(m), 60_000);
  const a = quiet.begin('work A', 'blocks', 10);
  for (let i = 0; i < 10; i++) a.update(i);
  a.end();
  assert.equal(lines.length, 0, 'work shorter than the interval logs nothing');
  const board = new ProgressBoard((m) => lines.push(m), 0);
  const b = board.begin('work B', 'bytes', 100);
  b.update(0);
  b.update(40);
  b.update(100);
  assert.equal(board.list().length, 1);
  b.end('finished');
  b.end('twice');
  assert.equal(board.list().length, 0);
  assert.equal(lines.length, 3);
  assert.equal(lines[0], 'work B: 0/100 bytes (0%)');
  assert.match(lines[1]!, /^work B: 40\/100 bytes \(40%\), about \d+s left$/);
  assert.match(lines[2]!, /^work B: finished after \d+\.\ds \(100\/100 bytes\)$/);
});

test('snapshot restore logs its progress in bytes of the upload', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-progress-restore-'));
  const logFile = join(root, 'server.log');
  const h = await startServer({ port: 0, host: '127.0.0.1', logFile, jetstream: jsOptions(join(root, 'store'), 0) });
  const nc = await connect({ servers: h.clientUrl, reconnect: false });
  t.after(async () => {
    await nc.close();
    await h.shutdown();
    rmSync(root, { recursive: true, force: true });
  });
  const api = async (subject: string, body: unknown): Promise<any> => JSON.parse((await nc.request(subject, JSON.stringify(body), { timeout: 5000 })).string());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'R', subjects: ['r.>'] });
  const js = jetstream(nc);
  for (let i = 0; i < 20; i++) await js.publish(`r.${i}`, 'y'.repeat(2000));
  // Take the snapshot (acking every chunk), delete the stream, upload the chunks again.
  const chunks: Uint8Array[] = [];
  const sub = nc.subscribe('_INBOX.progress-snap');
  const collected = (async () => {
    for await (const m of sub) {
      if (m.data.length === 0) break;
      chunks.push(m.data);
      if (m.reply) nc.publish(m.reply, '');
    }
  })();
  const snap = await api('$JS.API.STREAM.SNAPSHOT.R', { deliver_subject: '_INBOX.progress-snap', chunk_size: 4096 });
  await collected;
  await jsm.streams.delete('R');
  const target = (await api('$JS.API.STREAM.RESTORE.R', { config: snap.config, state: snap.state })).deliver_subject as string;
  for (const c of chunks) await nc.request(target, c, { timeout: 5000 });
  const fin = JSON.parse((await nc.request(target, new Uint8Array(0), { timeout: 5000 })).string());
  assert.equal(fin.state.messages, 20);
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const log = readFileSync(logFile, 'utf8');
  assert.match(log, new RegExp(`JetStream: restoring stream '\\$G > R' from a snapshot: \\d+/${total} bytes \\(\\d+%\\)`));
  assert.match(log, new RegExp(`JetStream: restoring stream '\\$G > R' from a snapshot: restored after \\d+\\.\\ds \\(${total}/${total} bytes\\)`));
});
