// Pull consumers through the official client and raw requests: fetch/consume,
// no_wait, expiry, max_bytes, request caps, max_waiting, heartbeats, deletes
// mid-fetch, push/unknown consumers, with nats-server's exact status bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startTestServer } from '../helpers/server.js';
import { startJetStreamClient, JS_TEST_OPTIONS } from '../helpers/js.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitUntil } from '../helpers/wait.js';

async function setup(t: import('node:test').TestContext): Promise<{ nc: NatsConnection; jsm: JetStreamManager; port: number }> {
  const { h, nc, jsm } = await startJetStreamClient(t, { memoryStreamS: true });
  return { nc, jsm, port: h.port };
}

/** Raw client with headers, subscribed to one inbox. */
async function rawInbox(port: number, inbox: string): Promise<RawClient> {
  const { c } = await RawClient.connectInfo(port);
  c.send(`CONNECT {"verbose":false,"headers":true,"no_responders":true,"protocol":1}\r\nSUB ${inbox} 1\r\nPING\r\n`);
  await c.waitFor('PONG');
  c.clear();
  return c;
}

/** A raw PUB with the byte count computed. */
function pub(c: RawClient, subject: string, reply: string, body: string): void {
  c.send(`PUB ${subject} ${reply} ${Buffer.byteLength(body)}\r\n${body}\r\n`);
}

async function publish(nc: NatsConnection, n: number, subject = 's.a', size = 0): Promise<void> {
  const js = jetstream(nc);
  for (let i = 0; i < n; i++) await js.publish(subject, size > 0 ? new Uint8Array(size) : `m${i}`);
}

