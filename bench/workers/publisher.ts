// Publisher worker: writes pre-encoded chunks of PUB frames, each chunk
// ending in a PING. At most `maxPingsOutstanding` chunks are unanswered, so the
// server is never handed more than a few hundred KiB it has not processed.
// When subscribers share their receive counters (SharedArrayBuffer), the
// publisher also stays within `windowMsgs` of the slowest one, so a server that
// parses faster than it delivers is measured by delivery, not by buffering.
//
// Protocol with the parent: posts {type:'ready'}; on {type:'start'} publishes
// warm-up, waits for its barrier, publishes the measured count, waits for the
// last PONG and posts {type:'done', measuredMsgs, startNs, endNs}.

import { parentPort, workerData } from 'node:worker_threads';
import { RawConn, type ConnTls } from '../lib/conn.js';
import { payloadOf, pubFrame, repeatFrame } from '../lib/proto.js';

export interface PublisherConfig {
  port: number;
  /** TLS after INFO (the TLS suite) */
  tls?: ConnTls;
  subject: string;
  payloadBytes: number;
  warmupMsgs: number;
  measuredMsgs: number;
  framesPerChunk: number;
  maxPingsOutstanding: number;
  /** Int32 receive counters, one per subscriber (optional) */
  counters?: SharedArrayBuffer;
  windowMsgs?: number;
  /** `port` is a websocket port */
  websocket?: boolean;
}

const cfg = workerData as PublisherConfig;

// Atomics.waitAsync exists in Node 20 but is not in the ES2022 lib typings.
type WaitAsyncResult = { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as {
  waitAsync(arr: Int32Array, index: number, value: number, timeoutMs: number): WaitAsyncResult;
}).waitAsync;
const PING = Buffer.from('PING\r\n');

async function main(): Promise<void> {
  const conn = await RawConn.open({ port: cfg.port, tls: cfg.tls, name: 'bench-pub', echo: false, websocket: cfg.websocket }, false);
  const frame = pubFrame(cfg.subject, '', payloadOf(cfg.payloadBytes));
  const chunk = repeatFrame(frame, cfg.framesPerChunk, PING);
  const counters = cfg.counters ? new Int32Array(cfg.counters) : undefined;
  const windowMsgs = cfg.windowMsgs ?? Number.MAX_SAFE_INTEGER;

  let outstanding = 0;
  let resume: (() => void) | null = null;
  conn.onPong = () => {
    outstanding--;
    if (resume !== null) {
      const r = resume;
      resume = null;
      r();
    }
  };
  const waitPong = () => new Promise<void>((r) => { resume = r; });
  const waitDrain = () => new Promise<void>((r) => conn.socket.once('drain', () => r()));

  // Sent so far across both phases, for the subscriber window.
  let sentTotal = 0;
  const slowestReceived = (): [number, number] => {
    let idx = 0;
    let min = Atomics.load(counters!, 0);
    for (let i = 1; i < counters!.length; i++) {
      const v = Atomics.load(counters!, i);
      if (v < min) { min = v; idx = i; }
    }
    return [min, idx];
  };

  async function publish(count: number): Promise<void> {
    let left = count;
    while (left > 0) {
      if (conn.closed) throw new Error(`publisher connection closed: ${conn.lastError}`);
      while (outstanding >= cfg.maxPingsOutstanding) await waitPong();
      if (counters) {
        for (;;) {
          const [min, idx] = slowestReceived();
          if (sentTotal - min <= windowMsgs) break;
          // Sleep until that subscriber moves (it notifies after each read).
          const r = waitAsync(counters, idx, min, 1000);
          if (r.async) await r.value;
        }
      }
      const n = Math.min(left, cfg.framesPerChunk);
      const buf = n === cfg.framesPerChunk ? chunk : repeatFrame(frame, n, PING);
      outstanding++;
      left -= n;
      sentTotal += n;
      if (!conn.socket.write(buf)) await waitDrain();
    }
    while (outstanding > 0) await waitPong();
  }

  parentPort!.postMessage({ type: 'ready' });
  await new Promise<void>((r) => parentPort!.once('message', () => r()));
  await publish(cfg.warmupMsgs);
  const startNs = process.hrtime.bigint();
  await publish(cfg.measuredMsgs);
  const endNs = process.hrtime.bigint();
  parentPort!.postMessage({ type: 'done', measuredMsgs: cfg.measuredMsgs, startNs, endNs });
  conn.close();
}

main().catch((err: Error) => {
  parentPort!.postMessage({ type: 'error', message: err.message });
});
