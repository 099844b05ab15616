// Attack: whole-cluster restarts under consumer load. 3 servers (bench/chaos's cluster: stable
// client proxies), an R3 file stream, a publisher recording its PubAcks, an R3 pull consumer and
// an R3 push consumer (explicit ack, every ack sent as ack-sync: AckAck), while all three servers
// are killed -9 together and restarted, again and again.
//
//   node dist/bench/attack/restart-consumers.js [--impl tsnats|nats-server] [--rounds 5] [--gap-ms 4000]
//
// Checked: no acknowledged publish lost (every PubAck'ed sequence readable at the end with its
// payload); no message delivered again after its ack was confirmed (AckAck); the consumers' ack
// floors (CONSUMER.INFO, polled) never go backwards, across restarts included; at the end each
// consumer has delivered every acknowledged message.
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { ChaosCluster, type Impl } from '../chaos/cluster.js';
import { api, connectTo, createInbox, streamSeqOfAck, type ConsumerInfo, type PubAck } from '../chaos/api.js';
import { argOf } from './args.js';

const arg = argOf;
const impl = arg('impl', 'tsnats') as Impl;
const rounds = Number(arg('rounds', '5'));
const gapMs = Number(arg('gap-ms', '4000'));
const NS = 1_000_000;
const STREAM = 'RC';

let round = 0;
let roundStart = Date.now();
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const violations: string[] = [];
const violation = (s: string) => {
  violations.push(s);
  console.log(`VIOLATION ${s}`);
};

/** What one consumer saw. */
class Tally {
  /** stream seq -> deliveries */
  delivered = new Map<number, number>();
  /** seqs whose ack the server confirmed (AckAck reply) */
  confirmed = new Set<number>();
  redeliveredAfterConfirm = 0;
  floors: number[] = [];
  /** per stream seq: deliveries (delivery count and consumer seq from the reply subject) and confirmations, with the round */
  history = new Map<number, string[]>();
  constructor(readonly name: string) {}

  note(seq: number, what: string): void {
    const h = this.history.get(seq) ?? [];
    h.push(`${what}@r${round}+${Date.now() - roundStart}ms`);
    this.history.set(seq, h);
  }

  deliver(seq: number, reply = ''): void {
    this.delivered.set(seq, (this.delivered.get(seq) ?? 0) + 1);
    const t = reply.split('.');
    this.note(seq, `d(dc=${t[4]},dseq=${t[6]})`);
    if (this.confirmed.has(seq)) {
      this.redeliveredAfterConfirm++;
      violation(`${this.name}: seq ${seq} delivered again after its ack was confirmed: ${this.history.get(seq)!.join(' ')}`);
    }
  }

  confirm(seq: number, reply: string): void {
    const t = reply.split('.');
    this.note(seq, `c(dc=${t[4]},dseq=${t[6]})`);
    this.confirmed.add(seq);
  }

  floor(f: number, when: string): void {
    const last = this.floors[this.floors.length - 1] ?? 0;
    if (f < last) violation(`${this.name}: ack floor went back from ${last} to ${f} (${when})`);
    this.floors.push(f);
  }
}

