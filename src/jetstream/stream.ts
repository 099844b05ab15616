// One JetStream stream: the semantics of storing published messages (dedupe, expected-*
// headers, rollups, limits via the store, retention, republish, subject transform) and
// the operations the API needs (info, purge, delete, get). It does not know whether it
// is clustered: a replication layer can call `storeMessage` on every replica with the
// leader's sequence/timestamp, and only the leader answers publishers.
//
// Consumers (src/jetstream/consumer*.ts) attach through `attachConsumer` and
// `addListener`; see StreamConsumer and StreamListener below.

import { ApiError, jsErr, jsErrText, publicErrorText, unlessApiError } from './api/errors.js';
import {
  encodeStreamConfig, type StreamConfig, type StreamStateJson, type StreamSourceInfo, type StreamPurgeRequest,
} from './api/types.js';
import { goTimeFromNanos } from './api/json.js';
import { parsePubHeaders, appendHeaders, getHeader, removeHeader, HDR_MSG_ID } from './headers.js';
import { SubjectTransform, subjectMatchesFilter, subjectsCollide, subjectIsSubsetMatch } from './subjects.js';
import type { ConsumerStore, StreamStore, StoreConfig, StoredMsg } from './store/types.js';
import { isStoreError } from './store/errors.js';
import { VisibilityGate } from './visibility.js';
import { DedupeWindow } from './dedupe.js';

/** What a stream needs from the server around it. Implemented by the JetStream subsystem. */
export interface StreamHost {
  /** JetStream domain, added to PubAcks when set. */
  readonly domain?: string;
  /** Publish into the stream's account (PubAcks, republish, direct-get replies). */
  publish(subject: string, reply: string, headers: Buffer | undefined, payload: Buffer | string): void;
  /** Account/server resource check before storing `sizeBytes` more (undefined = ok). */
  checkResources?(storage: StreamConfig['storage'], sizeBytes: number): ApiError | undefined;
  /** Storage usage change (for account usage and limits). */
  onUsage?(storage: StreamConfig['storage'], msgsDelta: number, bytesDelta: number): void;
  /** More of the stream became visible (durable): requests waiting on it may run. */
  onVisible?(stream: Stream): void;
  warn(msg: string): void;
}

/** The part of a consumer the stream relies on. */
export interface StreamConsumer {
  readonly name: string;
  /** Would this consumer deliver a message on `subject`? (filter match; used for interest retention) */
  isInterested(subject: string): boolean;
  /** Interest retention: does this consumer still have to ack `seq`? */
  needsAck(seq: number, subject: string): boolean;
  /** Stream is going away (delete) or the server stops: release resources. */
  stop(deleting: boolean): Promise<void>;
}

/** Stream events. All are called synchronously; listeners must not throw. */
export interface StreamListener {
  /** A message was stored at `seq` (after dedupe/checks; once per message). Under the
   *  fsync-before-ack policy this is called once the message is durable, after its PubAck. */
  msgStored?(seq: number, subject: string): void;
  /** A single message was removed (limits, delete, ack under interest/workqueue retention). */
  msgRemoved?(seq: number, subject: string): void;
  /** Messages were purged; `filter` is '' for all. `firstSeq` is the stream's first sequence after the purge. */
  purged?(firstSeq: number, filter: string, keep: number, upToSeq: number): void;
  /** The configuration changed (update). */
  configChanged?(cfg: StreamConfig): void;
  /** A replicated stream's replica here started or stopped leading (leads() tells which). */
  leaderChanged?(): void;
}

/** A publish held back while the duplicate window is rebuilt (copied out of the read buffer). */
interface HeldPublish { subject: string; reply: string; headers: Buffer | undefined; payload: Buffer }

/** Held publishes processed per event-loop turn once the rebuild is done. */
const HELD_DRAIN_SLICE = 1024;
/** Above this many bytes held, the rest of the rebuild is done at once rather than holding more. */
const HELD_MAX_BYTES = 64 * 1024 * 1024;

/** Result of storing one message (code path without exceptions for the hot path). */
export const enum StoreOutcome { Stored = 0, Duplicate = 1, Skipped = 2 }

const MAX_HEADER_BYTES = 65535;

export function toStoreConfig(cfg: StreamConfig): StoreConfig {
  return {
    name: cfg.name,
    subjects: cfg.subjects,
    storage: cfg.storage,
    maxMsgs: cfg.max_msgs,
    maxBytes: cfg.max_bytes,
    maxAgeMs: cfg.max_age > 0 ? Math.max(1, Math.floor(cfg.max_age / 1e6)) : 0,
    maxMsgsPerSubject: cfg.max_msgs_per_subject,
    maxMsgSize: cfg.max_msg_size,
    discard: cfg.discard,
    discardNewPerSubject: cfg.discard_new_per_subject ?? false,
    firstSeq: cfg.first_seq,
  };
}

