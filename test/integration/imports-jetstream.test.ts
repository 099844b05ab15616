// JetStream across accounts: account I imports A's JetStream API (under the prefix "fromA"), its
// ack and flow-control subjects, a stream's subjects and A's delivery subjects, and uses A's
// streams with the official client's `apiPrefix`: publish, stream info, pull consumer with acks,
// push consumer, KV put/get/watch. The same scenario runs on nats-server 2.9.10 for comparison.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startConfigServers, type ConfigServer } from '../helpers/config-servers.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { waitUntil } from '../helpers/wait.js';

const CONF = `
accounts: {
  A: {
    users: [ {user: a, password: a} ]
    jetstream: enabled
    exports: [
      { service: "$JS.API.>", response: stream }
      { service: "$KV.>" }
      { service: "$JS.ACK.>" }
      { service: "$JS.FC.>" }
      { service: "orders.>" }
      { stream: "deliver.>" }
    ]
  }
  I: {
    users: [ {user: i, password: i} ]
    imports: [
      { service: { account: A, subject: "$JS.API.>" }, to: "fromA.>" }
      { service: { account: A, subject: "$KV.>" }, to: "fromA.$KV.>" }
      { service: { account: A, subject: "$JS.ACK.>" } }
      { service: { account: A, subject: "$JS.FC.>" } }
      { service: { account: A, subject: "orders.>" } }
      { stream: { account: A, subject: "deliver.>" } }
    ]
  }
}
`;

async function open(t: import('node:test').TestContext, url: string, user: string, inboxPrefix?: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, user, pass: user, ...(inboxPrefix ? { inboxPrefix } : {}) });
  t.after(() => nc.close());
  return nc;
}

async function scenario(t: import('node:test').TestContext, s: ConfigServer): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const a = await open(t, s.url, 'a');
  // I's inboxes live under "deliver.", which it imports from A: JetStream's answers and
  // deliveries to I's inboxes reach it
  const i = await open(t, s.url, 'i', 'deliver');
  const jsmA = await jetstreamManager(a);
  await jsmA.streams.add({ name: 'ORDERS', subjects: ['orders.>'], storage: 'memory' as never });
  const jsA = jetstream(a);
  for (let n = 1; n <= 5; n++) await jsA.publish(`orders.${n}`, `o${n}`);

  const jsI = jetstream(i, { apiPrefix: 'fromA' });
  const jsmI = await jetstreamManager(i, { apiPrefix: 'fromA' });
  out.info = (await jsmI.streams.info('ORDERS')).state.messages;
  const ack = await jsI.publish('orders.6', 'o6');
  out.puback = { stream: ack.stream, seq: ack.seq };

  // pull consumer created, fetched and acked from I
  await jsmI.consumers.add('ORDERS', { durable_name: 'pull', ack_policy: AckPolicy.Explicit });
  const pull = await jsI.consumers.get('ORDERS', 'pull');
  const pulled: string[] = [];
  const batch = await pull.fetch({ max_messages: 6 });
  for await (const m of batch) {
    pulled.push(m.string());
    m.ack();
  }
  out.pulled = pulled;
  await i.flush();
  await waitUntil(async () => (await jsmA.consumers.info('ORDERS', 'pull')).num_ack_pending === 0);
  const acked = await jsmI.consumers.info('ORDERS', 'pull');
  out.pullState = { pending: acked.num_pending, ackPending: acked.num_ack_pending, delivered: acked.delivered.consumer_seq };

  // push consumer delivering to one of I's subjects imported from A
  await jsmI.consumers.add('ORDERS', { durable_name: 'push', deliver_subject: 'deliver.push', ack_policy: AckPolicy.Explicit });
  const push = await jsI.consumers.getPushConsumer('ORDERS', 'push');
  const pushed: string[] = [];
  for await (const m of await push.consume()) {
    pushed.push(`${m.subject} ${m.string()}`);
    m.ack();
    if (pushed.length === 6) break;
  }
  out.pushed = pushed;
  await i.flush();
  await waitUntil(async () => (await jsmA.consumers.info('ORDERS', 'push')).num_ack_pending === 0);

  // KV: a bucket of A, written and read from I
  const kvA = await new Kvm(a).create('Map', { history: 5, storage: 'memory' as never });
  const kvI = await new Kvm(jsI).open('Map');
  const rev = await kvI.put('color', 'blue');
  await kvA.put('size', 'XL');
  out.kv = {
    rev,
    fromA: (await kvA.get('color'))?.string(),
    fromI: (await kvI.get('size'))?.string(),
  };
  const seen: string[] = [];
  const w = await kvI.watch();
  for await (const e of w) {
    seen.push(`${e.key}=${e.string()}`);
    if (seen.length === 2) break;
  }
  out.watch = seen.sort();
  return out;
}

test('JetStream of another account: publish, pull and push consumers, KV', { skip: natsServerSkip() }, async (t) => {
  const servers = await startConfigServers(t, CONF, { jetstream: true });
  const [ts, ns] = [await scenario(t, servers[0]), await scenario(t, servers[1])];
  assert.equal(ts.info, 5);
  assert.deepEqual(ts.puback, { stream: 'ORDERS', seq: 6 });
  assert.deepEqual(ts.pulled, ['o1', 'o2', 'o3', 'o4', 'o5', 'o6']);
  assert.deepEqual(ts.pullState, { pending: 0, ackPending: 0, delivered: 6 });
  assert.deepEqual(ts.pushed, ['orders.1 o1', 'orders.2 o2', 'orders.3 o3', 'orders.4 o4', 'orders.5 o5', 'orders.6 o6']);
  assert.deepEqual(ts.kv, { rev: 1, fromA: 'blue', fromI: 'XL' });
  assert.deepEqual(ts.watch, ['color=blue', 'size=XL']);
  assert.deepEqual(ts, ns);
});