async function ackSync(nc: NatsConnection, reply: string): Promise<boolean> {
  try {
    await nc.request(reply, '+ACK', { timeout: 3000 });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  console.log(`restart-consumers impl=${impl} rounds=${rounds} gap=${gapMs}ms`);
  const c = new ChaosCluster(impl, 3);
  await c.start();
  const urls = c.nodes.map((n) => n.clientUrl);
  const acked = new Map<number, string>();
  const pull = new Tally('pull');
  const push = new Tally('push');
  let stop = false;
  let pubErrors = 0;
  try {
    const admin = await connectTo(urls, 'admin');
    const waitApi = async <T>(subject: string, body: unknown, ok: (t: T) => boolean, what: string): Promise<T> => {
      const end = Date.now() + 90_000;
      let last = '';
      while (Date.now() < end) {
        try {
          const r = await api<T>(admin, subject, body, 3000);
          if (ok(r)) return r;
          last = JSON.stringify(r).slice(0, 300);
        } catch (e) {
          last = String(e);
        }
        await pause(200);
      }
      throw new Error(`${what}: ${last}`);
    };
    await waitApi(`$JS.API.STREAM.CREATE.${STREAM}`, { name: STREAM, subjects: ['rc.>'], num_replicas: 3, storage: 'file' }, (r: { error?: unknown }) => r.error === undefined, 'stream create');
    await waitApi(`$JS.API.CONSUMER.DURABLE.CREATE.${STREAM}.P`, { stream_name: STREAM, config: { durable_name: 'P', ack_policy: 'explicit', ack_wait: 4000 * NS, num_replicas: 3, max_ack_pending: 10_000 } },
      (r: { error?: unknown }) => r.error === undefined, 'pull consumer');
    const pushInbox = createInbox();
    await waitApi(`$JS.API.CONSUMER.DURABLE.CREATE.${STREAM}.Q`, { stream_name: STREAM, config: { durable_name: 'Q', deliver_subject: pushInbox, ack_policy: 'explicit', ack_wait: 4000 * NS, num_replicas: 3, max_ack_pending: 10_000 } },
      (r: { error?: unknown }) => r.error === undefined, 'push consumer');

    // Publisher: one at a time (each PubAck recorded), retrying the same Nats-Msg-Id until answered.
    const pubNc = await connectTo(urls, 'pub');
    const publisher = (async () => {
      for (let k = 1; !stop; k++) {
        const body = `m${k}`;
        for (;;) {
          if (stop) return;
          try {
            const h = headers();
            h.set('Nats-Msg-Id', `id${k}`);
            const m = await pubNc.request(`rc.${k % 7}`, body, { timeout: 2000, headers: h });
            const pa = m.json<PubAck>();
            if (pa.seq !== undefined && pa.error === undefined) {
              const had = acked.get(pa.seq);
              if (had !== undefined && had !== body) violation(`PubAck seq ${pa.seq} for ${body} and for ${had}`);
              acked.set(pa.seq, body);
              break;
            }
            pubErrors++;
          } catch {
            pubErrors++;
          }
          await pause(50);
        }
      }
    })();

    // Pull consumer: fetch batches of 20 (a request per batch), ack-sync each.
    const pullNc = await connectTo(urls, 'pull');
    const pullLoop = (async () => {
      while (!stop) {
        const inbox = createInbox();
        const msgs: { seq: number; reply: string }[] = [];
        const sub = pullNc.subscribe(inbox, {
          callback: (_e, m) => {
            const seq = streamSeqOfAck(m.reply);
            if (seq !== undefined) msgs.push({ seq, reply: m.reply! });
          },
        });
        try {
          pullNc.publish(`$JS.API.CONSUMER.MSG.NEXT.${STREAM}.P`, JSON.stringify({ batch: 20, expires: 1000 * NS }), { reply: inbox });
          await pause(1200);
        } catch {
          await pause(200);
        }
        sub.unsubscribe();
        for (const m of msgs) {
          pull.deliver(m.seq, m.reply);
          if (await ackSync(pullNc, m.reply)) pull.confirm(m.seq, m.reply);
        }
      }
    })();

    // Push consumer: ack-sync each delivery as it arrives (one at a time, in order).
    const pushNc = await connectTo(urls, 'push');
    let pushChain = Promise.resolve();
    pushNc.subscribe(pushInbox, {
      callback: (_e, m) => {
        const seq = streamSeqOfAck(m.reply);
        if (seq === undefined) {
          if (m.reply && m.headers?.code === 100) pushNc.publish(m.reply, ''); // flow control
          return;
        }
        push.deliver(seq, m.reply);
        pushChain = pushChain.then(async () => {
          if (await ackSync(pushNc, m.reply!)) push.confirm(seq, m.reply!);
        });
      },
    });

    const floors = async (when: string): Promise<void> => {
      for (const [name, t] of [['P', pull], ['Q', push]] as const) {
        try {
          const ci = await api<ConsumerInfo>(admin, `$JS.API.CONSUMER.INFO.${STREAM}.${name}`, undefined, 2000);
          if (ci.ack_floor) t.floor(ci.ack_floor.stream_seq, when);
        } catch {
          // no leader right now
        }
      }
    };

    for (let r = 1; r <= rounds; r++) {
      round = r;
      roundStart = Date.now();
      const t0 = Date.now();
      while (Date.now() - t0 < gapMs) {
        await floors(`round ${r} load`);
        await pause(300);
      }
      await floors(`round ${r} before the kill`);
      const before = { acked: acked.size, pull: pull.confirmed.size, push: push.confirmed.size, floors: [pull.floors.at(-1), push.floors.at(-1)] };
      await Promise.all(c.nodes.map((n) => c.kill(n)));
      console.log(`round ${r}: killed all at +${Date.now() - roundStart}ms`);
      await Promise.all(c.nodes.map((n) => c.restart(n)));
      console.log(`round ${r}: restarted all at +${Date.now() - roundStart}ms`);
      // Wait for the consumers to answer again, then check their floors against before the kill.
      await waitApi(`$JS.API.CONSUMER.INFO.${STREAM}.P`, undefined, (x: ConsumerInfo) => x.ack_floor !== undefined, 'pull consumer info after restart');
      await waitApi(`$JS.API.CONSUMER.INFO.${STREAM}.Q`, undefined, (x: ConsumerInfo) => x.ack_floor !== undefined, 'push consumer info after restart');
      await floors(`round ${r} after the restart`);
      console.log(`round ${r}: before the kill ${JSON.stringify(before)}; after: floors [${pull.floors.at(-1)}, ${push.floors.at(-1)}]`);
    }
    // Let the consumers drain everything acknowledged, then stop.
    stop = true;
    await publisher;
    await pullLoop;
    const lastAcked = Math.max(0, ...acked.keys());
    const end = Date.now() + 120_000;
    stop = false;
    const drain = (async () => {
      while (!stop) {
        const inbox = createInbox();
        const msgs: { seq: number; reply: string }[] = [];
        const sub = pullNc.subscribe(inbox, { callback: (_e, m) => { const s = streamSeqOfAck(m.reply); if (s !== undefined) msgs.push({ seq: s, reply: m.reply! }); } });
        pullNc.publish(`$JS.API.CONSUMER.MSG.NEXT.${STREAM}.P`, JSON.stringify({ batch: 100, expires: 1000 * NS }), { reply: inbox });
        await pause(1200);
        sub.unsubscribe();
        for (const m of msgs) {
          pull.deliver(m.seq, m.reply);
          if (await ackSync(pullNc, m.reply)) pull.confirm(m.seq, m.reply);
        }
      }
    })();
    while (Date.now() < end) {
      const missingPull = [...acked.keys()].filter((s) => !pull.delivered.has(s)).length;
      const missingPush = [...acked.keys()].filter((s) => !push.delivered.has(s)).length;
      if (missingPull === 0 && missingPush === 0) break;
      await pause(500);
    }
    stop = true;
    await drain;
    await pushChain;

    // Every acknowledged publish is in the stream with its payload.
    let missing = 0;
    for (const [seq, body] of acked) {
      try {
        const r = await api<{ message?: { data?: string }; error?: unknown }>(admin, `$JS.API.STREAM.MSG.GET.${STREAM}`, { seq }, 3000);
        const data = r.message?.data !== undefined ? Buffer.from(r.message.data, 'base64').toString() : undefined;
        if (data !== body) {
          missing++;
          if (missing <= 5) violation(`acknowledged seq ${seq} (${body}) reads ${data ?? JSON.stringify(r.error)}`);
        }
      } catch (e) {
        missing++;
        if (missing <= 5) violation(`acknowledged seq ${seq}: ${String(e)}`);
      }
    }
    const notDelivered = (t: Tally) => [...acked.keys()].filter((s) => !t.delivered.has(s));
    const pullMissing = notDelivered(pull);
    const pushMissing = notDelivered(push);
    if (pullMissing.length) violation(`pull: ${pullMissing.length} acknowledged messages never delivered (${pullMissing.slice(0, 10)})`);
    if (pushMissing.length) violation(`push: ${pushMissing.length} acknowledged messages never delivered (${pushMissing.slice(0, 10)})`);
    const redeliv = (t: Tally) => [...t.delivered.values()].filter((n) => n > 1).length;
    console.log(`RESULT ${impl}: ${rounds} full kill -9 rounds; ${acked.size} publishes acked (last seq ${lastAcked}, ${pubErrors} failed attempts); ` +
      `pull: ${pull.delivered.size} delivered, ${pull.confirmed.size} acks confirmed, ${redeliv(pull)} redelivered, ${pull.redeliveredAfterConfirm} after confirmation, floors ${pull.floors.at(-1)}; ` +
      `push: ${push.delivered.size} delivered, ${push.confirmed.size} confirmed, ${redeliv(push)} redelivered, ${push.redeliveredAfterConfirm} after confirmation, floors ${push.floors.at(-1)}; ` +
      `${missing} acked missing; ${violations.length} violations`);
    await Promise.all([admin, pubNc, pullNc, pushNc].map((nc) => nc.close().catch(() => undefined)));
  } finally {
    stop = true;
    await c.shutdown();
  }
  process.exit(violations.length > 0 ? 2 : 0);
}

main().catch((e: unknown) => {
  console.error('FAILED:', e);
  process.exit(1);
});