export class Stream {
  readonly name: string;
  readonly store: StreamStore;
  readonly host: StreamHost;
  /** Creation time, ns since the epoch. */
  readonly createdNs: bigint;
  private cfg: StreamConfig;
  private closed = false;
  /** Set by close(): the stream's usage has been handed back to the account. */
  private usageReleased = false;

  private readonly consumers = new Map<string, StreamConsumer>();
  private listeners: StreamListener[] = [];

  // PubAck JSON prefix, built once: {"stream":"S"[,"domain":"D"],"seq":
  private pubAckPrefix = '';
  private inputTransform: SubjectTransform | undefined;
  private republishTransform: SubjectTransform | undefined;

  private readonly dedupe = new DedupeWindow(() => this.cfg.duplicate_window);
  private lastMsgId = '';
  /** Publishes held, in arrival order, while the duplicate window is rebuilt after a restart
   *  (undefined when none are held and no rebuild runs). */
  private held: HeldPublish[] | undefined;
  private heldHead = 0;
  private heldBytes = 0;
  /** Set by storeMessage when the message used a sequence without being kept (its PubAck waits for a flush). */
  private lastWasSkip = false;

  // PubAcks waiting for the store to make their message durable (sync 'always').
  private ackSeqs: number[] = [];
  private ackReplies: string[] = [];
  private ackBodies: string[] = [];
  private ackHead = 0;
  // PubAcks of sequences consumed without a message (interest retention, no interest): they
  // wait for a store flush, as the durable point counts messages only.
  private skipAcks: Array<[string, string]> = [];
  private skipFlushInFlight = false;

  /** What readers (consumers, direct gets, API requests) may see: see visibility.ts. */
  readonly visibility: VisibilityGate;

  /** Mirror/source state reported in info (set by the sourcing module). */
  mirrorInfo: (() => StreamSourceInfo | undefined) | undefined;
  sourcesInfo: (() => StreamSourceInfo[] | undefined) | undefined;
  /**
   * Replicated streams: publishes go to the cluster layer instead of the store (it proposes
   * them and stores committed entries through storeRaw on every replica).
   */
  replicator: ((subject: string, reply: string, headers: Buffer | undefined, payload: Buffer) => void) | undefined;
  /**
   * Replicated mirrors: a mirrored message (the origin's sequence and time) is proposed to
   * the stream's group instead of stored here (sourcing).
   */
  mirrorReplicator: ((subject: string, headers: Buffer | undefined, payload: Buffer, seq: number, tsNs: bigint) => void) | undefined;
  /** Replicated streams: whether this replica leads now (set by the stream's group). */
  leaderCheck: (() => boolean) | undefined;
  /**
   * A replica of a replicated stream recovered from disk (set by the cluster layer): its consumers'
   * groups run them. The consumers found on disk only load their state (a scale-up seed reads it)
   * and neither deliver nor take acks: from a state.dat that may be a second old, a push consumer
   * would deliver again what was acknowledged, and confirm acks no group replicated.
   */
  consumersStandby = false;
  /**
   * Replicated consumers: the cluster layer wraps a consumer's state store so that the
   * leader's deliveries and acks are also proposed to the consumer's group.
   */
  consumerStoreHook: ((name: string, store: ConsumerStore) => ConsumerStore) | undefined;
  /**
   * Set by a replicated stream's group: a consumer's creation time from its meta assignment, so
   * that every leader it ever has reports the same `created` (nats-server: ca.Created).
   */
  assignedConsumerCreatedNs: ((name: string) => bigint | undefined) | undefined;
  /**
   * Set by the cluster layer (cluster/consumer-group.ts): true for a replicated consumer, whose
   * acks reach retention when its group applies them, on every replica, not here.
   */
  ackDeferred: ((consumer: StreamConsumer) => boolean) | undefined;
  /** Cluster info for responses (the clustered layer replaces this). */
  clusterInfo: (() => Record<string, unknown> | undefined) | undefined;
  /**
   * Set by a replicated stream's group: the consumers the meta state assigns to the stream,
   * which StreamInfo and /jsz report on every replica (nats-server's len(sa.consumers)); a
   * replica runs only the consumers it leads.
   */
  assignedConsumerCount: (() => number) | undefined;

