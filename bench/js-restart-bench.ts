// Restart benchmarks of the stream layer (`npm run bench -- js-restart`):
//
// 1. Dedupe window rebuild: a file stream holding N messages with Nats-Msg-Id headers, all
//    within the 2-minute duplicate window, is reopened (a restart); then a duplicate is
//    published at once. Reported: the longest event-loop stall while the window is rebuilt
//    (it is read back in slices, src/jetstream/dedupe.ts), the time until the duplicate's
//    PubAck (it waits for the rebuild), and the rebuild time. Before the slices, the first
//    publish after a restart read the whole window in one go (about 0.8 s at 1M messages).
// 2. Steady state: the longest single publish while N ids accumulate in the window (the id
//    table is sharded so no Map rehash of all ids lands on one publish).
// 3. Start-up with many streams: S file streams of M messages each; time from startServer()
//    until the client port accepts (JetStream is recovered before the listener opens).
//
//   node dist/bench/js-restart-bench.js [--count 1000000 | --quick] [--streams 300 --per-stream 1000]
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { FileStore } from '../src/jetstream/store/filestore.js';
import { Stream, toStoreConfig, type StreamHost } from '../src/jetstream/stream.js';
import { checkStreamConfig } from '../src/jetstream/stream-config.js';
import { startServer } from '../src/index.js';
import { createMemStore } from '../src/jetstream/store/index.js';
import type { BenchRow } from './lib/types.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? Number(args[i + 1]) : def;
};
const COUNT = arg('count', quick ? 100_000 : 1_000_000);
const STREAMS = arg('streams', quick ? 50 : 300);
const PER_STREAM = arg('per-stream', quick ? 200 : 1000);

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function dedupeRebuild(dir: string): Promise<BenchRow[]> {
  const cfg = checkStreamConfig({ name: 'D', subjects: ['d.>'] }, { lookupStream: () => undefined });
  const sc = toStoreConfig(cfg);
  const fill = new FileStore(sc, { dir, sync: { intervalMs: 60_000 } });
  const payload = Buffer.alloc(64, 'x');
  for (let i = 0; i < COUNT; i++) {
    fill.storeMsg('d.x', Buffer.from(`NATS/1.0\r\nNats-Msg-Id: id-${i}\r\n\r\n`), payload);
    if ((i & 8191) === 8191) await turn();
  }
  await fill.stop();

  const store = new FileStore(sc, { dir, sync: 'always' });
  let ackAt = 0;
  let ack = '';
  const host: StreamHost = {
    publish: (_s, _r, _h, p) => { ack = p.toString(); ackAt = performance.now(); },
    warn: () => {},
  };
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  const t0 = performance.now();
  const stream = new Stream(cfg, store, host, 1n);
  stream.processInbound('d.x', 'r', Buffer.from('NATS/1.0\r\nNats-Msg-Id: id-0\r\n\r\n'), payload);
  while (stream.dedupeRebuilding) await turn();
  const rebuildMs = performance.now() - t0;
  while (ackAt === 0) await turn();
  h.disable();
  const maxStallMs = h.max / 1e6;
  if (!ack.includes('"duplicate": true')) throw new Error(`expected a duplicate ack, got ${ack}`);
  await stream.close(false);
  console.log(`dedupe rebuild of ${COUNT} ids: ${rebuildMs.toFixed(0)} ms, duplicate acked after ${(ackAt - t0).toFixed(0)} ms, longest stall ${maxStallMs.toFixed(1)} ms`);
  return [
    { name: `restart: longest event-loop stall, dedupe rebuild ${COUNT} msgs`, tsnats: Number(maxStallMs.toFixed(1)), natsServer: null, unit: 'ms', target: { kind: 'at-most', value: 50 } },
    { name: `restart: first duplicate PubAck, ${COUNT} msgs in window`, tsnats: Number((ackAt - t0).toFixed(0)), natsServer: null, unit: 'ms' },
  ];
}

async function steadyPublish(): Promise<BenchRow[]> {
  const cfg = checkStreamConfig({ name: 'W', subjects: ['w.>'], storage: 'memory' }, { lookupStream: () => undefined });
  const store = createMemStore(toStoreConfig(cfg));
  const stream = new Stream(cfg, store, { publish: () => {}, warn: () => {} }, 1n);
  const payload = Buffer.alloc(16, 'x');
  let maxMs = 0;
  for (let i = 0; i < COUNT; i++) {
    const h = Buffer.from(`NATS/1.0\r\nNats-Msg-Id: w-${i}\r\n\r\n`);
    const t = performance.now();
    stream.processInbound('w.x', 'r', h, payload);
    const d = performance.now() - t;
    if (d > maxMs) maxMs = d;
  }
  await stream.close(false);
  console.log(`longest single publish while ${COUNT} ids fill the window: ${maxMs.toFixed(1)} ms`);
  return [{ name: `publish with Nats-Msg-Id: longest single call, ${COUNT} ids in window`, tsnats: Number(maxMs.toFixed(1)), natsServer: null, unit: 'ms' }];
}

async function manyStreams(dir: string): Promise<BenchRow[]> {
  const js = { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, strict: true };
  const first = await startServer({ port: 0, host: '127.0.0.1', jetstream: { ...js, syncIntervalMs: 60_000 } }, { quietLog: true });
  const jsSvc = first.server.getSubsystem('jetstream') as import('../src/jetstream/index.js').JetStreamService;
  const jsa = jsSvc.jsAccount('$G')!;
  const payload = Buffer.alloc(128, 'x');
  for (let s = 0; s < STREAMS; s++) {
    const stream = await jsa.createStream({ name: `S${s}`, subjects: [`s${s}.>`] }, false);
    for (let m = 0; m < PER_STREAM; m++) stream.processInbound(`s${s}.x`, '', undefined, payload);
    await turn();
  }
  await first.shutdown();
  const t0 = performance.now();
  const again = await startServer({ port: 0, host: '127.0.0.1', jetstream: { ...js, syncIntervalMs: 'always' } }, { quietLog: true });
  const startMs = performance.now() - t0;
  await again.shutdown();
  console.log(`start-up with ${STREAMS} streams x ${PER_STREAM} msgs: ${startMs.toFixed(0)} ms until clients are accepted`);
  return [{ name: `restart: ${STREAMS} streams x ${PER_STREAM} msgs, start to accepting clients`, tsnats: Number(startMs.toFixed(0)), natsServer: null, unit: 'ms' }];
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnats-js-restart-'));
  try {
    const rows = [
      ...await dedupeRebuild(path.join(root, 'dedupe')),
      ...await steadyPublish(),
      ...await manyStreams(path.join(root, 'many')),
    ];
    console.log(`BENCH_ROWS ${JSON.stringify(rows)}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

await main();
