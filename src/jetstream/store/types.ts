// The JetStream store contract: what a stream's message log must provide to the
// stream/consumer layers above it. Modelled on nats-server's StreamStore
// (server/store.go), reshaped for TypeScript:
//
// - Everything that only touches in-memory state is synchronous. The file store
//   keeps its index in memory and reads payloads with positional reads from the
//   page cache (plus a small LRU), so loads are synchronous too.
// - Writes are synchronous from the caller's point of view (the index is updated
//   and the record is queued before storeMsg returns) but reach the disk
//   asynchronously. When a write is *durable* is reported separately (see
//   "Durability" on StreamStore) so that PubAcks can be group-committed.
// - The store knows nothing of Raft, the server or the network.
//
// Units and representations (chosen once, used everywhere in store/):
// - Sequences are JS numbers (exact up to 2^53, far beyond any real stream).
// - Message timestamps are nanoseconds since the Unix epoch as `bigint`
//   (nats-server stores int64 ns and the API renders RFC3339 with ns; a JS number
//   cannot hold ns-since-epoch exactly). 0n means "no time".
// - Durations given to the store are milliseconds (`maxAgeMs`), except
//   per-message TTL which follows nats-server's header semantics in seconds.
// - Byte accounting (`bytes`, `maxBytes`) uses nats-server's per-message size
//   formulas so stream info shows the same numbers as nats-server:
//   memory: subject + headers + payload + 16; file: 30 + subject + payload
//   (+ 4 + headers when headers are present).

export type StorageType = 'file' | 'memory';
export type DiscardPolicy = 'old' | 'new';

/** Limits and identity the store enforces. Values <= 0 mean "unlimited" (nats uses -1 / 0). */
export interface StoreConfig {
  /** Stream name (used for file names and error text only). */
  name: string;
  /** Informational: the store stores whatever subject it is handed; the stream layer filters. */
  subjects?: string[];
  storage: StorageType;
  /** Max number of messages kept; <= 0 unlimited. */
  maxMsgs?: number;
  /** Max total bytes (see size formulas above); <= 0 unlimited. */
  maxBytes?: number;
  /** Max age of a message in MILLISECONDS (StreamConfig.max_age is ns: divide by 1e6); <= 0 unlimited. */
  maxAgeMs?: number;
  /** Max messages kept per subject; <= 0 unlimited. Old ones are dropped (unless discardNewPerSubject). */
  maxMsgsPerSubject?: number;
  /** Max size of header+payload of one message; <= 0 unlimited. Exceeding it throws ErrMsgTooLarge. */
  maxMsgSize?: number;
  /** 'old' (default) evicts oldest messages; 'new' rejects the new message with ErrMaxMsgs/ErrMaxBytes. */
  discard?: DiscardPolicy;
  /** With discard 'new' and maxMsgsPerSubject: reject (ErrMaxMsgsPerSubject) instead of dropping the subject's oldest. */
  discardNewPerSubject?: boolean;
  /** First sequence of a new, empty stream (StreamConfig.first_seq). Default 1. */
  firstSeq?: number;
  /** Per-message TTL enabled (StreamConfig.allow_msg_ttl). When false, ttl arguments are ignored. */
  allowMsgTtl?: boolean;
}

/** A message as loaded. `headers` and `data` are views of store-owned buffers that the store never
 *  reuses, so they stay valid as long as they are referenced; only eraseMsg overwrites them in place
 *  (with random bytes). Do not modify them. */
export interface StoredMsg {
  subject: string;
  seq: number;
  /** Nanoseconds since the Unix epoch. */
  ts: bigint;
  /** Raw header block ("NATS/1.0\r\n...\r\n\r\n"), absent when the message had no headers. */
  headers?: Buffer;
  data: Buffer;
}

export interface StoreResult {
  seq: number;
  /** Nanoseconds since the Unix epoch that the store stamped on the message. */
  ts: bigint;
}

/** Whole-stream state (consumer_count is added by the stream layer). */
export interface StreamState {
  msgs: number;
  bytes: number;
  firstSeq: number;
  /** ns since epoch of the first message; 0n when empty. */
  firstTs: bigint;
  lastSeq: number;
  /** ns since epoch of the last stored (or skipped) message; 0n when none. */
  lastTs: bigint;
  numSubjects: number;
  /** Interior gaps: sequences between firstSeq and lastSeq that hold no message. */
  numDeleted: number;
  /** Sorted list of the deleted sequences; only filled by state(), not fastState(). */
  deleted?: number[];
  /** Messages whose bytes a file store found damaged (at recovery, or when read), and the bytes cut
   *  (StreamState.lost in the API, nats-server's LostStreamData). At most 10,000 sequences are listed. */
  lost?: { msgs: number[]; bytes: number };
}

