// Opening stores for streams and finding them again at restart.
//
// Layout (as nats-server): <root>/<account>/streams/<stream>/ holds the file store's
// data and meta.inf, the stream's config and creation time as JSON, written atomically
// (temp file, fsync, rename) whenever the config changes. Memory streams have no
// directory and, as with nats-server, do not survive a restart.

import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { StreamConfig, StreamConfigRequest } from './api/types.js';
import { checkStreamConfig } from './stream-config.js';
import { toStoreConfig } from './stream.js';
import type { FileStoreOptions, StreamStore, SyncPolicy } from './store/types.js';
import { createMemStore } from './store/index.js';
import { FileStore } from './store/filestore.js';

const META_FILE = 'meta.inf';

function openFileStore(cfg: ReturnType<typeof toStoreConfig>, opts: FileStoreOptions): StreamStore {
  return new FileStore(cfg, opts);
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

  async open(account: string, cfg: StreamConfig, createdNs: bigint): Promise<StreamStore> {
    const sc = toStoreConfig(cfg);
    if (cfg.storage === 'memory') return createMemStore(sc);
    const dir = this.streamDir(account, cfg.name);
    await mkdir(dir, { recursive: true });
    return openFileStore(sc, { dir, sync: this.sync, log: this.warn, metadata: { config: cfg, created: createdNs.toString() } });
  }

  /** Persist config + creation time of a file stream (memory streams are not recovered). */
  async saveMeta(account: string, cfg: StreamConfig, createdNs: bigint): Promise<void> {
    if (cfg.storage === 'memory') return;
    const dir = this.streamDir(account, cfg.name);
    await mkdir(dir, { recursive: true });
    const meta: StreamMeta = { created: createdNs.toString(), config: cfg };
    const tmp = join(dir, META_FILE + '.tmp');
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(JSON.stringify(meta));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, META_FILE));
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
      let meta: StreamMeta;
      try {
        meta = JSON.parse(await readFile(join(dir, META_FILE), 'utf8')) as StreamMeta;
      } catch (e) {
        this.warn(`JetStream: skipping '${account} > ${name}': no readable ${META_FILE} (${String(e)})`);
        continue;
      }
      try {
        // Re-normalise through validation so configs written by older versions get today's defaults.
        const cfg = checkStreamConfig(meta.config as unknown as StreamConfigRequest, { lookupStream: () => undefined });
        const createdNs = BigInt(meta.created);
        const store = openFileStore(toStoreConfig(cfg), { dir, sync: this.sync, log: this.warn, metadata: { config: cfg, created: meta.created } });
        out.push({ config: cfg, createdNs, store });
      } catch (e) {
        this.warn(`JetStream: could not recover stream '${account} > ${name}': ${String(e)}`);
      }
    }
    return out;
  }

  /** Remove what is left of a stream directory (after the store deleted its files). */
  async removeDir(account: string, stream: string): Promise<void> {
    await rm(this.streamDir(account, stream), { recursive: true, force: true });
  }
}
