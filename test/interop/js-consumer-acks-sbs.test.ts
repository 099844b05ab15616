// Consumer ack semantics side by side with nats-server 2.9.10 through
// @nats-io/jetstream: num_pending / num_ack_pending / ack floors under mixed
// acks (+ACK, -NAK, +TERM, +WPI, ack-sync), redelivery order, nak delay,
// backoff, max_deliver with its advisory, ack_policy all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type ConsumerInfo, type JsMsg } from '@nats-io/jetstream';
import { sideBySide, startNatsServer, startTsnats, waitFor } from './js-consumer-sbs.js';

const MS = 1_000_000;

function counters(ci: ConsumerInfo): string {
  return `delivered=${ci.delivered.consumer_seq}/${ci.delivered.stream_seq} floor=${ci.ack_floor.consumer_seq}/${ci.ack_floor.stream_seq} ` +
    `pending=${ci.num_pending} ack_pending=${ci.num_ack_pending} redelivered=${ci.num_redelivered} waiting=${ci.num_waiting}`;
}

const msgLine = (m: JsMsg): string => `s${m.seq} d${m.info.deliverySequence} dc${m.info.deliveryCount} p${m.info.pending}`;

async function fetchN(nc: NatsConnection, stream: string, name: string, n: number, expiresMs = 1000): Promise<JsMsg[]> {
  const c = await jetstream(nc).consumers.get(stream, name);
  const out: JsMsg[] = [];
  for await (const m of await c.fetch({ max_messages: n, expires: expiresMs })) out.push(m);
  return out;
}

test('mixed acks: counters, redelivery order, ack-sync, ack all — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  const obs = await sideBySide(t, urls, async (nc, out) => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: 'A', subjects: ['a.>'], storage: 'memory' as never });
    for (let i = 1; i <= 10; i++) await js.publish(`a.${i % 2 ? 'odd' : 'even'}`, `m${i}`);
    await jsm.consumers.add('A', { durable_name: 'C', ack_policy: AckPolicy.Explicit, ack_wait: 30_000 * MS });
    const first = await fetchN(nc, 'A', 'C', 6);
    out.push(['fetch 6', first.map(msgLine)]);
    first[0].ack();
    first[1].nak();
    // 2.9.10 ignores "+TERM <reason>" (reasons came with 2.10): plain +TERM here.
    first[2].term();
    first[3].working();
    out.push(`ackAck ${await first[4].ackAck()}`);
    out.push(`ackAck twice ${await first[4].ackAck({ timeout: 500 }).catch((e: Error) => e.message)}`);
    out.push(`after acks ${counters(await jsm.consumers.info('A', 'C'))}`);
    const second = await fetchN(nc, 'A', 'C', 3);
    out.push(['fetch 3 (nak first)', second.map(msgLine)]);
    // Sync acks: nats-server applies acks asynchronously, info right after a plain ack races.
    for (const m of second) await m.ackAck();
    await first[5].ackAck();
    await nc.flush();
    out.push(`after all acks ${counters(await jsm.consumers.info('A', 'C'))}`);
    const rest = await fetchN(nc, 'A', 'C', 2);
    out.push(['fetch rest', rest.map(msgLine)]);
    await rest[1].ackAck();
    await nc.flush();
    out.push(`out-of-order ack ${counters(await jsm.consumers.info('A', 'C'))}`);
    await rest[0].ackAck();
    await nc.flush();
    out.push(`floor moves ${counters(await jsm.consumers.info('A', 'C'))}`);

    // Acks for unknown/duplicate messages are ignored, the server keeps serving.
    nc.publish('$JS.ACK.A.C.1.99.99.0.0', '+ACK');
    nc.publish('$JS.ACK.A.C.bogus', '+ACK');
    nc.publish('$JS.ACK.A.nope.1.1.1.0.0', '+ACK');
    out.push(`after bogus acks ${counters(await jsm.consumers.info('A', 'C'))}`);

    // ack_policy all: acking the 3rd of 5 acknowledges 1..3.
    await jsm.consumers.add('A', { durable_name: 'ALL', ack_policy: AckPolicy.All, filter_subject: 'a.odd' });
    const all = await fetchN(nc, 'A', 'ALL', 5);
    out.push(['fetch all-policy', all.map(msgLine)]);
    await all[2].ackAck();
    await nc.flush();
    out.push(`ack all ${counters(await jsm.consumers.info('A', 'ALL'))}`);

    // ack_policy none: nothing pending after delivery.
    await jsm.consumers.add('A', { durable_name: 'NONE', ack_policy: AckPolicy.None, filter_subject: 'a.even' });
    out.push(['fetch none-policy', (await fetchN(nc, 'A', 'NONE', 2)).map(msgLine)]);
    out.push(`none ${counters(await jsm.consumers.info('A', 'NONE'))}`);
  });
  assert.deepEqual(obs[0], ['fetch 6', ['s1 d1 dc1 p9', 's2 d2 dc1 p8', 's3 d3 dc1 p7', 's4 d4 dc1 p6', 's5 d5 dc1 p5', 's6 d6 dc1 p4']]);
});

