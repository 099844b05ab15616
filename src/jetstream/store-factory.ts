// Opening stores for streams and finding them again at restart.
//
// Layout (as nats-server): <root>/<account>/streams/<stream>/ holds the file store's
// data, meta.inf (the stream's config and creation time as JSON) and meta.sum (its
// checksum: HighwayHash-64 keyed with SHA-256 of the stream name, as nats-server's
// filestore.go writeStreamMeta). Both are written crash-safely whenever the config
// changes (store/checked-file.ts). Memory streams have no directory and, as with
// nats-server, do not survive a restart.
//
// At start-up a stream whose meta.inf does not verify (hand edit, torn write, bit
// flip, another stream's file) is not loaded: loading it with a wrong config could
// trim or expose its data. It is logged and left on disk untouched (nats-server
// jetstream.go also skips it). If a stream of that name is created later, the old
// directory is moved to <root>/<account>/damaged/ first, so the new stream never
// adopts, and its limits never trim, the old data. Deleting a stream retires meta.inf
// before removing the files, so a crash half-way never brings back part of a stream.

import { renameSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rename, stat } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { StreamConfig, StreamConfigRequest } from './api/types.js';
import { checkStreamConfig } from './stream-config.js';
import { toStoreConfig } from './stream.js';
import type { FileStoreOptions, StreamStore, SyncPolicy } from './store/types.js';
import { createMemStore } from './store/index.js';
import { FileStore, newStoreMetaText, prepareStoreMeta, readStoreMeta, storeMetaPath } from './store/filestore.js';
import { fsyncDir, metaChecksum, readCheckedFile, writeCheckedFile } from './store/checked-file.js';
import { fsyncFile } from './store/durable-fs.js';
import type { ProgressBoard, ProgressTask } from './progress.js';
import { StreamDirSpares } from './stream-dir-spares.js';
import { diskFullFault } from '../core/disk-fault.js';

const META_FILE = 'meta.inf';
const SUM_FILE = 'meta.sum';
const DAMAGED_DIR = 'damaged';
/** Spare stream directories kept ready per streams directory in clustered mode (stream-dir-spares.ts). */
const SPARES_PER_DIR = 4;

/** Left in place of meta.inf while a stream's files are being removed. */
const DELETING_FILE = 'meta.inf.deleted';

/**
 * A stream's file store whose delete() first retires meta.inf (one atomic rename), so a crash in
 * the middle of removing the files can never bring the stream back with part of its data: at
 * start-up a directory with the marker and no meta.inf is a deletion to finish.
 */
class StreamFileStore extends FileStore {
  constructor(cfg: ReturnType<typeof toStoreConfig>, private readonly streamDirPath: string, opts: FileStoreOptions) {
    super(cfg, opts);
  }

  override async delete(): Promise<void> {
    try {
      await rename(join(this.streamDirPath, META_FILE), join(this.streamDirPath, DELETING_FILE));
      await fsyncDir(this.streamDirPath);
    } catch {
      // No meta.inf (never saved): nothing could bring the stream back.
    }
    await super.delete();
  }
}

function openFileStore(cfg: ReturnType<typeof toStoreConfig>, opts: FileStoreOptions): StreamStore {
  return new StreamFileStore(cfg, opts.dir, opts);
}

/** A directory whose stream was being deleted when the server stopped: marker present, meta.inf gone. */
async function isInterruptedDelete(dir: string): Promise<boolean> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.includes(DELETING_FILE) && !entries.includes(META_FILE);
}

interface StreamMeta {
  created: string;
  config: StreamConfig;
}

export interface RecoveredStream {
  config: StreamConfig;
  createdNs: bigint;
  store: StreamStore;
}

function streamMetaBytes(cfg: StreamConfig, createdNs: bigint): Buffer {
  const meta: StreamMeta = { created: createdNs.toString(), config: cfg };
  return Buffer.from(JSON.stringify(meta));
}

