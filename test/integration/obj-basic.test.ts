// Object store through @nats-io/obj against tsnats: chunked put/get of large
// objects with digest check, info, list, watch, links, update, delete, seal,
// status, destroy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { Objm } from '@nats-io/obj';
import { startJetStreamClient } from '../helpers/js.js';
import { waitUntil } from '../helpers/wait.js';

async function setup(t: import('node:test').TestContext): Promise<{ nc: NatsConnection; objm: Objm }> {
  const { nc } = await startJetStreamClient(t);
  return { nc, objm: new Objm(nc) };
}

function pattern(size: number, seed: number): Uint8Array {
  const b = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

test('large objects round-trip in chunks with a matching digest', async (t) => {
  const { objm } = await setup(t);
  const os = await objm.create('files', { storage: 'memory' as never });
  const big = pattern(5 * 1024 * 1024 + 333, 7);
  const info = await os.putBlob({ name: 'big.bin', description: 'five megs' }, big);
  assert.equal(info.size, big.length);
  assert.equal(info.chunks, Math.ceil(big.length / (128 * 1024)));
  assert.match(info.digest, /^SHA-256=/);
  const back = await os.getBlob('big.bin');
  assert.ok(back !== null);
  assert.equal(back.length, big.length);
  assert.ok(Buffer.from(back).equals(Buffer.from(big)), 'bytes identical');
  const small = await os.putBlob({ name: 'small.txt' }, new TextEncoder().encode('hi'));
  assert.equal(small.chunks, 1);
  assert.equal(new TextDecoder().decode((await os.getBlob('small.txt'))!), 'hi');
  const empty = await os.putBlob({ name: 'empty' }, new Uint8Array(0));
  assert.equal(empty.size, 0);
  assert.equal((await os.getBlob('empty'))?.length, 0);
  // Overwriting replaces the chunks of the old version.
  await os.putBlob({ name: 'big.bin' }, pattern(1000, 9));
  assert.equal((await os.getBlob('big.bin'))?.length, 1000);
  const st = await os.status();
  assert.ok(st.size < 5 * 1024 * 1024, `old chunks purged, size ${st.size}`);
});

test('info, list, update, links, delete', async (t) => {
  const { objm } = await setup(t);
  const os = await objm.create('meta', { storage: 'memory' as never });
  await os.putBlob({ name: 'a' }, pattern(10, 1));
  await os.putBlob({ name: 'b', headers: undefined }, pattern(20, 2));
  assert.deepEqual((await os.list()).map((i) => i.name).sort(), ['a', 'b']);
  assert.equal((await os.info('a'))?.size, 10);
  await os.update('a', { name: 'a', description: 'described' });
  assert.equal((await os.info('a'))?.description, 'described');
  const ai = (await os.info('a'))!;
  await os.link('link-to-a', ai);
  const viaLink = await os.getBlob('link-to-a');
  assert.ok(viaLink && Buffer.from(viaLink).equals(Buffer.from(pattern(10, 1))));
  await os.delete('b');
  assert.equal(await os.info('b').then((i) => i?.deleted ?? null), true);
  assert.equal(await os.getBlob('b'), null);
  assert.deepEqual((await os.list()).map((i) => i.name).sort(), ['a', 'link-to-a']);
});

test('watch reports puts and deletes; seal makes the store read only; destroy', async (t) => {
  const { objm } = await setup(t);
  const os = await objm.create('watched', { storage: 'memory' as never });
  await os.putBlob({ name: 'first' }, pattern(5, 3));
  const seen: string[] = [];
  const w = await os.watch({ includeHistory: true });
  t.after(() => w.stop());
  void (async () => {
    for await (const e of w) if (e) seen.push(`${e.name}:${e.deleted ? 'del' : 'put'}`);
  })();
  await waitUntil(() => seen.length === 1, 2000, 'initial');
  await os.putBlob({ name: 'second' }, pattern(5, 4));
  await os.delete('first');
  await waitUntil(() => seen.length === 3, 2000, 'updates');
  assert.deepEqual(seen, ['first:put', 'second:put', 'first:del']);
  const st = await os.seal();
  assert.equal(st.sealed, true);
  await assert.rejects(os.putBlob({ name: 'third' }, pattern(5, 5)));
  assert.ok(await os.getBlob('second'));
  assert.equal(await os.destroy(), true);
});
