// KV through @nats-io/kv, side by side with nats-server 2.9.10: CAS errors,
// delete/purge markers, history, keys with filters, watch variants, TTL.
// Known 2.9.10 limit: several key filters at once need filter_subjects
// (2.10); that case is checked on tsnats only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV, type KvEntry, type KvWatchEntry } from '@nats-io/kv';
import { errorOf, sideBySide, startNatsServer, startTsnats, waitFor } from './js-consumer-sbs.js';

const entry = (e: KvEntry | KvWatchEntry | null): string =>
  e === null ? 'null' : `${e.key}=${e.string()} ${e.operation} r${e.revision}${'delta' in e && e.delta !== undefined ? ` d${e.delta}` : ''}`;

async function keysOf(kv: KV, filter?: string | string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const k of await kv.keys(filter)) out.push(k);
  return out.sort();
}

/** Watch with `opts`, run `after` once the watcher exists; collect (marking updates) until `stopKey` is seen. */
// The watcher's initial values are awaited before `after` runs: tsnats notices the
// client's late SUB on the deliver subject by polling (the core has no interest
// notifications), so without the wait the `delta` of initial entries would count
// later puts (nats-server starts delivering on the SUB itself).
async function watchCollect(kv: KV, opts: Record<string, unknown>, initial: number, after: () => Promise<void>, stopKey: string): Promise<string[]> {
  const seen: string[] = [];
  const w = await kv.watch(opts as never);
  const loop = (async () => {
    for await (const e of w) {
      // An update's delta is the server's pending count at delivery time: racy with the
      // next put on nats-server (asynchronous delivery), so only initial deltas are compared.
      seen.push(e.isUpdate ? `${entry(e).replace(/ d\d+$/, '')} upd` : entry(e));
      if (e.key === stopKey) break;
    }
  })();
  await waitFor(() => seen.length >= initial, 3000, `${initial} initial watch entries`);
  await after();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([loop, new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`watch never saw ${stopKey}: ${seen.join(' | ')}`)), 3000); })]);
  } finally {
    clearTimeout(timer);
    w.stop();
  }
  return seen;
}

test('KV: CAS, markers, history, keys, watch variants, TTL — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  const obs = await sideBySide(t, urls, async (nc: NatsConnection, out) => {
    const kvm = new Kvm(nc);
    const kv = await kvm.create('audit', { history: 3 });
    out.push(`put ${await kv.put('a.1', 'v1')}`);
    out.push(`put ${await kv.put('a.1', 'v2')}`);
    out.push(`create-existing ${await errorOf(kv.create('a.1', 'x'))}`);
    out.push(`create-new ${await kv.create('a.2', 'n')}`);
    out.push(`update-bad ${await errorOf(kv.update('a.1', 'x', 1))}`);
    out.push(`update-ok ${await kv.update('a.1', 'v3', 2)}`);
    out.push(`put ${await kv.put('b.1', 'b')}`);
    out.push(`put ${await kv.put('a.1', 'v4')}`); // history 3: r1 falls out
    out.push(`get ${entry(await kv.get('a.1'))}`);
    out.push(`get-rev ${entry(await kv.get('a.1', { revision: 3 }))}`);
    out.push(`get-missing ${entry(await kv.get('zz'))}`);
    await kv.delete('a.2');
    out.push(`get-deleted ${entry(await kv.get('a.2'))}`);
    out.push(`create-after-delete ${await kv.create('a.2', 'again')}`);
    await kv.purge('b.1');
    out.push(`get-purged ${entry(await kv.get('b.1'))}`);
    const hist: string[] = [];
    for await (const e of await kv.history({ key: 'a.1' })) hist.push(entry(e));
    out.push(['history a.1', hist]);
    const histAll: string[] = [];
    for await (const e of await kv.history()) histAll.push(entry(e));
    out.push(['history all', histAll]);
    out.push(['keys', await keysOf(kv)]);
    out.push(['keys a.>', await keysOf(kv, 'a.>')]);
    out.push(['keys b.*', await keysOf(kv, 'b.*')]);
    const st = await kv.status();
    out.push(`status values=${st.values} history=${st.history} ttl=${st.ttl}`);

    out.push(['watch default', await watchCollect(kv, {}, 3, async () => { await kv.put('w.1', 'x'); await kv.delete('w.1'); await kv.put('stop.1', 's'); }, 'stop.1')]);
    out.push(['watch history', await watchCollect(kv, { include: 'history' }, 8, async () => { await kv.put('stop.2', 's'); }, 'stop.2')]);
    out.push(['watch updatesOnly', await watchCollect(kv, { include: 'updates' }, 0, async () => { await kv.put('a.1', 'v5'); await kv.put('stop.3', 's'); }, 'stop.3')]);
    out.push(['watch ignoreDeletes', await watchCollect(kv, { ignoreDeletes: true }, 3, async () => { await kv.delete('a.1'); await kv.put('stop.4', 's'); }, 'stop.4')]);
    out.push(['watch key a.*', await watchCollect(kv, { key: 'a.*' }, 2, async () => { await kv.put('b.9', 'no'); await kv.put('a.stop', 's'); }, 'a.stop')]);

    // TTL: entries vanish after max_age.
    const ttl = await kvm.create('audit_ttl', { ttl: 400 });
    await ttl.put('k', 'v');
    out.push(`ttl status ${(await ttl.status()).ttl}`);
    out.push(`ttl before ${entry(await ttl.get('k'))}`);
    const deadline = Date.now() + 3000;
    while ((await ttl.get('k')) !== null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    out.push(`ttl after ${entry(await ttl.get('k'))} values=${(await ttl.status()).values}`);
    out.push(`destroy ${await ttl.destroy()}`);
    out.push(`open-destroyed ${await errorOf(kvm.open('audit_ttl').then((k) => k.status()))}`);
  });
  // Expectations that hold for any correct server.
  assert.match(String(obs[2]), /wrong last sequence/);
  assert.equal(obs[10], 'get-missing null');
  assert.ok((obs.find((o) => Array.isArray(o) && o[0] === 'keys') as [string, string[]])[1].includes('a.1'));
});

test('KV: several key filters at once (2.10 filter_subjects) on tsnats', async (t) => {
  const url = await startTsnats(t);
  const { connect } = await import('@nats-io/transport-node');
  const nc = await connect({ servers: url });
  t.after(() => nc.close());
  const kv = await new Kvm(nc).create('multi');
  for (const k of ['a.1', 'b.1', 'c.1']) await kv.put(k, k);
  assert.deepEqual(await keysOf(kv, ['a.1', 'c.1']), ['a.1', 'c.1']);
  const seen = await watchCollect(kv, { key: ['b.*', 'c.*'] }, 2, async () => { await kv.put('a.2', 'x'); await kv.put('c.stop', 's'); }, 'c.stop');
  assert.deepEqual(seen, ['b.1=b.1 PUT r2 d1', 'c.1=c.1 PUT r3 upd', 'c.stop=s PUT r5 upd']);
});