export class StoreFactory {
  private readonly sync: SyncPolicy;
  /**
   * Clustered mode: a stream exists because its assignment is in the meta group's log, which a
   * majority has fsync'ed before the create is answered, and a restarted server re-creates a
   * stream it holds no (or no loadable) directory for. So a new stream's files need not be
   * durable before the reply: their fsyncs run with the store's first sync (before its first
   * PubAck) or at its stop. This is nats-server's create cost (it fsyncs none of these files)
   * without weakening the promise that an acknowledged message survives a power loss.
   */
  private deferCreateSync = false;
  /**
   * Clustered mode with the default policy: the sync policy of replicated (R>1) streams' stores.
   * Their messages are acknowledged once committed, i.e. fsync'ed in the raft WAL of a quorum,
   * and a restarted replica trusts its store only up to the group's last snapshot (taken after
   * a store flush) and re-applies the WAL after it (cluster/stream-restore.ts). So the store
   * itself need not be durable per write: it syncs on an interval, on snapshot and at stop, and
   * PubAcks and visibility wait for the commit and apply only, as in nats-server.
   */
  private replicaSync: SyncPolicy | undefined;
  /** Prepared stream directories; used for creates once deferCreateDurability() is called. */
  private readonly spares: StreamDirSpares;
  private useSpares = false;

  constructor(
    private readonly root: string,
    syncInterval: number | 'always',
    private readonly warn: (m: string) => void,
    /** Where recovery of a large store reports its progress (log, /healthz). */
    private readonly progress?: ProgressBoard,
  ) {
    this.sync = syncInterval === 'always' ? 'always' : { intervalMs: syncInterval };
    this.spares = new StreamDirSpares(SPARES_PER_DIR, warn);
  }

  /**
   * Called once the meta layer is on (see deferCreateSync). A create is then on the meta group's
   * critical path (the holder answers the client once its files exist), so creates also take a
   * prepared directory when one is ready (stream-dir-spares.ts).
   */
  deferCreateDurability(): void {
    this.deferCreateSync = true;
    this.useSpares = true;
  }

  /** Resolves once the spare directories asked for so far are ready (tests wait for this). */
  sparesSettled(): Promise<void> {
    return this.spares.settled();
  }

  /** Stop preparing stream directories; resolves once nothing more is being written. */
  async stop(): Promise<void> {
    await this.spares.stop();
  }

  /**
   * Called in clustered mode unless the user chose a sync policy: replicated streams' stores
   * sync every `intervalMs` instead of before each PubAck (see replicaSync). An explicit
   * `sync_interval: always` keeps every store fsync'ing per write.
   */
  lazyReplicaSync(intervalMs: number): void {
    if (this.sync === 'always') this.replicaSync = { intervalMs };
  }

  /** The sync policy of the store of a stream with config `cfg`. */
  private syncFor(cfg: Pick<StreamConfig, 'num_replicas'>): SyncPolicy {
    return this.replicaSync !== undefined && cfg.num_replicas > 1 ? this.replicaSync : this.sync;
  }

  streamDir(account: string, stream: string): string {
    return join(this.root, account, 'streams', stream);
  }

  /**
   * Open the store of a stream being restored from a snapshot. Its meta.inf is written by
   * saveMeta once the restore has succeeded, so a crash mid-restore never loads half a stream.
   */
  async open(account: string, cfg: StreamConfig, createdNs: bigint): Promise<StreamStore> {
    return this.openNew(account, cfg, createdNs, false);
  }

  /**
   * Open the store of a new stream and make everything a restart needs to find it durable
   * (directory entries, the store's meta.json, meta.inf + meta.sum) before returning.
   */
  async create(account: string, cfg: StreamConfig, createdNs: bigint): Promise<StreamStore> {
    return this.openNew(account, cfg, createdNs, true);
  }

