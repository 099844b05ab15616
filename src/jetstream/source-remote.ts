// Following an origin stream that is not in this process's reach as a local store: in another
// domain across a leaf node, another account (`external`), or on other servers of the cluster.
// This is how nats-server follows every origin (stream.go setupMirrorConsumer /
// setupSourceConsumer, processInboundMirrorMsg / processInboundSourceMsg):
//  - the sourcing stream's leader subscribes a delivery subject ($JS.M.<id> for a mirror,
//    $JS.S.<id> for a source, behind `external.deliver` when set) and asks
//    `<api prefix>.CONSUMER.CREATE.<origin>` for an ephemeral push consumer with `direct: true`
//    (unreplicated, made by the origin's leader without the meta group), no acks, flow control
//    and a 1 s idle heartbeat, starting after the last origin sequence it has;
//  - deliveries carry the origin sequence, time and pending count in their `$JS.ACK` reply;
//    flow-control requests (and a stalled consumer named in a heartbeat) are answered;
//  - a delivery sequence that skips, or a heartbeat reporting more deliveries than arrived,
//    means messages were lost on the way: the consumer is created again from the next sequence
//    needed. So is one that stayed silent for a health-check interval (origin or link gone), and
//    a create that failed or got no answer is retried with a growing pause.
// Copies are stored through the stream's normal path (FollowerBase): a replicated sourcing
// stream proposes them to its raft group.

import { nuid } from '@nats-io/nuid';
import type { JsApiContext } from './api/context.js';
import type { Stream } from './stream.js';
import type { StreamSource } from './api/types.js';
import { FollowerBase, SOURCE_HEARTBEAT_MS } from './source-base.js';
import { parseAckSubject } from './consumer/ack-subject.js';
import { getHeader } from './headers.js';
import { decodeName } from '../protocol/names.js';

/** nats-server's stalled check (sourceHealthCheckInterval): a consumer silent this long is created again. */
const HEALTH_CHECK_MS = 10_000;
/** A create request unanswered this long (origin unreachable) counts as failed. */
const CREATE_TIMEOUT_MS = 5_000;
/** Pause after a failed create: doubles from the first to the last value. */
const RETRY_FIRST_MS = 250;
const RETRY_MAX_MS = 10_000;
/** 22 hours, the ack wait nats-server puts in its sourcing consumers' config. */
const ACK_WAIT_NS = 79_200_000_000_000;

const STATUS_100 = Buffer.from('NATS/1.0 100');
const EMPTY = Buffer.alloc(0);

export class RemoteFollower extends FollowerBase {
  private running = false;
  /** Last delivery sequence of the current consumer. */
  private dseq = 0;
  /** Origin messages after the last delivery (its pending count). */
  private pending = 0;
  private attempts = 0;
  private unsubs: Array<() => void> = [];
  private createTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  /** A consumer created and answered: heartbeats are expected. */
  private created = false;

  constructor(
    private readonly api: JsApiContext,
    private readonly account: string,
    target: Stream,
    src: StreamSource,
    isMirror: boolean,
  ) {
    super(target, src, isMirror);
  }

