// Stored subjects keep the bytes they were published with (issue 13). The
// parser keeps invalid UTF-8 recoverable (names.ts); the file store, its block
// index, store snapshots and the replicated stream entry must write those bytes
// back, not U+FFFD, so a message comes back byte-exact after a crash, after a
// clean restart, from a snapshot and on an R3 follower.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import { spawnTsnats, type ChildServer } from '../helpers/child.js';
import { decodeName } from '../../src/protocol/names.js';
import { createFileStore, createMemStore } from '../../src/jetstream/store/index.js';
import type { StreamStore } from '../../src/jetstream/store/types.js';
import { restoreSnapshot } from '../../src/jetstream/store/snapshot.js';
import { decodeStreamMsg, encodeStreamMsg } from '../../src/jetstream/cluster/stream-entry.js';
import { waitFor } from '../cluster/cluster-helpers.js';
import { jsOf, startJsCluster, stopAll } from '../cluster/js-meta-own-helpers.js';
import { waitPlacement } from '../cluster/js-repl-helpers.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
/** Subjects as raw bytes: invalid bytes, a truncated sequence, a valid multi-byte char, plain ASCII. */
const RAW = ['t.\xff.\xc3(', 't.a\xfeb', 't.\xc3\xbc.\xf0\x90', 't.plain'];
const asName = (raw: string): string => decodeName(b(raw), 0, raw.length);

test('file store keeps invalid-UTF-8 subjects byte-exact across scan and index recovery', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnats-namestore-'));
  const opened: StreamStore[] = [];
  // One hook, in order: every store closed before the directory goes.
  t.after(async () => {
    for (const st of opened) await st.stop().catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const open = (): StreamStore => {
    const st = createFileStore({ name: 'N', storage: 'file' }, { dir, sync: 'always' });
    opened.push(st);
    return st;
  };
  const s1 = open();
  for (const raw of RAW) s1.storeMsg(asName(raw), undefined, b(raw));
  await s1.flush();
  // s1 is not stopped yet: the next open scans the write block (no index written for it).
  const s2 = open();
  RAW.forEach((raw, i) => assert.deepEqual(b(s2.loadMsg(i + 1)!.subject), b(asName(raw)), `scan: ${raw}`));
  assert.deepEqual([...s2.subjectsTotals('t.>').keys()].sort(), RAW.map(asName).sort());
  await s2.stop();
  // After a clean stop the subjects come from the block index file.
  const s3 = open();
  RAW.forEach((raw, i) => assert.equal(s3.loadMsg(i + 1)!.subject, asName(raw), `index: ${raw}`));
  assert.equal(s3.loadMsg(1)!.subject === s3.loadMsg(2)!.subject, false);
  // A store snapshot restored into another store keeps them too.
  const copy = createMemStore({ name: 'N', storage: 'memory' });
  opened.push(copy);
  await restoreSnapshot(copy, s3.snapshot(false));
  RAW.forEach((raw, i) => assert.equal(copy.loadMsg(i + 1)!.subject, asName(raw), `snapshot: ${raw}`));
});

test('replicated stream entry keeps invalid-UTF-8 subject and reply bytes', () => {
  for (const raw of RAW) {
    const subject = asName(raw);
    const reply = asName(`r.${raw}`);
    const e = encodeStreamMsg({ lseq: 9, ts: 5n, subject, reply, hdr: null, msg: b('x') });
    assert.ok(e.includes(b(raw)), `entry carries the raw bytes of ${raw}`);
    const d = decodeStreamMsg(e);
    assert.equal(d.subject, subject);
    assert.equal(d.reply, reply);
  }
});

/** Create stream S on t.> (file storage) and publish every RAW subject with its name as payload. */
async function createAndPublish(port: number, replicas = 1): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await c.readLine();
    c.send(connectLine({ headers: true }) + 'SUB _r 1\r\n');
    const cfg = JSON.stringify({ name: 'S', subjects: ['t.>'], storage: 'file', num_replicas: replicas });
    c.send(`PUB $JS.API.STREAM.CREATE.S _r ${cfg.length}\r\n${cfg}\r\n`);
    await c.waitFor('"created"', 10000);
    for (const [i, raw] of RAW.entries()) {
      c.clear();
      c.send(Buffer.concat([b(`PUB ${raw} _r ${raw.length}\r\n`), b(raw), b('\r\n')]));
      await c.waitFor(`"seq":${i + 1}`, 10000);
    }
  } finally {
    c.close();
  }
}

/** Deliver the stream through a push consumer; the MSG lines' subjects must be the published bytes. */
async function checkDelivery(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    await c.readLine();
    c.send(connectLine({ headers: true }) + 'SUB d.x 2\r\nSUB _r 1\r\n');
    await c.flushPing();
    const cfg = JSON.stringify({ stream_name: 'S', config: { deliver_subject: 'd.x', ack_policy: 'none' } });
    c.send(`PUB $JS.API.CONSUMER.CREATE.S _r ${cfg.length}\r\n${cfg}\r\n`);
    const want = RAW.map((raw) => `MSG ${raw} 2 `);
    const text = await c.waitFor((t) => want.every((w) => t.includes(w)), 10000);
    for (const raw of RAW) {
      // The payload is the raw subject; the MSG line before it must name the same bytes.
      assert.match(text, new RegExp(`MSG ${escapeRe(raw)} 2 \\S+ ${raw.length}\\r\\n${escapeRe(raw)}\\r\\n`));
    }
  } finally {
    c.close();
  }
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('tsnats: stream subjects with invalid UTF-8 come back byte-exact after a crash and a restart', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnats-namestore-srv-'));
  const args = ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', '-1'];
  let s: ChildServer | undefined;
  // One hook, in order: the server must be gone before its store directory is removed.
  t.after(async () => {
    await s?.stop('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  s = await spawnTsnats(args);
  await createAndPublish(s.port);
  await checkDelivery(s.port);
  // Crash: the file store recovers by scanning the write block.
  await s.stop('SIGKILL');
  s = await spawnTsnats(args);
  await checkDelivery(s.port);
  // Clean stop: the block index files hold the subjects.
  await s.stop();
  s = await spawnTsnats(args);
  await checkDelivery(s.port);
});

test('tsnats R3: every replica stores the published subject bytes (replicated stream entry)', async () => {
  const { nodes, root } = await startJsCluster(3);
  try {
    await waitPlacement(nodes);
    await createAndPublish(Number(new URL(nodes[1]!.h.clientUrl).port), 3);
    const stored = (i: number): string[] => {
      const st = jsOf(nodes[i]!).jsAccount('$G')?.streams.get('S')?.store;
      if (!st) return [];
      return RAW.map((_, k) => st.loadMsg(k + 1)).filter((m) => m !== undefined).map((m) => m!.subject);
    };
    await waitFor(() => nodes.every((_, i) => stored(i).length === RAW.length), 'every replica has the messages');
    for (let i = 0; i < nodes.length; i++) assert.deepEqual(stored(i), RAW.map(asName), `replica ${nodes[i]!.h.clientUrl}`);
  } finally {
    await stopAll(nodes, [], root);
  }
});
