// The load of a chaos run: publishers that keep going through every fault, and
// the durable pull consumer's worker. What the publishers learn from the
// server (which payload was acknowledged at which sequence) is the ground
// truth the final checks hold the cluster to.
//
// Payloads are unique keys ("m1-42"), and every retry resends the same key in
// a way that can be stored at most once if the server keeps its promises:
//  - msg-id publishers resend with the same Nats-Msg-Id (the duplicate window
//    outlasts the run);
//  - the expected-last-sequence publisher resends with the same expected
//    sequence; once the stream moved on it gets "wrong last sequence", and the
//    key is given up. So no key may ever be stored twice.
import type { NatsConnection } from '@nats-io/transport-node';
import { CONSUMER, STREAM, createInbox, publish, streamSeqOfAck, type PubAck } from './api.js';

export interface Ack { key: string; seq: number; subject: string }

export class Ledger {
  /** key -> first acknowledged sequence */
  readonly acked = new Map<string, Ack>();
  /** seq -> key acknowledged there */
  readonly bySeq = new Map<number, string>();
  /** keys sent at least once (acknowledged or not) */
  readonly sent = new Set<string>();
  /** violations seen while the load ran (an ack contradicting an earlier one) */
  readonly violations: string[] = [];
  /** stream seq -> key, as the durable consumer delivered it */
  readonly delivered = new Map<number, string>();
  acks = 0;
  duplicates = 0;
  retries = 0;
  wrongLast = 0;
  pubErrors = new Map<string, number>();

  recordAck(a: Ack, dup: boolean): void {
    this.acks++;
    if (dup) this.duplicates++;
    const prev = this.acked.get(a.key);
    if (prev !== undefined && prev.seq !== a.seq) {
      this.violations.push(`key ${a.key} acknowledged at seq ${prev.seq} and again at seq ${a.seq}${dup ? ' (marked duplicate)' : ''}`);
    }
    const other = this.bySeq.get(a.seq);
    if (other !== undefined && other !== a.key) {
      this.violations.push(`seq ${a.seq} acknowledged for ${other} and for ${a.key}`);
    }
    if (prev === undefined) this.acked.set(a.key, a);
    if (other === undefined) this.bySeq.set(a.seq, a.key);
  }

  noteError(e: string): void {
    this.pubErrors.set(e, (this.pubErrors.get(e) ?? 0) + 1);
  }

  /** deliveries of one sequence with different contents (a consumer leader reading a diverged replica) */
  redeliveredOther = 0;

