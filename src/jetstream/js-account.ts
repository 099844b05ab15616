// JetStream state of one account: its streams, usage against limits, API counters,
// and the internal client through which streams subscribe and answer.

import type { Account } from '../core/account.js';
import type { InternalClient } from '../core/internal-client.js';
import { ClientKind } from '../core/types.js';
import { ApiError, jsErr, jsErrText } from './api/errors.js';
import type { StreamConfig, StreamConfigRequest } from './api/types.js';
import { boundedOverlap, checkStreamConfig, checkStreamUpdate, sameStreamConfig, type StreamConfigContext } from './stream-config.js';
import { Stream, type StreamHost } from './stream.js';
import { DEFAULT_OVERLAP_BUDGET, SubjectTrie } from './subject-trie.js';
import { DirectGetResponder, DIRECT_GET_PREFIX } from './direct-get.js';
import { publishStreamAction, type StreamAction } from './advisories.js';
import type { StreamStore } from './store/types.js';
import { RequestGate } from './visibility.js';

// One definition of the per-account limits (-1 = unlimited), shared with the JWT accounts that
// produce them (tiers: by replica count, reported under `tiers` in $JS.API.INFO with the top-level
// limits all 0, as nats-server does; the top-level limits are then those of the R1 tier).
import type { JsAccountLimits } from '../auth/jwt-accounts.js';
export type { JsAccountLimits };

export const UNLIMITED_ACCOUNT: JsAccountLimits = {
  maxMemory: -1, maxStore: -1, maxStreams: -1, maxConsumers: -1, maxAckPending: -1,
  memoryMaxStreamBytes: -1, storeMaxStreamBytes: -1, maxBytesRequired: false,
};

/** What an account needs from the JetStream service (server-wide limits and storage). */
export interface JsAccountHost {
  readonly domain?: string;
  readonly serverName: string;
  readonly duplicateWindowLimitNs: number;
  /** Server max_pending: default byte budget of one direct-get answer. */
  readonly maxPendingBytes: number;
  /** Open a new store for a stream (memory, or file under the account's streams dir); for a file
   *  stream its config (meta.inf) is durable when this resolves, so it is recovered at restart. */
  openStore(account: string, cfg: StreamConfig, createdNs: bigint): Promise<StreamStore>;
  /** Persist the stream's config (file streams) so it is recovered at restart. */
  saveStreamMeta(account: string, cfg: StreamConfig, createdNs: bigint): Promise<void>;
  /** Remove a deleted stream's directory (file streams). */
  removeStreamDir(account: string, stream: string): Promise<void>;
  /** Server-wide usage accounting and checks. */
  serverUsage(storage: StreamConfig['storage'], msgsDelta: number, bytesDelta: number): void;
  serverHasRoom(storage: StreamConfig['storage'], bytes: number): boolean;
  /** Server-wide reservation check for a new max_bytes (true = fits). */
  serverCanReserve(storage: StreamConfig['storage'], bytes: number): boolean;
  warn(msg: string): void;
  /**
   * Whether a new stream takes publishes here from the start. A replicated stream of a clustered
   * server does not: its raft group subscribes its subjects on the leader only (setStreamIngest).
   */
  ingestsAtStart(cfg: StreamConfig): boolean;
  /** A stream was created/recovered/deleted in this account (consumers, mirrors react). */
  streamAdded(acc: JsAccount, stream: Stream): void;
  streamRemoved(acc: JsAccount, stream: Stream): void;
}


