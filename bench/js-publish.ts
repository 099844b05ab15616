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
import { RawConn } from './lib/conn.js';
import { asyncPublish, createStream, jsApi } from './lib/jetstream-load.js';
import { sequentialRequests } from './lib/latency.js';
import { payloadOf, pubFrame } from './lib/proto.js';
import { findNatsServer } from './lib/servers.js';

const PAYLOAD = 128;
const IN_FLIGHT = 256;
const INDEX_JS = fileURLToPath(new URL('../src/index.js', import.meta.url));

interface Started { child: ChildProcess; port: number }

/** Resolves with the client port once the child prints `Listening for client connections on host:port`. */
function portFromLog(child: ChildProcess, ms: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no listening line within ${ms} ms: ${out}`)), ms);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /Listening for client connections on \S+:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening: ${out}`));
    });
  });
}

// Both servers bind a free port themselves (port 0 / -1); the port is read back from the log.
async function startTsnats(dir: string, sync: 'always' | number): Promise<Started> {
  const script = `import { startServer } from ${JSON.stringify(INDEX_JS)};
const h = await startServer({ port: 0, host: '127.0.0.1', jetstream: { enabled: true, storeDir: ${JSON.stringify(dir)},
  maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: ${JSON.stringify(sync)}, strict: true } }, { quietLog: true });
console.log('Listening for client connections on 127.0.0.1:' + h.port);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  return { child, port: await portFromLog(child, 10_000) };
}

async function startNats(bin: string, dir: string): Promise<Started> {
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  return { child, port: await portFromLog(child, 10_000) };
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
  const run = async (label: string, start: (dir: string) => Promise<Started>): Promise<void> => {
    const dir = mkdtempSync(join(tmpdir(), 'jsb-'));
    const { child, port } = await start(dir);
    try {
      results.push([label, await measure(port, msgs)]);
    } finally {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const bin = findNatsServer();
  if (bin) await run('nats-server (default sync 2m)', (d) => startNats(bin, d));
  await run('tsnats (sync 2m)', (d) => startTsnats(d, 120_000));
  await run('tsnats (fsync before ack)', (d) => startTsnats(d, 'always'));
  for (const [label, r] of results) {
    console.log(`${label.padEnd(32)} async ${Math.round(r.asyncPerSec).toString().padStart(8)} msgs/s   sync p50 ${r.syncP50Us.toFixed(0).padStart(6)} us`);
  }
}

await main();
