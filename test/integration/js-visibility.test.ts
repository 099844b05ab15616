// Visibility follows durability (default sync policy: fsync before the PubAck).
//
// A stored message is delivered to consumers, answered by direct gets and counted by API
// requests sent after it only once it is durable, and its PubAck leaves no later than its
// first delivery. nats-server 2.9.10, for one socket write of PUB (with reply) + an API
// request + PING, sends the PubAck before the API reply and before the consumer delivery
// (the PONG may come before or after the PubAck: nats-server answers it from another
// goroutine, so that order is not asserted). PubAcks of interest-retention streams
// without interest are sent too, duplicate PubAcks wait for the original to be durable,
// and purge/delete replies wait for their records to be durable.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startTestServer, type ServerHandle } from '../helpers/server.js';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import type { JetStreamService } from '../../src/jetstream/index.js';
import type { Stream } from '../../src/jetstream/stream.js';
import { startTapProxy } from '../helpers/tap-proxy.js';
import { waitUntil } from '../helpers/wait.js';

const ALWAYS = { jetstream: { enabled: true, storeDir: '', maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always' as const, strict: true } };

async function server(t: TestContext): Promise<ServerHandle> {
  return startTestServer(ALWAYS, t);
}

async function raw(t: TestContext, h: ServerHandle, subs: string[]): Promise<RawClient> {
  const { c } = await RawClient.connectInfo(h.port);
  t.after(() => c.close());
  c.send(connectLine() + subs.map((s, i) => `SUB ${s} ${i + 1}\r\n`).join(''));
  await c.flushPing();
  c.clear();
  return c;
}

function streamOf(h: ServerHandle, name: string): Stream {
  const js = h.server.getSubsystem('jetstream') as JetStreamService;
  const s = js.jsAccount('$G')?.streams.get(name);
  assert.ok(s, `stream ${name}`);
  return s;
}

/** Index in `text` of the first MSG line delivered on `subject`, -1 when none. */
function msgAt(text: string, subject: string): number {
  const m = new RegExp(`(^|\\r\\n)H?MSG ${subject.replace(/[$.*>]/g, (x) => '\\' + x)} `).exec(text);
  return m === null ? -1 : m.index;
}

/** Payload of the MSG delivered on `subject` (assumes no headers). */
function payloadOf(text: string, subject: string): string {
  const at = msgAt(text, subject);
  const rest = text.slice(at).replace(/^\r\n/, '');
  const head = rest.slice(0, rest.indexOf('\r\n'));
  const size = Number(head.split(' ').pop());
  const start = rest.indexOf('\r\n') + 2;
  return rest.slice(start, start + size);
}

test('PUB + API requests + PING in one write: the PubAck leaves before the API replies and the delivery', async (t) => {
  const h = await server(t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'S', subjects: ['s.>'] });
  await jsm.consumers.add('S', { durable_name: 'C', deliver_subject: 'dlv', ack_policy: 'none' as never });
  const c = await raw(t, h, ['dlv', 'r.>']);

  c.send('PUB s.1 r.ack 2\r\nhi\r\nPUB $JS.API.INFO r.info 0\r\n\r\nPUB $JS.API.STREAM.INFO.S r.sinfo 0\r\n\r\nPING\r\n');
  // The consumer's delivery arrives on the message's own subject (s.1) through the 'dlv' sub.
  const text = await c.waitFor((x) => msgAt(x, 's.1') >= 0 && msgAt(x, 'r.sinfo') >= 0 && msgAt(x, 'r.info') >= 0 && x.includes('PONG'));
  const ack = msgAt(text, 'r.ack');
  assert.ok(ack >= 0, 'PubAck sent');
  assert.match(payloadOf(text, 'r.ack'), /"seq":1\b/);
  assert.ok(ack < msgAt(text, 'r.info'), `PubAck before the account info reply:\n${text}`);
  assert.ok(ack < msgAt(text, 'r.sinfo'), `PubAck before the stream info reply:\n${text}`);
  assert.ok(ack < msgAt(text, 's.1'), `PubAck before the consumer delivery:\n${text}`);
  // Requests sent after the publish count it.
  assert.equal(JSON.parse(payloadOf(text, 'r.sinfo')).state.messages, 1);
  assert.ok(JSON.parse(payloadOf(text, 'r.info')).storage > 0);
});

test('a direct get sent right after a publish answers with it, after its PubAck', async (t) => {
  const h = await server(t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  await jetstreamManager(nc).then((jsm) => jsm.streams.add({ name: 'D', subjects: ['d.>'], allow_direct: true }));
  const c = await raw(t, h, ['r.>']);
  c.send('PUB d.k r.ack 5\r\nvalue\r\nPUB $JS.API.DIRECT.GET.D.d.k r.get 0\r\n\r\n');
  const text = await c.waitFor((x) => msgAt(x, 'r.get') >= 0 && msgAt(x, 'r.ack') >= 0);
  assert.ok(msgAt(text, 'r.ack') < msgAt(text, 'r.get'), `PubAck before the direct get answer:\n${text}`);
  assert.match(text.slice(msgAt(text, 'r.get')), /Nats-Sequence: 1\r\n[\s\S]*\r\n\r\nvalue\r\n/);
});

test('a duplicate PubAck is not sent before the original is durable (acked first)', async (t) => {
  const h = await server(t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  await jetstreamManager(nc).then((jsm) => jsm.streams.add({ name: 'S', subjects: ['s.>'] }));
  const c = await raw(t, h, ['r.>']);
  const hdr = 'NATS/1.0\r\nNats-Msg-Id: once\r\n\r\n';
  const hpub = (reply: string) => `HPUB s.1 ${reply} ${hdr.length} ${hdr.length + 1}\r\n${hdr}x\r\n`;
  c.send(hpub('r.first') + hpub('r.second'));
  const text = await c.waitFor((x) => msgAt(x, 'r.first') >= 0 && msgAt(x, 'r.second') >= 0);
  assert.ok(msgAt(text, 'r.first') < msgAt(text, 'r.second'), `original PubAck first:\n${text}`);
  assert.match(payloadOf(text, 'r.second'), /"seq":1,"duplicate": ?true/);
});

test('interest retention without interest: the PubAck is sent (sequence used, nothing kept)', async (t) => {
  const h = await server(t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'I', subjects: ['i.>'], retention: 'interest' as never });
  const js = jetstream(nc);
  const a1 = await js.publish('i.1', 'one');
  const a2 = await js.publish('i.2', 'two', { msgID: 'm2' });
  assert.deepEqual([a1.seq, a2.seq], [1, 2]);
  const si = await jsm.streams.info('I');
  assert.equal(si.state.messages, 0);
  assert.equal(si.state.last_seq, 2);
});

test('purge and message delete replies wait for their records to be durable', async (t) => {
  const h = await server(t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'P', subjects: ['p.>'] });
  const js = jetstream(nc);
  for (let i = 0; i < 3; i++) await js.publish('p.x', String(i));
  const stream = streamOf(h, 'P');
  // Hold the store's sync: the replies must wait for it.
  const realFlush = stream.store.flush.bind(stream.store);
  let release!: () => void;
  const held = new Promise<void>((resolve) => { release = resolve; });
  let flushCalls = 0;
  stream.store.flush = () => { flushCalls++; return held.then(() => realFlush()); };
  try {
    await purgeAndDelete(t, h, () => flushCalls, release);
  } finally {
    // Before the server's own cleanup, which flushes the store.
    release();
    stream.store.flush = realFlush;
  }
});

async function purgeAndDelete(t: TestContext, h: ServerHandle, flushCalls: () => number, release: () => void): Promise<void> {
  const c = await raw(t, h, ['r.>']);
  c.send('PUB $JS.API.STREAM.MSG.DELETE.P r.del 9\r\n{"seq":2}\r\nPUB $JS.API.STREAM.PURGE.P r.purge 0\r\n\r\n');
  const before = await c.flushPing();
  assert.equal(msgAt(before, 'r.del'), -1, `no delete reply before the sync:\n${before}`);
  assert.equal(msgAt(before, 'r.purge'), -1, `no purge reply before the sync:\n${before}`);
  assert.ok(flushCalls() >= 1);
  release();
  const text = await c.waitFor((x) => msgAt(x, 'r.del') >= 0 && msgAt(x, 'r.purge') >= 0);
  assert.ok(msgAt(text, 'r.del') < msgAt(text, 'r.purge'), 'replies keep the request order');
  assert.match(payloadOf(text, 'r.del'), /"success":true/);
  assert.match(payloadOf(text, 'r.purge'), /"purged":2/);
}

test('official KV client: a watcher sees a put only after the put was acknowledged (wire order)', async (t) => {
  const h = await server(t);
  const tap = await startTapProxy(h.port);
  t.after(() => tap.close());
  const nc = await connect({ servers: `127.0.0.1:${tap.port}` });
  t.after(() => nc.close());
  const kv = await new Kvm(nc).create('w');
  const seen: number[] = [];
  const w = await kv.watch({ key: 'k.>' });
  void (async () => {
    for await (const e of w) seen.push(e.revision);
  })();
  t.after(() => w.stop());
  // The watcher's consumer is created asynchronously: wait until it sees a first entry.
  const first = await kv.put('k.0', 'init');
  await waitUntil(() => seen.includes(first), 5000, 'the watcher to see the first put');
  const puts = [];
  for (let i = 0; i < 20; i++) puts.push(kv.put(`k.${i % 3}`, `v${i}`));
  const revs = await Promise.all(puts);
  const lastRev = Math.max(...revs);
  await waitUntil(() => seen.includes(lastRev), 5000, 'the watcher to see the last put');
  // (nats.js's watcher may resume with the last value per key, so it need not see every revision.)
  const watched = seen.filter((r) => revs.includes(r));
  assert.ok(watched.length > 0);
  // In the bytes the server sent: each PubAck ({"stream":"KV_w","seq":N}) comes before the
  // watcher's delivery of revision N (its ack reply subject carries the stream sequence).
  const wire = tap.fromServer();
  for (const rev of watched) {
    const ackAt = wire.indexOf(`{"stream":"KV_w","seq":${rev}}`);
    const dlv = new RegExp(`H?MSG \\$KV\\.w\\.k\\.\\d \\S+ \\$JS\\.ACK\\.KV_w\\.[^.]+\\.\\d+\\.${rev}\\.`).exec(wire);
    assert.ok(ackAt >= 0 && dlv !== null, `revision ${rev} acked and delivered`);
    assert.ok(ackAt < dlv.index, `PubAck of revision ${rev} before its delivery to the watcher`);
  }
});

test('a no-wait pull request sent right after a publish gets the message (after its PubAck)', async (t) => {
  const h = await server(t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'Q', subjects: ['q.>'] });
  await jsm.consumers.add('Q', { durable_name: 'P', ack_policy: 'explicit' as never });
  const c = await raw(t, h, ['r.>']);
  const body = '{"batch":1,"no_wait":true}';
  c.send(`PUB q.1 r.ack 3\r\none\r\nPUB $JS.API.CONSUMER.MSG.NEXT.Q.P r.pull ${body.length}\r\n${body}\r\n`);
  const text = await c.waitFor((x) => msgAt(x, 'r.ack') >= 0 && /MSG q\.1 1 \$JS\.ACK\.Q\.P\./.test(x));
  const dlv = /MSG q\.1 1 \$JS\.ACK\.Q\.P\./.exec(text)!.index;
  assert.ok(msgAt(text, 'r.ack') < dlv, `PubAck before the pulled message:\n${text}`);
  assert.doesNotMatch(text, /404 No Messages/);
});