test('fetch delivers in order with the original subject, ack reply and pending count', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 5);
  await publish(nc, 2, 's.b');
  await jsm.consumers.add('S', { durable_name: 'D', ack_policy: AckPolicy.Explicit });
  const c = await jetstream(nc).consumers.get('S', 'D');
  const got: Array<[string, number, number, number]> = [];
  const it = await c.fetch({ max_messages: 7, expires: 2000 });
  for await (const m of it) {
    got.push([m.subject, m.seq, m.info.deliverySequence, m.info.pending]);
    m.ack();
  }
  assert.deepEqual(got.map((g) => g[0]), ['s.a', 's.a', 's.a', 's.a', 's.a', 's.b', 's.b']);
  assert.deepEqual(got.map((g) => g[1]), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(got.map((g) => g[2]), [1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(got.map((g) => g[3]), [6, 5, 4, 3, 2, 1, 0]);
  await nc.flush();
  const ci = await c.info();
  assert.equal(ci.num_pending, 0);
  assert.equal(ci.num_ack_pending, 0);
  assert.deepEqual([ci.delivered.consumer_seq, ci.delivered.stream_seq], [7, 7]);
  assert.deepEqual([ci.ack_floor.consumer_seq, ci.ack_floor.stream_seq], [7, 7]);
});

test('consume() keeps pulling until everything is acked; filtered consumers skip other subjects', async (t) => {
  const { nc, jsm } = await setup(t);
  await publish(nc, 30, 's.x');
  await publish(nc, 20, 's.y');
  await jsm.consumers.add('S', { durable_name: 'Y', ack_policy: AckPolicy.Explicit, filter_subject: 's.y' });
  const c = await jetstream(nc).consumers.get('S', 'Y');
  assert.equal((await c.info()).num_pending, 20);
  const seqs: number[] = [];
  const iter = await c.consume({ max_messages: 7 });
  for await (const m of iter) {
    seqs.push(m.seq);
    m.ack();
    if (seqs.length === 20) break;
  }
  assert.deepEqual(seqs, Array.from({ length: 20 }, (_, i) => 31 + i));
  await nc.flush();
  await waitUntil(async () => (await c.info()).num_ack_pending === 0, 3000, 'acks processed');
});

test('status replies: 404 no_wait, 408 expiry with pending counts, 100 heartbeats (exact bytes)', async (t) => {
  const { jsm, port } = await setup(t);
  await jsm.consumers.add('S', { durable_name: 'E', ack_policy: AckPolicy.Explicit });
  const c = await rawInbox(port, '_INBOX.st');
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.E', '_INBOX.st', '{"batch":1,"no_wait":true}');
  await c.waitFor('No Messages');
  assert.equal(c.text, 'HMSG _INBOX.st 1 28 28\r\nNATS/1.0 404 No Messages\r\n\r\n\r\n');
  c.clear();
  const t0 = Date.now();
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.E', '_INBOX.st', '{"batch":3,"expires":1200000000,"idle_heartbeat":500000000}');
  await c.waitFor('Request Timeout', 10_000);
  const elapsed = Date.now() - t0;
  assert.ok(elapsed >= 1100, `expired after ${elapsed}ms (expires 1.2 s)`);
  const frames = c.text.split('HMSG ').filter(Boolean);
  const hb = 'HMSG _INBOX.st 1 75 75\r\nNATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\r\n\r\n';
  assert.ok(frames.length >= 2, c.text);
  assert.equal('HMSG ' + frames[0], hb);
  assert.equal('HMSG ' + frames[frames.length - 1],
    'HMSG _INBOX.st 1 81 81\r\nNATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 0\r\n\r\n\r\n');
});

test('request caps and bad requests get 409/400 with nats-server texts', async (t) => {
  const { jsm, port } = await setup(t);
  await jsm.consumers.add('S', {
    durable_name: 'L', ack_policy: AckPolicy.Explicit, max_batch: 2, max_expires: 1_000_000_000, max_bytes: 1000,
  });
  const c = await rawInbox(port, '_INBOX.l');
  const cases: Array<[string, string]> = [
    ['{"batch":5}', 'NATS/1.0 409 Exceeded MaxRequestBatch of 2'],
    ['{"batch":1,"expires":5000000000}', 'NATS/1.0 409 Exceeded MaxRequestExpires of 1s'],
    ['{"batch":1,"max_bytes":5000}', 'NATS/1.0 409 Exceeded MaxRequestMaxBytes of 1000'],
    ['{"batch":1,"expires":2000000,"idle_heartbeat":5000000}', 'NATS/1.0 400 Bad Request - heartbeat value too large'],
    ['{"batch":"x"}', 'NATS/1.0 400 Bad Request - json: cannot unmarshal string into Go struct field JSApiConsumerGetNextRequest.batch of type int'],
  ];
  for (const [body, line] of cases) {
    c.clear();
    c.send(`PUB $JS.API.CONSUMER.MSG.NEXT.S.L _INBOX.l ${Buffer.byteLength(body)}\r\n${body}\r\n`);
    const text = await c.waitFor('\r\n\r\n\r\n');
    assert.ok(text.includes(`${line}\r\n\r\n`), `${body}: ${JSON.stringify(text)}`);
  }
});

test('max_bytes: a message larger than what is left ends the request with 409 and the pending counts', async (t) => {
  const { nc, jsm, port } = await setup(t);
  await publish(nc, 3, 's.a', 100);
  await jsm.consumers.add('S', { durable_name: 'B', ack_policy: AckPolicy.None });
  const c = await rawInbox(port, '_INBOX.b');
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.B', '_INBOX.b', '{"batch":10,"max_bytes":300,"expires":2000000000}');
  const text = await c.waitFor('Message Size Exceeds MaxBytes');
  // Each message costs subject + ack reply + payload (~150 bytes): two fit, the third does not.
  assert.equal((text.match(/^MSG s\.a 1 \$JS\.ACK\.S\.B\./gm) ?? []).length, 2, text);
  assert.match(text, /NATS\/1\.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 8\r\nNats-Pending-Bytes: \d+\r\n\r\n/);
});

test('max_waiting: one request too many gets 409 Exceeded MaxWaiting', async (t) => {
  const { jsm, port } = await setup(t);
  await jsm.consumers.add('S', { durable_name: 'W', ack_policy: AckPolicy.Explicit, max_waiting: 2 });
  const c = await rawInbox(port, '_INBOX.w.*');
  for (let i = 0; i < 3; i++) pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.W', `_INBOX.w.${i}`, '{"batch":1,"expires":3000000000}');
  const text = await c.waitFor('Exceeded MaxWaiting');
  assert.ok(text.includes('HMSG _INBOX.w.2 1 36 36\r\nNATS/1.0 409 Exceeded MaxWaiting\r\n\r\n'), text);
  const ci = await jsm.consumers.info('S', 'W');
  assert.equal(ci.num_waiting, 2);
});

test('deleting a consumer mid-fetch answers 409 Consumer Deleted and the server keeps serving', async (t) => {
  const { nc, jsm, port } = await setup(t);
  await jsm.consumers.add('S', { durable_name: 'X', ack_policy: AckPolicy.Explicit });
  const c = await rawInbox(port, '_INBOX.x');
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.X', '_INBOX.x', '{"batch":1,"expires":5000000000}');
  await waitUntil(async () => (await jsm.consumers.info('S', 'X')).num_waiting === 1, 2000, 'request waiting');
  assert.equal(await jsm.consumers.delete('S', 'X'), true);
  const text = await c.waitFor('Consumer Deleted');
  assert.equal(text, 'HMSG _INBOX.x 1 33 33\r\nNATS/1.0 409 Consumer Deleted\r\n\r\n\r\n');
  // Pulls to a consumer that does not exist get no answer at all (no 503 either).
  c.clear();
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.X', '_INBOX.x', '1');
  c.send('PING\r\n');
  await c.waitFor('PONG');
  // Proving a non-event: JetStream answers asynchronously, so give a reply a moment to show up.
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(c.text, 'PONG\r\n');
  await publish(nc, 1);
  assert.equal((await jsm.streams.info('S')).state.messages, 1);
});

test('pulling from a push consumer answers 409 Consumer is push based', async (t) => {
  const { jsm, port } = await setup(t);
  await jsm.consumers.add('S', { durable_name: 'P', deliver_subject: 'push.here', ack_policy: AckPolicy.Explicit });
  const c = await rawInbox(port, '_INBOX.p');
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.P', '_INBOX.p', '1');
  const text = await c.waitFor('push based');
  assert.equal(text, 'HMSG _INBOX.p 1 39 39\r\nNATS/1.0 409 Consumer is push based\r\n\r\n\r\n');
});

test('no_wait with some messages returns them and ends with 404; waiting requests are served round robin', async (t) => {
  const { nc, jsm, port } = await setup(t);
  await publish(nc, 2);
  await jsm.consumers.add('S', { durable_name: 'N', ack_policy: AckPolicy.None });
  const c = await rawInbox(port, '_INBOX.n.*');
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.N', '_INBOX.n.0', '{"batch":10,"no_wait":true}');
  const text = await c.waitFor('No Messages');
  assert.equal((text.match(/^MSG s\.a 1 /gm) ?? []).length, 2);
  c.clear();
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.N', '_INBOX.n.1', '{"batch":10,"expires":5000000000}');
  pub(c, '$JS.API.CONSUMER.MSG.NEXT.S.N', '_INBOX.n.2', '{"batch":10,"expires":5000000000}');
  c.send('PING\r\n');
  await c.waitFor('PONG');
  await waitUntil(async () => (await jsm.consumers.info('S', 'N')).num_waiting === 2, 2000, 'two waiting');
  await publish(nc, 4);
  const t2 = await c.waitFor((s) => (s.match(/^MSG /gm) ?? []).length === 4);
  const order = [...t2.matchAll(/^MSG s\.a 1 \$JS\.ACK\.S\.N\.1\.(\d+)\./gm)].map((m) => Number(m[1]));
  assert.deepEqual(order, [3, 4, 5, 6]);
});

test('a JetStream domain: clients using $JS.<domain>.API create, fetch and ack', async (t) => {
  const h = await startTestServer({ jetstream: { ...JS_TEST_OPTIONS.jetstream!, domain: 'hub' } }, t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc, { domain: 'hub' });
  await jsm.streams.add({ name: 'D', subjects: ['d.>'], storage: 'memory' as never });
  const js = jetstream(nc, { domain: 'hub' });
  for (let i = 0; i < 3; i++) await js.publish('d.x', `v${i}`);
  await jsm.consumers.add('D', { durable_name: 'dc', ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get('D', 'dc');
  const seqs: number[] = [];
  for await (const m of await c.fetch({ max_messages: 3, expires: 2000 })) {
    seqs.push(m.seq);
    await m.ackAck();
  }
  assert.deepEqual(seqs, [1, 2, 3]);
  assert.equal((await c.info()).ack_floor.stream_seq, 3);
});
