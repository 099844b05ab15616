// Throughput scenarios built from the publisher/subscriber workers.

import { startWorker, type GenWorker } from './workers.js';
import type { PublisherConfig } from '../workers/publisher.js';
import type { SubscriberConfig } from '../workers/subscriber.js';
import type { ConnTls } from './conn.js';

export interface Counts {
  warmupMsgs: number;
  measuredMsgs: number;
}

const CHUNK_BYTES = 64 * 1024;
/**
 * Unanswered PING barriers allowed per publisher (each follows one 64 KiB
 * chunk): 1 MiB in flight. A shallow pipeline (4 chunks were tried) makes the
 * figure depend on how fast the OS wakes each side up on a busy machine, not
 * on how fast the server processes messages.
 */
const MAX_PINGS_OUTSTANDING = 16;
/** how far (in 64 KiB chunks, ~4 MiB) the publisher may run ahead of the slowest subscriber */
const WINDOW_CHUNKS = 64;

function framesPerChunk(subject: string, payloadBytes: number): number {
  const frameBytes = `PUB ${subject} ${payloadBytes}\r\n`.length + payloadBytes + 2;
  return Math.max(1, Math.floor(CHUNK_BYTES / frameBytes));
}

function publisherConfig(
  port: number, subject: string, payloadBytes: number, c: Counts, counters?: SharedArrayBuffer, tls?: ConnTls, websocket?: boolean,
): PublisherConfig {
  const fpc = framesPerChunk(subject, payloadBytes);
  return {
    port,
    tls,
    subject,
    payloadBytes,
    warmupMsgs: c.warmupMsgs,
    measuredMsgs: c.measuredMsgs,
    framesPerChunk: fpc,
    maxPingsOutstanding: MAX_PINGS_OUTSTANDING,
    counters,
    windowMsgs: fpc * WINDOW_CHUNKS,
    websocket,
  };
}

/** Messages per second the server accepts from one publisher with no subscribers. */
/** Called when publishing starts (workers connected) and when the last result is in. */
export interface Window {
  start(): void;
  end(): void;
}

export async function measurePublishOnly(
  port: number, subject: string, payloadBytes: number, c: Counts, window?: Window, tls?: ConnTls,
): Promise<{ perSec: number; generatorCpuShare: number }> {
  const pub = startWorker('publisher', publisherConfig(port, subject, payloadBytes, c, undefined, tls));
  try {
    await pub.ready;
    const meter = cpuMeter();
    window?.start();
    pub.start();
    const d = await pub.done;
    window?.end();
    return { perSec: rate(c.measuredMsgs, d.startNs as bigint, d.endNs as bigint), generatorCpuShare: meter() };
  } finally {
    await pub.terminate();
  }
}

export interface FanoutResult {
  /** messages per second received, summed over subscribers */
  deliveredPerSec: number;
  /** the slowest subscriber's rate */
  perSubscriberPerSec: number;
  /** CPU time of the load generator (all threads) / wall time while measuring; ~1.0 means it was saturated */
  generatorCpuShare: number;
}

/** Measures the generator's own CPU use (whole process: all worker threads). */
export function cpuMeter(): () => number {
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(cpu0);
    const wallMs = performance.now() - wall0;
    return wallMs > 0 ? (d.user + d.system) / 1000 / wallMs : NaN;
  };
}

/**
 * One publisher on `pubPort`, `subscribers` subscribers on `subPort` (the same
 * port for a single server). `beforePublish` runs once every subscriber is
 * registered (the cluster suite waits for route interest there).
 */
export async function measureFanout(
  pubPort: number,
  subPort: number,
  subscribers: number,
  subject: string,
  payloadBytes: number,
  c: Counts,
  timeoutMs: number,
  beforePublish?: () => Promise<void>,
  window?: Window,
  tls?: ConnTls,
  /** the ports are websocket ports (publisher and subscribers connect with ws://) */
  websocket?: boolean,
): Promise<FanoutResult> {
  const counters = new SharedArrayBuffer(4 * subscribers);
  const subs: GenWorker[] = [];
  let pub: GenWorker | undefined;
  try {
    for (let i = 0; i < subscribers; i++) {
      const cfg: SubscriberConfig = {
        port: subPort,
        tls,
        subject,
        payloadBytes,
        warmupMsgs: c.warmupMsgs,
        totalMsgs: c.warmupMsgs + c.measuredMsgs,
        counters,
        index: i,
        timeoutMs,
        websocket,
      };
      subs.push(startWorker('subscriber', cfg));
    }
    await Promise.all(subs.map((s) => s.ready));
    if (beforePublish) await beforePublish();
    pub = startWorker('publisher', publisherConfig(pubPort, subject, payloadBytes, c, counters, tls, websocket));
    await pub.ready;
    const meter = cpuMeter();
    window?.start();
    pub.start();
    const results = await Promise.all(subs.map((s) => s.done));
    window?.end();
    const generatorCpuShare = meter();
    await pub.done;
    let first = results[0].startNs as bigint;
    let last = results[0].endNs as bigint;
    let slowest = Infinity;
    for (const r of results) {
      const s = r.startNs as bigint;
      const e = r.endNs as bigint;
      if (s < first) first = s;
      if (e > last) last = e;
      slowest = Math.min(slowest, rate(c.measuredMsgs, s, e));
    }
    return { deliveredPerSec: rate(c.measuredMsgs * subscribers, first, last), perSubscriberPerSec: slowest, generatorCpuShare };
  } finally {
    await Promise.all([...subs, ...(pub ? [pub] : [])].map((w) => w.terminate()));
  }
}

function rate(msgs: number, startNs: bigint, endNs: bigint): number {
  const seconds = Number(endNs - startNs) / 1e9;
  return seconds > 0 ? msgs / seconds : NaN;
}

