// After a restart the duplicate window (Nats-Msg-Id) is read back from the store in slices,
// one per event-loop turn, so no single publish stalls the server. Publishes arriving while
// it runs must still be answered correctly: a duplicate of any message in the window
// (first, middle, last) is reported as one, and the arrival order of publishes is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stream, toStoreConfig, type StreamHost } from '../../src/jetstream/stream.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import { createMemStore } from '../../src/jetstream/store/index.js';
import { waitUntil } from '../helpers/wait.js';

const N = 60_000;
const hdr = (id: string): Buffer => Buffer.from(`NATS/1.0\r\nNats-Msg-Id: ${id}\r\n\r\n`);

test('a duplicate is detected while the window is still being rebuilt, and publish order is kept', async () => {
  const cfg = checkStreamConfig({ name: 'D', subjects: ['d.>'], storage: 'memory' }, { lookupStream: () => undefined });
  // A store that already holds N messages with ids, all inside the 2-minute window (a "restart").
  const store = createMemStore(toStoreConfig(cfg));
  for (let i = 0; i < N; i++) store.storeMsg('d.x', hdr(`id-${i}`), Buffer.from('v'));
  const acks = new Map<string, string>();
  const host: StreamHost = { publish: (subject, _r, _h, payload) => { acks.set(subject, payload.toString()); }, warn: () => {} };
  const stream = new Stream(cfg, store, host, 1n);

  assert.equal(stream.dedupeRebuilding, true, 'the rebuild runs in the background');
  stream.processInbound('d.x', 'r.first', hdr('id-0'), Buffer.from('again'));
  stream.processInbound('d.x', 'r.middle', hdr(`id-${N / 2}`), Buffer.from('again'));
  stream.processInbound('d.x', 'r.last', hdr(`id-${N - 1}`), Buffer.from('again'));
  stream.processInbound('d.x', 'r.fresh', hdr('fresh'), Buffer.from('new'));
  stream.processInbound('d.x', 'r.plain', undefined, Buffer.from('no headers'));
  assert.equal(stream.dedupeRebuilding, true, 'the publishes above arrived mid-rebuild');

  await waitUntil(() => acks.size === 5, 10_000, 'all five PubAcks');
  assert.equal(acks.get('r.first'), '{"stream":"D","seq":1,"duplicate": true}');
  assert.equal(acks.get('r.middle'), `{"stream":"D","seq":${N / 2 + 1},"duplicate": true}`);
  assert.equal(acks.get('r.last'), `{"stream":"D","seq":${N},"duplicate": true}`);
  assert.equal(acks.get('r.fresh'), `{"stream":"D","seq":${N + 1}}`);
  // The plain publish arrived after the held ones and is stored after them.
  assert.equal(acks.get('r.plain'), `{"stream":"D","seq":${N + 2}}`);
  assert.equal(store.fastState().lastSeq, N + 2);
  assert.equal(stream.dedupeRebuilding, false);

  // After the rebuild: the rebuilt ids and the ones stored meanwhile are both known.
  stream.processInbound('d.x', 'r.after1', hdr('id-7'), Buffer.from('again'));
  stream.processInbound('d.x', 'r.after2', hdr('fresh'), Buffer.from('again'));
  assert.equal(acks.get('r.after1'), '{"stream":"D","seq":8,"duplicate": true}');
  assert.equal(acks.get('r.after2'), `{"stream":"D","seq":${N + 1},"duplicate": true}`);
  await stream.close(false);
});

test('expected-last-msg-id after a restart uses the last stored id, even before the rebuild is done', async () => {
  const cfg = checkStreamConfig({ name: 'E', subjects: ['e.>'], storage: 'memory' }, { lookupStream: () => undefined });
  const store = createMemStore(toStoreConfig(cfg));
  for (let i = 0; i < 3; i++) store.storeMsg('e.x', hdr(`m-${i}`), Buffer.from('v'));
  const acks = new Map<string, string>();
  const host: StreamHost = { publish: (subject, _r, _h, payload) => { acks.set(subject, payload.toString()); }, warn: () => {} };
  const stream = new Stream(cfg, store, host, 1n);
  const h = (last: string, id: string): Buffer =>
    Buffer.from(`NATS/1.0\r\nNats-Expected-Last-Msg-Id: ${last}\r\nNats-Msg-Id: ${id}\r\n\r\n`);
  stream.processInbound('e.x', 'r.wrong', h('m-0', 'x1'), Buffer.from('v'));
  stream.processInbound('e.x', 'r.right', h('m-2', 'x2'), Buffer.from('v'));
  await waitUntil(() => acks.size === 2, 10_000, 'both answers');
  assert.equal(JSON.parse(acks.get('r.wrong')!).error.err_code, 10070);
  assert.equal(acks.get('r.right'), '{"stream":"E","seq":4}');
  await stream.close(false);
});
