// A file stream restarted with its message index packed (store/chunk-codec.ts: recovery packs the
// index as it replays, idle chunks are packed by a sweep): everything a client can ask of old
// messages — direct gets, last-by-subject, deletes in old chunks, filtered consumers, counts — comes
// back exactly as written. Expectations come from what the test published.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startServer, type ServerHandle } from '../../src/index.js';

const CHUNK = 4096;
const N = 3 * CHUNK + 100;
const subjectOf = (seq: number): string => (seq % 1000 === 0 ? `ev.rare.${seq / 1000}` : seq % 2 === 0 ? 'ev.a' : 'ev.b');
const body = (seq: number): string => `payload-${seq}`;

test('old messages of a restarted file stream (packed index) are served exactly as written', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-packed-'));
  let server: ServerHandle | undefined;
  let nc: NatsConnection | undefined;
  t.after(async () => {
    await nc?.close().catch(() => undefined);
    await server?.shutdown().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  const start = async (): Promise<NatsConnection> => {
    server = await startServer({
      port: 0, host: '127.0.0.1',
      jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always', strict: true },
    }, { quietLog: true });
    return connect({ servers: server.clientUrl, reconnect: false });
  };

  nc = await start();
  let jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'P', subjects: ['ev.>'], storage: 'file' as never });
  const js = jetstream(nc);
  for (let seq = 1; seq <= N; seq += 500) {
    const acks = [];
    for (let s = seq; s < Math.min(seq + 500, N + 1); s++) acks.push(js.publish(subjectOf(s), body(s)));
    const got = await Promise.all(acks);
    assert.equal(got[got.length - 1].seq, Math.min(seq + 499, N));
  }
  await jsm.streams.deleteMessage('P', 5000);
  await nc.close();
  await server!.shutdown();

  nc = await start();
  jsm = await jetstreamManager(nc);
  let info = await jsm.streams.info('P');
  assert.equal(info.state.messages, N - 1);
  assert.equal(info.state.first_seq, 1);
  assert.equal(info.state.last_seq, N);
  assert.equal(info.state.num_deleted, 1);

  for (const seq of [1, 2, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 7, N]) {
    const m = await jsm.streams.getMessage('P', { seq });
    assert.equal(m?.subject, subjectOf(seq), `seq ${seq}`);
    assert.equal(m?.string(), body(seq), `seq ${seq}`);
  }
  assert.equal(await jsm.streams.getMessage('P', { seq: 5000 }).catch(() => null), null);
  // Last per subject walks the subject's links back through packed chunks.
  const lastRare = await jsm.streams.getMessage('P', { last_by_subj: 'ev.rare.3' });
  assert.equal(lastRare?.seq, 3000);
  const lastA = await jsm.streams.getMessage('P', { last_by_subj: 'ev.a' });
  let lastASeq = N;
  while (subjectOf(lastASeq) !== 'ev.a') lastASeq--;
  assert.equal(lastA?.seq, lastASeq);

  // A delete in an old chunk after the restart, then the counts and the neighbours.
  await jsm.streams.deleteMessage('P', 7001);
  info = await jsm.streams.info('P');
  assert.equal(info.state.messages, N - 2);
  assert.equal(info.state.num_deleted, 2);
  assert.equal((await jsm.streams.getMessage('P', { seq: 7003 }))?.string(), body(7003));

  // A filtered consumer over the whole stream: only the rare subjects, in order, with their bytes.
  await jsm.consumers.add('P', { durable_name: 'R', filter_subject: 'ev.rare.*', ack_policy: AckPolicy.Explicit });
  const c = await jetstream(nc).consumers.get('P', 'R');
  const want: number[] = [];
  for (let s = 1000; s <= N; s += 1000) if (s !== 5000) want.push(s);
  const seen: number[] = [];
  for await (const m of await c.fetch({ max_messages: want.length, expires: 5000 })) {
    assert.equal(m.string(), body(m.seq));
    assert.equal(m.subject, subjectOf(m.seq));
    seen.push(m.seq);
    m.ack();
    if (seen.length === want.length) break;
  }
  assert.deepEqual(seen, want);
  const ci = await jsm.consumers.info('P', 'R');
  assert.equal(ci.num_pending, 0);
});