  get isRunning(): boolean {
    return this.running;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.lastActiveMs = Date.now();
    this.createConsumer();
    this.healthTimer = setInterval(() => this.healthCheck(), HEALTH_CHECK_MS);
    this.healthTimer.unref();
  }

  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.dropConsumer();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.retryTimer = undefined;
    this.healthTimer = undefined;
  }

  protected lag(): number {
    return this.pending;
  }

  protected attached(): boolean {
    return this.running && this.created && Date.now() - this.lastActiveMs < 3 * SOURCE_HEARTBEAT_MS;
  }

  /** Stop listening to the current consumer (the origin removes it once it is inactive). */
  private dropConsumer(): void {
    for (const u of this.unsubs) u();
    this.unsubs = [];
    if (this.createTimer) clearTimeout(this.createTimer);
    this.createTimer = undefined;
    this.created = false;
  }

  private createConsumer(): void {
    this.dropConsumer();
    if (!this.running || this.target.isClosed) return;
    this.dseq = 0;
    const ext = this.src.external;
    const base = this.isMirror ? '.M' : '.S';
    const deliver = ext?.deliver ? `${ext.deliver}${base}.${nuid.next()}`.replaceAll('..', '.') : `$JS${base}.${nuid.next()}`;
    const reply = `$JSC.R.${nuid.next()}`;
    // A delivery is matched on the deliver subject and shown with the origin's subject.
    this.unsubs.push(this.api.subscribe(this.account, deliver, (_s, r, h, p, m) => this.onDelivery(decodeName(m.subjectBytes, 0, m.subjectBytes.length), r, h, p)));
    this.unsubs.push(this.api.subscribe(this.account, reply, (_s, _r, _h, p) => this.onCreated(p)));
    const api = ext?.api || '$JS.API';
    const body = JSON.stringify({ stream_name: this.src.name, config: this.consumerConfig(deliver) });
    this.createTimer = setTimeout(() => this.failed('consumer create request timed out'), CREATE_TIMEOUT_MS);
    this.createTimer.unref();
    this.api.publishRaw(this.account, `${api}.CONSUMER.CREATE.${this.src.name}`, reply, undefined, body);
  }

  /** The consumer nats-server asks for, in its field order. */
  private consumerConfig(deliver: string): Record<string, unknown> {
    const c: Record<string, unknown> = {};
    const next = this.startAfter();
    if (next > 0) {
      c.deliver_policy = 'by_start_sequence';
      c.opt_start_seq = next + 1;
    } else if (this.src.opt_start_seq) {
      c.deliver_policy = 'by_start_sequence';
      c.opt_start_seq = this.src.opt_start_seq;
    } else if (this.src.opt_start_time) {
      c.deliver_policy = 'by_start_time';
      c.opt_start_time = this.src.opt_start_time;
    } else {
      c.deliver_policy = 'all';
    }
    c.ack_policy = 'none';
    c.ack_wait = ACK_WAIT_NS;
    c.max_deliver = 1;
    // Several transforms need every message: the mapping filters them here (mapSubject).
    const trs = this.src.subject_transforms ?? [];
    const filter = trs.length === 1 ? trs[0]!.src : trs.length ? '' : this.src.filter_subject;
    if (filter && filter !== '>') c.filter_subject = filter;
    c.replay_policy = 'instant';
    c.idle_heartbeat = SOURCE_HEARTBEAT_MS * 1_000_000;
    c.flow_control = true;
    c.deliver_subject = deliver;
    c.num_replicas = 0;
    c.direct = true;
    return c;
  }

  /** The origin sequence to continue after (0: from the configured start). */
  private startAfter(): number {
    if (this.isMirror) return Math.max(this.lastOriginSeq, this.target.store.fastState().lastSeq);
    return this.lastOriginSeq;
  }

  private onCreated(payload: Buffer): void {
    if (!this.running) return;
    if (this.createTimer) clearTimeout(this.createTimer);
    this.createTimer = undefined;
    let r: { error?: { description?: string }; num_pending?: number };
    try {
      r = JSON.parse(payload.toString()) as typeof r;
    } catch {
      return this.failed('invalid consumer create response');
    }
    if (r.error) return this.failed(r.error.description ?? 'consumer create failed');
    this.created = true;
    this.attempts = 0;
    this.error = undefined;
    this.lastActiveMs = Date.now();
    if (this.dseq === 0 && typeof r.num_pending === 'number') this.pending = r.num_pending;
  }

  private failed(why: string): void {
    if (!this.running) return;
    this.error = why;
    this.dropConsumer();
    const wait = Math.min(RETRY_FIRST_MS * 2 ** this.attempts, RETRY_MAX_MS);
    this.attempts++;
    this.retry(wait);
  }

  private retry(waitMs: number): void {
    this.dropConsumer();
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.createConsumer();
    }, waitMs);
    this.retryTimer.unref();
  }

  private healthCheck(): void {
    if (!this.running || this.retryTimer || this.createTimer) return;
    if (Date.now() - this.lastActiveMs >= HEALTH_CHECK_MS) this.retry(0);
  }

  private onDelivery(subject: string, reply: string, hdr: Buffer | undefined, data: Buffer): void {
    if (!this.running) return;
    this.lastActiveMs = Date.now();
    if (hdr && hdr.length >= STATUS_100.length && hdr.subarray(0, STATUS_100.length).equals(STATUS_100)) {
      this.onStatus(reply, hdr);
      return;
    }
    const ack = parseAckSubject(reply);
    if (!ack) return;
    if (ack.dseq <= this.dseq) return; // a repeat of what was handled
    if (ack.dseq !== this.dseq + 1) {
      // Deliveries were lost (e.g. while a leaf link or route was down): start over after what we have.
      this.retry(0);
      return;
    }
    this.dseq = ack.dseq;
    this.pending = ack.pending;
    if (ack.sseq <= this.lastOriginSeq) return;
    try {
      this.copy(subject, hdr, data, ack.sseq, BigInt(ack.ts));
      this.lastOriginSeq = ack.sseq;
      this.error = undefined;
    } catch (e) {
      // Not stored (limits, a store failure): ask again from here after a pause.
      this.error = e instanceof Error ? e.message : String(e);
      this.failed(this.error);
    }
  }

  /** Flow control request, or idle heartbeat (which may name a stalled flow-control reply). */
  private onStatus(reply: string, hdr: Buffer): void {
    if (reply) {
      this.api.publishRaw(this.account, reply, '', undefined, EMPTY);
      return;
    }
    const stalled = getHeader(hdr, 'Nats-Consumer-Stalled');
    if (stalled) this.api.publishRaw(this.account, stalled, '', undefined, EMPTY);
    const lastDelivered = Number(getHeader(hdr, 'Nats-Last-Consumer') ?? 0);
    if (lastDelivered > this.dseq) this.retry(0);
  }

  private copy(originSubject: string, hdr: Buffer | undefined, data: Buffer, seq: number, ts: bigint): void {
    const subject = this.mapSubject(originSubject);
    if (this.isMirror) {
      // Filtered out here (several transforms): the next copy's sequence leaves the gap.
      if (subject !== undefined) this.storeMirrored(subject, hdr, data, seq, ts);
      return;
    }
    if (subject === undefined) return;
    this.target.processInbound(subject, '', this.sourcedHeaders(hdr, seq, originSubject), data);
  }
}