const overlapLimit = (): ApiError => jsErrText('StreamInvalidConfig', 'subject overlap check exceeded its work limit');
export class JsAccount {
  readonly name: string;
  readonly account: Account;
  readonly limits: JsAccountLimits;
  readonly client: InternalClient;
  readonly streams = new Map<string, Stream>();
  /** Subscriptions of each stream's subjects (publish intake). */
  private readonly ingestSids = new Map<string, number[]>();
  /** Streams whose subjects are not subscribed here (replicated streams led elsewhere). */
  private readonly ingestOff = new Set<string>();
  /** Direct-get subscriptions of each stream. */
  private readonly directSids = new Map<string, number[]>();
  /** Streams that answer no direct gets here (a replica not yet current: setStreamDirect). */
  private readonly directOff = new Set<string>();
  private readonly host: JsAccountHost;
  /** Names being created right now (async store open) so concurrent creates do not race. */
  private readonly creating = new Set<string>();
  /**
   * Deletions still removing their stream's files, by name. The name is free as soon as the
   * deletion starts, but a stream created under it must wait: the deletion ends by removing
   * the stream's directory, which would take the new stream's files with it.
   */
  private readonly deleting = new Map<string, Promise<void>>();
  /** API requests wait here until what the streams held when they arrived is durable (visibility.ts). */
  readonly requestGate = new RequestGate((e) => this.host.warn(`JetStream API: ${String(e)}`));

  memoryBytes = 0;
  storeBytes = 0;
  apiTotal = 0;
  apiErrors = 0;

  constructor(account: Account, limits: JsAccountLimits, host: JsAccountHost) {
    this.name = account.name;
    this.account = account;
    this.limits = limits;
    this.host = host;
    this.client = account.createInternalClient('jetstream', ClientKind.JETSTREAM);
  }

  configContext(storage: StreamConfig['storage'] = 'file'): StreamConfigContext {
    return {
      lookupStream: (n) => this.streams.get(n)?.config,
      duplicateWindowLimitNs: this.host.duplicateWindowLimitNs,
      maxBytesRequired: this.limits.maxBytesRequired,
      maxStreamBytes: storage === 'memory' ? this.limits.memoryMaxStreamBytes : this.limits.storeMaxStreamBytes,
      clustered: false,
    };
  }

  /**
   * The max_bytes reservations of all streams, by storage. Every create checks them, here and for
   * the whole server (serverCanReserve), and a clustered server's placement info reports them:
   * scanning every stream each time cost a holder of 1,000 streams ~0.2 ms per create. A new
   * stream adds its own (addStream); after a removal or a reconfiguration (streamsChanged) they
   * are undefined and summed again on the next use.
   */
  private reservations: { file: number; memory: number } | undefined;

  /** Sum of max_bytes reservations of the other streams on `storage`. */
  private reserved(storage: StreamConfig['storage'], except: string): number {
    if (this.reservations === undefined) {
      const sums = { file: 0, memory: 0 };
      for (const s of this.streams.values()) {
        const c = s.config;
        if (c.max_bytes > 0) sums[c.storage === 'memory' ? 'memory' : 'file'] += c.max_bytes;
      }
      this.reservations = sums;
    }
    const own = except === '' ? undefined : this.streams.get(except)?.config;
    const ownBytes = own !== undefined && own.storage === storage && own.max_bytes > 0 ? own.max_bytes : 0;
    return this.reservations[storage === 'memory' ? 'memory' : 'file'] - ownBytes;
  }

  reservedMemory(): number { return this.reserved('memory', ''); }
  reservedStore(): number { return this.reserved('file', ''); }

  /** nats-server checkLimits: max_consumers and the byte reservation against account and server. */
  private checkLimits(cfg: StreamConfig, addBytesIn: number): void {
    if (cfg.max_consumers > 0 && this.limits.maxConsumers > 0 && cfg.max_consumers > this.limits.maxConsumers) {
      throw jsErr('MaximumConsumersLimit');
    }
    const addBytes = addBytesIn < 0 ? 1 : addBytesIn;
    const current = this.reserved(cfg.storage, cfg.name);
    const mem = cfg.storage === 'memory';
    const max = mem ? this.limits.maxMemory : this.limits.maxStore;
    const err = mem ? 'MemoryResourcesExceeded' : 'StorageResourcesExceeded';
    if (max >= 0 && (current > max || addBytes > max - current)) throw jsErr(err);
    if (!this.host.serverCanReserve(cfg.storage, addBytes)) throw jsErr(err);
  }

  // ---- stream lifecycle ---------------------------------------------------------------

