// One JetStream consumer: delivery state (next stream/consumer sequences, ack
// floors, pending acks, redelivery counts), ack handling, ack-wait redelivery
// with backoff and max_deliver, pull requests or push delivery with flow
// control and idle heartbeats, replay/rate limiting, num_pending, persistence
// through the store's consumer-state store. Semantics follow nats-server's
// consumer.go; the shape is event-driven instead of goroutines: events (new
// message, pull request, ack, timer) update state and schedule one delivery
// run, which delivers as much as it may in a bounded batch.
//
// The consumer is built in layers (see consumer-base.ts): state in
// consumer-base.ts, persistence in consumer-persistence.ts, acks in
// consumer-acks.ts, ConsumerInfo in consumer-info.ts; this module holds
// start-up, delivery, pull requests, push delivery and the timers.

import type { StreamConsumer, StreamListener } from '../stream.js';
import type { ConsumerState, StoredMsg } from '../store/types.js';
import { subjectIsSubsetMatch } from '../subjects.js';
import {
  cloneConsumerConfig, consumerConfigToJSON, gatherFilters, parseSampleFreq, EPHEMERAL_INACTIVE_DEFAULT_NS, type ConsumerConfig,
} from './config.js';
import { ackSubscription } from './ack-subject.js';
import {
  parsePullRequest, idleHeartbeat, headersOnly, badRequest, statusHeader, batchCompleted, STATUS_CONSUMER_DELETED,
  STATUS_CONSUMER_IS_PUSH, STATUS_EXCEEDED_MAX_WAITING, STATUS_FLOW_CONTROL, STATUS_NO_MESSAGES, STATUS_REQUESTS_PENDING,
} from './pull-request.js';
import { WaitingRequest } from './wait-queue.js';
import { FilterSet } from './filters.js';
import { reconcileWithStream, selectStartingSeq } from './start-position.js';
import { FlowControl } from './flow-control.js';
import { formatGoDuration } from './go-format.js';
import { consumerActionAdvisory, createdSubject, deletedSubject, randomToken } from './advisories.js';
import { EMPTY, NS_PER_MS, StopReason } from './consumer-base.js';
import { ConsumerAcks } from './consumer-acks.js';
import { buildConsumerInfo, type ConsumerInfoOptions } from './consumer-info.js';

export { StopReason, type ConsumerHost } from './consumer-base.js';
export type { ConsumerInfoOptions } from './consumer-info.js';

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

export class Consumer extends ConsumerAcks implements StreamConsumer {
  private readonly onInterestChange = (): void => {
    if (this.closed) return;
    const has = this.host.hasInterest(this.dsubj);
    if (has !== this.active) this.updateDeliveryInterest(has);
  };
  private readonly runBound = (): void => this.run();
  /** Called once the consumer removed itself (inactivity); the manager forgets it. */
  onSelfDelete: ((c: Consumer) => void) | undefined;

  // ==== start-up ========================================================================

