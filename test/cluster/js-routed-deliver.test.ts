// Streams on server A, clients on server B: API requests, pull fetches, push and ordered
// consumers cross the route, and messages arrive with their stream subjects (carried as
// `$JS.ACK…@<subject>` in the RMSG reply, like nats-server). JetStream in a cluster is
// clustered JetStream (nats-server refuses a JetStream server in a cluster without routes):
// A and B form the meta group and every stream is placed on A by its tag.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { NatsServerNode, startNodesOnPortsKnownInAdvance, waitRoutes, waitFor, type InProcNode } from './cluster-helpers.js';
import { jsClusterOptions, waitForMetaLeader } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';
import { natsServerSkip } from '../helpers/nats-server.js';

/** Placement of every stream of these tests: server A (by tag; the client's Placement type wants a cluster name too). */
const ON_A = { tags: ['a'] } as never;

/**
 * Clustered JetStream servers with routes to each other, the first one tagged "a". Resolves
 * once the meta leader can place streams on every server.
 */
async function jsServers(t: TestContext, names: string[]): Promise<InProcNode[]> {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-jsroute-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const nodes = await startNodesOnPortsKnownInAdvance(names.length, (ports, clusterName) => names.map((name, i) => ({
    name, clusterName, clusterPort: ports[i]!,
    routes: ports.filter((_, k) => k !== i).map((p) => `nats-route://127.0.0.1:${p}`),
    extra: jsClusterOptions(join(root, name), { serverTags: i === 0 ? ['a'] : [], cluster: { connectRetries: 60 } as never }),
  })));
  t.after(async () => {
    for (const n of nodes) await n.h.shutdown();
  });
  await waitRoutes(nodes, names.length - 1);
  await waitForMetaLeader(nodes);
  await waitPlacement(nodes.map((n, i) => ({ ...n, name: names[i]!, dir: join(root, names[i]!) })));
  return nodes;
}

async function jsPair(t: TestContext): Promise<{ a: InProcNode; b: InProcNode; ncb: NatsConnection }> {
  const [a, b] = await jsServers(t, ['A', 'B']);
  const ncb = await connect({ servers: b!.h.clientUrl, reconnect: false });
  t.after(() => ncb.close());
  return { a: a!, b: b!, ncb };
}

test('pull consumer on server B fetches from a stream on server A with original subjects; acks work', async (t) => {
  const { ncb } = await jsPair(t);
  const jsm = await jetstreamManager(ncb);
  await jsm.streams.add({ name: 'ORD', subjects: ['orders.>'], storage: 'memory' as never, placement: ON_A });
  const js = jetstream(ncb);
  await js.publish('orders.new', 'o1');
  await js.publish('orders.eu.paid', 'o2');
  await js.publish('orders.us.shipped', 'o3');
  await jsm.consumers.add('ORD', { durable_name: 'P', ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get('ORD', 'P');
  const iter = await c.fetch({ max_messages: 3, expires: 2000 });
  const got: string[] = [];
  for await (const m of iter) {
    got.push(`${m.subject}|${m.string()}|${m.seq}`);
    await m.ackAck();
  }
  assert.deepEqual(got, ['orders.new|o1|1', 'orders.eu.paid|o2|2', 'orders.us.shipped|o3|3']);
  const info = await jsm.consumers.info('ORD', 'P');
  assert.equal(info.num_ack_pending, 0);
  assert.equal(info.ack_floor.stream_seq, 3);
  assert.equal(info.num_pending, 0);
});

test('push consumer with deliver subject on server B gets original subjects; acks reach server A', async (t) => {
  const { a, ncb } = await jsPair(t);
  const jsm = await jetstreamManager(ncb);
  await jsm.streams.add({ name: 'EV', subjects: ['ev.>'], storage: 'memory' as never, placement: ON_A });
  const js = jetstream(ncb);
  for (let i = 0; i < 5; i++) await js.publish(`ev.k${i}`, `e${i}`);

  const got: string[] = [];
  const sub = ncb.subscribe('push.deliver.ev', {
    callback: (_e, m) => {
      got.push(`${m.subject}|${m.string()}`);
      assert.ok(m.reply?.startsWith('$JS.ACK.EV.PU.'), `ack reply without the '@' suffix: ${m.reply}`);
      assert.ok(!m.reply!.includes('@'));
      m.respond(); // +ACK
    },
  });
  t.after(() => sub.unsubscribe());
  await ncb.flush();
  await waitFor(() => a.cluster.hasRemoteInterest('$G', 'push.deliver.ev'), 'deliver interest on A');
  await jsm.consumers.add('EV', {
    durable_name: 'PU', deliver_subject: 'push.deliver.ev', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All,
  });
  await waitFor(() => got.length === 5, 'five push deliveries on B');
  assert.deepEqual(got, [0, 1, 2, 3, 4].map((i) => `ev.k${i}|e${i}`));
  await waitFor(async () => (await jsm.consumers.info('EV', 'PU')).num_ack_pending === 0, 'acks processed on A');
  const info = await jsm.consumers.info('EV', 'PU');
  assert.equal(info.delivered.stream_seq, 5);
  assert.equal(info.ack_floor.stream_seq, 5);
});

test('ordered consumer on server B reads a stream on server A', async (t) => {
  const { ncb } = await jsPair(t);
  const jsm = await jetstreamManager(ncb);
  await jsm.streams.add({ name: 'LOG', subjects: ['log.*'], storage: 'memory' as never, placement: ON_A });
  const js = jetstream(ncb);
  for (let i = 0; i < 10; i++) await js.publish(`log.${i % 3}`, `l${i}`);
  const oc = await js.consumers.get('LOG');
  const msgs = await oc.consume();
  const got: string[] = [];
  for await (const m of msgs) {
    got.push(`${m.subject}|${m.string()}`);
    if (got.length === 10) break;
  }
  assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `log.${i % 3}|l${i}`));
});

