// StoreFactory.create, the file-stream create path: the stream's files are written
// concurrently and its directory fsync'ed once, and the result must be what the
// sequential path produced: meta.inf + meta.sum that verify, the store's meta.json
// exactly as the FileStore would write it (so its constructor writes nothing on the
// event loop), no temp files, and a stream that recovery loads with its data.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { StoreFactory } from '../../src/jetstream/store-factory.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import { toStoreConfig } from '../../src/jetstream/stream.js';
import type { StreamConfig, StreamConfigRequest } from '../../src/jetstream/api/types.js';
import { readCheckedFileSync } from '../../src/jetstream/store/checked-file.js';
import { FileStore, readStoreMeta } from '../../src/jetstream/store/filestore.js';
import { isSpareName } from '../../src/jetstream/stream-dir-spares.js';
import { waitUntil } from '../helpers/wait.js';
import type { StreamStore } from '../../src/jetstream/store/types.js';

function cfgOf(req: StreamConfigRequest): StreamConfig {
  return checkStreamConfig(req, { lookupStream: () => undefined });
}

function tmp(t: { after: (fn: () => void) => void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnats-create-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

for (const sync of ['always', 60_000] as const) {
  test(`StoreFactory.create (sync ${sync}): verifying meta.inf, the store's own meta.json, no temp files; recovery loads it`, async (t) => {
    const root = tmp(t);
    const f = new StoreFactory(root, sync, () => undefined);
    const cfg = cfgOf({ name: 'ORDERS', subjects: ['orders.>'], max_msgs: 10, max_age: 3_000_000_000 });
    const store = await f.create('APP', cfg, 1234n);
    const dir = path.join(root, 'APP', 'streams', 'ORDERS');
    assert.deepEqual(fs.readdirSync(dir).sort(), ['meta.inf', 'meta.json', 'meta.sum', 'msgs'], 'exactly the final files, no .tmp/.new');

    const inf = readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'ORDERS');
    assert.equal(inf.status, 'ok');
    if (inf.status !== 'ok') return;
    const meta = JSON.parse(inf.data.toString('utf8')) as { created: string; config: StreamConfig };
    assert.equal(meta.created, '1234');
    assert.deepEqual(meta.config, cfg);
    assert.deepEqual(readStoreMeta(dir)?.metadata, { config: cfg, created: '1234' });

    // The meta.json written ahead is the one the FileStore expects: opening the directory again
    // rewrites nothing (a rewrite replaces the file through a rename, so the inode would change).
    const ino = fs.statSync(path.join(dir, 'meta.json')).ino;
    const again = new FileStore(toStoreConfig(cfg), { dir, sync: 'always', log: () => undefined });
    assert.equal(fs.statSync(path.join(dir, 'meta.json')).ino, ino, 'meta.json was not rewritten by the constructor');
    await again.stop();

    store.storeMsg('orders.1', undefined, Buffer.from('one'));
    store.storeMsg('orders.2', undefined, Buffer.from('two'));
    await store.flush();
    await store.stop();

    const warns: string[] = [];
    const rec = await new StoreFactory(root, sync, (m) => warns.push(m)).recover('APP');
    assert.deepEqual(warns, []);
    assert.equal(rec.length, 1);
    assert.deepEqual(rec[0]!.config, cfg);
    assert.equal(rec[0]!.createdNs, 1234n);
    assert.equal(rec[0]!.store.state().msgs, 2);
    assert.equal(rec[0]!.store.loadMsg(2)?.data.toString(), 'two');
    await rec[0]!.store.stop();
  });
}

test('StoreFactory.create: the first stream of an account creates the account and streams directories', async (t) => {
  const root = tmp(t);
  const f = new StoreFactory(path.join(root, 'jetstream'), 'always', () => undefined);
  const a = await f.create('NEW', cfgOf({ name: 'A', subjects: ['a'] }), 1n);
  const b = await f.create('NEW', cfgOf({ name: 'B', subjects: ['b'] }), 2n);
  assert.deepEqual(fs.readdirSync(path.join(root, 'jetstream', 'NEW', 'streams')).sort(), ['A', 'B']);
  await a.stop();
  await b.stop();
  const rec = await new StoreFactory(path.join(root, 'jetstream'), 'always', () => undefined).recover('NEW');
  assert.deepEqual(rec.map((r) => [r.config.name, r.createdNs]), [['A', 1n], ['B', 2n]]);
  for (const r of rec) await r.store.stop();
});

test('StoreFactory.open (snapshot restore) writes no meta.inf: a crash before saveMeta never loads half a restore', async (t) => {
  const root = tmp(t);
  const f = new StoreFactory(root, 'always', () => undefined);
  const cfg = cfgOf({ name: 'R', subjects: ['r'] });
  const store = await f.open('APP', cfg, 5n);
  const dir = path.join(root, 'APP', 'streams', 'R');
  assert.ok(!fs.existsSync(path.join(dir, 'meta.inf')));
  await store.stop();
  const warns: string[] = [];
  const rec = await new StoreFactory(root, 'always', (m) => warns.push(m)).recover('APP');
  assert.equal(rec.length, 0);
  assert.ok(warns.some((w) => w.includes('NOT loaded') && w.includes('no meta.inf')), warns.join('\n'));
});

/** Paths whose FileHandle.sync() ran (meta files and directories are fsync'ed through FileHandles). */
function recordSyncs(t: TestContext): string[] {
  const synced: string[] = [];
  const open = fs.promises.open;
  t.mock.method(fs.promises, 'open', async (p: fs.PathLike, ...rest: unknown[]) => {
    const fh = await (open as (...a: unknown[]) => Promise<fs.promises.FileHandle>)(p, ...rest);
    const sync = fh.sync.bind(fh);
    fh.sync = async () => {
      await sync();
      synced.push(String(p));
    };
    return fh;
  });
  return synced;
}

/**
 * A clustered create (deferred fsyncs) of `dir`'s stream: nothing fsynced by the create itself; after
 * its first message is flushed, its three meta files, its directory and the entry in its parent are.
 */
async function assertSyncedAtFirstWrite(synced: string[], store: StreamStore, dir: string, subject: string): Promise<void> {
  assert.deepEqual(fs.readdirSync(dir).sort(), ['meta.inf', 'meta.json', 'meta.sum', 'msgs']);
  assert.equal(synced.length, 0, `nothing fsynced by the create itself: ${synced.join(', ')}`);
  store.storeMsg(subject, undefined, Buffer.from('x'));
  await store.flush();
  for (const p of ['meta.json', 'meta.inf', 'meta.sum'].map((n) => path.join(dir, n))) assert.ok(synced.includes(p), `${p} fsynced`);
  assert.ok(synced.includes(dir), 'stream directory fsynced');
  assert.ok(synced.includes(path.dirname(dir)), 'the new directory entry in its parent fsynced');
}

test('StoreFactory.create, clustered (deferCreateDurability): no fsync at create; meta files and directory fsynced before the first write is durable', async (t) => {
  const root = tmp(t);
  const synced = recordSyncs(t);
  const f = new StoreFactory(root, 'always', () => undefined);
  f.deferCreateDurability();
  const cfg = cfgOf({ name: 'LAZY', subjects: ['lazy.>'] });
  const store = await f.create('APP', cfg, 7n);
  await assertSyncedAtFirstWrite(synced, store, path.join(root, 'APP', 'streams', 'LAZY'), 'lazy.1');
  const count = synced.length;
  store.storeMsg('lazy.2', undefined, Buffer.from('y'));
  await store.flush();
  assert.equal(synced.length, count, 'the deferred fsyncs run once');
  await store.stop();
  await f.stop();

  const rec = await new StoreFactory(root, 'always', () => undefined).recover('APP');
  assert.equal(rec.length, 1);
  assert.equal(rec[0]!.store.state().msgs, 2);
  await rec[0]!.store.stop();
});

test('StoreFactory.create, clustered: a later stream of the account with no spare directory ready (its directory made by two plain mkdirs) also has its files, directory and parent entry fsynced before its first durable write', async (t) => {
  const root = tmp(t);
  const f = new StoreFactory(root, 'always', () => undefined);
  f.deferCreateDurability();
  const first = await f.create('APP', cfgOf({ name: 'FIRST', subjects: ['first'] }), 1n);
  await first.stop();
  // No spare directory to take (stream-dir-spares.ts): refills stopped, the ready ones gone.
  await f.stop();
  const streams = path.join(root, 'APP', 'streams');
  for (const n of sparesOf(streams).values()) fs.rmSync(path.join(streams, n), { recursive: true });
  const synced = recordSyncs(t);
  const store = await f.create('APP', cfgOf({ name: 'SECOND', subjects: ['second'] }), 2n);
  await assertSyncedAtFirstWrite(synced, store, path.join(streams, 'SECOND'), 'second');
  assert.ok(!synced.includes(path.join(root, 'APP')), 'directories that did not change are not fsynced');
  await store.stop();
  const rec = await new StoreFactory(root, 'always', () => undefined).recover('APP');
  assert.deepEqual(rec.map((r) => [r.config.name, r.store.state().msgs]).sort(), [['FIRST', 0], ['SECOND', 1]]);
  for (const r of rec) await r.store.stop();
});

test('StoreFactory.create, clustered: a stream stopped or deleted before any write still ends durable or removed', async (t) => {
  const root = tmp(t);
  const synced = recordSyncs(t);
  const f = new StoreFactory(root, 'always', () => undefined);
  f.deferCreateDurability();
  const kept = await f.create('APP', cfgOf({ name: 'KEPT', subjects: ['k'] }), 1n);
  await kept.stop();
  assert.ok(synced.includes(path.join(root, 'APP', 'streams', 'KEPT', 'meta.inf')), 'stop() ran the deferred fsyncs');
  const gone = await f.create('APP', cfgOf({ name: 'GONE', subjects: ['g'] }), 2n);
  await gone.delete();
  await f.removeDir('APP', 'GONE');
  await f.stop();
  const rec = await new StoreFactory(root, 'always', () => undefined).recover('APP');
  assert.deepEqual(rec.map((r) => r.config.name), ['KEPT']);
  for (const r of rec) await r.store.stop();
});

test('StoreFactory.lazyReplicaSync: replicated stores (created and recovered) sync on the interval, single-replica ones per write', async (t) => {
  const root = tmp(t);
  const open = (): StoreFactory => {
    const f = new StoreFactory(root, 'always', () => undefined);
    f.deferCreateDurability();
    f.lazyReplicaSync(120_000);
    return f;
  };
  const r3 = cfgOf({ name: 'R3', subjects: ['r3'], num_replicas: 3 });
  // As the cluster layer validates a replica's config (js-account.ts createStream).
  const r3cfg = checkStreamConfig({ name: 'R3', subjects: ['r3'], num_replicas: 3 }, { lookupStream: () => undefined, clustered: true });
  assert.equal(r3cfg.num_replicas, 3, JSON.stringify(r3));
  const f = open();
  const a = await f.create('APP', r3cfg, 1n);
  const b = await f.create('APP', cfgOf({ name: 'R1', subjects: ['r1'] }), 2n);
  assert.equal(a.ackWaitsForSync, false, 'R3: PubAcks do not wait for the store fsync');
  assert.equal(b.ackWaitsForSync, true, 'R1: fsync before PubAck');
  // A restored store holds data no raft log has: it keeps the server's policy.
  const restored = await f.open('APP', { ...r3cfg, name: 'R3B', subjects: ['r3b'] }, 3n);
  assert.equal(restored.ackWaitsForSync, true);
  for (const s of [a, b, restored]) await s.stop();
  await f.stop();
  const rec = await open().recover('APP');
  assert.deepEqual(rec.map((r) => [r.config.name, r.store.ackWaitsForSync]), [['R1', true], ['R3', false]]);
  for (const r of rec) await r.store.stop();

  // An explicit sync policy (lazyReplicaSync not called), or single-server mode: unchanged.
  const plain = new StoreFactory(root, 'always', () => undefined);
  const again = await plain.recover('APP');
  assert.ok(again.every((r) => r.store.ackWaitsForSync));
  for (const r of again) await r.store.stop();
});

/** The spare directories of a streams directory, by inode. */
function sparesOf(streams: string): Map<number, string> {
  return new Map(fs.readdirSync(streams).filter(isSpareName).map((n) => [fs.statSync(path.join(streams, n)).ino, n]));
}

/** A clustered factory (warnings collected) whose account APP has a stream FIRST and its spares ready. */
async function clusteredWithSpares(t: TestContext) {
  const root = tmp(t);
  const warns: string[] = [];
  const f = new StoreFactory(root, 'always', (m) => warns.push(m));
  f.deferCreateDurability();
  const first = await f.create('APP', cfgOf({ name: 'FIRST', subjects: ['first'] }), 1n);
  await f.sparesSettled();
  return { root, warns, f, streams: path.join(root, 'APP', 'streams'), first };
}

test('StoreFactory.create, clustered: later streams take a prepared directory whole; a create cut short before its rename leaves no stream, and recovery removes spares', async (t) => {
  const { root, warns, f, streams, first } = await clusteredWithSpares(t);
  assert.equal(sparesOf(streams).size, 4, 'four spare directories after the first create');
  for (const [, n] of sparesOf(streams)) {
    assert.deepEqual(fs.readdirSync(path.join(streams, n)).sort(), ['meta.inf', 'meta.json', 'meta.sum', 'msgs']);
  }

  const spares = sparesOf(streams);
  const synced = recordSyncs(t);
  const cfg = cfgOf({ name: 'SECOND', subjects: ['second.>'], max_msgs: 5 });
  const store = await f.create('APP', cfg, 2n);
  const dir = path.join(streams, 'SECOND');
  assert.ok(spares.has(fs.statSync(dir).ino), 'the stream directory is a spare renamed');
  const inf = readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'SECOND');
  assert.equal(inf.status, 'ok');
  assert.deepEqual(readStoreMeta(dir)?.metadata, { config: cfg, created: '2' });
  const ino = fs.statSync(path.join(dir, 'meta.json')).ino;
  const again = new FileStore(toStoreConfig(cfg), { dir, sync: 'always', log: () => undefined });
  assert.equal(fs.statSync(path.join(dir, 'meta.json')).ino, ino, 'meta.json is the one the FileStore writes');
  await again.stop();
  await assertSyncedAtFirstWrite(synced, store, dir, 'second.1');
  // The store opened the spare without reading its files back: its meta.json, written again, keeps the metadata.
  store.updateConfig(toStoreConfig(cfg));
  assert.deepEqual(readStoreMeta(dir)?.metadata, { config: cfg, created: '2' });

  // A process killed between filling a spare and renaming it: the files sit under the spare's name.
  const [cut] = [...sparesOf(streams).values()];
  fs.writeFileSync(path.join(streams, cut!, 'meta.inf'), JSON.stringify({ created: '3', config: cfgOf({ name: 'CUT', subjects: ['cut'] }) }));
  await Promise.all([first.stop(), store.stop()]);
  await f.stop();
  assert.deepEqual(warns, []);

  const rwarns: string[] = [];
  const rec = await new StoreFactory(root, 'always', (m) => rwarns.push(m)).recover('APP');
  assert.deepEqual(rwarns, [], 'spares are not streams that failed to load');
  assert.deepEqual(rec.map((r) => [r.config.name, r.store.state().msgs]).sort(), [['FIRST', 0], ['SECOND', 1]]);
  for (const r of rec) await r.store.stop();
  assert.deepEqual(fs.readdirSync(streams).sort(), ['FIRST', 'SECOND'], 'spares of the earlier process removed');
});

