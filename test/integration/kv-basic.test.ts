// Key-value buckets through @nats-io/kv against tsnats: bucket lifecycle,
// put/get/create/update (CAS), delete/purge markers, history, keys with
// filters, watch variants, TTL and direct gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvWatchEntry } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import { startJetStreamClient } from '../helpers/js.js';
import { waitUntil } from '../helpers/wait.js';

async function setup(t: import('node:test').TestContext): Promise<{ nc: NatsConnection; kvm: Kvm }> {
  const { nc } = await startJetStreamClient(t);
  return { nc, kvm: new Kvm(nc) };
}

async function collect(it: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const k of it) out.push(k);
  return out;
}

test('bucket create/open/status/list/destroy', async (t) => {
  const { nc, kvm } = await setup(t);
  const kv = await kvm.create('cfg', { history: 3, storage: 'memory' as never, description: 'settings' });
  await kv.put('a', 'x');
  const st = await kv.status();
  assert.equal(st.bucket, 'cfg');
  assert.equal(st.history, 3);
  assert.equal(st.values, 1);
  assert.equal(st.description, 'settings');
  assert.equal(st.streamInfo.config.name, 'KV_cfg');
  assert.equal(st.streamInfo.config.allow_direct, true);
  await kvm.create('other', { storage: 'memory' as never });
  const names: string[] = [];
  for await (const s of kvm.list()) names.push(s.bucket);
  assert.deepEqual(names.sort(), ['cfg', 'other']);
  const again = await kvm.open('cfg');
  assert.equal((await again.get('a'))?.string(), 'x');
  assert.equal(await kv.destroy(), true);
  const jsm = await jetstreamManager(nc);
  await assert.rejects(jsm.streams.info('KV_cfg'));
});

test('put/get/create/update with revisions (CAS) and delete/purge markers', async (t) => {
  const { kvm } = await setup(t);
  const kv = await kvm.create('cas', { history: 5, storage: 'memory' as never });
  const r1 = await kv.create('k', 'v1');
  await assert.rejects(kv.create('k', 'again'), /wrong last sequence/);
  const r2 = await kv.update('k', 'v2', r1);
  await assert.rejects(kv.update('k', 'stale', r1), /wrong last sequence/);
  assert.equal(r2, r1 + 1);
  const e = await kv.get('k');
  assert.equal(e?.string(), 'v2');
  assert.equal(e?.revision, r2);
  assert.equal(e?.operation, 'PUT');
  assert.equal((await kv.get('k', { revision: r1 }))?.string(), 'v1');
  await kv.delete('k');
  const d = await kv.get('k');
  assert.equal(d?.operation, 'DEL');
  // create is allowed again over a delete marker
  const r4 = await kv.create('k', 'v3');
  assert.ok(r4 > r2);
  await kv.put('k2', 'a');
  await kv.put('k2', 'b');
  await kv.purge('k2');
  const p = await kv.get('k2');
  assert.equal(p?.operation, 'PURGE');
  const h = await collect((async function* () { for await (const x of await kv.history({ key: 'k2' })) yield `${x.operation}:${x.string()}`; })());
  assert.deepEqual(h, ['PURGE:'], 'purge rolls up the key history');
  assert.equal(await kv.get('missing'), null);
});

test('history and keys with filters', async (t) => {
  const { kvm } = await setup(t);
  const kv = await kvm.create('hist', { history: 3, storage: 'memory' as never });
  for (let i = 1; i <= 5; i++) await kv.put('x', `x${i}`);
  await kv.put('app.a.one', '1');
  await kv.put('app.a.two', '2');
  await kv.put('app.b.one', '3');
  const hist: string[] = [];
  for await (const e of await kv.history({ key: 'x' })) hist.push(e.string());
  assert.deepEqual(hist, ['x3', 'x4', 'x5'], 'history keeps the last 3');
  assert.deepEqual((await collect(await kv.keys())).sort(), ['app.a.one', 'app.a.two', 'app.b.one', 'x']);
  assert.deepEqual((await collect(await kv.keys('app.a.*'))).sort(), ['app.a.one', 'app.a.two']);
  assert.deepEqual((await collect(await kv.keys(['app.*.one', 'x']))).sort(), ['app.a.one', 'app.b.one', 'x']);
  await kv.delete('app.a.two');
  assert.deepEqual((await collect(await kv.keys('app.>'))).sort(), ['app.a.one', 'app.b.one'], 'deleted keys are not listed');
});

