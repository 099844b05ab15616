// Stream semantics without a server: a Stream over a memory store with a recording host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stream, toStoreConfig, type StreamHost } from '../../src/jetstream/stream.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import { createMemStore } from '../../src/jetstream/store/index.js';
import type { DurableHandler, StreamStore } from '../../src/jetstream/store/types.js';
import type { StreamConfigRequest } from '../../src/jetstream/api/types.js';
import { ApiError } from '../../src/jetstream/api/errors.js';

interface Sent { subject: string; headers?: string; payload: string }

function makeStream(req: StreamConfigRequest, wrap?: (s: StreamStore) => StreamStore): { stream: Stream; sent: Sent[] } {
  const cfg = checkStreamConfig(req, { lookupStream: () => undefined });
  const base = createMemStore(toStoreConfig(cfg));
  const store = wrap ? wrap(base) : base;
  const sent: Sent[] = [];
  const host: StreamHost = {
    publish: (subject, _reply, headers, payload) => {
      sent.push({ subject, headers: headers?.toString(), payload: payload.toString() });
    },
    warn: () => {},
  };
  return { stream: new Stream(cfg, store, host, 1n), sent };
}

const hdr = (entries: Record<string, string>): Buffer =>
  Buffer.from('NATS/1.0\r\n' + Object.entries(entries).map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n');

test('PubAcks wait for the store to report durability, in order, and errors replace them', () => {
  let durable = 0;
  let onDurable: DurableHandler | undefined;
  const { stream, sent } = makeStream({ name: 'S', storage: 'memory' }, (s) => new Proxy(s, {
    get(target, prop, recv) {
      if (prop === 'ackWaitsForSync') return true;
      if (prop === 'durableSeq') return () => durable;
      if (prop === 'onDurable') return (cb: DurableHandler) => { onDurable = cb; };
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }));
  for (let i = 0; i < 3; i++) stream.processInbound('S', `r.${i}`, undefined, Buffer.from('x'));
  assert.equal(sent.length, 0, 'no ack before the write is durable');
  durable = 2;
  onDurable!(2);
  assert.deepEqual(sent.map((s) => s.subject), ['r.0', 'r.1']);
  assert.equal(sent[1]!.payload, '{"stream":"S","seq":2}');
  onDurable!(2, new Error('disk full'));
  assert.equal(sent.length, 3);
  assert.equal(sent[2]!.subject, 'r.2');
  assert.deepEqual(JSON.parse(sent[2]!.payload).error, { code: 503, err_code: 10077, description: 'disk full' });
});

test('dedupe by Nats-Msg-Id within the window; a new id after expiry stores again', async () => {
  const { stream, sent } = makeStream({ name: 'D', storage: 'memory', duplicate_window: 150_000_000 });
  stream.processInbound('D', 'a', hdr({ 'Nats-Msg-Id': 'one' }), Buffer.from('1'));
  stream.processInbound('D', 'b', hdr({ 'Nats-Msg-Id': 'one' }), Buffer.from('1'));
  assert.equal(sent[1]!.payload, '{"stream":"D","seq":1,"duplicate": true}');
  await new Promise((r) => setTimeout(r, 200));
  stream.processInbound('D', 'c', hdr({ 'Nats-Msg-Id': 'one' }), Buffer.from('1'));
  assert.equal(sent[2]!.payload, '{"stream":"D","seq":2}');
  assert.equal(stream.store.fastState().msgs, 2);
});

test('expected-* headers, subject-scoped last sequence on another subject', () => {
  const { stream } = makeStream({ name: 'E', subjects: ['e.>'], storage: 'memory' });
  assert.equal(stream.storeMessage('e.a', undefined, Buffer.from('1'), ''), 1);
  assert.equal(stream.storeMessage('e.b', undefined, Buffer.from('2'), ''), 2);
  const other = hdr({ 'Nats-Expected-Last-Subject-Sequence': '1', 'Nats-Expected-Last-Subject-Sequence-Subject': 'e.a' });
  assert.equal(stream.storeMessage('e.c', other, Buffer.from('3'), ''), 3);
  assert.equal(stream.storeMessage('e.a', undefined, Buffer.from('4'), ''), 4);
  assert.throws(() => stream.storeMessage('e.c', other, Buffer.from('5'), ''),
    (e: unknown) => e instanceof ApiError && e.errCode === 10071 && e.description === 'wrong last sequence: 4');
  const badWild = hdr({ 'Nats-Expected-Last-Subject-Sequence': '2', 'Nats-Expected-Last-Subject-Sequence-Subject': 'e.*' });
  assert.throws(() => stream.storeMessage('e.d', badWild, Buffer.from('x'), ''),
    (e: unknown) => e instanceof ApiError && e.description === 'wrong last sequence: 4');
  const onlySubj = hdr({ 'Nats-Expected-Last-Subject-Sequence-Subject': 'e.a' });
  assert.throws(() => stream.storeMessage('e.d', onlySubj, Buffer.from('x'), ''),
    (e: unknown) => e instanceof ApiError && e.errCode === 10193);
  assert.equal(stream.store.fastState().msgs, 4, 'rejected messages are not stored');
});

test('listeners see stores and removals; workqueue ack removes the message', () => {
  const { stream } = makeStream({ name: 'W', storage: 'memory', retention: 'workqueue' });
  const events: string[] = [];
  stream.addListener({ msgStored: (seq, subj) => events.push(`+${seq}:${subj}`), msgRemoved: (seq) => events.push(`-${seq}`) });
  const consumer = { name: 'c', isInterested: () => true, needsAck: () => true, stop: async () => {} };
  stream.attachConsumer(consumer);
  stream.storeMessage('W', undefined, Buffer.from('x'), '');
  stream.storeMessage('W', undefined, Buffer.from('y'), '');
  stream.ackMsg(consumer, 1);
  assert.deepEqual(events, ['+1:W', '+2:W', '-1']);
  assert.equal(stream.consumerCount, 1);
  assert.deepEqual(stream.consumerNames(), ['c']);
});

test('interest retention removes a message once no attached consumer still needs it', () => {
  const { stream } = makeStream({ name: 'I', storage: 'memory', retention: 'interest' });
  const pending = new Map<string, Set<number>>([['a', new Set()], ['b', new Set()]]);
  const mk = (name: string) => ({
    name, isInterested: () => true, needsAck: (seq: number) => pending.get(name)!.has(seq), stop: async () => {},
  });
  const a = mk('a');
  const b = mk('b');
  stream.attachConsumer(a);
  stream.attachConsumer(b);
  const seq = stream.storeMessage('I', undefined, Buffer.from('x'), '');
  pending.get('a')!.add(seq);
  pending.get('b')!.add(seq);
  pending.get('a')!.delete(seq);
  stream.ackMsg(a, seq);
  assert.equal(stream.store.fastState().msgs, 1, 'b has not acked yet');
  pending.get('b')!.delete(seq);
  stream.ackMsg(b, seq);
  assert.equal(stream.store.fastState().msgs, 0);
});