  constructor(cfg: StreamConfig, store: StreamStore, host: StreamHost, createdNs: bigint) {
    this.name = cfg.name;
    this.cfg = cfg;
    this.store = store;
    this.host = host;
    this.createdNs = createdNs;
    this.applyConfig(cfg);
    store.registerStorageUpdates((msgs, bytes, seq, subject) => this.onStorageUpdate(msgs, bytes, seq, subject));
    // A recovered (or restored) store already holds data: count it in the account usage,
    // as close() hands it back.
    const held = store.fastState();
    if (held.msgs !== 0 || held.bytes !== 0) host.onUsage?.(cfg.storage, held.msgs, held.bytes);
    this.visibility = new VisibilityGate(store.ackWaitsForSync, held.lastSeq,
      (seq, subject) => { const ls = this.listeners; for (let i = 0; i < ls.length; i++) ls[i]!.msgStored?.(seq, subject); },
      (e) => host.warn(`stream ${cfg.name}: ${String(e)}`));
    if (store.ackWaitsForSync) store.onDurable((seq, err) => this.onDurable(seq, err));
    if (held.msgs > 0) this.startDedupeRebuild();
  }

  get config(): StreamConfig {
    return this.cfg;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private applyConfig(cfg: StreamConfig): void {
    this.cfg = cfg;
    const domain = this.host.domain;
    this.pubAckPrefix = domain
      ? `{"stream":${JSON.stringify(cfg.name)},"domain":${JSON.stringify(domain)},"seq":`
      : `{"stream":${JSON.stringify(cfg.name)},"seq":`;
    this.inputTransform = cfg.subject_transform ? new SubjectTransform(cfg.subject_transform.src, cfg.subject_transform.dest) : undefined;
    this.republishTransform = cfg.republish ? new SubjectTransform(cfg.republish.src || '>', cfg.republish.dest) : undefined;
  }

  // ---- consumers and listeners -------------------------------------------------------

  /** A consumer's state store (through consumerStoreHook when the cluster layer set one). */
  openConsumerStore(name: string, cfg: unknown, createdMs: number): ConsumerStore {
    const s = this.store.consumerStore(name, cfg, createdMs);
    return this.consumerStoreHook ? this.consumerStoreHook(name, s) : s;
  }

  attachConsumer(c: StreamConsumer): void {
    this.consumers.set(c.name, c);
  }

  detachConsumer(name: string): void {
    this.consumers.delete(name);
  }

  getConsumer(name: string): StreamConsumer | undefined {
    return this.consumers.get(name);
  }

  consumerNames(): string[] {
    return [...this.consumers.keys()].sort();
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  /** This server leads the stream: it is not replicated, or its group elected this replica. */
  leads(): boolean {
    return this.replicator === undefined || this.leaderCheck?.() === true;
  }

  /** Called by the stream's group when this replica starts or stops leading. */
  notifyLeaderChanged(): void {
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) ls[i]!.leaderChanged?.();
  }

  addListener(l: StreamListener): () => void {
    this.listeners = [...this.listeners, l];
    return () => { this.listeners = this.listeners.filter((x) => x !== l); };
  }

  /**
   * A consumer acknowledged `seq`. Under workqueue retention the message goes at once;
   * under interest retention once no attached consumer still needs it. Limits: nothing.
   */
  ackMsg(consumer: StreamConsumer, seq: number): void {
    if (this.closed || this.cfg.retention === 'limits') return;
    if (this.ackDeferred?.(consumer) === true) return;
    if (this.cfg.retention === 'workqueue') {
      this.store.removeMsg(seq);
      return;
    }
    const subject = this.store.subjectForSeq(seq);
    if (subject === undefined) return;
    for (const c of this.consumers.values()) {
      if (c !== consumer && c.needsAck(seq, subject)) return;
    }
    this.store.removeMsg(seq);
  }

  // ---- ingest -------------------------------------------------------------------------

  /**
   * A message published on one of the stream's subjects. Called synchronously by the
   * internal subscription; `headers`/`payload` may be views into a read buffer.
   */
  processInbound(subject: string, reply: string, headersIn: Buffer | undefined, payload: Buffer): void {
    if (this.closed) return;
    const headers = withoutRequestInfo(headersIn);
    // A replicated stream numbers and stores through its Raft group (cluster/stream-group.ts),
    // whose proposal sequencer keeps the duplicate window cluster-wide.
    if (this.replicator) {
      this.replicator(subject, reply, headers, payload);
      return;
    }
    // While the duplicate window is rebuilt, a publish with headers (a Nats-Msg-Id or an
    // expected last id) waits, and so does everything after it, to keep the arrival order.
    const held = this.held;
    if (held !== undefined && (headers !== undefined || held.length > this.heldHead)) {
      held.push({ subject, reply, headers: headers === undefined ? undefined : Buffer.from(headers), payload: Buffer.from(payload) });
      this.heldBytes += subject.length + reply.length + (headers?.length ?? 0) + payload.length;
      // Memory stays bounded under a flood: finish the window now (one long turn) instead.
      if (this.heldBytes > HELD_MAX_BYTES && this.dedupe.rebuilding) this.dedupe.rebuildSlice(this.store, true);
      return;
    }
    this.ingest(subject, reply, headers, payload);
  }

  private ingest(subject: string, reply: string, headers: Buffer | undefined, payload: Buffer): void {
    const respond = reply !== '' && this.cfg.no_ack !== true;
    try {
      this.lastWasSkip = false;
      const seq = this.storeMessage(subject, headers, payload, respond ? reply : '');
      if (seq > 0 && respond) {
        if (this.lastWasSkip) this.sendSkipAck(reply, seq);
        else this.sendAck(reply, seq);
      }
    } catch (e) {
      if (respond) this.sendErrorAck(reply, e);
      else if (!(e instanceof ApiError) && !isStoreError(e)) this.host.warn(`stream ${this.name}: ${String(e)}`);
    }
  }

  /**
   * Run the publish checks and store. Returns the sequence stored (> 0), or 0 when the
   * answer was already sent (duplicate). Throws ApiError for rejected messages.
   * `reply` is only used to answer duplicates.
   */
  storeMessage(subjectIn: string, headers: Buffer | undefined, payload: Buffer, reply: string): number {
    const cfg = this.cfg;
    // A direct caller (sourcing) with headers cannot wait: read the rest of the window now.
    if (headers !== undefined && this.dedupe.rebuilding) this.dedupe.rebuildSlice(this.store, true);
    const subject = this.inputTransform ? (this.inputTransform.apply(subjectIn) ?? subjectIn) : subjectIn;
    if (cfg.sealed) throw jsErr('StreamSealed');

    let msgId = '';
    let rollup = '';
    if (headers !== undefined && headers.length > 0) {
      const h = parsePubHeaders(headers);
      if (h !== undefined) {
        if (h.expectedStream !== undefined && h.expectedStream !== cfg.name) throw jsErr('StreamNotMatch');
        if (h.expectedLastSubjSeq !== undefined) {
          const target = h.expectedLastSubjSeqSubject ?? subject;
          const last = this.store.loadLastMsg(target);
          const have = last ? last.seq : 0;
          if (have !== h.expectedLastSubjSeq) throw jsErr('StreamWrongLastSequence', { seq: have });
        } else if (h.expectedLastSubjSeqSubject !== undefined) {
          throw jsErr('StreamExpectedLastSeqPerSubjectInvalid');
        }
        if (h.expectedLastSeq !== undefined) {
          const last = this.store.lastSeq;
          if (h.expectedLastSeq !== last) throw jsErr('StreamWrongLastSequence', { seq: last });
        }
        if (h.msgId !== undefined) {
          msgId = h.msgId;
          if (!cfg.mirror) {
            const dup = this.checkMsgId(msgId);
            if (dup > 0) {
              // Not "duplicate" before the original is durable: a crash could still lose it.
              if (reply !== '') this.queueAck(reply, dup, this.pubAckPrefix + dup + ',"duplicate": true}');
              return 0;
            }
          }
        }
        if (h.expectedLastMsgId !== undefined && h.expectedLastMsgId !== this.lastMsgId) {
          throw jsErr('StreamWrongLastMsgID', { id: this.lastMsgId });
        }
        if (h.rollup !== undefined) {
          if (!cfg.allow_rollup_hdrs || cfg.deny_purge) throw jsErrText('StreamRollupFailed', 'rollup not permitted');
          if (h.rollup !== 'sub' && h.rollup !== 'all') {
            throw jsErrText('StreamRollupFailed', `rollup value invalid: ${JSON.stringify(h.rollup)}`);
          }
          rollup = h.rollup;
        }
      }
    }

    const hdrLen = headers === undefined ? 0 : headers.length;
    const maxMsgSize = cfg.max_msg_size;
    if (maxMsgSize >= 0 && (hdrLen > maxMsgSize || payload.length > maxMsgSize - hdrLen)) throw jsErr('StreamMessageExceedsMaximum');
    if (hdrLen > MAX_HEADER_BYTES) throw jsErr('StreamHeaderExceedsMaximum');
    if (this.host.checkResources !== undefined) {
      const err = this.host.checkResources(cfg.storage, subject.length + hdrLen + payload.length);
      if (err !== undefined) throw err;
    }

    // Interest retention with nobody interested: the sequence is used but nothing kept.
    if (cfg.retention === 'interest' && !this.hasInterest(subject)) {
      const seq = this.store.skipMsg(0);
      this.noteMsgId(msgId, seq);
      if (rollup !== '') this.applyRollup(rollup, subject);
      this.lastWasSkip = true;
      return seq;
    }

    let republishSubject: string | undefined;
    let republishLastSeq = 0;
    if (this.republishTransform !== undefined) {
      republishSubject = this.republishTransform.apply(subject);
      if (republishSubject !== undefined) republishLastSeq = this.store.loadLastMsg(subject)?.seq ?? 0;
    }

    let seq: number;
    let tsNs: bigint;
    try {
      const r = this.store.storeMsg(subject, headers, payload);
      seq = r.seq;
      tsNs = r.ts;
    } catch (e) {
      if (isStoreError(e)) throw jsErrText('StreamStoreFailed', e.message);
      throw unlessApiError('StreamStoreFailed', e);
    }
    this.noteMsgId(msgId, seq, tsNs);
    if (rollup !== '') this.applyRollup(rollup, subject);
    this.visibility.stored(seq, subject);
    if (republishSubject !== undefined) {
      // Republishing is a delivery: it waits for durability like consumers do (copies, as
      // headers/payload may be views of a read buffer).
      const dest = republishSubject;
      if (!this.visibility.pending) this.republish(dest, subject, headers, payload, seq, tsNs, republishLastSeq);
      else {
        const h = headers === undefined ? undefined : Buffer.from(headers);
        const p = Buffer.from(payload);
        this.visibility.whenVisible(() => { if (!this.closed) this.republish(dest, subject, h, p, seq, tsNs, republishLastSeq); });
      }
    }
    return seq;
  }

  /**
   * Store a message with a sequence and time decided elsewhere (mirrors, replicas).
   * Gaps before `seq` are skipped. No publish checks, no PubAck.
   */
  storeRaw(subject: string, headers: Buffer | undefined, payload: Buffer, seq: number, tsNs: bigint): void {
    const last = this.store.lastSeq;
    if (seq <= last) return;
    if (seq > last + 1) this.store.skipMsgs(last + 1, seq - last - 1);
    this.store.storeRawMsg(subject, headers, payload, seq, tsNs);
    const id = headers ? getHeader(headers, HDR_MSG_ID) : undefined;
    this.noteMsgId(id ?? '', seq, tsNs);
    this.visibility.stored(seq, subject);
  }

  private hasInterest(subject: string): boolean {
    for (const c of this.consumers.values()) if (c.isInterested(subject)) return true;
    return false;
  }

  private applyRollup(rollup: string, subject: string): void {
    if (rollup === 'sub') this.purge({ filter: subject, keep: 1 }, true);
    else this.purge({ keep: 1 }, true);
  }

  private republish(dest: string, subject: string, headers: Buffer | undefined, payload: Buffer,
    seq: number, tsNs: bigint, lastSeq: number): void {
    const entries: Array<[string, string]> = [
      ['Nats-Stream', this.name], ['Nats-Subject', subject], ['Nats-Sequence', String(seq)],
      ['Nats-Time-Stamp', goTimeFromNanos(tsNs)], ['Nats-Last-Sequence', String(lastSeq)],
    ];
    const headersOnly = this.cfg.republish?.headers_only === true;
    if (headersOnly) entries.push(['Nats-Msg-Size', String(payload.length)]);
    const h = appendHeaders(headers, entries);
    this.host.publish(dest, '', h, headersOnly ? Buffer.alloc(0) : Buffer.from(payload));
  }

  // ---- PubAcks ------------------------------------------------------------------------

  private sendAck(reply: string, seq: number): void {
    this.queueAck(reply, seq, this.pubAckPrefix + seq + '}');
  }

  /** Send `body` to `reply` once `seq` is durable (at once when it is, or the policy does not wait). */
  private queueAck(reply: string, seq: number, body: string): void {
    if (this.store.ackWaitsForSync && this.store.durableSeq() < seq) {
      this.ackSeqs.push(seq);
      this.ackReplies.push(reply);
      this.ackBodies.push(body);
      return;
    }
    this.host.publish(reply, '', undefined, body);
  }

  /** PubAck of a skipped sequence: after the next flush that covers its skip record. */
  private sendSkipAck(reply: string, seq: number): void {
    const body = this.pubAckPrefix + seq + '}';
    if (!this.store.ackWaitsForSync) {
      this.host.publish(reply, '', undefined, body);
      return;
    }
    this.skipAcks.push([reply, body]);
    if (!this.skipFlushInFlight) this.flushSkipAcks();
  }

  private flushSkipAcks(): void {
    const batch = this.skipAcks;
    this.skipAcks = [];
    this.skipFlushInFlight = true;
    this.store.flush().then(() => {
      for (const [reply, body] of batch) this.host.publish(reply, '', undefined, body);
    }, (e: unknown) => {
      const err = jsErrText('StreamStoreFailed', publicErrorText(e));
      for (const [reply] of batch) this.sendErrorAck(reply, err);
    }).catch((e: unknown) => this.host.warn(`stream ${this.name}: ${String(e)}`)).finally(() => {
      this.skipFlushInFlight = false;
      // Skips that arrived while this flush ran need one that started after them.
      if (this.skipAcks.length > 0) this.flushSkipAcks();
    });
  }

  private sendErrorAck(reply: string, e: unknown): void {
    const err = e instanceof ApiError ? e : isStoreError(e) ? jsErrText('StreamStoreFailed', e.message) : unlessApiError('StreamStoreFailed', e);
    const body = `{"error":${JSON.stringify(err.toJSON())},"stream":${JSON.stringify(this.name)},"seq":0}`;
    this.host.publish(reply, '', undefined, body);
  }

  private onDurable(durableSeq: number, err?: Error): void {
    let i = this.ackHead;
    const n = this.ackSeqs.length;
    if (err !== undefined) {
      // The write did not reach the disk: everyone waiting gets an error, not a false ack.
      for (; i < n; i++) this.sendErrorAck(this.ackReplies[i]!, jsErrText('StreamStoreFailed', err.message));
    } else {
      for (; i < n && this.ackSeqs[i]! <= durableSeq; i++) this.host.publish(this.ackReplies[i]!, '', undefined, this.ackBodies[i]!);
    }
    // Everything stored up to the durable point becomes visible after its PubAck went out:
    // consumers and watchers are told now, and deferred readers run.
    this.visibility.durable(durableSeq, err !== undefined);
    this.host.onVisible?.(this);
    if (i === n) {
      this.ackSeqs.length = 0;
      this.ackReplies.length = 0;
      this.ackBodies.length = 0;
      this.ackHead = 0;
    } else if (i > 1024 && i * 2 > n) {
      this.ackSeqs = this.ackSeqs.slice(i);
      this.ackReplies = this.ackReplies.slice(i);
      this.ackBodies = this.ackBodies.slice(i);
      this.ackHead = 0;
    } else {
      this.ackHead = i;
    }
  }

  // ---- dedupe -------------------------------------------------------------------------

  /** Sequence of a message with this id inside the duplicate window, else 0. */
  private checkMsgId(id: string): number {
    return this.dedupe.check(id);
  }

  /** `tsNs`: the message's store time (ns since the epoch); now when not given. */
  private noteMsgId(id: string, seq: number, tsNs?: bigint): void {
    this.lastMsgId = id;
    if (id !== '') this.dedupe.note(id, seq, tsNs === undefined ? Date.now() : Number(tsNs) / 1e6);
  }

  /**
   * After a restart: read the message ids of the duplicate window back from the store, a
   * slice per event-loop turn (dedupe.ts), holding back the publishes that need them.
   */
  private startDedupeRebuild(): void {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    if (this.cfg.duplicate_window <= 0) return;
    const last = this.store.loadLastMsg('');
    if (last !== undefined && nowNs - last.ts < BigInt(this.cfg.duplicate_window) && last.headers) {
      this.lastMsgId = getHeader(last.headers, HDR_MSG_ID) ?? '';
    }
    if (!this.dedupe.startRebuild(this.store, nowNs)) return;
    this.held = [];
    this.heldHead = 0;
    this.heldBytes = 0;
    const step = (): void => {
      if (this.closed) return;
      if (!this.dedupe.rebuilding || this.dedupe.rebuildSlice(this.store)) this.drainHeld();
      else setImmediate(step);
    };
    setImmediate(step);
  }

  /** Process the publishes held during the rebuild, a slice per turn, then stop holding. */
  private drainHeld(): void {
    const held = this.held;
    if (held === undefined || this.closed) return;
    const stop = Math.min(held.length, this.heldHead + HELD_DRAIN_SLICE);
    while (this.heldHead < stop) {
      const m = held[this.heldHead]!;
      held[this.heldHead++] = undefined as unknown as HeldPublish;
      this.ingest(m.subject, m.reply, m.headers, m.payload);
    }
    if (this.heldHead < held.length) {
      setImmediate(() => this.drainHeld());
      return;
    }
    this.held = undefined;
    this.heldHead = 0;
  }

  /** For tests: is the duplicate window still being rebuilt from the store? */
  get dedupeRebuilding(): boolean {
    return this.dedupe.rebuilding;
  }

  private onStorageUpdate(msgs: number, bytes: number, seq: number, subject: string): void {
    // After close() has handed the stream's whole usage back, late store callbacks
    // (a delete purging its data) must not subtract it a second time.
    if (!this.usageReleased) this.host.onUsage?.(this.cfg.storage, msgs, bytes);
    if (msgs < 0 && seq > 0) {
      const ls = this.listeners;
      for (let i = 0; i < ls.length; i++) ls[i]!.msgRemoved?.(seq, subject);
    }
  }

  // ---- operations used by the API -----------------------------------------------------

  /** Purge (whole, by filter, keep, up to seq). `internal` skips the deny_purge/sealed checks (rollups). */
  purge(req: StreamPurgeRequest, internal = false): number {
    if (!internal) {
      if (this.cfg.sealed) throw jsErr('StreamSealed');
      if (this.cfg.deny_purge) throw jsErrText('StreamPurgeFailed', 'stream purge not permitted');
    }
    const filter = req.filter ?? '';
    const seq = req.seq ?? 0;
    const keep = req.keep ?? 0;
    const purged = filter === '' && seq === 0 && keep === 0 ? this.store.purge() : this.store.purgeEx(filter, seq, keep);
    const st = this.store.fastState();
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) ls[i]!.purged?.(st.firstSeq, filter, keep, seq);
    return purged;
  }

