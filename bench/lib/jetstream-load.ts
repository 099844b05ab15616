// JetStream load over raw protocol: API calls, windowed async publish
// counting PubAcks, and a pull-consumer drain with explicit acks. Hot loops
// run from the connection's read callback: acks received in one read release
// the same number of new publishes in one write.

import { RawConn, replyJson } from './conn.js';
import { payloadOf, pubFrame, repeatFrame, tokenize } from './proto.js';

/** sids of the hot-loop subscriptions: unique per connection (a reused sid is ignored by the server) */
let sidSeq = 0;

/** JetStream API request; throws with the API error description or on no responders/timeout. */
export async function jsApi(conn: RawConn, subject: string, body: unknown, timeoutMs = 5000): Promise<Record<string, any>> {
  const m = await conn.request(subject, body === undefined ? '' : JSON.stringify(body), timeoutMs);
  const j = replyJson(m);
  if (j.error) throw new Error(`${subject}: ${j.error.description ?? JSON.stringify(j.error)} (${j.error.err_code ?? j.error.code})`);
  return j;
}

export interface StreamSpec {
  name: string;
  subjects: string[];
  storage: 'file' | 'memory';
  extra?: Record<string, unknown>;
}

export async function createStream(conn: RawConn, s: StreamSpec): Promise<void> {
  await jsApi(conn, `$JS.API.STREAM.CREATE.${s.name}`, {
    name: s.name,
    subjects: s.subjects,
    storage: s.storage,
    num_replicas: 1,
    retention: 'limits',
    discard: 'old',
    max_msgs: -1,
    max_bytes: -1,
    max_age: 0,
    max_consumers: -1,
    max_msg_size: -1,
    duplicate_window: 120_000_000_000,
    ...s.extra,
  });
}

/** True when a PubAck payload is an error object (`{"error":...}`) rather than `{"stream":...}`. */
function isAckError(buf: Buffer, ps: number, pe: number): boolean {
  return pe - ps > 3 && buf[ps + 2] === 101 /* e */;
}

export interface AsyncPublishResult {
  acked: number;
  perSec: number;
}

/**
 * Publishes `payloadBytes` messages to `subject` with at most `inFlight`
 * unacknowledged, counting PubAcks. Timing covers acks warmup+1 .. the last;
 * publishing stops after `measured` acks or once `maxMs` have passed. `onWarm` runs when the
 * warm-up's last PubAck arrives (at the start without a warm-up), where the timing starts;
 * `onEvery` after every `every` PubAcks (warm-up included).
 */
export function asyncPublish(
  conn: RawConn,
  subject: string,
  payloadBytes: number,
  o: { inFlight: number; warmup: number; measured: number; maxMs: number; stallMs?: number; onWarm?: () => void; every?: number; onEvery?: (acked: number) => void },
): Promise<AsyncPublishResult> {
  const sid = `ack${++sidSeq}`;
  const inbox = `_INBOX.jsbench.${sid}.${process.pid}`;
  const frame = pubFrame(subject, inbox, payloadOf(payloadBytes));
  const block = repeatFrame(frame, o.inFlight);
  const total = o.warmup + o.measured;
  return new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    let released = 0;
    let t0 = 0;
    let stopSending = false;
    let lastProgress = performance.now();
    let failed: Error | undefined;
    const finish = (err?: Error) => {
      clearInterval(watchdog);
      conn.onMsg = null;
      conn.afterRead = null;
      if (!conn.closed) conn.write(`UNSUB ${sid}\r\n`);
      if (err) { reject(err); return; }
      const measuredAcks = acked - o.warmup;
      const seconds = (performance.now() - t0) / 1000;
      resolve({ acked, perSec: measuredAcks > 0 && seconds > 0 ? measuredAcks / seconds : NaN });
    };
    const watchdog = setInterval(() => {
      const stallMs = o.stallMs ?? 10_000;
      if (conn.closed) finish(new Error(`connection closed: ${conn.lastError}`));
      else if (performance.now() - lastProgress > stallMs) finish(new Error(`no PubAck for ${stallMs} ms (${acked} acked of ${sent} sent)`));
    }, 250);
    const send = (n: number) => {
      if (n <= 0) return;
      conn.socket.write(n === o.inFlight ? block : block.subarray(0, n * frame.length));
      sent += n;
    };
    conn.onMsg = (buf, _ls, _le, ps, pe) => {
      if (failed) return;
      if (isAckError(buf, ps, pe)) {
        failed = new Error(`PubAck error: ${buf.toString('utf8', ps, pe)}`);
        return;
      }
      acked++;
      released++;
      if (o.every !== undefined && acked % o.every === 0) o.onEvery?.(acked);
      if (acked === o.warmup) {
        t0 = performance.now();
        o.onWarm?.();
      }
    };
    conn.afterRead = () => {
      if (failed) { finish(failed); return; }
      if (released === 0) return;
      lastProgress = performance.now();
      if (!stopSending && acked > o.warmup && performance.now() - t0 > o.maxMs) stopSending = true;
      const n = stopSending ? 0 : Math.min(released, total - sent);
      released = 0;
      send(n);
      if (acked === sent && (stopSending || sent === total)) finish();
    };
    conn.sub(inbox, sid);
    conn.ping().then(() => {
      if (o.warmup === 0) {
        t0 = performance.now();
        o.onWarm?.();
      }
      send(Math.min(o.inFlight, total));
    }, finish);
  });
}

