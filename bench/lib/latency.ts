// Sequential request/reply timing on one raw connection: send a request,
// wait for the one reply, record the round trip, send the next, all from the
// reply callback (no Promise per request). Used for core request/reply, JetStream
// sync publish and KV put/get.

import type { RawConn } from './conn.js';

export interface LatencyResult {
  count: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  /** the 99.9th percentile: with 20,000 samples, the 20 slowest round trips lie above it */
  p999Us: number;
  meanUs: number;
  /** every measured round trip, in nanoseconds (for pooling runs) */
  samplesNs: Float64Array;
}

export interface SequentialOptions {
  /** request frames, used round-robin (each must produce exactly one reply on the conn) */
  frames: Buffer[];
  warmup: number;
  count: number;
  /** rejects the run if a reply is wrong (e.g. a JetStream error instead of an ack) */
  check?: (buf: Buffer, payloadStart: number, payloadEnd: number, headerBytes: number) => string | undefined;
  /** give up when no reply arrives for this long */
  stallMs?: number;
}

/** The connection must already be subscribed to the subject the replies arrive on. */
export function sequentialRequests(conn: RawConn, o: SequentialOptions): Promise<LatencyResult> {
  const samplesNs = new Float64Array(o.count);
  const total = o.warmup + o.count;
  let i = 0;
  let t0 = 0n;
  let lastProgress = performance.now();
  return new Promise<LatencyResult>((resolve, reject) => {
    const stallMs = o.stallMs ?? 10_000;
    const watchdog = setInterval(() => {
      if (conn.closed) stop(new Error(`connection closed: ${conn.lastError}`));
      else if (performance.now() - lastProgress > stallMs) stop(new Error(`no reply within ${stallMs} ms (request ${i} of ${total})${conn.lastError ? `: ${conn.lastError}` : ''}`));
    }, 250);
    const stop = (err?: Error) => {
      clearInterval(watchdog);
      conn.onMsg = null;
      if (err) reject(err);
      else resolve(summarize(samplesNs));
    };
    const send = () => {
      t0 = process.hrtime.bigint();
      conn.socket.write(o.frames[i % o.frames.length]);
    };
    conn.onMsg = (buf, _ls, _le, ps, pe, hb) => {
      const dt = Number(process.hrtime.bigint() - t0);
      if (o.check) {
        const problem = o.check(buf, ps, pe, hb);
        if (problem !== undefined) { stop(new Error(problem)); return; }
      }
      if (i >= o.warmup) samplesNs[i - o.warmup] = dt;
      i++;
      lastProgress = performance.now();
      if (i < total) send();
      else stop();
    };
    send();
  });
}

export function summarize(samplesNs: Float64Array): LatencyResult {
  const sorted = Float64Array.from(samplesNs).sort();
  const pick = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000;
  let sum = 0;
  for (const v of sorted) sum += v;
  return { count: sorted.length, p50Us: pick(0.5), p90Us: pick(0.9), p99Us: pick(0.99), p999Us: pick(0.999), meanUs: sum / sorted.length / 1000, samplesNs };
}

/** Summary over the samples of several runs together. */
export function pooled(runs: Float64Array[]): LatencyResult {
  const all = new Float64Array(runs.reduce((n, r) => n + r.length, 0));
  let at = 0;
  for (const r of runs) {
    all.set(r, at);
    at += r.length;
  }
  return summarize(all);
}