  /**
   * The files of a new stream directory are written concurrently, each temp file fsync'ed before
   * its rename, and the directory is fsync'ed once after all renames (and each newly created
   * directory's parent once): a handful of overlapping thread-pool round trips instead of ~20
   * sequential ones, several of them blocking the event loop (the FileStore constructor writes its
   * meta.json synchronously when it finds none). Every file is durable before this returns, as
   * before; a crash part-way leaves either no meta.inf (the directory is not loaded, and a later
   * create of the name moves it aside) or a verifying meta.inf whose store meta.json is rewritten
   * at recovery when missing.
   */
  private async openNew(account: string, cfg: StreamConfig, createdNs: bigint, withMeta: boolean): Promise<StreamStore> {
    const sc = toStoreConfig(cfg);
    if (cfg.storage === 'memory') return createMemStore(sc);
    const dir = this.streamDir(account, cfg.name);
    // meta.json follows the store's sync policy (as the FileStore writes it); meta.inf and the
    // directory entries are always fsync'ed (as saveMeta does).
    // A restored store (open) keeps the server's policy: its data is in no raft log.
    const sync = withMeta ? this.syncFor(cfg) : this.sync;
    const doSync = sync === 'always';
    const metadata = { config: cfg, created: createdNs.toString() };
    const defer = withMeta && this.deferCreateSync;
    if (defer && this.useSpares) {
      const streams = dirname(dir);
      if (this.fillSpare(streams, dir, sc, metadata, cfg.name, streamMetaBytes(cfg, createdNs))) {
        this.spares.refill(streams);
        // A spare holds nothing but what fillSpare wrote: the store need not read it back.
        return this.openDeferred(sc, dir, sync, [streams], { metadata });
      }
    }
    const { firstCreated, msgsDir } = await this.makeStreamDirs(account, cfg.name, dir);
    // Directories whose entries changed: the parent of each newly created directory.
    const parents = new Set<string>([dir]);
    if (firstCreated !== undefined) {
      for (let d = join(dir, 'msgs'); d.length >= firstCreated.length; d = dirname(d)) parents.add(dirname(d));
    }
    const writes: Promise<unknown>[] = [msgsDir, prepareStoreMeta(dir, sc, metadata, doSync && !defer)];
    if (withMeta) writes.push(writeCheckedFile(dir, META_FILE, SUM_FILE, cfg.name, streamMetaBytes(cfg, createdNs), !defer, false));
    try {
      if (defer) {
        await Promise.all(writes);
        // The streams directory exists now: prepare directories for the next creates.
        if (this.useSpares) this.spares.refill(dirname(dir));
        return this.openDeferred(sc, dir, sync, [...parents].filter((p) => p !== dir));
      }
      // The stream directory itself is fsync'ed after the renames; the ones above it meanwhile.
      for (const p of parents) if (p !== dir) writes.push(fsyncDir(p));
      await Promise.all(writes);
      await fsyncDir(dir);
      return openFileStore(sc, { dir, sync, log: this.warn });
    } catch (e) {
      // The directory was made here (makeStreamDirs moved any leftover aside first) and holds
      // nothing but what this create began to write: a failed create (EMFILE, ENOSPC) leaves no
      // stream directory behind. Best effort: a removal that fails too leaves an empty skeleton,
      // which the next create of the name removes (moveAsideLeftover).
      await Promise.allSettled(writes);
      await rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
  }

  /**
   * A clustered create's store: its files become durable before the store's first sync (see
   * deferCreateSync): the three meta files and the directories above whose entries changed
   * (`parents`), then the stream directory itself.
   */
  private openDeferred(sc: ReturnType<typeof toStoreConfig>, dir: string, sync: SyncPolicy, parents: string[],
    fresh?: { metadata: unknown }): StreamStore {
    const files = [storeMetaPath(dir), join(dir, META_FILE), join(dir, SUM_FILE)];
    const beforeFirstSync = async (): Promise<void> => {
      await Promise.all([...files.map(fsyncFile), ...parents.map(fsyncDir)]);
      await fsyncDir(dir);
    };
    return openFileStore(sc, { dir, sync, log: this.warn, beforeFirstSync, fresh });
  }

  /**
   * Make `dir` from a ready spare of `streams`: its three empty files are written in place (no new
   * inode: plain system calls, each a few µs, where a thread-pool round trip would cost more) and
   * the spare is renamed to the stream's name, so the directory appears with all its files at
   * once. False (the spare discarded) when no spare is ready or a step fails, e.g. because `dir`
   * exists and holds something: the caller then takes the plain path, which deals with leftovers.
   */
  private fillSpare(streams: string, dir: string, sc: ReturnType<typeof toStoreConfig>, metadata: unknown, name: string,
    meta: Buffer): boolean {
    const spare = this.spares.take(streams);
    if (spare === undefined) return false;
    try {
      diskFullFault(spare);
      writeFileSync(storeMetaPath(spare), newStoreMetaText(sc, metadata));
      writeFileSync(join(spare, META_FILE), meta);
      writeFileSync(join(spare, SUM_FILE), metaChecksum(name, meta));
      renameSync(spare, dir);
      return true;
    } catch {
      void rm(spare, { recursive: true, force: true }).catch(() => undefined);
      return false;
    }
  }

  /**
   * Make a new stream's directory; `firstCreated` is the first directory created (as a recursive
   * mkdir reports it) and `msgsDir` settles once `<dir>/msgs` exists. Each step here is a
   * thread-pool round trip on the path of a create, so in the usual case, a stream directory that
   * does not exist yet in an existing streams directory, the stream directory's plain mkdir
   * succeeding proves that nothing was left there (no readdir for leftovers), and `msgs` is made
   * while the caller writes the meta files next to it. Otherwise (the directory exists, or the
   * account has no streams directory yet) leftovers are moved aside and the path made first.
   */
  private async makeStreamDirs(account: string, name: string, dir: string): Promise<{ firstCreated: string | undefined; msgsDir: Promise<unknown> }> {
    try {
      await mkdir(dir);
    } catch {
      await this.moveAsideLeftover(account, name, dir);
      return { firstCreated: await mkdir(join(dir, 'msgs'), { recursive: true }), msgsDir: Promise.resolve() };
    }
    return { firstCreated: dir, msgsDir: mkdir(join(dir, 'msgs')) };
  }

  /**
   * A new stream's directory must be empty. Anything there was left by an earlier stream of the
   * same name that was not loaded at start-up (damaged meta), whose removal was interrupted, or by
   * a create of this stream that failed half-way (EMFILE, ENOSPC: its group start is retried).
   * What holds data is kept, but out of the way; what never held any is removed: a create that
   * keeps failing must not leave one more copy in damaged/ at every retry.
   */
  private async moveAsideLeftover(account: string, name: string, dir: string): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch (e) {
      // No directory yet is the normal case. Any other failure (EMFILE) must fail the create:
      // writing the new stream's files into a directory that was not checked could adopt old data.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    if (entries.length === 0) return;
    if (await isInterruptedDelete(dir)) {
      await rm(dir, { recursive: true, force: true });
      this.warn(`JetStream: creating stream '${account} > ${name}': removed what was left of its deleted predecessor`);
      return;
    }
    if (await holdsNoData(dir)) {
      await rm(dir, { recursive: true, force: true });
      this.warn(`JetStream: creating stream '${account} > ${name}': removed the empty directory of an earlier create that failed half-way`);
      return;
    }
    const parent = join(this.root, account, DAMAGED_DIR);
    await mkdir(parent, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let dest = join(parent, `${name}.${stamp}`);
    for (let i = 1; await exists(dest); i++) dest = join(parent, `${name}.${stamp}.${i}`);
    await rename(dir, dest);
    await fsyncDir(parent);
    await fsyncDir(join(this.root, account, 'streams'));
    this.warn(`JetStream: creating stream '${account} > ${name}': its directory held data of an earlier stream ` +
      `that was not loaded (${entries.length} entries); moved to ${dest} (nothing deleted)`);
  }

  /** Persist config + creation time of a file stream (memory streams are not recovered). */
  async saveMeta(account: string, cfg: StreamConfig, createdNs: bigint): Promise<void> {
    if (cfg.storage === 'memory') return;
    const dir = this.streamDir(account, cfg.name);
    await mkdir(dir, { recursive: true });
    await writeCheckedFile(dir, META_FILE, SUM_FILE, cfg.name, streamMetaBytes(cfg, createdNs));
  }

  /** Find and open every file stream of `account`. Broken ones are logged and skipped, never deleted. */
  async recover(account: string): Promise<RecoveredStream[]> {
    const base = join(this.root, account, 'streams');
    let names: string[];
    try {
      names = await this.spares.dropStale(base, await readdir(base));
    } catch {
      return [];
    }
    const out: RecoveredStream[] = [];
    for (const name of names.sort()) {
      const r = await this.recoverOne(account, name);
      if (r) out.push(r);
    }
    return out;
  }

  /**
   * Open the file stream `name` of `account` from its directory as recovery does (at start, or
   * again after its store failed and was unloaded), or undefined (logged) when it cannot be loaded.
   */
  async recoverOne(account: string, name: string): Promise<RecoveredStream | undefined> {
    const dir = this.streamDir(account, name);
    if (await isInterruptedDelete(dir)) {
      // Deleted on request; the server stopped before all files were gone. Finish the job.
      await rm(dir, { recursive: true, force: true }).catch((e) => this.warn(`JetStream: removing ${dir}: ${String(e)}`));
      this.warn(`JetStream: stream '${account} > ${name}' was being deleted when the server stopped; deletion finished`);
      return undefined;
    }
    let meta: StreamMeta | undefined;
    try {
      meta = await this.readMeta(account, name, dir);
    } catch (e) {
      this.warn(`JetStream: stream '${account} > ${name}' NOT loaded: ${String(e)}; its directory ${dir} is left on disk untouched`);
    }
    if (!meta) return undefined;
    let task: ProgressTask | undefined;
    try {
      // Re-normalise through validation so configs written by older versions get today's defaults.
      const cfg = checkStreamConfig(meta.config as unknown as StreamConfigRequest, { lookupStream: () => undefined });
      const createdNs = BigInt(meta.created);
      // Hand the store its metadata only when it changed: the store rewrites (and fsyncs) its
      // meta file whenever metadata is given, which would cost every stream a sync write at start.
      const metadata = { config: cfg, created: meta.created };
      const same = JSON.stringify(readStoreMeta(dir)?.metadata) === JSON.stringify(metadata);
      const board = this.progress;
      const recoveryProgress = board && ((done: number, total: number): void => {
        task ??= board.begin(`JetStream: recovering stream '${account} > ${name}'`, 'blocks', total);
        task.update(done, total);
      });
      const store = openFileStore(toStoreConfig(cfg), { dir, sync: this.syncFor(cfg), log: this.warn, metadata: same ? undefined : metadata, recoveryProgress });
      task?.end('recovered');
      return { config: cfg, createdNs, store };
    } catch (e) {
      task?.end('failed');
      this.warn(`JetStream: could not recover stream '${account} > ${name}': ${String(e)}; left on disk in ${dir}`);
    }
    return undefined;
  }

  /** The verified meta of the stream in `dir`, or undefined (logged) when it cannot be trusted. */
  private async readMeta(account: string, name: string, dir: string): Promise<StreamMeta | undefined> {
    const notLoaded = (why: string): undefined => {
      this.warn(`JetStream: stream '${account} > ${name}' NOT loaded: ${why}; its directory ${dir} is left on disk untouched`);
      return undefined;
    };
    const r = await readCheckedFile(dir, META_FILE, SUM_FILE, name);
    if (r.status === 'missing') return notLoaded(`no ${META_FILE}`);
    if (r.status === 'damaged') {
      return notLoaded(`${r.reason} (to load it anyway once ${META_FILE} is checked, remove ${SUM_FILE} and restart)`);
    }
    let meta: StreamMeta;
    try {
      meta = JSON.parse(r.data.toString('utf8')) as StreamMeta;
    } catch (e) {
      return notLoaded(`${META_FILE} is not valid JSON (${String(e)})`);
    }
    if (meta?.config?.name !== name) {
      return notLoaded(`${META_FILE} names stream ${JSON.stringify(meta?.config?.name)}, not the directory's`);
    }
    if (r.status === 'no-sum') {
      // Written before checksums existed: nothing to verify against. Load it, and guard it from now on.
      let wrote = 'checksum written';
      try {
        await writeCheckedFile(dir, META_FILE, SUM_FILE, name, r.data);
      } catch (e) {
        wrote = `checksum could not be written (${String(e)})`;
      }
      this.warn(`JetStream: stream '${account} > ${name}': ${META_FILE} had no checksum (${SUM_FILE}); loaded as is, ${wrote}`);
    } else if (r.rolledForward) {
      this.warn(`JetStream: stream '${account} > ${name}': completed a ${META_FILE} update interrupted by a crash`);
    }
    return meta;
  }

  /** Remove what is left of a stream directory (after the store deleted its files). */
  async removeDir(account: string, stream: string): Promise<void> {
    await rm(this.streamDir(account, stream), { recursive: true, force: true });
  }
}

/**
 * A new stream's own files at the top of its directory (and their temp names while written), and
 * the copy of its raft group's durable witness (an index, no data; raft/log/wal.ts).
 */
const CREATE_FILES = /^(meta\.(inf|sum|json)(\.new|\.tmp)?|raft-witness\.idx)$/;

/**
 * True when nothing under `dir` can be a message or consumer state: every file is empty, except a
 * new stream's own meta files at the top (a create that failed half-way writes those and nothing
 * else; the stream's config is in its assignment). A failure to look (EMFILE) is thrown: the create
 * fails and is retried, rather than guessing either way.
 */
async function holdsNoData(dir: string, top = true): Promise<boolean> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (!(await holdsNoData(p, false))) return false;
    } else if (!(top && CREATE_FILES.test(e.name)) && (!e.isFile() || (await stat(p)).size > 0)) {
      return false;
    }
  }
  return true;
}

async function exists(p: string): Promise<boolean> {
  try {
    await readdir(p);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
