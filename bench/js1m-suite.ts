// JetStream with 1,000,000 stored messages (issue 3): one R1 file stream is
// loaded with 1,000,000 messages of 128 bytes, then the server is restarted
// on the same store directory. Figures: server RSS after loading, time from
// spawn() to accepting clients (TCP connect + INFO) and to a
// $JS.API.STREAM.INFO reply that counts every message, and RSS after the
// restart. tsnats and nats-server run the same steps.
//
// Sync policy: each server's DEFAULT. tsnats: fsync before the PubAck
// (sync_interval "always", group commit). nats-server 2.9.10: periodic
// background sync (2 minutes); it has no fsync-before-ack option.
//
// Loading takes ~8 s per server and the restart a few more: the whole suite
// takes ~25 s with both servers, so it stays in the default set
// (`npm run bench`) and runs alone with `npm run bench -- js1m`.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext, BenchRow, BenchSuite } from './lib/types.js';
import type { RunningServer, ServerKind } from './lib/servers.js';
import { RawConn } from './lib/conn.js';
import { asyncPublish, createStream, jsApi } from './lib/jetstream-load.js';

const SUITE_NAME = 'js1m';
const PAYLOAD_BYTES = 128;
/** PubAcks awaited at once while loading: enough for group commit to batch fsyncs */
const IN_FLIGHT = 2048;
const STREAM = 'BENCH1M';
const SUBJECT = 'bench1m.x';
/** RSS is read this long after the last step, once the event loop has settled */
const SETTLE_MS = 1000;
const RSS_TARGET_MB = 250;
const RESTART_TARGET_MS = 3000;
/** how long a restarted server may take to answer STREAM.INFO with every message */
const STREAM_READY_TIMEOUT_MS = 60_000;

interface Figures {
  loadPerSec?: number;
  rssLoadedMb?: number;
  hwmLoadedMb?: number;
  storeMb?: number;
  restartInfoMs?: number;
  restartStreamMs?: number;
  rssRestartedMb?: number;
}

const MB = 1024 * 1024;

export const suite: BenchSuite = {
  name: SUITE_NAME,
  description: `JetStream: ${PAYLOAD_BYTES}B x 1,000,000 in one R1 file stream, RSS, restart time (server defaults: tsnats fsync before ack)`,
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const total = ctx.quick ? 100_000 : 1_000_000;
    const figures = new Map<ServerKind, Figures>();
    const notes: string[] = [];
    for (const kind of ctx.kinds) {
      const f: Figures = {};
      figures.set(kind, f);
      try {
        await runOne(ctx, kind, total, f);
      } catch (err) {
        notes.push(`${kind}: ${(err as Error).message.split('\n')[0]}`);
        ctx.log(`${SUITE_NAME}/${kind}: FAILED: ${(err as Error).stack}`);
      }
    }
    const count = total.toLocaleString('en-US');
    const row = (name: string, key: keyof Figures, unit: string, target?: BenchRow['target']): BenchRow => ({
      name, unit, target, tsnats: figures.get('tsnats')?.[key] ?? null, natsServer: figures.get('nats-server')?.[key] ?? null,
    });
    const rows: BenchRow[] = [
      row(`load ${count} x ${PAYLOAD_BYTES}B file R1 (${IN_FLIGHT} acks in flight)`, 'loadPerSec', 'msgs/s'),
      row(`RSS after loading ${count}`, 'rssLoadedMb', 'MB', { kind: 'at-most', value: RSS_TARGET_MB }),
      row('peak RSS while loading (VmHWM)', 'hwmLoadedMb', 'MB'),
      row('store size on disk', 'storeMb', 'MB'),
      row('restart: spawn to accepting (TCP + INFO)', 'restartInfoMs', 'ms', { kind: 'at-most', value: RESTART_TARGET_MS }),
      row(`restart: spawn to STREAM.INFO with ${count} msgs`, 'restartStreamMs', 'ms', { kind: 'at-most', value: RESTART_TARGET_MS }),
      row('RSS after restart', 'rssRestartedMb', 'MB'),
    ];
    rows[0].note = [
      'sync policy: server defaults (tsnats fsync before PubAck, group commit; nats-server 2.9.10 periodic sync every 2 min)',
      ...notes,
    ].join('; ');
    return rows;
  },
};

