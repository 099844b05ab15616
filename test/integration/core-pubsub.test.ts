// Core messaging behaviour through the official client: wildcards, queue
// groups, request/reply, headers, no responders, echo, auto-unsubscribe,
// max_payload, several servers in one process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, headers, type NatsConnection, type Msg } from '@nats-io/transport-node';
import { clientSubCount, startTestServer, type ServerHandle } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { RawClient, connectLine } from '../helpers/raw-client.js';

async function client(h: ServerHandle, t: { after(fn: () => unknown): void }, opts: Record<string, unknown> = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: h.clientUrl, ...opts });
  t.after(() => nc.close());
  return nc;
}

function collect(nc: NatsConnection, subject: string, opts: { queue?: string; max?: number } = {}): Msg[] {
  const got: Msg[] = [];
  nc.subscribe(subject, { ...opts, callback: (_e, m) => { got.push(m); } });
  return got;
}

test('wildcard subscriptions across connections', async (t) => {
  const h = await startTestServer({}, t);
  const sub = await client(h, t);
  const pub = await client(h, t);
  const star = collect(sub, 'orders.*');
  const gt = collect(sub, 'orders.>');
  const exact = collect(sub, 'orders.eu.new');
  await sub.flush();
  for (const s of ['orders.eu', 'orders.eu.new', 'orders.us.old', 'other.eu']) pub.publish(s, s);
  await pub.flush();
  await waitUntil(() => gt.length === 3, 3000, 'orders.> messages');
  await sub.flush();
  assert.deepEqual(star.map((m) => m.subject), ['orders.eu']);
  assert.deepEqual(gt.map((m) => m.subject), ['orders.eu', 'orders.eu.new', 'orders.us.old']);
  assert.deepEqual(exact.map((m) => m.string()), ['orders.eu.new']);
});

test('queue group: each message to exactly one member, plain subscribers get all', async (t) => {
  const h = await startTestServer({}, t);
  const members = await Promise.all([client(h, t), client(h, t), client(h, t)]);
  const got = members.map((nc) => collect(nc, 'work', { queue: 'workers' }));
  const watcher = await client(h, t);
  const all = collect(watcher, 'work');
  await Promise.all([...members, watcher].map((nc) => nc.flush()));
  const pub = await client(h, t);
  const N = 300;
  for (let i = 0; i < N; i++) pub.publish('work', String(i));
  await pub.flush();
  await waitUntil(() => all.length === N && got.reduce((a, g) => a + g.length, 0) === N, 5000, 'deliveries');
  const seen = got.flat().map((m) => m.string()).sort();
  assert.deepEqual(seen, Array.from({ length: N }, (_, i) => String(i)).sort(), 'every message exactly once in the group');
  for (const g of got) assert.ok(g.length > 30, `member share ${g.length} shows random spreading`);
});

test('request/reply with muxed inbox and old-style inbox', async (t) => {
  const h = await startTestServer({}, t);
  const svc = await client(h, t);
  svc.subscribe('math.double', { callback: (_e, m) => { m.respond(String(Number(m.string()) * 2)); } });
  await svc.flush();
  const nc = await client(h, t);
  const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => nc.request('math.double', String(i), { timeout: 2000 })));
  assert.deepEqual(replies.map((r) => r.string()), Array.from({ length: 20 }, (_, i) => String(i * 2)));
  const r = await nc.request('math.double', '21', { timeout: 2000, noMux: true });
  assert.equal(r.string(), '42');
});

test('headers are delivered to header clients and stripped for others', async (t) => {
  const h = await startTestServer({}, t);
  const nc = await client(h, t);
  const got = collect(nc, 'h.x');
  const raw = await RawClient.connect(h.port);
  t.after(() => raw.close());
  raw.send(connectLine({ headers: false, no_responders: false }) + 'SUB h.x 9\r\n');
  await raw.flushPing();
  await nc.flush();
  const hd = headers();
  hd.set('Trace-Id', 'abc');
  hd.append('Multi', '1');
  hd.append('Multi', '2');
  nc.publish('h.x', 'body', { headers: hd });
  await nc.flush();
  await waitUntil(() => got.length === 1);
  assert.equal(got[0].headers?.get('Trace-Id'), 'abc');
  assert.deepEqual(got[0].headers?.values('Multi'), ['1', '2']);
  assert.equal(got[0].string(), 'body');
  const text = await raw.waitFor('body\r\n');
  assert.equal(text, 'MSG h.x 9 4\r\nbody\r\n');
});