  /**
   * STREAM.CREATE after request decoding. Returns the stream and whether it is new;
   * an identical existing stream is returned as is (idempotent create).
   */
  async createStream(req: StreamConfigRequest, pedantic: boolean, replicated = false): Promise<Stream> {
    const storage = req.storage === 'memory' ? 'memory' : 'file';
    // jsNonClusteredStreamLimitsCheck runs on the raw request before defaults are applied.
    const existing = req.name ? this.streams.get(req.name) : undefined;
    if (!existing && this.limits.maxStreams > 0 && this.streams.size >= this.limits.maxStreams) {
      throw jsErr('MaximumStreamsLimit');
    }
    const rawCfg = { max_consumers: req.max_consumers ?? 0, max_bytes: req.max_bytes ?? 0, storage, name: req.name ?? '' } as StreamConfig;
    this.checkLimits(rawCfg, rawCfg.max_bytes);

    // `replicated`: a replica of an R>1 stream, created by the cluster layer (src/jetstream/cluster/stream-group.ts).
    const cfg = checkStreamConfig(req, { ...this.configContext(storage), clustered: replicated }, pedantic);
    if (cfg.num_replicas > 1 && !replicated) throw jsErr('StreamReplicasNotSupported');
    const current = this.streams.get(cfg.name);
    if (current) {
      if (sameStreamConfig(current.config, cfg)) return current;
      throw jsErr('StreamNameExist');
    }
    if (this.creating.has(cfg.name)) throw jsErr('StreamNameExist');
    this.checkLimits(cfg, cfg.max_bytes);
    this.checkOverlap(cfg, undefined);

    this.creating.add(cfg.name);
    try {
      const deletion = this.deleting.get(cfg.name);
      if (deletion !== undefined) await deletion;
      const createdNs = BigInt(Date.now()) * 1_000_000n;
      let store: StreamStore;
      try {
        store = await this.host.openStore(this.name, cfg, createdNs);
      } catch (e) {
        if (e instanceof ApiError) throw e;
        // nats-server 2.9.10 (JSStreamStoreFailedF): the cause goes to the log, the client gets
        // 10049 "error creating store for stream", standalone and clustered alike.
        this.host.warn(`Stream create failed for '${this.name} > ${cfg.name}': ${e instanceof Error ? e.message : String(e)}`);
        throw jsErrText('StreamCreate', 'error creating store for stream');
      }
      if (cfg.compression === 's2') {
        this.host.warn(`stream '${this.name} > ${cfg.name}': compression "s2" accepted, messages are stored uncompressed`);
      }
      const stream = this.addStream(cfg, store, createdNs);
      this.advise(stream.name, 'create');
      return stream;
    } finally {
      this.creating.delete(cfg.name);
    }
  }

  /**
   * The subjects of the account's streams as a trie, kept between creates: building it (or
   * querying every stream's subjects) per create grew with the number of streams and sat on the
   * critical path of clustered creates. A new stream adds its subjects (addStream); a removal or
   * a reconfiguration drops the trie (subjectsChanged), built again at the next create. Every
   * change of `streams` or of a stream's config goes through this class (addStream, updateStream,
   * deleteStream, unloadStream), so no check against `streams` is needed per create (that check
   * was itself a scan of every stream).
   */
  private subjectIndex: { trie: SubjectTrie; built: Set<string> } | undefined;

  private streamSubjects(): SubjectTrie {
    let ix = this.subjectIndex;
    if (ix === undefined) {
      ix = { trie: new SubjectTrie(Infinity), built: new Set() };
      for (const [name, s] of this.streams) this.indexSubjects(ix, name, s.config);
      this.subjectIndex = ix;
    }
    return ix.trie;
  }

  private indexSubjects(ix: { trie: SubjectTrie; built: Set<string> }, name: string, cfg: StreamConfig): void {
    ix.trie.setBudget(Infinity);
    for (const x of cfg.subjects ?? []) ix.trie.insert(x, 0);
    ix.built.add(name);
  }