  recordDelivery(seq: number, key: string): void {
    const prev = this.delivered.get(seq);
    if (prev !== undefined && prev !== key) {
      if (this.redeliveredOther++ < 5) this.violations.push(`consumer delivered seq ${seq} as ${prev} and later as ${key}`);
    }
    // keep the first delivery: a later one from a diverged replica must not hide it
    if (prev === undefined) this.delivered.set(seq, key);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function payload(key: string): Uint8Array {
  // ~100 bytes: the key, then filler that makes torn tails and bit flips land in real message bytes
  return enc.encode(`${key}|${'x'.repeat(96 - key.length)}`);
}

export function keyOf(data: Uint8Array): string {
  const s = dec.decode(data);
  const i = s.indexOf('|');
  return i < 0 ? `?${s.slice(0, 24)}` : s.slice(0, i);
}

function errText(e: unknown): string {
  const m = (e as Error).message ?? String(e);
  if (/timeout/i.test(m)) return 'timeout';
  if (/no responders/i.test(m) || /503/.test(m)) return 'no responders';
  return m.slice(0, 60);
}

export interface LoadControl {
  running: boolean;
  /** publish slots handed out (all publishers together) */
  pacer?: Pacer;
}

/**
 * Shares a publish rate between all publishers. The suite is about what survives, not speed, and it
 * runs next to other tests on small machines: a bounded rate keeps its load (and the reads of the
 * checks) bounded too.
 */
export class Pacer {
  private next = 0;
  constructor(private readonly perSecond: number) {}

  async take(): Promise<void> {
    if (!(this.perSecond > 0)) return;
    const now = performance.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.perSecond;
    if (at > now + 1) await pause(at - now);
  }
}

const ATTEMPT_MS = 2000;

/** A publisher with Nats-Msg-Id on `lanes` concurrent sequences of keys. */
export async function msgIdPublisher(nc: NatsConnection, id: number, lanes: number, ledger: Ledger, ctl: LoadControl): Promise<void> {
  const lane = async (l: number) => {
    for (let i = 0; ctl.running; i++) {
      await ctl.pacer?.take();
      const key = `m${id}.${l}-${i}`;
      const subject = `chaos.m${id}`;
      ledger.sent.add(key);
      // Retry the same key (same Nats-Msg-Id) until acknowledged or the load ends.
      for (let attempt = 0; ctl.running; attempt++) {
        if (attempt > 0) ledger.retries++;
        let ack: PubAck;
        try {
          ack = await publish(nc, subject, payload(key), { msgId: key, timeoutMs: ATTEMPT_MS });
        } catch (e) {
          ledger.noteError(errText(e));
          await pause(50);
          continue;
        }
        if (ack.error !== undefined) {
          ledger.noteError(`api ${ack.error.code}/${ack.error.err_code ?? ''}`);
          await pause(50);
          continue;
        }
        if (ack.stream === STREAM && Number.isInteger(ack.seq)) {
          ledger.recordAck({ key, seq: ack.seq!, subject }, ack.duplicate === true);
          break;
        }
        ledger.noteError(`odd ack ${JSON.stringify(ack).slice(0, 60)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, l) => lane(l)));
}

/** A publisher with Nats-Expected-Last-Sequence: each key is tried with one expected sequence only. */
export async function expectPublisher(nc: NatsConnection, id: number, ledger: Ledger, ctl: LoadControl): Promise<void> {
  let last = 0;
  for (let i = 0; ctl.running; i++) {
    await ctl.pacer?.take();
    const key = `e${id}-${i}`;
    const subject = `chaos.e${id}`;
    const expected = last;
    ledger.sent.add(key);
    for (let attempt = 0; ctl.running && attempt < 8; attempt++) {
      if (attempt > 0) ledger.retries++;
      let ack: PubAck;
      try {
        ack = await publish(nc, subject, payload(key), { expectedLastSeq: expected, timeoutMs: ATTEMPT_MS });
      } catch (e) {
        ledger.noteError(errText(e));
        await pause(50);
        continue;
      }
      if (ack.error !== undefined) {
        const m = /wrong last sequence: (\d+)/.exec(ack.error.description ?? '');
        if (ack.error.err_code === 10071 && m !== null) {
          ledger.wrongLast++;
          last = Number(m[1]);
          break;
        }
        ledger.noteError(`api ${ack.error.code}/${ack.error.err_code ?? ''}`);
        await pause(50);
        continue;
      }
      if (ack.stream === STREAM && Number.isInteger(ack.seq)) {
        ledger.recordAck({ key, seq: ack.seq!, subject }, ack.duplicate === true);
        if (ack.seq !== expected + 1) {
          ledger.violations.push(`key ${key} published with Nats-Expected-Last-Sequence ${expected} was acknowledged at seq ${ack.seq}`);
        }
        last = ack.seq!;
        break;
      }
      ledger.noteError(`odd ack ${JSON.stringify(ack).slice(0, 60)}`);
    }
  }
}

/**
 * One pull of up to `batch` messages from the durable consumer; every message is acked (plain ack) and
 * recorded. Resolves with the number of messages received.
 */
export async function pullOnce(nc: NatsConnection, ledger: Ledger, batch: number, expiresMs: number): Promise<number> {
  const inbox = createInbox();
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => { done = r; });
  const sub = nc.subscribe(inbox, {
    callback: (_e, m) => {
      const seq = streamSeqOfAck(m.reply);
      if (seq === undefined) {
        done(); // a status message (404 no messages, 408 expired, 409 ...): this pull is over
        return;
      }
      ledger.recordDelivery(seq, keyOf(m.data));
      try {
        m.respond(new Uint8Array(0));
      } catch {
        // disconnected: the message is redelivered after ack_wait
      }
      got++;
      if (got >= batch) done();
    },
  });
  const timer = setTimeout(() => done(), expiresMs + 1500);
  try {
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${STREAM}.${CONSUMER}`, JSON.stringify({ batch, expires: expiresMs * 1_000_000 }), { reply: inbox });
    await finished;
  } finally {
    clearTimeout(timer);
    sub.unsubscribe();
  }
  return got;
}

export async function consumerWorker(nc: NatsConnection, ledger: Ledger, ctl: LoadControl): Promise<void> {
  while (ctl.running) {
    try {
      await pullOnce(nc, ledger, 200, 1000);
    } catch {
      await pause(100);
    }
  }
}

export function pause(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