/** Per-subject (or per-filter) summary. first/last are 0 when msgs is 0. */
export interface SimpleState {
  msgs: number;
  first: number;
  last: number;
}

export interface NumPendingResult {
  total: number;
  /** The stream's last sequence at the time of the count. */
  validThrough: number;
}

/** Called on every change of stored messages: +1/+size on store, -1/-size per removal,
 *  (-n, -bytes, 0, '') for bulk removals (purge/compact/truncate). Used for account usage
 *  accounting and to let consumers/retention learn that a sequence is gone. */
export type StorageUpdateHandler = (msgsDelta: number, bytesDelta: number, seq: number, subject: string) => void;

/** Called after each group commit with the highest sequence now durable, or with an error when
 *  the disk write/fsync failed (the store then rejects further writes with ErrStoreFailed). */
export type DurableHandler = (durableSeq: number, err?: Error) => void;

/**
 * Durability policy of the file store (jetstream { sync_interval }).
 * - 'always': every record is fsynced before it is reported durable. Concurrent writes share
 *   one fsync (group commit): the store writes whatever accumulated while the previous
 *   write+fsync was in flight, then fsyncs once for all of it. PubAcks wait for onDurable.
 * - { intervalMs }: records are written to the OS promptly (end of the current event-loop
 *   turn) and fsynced every intervalMs. A message is reported durable as soon as it is
 *   accepted (durableSeq == lastSeq); a machine crash (not a process crash) may lose up to
 *   intervalMs of acknowledged writes. nats-server's default is 2 minutes.
 */
export type SyncPolicy = 'always' | { intervalMs: number };

export interface SequencePair {
  consumerSeq: number;
  streamSeq: number;
}

export interface PendingInfo {
  /** Consumer sequence of the delivery. */
  seq: number;
  /** Delivery time, milliseconds since epoch (persisted at second resolution, as nats-server does). */
  tsMs: number;
}

export interface ConsumerState {
  delivered: SequencePair;
  ackFloor: SequencePair;
  /** Outstanding (unacked) deliveries by stream sequence. Explicit/all ack policies only. */
  pending: Map<number, PendingInfo>;
  /** Delivery count by stream sequence, only for messages delivered more than once. */
  redelivered: Map<number, number>;
}

/** Persistent consumer state, owned by one consumer. Writes are coalesced; the file store writes
 *  the state file atomically (temp + rename + dir fsync) at most every flush interval and on stop(). */
export interface ConsumerStore {
  readonly name: string;
  /**
   * File stores: the directory holding this consumer's files, removed with the consumer. A
   * replicated consumer keeps its raft witness copy there (consumer-group.ts).
   */
  readonly dir?: string;
  /** Initialise the delivered/ack floor for a consumer starting at stream sequence sseq. */
  setStarting(sseq: number): void;
  /** Record a delivery. dc = delivery count (1 first time). With ack policy 'none' (from the
   *  config's ack_policy) delivered and ack floor move together and nothing is pending. */
  updateDelivered(dseq: number, sseq: number, dc: number, tsMs: number): void;
  /** Record an ack of (dseq, sseq); moves the ack floor when possible. Throws ErrNoAckPolicy for ack none. */
  updateAcks(dseq: number, sseq: number): void;
  /** Replace the whole state (used by replication/snapshots). Older delivered/ackFloor are rejected (ErrStoreOldUpdate). */
  update(state: ConsumerState): void;
  /** Same as update() but without the staleness check. */
  forceUpdate(state: ConsumerState): void;
  /** forceUpdate() of a state the caller built for this and does not keep: the store keeps the object itself (no copy). */
  replaceState?(state: ConsumerState): void;
  /** A copy of the current state. */
  state(): ConsumerState;
  hasState(): boolean;
  /** Consumer config persisted with the state: the ConsumerConfig JSON object (snake_case). The store
   *  reads `ack_policy` ('none' | 'all' | 'explicit', default explicit) and `max_deliver` from it. */
  config(): unknown;
  updateConfig(cfg: unknown): void;
  /** Binary encoding of state (for replication snapshots). */
  encodedState(): Buffer;
  /**
   * File stores: start state writes at most every `ms` (default 100, as nats-server; 0: as soon as
   * the previous write finished; flush() always writes at once). Replicated consumers, whose state
   * the raft log and its snapshots hold, use a longer gap: the file copy is rebuilt from them at
   * start, so writing it often is wasted I/O.
   */
  setWriteGap?(ms: number): void;
  /** Flush pending writes (file store) and release resources. */
  stop(): Promise<void>;
  /** Remove the consumer's persisted state. */
  delete(): Promise<void>;
}

