// Push consumers: delivery to deliver_subject, queue groups, push_bound,
// flow control stall/resume, idle heartbeats, headers_only, replay original,
// rate limits, and the clients' ordered consumers (push and pull).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, ReplayPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { startJetStreamClient } from '../helpers/js.js';
import { waitUntil } from '../helpers/wait.js';

const MS = 1_000_000;

async function setup(t: import('node:test').TestContext): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const { nc, jsm } = await startJetStreamClient(t, { memoryStreamS: true });
  return { nc, jsm };
}

async function publish(nc: NatsConnection, n: number, subject = 's.a', payload: Uint8Array | string = ''): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < n; i++) await js.publish(subject, payload === '' ? `m${i}` : payload);
}

test('push consumer: delivers to deliver_subject once bound, acks through the client, push_bound in info', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 10);
  await jsm.consumers.add('S', { durable_name: 'P', deliver_subject: 'dlv.p', ack_policy: AckPolicy.Explicit });
  assert.equal((await jsm.consumers.info('S', 'P')).push_bound, undefined, 'nobody listens yet');
  const c = await jetstream(nc).consumers.getPushConsumer('S', 'P');
  const seqs: number[] = [];
  const iter = await c.consume();
  for await (const m of iter) {
    seqs.push(m.seq);
    m.ack();
    if (seqs.length === 10) break;
  }
  assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await nc.flush();
  await waitUntil(async () => (await jsm.consumers.info('S', 'P')).num_ack_pending === 0, 2000, 'acked');
});

test('deliver_group spreads messages over the queue group members', async (t) => {
  const { nc, jsm } = await setup(t);
  const got = [0, 0];
  for (const i of [0, 1]) nc.subscribe('dlv.q', { queue: 'grp', callback: () => { got[i]!++; } });
  await nc.flush();
  await jsm.consumers.add('S', { durable_name: 'Q', deliver_subject: 'dlv.q', deliver_group: 'grp', ack_policy: AckPolicy.None });
  await publish(nc, 100);
  await waitUntil(() => got[0]! + got[1]! === 100, 3000, 'all delivered');
  assert.ok(got[0]! > 10 && got[1]! > 10, `both members got a share: ${got}`);
  assert.equal((await jsm.consumers.info('S', 'Q')).push_bound, true);
});

test('flow control: delivery stalls without answers, heartbeats report the stall, an answer resumes it', async (t) => {
  const { nc, jsm } = await setup(t);
  const big = new Uint8Array(64 * 1024);
  await publish(nc, 64, 's.big', big); // 4 MiB > the initial 2 MiB window
  let data = 0;
  const fc: Msg[] = [];
  const stalled: string[] = [];
  nc.subscribe('dlv.fc', {
    callback: (_e, m) => {
      const code = m.headers?.code ?? 0;
      if (code === 100 && m.reply) fc.push(m);
      else if (code === 100) {
        const s = m.headers?.get('Nats-Consumer-Stalled');
        if (s) stalled.push(s);
      } else data++;
    },
  });
  await nc.flush();
  await jsm.consumers.add('S', {
    durable_name: 'F', deliver_subject: 'dlv.fc', ack_policy: AckPolicy.None, flow_control: true, idle_heartbeat: 200 * MS,
  });
  await waitUntil(() => fc.length === 1 && data > 0, 3000, 'flow control request');
  assert.match(fc[0]!.reply!, /^\$JS\.FC\.S\.F\.[0-9A-Za-z]{4}$/);
  await waitUntil(() => stalled.length > 0, 3000, 'heartbeat with Nats-Consumer-Stalled');
  assert.equal(stalled[0], fc[0]!.reply);
  const before = data;
  assert.ok(before < 64, `stalled after ${before} messages`);
  // Proving a non-event: nothing more is delivered while the flow control request is unanswered.
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(data, before, 'no delivery while stalled');
  // Answer every request from now on: the rest flows.
  fc[0]!.respond();
  let answered = 1;
  const timer = setInterval(() => { while (answered < fc.length) fc[answered++]!.respond(); }, 5);
  t.after(() => clearInterval(timer));
  await waitUntil(() => data === 64, 5000, 'all delivered after answering');
});

test('idle heartbeats on a quiet push consumer carry the last sequences', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 2);
  const hbs: Array<[string, string]> = [];
  let msgs = 0;
  nc.subscribe('dlv.hb', {
    callback: (_e, m) => {
      if (m.headers?.code === 100) hbs.push([m.headers.get('Nats-Last-Consumer'), m.headers.get('Nats-Last-Stream')]);
      else msgs++;
    },
  });
  await nc.flush();
  await jsm.consumers.add('S', { durable_name: 'H', deliver_subject: 'dlv.hb', ack_policy: AckPolicy.None, idle_heartbeat: 150 * MS });
  await waitUntil(() => hbs.length >= 2, 3000, 'heartbeats');
  assert.equal(msgs, 2);
  assert.deepEqual(hbs[0], ['2', '2']);
});

