// Public surface of the JetStream store layer.
export type {
  StorageType, DiscardPolicy, StoreConfig, StoredMsg, StoreResult, StreamState, SimpleState,
  NumPendingResult, StorageUpdateHandler, DurableHandler, SyncPolicy, SequencePair, PendingInfo,
  ConsumerState, ConsumerStore, RecoveredConsumer, ReplicatedStreamState, StreamStore,
  FileStoreOptions, NowNs,
} from './types.js';
export { StoreError, isStoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
