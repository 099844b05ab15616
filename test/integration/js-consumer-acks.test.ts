// Ack protocol: +ACK/-NAK (with delay)/+WPI/+TERM/+NXT, ack-sync replies,
// ack_wait redelivery in order, max_deliver with its advisory, backoff,
// max_ack_pending, ack policy all, acks for unknown messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type NatsConnection, type Msg } from '@nats-io/transport-node';
import { AckPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { startJetStreamClient } from '../helpers/js.js';
import { waitUntil } from '../helpers/wait.js';

const MS = 1_000_000;

async function setup(t: import('node:test').TestContext): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const { nc, jsm } = await startJetStreamClient(t, { memoryStreamS: true });
  return { nc, jsm };
}

async function publish(nc: NatsConnection, n: number, subject = 's.a'): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < n; i++) await js.publish(subject, `m${i}`);
}

/** Subscribe to an inbox and pull with raw requests; returns received messages. */
function collector(nc: NatsConnection, inbox: string): Msg[] {
  const got: Msg[] = [];
  nc.subscribe(inbox, { callback: (_e, m) => { got.push(m); } });
  return got;
}

function pull(nc: NatsConnection, stream: string, consumer: string, inbox: string, req: Record<string, unknown>): void {
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify(req), { reply: inbox });
}

function ackParts(m: Msg): { dc: number; sseq: number; dseq: number; pending: number } {
  const t = m.reply!.split('.');
  return { dc: Number(t[4]), sseq: Number(t[5]), dseq: Number(t[6]), pending: Number(t[8]) };
}

test('ack-sync: every ack form answers with an empty message, even for an already acked message', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 4);
  await jsm.consumers.add('S', { durable_name: 'A', ack_policy: AckPolicy.Explicit });
  const got = collector(nc, '_INBOX.a');
  pull(nc, 'S', 'A', '_INBOX.a', { batch: 4, expires: 2e9 });
  await waitUntil(() => got.length === 4, 2000, '4 msgs');
  for (const [i, body] of ['+ACK', '', '-NAK', '+WPI'].entries()) {
    const r = await nc.request(got[i]!.reply!, body, { timeout: 1000 });
    assert.equal(r.data.length, 0, `reply to ${JSON.stringify(body)} is empty`);
  }
  const again = await nc.request(got[0]!.reply!, '+ACK', { timeout: 1000 });
  assert.equal(again.data.length, 0);
  const term = await nc.request(got[3]!.reply!, '+TERM because', { timeout: 1000 });
  assert.equal(term.data.length, 0);
  const ci = await jsm.consumers.info('S', 'A');
  // 1,2,4 settled; 3 was NAKed and is queued for redelivery.
  assert.equal(ci.num_ack_pending, 1);
  assert.deepEqual([ci.ack_floor.stream_seq, ci.ack_floor.consumer_seq], [2, 2]);
});

test('ack_wait expiry redelivers in order with a growing delivery count; max_deliver stops it with an advisory', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 3);
  await jsm.consumers.add('S', { durable_name: 'R', ack_policy: AckPolicy.Explicit, ack_wait: 300 * MS, max_deliver: 2 });
  const adv: Array<Record<string, unknown>> = [];
  nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.R', { callback: (_e, m) => { adv.push(m.json()); } });
  await nc.flush();
  const got = collector(nc, '_INBOX.r');
  pull(nc, 'S', 'R', '_INBOX.r', { batch: 10, expires: 3e9 });
  await waitUntil(() => got.length === 3, 2000, 'first deliveries');
  await waitUntil(() => got.length === 6, 3000, 'redeliveries');
  assert.deepEqual(got.map((m) => ackParts(m).sseq), [1, 2, 3, 1, 2, 3]);
  assert.deepEqual(got.map((m) => ackParts(m).dc), [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(got.map((m) => ackParts(m).dseq), [1, 2, 3, 4, 5, 6]);
  await waitUntil(() => adv.length === 3, 3000, 'max deliveries advisories');
  assert.deepEqual(adv.map((a) => a.stream_seq).sort(), [1, 2, 3]);
  assert.equal(adv[0]!.type, 'io.nats.jetstream.advisory.v1.max_deliver');
  assert.equal(adv[0]!.deliveries, 2);
  await waitUntil(async () => (await jsm.consumers.info('S', 'R')).num_ack_pending === 0, 2000, 'pending cleared');
  const ci = await jsm.consumers.info('S', 'R');
  assert.equal(ci.num_redelivered, 3);
  assert.equal(got.length, 6, 'no third delivery');
});