test('mixed cluster: JetStream on tsnats, client on nats-server 2.9.10 sees original subjects', { skip: natsServerSkip() }, async (t) => {
  // A and A2 hold the meta group; the nats-server, without JetStream, routes to both.
  const [a, a2] = await jsServers(t, ['A', 'A2']);
  const ns = await NatsServerNode.start('NS', [a!.routeUrl, a2!.routeUrl], 0, a!.cluster.clusterName);
  t.after(() => ns.cleanup());
  await waitRoutes([a!, a2!], 2);
  const nc = await connect({ servers: ns.clientUrl, reconnect: false });
  t.after(() => nc.close());
  await waitFor(async () => {
    try {
      await jetstreamManager(nc, { timeout: 500 });
      return true;
    } catch {
      return false;
    }
  }, 'JetStream API reachable through nats-server');
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'MX', subjects: ['mx.>'], storage: 'memory' as never, placement: ON_A });
  const js = jetstream(nc);
  await js.publish('mx.a', 'm1');
  await js.publish('mx.b.c', 'm2');
  await jsm.consumers.add('MX', { durable_name: 'P', ack_policy: AckPolicy.Explicit });
  const c = await js.consumers.get('MX', 'P');
  const got: string[] = [];
  for await (const m of await c.fetch({ max_messages: 2, expires: 2000 })) {
    got.push(`${m.subject}|${m.string()}`);
    await m.ackAck();
  }
  assert.deepEqual(got, ['mx.a|m1', 'mx.b.c|m2']);
  assert.equal((await jsm.consumers.info('MX', 'P')).ack_floor.stream_seq, 2);
});

test('push consumer notices a subscriber on server B coming and going (interest notifications)', async (t) => {
  const { ncb } = await jsPair(t);
  const jsm = await jetstreamManager(ncb);
  await jsm.streams.add({ name: 'LATE', subjects: ['late.>'], storage: 'memory' as never, placement: ON_A });
  const js = jetstream(ncb);
  await js.publish('late.1', 'x1');
  // Created while nobody listens on the deliver subject; short inactive threshold.
  await jsm.consumers.add('LATE', {
    name: 'LC', deliver_subject: 'inbox.late', ack_policy: AckPolicy.None, inactive_threshold: 400_000_000,
  });
  assert.equal((await jsm.consumers.info('LATE', 'LC')).push_bound, undefined);
  const got: string[] = [];
  const sub = ncb.subscribe('inbox.late', { callback: (_e, m) => { got.push(`${m.subject}|${m.string()}`); } });
  await waitFor(() => got.length === 1, 'delivery once the subscriber appeared on B', 3000);
  assert.deepEqual(got, ['late.1|x1']);
  assert.equal((await jsm.consumers.info('LATE', 'LC')).push_bound, true);
  await js.publish('late.2', 'x2');
  await waitFor(() => got.length === 2, 'live delivery', 3000);
  sub.unsubscribe();
  await ncb.flush();
  // Unbound: the inactive threshold deletes the consumer.
  await waitFor(async () => (await jsm.consumers.list('LATE').next()).length === 0, 'ephemeral consumer removed after inactivity', 5000);
});
