// Object store through @nats-io/obj, side by side with nats-server 2.9.10:
// a multi-MB chunked object, metadata, links (object and bucket), list, watch,
// delete, seal and what the client reports after each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { Objm, type ObjectInfo, type ObjectStore } from '@nats-io/obj';
import { errorOf, sideBySide, startNatsServer, startTsnats, waitFor } from './js-consumer-sbs.js';
import { seededRandom } from '../helpers/wait.js';

const BIG_BYTES = 3 * 1024 * 1024 + 12345;

function bigPayload(): Uint8Array {
  const rnd = seededRandom(42);
  const b = new Uint8Array(BIG_BYTES);
  for (let i = 0; i < b.length; i += 4) {
    const v = (rnd() * 0x100000000) >>> 0;
    b[i] = v & 0xff; b[i + 1] = (v >>> 8) & 0xff; b[i + 2] = (v >>> 16) & 0xff; b[i + 3] = v >>> 24;
  }
  return b;
}

const sha = (b: Uint8Array | null): string => (b === null ? 'null' : createHash('sha256').update(b).digest('hex').slice(0, 16));

function info(i: ObjectInfo | null): string {
  if (i === null) return 'null';
  const link = i.options?.link ? ` link=${i.options.link.bucket}/${i.options.link.name ?? ''}` : '';
  return `${i.name} size=${i.size} chunks=${i.chunks} deleted=${i.deleted} digest=${i.digest}${link} desc=${i.description ?? ''}`;
}

async function readAll(os: ObjectStore, name: string): Promise<Uint8Array | null> {
  const r = await os.get(name);
  if (r === null) return null;
  const parts: Uint8Array[] = [];
  const reader = r.data.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  const err = await r.error;
  if (err) throw err;
  return Buffer.concat(parts);
}

test('object store: chunked large object, links, list, watch, delete, seal — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  const data = bigPayload();
  const obs = await sideBySide(t, urls, async (nc: NatsConnection, out) => {
    const objm = new Objm(nc);
    const os = await objm.create('files', { description: 'audit' });
    const other = await objm.create('other');
    const watched: string[] = [];
    const w = await os.watch({ includeHistory: true });
    const watchLoop = (async () => {
      for await (const e of w) {
        if (e === null) continue;
        watched.push(`${e.name} deleted=${e.deleted} size=${e.size}`);
      }
    })();
    out.push(`put big ${info(await os.putBlob({ name: 'big', description: 'd1' }, data))}`);
    out.push(`put small ${info(await os.putBlob({ name: 'small', options: { max_chunk_size: 5 } }, new TextEncoder().encode('hello world!')))}`);
    out.push(`put empty ${info(await os.putBlob({ name: 'empty' }, new Uint8Array(0)))}`);
    out.push(`get big sha=${sha(await readAll(os, 'big'))} expected=${sha(data)}`);
    out.push(`get small ${Buffer.from((await readAll(os, 'small'))!).toString()}`);
    out.push(`get empty len=${(await readAll(os, 'empty'))?.length}`);
    out.push(`get missing ${sha(await readAll(os, 'missing'))}`);
    out.push(`info big ${info(await os.info('big'))}`);
    out.push(`link ${info(await os.link('lnk', (await os.info('small'))!))}`);
    out.push(`get via link ${Buffer.from((await readAll(os, 'lnk'))!).toString()}`);
    out.push(`bucket link ${info(await os.linkStore('blink', other))}`);
    out.push(`link to link ${await errorOf(os.link('lnk2', (await os.info('lnk'))!))}`);
    out.push(`update meta ${await errorOf(os.update('small', { name: 'small', description: 'renamed-desc' }))}`);
    out.push(`info small ${info(await os.info('small'))}`);
    out.push(['list', (await os.list()).map(info).sort()]);
    out.push(`replace big ${info(await os.putBlob({ name: 'big' }, new TextEncoder().encode('tiny now')))}`);
    out.push(`get big after replace ${Buffer.from((await readAll(os, 'big'))!).toString()}`);
    const st1 = await os.status();
    out.push(`status size>0=${st1.size > 0} sealed=${st1.sealed} desc=${st1.description} storage=${st1.storage}`);
    out.push(`delete small ${JSON.stringify(await os.delete('small'))}`);
    out.push(`info deleted ${info(await os.info('small'))}`);
    out.push(`get deleted ${sha(await readAll(os, 'small'))}`);
    out.push(`delete again ${await errorOf(os.delete('small'))}`);
    out.push(['list after delete', (await os.list()).map(info).sort()]);
    await waitFor(() => watched.length >= 9, 3000, 'watch entries');
    w.stop();
    await watchLoop;
    out.push(['watch', watched]);
    const sealed = await os.seal();
    out.push(`seal sealed=${sealed.sealed}`);
    out.push(`put after seal ${await errorOf(os.putBlob({ name: 'x' }, new Uint8Array(1)))}`);
    out.push(`get after seal ${Buffer.from((await readAll(os, 'big'))!).toString()}`);
    out.push(`destroy other ${await other.destroy()}`);
    out.push(['buckets', (await collect(objm.list())).map((s) => s.bucket).sort()]);
  });
  assert.ok(String(obs[3]).startsWith(`get big sha=${sha(data)}`), String(obs[3]));
  assert.match(String(obs[0]), /chunks=25 /);
  if (process.env.SBS_DUMP) console.log(JSON.stringify(obs, null, 1));
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
