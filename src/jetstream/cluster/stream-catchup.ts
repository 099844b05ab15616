// The `$JSC` stream catch-up protocol over routes, both ends (jetstream-cluster.md §5.4;
// nats-server runCatchup / processCatchupMsg). The pure parts live in catchup.ts (sync
// request, subjects, flow-control window) and catchup-run.ts (CatchupSender,
// applyCatchupEntry); this module adds the subscriptions, timers and retries.
//
//  * CatchupServer: the stream leader subscribes to the assignment's `$JSC.SYNC.<rand>` subject.
//    For each sync request it walks its store with a CatchupSender, sending every message to
//    the request's reply subject with a `$JSC.ACK.<rand>.<size>` reply; the follower's empty
//    acks reopen the window. A run ends with an empty message, on a non-empty ack (the
//    follower's error text), after 30 s without an ack, or when leadership is lost.
//  * CatchupClient: a replica whose store is behind the stream snapshot it installed asks the
//    leader for `first_seq..last_seq`, applies what arrives (applyCatchupEntry) and acks each
//    message. It retries (after 2 s) until its store reaches `last_seq`: no first message within
//    5 s, no message for 30 s, an incomplete run, or a message it cannot apply.
//
// Both ends use the stream group's RouteRaftTransport (system account, route deliveries only:
// leader and follower are always different servers).

import { existsSync } from 'node:fs';
import type { RaftSubscription, RaftTransport } from '../../raft/index.js';
import {
  CatchupBudget, CatchupError, CatchupWindow, catchupAckWildcard, decodeSyncRequest, encodeSyncRequest, formatCatchupAck,
  parseCatchupAckSize, syncReplySubject, type SyncRequest,
} from './catchup.js';
import {
  CatchupSender, applyCatchupEntry, catchupComplete, isCatchupEof, type CatchupSink, type CatchupSource,
} from './catchup-run.js';

/** nats-server: a catch-up run with no ack for this long is abandoned (both ends). */
export const CATCHUP_ACTIVITY_MS = 30_000;
/** The follower allows this long for the first message of a run. */
export const CATCHUP_FIRST_MSG_MS = 5_000;
/** The follower waits this long before asking again after a failed or incomplete run. */
export const CATCHUP_RETRY_MS = 2_000;

/** Outstanding catch-up bytes over every run this server sends (nats-server: 64 MiB). */
const serverBudget = new CatchupBudget();

const EMPTY = Buffer.alloc(0);

/**
 * Test-only fault injection (never set in production; read once at start): while this file
 * exists the leader ignores sync requests, so a replica stays in its catch-up for as long as a
 * test needs (js-repl-peer-remove-safe).
 */
const HOLD_CATCHUP_FILE = process.env.TSNATS_FAULT_HOLD_CATCHUP_FILE ?? '';

function copy(p: Uint8Array): Buffer {
  return Buffer.from(p);
}

interface Run {
  peer: string;
  reply: string;
  sender: CatchupSender;
  window: CatchupWindow;
  wildcard: string;
  ackSub: RaftSubscription;
  timer: NodeJS.Timeout;
}

/** The leader's side: answers sync requests while `active`. */
export class CatchupServer {
  private sub: RaftSubscription | undefined;
  private readonly runs = new Set<Run>();

  constructor(
    private readonly transport: RaftTransport,
    private readonly syncSubject: string,
    private readonly source: () => CatchupSource | undefined,
    private readonly log: (msg: string) => void,
    /** Per-run window (nats-server: 64 MiB, 256 Ki messages); smaller in tests. */
    private readonly window: { maxBytes?: number; maxMsgs?: number } = {},
  ) {}

  /** Peers (ids from their sync requests) with a run in progress: not current. */
  peersCatchingUp(): Set<string> {
    const out = new Set<string>();
    for (const r of this.runs) if (r.peer) out.add(r.peer);
    return out;
  }

  /** Start answering (became leader) or stop (lost leadership / stopping): runs are dropped. */
  setActive(on: boolean): void {
    if (on) {
      if (!this.sub && this.syncSubject) this.sub = this.transport.subscribe(this.syncSubject, (_s, reply, p) => this.onRequest(reply, p));
      return;
    }
    this.sub?.unsubscribe();
    this.sub = undefined;
    for (const r of [...this.runs]) this.end(r);
  }

  private onRequest(reply: string, payload: Uint8Array): void {
    if (!reply) return;
    let req: SyncRequest;
    try {
      req = decodeSyncRequest(copy(payload));
    } catch (e) {
      this.log(`ignoring sync request: ${(e as Error).message}`);
      return;
    }
    const source = this.source();
    if (!source || (HOLD_CATCHUP_FILE && existsSync(HOLD_CATCHUP_FILE))) return;
    // A repeated request from the same peer replaces its earlier run.
    for (const r of this.runs) if (req.peer && r.peer === req.peer) this.end(r);
    const window = new CatchupWindow(this.window.maxBytes, this.window.maxMsgs, serverBudget);
    const wildcard = catchupAckWildcard();
    const run: Run = {
      peer: req.peer ?? '', reply, window, wildcard, sender: new CatchupSender(req, source, window),
      ackSub: undefined as unknown as RaftSubscription, timer: undefined as unknown as NodeJS.Timeout,
    };
    run.ackSub = this.transport.subscribe(wildcard, (subject, _r, p) => this.onAck(run, subject, p));
    run.timer = setTimeout(() => this.expire(run), CATCHUP_ACTIVITY_MS);
    run.timer.unref();
    this.runs.add(run);
    this.pump(run);
  }