  /** Resolves once the removals made so far (purge, delete) are durable under the sync policy. */
  removalsDurable(): Promise<void> {
    return this.store.ackWaitsForSync ? this.store.flush() : Promise.resolve();
  }

  /** Remove one message (API MSG.DELETE). */
  deleteMessage(seq: number, noErase: boolean): void {
    if (this.cfg.sealed) throw jsErr('StreamSealed');
    if (this.cfg.deny_delete) throw jsErrText('StreamMsgDeleteFailed', 'message delete not permitted');
    let removed: boolean;
    try {
      removed = noErase ? this.store.removeMsg(seq) : this.store.eraseMsg(seq);
    } catch (e) {
      throw unlessApiError('StreamMsgDeleteFailed', e);
    }
    if (!removed) {
      // nats-server's file store answers a sequence it has no block for with a store
      // error (10057) rather than 10043: EOF past the end, "no message found" otherwise.
      if (this.cfg.storage === 'file') {
        const st = this.store.fastState();
        if (seq > st.lastSeq) throw jsErrText('StreamMsgDeleteFailed', 'stream store EOF');
        if (seq === 0 || seq < st.firstSeq || st.msgs === 0) throw jsErrText('StreamMsgDeleteFailed', 'no message found');
      }
      throw jsErr('SequenceNotFound', { seq });
    }
  }

