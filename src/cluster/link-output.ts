// What the two kinds of server-to-server link (a route, a leaf connection) share.
//
// LinkOutput is the output half: the slab buffer (RouteOutbound), its registration on the
// host's flush queue (one socket write per event-loop turn), the socket writer with the write
// deadline, the max_pending cut, and the link's and the server's out counters. It owns
// everything from "frame queued" to "bytes handed to the kernel", and ends the socket when
// the link closes.
//
// ServerLink is the base class of RouteConnection and LeafConnection: it holds the LinkOutput,
// the PING keepalive (stale detection, RTT) and the start of close. The subclasses own their
// parser, the peer's interest, their other timers and what the host is told on close.
import { encodeName } from '../protocol/names.js';
import { RouteOutbound } from './route-outbound.js';
import { SocketWriter, type ByteStream } from '../core/socket-writer.js';
import { PING_LINE, encodeErrLine } from '../protocol/route-encoder.js';
import { PingAction, pingTimerAction } from '../core/keepalive.js';

/** Closed-connection reasons used for routes and leaf links (nats-server ClosedState strings). */
export const RouteCloseReason = {
  CLIENT_CLOSED: 'Client Closed',
  READ_ERROR: 'Read Error',
  WRITE_ERROR: 'Write Error',
  PARSE_ERROR: 'Parse Error',
  PROTOCOL_VIOLATION: 'Protocol Violation',
  AUTH_VIOLATION: 'Authentication Failure',
  AUTH_TIMEOUT: 'Authentication Timeout',
  STALE: 'Stale Connection',
  SLOW_CONSUMER_PENDING: 'Slow Consumer (Pending Bytes)',
  SLOW_CONSUMER_DEADLINE: 'Slow Consumer (Write Deadline)',
  DUPLICATE_ROUTE: 'Duplicate Route',
  DUPLICATE_SERVER_NAME: 'Duplicate Server Name',
  CLUSTER_NAME_CONFLICT: 'Cluster Name Conflict',
  WRONG_PORT: 'Incorrect Port',
  WRONG_GATEWAY: 'Wrong Gateway',
  SERVER_SHUTDOWN: 'Server Shutdown',
  MAX_CONTROL_LINE: 'Maximum Control Line Exceeded',
} as const;

/** What a link's output and keepalive need from the subsystem the link belongs to (Cluster, Leafnodes). */
export interface LinkOutputHost {
  readonly limits: {
    readonly writeDeadlineMs: number;
    readonly maxPendingBytes: number;
    readonly pingIntervalMs: number;
    readonly pingMax: number;
  };
  log(level: 'info' | 'debug', text: string): void;
  /** write `out` at the end of the event-loop turn (the host's FlushQueue) */
  scheduleFlush(out: LinkOutput): void;
  /** server-wide counters: varz out_msgs/out_bytes, slow_consumers */
  countOut(bytes: number): void;
  countSlowConsumer(): void;
}

/** The link an output belongs to: cut when its peer does not read. */
export interface OutputLink {
  label(): string;
  close(reason: string, flush: boolean): void;
}

export class LinkOutput {
  /** messages and payload bytes written to this link (routez/leafz out_msgs/out_bytes) */
  msgs = 0;
  bytes = 0;
  private queued = false;
  private ended = false;
  private readonly out = new RouteOutbound();
  /** Writes `out` to the socket; knows the kernel's backlog and the write deadline. */
  private readonly writer: SocketWriter;

  constructor(socket: ByteStream, private readonly host: LinkOutputHost, private readonly link: OutputLink) {
    this.writer = new SocketWriter(socket, this.onWriteDeadline);
  }

  /** Queue protocol bytes. */
  write(buf: Buffer): void {
    if (this.ended) return;
    this.out.write(buf);
    this.requestFlush();
    this.checkPending();
  }

  /** Queue a protocol line; names in it keep their exact bytes (protocol/names.ts). */
  writeLine(line: string): void {
    this.write(encodeName(line));
  }

  /**
   * Queue bytes that the close which follows at once writes (an -ERR): no flush is scheduled
   * and max_pending is not checked, so the close keeps its own reason.
   */
  writeLast(buf: Buffer): void {
    if (!this.ended) this.out.write(buf);
  }

  /** Queue one message frame (RMSG/HMSG with an account, LMSG/HMSG with null) and count it. */
  writeMsg(
    account: Buffer | null, subject: Buffer, reply: Buffer | null, queues: string[] | null, hdrLen: number, data: Buffer,
  ): void {
    const size = data.length;
    this.out.writeMsg(account, subject, reply, queues, hdrLen, data);
    this.msgs++;
    this.bytes += size;
    this.host.countOut(size);
    this.requestFlush();
    this.checkPending();
  }

  /** Bytes queued and not yet taken by the kernel (routez pending_size). */
  get pending(): number {
    return this.out.pending + this.writer.buffered;
  }

  /** Hand what is queued to the socket (called from the host's flush queue, or to send at once). */
  flush(): void {
    this.queued = false;
    if (this.ended) return;
    const bufs = this.out.take();
    if (bufs === null) return;
    this.writer.write(bufs, this.host.limits.writeDeadlineMs);
    this.checkPending();
  }