  private expire(run: Run): void {
    if (!this.runs.has(run)) return;
    this.log(`catch-up of peer ${run.peer || '?'} stalled; abandoned`);
    this.end(run);
  }

  private onAck(run: Run, subject: string, p: Uint8Array): void {
    if (!this.runs.has(run)) return;
    if (p.length > 0) {
      this.log(`catch-up of peer ${run.peer || '?'} aborted by the follower: ${Buffer.from(p).toString()}`);
      this.end(run);
      return;
    }
    run.window.acked(parseCatchupAckSize(subject));
    run.timer.refresh();
    if (run.sender.done) {
      // Everything is sent: the run (and the peer's "not current") lasts until it is all stored.
      if (run.window.outMsgs === 0) this.end(run);
      return;
    }
    this.pump(run);
  }

  private pump(run: Run): void {
    let out;
    try {
      out = run.sender.next();
    } catch (e) {
      this.log(`catch-up of peer ${run.peer || '?'} failed: ${(e as Error).message}`);
      this.end(run);
      return;
    }
    for (const o of out) {
      if (o.kind === 'msg') this.transport.publish(run.reply, formatCatchupAck(run.wildcard, o.payload.length), o.payload);
      else this.transport.publish(run.reply, '', o.payload);
    }
    if (run.sender.done && run.window.outMsgs === 0) this.end(run);
  }

  private end(run: Run): void {
    if (!this.runs.delete(run)) return;
    clearTimeout(run.timer);
    run.ackSub.unsubscribe();
    run.window.close();
  }
}

export interface CatchupClientOptions {
  transport: RaftTransport;
  /** The stream leader's `$JSC.SYNC.<rand>` subject (the assignment's `sync`). */
  syncSubject: string;
  /** This server's peer id (sent in the request so the leader can report us as not current). */
  peer: string;
  sink: CatchupSink;
  /** Sequences wanted: through `lastSeq` (the installed snapshot's last sequence). */
  lastSeq: number;
  /** The raft index of the snapshot that asked for this (the request's min_applied). */
  snapIndex: number;
  onDone: () => void;
  log: (msg: string) => void;
  /** Progress of the whole catch-up (src/jetstream/progress.ts): messages received of those wanted. */
  progress?: { update(done: number, total: number): void; end(outcome?: string): void };
}

/** The follower's side of one catch-up, retried until the store reaches `lastSeq` or stop(). */
export class CatchupClient {
  private sub: RaftSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private gotFirst = false;
  private req!: SyncRequest;
  /** Runs started (tests, logs). */
  attempts = 0;

  constructor(private readonly o: CatchupClientOptions) {}

  start(): void {
    this.request();
  }

  stop(): void {
    if (!this.stopped) this.o.progress?.end('stopped');
    this.stopped = true;
    this.reset();
  }

  private reset(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number, fn: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(fn, ms);
    this.timer.unref();
  }

  private request(): void {
    if (this.stopped) return;
    this.reset();
    const own = this.o.sink.lastSeq();
    if (own >= this.o.lastSeq) {
      this.finish();
      return;
    }
    this.attempts++;
    this.gotFirst = false;
    this.req = { peer: this.o.peer, first_seq: own + 1, last_seq: this.o.lastSeq, delete_ranges: true, min_applied: this.o.snapIndex };
    const inbox = syncReplySubject();
    this.sub = this.o.transport.subscribe(inbox, (_s, reply, p) => this.onMsg(reply, p));
    this.arm(CATCHUP_FIRST_MSG_MS, () => this.retry('no answer from the stream leader'));
    this.o.transport.publish(this.o.syncSubject, inbox, encodeSyncRequest(this.req));
  }

  private retry(why: string): void {
    if (this.stopped) return;
    this.reset();
    this.o.log(`catch-up to ${this.o.lastSeq} (have ${this.o.sink.lastSeq()}): ${why}; retrying`);
    this.arm(CATCHUP_RETRY_MS, () => this.request());
  }

  private finish(): void {
    this.reset();
    if (this.stopped) return;
    this.stopped = true;
    this.o.progress?.end('caught up');
    this.o.onDone();
  }

  private onMsg(reply: string, p: Uint8Array): void {
    if (this.stopped || !this.sub) return;
    if (!this.gotFirst) this.gotFirst = true;
    this.arm(CATCHUP_ACTIVITY_MS, () => this.retry('catch-up stalled'));
    if (isCatchupEof(copy(p))) {
      if (catchupComplete(this.o.sink.lastSeq(), this.req)) this.finish();
      else this.retry('the leader ended the run early');
      return;
    }
    try {
      applyCatchupEntry(this.o.sink, copy(p));
    } catch (e) {
      const text = e instanceof CatchupError ? e.message : `store failed: ${(e as Error).message}`;
      if (reply) this.o.transport.publish(reply, '', Buffer.from(text));
      this.retry(text);
      return;
    }
    if (reply) this.o.transport.publish(reply, '', EMPTY);
    this.o.progress?.update(this.o.sink.lastSeq(), this.o.lastSeq);
  }
}