test('no responders: request fails fast with 503', async (t) => {
  const h = await startTestServer({}, t);
  const nc = await client(h, t);
  // A timeout longer than the test's own: only a 503 can end the request (a timeout error
  // would not match "no responders" either).
  await assert.rejects(nc.request('nobody.home', 'x', { timeout: 600_000 }), (e: Error) => {
    const text = `${e.message} ${String((e as { cause?: Error }).cause?.message ?? '')}`;
    assert.match(text, /no responders/i);
    return true;
  });
});

test('echo off: own messages are not delivered back', async (t) => {
  const h = await startTestServer({}, t);
  const quiet = await client(h, t, { noEcho: true });
  const loud = await client(h, t);
  const quietGot = collect(quiet, 'e');
  const loudGot = collect(loud, 'e');
  await quiet.flush();
  await loud.flush();
  quiet.publish('e', 'from-quiet');
  loud.publish('e', 'from-loud');
  await quiet.flush();
  await loud.flush();
  await waitUntil(() => loudGot.length === 2 && quietGot.length === 1);
  await quiet.flush();
  assert.deepEqual(quietGot.map((m) => m.string()), ['from-loud']);
  assert.deepEqual(loudGot.map((m) => m.string()).sort(), ['from-loud', 'from-quiet']);
});

test('auto-unsubscribe after max messages', async (t) => {
  const h = await startTestServer({}, t);
  const nc = await client(h, t);
  const got = collect(nc, 'u', { max: 3 });
  await nc.flush();
  for (let i = 0; i < 10; i++) nc.publish('u', String(i));
  await nc.flush();
  await waitUntil(() => got.length === 3);
  await nc.flush();
  assert.deepEqual(got.map((m) => m.string()), ['0', '1', '2']);
  await waitUntil(() => clientSubCount(h.server.globalAccount) === 0, 2000, 'server removed the subscription');
});

test('max_payload is advertised and enforced', async (t) => {
  const h = await startTestServer({ maxPayloadBytes: 1024 }, t);
  const nc = await client(h, t);
  assert.equal(nc.info?.max_payload, 1024);
  assert.throws(() => nc.publish('big', new Uint8Array(2000)), /payload/i);
  const raw = await RawClient.connect(h.port);
  t.after(() => raw.close());
  raw.send(connectLine() + 'PUB big 2000\r\n');
  await raw.waitClosed();
  assert.match(raw.text, /-ERR 'Maximum Payload Violation'\r\n$/);
  await waitUntil(() => h.server.closedClients.list().some((c) => c.reason === 'Maximum Message Payload Exceeded'));
});

test('several servers in one process are independent', async (t) => {
  const [a, b] = await Promise.all([startTestServer({ serverName: 'A' }, t), startTestServer({ serverName: 'B' }, t)]);
  assert.notEqual(a.server.serverId, b.server.serverId);
  const na = await client(a, t);
  const nb = await client(b, t);
  assert.equal(na.info?.server_name, 'A');
  assert.equal(nb.info?.server_name, 'B');
  const ga = collect(na, 'shared');
  const gb = collect(nb, 'shared');
  await na.flush();
  await nb.flush();
  na.publish('shared', 'to-a');
  nb.publish('shared', 'to-b');
  await na.flush();
  await nb.flush();
  await waitUntil(() => ga.length === 1 && gb.length === 1);
  assert.deepEqual(ga.map((m) => m.string()), ['to-a']);
  assert.deepEqual(gb.map((m) => m.string()), ['to-b']);
  await a.shutdown();
  // b keeps working after a is gone
  const r = await nb.request('nobody', '', { timeout: 1000 }).catch((e: Error) => e);
  assert.ok(r instanceof Error);
  nb.publish('shared', 'again');
  await waitUntil(() => gb.length === 2);
});