test('-NAK with a delay (JSON and Go duration) holds the redelivery back', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 2);
  await jsm.consumers.add('S', { durable_name: 'N', ack_policy: AckPolicy.Explicit, ack_wait: 30_000 * MS });
  const naks: Array<Record<string, unknown>> = [];
  nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.S.N', { callback: (_e, m) => { naks.push(m.json()); } });
  await nc.flush();
  const got = collector(nc, '_INBOX.n');
  pull(nc, 'S', 'N', '_INBOX.n', { batch: 10, expires: 4e9 });
  await waitUntil(() => got.length === 2, 2000, 'deliveries');
  const t0 = Date.now();
  got[0]!.respond('-NAK {"delay":400000000}');
  got[1]!.respond('-NAK 700ms');
  await waitUntil(() => got.length === 3, 2000, 'first redelivery');
  const d1 = Date.now() - t0;
  await waitUntil(() => got.length === 4, 2000, 'second redelivery');
  const d2 = Date.now() - t0;
  assert.deepEqual([ackParts(got[2]!).sseq, ackParts(got[3]!).sseq], [1, 2]);
  // Lower bounds only (delays honoured); the order above shows each message kept its own delay.
  assert.ok(d1 >= 350, `first after ${d1}ms`);
  assert.ok(d2 >= 650, `second after ${d2}ms`);
  await waitUntil(() => naks.length === 2, 1000, 'nak advisories');
  assert.equal(naks[0]!.type, 'io.nats.jetstream.advisory.v1.nak');
});

test('+TERM stops redelivery and publishes MSG_TERMINATED with the reason', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 1);
  await jsm.consumers.add('S', { durable_name: 'T', ack_policy: AckPolicy.Explicit, ack_wait: 200 * MS });
  const advs: Array<Record<string, unknown>> = [];
  nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.T', { callback: (_e, m) => { advs.push(m.json()); } });
  await nc.flush();
  const got = collector(nc, '_INBOX.t');
  pull(nc, 'S', 'T', '_INBOX.t', { batch: 5, expires: 1e9 });
  await waitUntil(() => got.length === 1, 2000, 'delivery');
  got[0]!.respond('+TERM bad payload');
  await waitUntil(() => advs.length === 1, 2000, 'advisory');
  assert.equal(advs[0]!.type, 'io.nats.jetstream.advisory.v1.terminated');
  assert.equal(advs[0]!.reason, 'bad payload');
  assert.equal(advs[0]!.stream_seq, 1);
  assert.equal(advs[0]!.consumer_seq, 1);
  // Proving a non-event: wait well past ack_wait (200 ms) and check nothing was redelivered.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(got.length, 1, 'not redelivered');
  assert.equal((await jsm.consumers.info('S', 'T')).num_ack_pending, 0);
});

test('+WPI resets the ack timer', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 1);
  const ackWaitMs = 400;
  await jsm.consumers.add('S', { durable_name: 'P', ack_policy: AckPolicy.Explicit, ack_wait: ackWaitMs * MS });
  const got = collector(nc, '_INBOX.w');
  pull(nc, 'S', 'P', '_INBOX.w', { batch: 5, expires: 10e9 });
  await waitUntil(() => got.length === 1, 2000, 'delivery');
  const delivered = Date.now();
  // Send +WPI until 3 have gone out, then stop; the claim checked below holds however the
  // timers of this process are scheduled: the redelivery comes no earlier than ack_wait after
  // the last +WPI sent before it (each one restarted the timer), so later than ack_wait after
  // the delivery. The spacing (half of ack_wait) only makes it likely that all 3 count.
  const sent: number[] = [];
  while (sent.length < 3 && got.length === 1) {
    got[0]!.respond('+WPI');
    await nc.flush();
    sent.push(Date.now());
    await waitUntil(() => Date.now() - sent[sent.length - 1]! >= ackWaitMs / 2 || got.length > 1, 2000, 'spacing');
  }
  await waitUntil(() => got.length === 2, 5000, 'redelivery after progress stops');
  const redelivered = Date.now();
  const lastWpi = Math.max(...sent.filter((x) => x <= redelivered));
  assert.ok(redelivered - lastWpi >= ackWaitMs, `redelivered ${redelivered - lastWpi}ms after the last +WPI (ack_wait ${ackWaitMs}ms)`);
  assert.ok(redelivered - delivered > ackWaitMs, 'the +WPI kept the message from being redelivered at ack_wait');
  assert.equal(ackParts(got[1]!).dc, 2);
});

test('+NXT acks and asks for the next message on the reply subject', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 3);
  await jsm.consumers.add('S', { durable_name: 'X', ack_policy: AckPolicy.Explicit });
  const got = collector(nc, '_INBOX.x');
  pull(nc, 'S', 'X', '_INBOX.x', { batch: 1 });
  await waitUntil(() => got.length === 1, 2000, 'first');
  nc.publish(got[0]!.reply!, '+NXT {"batch":2}', { reply: '_INBOX.x' });
  await waitUntil(() => got.length === 3, 2000, 'next two');
  assert.deepEqual(got.map((m) => ackParts(m).sseq), [1, 2, 3]);
  await waitUntil(async () => (await jsm.consumers.info('S', 'X')).ack_floor.stream_seq === 1, 2000, 'first acked');
});