test('StoreFactory.create, clustered: when the stream directory holds leftovers the spare is discarded and the leftovers moved aside as before', async (t) => {
  const { root, warns, f, streams, first } = await clusteredWithSpares(t);
  const spares = sparesOf(streams);
  fs.mkdirSync(path.join(streams, 'LEFT'));
  fs.writeFileSync(path.join(streams, 'LEFT', 'old.blk'), 'old data');
  const store = await f.create('APP', cfgOf({ name: 'LEFT', subjects: ['left'] }), 2n);
  const dir = path.join(streams, 'LEFT');
  assert.deepEqual(fs.readdirSync(dir).sort(), ['meta.inf', 'meta.json', 'meta.sum', 'msgs']);
  assert.equal(readCheckedFileSync(dir, 'meta.inf', 'meta.sum', 'LEFT').status, 'ok');
  const damaged = fs.readdirSync(path.join(root, 'APP', 'damaged'));
  assert.equal(damaged.length, 1);
  assert.deepEqual(fs.readdirSync(path.join(root, 'APP', 'damaged', damaged[0]!)), ['old.blk']);
  assert.ok(warns.some((w) => w.includes('moved to')), warns.join('\n'));
  // The spare that was filled for LEFT is removed (in the background); the pool is made up again.
  await f.sparesSettled();
  const names = new Set(spares.values());
  await waitUntil(() => {
    const now = [...sparesOf(streams).values()];
    return now.length === 4 && now.filter((n) => names.has(n)).length === 3;
  }, 10_000, 'the used spare removed and replaced');
  await Promise.all([first.stop(), store.stop()]);
  await f.stop();
});