/** A consumer recovered from disk by the file store at open. */
export interface RecoveredConsumer {
  name: string;
  config: unknown;
  createdMs: number;
  state: ConsumerState;
}

/** Decoded replicated stream state (EncodedStreamState) — compact form of state() for snapshots. */
export interface ReplicatedStreamState {
  msgs: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  failed: number;
  /** Deleted sequences, as [first, count] runs. */
  deleted: Array<[number, number]>;
}

export interface StreamStore {
  readonly type: StorageType;
  readonly config: Readonly<StoreConfig>;

  /** Store a message at lastSeq+1 stamped with the current time. Applies limits (discard old evicts,
   *  discard new throws ErrMaxMsgs/ErrMaxBytes/ErrMaxMsgsPerSubject), ErrMsgTooLarge, ErrStoreClosed.
   *  ttlSec: per-message TTL in seconds (>0), -1 = never expires (exempt from maxAge), 0/undefined = none. */
  storeMsg(subject: string, headers: Buffer | undefined, data: Buffer, ttlSec?: number): StoreResult;
  /** Store with a given sequence and timestamp (replication/mirroring). seq must be lastSeq+1
   *  (ErrSequenceMismatch otherwise; 0 = next). discardNewCheck applies discard-new limits (clustered
   *  streams check before proposing and pass false to keep replicas identical). */
  storeRawMsg(subject: string, headers: Buffer | undefined, data: Buffer, seq: number, ts: bigint,
    ttlSec?: number, discardNewCheck?: boolean): void;
  /** Consume sequence seq (must be lastSeq+1, or 0 for next) without storing a message. Returns it. */
  skipMsg(seq: number): number;
  /** Consume num sequences starting at seq (lastSeq+1, or 0 for next). */
  skipMsgs(seq: number, num: number): void;

  /** Message at seq, or undefined when deleted/never stored/beyond lastSeq. */
  loadMsg(seq: number): StoredMsg | undefined;
  /** Last message whose subject matches filter ('' or '>' = any). */
  loadLastMsg(filter: string): StoredMsg | undefined;
  /** First message with seq >= startSeq matching filter ('' or '>' = any, wildcards allowed). */
  loadNextMsg(filter: string, startSeq: number): StoredMsg | undefined;
  /** First message with seq >= startSeq matching any of filters (empty array = any). */
  loadNextMsgMulti(filters: string[], startSeq: number): StoredMsg | undefined;
  /** Last message with seq <= startSeq matching filter. */
  loadPrevMsg(filter: string, startSeq: number): StoredMsg | undefined;
  /** Subject of the message at seq, or undefined. */
  subjectForSeq(seq: number): string | undefined;

  /** Remove one message. false when it was not there. */
  removeMsg(seq: number): boolean;
  /** Remove and overwrite its bytes (in place on disk for the file store, in the slab for the memory
   *  store) so the payload is unrecoverable. */
  eraseMsg(seq: number): boolean;
  /** Remove everything; firstSeq becomes lastSeq+1. Returns number purged. */
  purge(): number;
  /** Purge messages whose subject matches subject ('' = all); with seq > 0 only those with sequence < seq;
   *  with keep > 0 keep the newest `keep` matching messages. seq and keep are exclusive as in nats. */
  purgeEx(subject: string, seq: number, keep: number): number;
  /** Remove all messages with sequence < seq; firstSeq becomes seq. Returns number purged. */
  compact(seq: number): number;
  /** Remove all messages with sequence > seq; lastSeq becomes seq. */
  truncate(seq: number): void;

