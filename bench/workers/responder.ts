// Responder worker for the request/reply latency figure: answers every
// request on `subject` with a fixed payload to its reply subject. The reply
// frame is assembled from the request's reply token bytes without strings.
// Posts {type:'ready'} once subscribed; runs until its parent terminates it.

import { parentPort, workerData } from 'node:worker_threads';
import { RawConn } from '../lib/conn.js';
import { payloadOf, tokenize } from '../lib/proto.js';

export interface ResponderConfig {
  port: number;
  subject: string;
  payloadBytes: number;
}

const cfg = workerData as ResponderConfig;

async function main(): Promise<void> {
  const conn = await RawConn.open({ port: cfg.port, name: 'bench-responder' }, true);
  const tail = Buffer.from(` ${cfg.payloadBytes}\r\n${payloadOf(cfg.payloadBytes).toString('latin1')}\r\n`, 'latin1');
  const out = Buffer.allocUnsafe(64 * 1024);
  const tokens = new Int32Array(12);
  let used = 0;
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    if (used === 0) return;
    conn.socket.write(Buffer.from(out.subarray(0, used)));
    used = 0;
  };
  conn.onMsg = (buf, ls, le) => {
    const n = tokenize(buf, ls, le, tokens);
    if (n < 5) return; // no reply subject
    const rs = tokens[6];
    const re = tokens[7];
    if (used + 4 + (re - rs) + tail.length > out.length) flush();
    used += out.write('PUB ', used, 'latin1');
    used += buf.copy(out, used, rs, re);
    used += tail.copy(out, used);
    if (!flushScheduled) {
      // One write per batch of requests read together (normally one).
      flushScheduled = true;
      queueMicrotask(flush);
    }
  };
  conn.sub(cfg.subject, '1');
  await conn.ping();
  parentPort!.postMessage({ type: 'ready' });
}

main().catch((err: Error) => {
  parentPort!.postMessage({ type: 'error', message: err.message });
});