  /** A stream was removed or reconfigured: the subjects trie (insert-only) and the sums are stale. */
  private streamsChanged(): void {
    this.subjectIndex = undefined;
    this.reservations = undefined;
  }

  /** Bring a stream (new or recovered) to life: subscriptions and registration. */
  addStream(cfg: StreamConfig, store: StreamStore, createdNs: bigint): Stream {
    const stream = new Stream(cfg, store, this.streamHost(), createdNs);
    const previous = this.streams.get(cfg.name);
    if (previous !== undefined) this.requestGate.unwatch(previous);
    const replaced = previous !== undefined || this.subjectIndex?.built.has(cfg.name) === true;
    if (replaced) {
      this.streamsChanged(); // its old subjects are in the trie, its old bytes in the sums
    } else {
      if (this.subjectIndex) this.indexSubjects(this.subjectIndex, cfg.name, stream.config);
      const c = stream.config;
      if (this.reservations !== undefined && c.max_bytes > 0) this.reservations[c.storage === 'memory' ? 'memory' : 'file'] += c.max_bytes;
    }
    this.streams.set(cfg.name, stream);
    this.requestGate.watch(stream);
    if (this.host.ingestsAtStart(stream.config)) {
      this.ingestOff.delete(cfg.name);
      this.directOff.delete(cfg.name);
    } else {
      this.ingestOff.add(cfg.name);
      this.directOff.add(cfg.name);
    }
    this.subscribeStream(stream);
    this.host.streamAdded(this, stream);
    return stream;
  }

  private streamHost(): StreamHost {
    return {
      domain: this.host.domain,
      publish: (subject, reply, headers, payload) => { this.client.publish(subject, reply, headers, payload); },
      checkResources: (storage, sizeBytes) => this.checkResources(storage, sizeBytes),
      onUsage: (storage, msgs, bytes) => {
        if (storage === 'memory') this.memoryBytes += bytes;
        else this.storeBytes += bytes;
        this.host.serverUsage(storage, msgs, bytes);
      },
      onVisible: () => this.requestGate.progress(),
      warn: (m) => this.host.warn(m),
    };
  }

  /** Resource check before storing one message (nats-server wouldExceedLimits / limitsExceeded). */
  private checkResources(storage: StreamConfig['storage'], sizeBytes: number): ApiError | undefined {
    if (!this.host.serverHasRoom(storage, sizeBytes)) return jsErr('InsufficientResources');
    const max = storage === 'memory' ? this.limits.maxMemory : this.limits.maxStore;
    if (max >= 0) {
      const used = storage === 'memory' ? this.memoryBytes : this.storeBytes;
      if (used + sizeBytes > max) return jsErr('AccountResourcesExceeded');
    }
    return undefined;
  }

  /**
   * Take publishes on the stream's subjects here or not. A replicated stream's group turns this on
   * when this server leads it and off when it does not, as nats-server subscribes a stream's
   * subjects on its leader only: publishes then cross one route to the leader instead of being
   * routed to every replica and dropped by all but one.
   */
  setStreamIngest(name: string, on: boolean): void {
    if (on) {
      if (!this.ingestOff.delete(name)) return;
      const stream = this.streams.get(name);
      if (stream) this.subscribeSubjects(stream);
    } else if (!this.ingestOff.has(name)) {
      this.ingestOff.add(name);
      this.unsubscribeSubjects(name);
    }
  }

  private subscribeSubjects(stream: Stream): void {
    if (this.ingestOff.has(stream.name) || this.ingestSids.has(stream.name)) return;
    const sids: number[] = [];
    for (const subj of stream.config.subjects ?? []) {
      sids.push(this.client.subscribe(subj, (s, r, h, p) => stream.processInbound(s, r, h, p)));
    }
    this.ingestSids.set(stream.name, sids);
  }

  private unsubscribeSubjects(name: string): void {
    for (const sid of this.ingestSids.get(name) ?? []) this.client.unsubscribe(sid);
    this.ingestSids.delete(name);
  }

