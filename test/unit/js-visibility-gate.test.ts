// Stream-level visibility under fsync-before-ack, with a store whose durability the test
// drives: listeners (consumers, watchers) hear of a message only after the store reported
// it durable and after its PubAck was published; readers that arrived meanwhile run then,
// in order; a failed write makes nothing more visible and releases the waiting readers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stream, toStoreConfig, type StreamHost } from '../../src/jetstream/stream.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import { createMemStore } from '../../src/jetstream/store/index.js';
import type { DurableHandler, StreamStore } from '../../src/jetstream/store/types.js';
import { RequestGate } from '../../src/jetstream/visibility.js';

function gatedStream(): { stream: Stream; events: string[]; warnings: string[]; durable: (seq: number, err?: Error) => void } {
  const cfg = checkStreamConfig({ name: 'S', subjects: ['s.>'], storage: 'memory' }, { lookupStream: () => undefined });
  let durableSeq = 0;
  let cb: DurableHandler | undefined;
  const store = new Proxy(createMemStore(toStoreConfig(cfg)), {
    get(target, prop, recv) {
      if (prop === 'ackWaitsForSync') return true;
      if (prop === 'durableSeq') return () => durableSeq;
      if (prop === 'onDurable') return (f: DurableHandler) => { cb = f; };
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  }) as StreamStore;
  const events: string[] = [];
  const warnings: string[] = [];
  const host: StreamHost = { publish: (subject) => { events.push(`pub ${subject}`); }, warn: (m) => { warnings.push(m); } };
  const stream = new Stream(cfg, store, host, 1n);
  stream.addListener({ msgStored: (seq) => events.push(`stored ${seq}`) });
  return { stream, events, warnings, durable: (seq, err) => { durableSeq = seq; cb!(seq, err); } };
}

test('listeners hear of a message after it is durable and after its PubAck; readers wait in order', () => {
  const { stream, events, durable } = gatedStream();
  stream.processInbound('s.1', 'ack.1', undefined, Buffer.from('a'));
  stream.processInbound('s.2', 'ack.2', undefined, Buffer.from('b'));
  assert.equal(stream.visibility.seq, 0);
  assert.equal(stream.getMessage(1, '', ''), undefined, 'not readable before it is durable');
  stream.visibility.whenVisible(() => events.push('reader'));
  assert.deepEqual(events, []);

  durable(1);
  assert.deepEqual(events, ['pub ack.1', 'stored 1'], 'the reader waits for everything stored before it');
  assert.equal(stream.getMessage(1, '', '')?.seq, 1);
  assert.equal(stream.getMessage(0, 's.2', ''), undefined);
  durable(2);
  assert.deepEqual(events, ['pub ack.1', 'stored 1', 'pub ack.2', 'stored 2', 'reader']);
  assert.equal(stream.getMessage(0, 's.2', '')?.seq, 2);
});

test('a failed write makes nothing more visible, answers with errors and releases waiting readers', () => {
  const { stream, events, durable } = gatedStream();
  stream.processInbound('s.1', 'ack.1', undefined, Buffer.from('a'));
  stream.visibility.whenVisible(() => events.push('reader'));
  durable(0, new Error('disk gone'));
  assert.deepEqual(events, ['pub ack.1', 'reader']);
  assert.equal(stream.visibility.seq, 0);
  assert.equal(stream.visibility.pending, false, 'nobody waits for a store that failed');
});

test('API requests of an account wait for what was stored before them, in arrival order', () => {
  const a = gatedStream();
  const b = gatedStream();
  const gate = new RequestGate();
  gate.watch(a.stream);
  gate.watch(b.stream);
  const ran: string[] = [];
  gate.submit(() => ran.push('r0'));
  assert.deepEqual(ran, ['r0'], 'nothing pending: runs at once');
  a.stream.processInbound('s.1', '', undefined, Buffer.from('x'));
  gate.submit(() => ran.push('r1'));
  b.stream.processInbound('s.1', '', undefined, Buffer.from('y'));
  gate.submit(() => ran.push('r2'));
  a.durable(1);
  gate.progress();
  assert.deepEqual(ran, ['r0', 'r1']);
  b.durable(1);
  gate.progress();
  assert.deepEqual(ran, ['r0', 'r1', 'r2']);

  // Pending again after everything was visible: the next request waits again.
  b.stream.processInbound('s.2', '', undefined, Buffer.from('z'));
  gate.submit(() => ran.push('r3'));
  gate.progress();
  assert.deepEqual(ran, ['r0', 'r1', 'r2'], 'waits for the message stored before it');
  b.durable(2);
  gate.progress();
  assert.deepEqual(ran, ['r0', 'r1', 'r2', 'r3']);

  // A stream that left the account (deleted, unloaded) holds no request back.
  a.stream.processInbound('s.2', '', undefined, Buffer.from('w'));
  gate.unwatch(a.stream);
  gate.submit(() => ran.push('r4'));
  assert.deepEqual(ran, ['r0', 'r1', 'r2', 'r3', 'r4']);
});

test('a throwing listener or reader is reported and stops neither the others nor the store callback', () => {
  const { stream, events, warnings, durable } = gatedStream();
  stream.addListener({ msgStored: () => { throw new Error('listener bug'); } });
  stream.processInbound('s.1', 'ack.1', undefined, Buffer.from('a'));
  stream.visibility.whenVisible(() => { throw new Error('reader bug'); });
  stream.visibility.whenVisible(() => events.push('second reader'));
  assert.doesNotThrow(() => durable(1));
  assert.deepEqual(events, ['pub ack.1', 'stored 1', 'second reader']);
  assert.equal(warnings.length, 2);
  assert.match(warnings.join('\n'), /listener bug[\s\S]*reader bug/);
});