  /** Message by seq / last for subject / next for subject from seq, among the visible ones. */
  getMessage(seq: number, lastBySubject: string, nextBySubject: string): StoredMsg | undefined {
    const vis = this.visibility.seq;
    if (nextBySubject) {
      const m = this.store.loadNextMsg(nextBySubject, seq);
      return m !== undefined && m.seq <= vis ? m : undefined;
    }
    if (lastBySubject) {
      const m = this.store.loadLastMsg(lastBySubject);
      return m === undefined || m.seq <= vis ? m : this.store.loadPrevMsg(lastBySubject, vis);
    }
    return seq <= vis ? this.store.loadMsg(seq) : undefined;
  }

  /** StreamState JSON; subjects/deleted only when asked. */
  stateJson(opts: { deletedDetails?: boolean; subjectsFilter?: string; subjectsOffset?: number; subjectsLimit?: number } = {}):
    { state: StreamStateJson; totalSubjects: number } {
    const st = opts.deletedDetails ? this.store.state() : this.store.fastState();
    // A stream that never held a message reports first_seq 0 (nats-server), unless first_seq was configured.
    const neverUsed = st.lastSeq === 0 && st.msgs === 0 && !this.cfg.first_seq;
    const state: StreamStateJson = {
      messages: st.msgs,
      bytes: st.bytes,
      first_seq: neverUsed ? 0 : st.firstSeq,
      first_ts: goTimeFromNanos(st.firstTs),
      last_seq: st.lastSeq,
      last_ts: goTimeFromNanos(st.lastTs),
      consumer_count: this.assignedConsumerCount?.() ?? this.consumers.size,
    };
    let totalSubjects = 0;
    if (st.numSubjects) state.num_subjects = st.numSubjects;
    if (opts.subjectsFilter) {
      const filter = opts.subjectsFilter === '>' ? '' : opts.subjectsFilter;
      const totals = this.store.subjectsTotals(filter);
      totalSubjects = totals.size;
      if (totals.size > 0) {
        const keys = [...totals.keys()].sort();
        const off = opts.subjectsOffset ?? 0;
        const lim = opts.subjectsLimit ?? keys.length;
        const subjects: Record<string, number> = {};
        for (const k of keys.slice(off, off + lim)) subjects[k] = totals.get(k)!;
        if (Object.keys(subjects).length) state.subjects = subjects;
      }
    }
    if (st.numDeleted) state.num_deleted = st.numDeleted;
    if (opts.deletedDetails && st.deleted?.length) state.deleted = st.deleted;
    if (st.lost && st.lost.msgs.length) state.lost = { msgs: st.lost.msgs, bytes: st.lost.bytes };
    // consumer_count is last in nats-server's field order.
    const { consumer_count, ...rest } = state;
    return { state: { ...rest, consumer_count }, totalSubjects };
  }