async function runOne(ctx: BenchContext, kind: ServerKind, total: number, f: Figures): Promise<void> {
  const label = `${SUITE_NAME}/${kind}`;
  // Server defaults on purpose (no syncInterval): tsnats' default is fsync before ack.
  const storeDir = ctx.tempDir(`js1m-${kind}`);
  const first = await ctx.startServer({ kind, jetstream: { storeDir } });
  try {
    const conn = await RawConn.open({ port: first.port, headers: true, noResponders: true, name: 'bench-js1m-load' });
    try {
      await createStream(conn, { name: STREAM, subjects: [SUBJECT], storage: 'file' });
      ctx.log(`${label}: loading ${total} messages of ${PAYLOAD_BYTES} B (${IN_FLIGHT} PubAcks in flight)`);
      const cpu0 = first.cpuSeconds();
      const t0 = performance.now();
      const r = await asyncPublish(conn, SUBJECT, PAYLOAD_BYTES, {
        inFlight: IN_FLIGHT, warmup: 0, measured: total, maxMs: 10 * 60_000, stallMs: 30_000,
      });
      const seconds = (performance.now() - t0) / 1000;
      f.loadPerSec = r.perSec;
      const info = await jsApi(conn, `$JS.API.STREAM.INFO.${STREAM}`, undefined, 10_000);
      const msgs = Number(info.state?.messages);
      if (msgs !== total) throw new Error(`stream holds ${msgs} messages after ${r.acked} PubAcks, expected ${total}`);
      ctx.log(`${label}: loaded in ${seconds.toFixed(1)} s (${Math.round(r.perSec)} msgs/s, server CPU ${Math.round(((first.cpuSeconds() - cpu0) / seconds) * 100)}%)`);
    } finally {
      conn.close();
    }
    await sleep(SETTLE_MS);
    f.rssLoadedMb = first.rssBytes() / MB;
    f.hwmLoadedMb = statusKb(first.pid, 'VmHWM') * 1024 / MB;
    ctx.log(`${label}: RSS after loading ${f.rssLoadedMb.toFixed(1)} MB (peak ${f.hwmLoadedMb.toFixed(1)} MB)`);
  } finally {
    await first.stop();
  }
  f.storeMb = dirBytes(storeDir) / MB;

  ctx.log(`${label}: restarting on the same store (${f.storeMb.toFixed(1)} MB)`);
  const second: RunningServer = await ctx.startServer({ kind, jetstream: { storeDir } });
  // startServer resolves right after the first INFO: spawn time = now - startMs.
  const spawnedAt = performance.now() - second.startMs;
  try {
    f.restartInfoMs = second.startMs;
    const conn = await RawConn.open({ port: second.port, headers: true, noResponders: true, name: 'bench-js1m-restart' });
    try {
      f.restartStreamMs = (await waitForStreamMsgs(conn, total, STREAM_READY_TIMEOUT_MS)) - spawnedAt;
    } finally {
      conn.close();
    }
    ctx.log(`${label}: restart: INFO after ${f.restartInfoMs.toFixed(0)} ms, STREAM.INFO with ${total} msgs after ${f.restartStreamMs.toFixed(0)} ms`);
    await sleep(SETTLE_MS);
    f.rssRestartedMb = second.rssBytes() / MB;
    ctx.log(`${label}: RSS after restart ${f.rssRestartedMb.toFixed(1)} MB`);
  } finally {
    await second.stop();
  }
}

/**
 * Polls $JS.API.STREAM.INFO until it reports `total` messages; returns the
 * performance.now() of that reply. No responders (JetStream still starting)
 * and "stream not found" (stream still loading) are retried.
 */
async function waitForStreamMsgs(conn: RawConn, total: number, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < deadline) {
    try {
      const info = await jsApi(conn, `$JS.API.STREAM.INFO.${STREAM}`, undefined, 2000);
      const msgs = Number(info.state?.messages);
      if (msgs === total) return performance.now();
      last = `${msgs} messages`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(2);
  }
  throw new Error(`STREAM.INFO did not report ${total} messages within ${timeoutMs} ms (last: ${last})`);
}

function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

function dirBytes(dir: string): number {
  let sum = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sum += dirBytes(p);
    else if (e.isFile()) sum += statSync(p).size;
  }
  return sum;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
