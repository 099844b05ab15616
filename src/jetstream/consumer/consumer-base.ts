// The state of one JetStream consumer and its construction. The consumer is
// one object built in layers, each in its own module:
//   ConsumerBase (here: state, constructor, flags)
//     <- ConsumerPersistence (consumer-persistence.ts: the store, state snapshots)
//     <- ConsumerAcks (consumer-acks.ts: ack subjects, nak, term, advisories)
//     <- Consumer (consumer.ts: start-up, delivery, pull, push, ack wait, shutdown).
// The state lives here (one owner); a layer calls into a later one through
// abstract declarations.

import type { InternalMsgHandler } from '../../core/types.js';
import type { Stream } from '../stream.js';
import type { ConsumerStore, PendingInfo } from '../store/types.js';
import { gatherFilters, parseSampleFreq, type ConsumerConfig } from './config.js';
import { AckReplyWriter, type AckNumbers } from './ack-subject.js';
import { WaitQueue } from './wait-queue.js';
import { RedeliveryQueue } from './redelivery-queue.js';
import { FilterSet } from './filters.js';
import type { LastPerSubjectList } from './start-position.js';
import type { FlowControl } from './flow-control.js';

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
  /** `reply`: the ack reply's bytes, only valid during the call. */
  deliver(dsubj: string, subject: string, reply: Buffer, headers: Buffer | undefined, payload: Buffer): number;
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

/** Nanoseconds per millisecond (configs hold Go durations in ns). */
export const NS_PER_MS = 1_000_000;
export const EMPTY = Buffer.alloc(0);

export abstract class ConsumerBase {
  readonly name: string;
  readonly stream: Stream;
  readonly streamName: string;
  readonly createdNs: bigint;
  cfg: ConsumerConfig;

  protected readonly host: ConsumerHost;
  protected store: ConsumerStore | undefined;
  protected filters: FilterSet;

  // ---- delivery state (nats-server names in brackets) ----
  /** next stream sequence to look at [sseq] */
  protected sseq = 1;
  /** highest stream sequence handed out for the first time (what info reports as delivered) */
  protected deliveredSseq = 0;
  /** next consumer (delivery) sequence [dseq] */
  protected dseq = 1;
  /** ack floor, consumer sequence [adflr] */
  protected adflr = 0;
  /** ack floor, stream sequence [asflr] */
  protected asflr = 0;
  /** unacknowledged deliveries by stream sequence [pending] */
  protected pending = new Map<number, PendingInfo>();
  /** delivery counts of redelivered messages [rdc] */
  protected rdc = new Map<number, number>();
  /** messages due for redelivery, in order [rdq, rdqi] */
  protected readonly rdq = new RedeliveryQueue();
  /** cached number of messages left to deliver, valid for sequences <= npf [npc, npf] */
  protected npc = 0;
  protected npf = 0;
  /** deliver_policy last_per_subject start-up list [lss] */
  protected lss: LastPerSubjectList | undefined;
  protected maxAckPending: number;
  protected maxDeliver: number;
  protected sampleFreq = 0;

  // ---- pull ----
  protected waiting: WaitQueue | undefined;

  // ---- push ----
  /** deliver subject has interest */
  active = true;
  protected dsubj: string;
  /** flow control window, when flow_control is on */
  protected fc: FlowControl | undefined;
  protected rateBytesPerMs = 0;
  protected rateTokens = 0;
  protected rateLastMs = 0;

  // ---- replay original ----
  protected replay = false;
  protected replayUntilSeq = 0;
  protected lastReplayTsNs = 0n;
  /** a delivery held back by replay timing or the rate limit */
  protected held: {
    dsubj: string; ackReply: Buffer; seq: number; subject: string; dc: number;
    hdrs: Buffer | undefined; data: Buffer; batchLeftBytes: number;
  } | undefined;

  // ---- activity ----
  /** last delivery / last ack, ms since epoch (0 = never) */
  protected lastDeliveredMs = 0;
  protected lastAckMs = 0;
  protected lastActivityMs = Date.now();
  /** inactive threshold in ms (with jitter), 0 = never [dthresh] */
  protected dthreshMs = 0;

  // ---- subscriptions and timers ----
  /** Builds each delivery's ack reply. */
  protected readonly ackReplies: AckReplyWriter;
  protected readonly nextSubject: string;
  protected readonly fcPrefix: string;
  protected subs: number[] = [];
  protected ackTimer: NodeJS.Timeout | undefined;
  protected ackTimerAtMs = 0;
  protected waitTimer: NodeJS.Timeout | undefined;
  protected waitTimerAtMs = 0;
  protected hbTimer: NodeJS.Timeout | undefined;
  protected deleteTimer: NodeJS.Timeout | undefined;
  protected interestTimer: NodeJS.Timeout | undefined;
  /** stops the interest watch on the deliver subject (push consumers on a host that has one) */
  protected unwatchInterest: (() => void) | undefined;
  protected interestPollMs = 20;
  protected holdTimer: NodeJS.Timeout | undefined;
  protected runScheduled = false;
  /** scratch for parsing ack subjects */
  protected readonly ackNums: AckNumbers = { dc: 0, sseq: 0, dseq: 0 };
  protected unlisten: (() => void) | undefined;
  protected closed = false;

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
    this.ackReplies = new AckReplyWriter(stream.name, name);
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

  /** Waiting pull requests (pull consumers only); a replicated consumer observes it to mirror them to its group. */
  get pullQueue(): WaitQueue | undefined {
    return this.waiting;
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

  // Behaviour the constructor and the early layers use (consumer.ts).
  protected abstract sendIdleHeartbeat(subject: string): void;
  protected abstract updateInactiveThreshold(): void;
  protected abstract setRateLimit(bps: number): void;
}
