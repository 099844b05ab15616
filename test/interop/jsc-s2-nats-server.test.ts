// S2 against Go's implementation inside nats-server 2.9.10: a stream snapshot (a tar archive
// written through s2.NewWriter) is read with our s2StreamDecode; the tar is then compressed
// with our s2StreamEncode and restored into nats-server (s2.NewReader + s2.Decode) under the
// same name. The restored stream must hold the same messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { natsServerAvailable, spawnNatsServer, type ChildServer } from '../helpers/child.js';
import { s2StreamDecode, s2StreamEncode } from '../../src/jetstream/cluster/s2.js';
import { s2TagCounts } from '../helpers/s2-tags.js';

const skip = natsServerAvailable() ? false : 'nats-server not installed';
let ref: ChildServer | undefined;
let nc: NatsConnection | undefined;
let dir = '';

before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'tsnats-jsc-s2-'));
  ref = await spawnNatsServer(['-js', '-sd', dir, '-a', '127.0.0.1', '-p', '-1']);
  nc = await connect({ servers: `127.0.0.1:${ref.port}` });
});

after(async () => {
  await nc?.close();
  await ref?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * Deterministic payloads that make our encoder emit 4-byte-offset copies and repeats whatever
 * the timestamps in the block: 20 distinct random payloads, then 100 KB of runs (long copies
 * that index few positions, so the hash table still holds the first payloads), then the 20
 * again, more than 64 KiB after their first copy. Random data alone between the copies left
 * it to the encoder's skip heuristic (and the timing of the publishes) whether the far match
 * was found.
 */
function payloads(): string[] {
  let a = 99;
  const rnd = (): number => ((a = (Math.imul(a, 1103515245) + 12345) >>> 0) / 4294967296);
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  const distinct = Array.from({ length: 20 }, () => Array.from({ length: 600 }, () => alphabet[Math.floor(rnd() * 62)]).join(''));
  const runs = Array.from({ length: 100 }, (_, i) => `run ${i} ${'f'.repeat(1000)}`);
  return [...distinct, ...runs, ...distinct, ...Array.from({ length: 50 }, (_, i) => `small ${i} ${'z'.repeat(i)}`)];
}

/** Tag kinds inside every compressed chunk of a framed stream. */
function tagCounts(stream: Buffer): { repeat: number; copy4: number; compressedChunks: number } {
  const out = { repeat: 0, copy4: 0, compressedChunks: 0 };
  for (let s = 10; s < stream.length;) {
    const type = stream[s]!;
    const len = stream[s + 1]! | (stream[s + 2]! << 8) | (stream[s + 3]! << 16);
    const block = stream.subarray(s + 8, s + 4 + len);
    s += 4 + len;
    if (type !== 0) continue;
    out.compressedChunks++;
    const c = s2TagCounts(block);
    out.repeat += c.repeat;
    out.copy4 += c.copy4;
  }
  return out;
}

test('nats-server 2.9.10 snapshot (Go s2.Writer) decodes; our encoding restores into nats-server', { skip }, async () => {
  const jsm = await jetstreamManager(nc!);
  const js = jetstream(nc!);
  await jsm.streams.add({ name: 'S2X', subjects: ['s2x.>'] });
  const msgs = payloads();
  for (let i = 0; i < msgs.length; i++) await js.publish(`s2x.${i % 5}`, msgs[i]!);

  // STREAM.SNAPSHOT: chunks to a deliver subject, each acked; an empty message ends it.
  const chunks: Buffer[] = [];
  const sub = nc!.subscribe('s2x.snapshot.deliver');
  const received = (async () => {
    for await (const m of sub) {
      if (m.data.length === 0) break;
      chunks.push(Buffer.from(m.data));
      if (m.reply) m.respond();
    }
  })();
  const resp = await nc!.request('$JS.API.STREAM.SNAPSHOT.S2X', JSON.stringify({ deliver_subject: 's2x.snapshot.deliver', chunk_size: 8192 }));
  const info = JSON.parse(new TextDecoder().decode(resp.data)) as { config: unknown; state: unknown; error?: unknown };
  assert.equal(info.error, undefined);
  await received;
  sub.unsubscribe();
  const goBytes = Buffer.concat(chunks);
  assert.equal(goBytes.subarray(0, 10).toString('latin1'), '\xff\x06\x00\x00S2sTwO', 'Go framed S2 stream');

  const tar = s2StreamDecode(goBytes);
  assert.equal(tar.length % 512, 0, 'a tar archive');
  assert.ok(tar.includes(Buffer.from('meta.inf')), 'holds the stream metadata');
  assert.ok(tar.includes(Buffer.from(msgs[0]!)), 'holds the messages');

  const ours = s2StreamEncode(tar);
  const tags = tagCounts(ours);
  assert.ok(tags.compressedChunks > 0 && tags.repeat > 0 && tags.copy4 > 0, `our encoding uses repeat and 4-byte-offset copies: ${JSON.stringify(tags)}`);

  // STREAM.RESTORE of our bytes under the same name.
  await jsm.streams.delete('S2X');
  const rr = JSON.parse(new TextDecoder().decode((await nc!.request('$JS.API.STREAM.RESTORE.S2X',
    JSON.stringify({ config: info.config, state: info.state }))).data)) as { deliver_subject: string };
  for (let off = 0; off < ours.length; off += 4096) await nc!.request(rr.deliver_subject, ours.subarray(off, off + 4096));
  const fin = JSON.parse(new TextDecoder().decode((await nc!.request(rr.deliver_subject, new Uint8Array(0), { timeout: 30_000 })).data)) as
    { type: string; error?: unknown; state?: { messages: number } };
  assert.equal(fin.error, undefined, JSON.stringify(fin.error));
  assert.equal(fin.type, 'io.nats.jetstream.api.v1.stream_create_response');
  const si = await jsm.streams.info('S2X');
  assert.equal(si.state.messages, msgs.length);
  for (const seq of [1, 20, 21, 120, 121, 140, msgs.length]) {
    const m = await jsm.streams.getMessage('S2X', { seq });
    assert.equal(m?.string(), msgs[seq - 1], `message ${seq}`);
  }
});
