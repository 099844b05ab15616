// Interest and workqueue retention driven by consumer acks: messages leave the
// stream when every interested consumer acked them (interest) or on the first
// ack (workqueue); deleting a consumer releases what only it held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, type JetStreamManager } from '@nats-io/jetstream';
import { startJetStreamClient } from '../helpers/js.js';
import { waitUntil } from '../helpers/wait.js';

async function setup(t: import('node:test').TestContext): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const { nc, jsm } = await startJetStreamClient(t);
  return { nc, jsm };
}

async function drain(nc: NatsConnection, stream: string, consumer: string, n: number, ack = true): Promise<number[]> {
  const c = await jetstream(nc).consumers.get(stream, consumer);
  const seqs: number[] = [];
  const it = await c.fetch({ max_messages: n, expires: 1000 });
  for await (const m of it) {
    seqs.push(m.seq);
    if (ack) await m.ackAck();
  }
  return seqs;
}

async function messages(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

test('interest retention: kept until all interested consumers acked; nothing kept without consumers', async (t) => {
  const { nc, jsm } = await setup(t);
  await jsm.streams.add({ name: 'I', subjects: ['i.>'], retention: 'interest' as never, storage: 'memory' as never });
  const js = jetstream(nc);
  await js.publish('i.a', 'lost');
  assert.equal(await messages(jsm, 'I'), 0, 'no consumers: not retained');

  await jsm.consumers.add('I', { durable_name: 'all', ack_policy: AckPolicy.Explicit });
  await jsm.consumers.add('I', { durable_name: 'onlyB', ack_policy: AckPolicy.Explicit, filter_subject: 'i.b' });
  for (let i = 0; i < 3; i++) await js.publish('i.a', `a${i}`);
  for (let i = 0; i < 2; i++) await js.publish('i.b', `b${i}`);
  assert.equal(await messages(jsm, 'I'), 5);

  assert.deepEqual(await drain(nc, 'I', 'all', 5), [2, 3, 4, 5, 6]);
  await waitUntil(async () => await messages(jsm, 'I') === 2, 2000, 'i.a gone, i.b still wanted by onlyB');
  assert.deepEqual(await drain(nc, 'I', 'onlyB', 2), [5, 6]);
  await waitUntil(async () => await messages(jsm, 'I') === 0, 2000, 'all gone');
});

test('interest retention: deleting the only consumer that still needs messages removes them', async (t) => {
  const { nc, jsm } = await setup(t);
  await jsm.streams.add({ name: 'I2', subjects: ['j.>'], retention: 'interest' as never, storage: 'memory' as never });
  await jsm.consumers.add('I2', { durable_name: 'fast', ack_policy: AckPolicy.Explicit });
  await jsm.consumers.add('I2', { durable_name: 'slow', ack_policy: AckPolicy.Explicit });
  const js = jetstream(nc);
  for (let i = 0; i < 4; i++) await js.publish('j.x', `${i}`);
  await drain(nc, 'I2', 'fast', 4);
  assert.equal(await messages(jsm, 'I2'), 4, 'slow still needs them');
  await jsm.consumers.delete('I2', 'slow');
  await waitUntil(async () => await messages(jsm, 'I2') === 0, 2000, 'released on delete');
});

test('interest retention with ack none: delivery counts as the ack', async (t) => {
  const { nc, jsm } = await setup(t);
  await jsm.streams.add({ name: 'I3', subjects: ['k.>'], retention: 'interest' as never, storage: 'memory' as never });
  await jsm.consumers.add('I3', { durable_name: 'n', ack_policy: AckPolicy.None });
  const js = jetstream(nc);
  for (let i = 0; i < 3; i++) await js.publish('k.x', `${i}`);
  assert.deepEqual(await drain(nc, 'I3', 'n', 3, false), [1, 2, 3]);
  await waitUntil(async () => await messages(jsm, 'I3') === 0, 2000, 'removed on delivery');
});

test('workqueue: an ack removes the message; nak and ack_wait keep it', async (t) => {
  const { nc, jsm } = await setup(t);
  await jsm.streams.add({ name: 'W', subjects: ['w.>'], retention: 'workqueue' as never, storage: 'memory' as never });
  await jsm.consumers.add('W', { durable_name: 'worker', ack_policy: AckPolicy.Explicit });
  const js = jetstream(nc);
  for (let i = 0; i < 5; i++) await js.publish('w.job', `${i}`);
  const c = await js.consumers.get('W', 'worker');
  const it = await c.fetch({ max_messages: 5, expires: 1000 });
  let i = 0;
  for await (const m of it) {
    if (i++ % 2 === 0) await m.ackAck();
    else m.nak();
  }
  await waitUntil(async () => await messages(jsm, 'W') === 2, 2000, 'acked ones removed');
  const rest = await drain(nc, 'W', 'worker', 2);
  assert.deepEqual(rest, [2, 4]);
  await waitUntil(async () => await messages(jsm, 'W') === 0, 2000, 'queue empty');
  const si = await jsm.streams.info('W');
  assert.equal(si.state.first_seq, 6);
});

test('workqueue partitions: filtered consumers each take their own subjects', async (t) => {
  const { nc, jsm } = await setup(t);
  await jsm.streams.add({ name: 'WP', subjects: ['wp.>'], retention: 'workqueue' as never, storage: 'memory' as never });
  await jsm.consumers.add('WP', { durable_name: 'a', ack_policy: AckPolicy.Explicit, filter_subject: 'wp.a' });
  await jsm.consumers.add('WP', { durable_name: 'b', ack_policy: AckPolicy.Explicit, filter_subject: 'wp.b' });
  const js = jetstream(nc);
  for (let i = 0; i < 3; i++) {
    await js.publish('wp.a', 'x');
    await js.publish('wp.b', 'y');
  }
  assert.deepEqual(await drain(nc, 'WP', 'a', 3), [1, 3, 5]);
  await waitUntil(async () => await messages(jsm, 'WP') === 3, 2000, 'a done');
  assert.deepEqual(await drain(nc, 'WP', 'b', 3), [2, 4, 6]);
  await waitUntil(async () => await messages(jsm, 'WP') === 0, 2000, 'b done');
});

test('stream purge and message removal keep consumer state consistent', async (t) => {
  const { nc, jsm } = await setup(t);
  await jsm.streams.add({ name: 'P', subjects: ['p.>'], storage: 'memory' as never });
  const js = jetstream(nc);
  for (let i = 0; i < 10; i++) await js.publish(i % 2 ? 'p.odd' : 'p.even', `${i}`);
  await jsm.consumers.add('P', { durable_name: 'c', ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get('P', 'c');
  const it = await c.fetch({ max_messages: 3, expires: 1000 });
  for await (const m of it) void m;
  let ci = await c.info();
  assert.equal(ci.num_ack_pending, 3);
  assert.equal(ci.num_pending, 7);
  await jsm.streams.purge('P', { filter: 'p.odd' });
  ci = await c.info();
  assert.equal(ci.num_pending, 3, 'only p.even 5, 7, 9 left after the delivered ones');
  assert.equal(ci.num_ack_pending, 2, 'the purged delivery (seq 2) no longer waits for an ack');
  await jsm.streams.deleteMessage('P', 9);
  ci = await c.info();
  assert.equal(ci.num_pending, 2);
  await jsm.streams.purge('P');
  ci = await c.info();
  assert.equal(ci.num_pending, 0);
  assert.equal(ci.num_ack_pending, 0);
  assert.equal(ci.ack_floor.stream_seq, 10);
  await js.publish('p.even', 'after');
  const more = await drain(nc, 'P', 'c', 1);
  assert.deepEqual(more, [11]);
});