  /**
   * End the socket. With `flush`, what is queued (e.g. an -ERR) is written before the socket is
   * ended; otherwise it is destroyed at once. Later writes are dropped.
   */
  end(flush: boolean): void {
    if (this.ended) return;
    let last: Buffer[] | null = null;
    if (flush) {
      this.queued = false;
      last = this.out.take();
    }
    this.ended = true;
    this.out.clear();
    this.writer.end(last, flush);
  }

  private requestFlush(): void {
    if (!this.queued) {
      this.queued = true;
      this.host.scheduleFlush(this);
    }
  }

  private checkPending(): void {
    const max = this.host.limits.maxPendingBytes;
    if (max > 0 && this.out.pending + this.writer.buffered > max) this.slowConsumer(RouteCloseReason.SLOW_CONSUMER_PENDING);
  }

  private readonly onWriteDeadline = (): void => {
    this.slowConsumer(RouteCloseReason.SLOW_CONSUMER_DEADLINE);
  };

  private slowConsumer(reason: string): void {
    if (this.ended) return;
    const host = this.host;
    host.countSlowConsumer();
    host.log('info', reason === RouteCloseReason.SLOW_CONSUMER_PENDING
      ? `${this.link.label()} - Slow Consumer Detected: MaxPending of ${host.limits.maxPendingBytes} Exceeded`
      : `${this.link.label()} - Slow Consumer Detected: WriteDeadline of ${host.limits.writeDeadlineMs}ms Exceeded`);
    // The peer does not read: cut the link (a dialled one is re-dialled) rather than buffer
    // without bound; local clients never wait for it.
    this.link.close(reason, false);
  }
}

/**
 * What a route and a leaf connection share: the output half (a LinkOutput), the ways they are
 * written to, the PING keepalive (stale detection, RTT) and the start of their close.
 */
export abstract class ServerLink implements OutputLink {
  closed = false;
  closeReason = '';
  /** round trip of our last answered PING */
  rttMs = 0;
  protected readonly output: LinkOutput;
  /** when the peer last sent anything (the owner sets it on every read) */
  protected lastInMs = Date.now();
  private pingTimer: NodeJS.Timeout | null = null;
  private pingsOut = 0;
  private rttStartMs = 0;
  private rttMeasuredMs = 0;

  /** `linkName` names the link in the stale log line ("Router", "Leafnode"). */
  constructor(socket: ByteStream, private readonly linkHost: LinkOutputHost, private readonly linkName: string) {
    this.output = new LinkOutput(socket, linkHost, this);
  }

  abstract label(): string;
  abstract close(reason: string, flush: boolean): void;

  enqueue(buf: Buffer): void {
    this.output.write(buf);
  }

  /** Queue a protocol line; names in it keep their exact bytes (protocol/names.ts). */
  enqueueString(line: string): void {
    this.output.writeLine(line);
  }

  /** Bytes queued and not yet taken by the kernel (routez pending_size). */
  get pendingBytes(): number {
    return this.output.pending;
  }

  get outMsgs(): number {
    return this.output.msgs;
  }

  get outBytes(): number {
    return this.output.bytes;
  }

  /** Queue `-ERR 'text'` and close, writing it before the socket is ended. */
  sendErrAndClose(text: string, reason: string): void {
    if (this.closed) return;
    this.output.writeLast(Buffer.from(encodeErrLine(text)));
    this.close(reason, true);
  }

  /** Next keepalive check after `delayMs` (0: none). */
  protected setPingTimer(delayMs: number): void {
    if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    this.pingTimer = null;
    if (delayMs <= 0) return;
    this.pingTimer = setTimeout(this.onPingTimer, delayMs);
    this.pingTimer.unref();
  }

  private readonly onPingTimer = (): void => {
    this.pingTimer = null;
    if (this.closed) return;
    const l = this.linkHost.limits;
    const now = Date.now();
    const action = pingTimerAction(now, this.lastInMs, this.rttMeasuredMs, this.pingsOut, l.pingIntervalMs, l.pingMax);
    if (action === PingAction.Stale) {
      this.linkHost.log('debug', `${this.label()} - Stale ${this.linkName} Connection - Closing`);
      this.sendErrAndClose('Stale Connection', RouteCloseReason.STALE);
      return;
    }
    if (action === PingAction.Ping) {
      this.pingsOut++;
      if (this.rttStartMs === 0) this.rttStartMs = now;
      this.enqueue(PING_LINE);
    }
    this.setPingTimer(l.pingIntervalMs);
  };

  /** The peer answered a PING: not stale, and the round trip is measured. */
  protected gotPong(): void {
    this.pingsOut = 0;
    if (this.rttStartMs > 0) {
      const now = Date.now();
      this.rttMs = Math.max(0.001, now - this.rttStartMs);
      this.rttStartMs = 0;
      this.rttMeasuredMs = now;
    }
  }

  /** The part of close() both links share: mark closed, stop the keepalive, end the socket (see LinkOutput.end). */
  protected markClosed(reason: string, flush: boolean): void {
    this.closed = true;
    this.closeReason = reason;
    this.output.end(flush);
    this.setPingTimer(0);
  }
}