/**
 * Drains `count` messages from a durable pull consumer with fetch requests of
 * `batch`, acking each message explicitly (the ack frame is built from the
 * message's reply subject bytes). Returns messages per second.
 */
export function pullDrain(
  conn: RawConn,
  stream: string,
  consumer: string,
  count: number,
  batch: number,
  stallMs = 10_000,
): Promise<number> {
  const sid = `pull${++sidSeq}`;
  const inbox = `_INBOX.jsbench.${sid}.${process.pid}`;
  const body = JSON.stringify({ batch, expires: 5_000_000_000 });
  const pullFrame = Buffer.from(`PUB $JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer} ${inbox} ${body.length}\r\n${body}\r\n`);
  const ackTail = Buffer.from(' 0\r\n\r\n');
  const out = Buffer.allocUnsafe(1024 * 1024);
  const tokens = new Int32Array(12);
  return new Promise((resolve, reject) => {
    let used = 0;
    let received = 0;
    let inBatch = 0;
    let lastProgress = performance.now();
    const t0 = performance.now();
    const flush = () => {
      if (used === 0) return;
      conn.socket.write(Buffer.from(out.subarray(0, used)));
      used = 0;
    };
    const finish = (err?: Error) => {
      clearInterval(watchdog);
      conn.onMsg = null;
      conn.afterRead = null;
      if (!conn.closed) conn.write(`UNSUB ${sid}\r\n`);
      if (err) reject(err);
      else resolve(received / ((performance.now() - t0) / 1000));
    };
    const watchdog = setInterval(() => {
      if (conn.closed) finish(new Error(`connection closed: ${conn.lastError}`));
      else if (performance.now() - lastProgress > stallMs) finish(new Error(`pull stalled at ${received}/${count} msgs`));
    }, 250);
    conn.onMsg = (buf, ls, le) => {
      const n = tokenize(buf, ls, le, tokens);
      const isH = (buf[ls] | 0x20) === 104;
      if (n < (isH ? 6 : 5)) {
        // A status (404 no messages / 408 timeout) ends this fetch: ask again.
        inBatch = batch;
      } else {
        const rs = tokens[6];
        const re = tokens[7];
        if (used + 4 + (re - rs) + ackTail.length + pullFrame.length > out.length) flush();
        used += out.write('PUB ', used, 'latin1');
        used += buf.copy(out, used, rs, re);
        used += ackTail.copy(out, used);
        received++;
        inBatch++;
      }
      if (inBatch >= batch && received < count) {
        inBatch = 0;
        used += pullFrame.copy(out, used);
      }
    };
    conn.afterRead = () => {
      lastProgress = performance.now();
      flush();
      if (received >= count) {
        // Make sure the server has processed every ack before the clock stops.
        conn.afterRead = null;
        conn.ping().then(() => finish(), finish);
      }
    };
    conn.sub(inbox, sid);
    conn.ping().then(() => { conn.socket.write(pullFrame); }, finish);
  });
}