  /**
   * Bring the consumer to life: restore or select the starting position, subscribe,
   * start timers. `restored` is the persisted state when recovering; with `resume` it is
   * applied even when all zeros (a restart point chosen after the state was lost). With
   * `standby` only the state is loaded: no subscription, no delivery (Stream.consumersStandby).
   */
  start(restored?: ConsumerState, resume = false, standby = false): void {
    if (restored !== undefined && (resume || restored.delivered.streamSeq > 0 || restored.ackFloor.streamSeq > 0 || restored.pending.size > 0)) {
      this.applyState(restored);
    } else if (this.store !== undefined && this.store.hasState()) {
      this.applyState(this.store.state());
    } else {
      this.selectStartingSeq();
    }
    this.checkRedelivered();
    this.streamNumPending();
    if (standby) return;

    if (this.cfg.ack_policy !== 'none') {
      this.subs.push(this.host.subscribe(ackSubscription(this.streamName, this.name), (s, r, h, p) => this.processAck(s, r, h, p)));
    }
    const onNext = (_s: string, r: string, _h: Buffer | undefined, p: Buffer): void => {
      // A pull request sees every message published before it: it waits until those are
      // durable and visible (jetstream/visibility.ts). The body may be a read-buffer view.
      const vis = this.stream.visibility;
      if (!vis.pending) this.processNextMsgRequest(r, p);
      else {
        const body = Buffer.from(p);
        vis.whenVisible(() => { if (!this.closed) this.processNextMsgRequest(r, body); });
      }
    };
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

  protected updateInactiveThreshold(): void {
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

  protected setRateLimit(bps: number): void {
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
      let next: NextMsg | undefined | null;
      try {
        next = this.getNextMsg();
      } catch (e) {
        // A failed store read (ErrStoreRead) removes nothing; delivery resumes at the next kick.
        this.host.warn(`JetStream consumer '${this.streamName} > ${this.name}' store read failed: ${String(e)}`);
        break;
      }
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
    const ackReply = this.ackReplies.write(dc, msg.seq, this.dseq, msg.ts, pendingAfter);
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
        dsubj, ackReply: Buffer.from(ackReply), seq: msg.seq, subject: msg.subject, dc,
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
  /** getNextMsg's answer, one object per consumer: run() reads it before asking for the next. */
  private readonly nextFound: NextMsg = { msg: undefined as unknown as StoredMsg, dc: 0 };

  private found(msg: StoredMsg, dc: number): NextMsg {
    const n = this.nextFound;
    n.msg = msg;
    n.dc = dc;
    return n;
  }

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
      return this.found(msg, dc);
    }
    if (this.maxAckPending > 0 && this.pending.size >= this.maxAckPending) return null;

    // Only messages that are durable (visible) are delivered: see jetstream/visibility.ts.
    const visible = this.stream.visibility.seq;
    const lss = this.lss;
    if (lss !== undefined && lss.idx < lss.seqs.length) {
      if (lss.seqs[lss.idx]! > visible) return undefined;
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
      return this.found(msg, 1);
    }

    if (this.sseq > visible) return undefined;
    const f = this.filters.filters;
    const msg = f.length === 0 ? store.loadNextMsg('', this.sseq)
      : f.length === 1 ? store.loadNextMsg(f[0]!, this.sseq)
        : store.loadNextMsgMulti(f as string[], this.sseq);
    if (msg !== undefined && msg.seq > visible) return undefined;
    if (msg === undefined) {
      // End of stream: skip ahead past non-matching messages.
      const last = Math.min(store.lastSeq, visible);
      if (last >= this.sseq) this.sseq = last + 1;
      if (this.sseq > last && this.npc !== 0) {
        this.npc = 0;
        this.npf = last;
      }
      return undefined;
    }
    if (msg.seq >= this.sseq) this.sseq = msg.seq + 1;
    return this.found(msg, 1);
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
    dsubj: string, subject: string, ackReply: Buffer, seq: number, hdrs: Buffer | undefined, data: Buffer,
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

  protected sendIdleHeartbeat(subject: string): void {
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

  // ==== ack wait / redelivery ===========================================================

  protected resetAckTimer(delayMs: number): void {
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
    return this.waiting?.reported() ?? 0;
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
    return buildConsumerInfo({
      streamName: this.streamName,
      name: this.name,
      createdNs: this.createdNs,
      cfg: this.cfg,
      dseq: this.dseq,
      deliveredSseq: this.deliveredSseq,
      lastDeliveredMs: this.lastDeliveredMs,
      adflr: this.adflr,
      asflr: this.asflr,
      lastAckMs: this.lastAckMs,
      numAckPending: this.pending.size,
      numRedelivered: this.rdc.size,
      numWaiting: this.numWaiting(),
      numPending: np,
      pushBound: this.isPush && this.active,
    });
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
