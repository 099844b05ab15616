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

import { mkdir, readdir, rename } from 'node:fs/promises';
import { rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { StreamConfig, StreamConfigRequest } from './api/types.js';
import { checkStreamConfig } from './stream-config.js';
import { toStoreConfig } from './stream.js';
import type { FileStoreOptions, StreamStore, SyncPolicy } from './store/types.js';
import { createMemStore } from './store/index.js';
import { FileStore } from './store/filestore.js';
import { fsyncDir, readCheckedFile, writeCheckedFile } from './store/checked-file.js';

const META_FILE = 'meta.inf';
const SUM_FILE = 'meta.sum';
const DAMAGED_DIR = 'damaged';

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

export class StoreFactory {
  private readonly sync: SyncPolicy;

  constructor(
    private readonly root: string,
    syncInterval: number | 'always',
    private readonly warn: (m: string) => void,
  ) {
    this.sync = syncInterval === 'always' ? 'always' : { intervalMs: syncInterval };
  }

  streamDir(account: string, stream: string): string {
    return join(this.root, account, 'streams', stream);
  }

  /** Open the store of a stream being created (or restored from a snapshot). */
  async open(account: string, cfg: StreamConfig, createdNs: bigint): Promise<StreamStore> {
    const sc = toStoreConfig(cfg);
    if (cfg.storage === 'memory') return createMemStore(sc);
    const dir = this.streamDir(account, cfg.name);
    await this.moveAsideLeftover(account, cfg.name, dir);
    const firstCreated = await mkdir(dir, { recursive: true });
    // Make the new directory entries durable: each created directory's parent.
    if (firstCreated !== undefined) {
      for (let d = dir; d.length >= firstCreated.length; d = dirname(d)) await fsyncDir(dirname(d));
    }
    return openFileStore(sc, { dir, sync: this.sync, metadata: { config: cfg, created: createdNs.toString() } });
  }

  /**
   * A new stream's directory must be empty. Anything there was left by an earlier stream of the
   * same name that was not loaded at start-up (damaged meta) or whose removal was interrupted:
   * keep it, but out of the way.
   */
  private async moveAsideLeftover(account: string, name: string, dir: string): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return; // no directory yet: the normal case
    }
    if (entries.length === 0) return;
    if (await isInterruptedDelete(dir)) {
      await rm(dir, { recursive: true, force: true });
      this.warn(`JetStream: creating stream '${account} > ${name}': removed what was left of its deleted predecessor`);
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
    const meta: StreamMeta = { created: createdNs.toString(), config: cfg };
    await writeCheckedFile(dir, META_FILE, SUM_FILE, cfg.name, Buffer.from(JSON.stringify(meta)));
  }

  /** Find and open every file stream of `account`. Broken ones are logged and skipped, never deleted. */
  async recover(account: string): Promise<RecoveredStream[]> {
    const base = join(this.root, account, 'streams');
    let names: string[];
    try {
      names = await readdir(base);
    } catch {
      return [];
    }
    const out: RecoveredStream[] = [];
    for (const name of names.sort()) {
      const dir = join(base, name);
      if (await isInterruptedDelete(dir)) {
        // Deleted on request; the server stopped before all files were gone. Finish the job.
        await rm(dir, { recursive: true, force: true }).catch((e) => this.warn(`JetStream: removing ${dir}: ${String(e)}`));
        this.warn(`JetStream: stream '${account} > ${name}' was being deleted when the server stopped; deletion finished`);
        continue;
      }
      let meta: StreamMeta | undefined;
      try {
        meta = await this.readMeta(account, name, dir);
      } catch (e) {
        this.warn(`JetStream: stream '${account} > ${name}' NOT loaded: ${String(e)}; its directory ${dir} is left on disk untouched`);
      }
      if (!meta) continue;
      try {
        // Re-normalise through validation so configs written by older versions get today's defaults.
        const cfg = checkStreamConfig(meta.config as unknown as StreamConfigRequest, { lookupStream: () => undefined });
        const createdNs = BigInt(meta.created);
        const store = openFileStore(toStoreConfig(cfg), { dir, sync: this.sync, metadata: { config: cfg, created: meta.created } });
        out.push({ config: cfg, createdNs, store });
      } catch (e) {
        this.warn(`JetStream: could not recover stream '${account} > ${name}': ${String(e)}; left on disk in ${dir}`);
      }
    }
    return out;
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

async function exists(p: string): Promise<boolean> {
  try {
    await readdir(p);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}