test('nak delay, backoff and max_deliver advisory — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  const obs = await sideBySide(t, urls, async (nc, out) => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: 'B', subjects: ['b.>'], storage: 'memory' as never });
    for (let i = 1; i <= 3; i++) await js.publish(`b.${i}`, `m${i}`);
    const advisories: string[] = [];
    const advSub = nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.>', {
      callback: (_e, m: Msg) => {
        const a = m.json<Record<string, unknown>>();
        if (a.type === 'io.nats.jetstream.advisory.v1.max_deliver' || a.type === 'io.nats.jetstream.advisory.v1.terminated') {
          advisories.push(`${m.subject} ${a.type} ${a.stream}/${a.consumer} s${a.stream_seq} d${a.deliveries}${a.reason ? ` ${a.reason}` : ''}`);
        }
      },
    });
    // Backoff: unacked messages come back after 150 ms, then 300 ms, in stream order; after
    // max_deliver the advisory is sent once per message.
    await jsm.consumers.add('B', {
      durable_name: 'BO', ack_policy: AckPolicy.Explicit, max_deliver: 3, backoff: [150 * MS, 300 * MS],
    });
    const c = await js.consumers.get('B', 'BO');
    const seen: string[] = [];
    const iter = await c.consume({ max_messages: 10, expires: 1000 });
    const loop = (async () => {
      for await (const m of iter) seen.push(msgLine(m).replace(/ p\d+$/, ''));
    })();
    // nats-server notices max_deliver while looking for a message to hand a waiting pull:
    // keep the consume loop pulling until the advisories are out.
    await waitFor(() => advisories.length >= 3, 3000, 'max_deliver advisories');
    iter.stop();
    await loop;
    out.push(['backoff deliveries', seen]);
    out.push(['advisories', [...advisories].sort()]);
    const ci = await jsm.consumers.info('B', 'BO');
    out.push(`backoff info ${counters(ci)} backoff=${JSON.stringify(ci.config.backoff)}`);

    // nak with delay: the message comes back only after the delay.
    await jsm.consumers.add('B', { durable_name: 'NK', ack_policy: AckPolicy.Explicit, filter_subject: 'b.1' });
    const [m1] = await fetchN(nc, 'B', 'NK', 1);
    const t0 = Date.now();
    m1.nak(300);
    const [again] = await fetchN(nc, 'B', 'NK', 1, 2000);
    out.push(`nak delay honoured=${Date.now() - t0 >= 250} ${msgLine(again)}`);
    again.term();
    await waitFor(() => advisories.length >= 4, 3000, 'terminated advisory');
    out.push(['terminated', advisories.slice(3)]);
    out.push(`term ${counters(await jsm.consumers.info('B', 'NK'))}`);
    // Invalid backoff configurations.
    const bad = async (cfg: Record<string, unknown>) => {
      try { await jsm.consumers.add('B', cfg as never); return 'ok'; } catch (e) { return (e as Error).message; }
    };
    out.push(`backoff>max_deliver ${await bad({ durable_name: 'X', ack_policy: AckPolicy.Explicit, max_deliver: 2, backoff: [MS, MS, MS] })}`);
    out.push(`backoff with ack none ${await bad({ durable_name: 'Y', ack_policy: AckPolicy.None, backoff: [MS] })}`);
    advSub.unsubscribe();
  }, {
    2: {
      why: '2.9.10 leaves the ack floor behind messages that hit max_deliver; newer servers move it up to what was delivered',
      expect: (s) => String(s).replace(/floor=\S+/, `floor=${/delivered=(\S+)/.exec(String(s))![1]}`),
    },
    5: {
      why: '2.9.10 reports the stream sequence a filtered consumer skipped ahead to; newer servers the last one delivered (b.1 is stream seq 1)',
      expect: (s) => String(s).replace(/delivered=(\d+)\/\d+/, 'delivered=$1/1'),
    },
    7: {
      why: '2.9.10 requires max_deliver > len(backoff) even when max_deliver is unset (-1); newer servers check it only when set',
      expect: () => 'backoff with ack none ok',
    },
  });
  assert.match(String(obs[2]), /^backoff info delivered=9\/3 floor=9\/3 pending=0 ack_pending=0 redelivered=3 /);
  assert.equal(obs[5], 'term delivered=2/1 floor=2/3 pending=0 ack_pending=0 redelivered=0 waiting=0');
  assert.equal(obs[7], 'backoff with ack none ok');
});

test('+TERM with a reason (2.10) on tsnats: terminated advisory carries it, message acked', async (t) => {
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: await startTsnats(t) });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'R', subjects: ['r'], storage: 'memory' as never });
  await jetstream(nc).publish('r', 'x');
  await jsm.consumers.add('R', { durable_name: 'C', ack_policy: AckPolicy.Explicit });
  const adv = nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.R.C', { max: 1 });
  const [m] = await fetchN(nc, 'R', 'C', 1);
  m.term('not for me');
  for await (const a of adv) assert.equal(a.json<{ reason: string }>().reason, 'not for me');
  const ci = await jsm.consumers.info('R', 'C');
  assert.equal(ci.num_ack_pending, 0);
  assert.equal(ci.ack_floor.stream_seq, 1);
});