  /** StreamInfo fields (without the response `type`), in nats-server's order. */
  info(opts: { deletedDetails?: boolean; subjectsFilter?: string; subjectsOffset?: number; subjectsLimit?: number } = {}):
    { info: Record<string, unknown>; totalSubjects: number } {
    const { state, totalSubjects } = this.stateJson(opts);
    const info: Record<string, unknown> = {
      config: encodeStreamConfig(this.cfg),
      created: goTimeFromNanos(this.createdNs),
      state,
    };
    if (this.host.domain) info.domain = this.host.domain;
    const cluster = this.clusterInfo?.();
    if (cluster) info.cluster = cluster;
    const mirror = this.mirrorInfo?.();
    if (mirror) info.mirror = mirror;
    const sources = this.sourcesInfo?.();
    if (sources?.length) info.sources = sources;
    info.ts = goTimeFromNanos(BigInt(Date.now()) * 1_000_000n);
    return { info, totalSubjects };
  }

  /** Apply an already validated new config. */
  update(cfg: StreamConfig): void {
    this.applyConfig(cfg);
    this.store.updateConfig(toStoreConfig(cfg));
    const ls = this.listeners;
    for (let i = 0; i < ls.length; i++) ls[i]!.configChanged?.(cfg);
  }

  /** Does this stream capture `subject` (its configured subjects)? */
  capturesSubject(subject: string): boolean {
    return (this.cfg.subjects ?? []).some((s) => subjectMatchesFilter(subject, s));
  }