  /**
   * Answer direct gets of the stream here or not. A replicated stream's group turns this on when
   * this server leads it or its replica is current, as nats-server subscribes a follower to direct
   * gets only once it has caught up: a replica still behind would answer "404 Message Not Found"
   * for acknowledged messages (the queue group prefers a subscriber local to the client).
   */
  setStreamDirect(name: string, on: boolean): void {
    if (on) {
      if (!this.directOff.delete(name)) return;
      const stream = this.streams.get(name);
      if (stream) this.subscribeDirect(stream);
    } else if (!this.directOff.has(name)) {
      this.directOff.add(name);
      for (const sid of this.directSids.get(name) ?? []) this.client.unsubscribe(sid);
      this.directSids.delete(name);
    }
  }

  private subscribeStream(stream: Stream): void {
    this.subscribeSubjects(stream);
    this.subscribeDirect(stream);
  }

  private subscribeDirect(stream: Stream): void {
    if (this.directOff.has(stream.name) || this.directSids.has(stream.name)) return;
    const sids: number[] = [];
    const cfg = stream.config;
    // Direct get: queue group "_sys_" like nats-server, so a mirror with mirror_direct can share the load.
    const directNames: string[] = [];
    if (cfg.allow_direct) directNames.push(cfg.name);
    if (cfg.mirror_direct && cfg.mirror && !cfg.mirror.external) directNames.push(cfg.mirror.name);
    if (directNames.length) {
      const dg = new DirectGetResponder(stream, (subj, reply, h, p) => { this.client.publish(subj, reply, h, p); },
        this.host.maxPendingBytes);
      const prefixes = [DIRECT_GET_PREFIX];
      if (this.host.domain) prefixes.push(`$JS.${this.host.domain}.API.DIRECT.GET.`);
      for (const name of directNames) {
        for (const pre of prefixes) {
          sids.push(this.client.subscribe(pre + name, (_s, r, _h, p) => dg.handleRequest(r, p), '_sys_'));
          sids.push(this.client.subscribe(pre + name + '.>', (s, r, _h, p) => {
            dg.handleLastBySubject(pre === DIRECT_GET_PREFIX ? s : DIRECT_GET_PREFIX + s.slice(pre.length), r, p);
          }, '_sys_'));
        }
      }
    }
    this.directSids.set(stream.name, sids);
  }

  private unsubscribeStream(name: string): void {
    this.unsubscribeSubjects(name);
    for (const sid of this.directSids.get(name) ?? []) this.client.unsubscribe(sid);
    this.directSids.delete(name);
  }

  /** Subjects may not overlap another stream of the account (10065). */
  private checkOverlap(cfg: StreamConfig, self: string | undefined): void {
    const mine = cfg.subjects ?? [];
    if (mine.length === 0) return;
    if (self === undefined) {
      // A create: each new subject is one query of the account's subjects trie.
      const trie = this.streamSubjects();
      boundedOverlap(() => {
        trie.setBudget(DEFAULT_OVERLAP_BUDGET);
        if (mine.some((b) => trie.collides(b))) throw jsErr('StreamSubjectOverlap');
      }, overlapLimit);
      return;
    }
    // The new subjects go into a trie once; each subject of the other streams is one query.
    const trie = new SubjectTrie();
    boundedOverlap(() => {
      mine.forEach((b, i) => trie.insert(b, i));
      for (const s of this.streams.values()) {
        if (s.name === self) continue;
        for (const a of s.config.subjects ?? []) if (trie.collides(a)) throw jsErr('StreamSubjectOverlap');
      }
    }, overlapLimit);
  }