test('backoff drives redelivery timing and max_ack_pending stalls delivery until acks arrive', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 5);
  await jsm.consumers.add('S', {
    durable_name: 'B', ack_policy: AckPolicy.Explicit, backoff: [200 * MS, 600 * MS], max_deliver: 4, max_ack_pending: 2,
  });
  const ci = await jsm.consumers.info('S', 'B');
  assert.equal(ci.config.ack_wait, 200 * MS, 'ack_wait = first backoff');
  const got = collector(nc, '_INBOX.b');
  const t0 = Date.now();
  pull(nc, 'S', 'B', '_INBOX.b', { batch: 10, expires: 3e9 });
  await waitUntil(() => got.length === 4, 2000, 'first redeliveries');
  const tFirst = Date.now() - t0;
  assert.ok(tFirst >= 180, `first redelivery after ${tFirst}ms`);
  // A pull for 10 got only max_ack_pending (2) messages; until an ack, only they come again.
  assert.deepEqual(got.map((m) => [ackParts(m).sseq, ackParts(m).dc]), [[1, 1], [2, 1], [1, 2], [2, 2]]);
  await waitUntil(() => got.length === 6, 3000, 'second redeliveries');
  const tSecond = Date.now() - t0;
  assert.ok(tSecond >= 750, `second redelivery after ${tSecond}ms (200ms + 600ms backoff)`);
  assert.deepEqual(got.slice(4).map((m) => [ackParts(m).sseq, ackParts(m).dc]), [[1, 3], [2, 3]], 'still stalled at max_ack_pending');
  for (const m of got.slice(4)) m.respond('+ACK');
  await waitUntil(() => got.length === 8, 2000, 'acks let the next ones through');
  assert.deepEqual(got.slice(6).map((m) => ackParts(m).sseq), [3, 4]);
});

test('ack policy all acks everything up to the acked message', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 5);
  await jsm.consumers.add('S', { durable_name: 'AA', ack_policy: AckPolicy.All });
  const got = collector(nc, '_INBOX.aa');
  pull(nc, 'S', 'AA', '_INBOX.aa', { batch: 5, expires: 2e9 });
  await waitUntil(() => got.length === 5, 2000, 'deliveries');
  assert.equal((await jsm.consumers.info('S', 'AA')).num_ack_pending, 5);
  await nc.request(got[3]!.reply!, '+ACK', { timeout: 1000 });
  const ci = await jsm.consumers.info('S', 'AA');
  assert.equal(ci.num_ack_pending, 1);
  assert.deepEqual([ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq], [4, 4]);
});

test('acks for unknown or future messages are ignored without a reply and do not move state', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 2);
  await jsm.consumers.add('S', { durable_name: 'U', ack_policy: AckPolicy.Explicit });
  const got = collector(nc, '_INBOX.u');
  pull(nc, 'S', 'U', '_INBOX.u', { batch: 1, expires: 2e9 });
  await waitUntil(() => got.length === 1, 2000, 'delivery');
  // Sequence 2 was never delivered: nats-server ignores it and sends no ack-sync reply.
  await assert.rejects(nc.request('$JS.ACK.S.U.1.2.2.0.0', '+ACK', { timeout: 300 }));
  // Garbage subjects and bodies do not hurt.
  nc.publish('$JS.ACK.S.U.x.y.z.w.v', '+ACK');
  nc.publish(got[0]!.reply!, 'what is this');
  nc.publish(got[0]!.reply!, '-NAK {"delay":"soon"}');
  await nc.flush();
  const ci = await jsm.consumers.info('S', 'U');
  assert.equal(ci.num_ack_pending, 1);
  assert.equal(ci.ack_floor.stream_seq, 0);
  assert.equal(ci.delivered.stream_seq, 1);
  got[0]!.respond('+ACK');
  await waitUntil(async () => (await jsm.consumers.info('S', 'U')).num_ack_pending === 0, 2000, 'real ack works');
});

test('sample_freq 100% publishes an ack metric for every ack', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 3);
  await jsm.consumers.add('S', { durable_name: 'M', ack_policy: AckPolicy.Explicit, sample_freq: '100%' });
  const metrics: Array<Record<string, unknown>> = [];
  nc.subscribe('$JS.EVENT.METRIC.CONSUMER.ACK.S.M', { callback: (_e, m) => { metrics.push(m.json()); } });
  await nc.flush();
  const got = collector(nc, '_INBOX.m');
  pull(nc, 'S', 'M', '_INBOX.m', { batch: 3, expires: 2e9 });
  await waitUntil(() => got.length === 3, 2000, 'deliveries');
  for (const m of got) m.respond('+ACK');
  await waitUntil(() => metrics.length === 3, 2000, 'metrics');
  assert.deepEqual(Object.keys(metrics[0]!), ['type', 'id', 'timestamp', 'stream', 'consumer', 'consumer_seq', 'stream_seq', 'ack_time', 'deliveries']);
  assert.equal(metrics[0]!.type, 'io.nats.jetstream.metric.v1.consumer_ack');
  assert.deepEqual(metrics.map((m) => m.stream_seq), [1, 2, 3]);
  assert.ok((metrics[0]!.ack_time as number) >= 0);
  assert.equal(metrics[0]!.deliveries, 1);
});
