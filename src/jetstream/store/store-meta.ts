// The meta file of a file store directory (meta.json): the store config plus the opaque stream
// metadata the server keeps with it, read back when the server restarts.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { diskFullFault } from '../../core/disk-fault.js';
import { normalizeConfig } from './base-store.js';
import { atomicWriteSync, writeSynced } from './durable-fs.js';
import type { StoreConfig } from './types.js';

const META_FILE = 'meta.json';

export interface StoreMeta {
  config: StoreConfig;
  metadata?: unknown;
}

/** The meta file text a FileStore of `cfg` writes (the constructor leaves an identical file alone). */
export function storeMetaText(cfg: StoreConfig, metadata: unknown): string {
  return JSON.stringify({ config: cfg, metadata });
}

/** Path of a file store directory's own meta file. */
export function storeMetaPath(dir: string): string {
  return path.join(dir, META_FILE);
}

/** The meta file text of a new file store directory (what prepareStoreMeta writes). */
export function newStoreMetaText(cfg: StoreConfig, metadata: unknown): string {
  return storeMetaText(normalizeConfig({ ...cfg, storage: 'file' }), metadata);
}

/**
 * Write the meta file of a new store directory before the FileStore is constructed, without
 * blocking the event loop: temp file, fsync, rename. The directory fsync that makes the name
 * durable is left to the caller, who fsyncs the directory once for all files it created there
 * (store-factory.ts). The constructor then finds the same content and writes nothing.
 */
export async function prepareStoreMeta(dir: string, cfg: StoreConfig, metadata: unknown, doSync: boolean): Promise<void> {
  diskFullFault(dir);
  const text = newStoreMetaText(cfg, metadata);
  const file = storeMetaPath(dir);
  await writeSynced(`${file}.tmp`, text, doSync);
  await fs.promises.rename(`${file}.tmp`, file);
}

/** Write the meta file from the running store (config or metadata changed): atomic, synchronous. */
export function writeStoreMetaSync(dir: string, cfg: StoreConfig, metadata: unknown, doSync: boolean): void {
  atomicWriteSync(storeMetaPath(dir), storeMetaText(cfg, metadata), doSync);
}

/** Read the meta file of a file store directory (undefined when absent or unreadable). */
export function readStoreMeta(dir: string): StoreMeta | undefined {
  try {
    return JSON.parse(fs.readFileSync(storeMetaPath(dir), 'utf8')) as StoreMeta;
  } catch {
    return undefined;
  }
}