async function watchInto(kv: KV, opts: Parameters<KV['watch']>[0], into: string[]): Promise<() => void> {
  const w = await kv.watch(opts);
  void (async () => {
    for await (const e of w as AsyncIterable<KvWatchEntry>) into.push(`${e.key}=${e.string()}:${e.operation}`);
  })();
  return () => w.stop();
}

test('watch: initial values then updates; updatesOnly; includeHistory; ignoreDeletes; key filters', async (t) => {
  const { kvm } = await setup(t);
  const kv = await kvm.create('w', { history: 5, storage: 'memory' as never });
  await kv.put('a', '1');
  await kv.put('a', '2');
  await kv.put('b', '1');
  const all: string[] = [];
  const upd: string[] = [];
  const hist: string[] = [];
  const noDel: string[] = [];
  const onlyA: string[] = [];
  const stops = [
    await watchInto(kv, {}, all),
    await watchInto(kv, { include: 'updates' as never }, upd),
    await watchInto(kv, { include: 'history' as never }, hist),
    await watchInto(kv, { ignoreDeletes: true }, noDel),
    await watchInto(kv, { key: 'a' }, onlyA),
  ];
  t.after(() => stops.forEach((s) => s()));
  await waitUntil(() => all.length === 2 && hist.length === 3 && onlyA.length === 1, 3000, 'initial values');
  await kv.put('c', '9');
  await kv.delete('b');
  await kv.put('a', '3');
  await waitUntil(() => all.length === 5 && upd.length === 3 && hist.length === 6 && noDel.length === 4 && onlyA.length === 2, 3000, 'updates');
  assert.deepEqual(all, ['a=2:PUT', 'b=1:PUT', 'c=9:PUT', 'b=:DEL', 'a=3:PUT']);
  assert.deepEqual(upd, ['c=9:PUT', 'b=:DEL', 'a=3:PUT']);
  assert.deepEqual(hist, ['a=1:PUT', 'a=2:PUT', 'b=1:PUT', 'c=9:PUT', 'b=:DEL', 'a=3:PUT']);
  assert.deepEqual(noDel, ['a=2:PUT', 'b=1:PUT', 'c=9:PUT', 'a=3:PUT']);
  assert.deepEqual(onlyA, ['a=2:PUT', 'a=3:PUT']);
});

test('TTL (max age) expires values; values survive without a TTL', async (t) => {
  const { kvm } = await setup(t);
  const kv = await kvm.create('ttl', { ttl: 300, storage: 'memory' as never });
  await kv.put('short', 'lived');
  assert.equal((await kv.get('short'))?.string(), 'lived');
  await waitUntil(async () => (await kv.get('short')) === null, 3000, 'expired');
  const st = await kv.status();
  assert.equal(st.ttl, 300);
  assert.equal(st.values, 0);
});

test('direct get is used for reads and works after many updates', async (t) => {
  const { nc, kvm } = await setup(t);
  const kv = await kvm.create('dg', { storage: 'memory' as never });
  for (let i = 0; i < 50; i++) await kv.put(`k${i % 5}`, `v${i}`);
  for (let i = 0; i < 5; i++) assert.equal((await kv.get(`k${i}`))?.string(), `v${45 + i}`);
  // The raw direct-get subject answers with the stored message and headers.
  const m = await nc.request('$JS.API.DIRECT.GET.KV_dg.$KV.dg.k3', '', { timeout: 1000 });
  assert.equal(m.string(), 'v48');
  assert.equal(m.headers?.get('Nats-Subject'), '$KV.dg.k3');
});
