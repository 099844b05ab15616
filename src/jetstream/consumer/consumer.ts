// One JetStream consumer: delivery state (next stream/consumer sequences, ack
// floors, pending acks, redelivery counts), ack handling, ack-wait redelivery
// with backoff and max_deliver, pull requests or push delivery with flow
// control and idle heartbeats, replay/rate limiting, num_pending, persistence
// through the store's consumer-state store. Semantics follow nats-server's
// consumer.go; the shape is event-driven instead of goroutines: events (new
// message, pull request, ack, timer) update state and schedule one delivery
// run, which delivers as much as it may in a bounded batch.

import type { InternalMsgHandler } from '../../core/types.js';
import type { Stream, StreamConsumer, StreamListener } from '../stream.js';
import type { ConsumerState, ConsumerStore, PendingInfo, StoredMsg } from '../store/types.js';
import { isStoreError } from '../store/errors.js';
import { goTimeFromNanos } from '../api/json.js';
import { subjectIsSubsetMatch } from '../subjects.js';
import {
  cloneConsumerConfig, consumerConfigToJSON, gatherFilters, parseSampleFreq, EPHEMERAL_INACTIVE_DEFAULT_NS,
  type ConsumerConfig,
} from './config.js';
import { ackPrefix, ackSubscription, parseAckNumbers, BAD_NUM, type AckNumbers } from './ack-subject.js';
import {
  parsePullRequest, idleHeartbeat, headersOnly, badRequest, statusHeader, batchCompleted, STATUS_CONSUMER_DELETED,
  STATUS_CONSUMER_IS_PUSH, STATUS_EXCEEDED_MAX_WAITING, STATUS_FLOW_CONTROL, STATUS_NO_MESSAGES, STATUS_REQUESTS_PENDING,
} from './pull-request.js';
import { WaitQueue, WaitingRequest } from './wait-queue.js';
import { RedeliveryQueue } from './redelivery-queue.js';
import { FilterSet } from './filters.js';
import { reconcileWithStream, selectStartingSeq, type LastPerSubjectList } from './start-position.js';
import { FlowControl } from './flow-control.js';
import { formatGoDuration, nowNs, parseGoDuration } from './go-format.js';
import {
  ackMetric, ackMetricSubject, consumerActionAdvisory, createdSubject, deletedSubject, maxDeliverAdvisory,
  maxDeliveriesSubject, nakAdvisory, nakedSubject, randomToken, terminatedAdvisory, terminatedSubject,
} from './advisories.js';
import { ACK_ACK, ACK_NAK, ACK_NEXT, ACK_OK, ACK_PROGRESS, ACK_TERM, isBody, startsWith } from './ack-bodies.js';

/** What a consumer needs from the account it lives in. */
export interface ConsumerHost {
  /** Subscribe in the stream's account; the handler runs synchronously. Returns an id for unsubscribe. */
  subscribe(subject: string, handler: InternalMsgHandler): number;
  unsubscribe(id: number): void;
  /** Publish in the stream's account; returns the number of receivers. */
  publish(subject: string, reply: string, headers: Buffer | undefined, payload: Buffer | string): number;
  /**
   * Deliver a stream message: routed to `dsubj` (deliver subject or pull request inbox) but
   * presented to subscribers with the message's own `subject`, as nats-server does.
   */
  deliver(dsubj: string, subject: string, reply: string, headers: Buffer | undefined, payload: Buffer): number;
  /** Does anyone in the account listen on this subject? */
  hasInterest(subject: string): boolean;
  /**
   * Call `cb` when subscriptions that can match `subject` come or go (local or remote);
   * returns the unwatch function. Without it, push consumers poll for interest.
   */
  watchInterest?(subject: string, cb: () => void): () => void;
  readonly domain?: string;
  warn(msg: string): void;
}

/** Why a consumer stops. */
export const enum StopReason { Shutdown = 0, Deleted = 1 }

const NS_PER_MS = 1_000_000;
const EMPTY = Buffer.alloc(0);
/** Messages delivered per run before yielding to I/O. */
const RUN_BUDGET_MSGS = 1024;
const RUN_BUDGET_BYTES = 4 * 1024 * 1024;
/** nats-server JsFlowControlMaxPending */
const FC_MAX_PENDING_BYTES = 32 * 1024 * 1024;
/** delay added to ack-wait timers so bursts are handled in one pass (ackWaitDelay) */
const ACK_WAIT_DELAY_MS = 1;
const TERM_REASON_UNACKED_REMOVED = 'Unacknowledged message was deleted';

interface NextMsg {
  msg: StoredMsg;
  dc: number;
}

export interface ConsumerInfoOptions {
  /** Refresh push interest before reporting push_bound. */
  refreshInterest?: boolean;
}

export class Consumer implements StreamConsumer {
  readonly name: string;
  readonly stream: Stream;
  readonly streamName: string;
  readonly createdNs: bigint;
  cfg: ConsumerConfig;

  private readonly host: ConsumerHost;
  private store: ConsumerStore | undefined;
  private filters: FilterSet;

  // ---- delivery state (nats-server names in brackets) ----
  /** next stream sequence to look at [sseq] */
  private sseq = 1;
  /** highest stream sequence handed out for the first time (what info reports as delivered) */
  private deliveredSseq = 0;
  /** next consumer (delivery) sequence [dseq] */
  private dseq = 1;
  /** ack floor, consumer sequence [adflr] */
  private adflr = 0;
  /** ack floor, stream sequence [asflr] */
  private asflr = 0;
  /** unacknowledged deliveries by stream sequence [pending] */
  private pending = new Map<number, PendingInfo>();
  /** delivery counts of redelivered messages [rdc] */
  private rdc = new Map<number, number>();
  /** messages due for redelivery, in order [rdq, rdqi] */
  private readonly rdq = new RedeliveryQueue();
  /** cached number of messages left to deliver, valid for sequences <= npf [npc, npf] */
  private npc = 0;
  private npf = 0;
  /** deliver_policy last_per_subject start-up list [lss] */
  private lss: LastPerSubjectList | undefined;
  private maxAckPending: number;
  private maxDeliver: number;
  private sampleFreq = 0;

  // ---- pull ----
  private waiting: WaitQueue | undefined;

  // ---- push ----
  /** deliver subject has interest */
  active = true;
  private dsubj: string;
  /** flow control window, when flow_control is on */
  private fc: FlowControl | undefined;
  private rateBytesPerMs = 0;
  private rateTokens = 0;
  private rateLastMs = 0;

  // ---- replay original ----
  private replay = false;
  private replayUntilSeq = 0;
  private lastReplayTsNs = 0n;
  /** a delivery held back by replay timing or the rate limit */
  private held: {
    dsubj: string; ackReply: string; seq: number; subject: string; dc: number;
    hdrs: Buffer | undefined; data: Buffer; batchLeftBytes: number;
  } | undefined;

  // ---- activity ----
  /** last delivery / last ack, ms since epoch (0 = never) */
  private lastDeliveredMs = 0;
  private lastAckMs = 0;
  private lastActivityMs = Date.now();
  /** inactive threshold in ms (with jitter), 0 = never [dthresh] */
  private dthreshMs = 0;

  // ---- subscriptions and timers ----
  private readonly ackPre: string;
  private readonly nextSubject: string;
  private readonly fcPrefix: string;
  private subs: number[] = [];
  private ackTimer: NodeJS.Timeout | undefined;
  private ackTimerAtMs = 0;
  private waitTimer: NodeJS.Timeout | undefined;
  private waitTimerAtMs = 0;
  private hbTimer: NodeJS.Timeout | undefined;
  private deleteTimer: NodeJS.Timeout | undefined;
  private interestTimer: NodeJS.Timeout | undefined;
  /** stops the interest watch on the deliver subject (push consumers on a host that has one) */
  private unwatchInterest: (() => void) | undefined;
  private readonly onInterestChange = (): void => {
    if (this.closed) return;
    const has = this.host.hasInterest(this.dsubj);
    if (has !== this.active) this.updateDeliveryInterest(has);
  };
  private interestPollMs = 20;
  private holdTimer: NodeJS.Timeout | undefined;
  private runScheduled = false;
  private readonly runBound = (): void => this.run();
  /** scratch for parsing ack subjects */
  private readonly ackNums: AckNumbers = { dc: 0, sseq: 0, dseq: 0 };
  private unlisten: (() => void) | undefined;
  private closed = false;
  /** Called once the consumer removed itself (inactivity); the manager forgets it. */
  onSelfDelete: ((c: Consumer) => void) | undefined;