  /** STREAM.UPDATE after decoding; throws ApiError. */
  async updateStream(stream: Stream, req: StreamConfigRequest, pedantic: boolean, replicated = false): Promise<void> {
    const old = stream.config;
    // A replica of a replicated stream is updated by the cluster layer (stream-group.ts), which
    // also turns an R1 stream into the first replica of a scale-up (`replicated`).
    const cfg = checkStreamUpdate(old, req, { ...this.configContext(old.storage), clustered: old.num_replicas > 1 || replicated }, pedantic);
    if (cfg.max_consumers > 0 && stream.consumerCount > cfg.max_consumers) {
      throw jsErrText('StreamUpdate', 'can not set max consumers to a value lower than the current number of consumers');
    }
    if (cfg.max_consumers > 0 && this.limits.maxConsumers > 0 && cfg.max_consumers > this.limits.maxConsumers) {
      throw jsErr('MaximumConsumersLimit');
    }
    // Only a growth of max_bytes needs new room: the rest is already reserved.
    const diff = Math.max(cfg.max_bytes, 0) - Math.max(old.max_bytes, 0);
    if (diff > 0) {
      const mem = cfg.storage === 'memory';
      const max = mem ? this.limits.maxMemory : this.limits.maxStore;
      const err = mem ? 'MemoryResourcesExceeded' : 'StorageResourcesExceeded';
      if (max >= 0 && this.reserved(cfg.storage, cfg.name) + cfg.max_bytes > max) throw jsErr(err);
      if (!this.host.serverCanReserve(cfg.storage, diff)) throw jsErr(err);
    }
    this.checkOverlap(cfg, stream.name);
    stream.update(cfg);
    this.streamsChanged();
    this.unsubscribeStream(stream.name);
    this.subscribeStream(stream);
    await this.host.saveStreamMeta(this.name, cfg, stream.createdNs);
    this.advise(stream.name, 'modify');
  }

  /** Stream action advisory ($JS.EVENT.ADVISORY.STREAM.CREATED/UPDATED/DELETED.<stream>). */
  advise(stream: string, action: StreamAction): void {
    publishStreamAction(this.account, (subj, body) => { this.client.publish(subj, '', undefined, body); }, stream, action, this.host.domain);
  }

  /** STREAM.DELETE: stop consumers, remove data. */
  async deleteStream(stream: Stream): Promise<void> {
    const name = stream.name;
    this.unsubscribeStream(name);
    this.ingestOff.delete(name);
    this.directOff.delete(name);
    this.streams.delete(name);
    this.requestGate.unwatch(stream);
    this.streamsChanged();
    this.host.streamRemoved(this, stream);
    const removal = (async () => {
      await stream.close(true);
      if (stream.config.storage === 'file') await this.host.removeStreamDir(this.name, name);
    })();
    // A create of this name waits for the files to be gone (it never fails for it).
    const done = removal.catch(() => {});
    this.deleting.set(name, done);
    try {
      await removal;
    } finally {
      if (this.deleting.get(name) === done) this.deleting.delete(name);
    }
    this.advise(name, 'delete');
  }

  /** Stop serving a stream and close its store, keeping its files (shutdown, or a replica whose group failed to start). */
  async unloadStream(s: Stream): Promise<void> {
    if (this.streams.get(s.name) !== s) return;
    this.unsubscribeStream(s.name);
    this.host.streamRemoved(this, s);
    this.streams.delete(s.name);
    this.requestGate.unwatch(s);
    this.streamsChanged();
    await s.close(false).catch((e) => this.host.warn(`stopping stream ${s.name}: ${String(e)}`));
  }

  /** Server shutdown: stop streams without deleting. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.streams.values()].map((s) => this.unloadStream(s)));
    this.client.close();
  }

  /** Usage of the streams with `replicas` replicas (one tier of tiered limits). */
  tierUsage(replicas: number): { memory: number; storage: number; streams: number; consumers: number } {
    const u = { memory: 0, storage: 0, streams: 0, consumers: 0 };
    for (const s of this.streams.values()) {
      if (Math.max(1, s.config.num_replicas) !== replicas) continue;
      const bytes = s.store.fastState().bytes;
      if (s.config.storage === 'memory') u.memory += bytes;
      else u.storage += bytes;
      u.streams++;
      u.consumers += s.consumerCount;
    }
    return u;
  }

  /** Number of consumers over all streams. */
  consumerCount(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.consumerCount;
    return n;
  }
}
