// Quick JetStream publish benchmark for the streams engineer:
//   node dist/bench/js-publish.js [--msgs N]
// Async publish of 128-byte messages with 256 PubAcks in flight to an R1 file stream,
// and sync publish p50, against tsnats (in a child process, through startServer) and
// nats-server when installed. tsnats runs with the same sync policy as nats-server's
// default (periodic, 2 minutes) and additionally with fsync before every PubAck.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { RawConn } from './lib/conn.js';
import { asyncPublish, createStream, jsApi } from './lib/jetstream-load.js';
import { sequentialRequests } from './lib/latency.js';
import { payloadOf, pubFrame } from './lib/proto.js';
import { findNatsServer } from './lib/servers.js';

const PAYLOAD = 128;
const IN_FLIGHT = 256;
const INDEX_JS = fileURLToPath(new URL('../src/index.js', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

async function waitPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not listening`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startTsnats(port: number, dir: string, sync: 'always' | number): Promise<ChildProcess> {
  const script = `import { startServer } from ${JSON.stringify(INDEX_JS)};
await startServer({ port: ${port}, host: '127.0.0.1', jetstream: { enabled: true, storeDir: ${JSON.stringify(dir)},
  maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: ${JSON.stringify(sync)}, strict: true } }, { quietLog: true });`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitPort(port, 10_000);
  return child;
}

async function startNats(bin: string, port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir], { stdio: 'ignore' });
  await waitPort(port, 10_000);
  return child;
}

async function measure(port: number, msgs: number): Promise<{ asyncPerSec: number; syncP50Us: number }> {
  const control = await RawConn.open({ port, headers: true, noResponders: true, name: 'jsb-control' });
  const load = await RawConn.open({ port, headers: true, name: 'jsb-load' });
  try {
    await jsApi(control, '$JS.API.INFO', undefined);
    await createStream(control, { name: 'JSB', subjects: ['jsb.file'], storage: 'file' });
    const r = await asyncPublish(load, 'jsb.file', PAYLOAD, { inFlight: IN_FLIGHT, warmup: Math.floor(msgs / 10), measured: msgs, maxMs: 10_000 });
    const inbox = '_INBOX.jsb.sync';
    load.sub(inbox, 'sync');
    await load.ping();
    const lat = await sequentialRequests(load, { frames: [pubFrame('jsb.file', inbox, payloadOf(PAYLOAD))], warmup: 200, count: 2000 });
    return { asyncPerSec: r.perSec, syncP50Us: lat.p50Us };
  } finally {
    control.close();
    load.close();
  }
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--msgs');
  const msgs = i > 0 ? Number(process.argv[i + 1]) : 100_000;
  const results: Array<[string, { asyncPerSec: number; syncP50Us: number }]> = [];
  const run = async (label: string, start: (port: number, dir: string) => Promise<ChildProcess>): Promise<void> => {
    const dir = mkdtempSync(join(tmpdir(), 'jsb-'));
    const port = await freePort();
    const child = await start(port, dir);
    try {
      results.push([label, await measure(port, msgs)]);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const bin = findNatsServer();
  if (bin) await run('nats-server (default sync 2m)', (p, d) => startNats(bin, p, d));
  await run('tsnats (sync 2m)', (p, d) => startTsnats(p, d, 120_000));
  await run('tsnats (fsync before ack)', (p, d) => startTsnats(p, d, 'always'));
  for (const [label, r] of results) {
    console.log(`${label.padEnd(32)} async ${Math.round(r.asyncPerSec).toString().padStart(8)} msgs/s   sync p50 ${r.syncP50Us.toFixed(0).padStart(6)} us`);
  }
}

await main();