test('headers_only delivers the headers plus Nats-Msg-Size and no payload', async (t) => {
  const { nc, jsm } = await setup(t);
  const h = headers();
  h.set('X-Thing', 'yes');
  await jetstream(nc).publish('s.h', 'hello world', { headers: h });
  await jetstream(nc).publish('s.h', 'no headers here');
  const got: Msg[] = [];
  nc.subscribe('dlv.ho', { callback: (_e, m) => { got.push(m); } });
  await nc.flush();
  await jsm.consumers.add('S', { durable_name: 'HO', deliver_subject: 'dlv.ho', ack_policy: AckPolicy.None, headers_only: true });
  await waitUntil(() => got.length === 2, 2000, 'two');
  assert.equal(got[0]!.data.length, 0);
  assert.equal(got[0]!.headers?.get('X-Thing'), 'yes');
  assert.equal(got[0]!.headers?.get('Nats-Msg-Size'), '11');
  assert.equal(got[1]!.headers?.get('Nats-Msg-Size'), '15');
  assert.equal(got[1]!.subject, 's.h');
});

test('replay original keeps the original spacing; rate_limit_bps slows delivery', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 1, 's.r');
  // The point of the test: two messages stored at least 300 ms apart, a spacing to replay.
  await new Promise((r) => setTimeout(r, 300));
  await publish(nc, 1, 's.r');
  const times: number[] = [];
  nc.subscribe('dlv.r', { callback: () => { times.push(Date.now()); } });
  await nc.flush();
  await jsm.consumers.add('S', {
    durable_name: 'R', deliver_subject: 'dlv.r', ack_policy: AckPolicy.None, replay_policy: ReplayPolicy.Original, filter_subject: 's.r',
  });
  await waitUntil(() => times.length === 2, 3000, 'replayed');
  const gap = times[1]! - times[0]!;
  assert.ok(gap >= 250, `gap ${gap}ms`);

  // 2 KiB messages at 80 kbit/s (10 KB/s) after the first second's burst.
  await publish(nc, 20, 's.rl', new Uint8Array(2048));
  let n = 0;
  nc.subscribe('dlv.rl', { callback: () => { n++; } });
  await nc.flush();
  const t0 = Date.now();
  await jsm.consumers.add('S', {
    durable_name: 'RL', deliver_subject: 'dlv.rl', ack_policy: AckPolicy.None, rate_limit_bps: 80_000, filter_subject: 's.rl',
  });
  await waitUntil(() => n === 20, 8000, 'rate limited delivery');
  const took = Date.now() - t0;
  assert.ok(took >= 2000, `20 x 2KiB at 10KB/s took ${took}ms`);
});

test('ordered consumers of the client (push and pull) see every message in order', async (t) => {
  const { nc } = await setup(t);
  await publish(nc, 50, 's.o');
  const js = jetstream(nc);
  const pull = await js.consumers.get('S', { filter_subjects: ['s.o'] });
  const seqs: number[] = [];
  const it = await pull.consume();
  for await (const m of it) {
    seqs.push(m.seq);
    if (seqs.length === 50) break;
  }
  assert.deepEqual(seqs, Array.from({ length: 50 }, (_, i) => i + 1));

  const push = await js.consumers.getPushConsumer('S', { filter_subjects: 's.o', deliver_policy: DeliverPolicy.All });
  const pseqs: number[] = [];
  const pit = await push.consume();
  for await (const m of pit) {
    pseqs.push(m.seq);
    if (pseqs.length === 50) break;
  }
  assert.deepEqual(pseqs, seqs);
});

test('an ephemeral push consumer goes away after its subscriber left for inactive_threshold', async (t) => {
  const { nc, jsm } = await setup(t);
  const sub = nc.subscribe('dlv.gone');
  await nc.flush();
  const ci = await jsm.consumers.add('S', { deliver_subject: 'dlv.gone', ack_policy: AckPolicy.None, inactive_threshold: 300 * MS });
  // Proving a non-event: twice the inactive threshold passes while the subscriber is there.
  await new Promise((r) => setTimeout(r, 600));
  assert.equal((await jsm.consumers.info('S', ci.name)).push_bound, true, 'kept while bound');
  sub.unsubscribe();
  await nc.flush();
  await waitUntil(async () => (await jsm.consumers.list('S').next()).length === 0, 4000, 'removed after the subscriber left');
});
