// Public surface of the JetStream store layer.
export type {
  StorageType, DiscardPolicy, StoreConfig, StoredMsg, StoreResult, StreamState, SimpleState,
  NumPendingResult, StorageUpdateHandler, DurableHandler, SyncPolicy, SequencePair, PendingInfo,
  ConsumerState, ConsumerStore, RecoveredConsumer, ReplicatedStreamState, StreamStore,
  FileStoreOptions, NowNs,
} from './types.js';
export { StoreError, isStoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { MemStore } from './memstore.js';
export { encodeStreamState, decodeStreamState, isEncodedStreamState } from './stream-state-codec.js';
export { encodeConsumerState, decodeConsumerState, emptyConsumerState } from './consumer-state-codec.js';
export { restoreSnapshot } from './snapshot.js';
export type { RestoredConsumer } from './snapshot.js';
export { nowNs } from './clock.js';
export { subjectMatches } from './subject.js';

import { MemStore } from './memstore.js';
import type { NowNs, StoreConfig } from './types.js';

/** Create an in-memory store. */
export function createMemStore(cfg: StoreConfig, opts?: { now?: NowNs }): MemStore {
  return new MemStore(cfg, opts);
}

import { FileStore } from './filestore.js';
import type { FileStoreOptions } from './types.js';
export { FileStore, readStoreMeta } from './filestore.js';
export type { StoreMeta } from './filestore.js';

/** Open (recovering existing data) or create a file store in opts.dir. Recovery is synchronous. */
export function createFileStore(cfg: StoreConfig, opts: FileStoreOptions & { now?: NowNs }): FileStore {
  return new FileStore(cfg, opts);
}