  constructor(
    stream: Stream, host: ConsumerHost, cfg: ConsumerConfig, name: string, createdNs: bigint,
    store: ConsumerStore | undefined,
  ) {
    this.stream = stream;
    this.streamName = stream.name;
    this.host = host;
    this.cfg = cfg;
    this.name = name;
    this.createdNs = createdNs;
    this.store = store;
    this.filters = new FilterSet(gatherFilters(cfg));
    this.maxAckPending = cfg.max_ack_pending;
    this.maxDeliver = Math.max(cfg.max_deliver, 0);
    this.sampleFreq = cfg.sample_freq ? (parseSampleFreq(cfg.sample_freq) ?? 0) : 0;
    this.dsubj = cfg.deliver_subject;
    this.ackPre = ackPrefix(stream.name, name);
    this.nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${stream.name}.${name}`;
    this.fcPrefix = `$JS.FC.${stream.name}.${name}.`;
    if (this.isPull) {
      this.waiting = new WaitQueue(cfg.max_waiting, {
        publish: (subject, hdr) => { this.host.publish(subject, '', hdr, EMPTY); },
        hasInterest: (subject) => this.host.hasInterest(subject),
        heartbeat: (reply) => this.sendIdleHeartbeat(reply),
      });
    }
    this.updateInactiveThreshold();
    if (cfg.rate_limit_bps > 0) this.setRateLimit(cfg.rate_limit_bps);
  }

  get isPull(): boolean {
    return this.cfg.deliver_subject === '';
  }

  get isPush(): boolean {
    return this.cfg.deliver_subject !== '';
  }

  get isDurable(): boolean {
    return this.cfg.durable_name !== '';
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isDirect(): boolean {
    return this.cfg.direct;
  }

  /** Stream sequence of the ack floor. */
  get ackFloorStreamSeq(): number {
    return this.asflr;
  }

  // ==== start-up ========================================================================

  /**
   * Bring the consumer to life: restore or select the starting position, subscribe,
   * start timers. `restored` is the persisted state when recovering; with `resume` it is
   * applied even when all zeros (a restart point chosen after the state was lost).
   */
  start(restored?: ConsumerState, resume = false): void {
    if (restored !== undefined && (resume || restored.delivered.streamSeq > 0 || restored.ackFloor.streamSeq > 0 || restored.pending.size > 0)) {
      this.applyState(restored);
    } else if (this.store !== undefined && this.store.hasState()) {
      this.applyState(this.store.state());
    } else {
      this.selectStartingSeq();
    }
    this.checkRedelivered();
    this.streamNumPending();

    if (this.cfg.ack_policy !== 'none') {
      this.subs.push(this.host.subscribe(ackSubscription(this.streamName, this.name), (s, r, h, p) => this.processAck(s, r, h, p)));
    }
    const onNext = (_s: string, r: string, _h: Buffer | undefined, p: Buffer): void => this.processNextMsgRequest(r, p);
    this.subs.push(this.host.subscribe(this.nextSubject, onNext));
    // Clients bound to a JetStream domain pull on $JS.<domain>.API...
    if (this.host.domain) {
      this.subs.push(this.host.subscribe(`$JS.${this.host.domain}.API.CONSUMER.MSG.NEXT.${this.streamName}.${this.name}`, onNext));
    }
    if (this.cfg.flow_control) {
      this.fc = new FlowControl(FC_MAX_PENDING_BYTES);
      this.subs.push(this.host.subscribe(this.fcPrefix + '*', (s) => this.processFlowControl(s)));
    }
    this.unlisten = this.stream.addListener(this.listener);

    if (this.isPush) {
      this.watchDeliverSubject();
      this.active = this.host.hasInterest(this.dsubj);
      this.startInterestPoll();
      if (this.cfg.idle_heartbeat > 0) this.scheduleHeartbeat(this.cfg.idle_heartbeat / NS_PER_MS);
    }
    if (this.dthreshMs > 0 && (this.isPull || !this.active)) this.resetDeleteTimer(this.dthreshMs);
    if (this.cfg.replay_policy !== 'instant') {
      this.replay = true;
      this.replayUntilSeq = this.stream.store.fastState().lastSeq;
    }
    if (this.pending.size > 0) {
      // Restored pending: check soon rather than a full ack wait after start.
      this.resetAckTimer(Math.min(500 + Math.floor(Math.random() * 1000), this.ackWaitMs(0)));
    }
    this.kick();
  }

  private readonly listener: StreamListener = {
    msgStored: (seq, subject) => this.onStreamMsg(seq, subject),
    msgRemoved: (seq, subject) => this.onStreamRemoved(seq, subject),
    purged: (firstSeq, filter) => this.onStreamPurged(firstSeq, filter),
  };

  private applyState(st: ConsumerState): void {
    this.sseq = st.delivered.streamSeq + 1;
    this.deliveredSseq = st.delivered.streamSeq;
    this.dseq = st.delivered.consumerSeq + 1;
    this.adflr = st.ackFloor.consumerSeq;
    this.asflr = st.ackFloor.streamSeq;
    this.pending = new Map(st.pending);
    this.rdc = new Map(st.redelivered);
    // A stream that lost data (restart after a crash) may be behind what we delivered.
    const last = this.stream.store.fastState().lastSeq;
    if (this.sseq - 1 > last) this.reconcileWithStream(last);
  }

  /** The stream went backwards (data lost in a crash): pull our state back and persist it. */
  private reconcileWithStream(last: number): void {
    const d = { sseq: this.sseq, dseq: this.dseq, adflr: this.adflr, asflr: this.asflr, pending: this.pending, rdc: this.rdc };
    reconcileWithStream(d, last);
    this.sseq = d.sseq;
    this.dseq = d.dseq;
    this.adflr = d.adflr;
    this.asflr = d.asflr;
    this.deliveredSseq = Math.min(this.deliveredSseq, this.sseq - 1);
    this.writeState();
  }

  /** A new consumer: pick the start and record it as the persisted starting point. */
  private selectStartingSeq(): void {
    const start = selectStartingSeq(this.stream.store, this.cfg, this.filters.filters, this.stream.config.max_msgs_per_subject);
    this.sseq = start.sseq;
    this.lss = start.lss;
    this.deliveredSseq = this.sseq - 1;
    this.dseq = 1;
    this.adflr = 0;
    this.asflr = this.sseq - 1;
    if (this.store !== undefined) {
      try {
        this.store.setStarting(this.sseq - 1);
      } catch (e) {
        this.storeError('set starting sequence', e);
      }
    }
  }

  private updateInactiveThreshold(): void {
    const jitter = (): number => 100 + Math.floor(Math.random() * 900);
    const cfg = this.cfg;
    if (!this.isDurable && cfg.inactive_threshold <= 0) {
      this.dthreshMs = EPHEMERAL_INACTIVE_DEFAULT_NS / NS_PER_MS + jitter();
      cfg.inactive_threshold = EPHEMERAL_INACTIVE_DEFAULT_NS;
    } else if (cfg.inactive_threshold > 0) {
      const ms = Math.max(1, Math.round(cfg.inactive_threshold / NS_PER_MS));
      this.dthreshMs = this.isPull ? ms + jitter() : ms;
    } else {
      this.dthreshMs = 0;
    }
  }

  private setRateLimit(bps: number): void {
    // nats-server: bytes per second = bits/8, burst = max(1MiB-ish, payload) -> we use a 1s bucket.
    this.rateBytesPerMs = bps / 8 / 1000;
    this.rateTokens = Math.max(bps / 8, 64 * 1024);
    this.rateLastMs = Date.now();
  }

  // ==== stream events ===================================================================

  private onStreamMsg(seq: number, subject: string): void {
    if (this.closed || !this.filters.matches(subject)) return;
    if (seq > this.npf) this.npc++;
    if (seq < this.sseq) return;
    if (this.isPush && !this.active) {
      // A client that subscribed after creating the consumer: its SUB was processed before
      // this publish, so look now (cheap; covers hosts without interest notifications).
      if (this.host.hasInterest(this.dsubj)) this.updateDeliveryInterest(true);
      return;
    }
    if (this.isPush ? this.active : !this.waiting!.isEmpty) this.kick();
  }

  private onStreamRemoved(seq: number, subject: string): void {
    if (this.closed) return;
    if (seq >= this.sseq && this.filters.matches(subject)) this.npc--;
    const p = this.pending.get(seq);
    if (p !== undefined) {
      // An unacked delivery vanished from the stream (limits): treat as terminated.
      const dc = this.deliveryCount(seq);
      queueMicrotask(() => {
        if (!this.closed) this.processTerm(seq, p.seq, dc, TERM_REASON_UNACKED_REMOVED);
      });
    } else if (this.rdc.delete(seq)) {
      this.storeUpdateAcks(0, seq);
    }
  }

  /** nats-server purgeLocked's per-consumer part, then the bulk-removal recount. */
  private onStreamPurged(firstSeq: number, filter: string): void {
    if (this.closed) return;
    const store = this.stream.store;
    const st = store.fastState();
    let start = firstSeq;
    if (filter !== '') start = store.filteredState(firstSeq, filter).first;
    let doPurge = filter === '' || this.isEqualOrSubsetMatch(filter);
    let isWider = false;
    if (!doPurge && this.filterMatchesSubject(filter)) {
      doPurge = true;
      isWider = true;
      start = st.firstSeq;
    }
    if (doPurge) this.purge(start, st.lastSeq, isWider);
    this.streamNumPending();
    this.removeRedeliveredBelow(st.firstSeq);
    this.kick();
  }

  /** Is one of our filters equal to, or a subset of, `subject`? (nats-server isEqualOrSubsetMatch) */
  private isEqualOrSubsetMatch(subject: string): boolean {
    return this.filters.filters.some((f) => f === subject || subjectIsSubsetMatch(f, subject));
  }

  /** Is `subject` (possibly wildcarded) within our filters? No filters: everything. (nats-server isFilteredMatch) */
  private filterMatchesSubject(subject: string): boolean {
    const f = this.filters.filters;
    if (f.length === 0) return true;
    return f.some((x) => x === subject || subjectIsSubsetMatch(subject, x));
  }

  private removeRedeliveredBelow(seq: number): void {
    for (const s of [...this.rdc.keys()]) {
      if (s < seq) {
        this.rdc.delete(s);
        this.rdq.remove(s);
      }
    }
  }

  /** nats-server consumer.purge: the stream's messages below `sseq` are gone for us. */
  private purge(sseq: number, streamLastSeq: number, isWider: boolean): void {
    if (sseq === 0 && !isWider) sseq = streamLastSeq + 1;
    if (this.sseq < sseq) this.sseq = sseq;
    if (this.deliveredSseq < this.sseq - 1) this.deliveredSseq = this.sseq - 1;
    if (this.asflr < sseq) {
      this.asflr = sseq - 1;
      for (const [seq, p] of [...this.pending]) {
        const gone = seq <= this.asflr || (isWider && this.stream.store.loadMsg(seq) === undefined);
        if (!gone) continue;
        if (p.seq > this.adflr) {
          this.adflr = p.seq;
          if (this.adflr > this.dseq) this.dseq = this.adflr;
        }
        this.pending.delete(seq);
        this.rdc.delete(seq);
        this.storeUpdateAcks(p.seq, seq);
      }
    }
    if (this.pending.size === 0) {
      this.rdc.clear();
      this.adflr = this.dseq - 1;
      this.asflr = this.sseq - 1;
    }
    if (this.rdq.size > 0) {
      const keep = this.rdq.toArray().filter((s) => s >= this.sseq);
      this.rdq.clear();
      for (const s of keep) this.rdq.add(s);
    }
    this.writeState();
  }

  // ==== StreamConsumer ==================================================================

  isInterested(subject: string): boolean {
    return this.filters.matches(subject);
  }

  /** nats-server needAck: does this consumer still hold interest in seq (interest retention)? */
  needsAck(seq: number, subject: string): boolean {
    if (this.closed) return false;
    if (subject !== '' && !this.filters.matches(subject)) return false;
    let need = false;
    switch (this.cfg.ack_policy) {
      case 'none':
      case 'all':
        need = seq > this.asflr;
        break;
      case 'explicit':
        if (seq > this.asflr) need = seq >= this.sseq ? true : this.pending.has(seq);
        break;
    }
    // A message that hit max deliveries is kept while tracked as redelivered.
    if (!need) need = this.rdc.has(seq);
    return need;
  }

  async stop(deleting: boolean): Promise<void> {
    await this.shutdown(deleting ? StopReason.Deleted : StopReason.Shutdown, deleting);
  }

  // ==== scheduling ======================================================================

  /** Schedule a delivery run after the current call stack (never deliver re-entrantly). */
  kick(): void {
    if (this.runScheduled || this.closed) return;
    this.runScheduled = true;
    queueMicrotask(this.runBound);
  }

  private run(): void {
    this.runScheduled = false;
    if (this.closed || this.held !== undefined) return;
    let sent = 0;
    let bytes = 0;
    let maxAckPendingHit = false;
    const now = Date.now();
    while (sent < RUN_BUDGET_MSGS && bytes < RUN_BUDGET_BYTES) {
      if (this.isPush) {
        if (!this.active || (this.fc !== undefined && this.fc.stalled)) break;
      } else if (this.waiting!.isEmpty) {
        break;
      }
      const next = this.getNextMsg();
      if (next === undefined) break;
      if (next === null) {
        maxAckPendingHit = true;
        break;
      }
      const n = this.deliverOne(next.msg, next.dc, now);
      if (n < 0) break;
      sent++;
      bytes += n;
    }
    // Held back for replay timing or the rate limit: the hold timer resumes us.
    if (this.closed || this.held !== undefined) return;
    if (sent >= RUN_BUDGET_MSGS || bytes >= RUN_BUDGET_BYTES) {
      // More may be deliverable: continue after pending I/O.
      this.runScheduled = true;
      setImmediate(this.runBound);
      return;
    }
    if (this.replay && this.sseq > this.replayUntilSeq) this.replay = false;
    if (this.isPull) {
      // Do not end no_wait requests when we only stopped at max_ack_pending.
      const fexp = this.waiting!.processWaiting(!maxAckPendingHit, Date.now());
      if (fexp > 0) this.scheduleWaitTimer(fexp);
    }
  }

  /**
   * Deliver one message that getNextMsg produced. Returns bytes sent, or -1 when it could not
   * be delivered now (no pull request wants it) or is held back for replay timing / rate limit.
   */
  private deliverOne(msg: StoredMsg, dc: number, nowMs: number): number {
    if (dc === 1) this.npc--;
    const pendingAfter = this.npc < 0 ? 0 : this.npc;
    const ackReply = this.ackPre + dc + '.' + msg.seq + '.' + this.dseq + '.' + msg.ts + '.' + pendingAfter;
    let hdrs = msg.headers;
    let data = msg.data;
    if (this.cfg.headers_only) {
      hdrs = headersOnly(hdrs, data.length);
      data = EMPTY;
    }
    const sz = msg.subject.length + ackReply.length + (hdrs ? hdrs.length : 0) + data.length;

    let dsubj: string;
    let wr: WaitingRequest | null = null;
    if (this.isPush) {
      dsubj = this.dsubj;
    } else {
      wr = this.waiting!.nextWaiting(sz, nowMs);
      if (wr === null) {
        this.undoGet(msg.seq, dc);
        return -1;
      }
      dsubj = wr.reply;
      if (wr.n > 0 && wr.hbMs > 0) wr.hbtMs = nowMs + wr.hbMs;
    }

    // Replay original timing and rate limiting may hold the message back (it then goes
    // to the same destination when due; nothing else is delivered meanwhile).
    let delayMs = 0;
    if (this.replay && this.lastReplayTsNs > 0n) {
      const d = Number(msg.ts - this.lastReplayTsNs) / NS_PER_MS;
      if (d > 1) delayMs = d;
    }
    this.lastReplayTsNs = msg.ts;
    if (this.rateBytesPerMs > 0) {
      const cap = Math.max(this.rateBytesPerMs * 1000, sz);
      this.rateTokens = Math.min(this.rateTokens + (nowMs - this.rateLastMs) * this.rateBytesPerMs, cap);
      this.rateLastMs = nowMs;
      this.rateTokens -= sz;
      if (this.rateTokens < 0) delayMs = Math.max(delayMs, -this.rateTokens / this.rateBytesPerMs);
    }
    if (delayMs > 0) {
      this.held = {
        dsubj, ackReply, seq: msg.seq, subject: msg.subject, dc,
        hdrs: hdrs ? Buffer.from(hdrs) : undefined,
        data: data.length > 0 ? Buffer.from(data) : EMPTY,
        batchLeftBytes: wr !== null && wr.n <= 0 ? wr.b : 0,
      };
      this.holdTimer = setTimeout(() => this.releaseHeld(), Math.ceil(delayMs));
      return -1;
    }
    this.deliverMsg(dsubj, msg.subject, ackReply, msg.seq, hdrs, data, dc, nowMs);
    if (wr !== null && wr.n <= 0 && wr.b > 0) {
      // Batch done but byte budget left (newest nats-server tells the client).
      this.host.publish(dsubj, '', batchCompleted(0, wr.b), EMPTY);
    }
    return sz;
  }

  /** The replay/rate-limit delay of the held message is over: deliver it and carry on. */
  private releaseHeld(): void {
    this.holdTimer = undefined;
    const h = this.held;
    this.held = undefined;
    if (h === undefined || this.closed) return;
    this.deliverMsg(h.dsubj, h.subject, h.ackReply, h.seq, h.hdrs, h.data, h.dc, Date.now());
    if (h.batchLeftBytes > 0) this.host.publish(h.dsubj, '', batchCompleted(0, h.batchLeftBytes), EMPTY);
    this.kick();
  }

  /** Undo getNextMsg for a message no pull request can take now (nats-server loopAndGatherMsgs). */
  private undoGet(seq: number, dc: number): void {
    if (dc === 1 && seq === this.sseq - 1) {
      this.sseq--;
      this.npc++;
    } else if (!this.rdq.has(seq)) {
      this.decDeliveryCount(seq);
      this.rdq.addFront(seq);
    }
  }

  // ==== picking the next message ========================================================

  /**
   * nats-server getNextMsg: redeliveries first, then the skip list (last per subject), then
   * the next matching message. undefined = nothing now, null = max ack pending reached.
   */
  private getNextMsg(): NextMsg | undefined | null {
    const store = this.stream.store;
    while (this.rdq.size > 0) {
      const seq = this.rdq.pop();
      const dc = this.incDeliveryCount(seq);
      if (this.maxDeliver > 0 && dc > this.maxDeliver) {
        if (dc === this.maxDeliver + 1) this.notifyDeliveryExceeded(seq, dc - 1);
        const p = this.pending.get(seq);
        if (p !== undefined) {
          this.pending.delete(seq);
          this.storeUpdateDelivered(p.seq, seq, dc, p.tsMs);
          this.moveAckFloor(p.seq, seq);
        }
        continue;
      }
      const msg = store.loadMsg(seq);
      if (msg === undefined) {
        // Removed meanwhile (limits): settle it like a terminate.
        this.decDeliveryCount(seq);
        const p = this.pending.get(seq);
        if (p !== undefined) this.processTerm(seq, p.seq, dc - 1, TERM_REASON_UNACKED_REMOVED);
        continue;
      }
      return { msg, dc };
    }
    if (this.maxAckPending > 0 && this.pending.size >= this.maxAckPending) return null;

    const lss = this.lss;
    if (lss !== undefined && lss.idx < lss.seqs.length) {
      const seq = lss.seqs[lss.idx++]!;
      if (lss.idx >= lss.seqs.length) {
        this.sseq = lss.resume;
        this.lss = undefined;
      } else {
        this.sseq = seq;
      }
      const msg = store.loadMsg(seq);
      this.sseq++;
      if (msg === undefined) return this.getNextMsg();
      return { msg, dc: 1 };
    }

    const f = this.filters.filters;
    const msg = f.length === 0 ? store.loadNextMsg('', this.sseq)
      : f.length === 1 ? store.loadNextMsg(f[0]!, this.sseq)
        : store.loadNextMsgMulti(f as string[], this.sseq);
    if (msg === undefined) {
      // End of stream: skip ahead past non-matching messages.
      const last = store.fastState().lastSeq;
      if (last >= this.sseq) this.sseq = last + 1;
      if (this.sseq > last && this.npc !== 0) {
        this.npc = 0;
        this.npf = last;
      }
      return undefined;
    }
    if (msg.seq >= this.sseq) this.sseq = msg.seq + 1;
    return { msg, dc: 1 };
  }

  private deliveryCount(seq: number): number {
    const dc = this.rdc.get(seq);
    return dc !== undefined && dc >= 1 ? dc : 1;
  }

  private incDeliveryCount(seq: number): number {
    const n = (this.rdc.get(seq) ?? 0) + 1;
    this.rdc.set(seq, n);
    return n + 1;
  }

  /** Give back a delivery count that was taken for a delivery that did not happen. */
  private decDeliveryCount(seq: number): void {
    const n = (this.rdc.get(seq) ?? 0) - 1;
    if (n <= 0) this.rdc.delete(seq);
    else this.rdc.set(seq, n);
  }

  // ==== delivery ========================================================================

  private deliverMsg(
    dsubj: string, subject: string, ackReply: string, seq: number, hdrs: Buffer | undefined, data: Buffer,
    dc: number, nowMs: number,
  ): void {
    const dseq = this.dseq++;
    if (dc === 1 && seq > this.deliveredSseq) this.deliveredSseq = seq;
    this.storeUpdateDelivered(dseq, seq, dc, nowMs);
    if (this.cfg.ack_policy === 'none') {
      this.adflr = dseq;
      this.asflr = seq;
    } else {
      this.trackPending(seq, dseq, nowMs);
    }
    this.lastDeliveredMs = nowMs;
    const receivers = this.host.deliver(dsubj, subject, ackReply, hdrs, data);
    if (receivers === 0) this.didNotDeliver(seq, dsubj);
    // Flow control counts what the client receives: deliver subject, reply, headers, payload.
    if (this.fc !== undefined && this.fc.delivered(dsubj.length + ackReply.length + (hdrs ? hdrs.length : 0) + data.length)) {
      this.sendFlowControl();
    }
    this.lastActivityMs = nowMs;
    if (this.isPull && this.dthreshMs > 0) this.waiting!.lastMs = nowMs;
    // Interest/workqueue retention with no acks: the delivery is the ack.
    if (this.cfg.ack_policy === 'none' && this.stream.config.retention !== 'limits') {
      this.storeUpdateAcks(dseq, seq);
      this.stream.ackMsg(this, seq);
    }
  }

  private trackPending(sseq: number, dseq: number, nowMs: number): void {
    const p = this.pending.get(sseq);
    if (p !== undefined) p.tsMs = nowMs;
    else this.pending.set(sseq, { seq: dseq, tsMs: nowMs });
    let minDelay = this.ackWaitMs(0);
    const bo = this.cfg.backoff;
    if (bo !== null && bo.length > 0) {
      const bi = Math.min(Math.max(this.rdc.get(sseq) ?? 0, 0), bo.length - 1);
      minDelay = this.ackWaitMs(bo[bi]!);
    }
    const deadline = nowMs + minDelay;
    if (this.ackTimer === undefined || this.ackTimerAtMs > deadline) this.resetAckTimer(minDelay);
  }

  private ackWaitMs(nextNs: number): number {
    return (nextNs > 0 ? nextNs : this.cfg.ack_wait) / NS_PER_MS + ACK_WAIT_DELAY_MS;
  }

  /** The message got no receiver: the push subscriber or the pull requester went away. */
  private didNotDeliver(seq: number, dsubj: string): void {
    this.decDeliveryCount(seq);
    if (this.isPush) {
      this.active = false;
      this.updateDeliveryInterest(this.host.hasInterest(this.dsubj));
    } else {
      this.waiting!.processWaiting(false, Date.now());
      this.waiting!.credit(dsubj);
      if (this.pending.has(seq)) {
        this.rdq.add(seq);
        if (!this.waiting!.isEmpty) this.kick();
      }
    }
  }

  // ---- flow control (push) ----

  private sendFlowControl(): void {
    if (!this.isPush) return;
    const reply = this.fcPrefix + randomToken();
    this.fc!.requested(reply);
    this.host.publish(this.dsubj, reply, STATUS_FLOW_CONTROL, EMPTY);
  }

  private processFlowControl(subject: string): void {
    if (this.closed || this.fc === undefined) return;
    if (this.fc.answered(subject)) this.kick();
  }

  // ---- idle heartbeats (push) ----

  private scheduleHeartbeat(inMs: number): void {
    if (this.closed) return;
    this.hbTimer = setTimeout(() => this.heartbeatTick(), Math.max(1, inMs));
  }

  private heartbeatTick(): void {
    this.hbTimer = undefined;
    if (this.closed) return;
    const hbMs = this.cfg.idle_heartbeat / NS_PER_MS;
    const now = Date.now();
    const idleFor = now - this.lastActivityMs;
    if (idleFor >= hbMs - 1) {
      if (this.active) this.sendIdleHeartbeat(this.dsubj);
      this.lastActivityMs = now;
      this.scheduleHeartbeat(hbMs);
    } else {
      this.scheduleHeartbeat(hbMs - idleFor);
    }
  }

  private sendIdleHeartbeat(subject: string): void {
    this.host.publish(subject, '', idleHeartbeat(this.dseq - 1, this.sseq - 1, this.fc?.outstanding || undefined), EMPTY);
  }

  // ---- push interest ----

  /**
   * Fallback for hosts without watchInterest: poll the deliver subject's interest. While
   * nobody listens, poll quickly so delivery starts soon after a subscribe; while bound and
   * an inactive threshold applies, check every second so a vanished subscriber is noticed
   * (that starts the delete timer).
   */
  private startInterestPoll(): void {
    if (this.interestTimer !== undefined || this.closed || !this.isPush) return;
    // The core tells us of every subscription change on the deliver subject: no polling.
    if (this.unwatchInterest !== undefined) return;
    if (this.active && this.dthreshMs <= 0) return;
    const delay = this.active ? Math.min(1000, Math.max(50, this.dthreshMs / 2)) : this.interestPollMs;
    this.interestTimer = setTimeout(() => {
      this.interestTimer = undefined;
      if (this.closed) return;
      const has = this.host.hasInterest(this.dsubj);
      if (has !== this.active) {
        this.interestPollMs = 20;
        this.updateDeliveryInterest(has);
      } else if (!has) {
        this.interestPollMs = Math.min(this.interestPollMs * 2, 250);
      }
      this.startInterestPoll();
    }, delay);
    this.interestTimer.unref?.();
  }

  /** (Re)watch the deliver subject's interest when the host offers notifications. */
  private watchDeliverSubject(): void {
    this.unwatchInterest?.();
    this.unwatchInterest = this.host.watchInterest?.(this.dsubj, this.onInterestChange);
  }

  private updateDeliveryInterest(interest: boolean): void {
    if (this.closed || this.isPull) return;
    if (interest && !this.active) this.kick();
    this.active = interest;
    this.startInterestPoll();
    if (this.deleteTimer !== undefined && this.dthreshMs > 0 && !interest) return;
    this.clearDeleteTimer();
    if (!interest && this.dthreshMs > 0) this.resetDeleteTimer(this.dthreshMs);
  }

  // ==== acks ============================================================================

  /** A message on the ack subject $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>. */
  processAck(subject: string, reply: string, _hdr: Buffer | undefined, payload: Buffer): void {
    if (this.closed) return;
    const a = this.ackNums;
    if (!parseAckNumbers(subject, a)) {
      a.dc = 0;
      a.sseq = 0;
      a.dseq = 0;
    }
    const { sseq, dseq, dc } = a;
    let skipAckReply = sseq === 0;
    const len = payload.length;
    const c0 = len > 0 ? payload[0] : 0;
    if (len === 0 || isBody(payload, ACK_ACK) || isBody(payload, ACK_OK)) {
      if (!this.processAckMsg(sseq, dseq, dc, true)) skipAckReply = true;
    } else if (c0 === 0x2b /* + */ && startsWith(payload, ACK_NEXT)) {
      this.processAckMsg(sseq, dseq, dc, true);
      this.processNextMsgRequest(reply, payload.subarray(4));
      skipAckReply = true;
    } else if (c0 === 0x2d /* - */ && startsWith(payload, ACK_NAK)) {
      this.processNak(sseq, dseq, dc, payload);
    } else if (isBody(payload, ACK_PROGRESS)) {
      this.progressUpdate(sseq);
    } else if (c0 === 0x2b && startsWith(payload, ACK_TERM)) {
      const reason = payload.subarray(5).toString('utf8').trim();
      if (!this.processTerm(sseq, dseq, dc, reason)) skipAckReply = true;
    }
    if (reply !== '' && !skipAckReply) this.replyOnceStored(reply);
  }

  /**
   * An ack confirmation (ack sync / double ack) promises the ack is kept: send it only once the
   * consumer state that records it is on disk (the file store's flush), so a crash right after
   * the confirmation cannot lose the ack. Stores without a flush (memory) answer at once.
   */
  private replyOnceStored(reply: string): void {
    const flush = (this.store as { flush?: () => Promise<void> } | undefined)?.flush;
    if (flush === undefined) {
      this.host.publish(reply, '', undefined, EMPTY);
      return;
    }
    flush.call(this.store).then(
      () => { this.host.publish(reply, '', undefined, EMPTY); },
      // No confirmation: the client's ack times out and it retries, rather than believing a lost ack.
      (e: unknown) => this.storeError('write state before ack reply', e),
    );
  }

  /**
   * nats-server processAckMsg. Returns whether the ack was handled so that an ack-sync
   * reply is due: false for acks beyond what we delivered and for ack policy none on a
   * limits stream (nats-server answers neither).
   */
  private processAckMsg(sseq: number, dseq: number, dc: number, doSample: boolean): boolean {
    if (this.closed) return false;
    if (sseq >= this.sseq) {
      // Beyond what we delivered: ignore (never move our pointer on a foreign ack).
      if (sseq !== BAD_NUM && sseq > this.stream.store.fastState().lastSeq) {
        this.host.warn(`JetStream consumer '${this.streamName} > ${this.name}' ACK sequence ${sseq} past last stream sequence`);
      }
      return false;
    }
    const retention = this.stream.config.retention;
    let needSignal = false;
    let ackAll: number[] | undefined;
    switch (this.cfg.ack_policy) {
      case 'explicit': {
        const p = this.pending.get(sseq);
        if (p !== undefined) {
          if (doSample && this.sampleFreq > 0) this.sampleAck(sseq, dseq, dc, p);
          if (this.maxAckPending > 0 && this.pending.size >= this.maxAckPending) needSignal = true;
          this.pending.delete(sseq);
          dseq = p.seq;
          this.moveAckFloor(dseq, sseq);
        }
        this.rdc.delete(sseq);
        this.rdq.remove(sseq);
        break;
      }
      case 'all': {
        if (dseq <= this.adflr || sseq <= this.asflr) return true;
        if (this.maxAckPending > 0 && this.pending.size >= this.maxAckPending) needSignal = true;
        this.adflr = dseq;
        this.asflr = sseq;
        if (retention !== 'limits') ackAll = [];
        for (const seq of [...this.pending.keys()]) {
          if (seq <= sseq) {
            if (ackAll !== undefined && seq !== sseq) ackAll.push(seq);
            this.pending.delete(seq);
            this.rdc.delete(seq);
            this.rdq.remove(seq);
          }
        }
        for (const seq of [...this.rdc.keys()]) if (seq <= sseq) this.rdc.delete(seq);
        break;
      }
      case 'none':
        return retention !== 'limits';
    }
    this.storeUpdateAcks(dseq, sseq);
    this.lastAckMs = Date.now();
    if (retention !== 'limits') {
      this.stream.ackMsg(this, sseq);
      if (ackAll !== undefined) for (const s of ackAll) this.stream.ackMsg(this, s);
    }
    if (needSignal) this.kick();
    return true;
  }

  /** nats-server moveAckFloor: advance the floor past contiguous acks. */
  private moveAckFloor(dseq: number, sseq: number): void {
    if (this.pending.size === 0) {
      this.adflr = this.dseq - 1;
      this.asflr = this.sseq - 1;
    } else if (dseq === this.adflr + 1) {
      this.adflr = dseq;
      this.asflr = sseq;
      // The next floor is just below the lowest outstanding delivery.
      for (let ss = sseq + 1; ss < this.sseq; ss++) {
        const p = this.pending.get(ss);
        if (p !== undefined) {
          if (p.seq > 0) {
            this.adflr = p.seq - 1;
            this.asflr = ss - 1;
          }
          break;
        }
      }
    }
  }

  private processNak(sseq: number, dseq: number, dc: number, payload: Buffer): void {
    if (dseq <= this.adflr || dseq > this.dseq) return;
    const p = this.pending.get(sseq);
    if (p === undefined) return;
    this.advise(nakedSubject(this.streamName, this.name),
      () => nakAdvisory(this.streamName, this.name, dseq, sseq, dc, this.host.domain));
    if (payload.length > 4) {
      const arg = payload.subarray(4).toString('utf8').trim();
      if (arg.length > 0) {
        let delayNs: number | undefined;
        if (arg[0] === '{') {
          try {
            const o = JSON.parse(arg) as { delay?: unknown };
            if (o !== null && typeof o === 'object') {
              const d = (o as { delay?: unknown }).delay;
              if (d === undefined || d === null) delayNs = 0;
              else if (typeof d === 'number' && Number.isInteger(d)) delayNs = d;
            }
          } catch { /* bad JSON: a plain NAK */ }
        } else {
          const d = parseGoDuration(arg);
          if (d !== undefined) delayNs = Number(d);
        }
        if (delayNs === undefined) {
          this.host.warn(`JetStream consumer '${this.streamName} > ${this.name}' bad NAK delay value: ${JSON.stringify(arg)}`);
        } else {
          // Redeliver after the delay: pretend the delivery happened so that ack wait ends then.
          this.rdq.remove(sseq);
          p.tsMs = Date.now() - this.cfg.ack_wait / NS_PER_MS + delayNs / NS_PER_MS;
          this.storeUpdateDelivered(p.seq, sseq, dc, p.tsMs);
          if (this.ackTimer !== undefined) this.resetAckTimer(10);
          else this.resetAckTimer(Math.max(10, delayNs / NS_PER_MS));
          return;
        }
      }
    }
    this.rdq.add(sseq);
    this.kick();
  }

  /** +TERM: like an ack (no more redeliveries) plus the MSG_TERMINATED advisory. */
  private processTerm(sseq: number, dseq: number, dc: number, reason: string): boolean {
    const handled = this.processAckMsg(sseq, dseq, dc, false);
    this.advise(terminatedSubject(this.streamName, this.name),
      () => terminatedAdvisory(this.streamName, this.name, dseq, sseq, dc, reason, this.host.domain));
    return handled;
  }

  private progressUpdate(sseq: number): void {
    const p = this.pending.get(sseq);
    if (p === undefined) return;
    p.tsMs = Date.now();
    this.storeUpdateDelivered(p.seq, sseq, 1, p.tsMs);
  }

  private sampleAck(sseq: number, dseq: number, dc: number, p: PendingInfo): void {
    if (this.sampleFreq < 100 && Math.floor(Math.random() * 100) > this.sampleFreq) return;
    const ackTimeNs = Math.max(0, (Date.now() - p.tsMs) * NS_PER_MS);
    this.advise(ackMetricSubject(this.streamName, this.name),
      () => ackMetric(this.streamName, this.name, dseq, sseq, ackTimeNs, dc, this.host.domain));
  }

  private notifyDeliveryExceeded(sseq: number, dc: number): void {
    this.advise(maxDeliveriesSubject(this.streamName, this.name),
      () => maxDeliverAdvisory(this.streamName, this.name, sseq, dc, this.host.domain));
  }

  /** Publish an advisory only when someone listens (JSON is built lazily). */
  private advise(subject: string, body: () => string): void {
    if (!this.host.hasInterest(subject)) return;
    this.host.publish(subject, '', undefined, body());
  }

  // ==== ack wait / redelivery ===========================================================

  private resetAckTimer(delayMs: number): void {
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    const d = Math.max(1, Math.ceil(delayMs));
    this.ackTimerAtMs = Date.now() + d;
    this.ackTimer = setTimeout(() => this.checkPending(), d);
  }

  private stopAckTimer(): void {
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    this.ackTimerAtMs = 0;
  }

  /** nats-server checkPending: find expired deliveries, queue them for redelivery in order. */
  private checkPending(): void {
    this.ackTimer = undefined;
    this.ackTimerAtMs = 0;
    if (this.closed || this.cfg.ack_wait === 0) return;
    const fseq = this.stream.store.fastState().firstSeq;
    const now = Date.now();
    const bo = this.cfg.backoff;
    const ttlMs = this.cfg.ack_wait / NS_PER_MS;
    let next = bo !== null && bo.length > 0 ? bo[bo.length - 1]! / NS_PER_MS : this.ackWaitMs(0);
    const expired: number[] = [];
    let changed = false;
    for (const [seq, p] of this.pending) {
      if (seq < fseq || seq <= this.asflr) {
        this.pending.delete(seq);
        this.rdc.delete(seq);
        this.rdq.remove(seq);
        changed = true;
        if (seq > this.asflr) this.asflr = seq;
        if (p.seq > this.adflr) this.adflr = p.seq;
        continue;
      }
      const elapsed = now - p.tsMs;
      let deadline = ttlMs;
      if (bo !== null && bo.length > 0) {
        let dc = Math.max(this.rdc.get(seq) ?? 0, 0);
        let nbi = dc + 1;
        if (dc + 1 >= bo.length) {
          dc = bo.length - 1;
          nbi = dc;
        }
        deadline = bo[dc]! / NS_PER_MS;
        const nb = bo[nbi]! / NS_PER_MS;
        if (nb < next) next = nb;
      }
      if (elapsed >= deadline) {
        if (!this.rdq.has(seq) && !this.hasMaxDeliveries(seq)) expired.push(seq);
      } else if (deadline - elapsed < next) {
        next = deadline - elapsed;
      }
    }
    if (expired.length > 0) {
      expired.sort((a, b) => a - b);
      for (const s of expired) this.rdq.add(s);
      // Shift timestamps by the same offset so later expiries keep their order.
      const off = now - this.pending.get(expired[0]!)!.tsMs;
      for (const s of expired) {
        const p = this.pending.get(s);
        if (p !== undefined) p.tsMs += off;
      }
      this.kick();
    }
    if (this.pending.size > 0) {
      this.resetAckTimer(next);
    } else {
      this.stopAckTimer();
      this.rdq.clear();
      this.adflr = this.dseq - 1;
      this.asflr = this.sseq - 1;
    }
    if (changed) this.writeState();
  }

  /** nats-server hasMaxDeliveries: a message at max_deliver leaves pending (and is reported once). */
  private hasMaxDeliveries(seq: number): boolean {
    if (this.maxDeliver === 0) return false;
    const dc = this.deliveryCount(seq);
    if (dc < this.maxDeliver) return false;
    if (dc === this.maxDeliver) this.notifyDeliveryExceeded(seq, dc);
    if (this.maxAckPending > 0 && this.pending.size >= this.maxAckPending) this.kick();
    const p = this.pending.get(seq);
    if (p !== undefined) {
      this.pending.delete(seq);
      this.storeUpdateDelivered(p.seq, seq, dc + 1, p.tsMs);
      this.moveAckFloor(p.seq, seq);
    }
    this.rdc.set(seq, dc);
    return true;
  }

  /** Drop redelivery bookkeeping for messages that left the stream. */
  private checkRedelivered(): void {
    if (this.rdc.size === 0) return;
    const fseq = this.stream.store.fastState().firstSeq;
    let changed = false;
    for (const seq of [...this.rdc.keys()]) {
      if (seq <= this.asflr || seq < fseq) this.rdq.remove(seq);
      if (seq < fseq) {
        this.rdc.delete(seq);
        changed = true;
      }
    }
    if (changed) this.writeState();
  }

  // ==== pull requests ===================================================================

  /** A pull request on $JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> (or +NXT). */
  processNextMsgRequest(reply: string, body: Buffer): void {
    if (reply === '' || this.closed) return;
    const sendErr = (hdr: Buffer): void => { this.host.publish(reply, '', hdr, EMPTY); };
    if (this.isPush || this.waiting === undefined) {
      sendErr(STATUS_CONSUMER_IS_PUSH);
      return;
    }
    const req = parsePullRequest(body);
    if ('error' in req) {
      sendErr(badRequest(req.error));
      return;
    }
    const now = Date.now();
    const cfg = this.cfg;
    if (cfg.max_batch > 0 && req.batch > cfg.max_batch) {
      sendErr(statusHeader(409, `Exceeded MaxRequestBatch of ${cfg.max_batch}`));
      return;
    }
    if (req.expiresNs !== 0 && cfg.max_expires > 0 && req.expiresNs > cfg.max_expires) {
      sendErr(statusHeader(409, `Exceeded MaxRequestExpires of ${formatGoDuration(cfg.max_expires)}`));
      return;
    }
    if (req.maxBytes > 0 && cfg.max_bytes > 0 && req.maxBytes > cfg.max_bytes) {
      sendErr(statusHeader(409, `Exceeded MaxRequestMaxBytes of ${cfg.max_bytes}`));
      return;
    }
    const wq = this.waiting;
    if (wq.isFull && now - wq.lastCheckMs > 1000) wq.processWaiting(false, now);
    const expiresAtMs = req.expiresNs !== 0 ? now + req.expiresNs / NS_PER_MS : 0;
    if (req.noWait) {
      const msgsPending = (this.npc < 0 ? 0 : this.npc) + this.rdq.size;
      if (msgsPending === 0 && expiresAtMs === 0) {
        wq.lastMs = now;
        sendErr(STATUS_NO_MESSAGES);
        return;
      }
      if (msgsPending > 0) {
        const brp = wq.batchRequestsPending(now);
        if (msgsPending < brp) {
          wq.lastMs = now;
          sendErr(STATUS_REQUESTS_PENDING);
          return;
        }
      }
    }
    const wr = new WaitingRequest(reply, req.batch, req.maxBytes, expiresAtMs, req.noWait,
      req.heartbeatNs / NS_PER_MS, now);
    if (!wq.add(wr)) {
      // With heartbeats the client notices by missing them; no 409 storm.
      if (req.heartbeatNs === 0) sendErr(STATUS_EXCEEDED_MAX_WAITING);
      return;
    }
    this.lastActivityMs = now;
    this.kick();
  }

  private scheduleWaitTimer(atMs: number): void {
    if (this.waitTimer !== undefined && this.waitTimerAtMs <= atMs) return;
    if (this.waitTimer !== undefined) clearTimeout(this.waitTimer);
    this.waitTimerAtMs = atMs;
    this.waitTimer = setTimeout(() => {
      this.waitTimer = undefined;
      this.waitTimerAtMs = 0;
      if (this.closed) return;
      const fexp = this.waiting!.processWaiting(true, Date.now());
      if (fexp > 0) this.scheduleWaitTimer(fexp);
    }, Math.max(1, Math.ceil(atMs - Date.now())));
  }

  // ==== inactivity ======================================================================

  private resetDeleteTimer(ms: number): void {
    this.clearDeleteTimer();
    this.deleteTimer = setTimeout(() => this.deleteNotActive(), Math.max(1, Math.ceil(ms)));
  }

  private clearDeleteTimer(): void {
    if (this.deleteTimer !== undefined) clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
  }

  /** nats-server deleteNotActive: remove the consumer after inactive_threshold without activity. */
  private deleteNotActive(): void {
    this.deleteTimer = undefined;
    if (this.closed) return;
    if (this.isPush) {
      if (this.active) return;
      if (this.host.hasInterest(this.dsubj)) {
        this.updateDeliveryInterest(true);
        return;
      }
    } else {
      const now = Date.now();
      const elapsed = now - this.waiting!.lastMs;
      if (elapsed < this.dthreshMs) {
        this.resetDeleteTimer(this.dthreshMs - elapsed);
        return;
      }
      this.waiting!.processWaiting(true, now);
      if (!this.waiting!.isEmpty) {
        this.resetDeleteTimer(this.dthreshMs);
        return;
      }
      // Outstanding acks may still arrive: wait for the last ack deadline plus the threshold.
      let delay = 0;
      const bo = this.cfg.backoff;
      for (const [seq, p] of this.pending) {
        let aw: number;
        if (bo === null || bo.length === 0) aw = this.ackWaitMs(0);
        else aw = this.ackWaitMs(bo[Math.min(Math.max(this.rdc.get(seq) ?? 0, 0), bo.length - 1)]!);
        const t = p.tsMs + aw + this.dthreshMs;
        if (t > now) delay = Math.max(delay, t - now);
      }
      if (delay > 0) {
        this.resetDeleteTimer(delay);
        return;
      }
    }
    void this.shutdown(StopReason.Deleted, true).then(() => this.onSelfDelete?.(this));
  }

  // ==== config update ===================================================================

  /** Apply an allowed config change (already checked with checkConsumerUpdate). */
  updateConfig(next: ConsumerConfig): void {
    const cur = this.cfg;
    if (this.store !== undefined) {
      try {
        this.store.updateConfig(consumerConfigToJSON(next));
      } catch (e) {
        this.host.warn(`consumer ${this.streamName} > ${this.name}: store config: ${String(e)}`);
      }
    }
    if (next.deliver_subject !== cur.deliver_subject && this.isPush) {
      // New deliver subject: everything pending goes again.
      for (const seq of [...this.pending.keys()].sort((a, b) => a - b)) this.rdq.add(seq);
      this.dsubj = next.deliver_subject;
      this.watchDeliverSubject();
      this.active = this.host.hasInterest(this.dsubj);
      this.startInterestPoll();
    }
    if (next.max_ack_pending !== cur.max_ack_pending) {
      this.maxAckPending = next.max_ack_pending;
      this.kick();
    }
    if (next.ack_wait !== cur.ack_wait && this.ackTimer !== undefined) this.resetAckTimer(100);
    if (next.rate_limit_bps !== cur.rate_limit_bps) {
      if (next.rate_limit_bps > 0) this.setRateLimit(next.rate_limit_bps);
      else this.rateBytesPerMs = 0;
    }
    if (next.sample_freq !== cur.sample_freq) this.sampleFreq = parseSampleFreq(next.sample_freq) ?? 0;
    if (next.max_deliver !== cur.max_deliver) this.maxDeliver = Math.max(next.max_deliver, 0);
    const filtersChanged = gatherFilters(next).join('\u0000') !== this.filters.filters.join('\u0000');
    const thresholdChanged = next.inactive_threshold !== cur.inactive_threshold;
    this.cfg = next;
    if (thresholdChanged) {
      this.updateInactiveThreshold();
      this.clearDeleteTimer();
      if (this.dthreshMs > 0 && (this.isPull || !this.active)) this.resetDeleteTimer(this.dthreshMs);
    }
    if (filtersChanged) {
      this.filters = new FilterSet(gatherFilters(next));
      this.streamNumPending();
    }
    this.kick();
  }

  // ==== num pending =====================================================================

  /** Recompute num_pending from the store (nats-server streamNumPending). */
  streamNumPending(): void {
    const store = this.stream.store;
    const lps = this.cfg.deliver_policy === 'last_per_subject';
    const f = this.filters.filters;
    let r;
    if (f.length > 1) r = store.numPendingMulti(this.sseq, f as string[], lps);
    else r = store.numPending(this.sseq, f.length === 1 ? f[0]! : '', lps);
    this.npc = r.total;
    this.npf = r.validThrough;
    if (this.lss !== undefined) {
      // Still replaying the last-per-subject list: those are pending too.
      this.npc = this.lss.seqs.length - this.lss.idx + store.numPendingMulti(this.lss.resume + 1, f.length ? f as string[] : [''], false).total;
    }
  }

  /** nats-server checkNumPending: clamp the cached count to what the stream can hold. */
  private checkNumPending(): number {
    const st = this.stream.store.fastState();
    if (this.sseq > st.lastSeq && this.lss === undefined) {
      this.npc = 0;
    } else if (this.npc > 0) {
      this.npc = Math.min(this.npc, st.msgs, this.lss !== undefined ? st.msgs : st.lastSeq - this.sseq + 1);
    }
    return this.npc < 0 ? 0 : this.npc;
  }

  // ==== info ============================================================================

  numAckPending(): number {
    return this.pending.size;
  }

  numWaiting(): number {
    return this.waiting?.n ?? 0;
  }

  numPending(): number {
    return this.checkNumPending();
  }

  /** ConsumerInfo fields in nats-server's order (without the response `type`). */
  info(opts: ConsumerInfoOptions = {}): Record<string, unknown> {
    const np = this.checkNumPending();
    if (this.isPull) this.waiting!.processWaiting(false, Date.now());
    if (this.isPush && opts.refreshInterest !== false) {
      const has = this.host.hasInterest(this.dsubj);
      if (has !== this.active) this.updateDeliveryInterest(has);
    }
    const delivered: Record<string, unknown> = { consumer_seq: Math.max(this.dseq, 1) - 1, stream_seq: this.deliveredSseq };
    if (this.lastDeliveredMs > 0) delivered.last_active = goTimeFromNanos(BigInt(this.lastDeliveredMs) * 1_000_000n);
    const ackFloor: Record<string, unknown> = { consumer_seq: this.adflr, stream_seq: this.asflr };
    if (this.lastAckMs > 0) ackFloor.last_active = goTimeFromNanos(BigInt(this.lastAckMs) * 1_000_000n);
    const info: Record<string, unknown> = {
      stream_name: this.streamName,
      name: this.name,
      created: goTimeFromNanos(this.createdNs),
      config: consumerConfigToJSON(this.cfg),
      delivered,
      ack_floor: ackFloor,
      num_ack_pending: this.pending.size,
      num_redelivered: this.cfg.max_deliver === 1 ? 0 : this.rdc.size,
      num_waiting: this.waiting?.n ?? 0,
      num_pending: np,
    };
    if (this.isPush && this.active) info.push_bound = true;
    info.ts = goTimeFromNanos(nowNs());
    return info;
  }

  /** The delivery state as the store keeps it. */
  state(): ConsumerState {
    return {
      delivered: { consumerSeq: this.dseq - 1, streamSeq: this.sseq - 1 },
      ackFloor: { consumerSeq: this.adflr, streamSeq: this.asflr },
      pending: new Map([...this.pending].map(([k, v]) => [k, { ...v }])),
      redelivered: new Map(this.rdc),
    };
  }

  // ==== persistence =====================================================================

  private storeUpdateDelivered(dseq: number, sseq: number, dc: number, tsMs: number): void {
    const s = this.store;
    if (s === undefined) return;
    try {
      s.updateDelivered(dseq, sseq, dc, tsMs);
    } catch (e) {
      this.storeError('update delivered', e);
    }
  }

  private storeUpdateAcks(dseq: number, sseq: number): void {
    const s = this.store;
    if (s === undefined || this.cfg.ack_policy === 'none') return;
    try {
      s.updateAcks(dseq, sseq);
    } catch (e) {
      this.storeError('update acks', e);
    }
  }

  /** Store complaints about acks of unknown messages are expected (duplicate acks); others are logged. */
  private storeError(what: string, e: unknown): void {
    if (isStoreError(e, 'ErrStoreMsgNotFound') || isStoreError(e, 'ErrNoAckPolicy')) return;
    this.host.warn(`JetStream consumer '${this.streamName} > ${this.name}' ${what}: ${String(e)}`);
  }

  /** Write the whole state (after bulk changes such as purges). */
  private writeState(): void {
    const s = this.store;
    if (s === undefined) return;
    try {
      s.forceUpdate(this.state());
    } catch (e) {
      this.storeError('write state', e);
    }
  }

  // ==== shutdown ========================================================================

  /**
   * Stop delivering and release everything. With `deleting` the persisted state goes too,
   * waiting pull requests get "409 Consumer Deleted" and the DELETED advisory is sent.
   */
  async shutdown(reason: StopReason, deleting: boolean): Promise<void> {
    if (this.closed) return;
    if (deleting && reason === StopReason.Deleted) {
      this.advise(deletedSubject(this.streamName, this.name),
        () => consumerActionAdvisory(this.streamName, this.name, 'delete', this.host.domain));
      if (this.waiting !== undefined) {
        for (const wr of this.waiting.clear()) this.host.publish(wr.reply, '', STATUS_CONSUMER_DELETED, EMPTY);
      }
    }
    this.closed = true;
    for (const id of this.subs) this.host.unsubscribe(id);
    this.subs = [];
    this.unlisten?.();
    this.unlisten = undefined;
    this.unwatchInterest?.();
    this.unwatchInterest = undefined;
    this.stopAckTimer();
    for (const t of [this.waitTimer, this.hbTimer, this.deleteTimer, this.interestTimer, this.holdTimer]) {
      if (t !== undefined) clearTimeout(t);
    }
    this.waitTimer = this.hbTimer = this.deleteTimer = this.interestTimer = this.holdTimer = undefined;
    this.stream.detachConsumer(this.name);
    const store = this.store;
    this.store = undefined;
    if (store !== undefined) {
      if (deleting) await store.delete();
      else await store.stop();
    }
  }

  /** Send the CREATED advisory (the manager calls this after a successful create). */
  sendCreateAdvisory(): void {
    this.advise(createdSubject(this.streamName, this.name),
      () => consumerActionAdvisory(this.streamName, this.name, 'create', this.host.domain));
  }

  /** A copy of the current config. */
  config(): ConsumerConfig {
    return cloneConsumerConfig(this.cfg);
  }
}