  /** fastState()'s lastSeq, firstSeq and msgs without building a state object (read per
   *  message on the publish and apply paths). */
  readonly lastSeq: number;
  readonly firstSeq: number;
  readonly msgs: number;
  /** Full state including the list of deleted sequences. */
  state(): StreamState;
  /** State without the deleted list (cheap). */
  fastState(): StreamState;
  /** Summary of messages with seq >= startSeq matching filter. */
  filteredState(startSeq: number, filter: string): SimpleState;
  /** Per-subject state for subjects matching filter ('' = all). */
  subjectsState(filter: string): Map<string, SimpleState>;
  /** Per-subject message counts for subjects matching filter. */
  subjectsTotals(filter: string): Map<string, number>;
  /** Messages pending from startSeq matching filter; lastPerSubject counts one per subject. */
  numPending(startSeq: number, filter: string, lastPerSubject: boolean): NumPendingResult;
  numPendingMulti(startSeq: number, filters: string[], lastPerSubject: boolean): NumPendingResult;
  /** Sorted last sequences of every subject matching any filter, considering only seq <= maxSeq
   *  (0 = no bound). Throws ErrTooManyResults when more than maxAllowed (>0) results. */
  multiLastSeqs(filters: string[], maxSeq: number, maxAllowed: number): number[];
  /** Sorted last sequence of every subject. */
  allLastSeqs(): number[];
  /** First sequence whose timestamp >= tsNs; lastSeq+1 when none. */
  getSeqFromTime(tsNs: bigint): number;

  /** Apply new limits (enforced immediately). firstSeq cannot change. The file store also rewrites
   *  its meta file with cfg and, when given, the opaque metadata. */
  updateConfig(cfg: StoreConfig, metadata?: unknown): void;
  registerStorageUpdates(cb: StorageUpdateHandler | undefined): void;

  // ---- Durability (group commit) ----
  /** Highest sequence durable under the sync policy. Memory store and interval policy: lastSeq. */
  durableSeq(): number;
  /** True when the caller must wait for onDurable before acknowledging (file store, sync 'always'). */
  readonly ackWaitsForSync: boolean;
  /** Register the listener called whenever durableSeq advances (or a write fails). */
  onDurable(cb: DurableHandler | undefined): void;
  /** Resolve once everything stored/removed so far is written and fsynced (memory store: at once). */
  flush(): Promise<void>;

  // ---- Replication / backup ----
  /** Compact binary description of state (nats EncodedStreamState layout, without sources). */
  encodedStreamState(failed: number): Buffer;
  /** Self-describing snapshot of all messages (and consumer states) for backup/catch-up. */
  snapshot(includeConsumers: boolean): AsyncIterable<Buffer>;

  // ---- Consumers ----
  /** Open (or create) a consumer's persistent state. createdMs is kept with it. */
  consumerStore(name: string, cfg: unknown, createdMs: number): ConsumerStore;
  /** Consumers whose state was found on disk at open (file store); empty for the memory store. */
  recoveredConsumers(): RecoveredConsumer[];

  // ---- Lifecycle ----
  /** Flush and close; further calls throw ErrStoreClosed. */
  stop(): Promise<void>;
  /** Stop and remove all persisted data (including consumer states). */
  delete(): Promise<void>;
}

/** Options of the file store (in addition to StoreConfig). */
export interface FileStoreOptions {
  /** Directory owned by this stream's store (created if missing). */
  dir: string;
  /** Seal a block and start a new one when it reaches this size. Default 8 MiB. */
  blockSizeBytes?: number;
  /** Durability policy; default { intervalMs: 120_000 } like nats-server's sync_interval. */
  sync?: SyncPolicy;
  /** Budget of the read cache (records read, plus read-ahead). Default 4 MiB. */
  cacheBytes?: number;
  /** Opaque JSON-serialisable stream metadata (e.g. the full StreamConfig) persisted in the
   *  directory; read back with readStoreMeta(dir) when the server restarts. */
  metadata?: unknown;
  /** At most this many block files are kept open (least recently used are closed). Default 128. */
  maxOpenBlocks?: number;
  /** Compact a sealed block (rewrite it without its removed messages) once its live bytes fall
   *  below half of its size and it is at least this big. Default min(2 MiB, blockSizeBytes / 4). */
  compactMinBytes?: number;
  /** Where the store reports read errors and recovery cuts (default: console.warn). */
  log?: (msg: string) => void;
  /** Called after each block replayed at recovery (blocks done, blocks in all): start-up progress. */
  recoveryProgress?: (done: number, total: number) => void;
  /** Durability its creator deferred (a clustered create's meta files and directory entries, see
   *  StoreFactory): run once, before the first fsync pass reports anything durable, and by stop(). */
  beforeFirstSync?: () => Promise<void>;
  /** The creator has just made `dir` whole for this config and knows what it holds: an empty
   *  msgs/, meta.json of this config with `metadata`, no obs/. Opening then does not read them
   *  back (a clustered create's store, opened on the meta group's critical path). */
  fresh?: { metadata: unknown };
}

/** Clock injected for tests: returns ns since the epoch. */
export type NowNs = () => bigint;