  /** Do the stream's subjects overlap `filter` (for NAMES/LIST subject filters)? */
  subjectsOverlap(filter: string): boolean {
    return (this.cfg.subjects ?? []).some((s) => subjectsCollide(s, filter) || subjectIsSubsetMatch(s, filter));
  }

  /** Stop (server shutdown) or delete: consumers first, then the store. */
  async close(deleting: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Readers waiting for this stream's durability answer now.
    this.visibility.end();
    this.host.onVisible?.(this);
    const cs = [...this.consumers.values()];
    this.consumers.clear();
    for (const c of cs) {
      try {
        await c.stop(deleting);
      } catch (e) {
        this.host.warn(`stream ${this.name}: stopping consumer ${c.name}: ${String(e)}`);
      }
    }
    // The account's memory/storage usage counts live streams only (nats-server
    // subtracts a deleted stream's bytes): hand back what this stream holds now.
    const held = this.store.fastState();
    this.usageReleased = true;
    // Acks still waiting for a sync: let the store finish the write first.
    try {
      await this.store.flush();
    } catch { /* reported through onDurable */ }
    try {
      if (deleting) await this.store.delete();
      else await this.store.stop();
    } finally {
      this.host.onUsage?.(this.cfg.storage, -held.msgs, -held.bytes);
    }
  }
}

/** nats-server's Nats-Request-Info header (a request that came through a service import). */
const REQUEST_INFO_LINE = Buffer.from('\r\nNats-Request-Info:');

/** A request that crossed accounts carries its requester's details: 2.9.10 does not store them. */
function withoutRequestInfo(headers: Buffer | undefined): Buffer | undefined {
  if (headers === undefined || headers.indexOf(REQUEST_INFO_LINE) < 0) return headers;
  return removeHeader(headers, 'Nats-Request-Info');
}
