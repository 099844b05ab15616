// Subscriber worker: subscribes, then counts MSG frames with the scanner's
// fixed-frame fast path (no per-message objects). After each read it
// publishes its count to a shared Int32 counter (the publisher paces itself on
// it). Timing starts when the count passes the warm-up and ends when it
// reaches the expected total.
//
// Posts {type:'ready'} once the SUB is registered (PING/PONG), then
// {type:'done', count, startNs, endNs} or {type:'error'}.

import { parentPort, workerData } from 'node:worker_threads';
import { RawConn, type ConnTls } from '../lib/conn.js';
import { msgFrameLength } from '../lib/proto.js';

export interface SubscriberConfig {
  port: number;
  /** TLS after INFO (the TLS suite) */
  tls?: ConnTls;
  subject: string;
  payloadBytes: number;
  warmupMsgs: number;
  totalMsgs: number;
  counters: SharedArrayBuffer;
  index: number;
  timeoutMs: number;
  /** `port` is a websocket port */
  websocket?: boolean;
}

const cfg = workerData as SubscriberConfig;

async function main(): Promise<void> {
  const sid = '1';
  const fixed = msgFrameLength(cfg.subject, sid, cfg.payloadBytes);
  const conn = await RawConn.open({ port: cfg.port, tls: cfg.tls, name: `bench-sub-${cfg.index}`, fixedFrame: fixed, websocket: cfg.websocket }, false);
  const counters = new Int32Array(cfg.counters);
  conn.sub(cfg.subject, sid);
  await conn.ping();

  let startNs = 0n;
  let finished = false;
  const timer = setTimeout(() => {
    finish(new Error(`subscriber ${cfg.index} timed out with ${conn.scanner.msgCount}/${cfg.totalMsgs} msgs${conn.lastError ? ` (${conn.lastError})` : ''}`));
  }, cfg.timeoutMs);

  function finish(err?: Error): void {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    const endNs = process.hrtime.bigint();
    if (err) parentPort!.postMessage({ type: 'error', message: err.message });
    else parentPort!.postMessage({ type: 'done', count: conn.scanner.msgCount, startNs, endNs });
    conn.close();
  }

  conn.afterRead = () => {
    const count = conn.scanner.msgCount;
    Atomics.store(counters, cfg.index, count);
    Atomics.notify(counters, cfg.index);
    if (startNs === 0n && count >= cfg.warmupMsgs) startNs = process.hrtime.bigint();
    if (count >= cfg.totalMsgs) finish();
  };
  conn.socket.on('close', () => finish(new Error(`subscriber ${cfg.index} connection closed: ${conn.lastError}`)));

  parentPort!.postMessage({ type: 'ready' });
}

main().catch((err: Error) => {
  parentPort!.postMessage({ type: 'error', message: err.message });
});
