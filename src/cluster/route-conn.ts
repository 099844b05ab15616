// One route connection (a TCP link to another server of the cluster).
//
// It is a RouteSink of the core: the remote server's interest (RS+) lives in the
// account sublists as Subscriptions owned by this connection, and the delivery loop
// hands it each locally published message once (forwardMsg), which we write as
// RMSG/HMSG. Messages received from the peer are delivered to local subscribers only
// (Account.deliverRouted), never to another route, which is what keeps the full mesh
// loop free.
//
// The connection owns its socket, parser, outbound buffer, timers and remote
// subscriptions; registration, gossip and reconnects belong to the Cluster (RouteHost).
import type { Socket } from 'node:net';
import type { Account } from '../core/account.js';
import { ClientKind, InboundMsg, Subscription, type MsgOrigin, type RouteSink } from '../core/types.js';
import {
  RouteParser, type RouteParseError, type RouteProtocolHandler, type RoutedMsgArgs,
} from '../protocol/route-parser.js';
import {
  PONG_LINE, encodeErrLine, encodeRemoteSub, encodeRemoteUnsub,
} from '../protocol/route-encoder.js';
import type { RouteInfo } from './route-info.js';
import type { RouteUrl } from './route-url.js';
import { plainIp } from './route-url.js';
import { RouteCloseReason, ServerLink, type LinkOutputHost } from './link-output.js';
import { RoutedDeliverSubject, takeRoutedReply } from './js-deliver.js';

/** Shared by all routes and leaf links: forwardMsg is synchronous and uses the views before returning. */
export const jsDeliver = new RoutedDeliverSubject();

export { RouteCloseReason } from './link-output.js';

export type RouteType = 'explicit' | 'implicit';

/** What a route connection needs from the cluster it belongs to. */
export interface RouteHost extends LinkOutputHost {
  readonly serverId: string;
  log(level: 'info' | 'warn' | 'error' | 'debug' | 'trace', text: string): void;
  lookupAccount(name: string): Account | undefined;
  /** may this route's peer learn of our interest in `subject` (cluster import permission) */
  canImport(subject: string): boolean;
  /** do we accept the peer's interest in `subject` (cluster export permission) */
  canExport(subject: string): boolean;
  readonly limits: RouteLimits;
  /** the peer sent CONNECT (accept side); may hold the connection's input while it checks the password */
  routeConnect(conn: RouteConnection, json: string): void;
  /** the peer sent INFO */
  routeInfo(conn: RouteConnection, json: string): void;
  /** the connection is gone (called once) */
  routeClosed(conn: RouteConnection): void;
  /** server-wide in counters (the out ones are LinkOutputHost's) */
  countIn(bytes: number): void;
}

export interface RouteLimits {
  pingIntervalMs: number;
  pingMax: number;
  writeDeadlineMs: number;
  maxPendingBytes: number;
  maxControlLineBytes: number;
  maxPayloadBytes: number;
}

/** Longest route control line accepted (memory bound per route; nats-server has none). */
export const ROUTE_MAX_CONTROL_LINE = 64 * 1024 * 1024;

/** Bytes of an account name, cached per account (written on every routed message). */
const accountNameBytes = new WeakMap<Account, Buffer>();
function accountBytes(acc: Account): Buffer {
  let b = accountNameBytes.get(acc);
  if (b === undefined) {
    b = Buffer.from(acc.name);
    accountNameBytes.set(acc, b);
  }
  return b;
}

export class RouteConnection extends ServerLink implements RouteSink, RouteProtocolHandler {
  readonly kind = ClientKind.ROUTE;
  readonly ip: string;
  readonly port: number;
  readonly startMs = Date.now();
  lastActivityMs = this.startMs;
  inMsgs = 0;
  inBytes = 0;

  /** we dialled this connection */
  didSolicit: boolean;
  routeType: RouteType;
  /** URL we dialled, or the peer's route URL built from its INFO */
  url: RouteUrl | undefined;
  /** reconnect even if implicit (set on the surviving connection of a duplicate pair) */
  retry = false;
  /** never reconnect (self route, shutdown, duplicate of a live route) */
  noReconnect = false;
  /** remote server_id (from CONNECT on the accept side, from INFO on either side) */
  remoteId = '';
  remoteName = '';
  remoteInfo: RouteInfo | null = null;
  infoReceived = false;
  connectReceived = false;
  /** registered in the cluster's remote table (not a duplicate or pending connection) */
  registered = false;
  /** peer takes HMSG */
  headers = false;
  /** client URLs of the peer that we added to our connect_urls */
  connectUrls: string[] = [];

  /** the peer's interest, keyed `<acc> <subject>[ <queue>]` as nats-server keys it */
  readonly subs = new Map<string, Subscription>();
  stopMs = 0;

  private readonly parser: RouteParser;
  private authTimer: NodeJS.Timeout | null = null;
  private readonly inMsg: InboundMsg;
  private readonly origins = new Map<string, MsgOrigin>();
  private accountCache: { name: string; acc: Account | undefined } = { name: '', acc: undefined };

  constructor(
    readonly cid: number,
    private readonly socket: Socket,
    private readonly host: RouteHost,
    solicit: { url: RouteUrl; routeType: RouteType } | undefined,
  ) {
    super(socket, host, 'Router');
    this.ip = plainIp(socket.remoteAddress);
    this.port = socket.remotePort ?? 0;
    this.didSolicit = solicit !== undefined;
    this.url = solicit?.url;
    this.routeType = solicit?.routeType ?? 'implicit';
    const l = host.limits;
    this.parser = new RouteParser(this, {
      // nats-server has no control-line limit on routes (an RMSG lists every queue group the
      // receiver serves); a large bound still caps the memory one peer's line can take.
      maxControlLineBytes: Math.max(ROUTE_MAX_CONTROL_LINE, l.maxControlLineBytes),
      maxPayloadBytes: Math.max(l.maxPayloadBytes, l.maxPendingBytes),
    });
    this.inMsg = new InboundMsg({ cid, account: '', kind: 'route' });
  }

  /** Start reading; queue the opening protocol (CONNECT+INFO when dialling, INFO when accepting). */
  start(opening: string, authTimeoutMs: number): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
    if (authTimeoutMs > 0 && !this.didSolicit) {
      this.parser.awaitingConnect = true;
      this.authTimer = setTimeout(this.onAuthTimeout, authTimeoutMs);
      this.authTimer.unref();
    }
    this.output.writeLine(opening);
    this.output.flush();
    // First PING after 1s (or the ping interval if shorter) plus up to 20% jitter.
    const first = Math.min(this.host.limits.pingIntervalMs, 1000);
    this.setPingTimer(first + Math.floor(Math.random() * (first / 5)));
  }

  /** "127.0.0.1:6222 - rid:5" as nats-server prefixes route log lines. */
  label(): string {
    return `${this.ip.includes(':') ? `[${this.ip}]` : this.ip}:${this.port} - rid:${this.cid}`;
  }

  private log(level: 'info' | 'warn' | 'error' | 'debug' | 'trace', text: string): void {
    this.host.log(level, `${this.label()} - ${text}`);
  }

  // ---- socket events ----

  private readonly onData = (buf: Buffer): void => {
    this.lastInMs = Date.now();
    const err = this.parser.parse(buf);
    if (err !== undefined) this.parseFailed(err);
  };

  private parseFailed(err: RouteParseError): void {
    this.log('error', `Router parser ERROR: ${err.message}`);
    if (err.errText !== undefined) this.sendErrAndClose(err.errText, err.closeReason);
    else this.close(err.closeReason, true);
  }

  /**
   * The peer's CONNECT is being checked off the event loop (a bcrypt route password): nothing
   * it sends after it (INFO, RS+, RMSG, PING) is acted on, and nothing more is read, until
   * the verdict. nats-server checks it on the connection's read loop, with the same effect.
   */
  holdInput(): void {
    this.parser.suspend();
    this.socket.pause();
  }

  /** The CONNECT passed: act on what arrived meanwhile, then read on. */
  releaseInput(): void {
    if (this.closed) return;
    const err = this.parser.resume();
    if (err !== undefined) return this.parseFailed(err);
    if (!this.closed && !this.parser.isSuspended) this.socket.resume();
  }

  private readonly onSocketError = (err: Error): void => {
    const code = (err as NodeJS.ErrnoException).code;
    if (!this.closed) this.log('debug', `Router connection error: ${code ?? err.message}`);
    this.close(code === 'EPIPE' ? RouteCloseReason.WRITE_ERROR
      : code === 'ECONNRESET' ? RouteCloseReason.CLIENT_CLOSED : RouteCloseReason.READ_ERROR, false);
  };

  private readonly onSocketClose = (): void => {
    this.close(RouteCloseReason.CLIENT_CLOSED, false);
  };

  // ---- timers ----

  private readonly onAuthTimeout = (): void => {
    this.authTimer = null;
    if (this.closed || this.connectReceived) return;
    this.sendErrAndClose('Authentication Timeout', RouteCloseReason.AUTH_TIMEOUT);
  };

  // ---- interest we send ----

  sendSub(account: string, subject: string, queue: string | undefined, weight: number): void {
    this.enqueueString(encodeRemoteSub(account, subject, queue, weight));
  }

  sendUnsub(account: string, subject: string, queue: string | undefined): void {
    this.enqueueString(encodeRemoteUnsub(account, subject, queue));
  }

  // ---- RouteSink ----

  deliverMsg(): boolean {
    // Routes receive messages through forwardMsg only.
    return false;
  }

  forwardMsg(account: Account, msg: InboundMsg, queues: string[] | null): boolean {
    if (this.closed || !this.registered) return false;
    let hdrLen = msg.hdrLen;
    let data = msg.data;
    if (hdrLen > 0 && !this.headers) {
      // A peer without header support gets the payload only.
      data = data.subarray(hdrLen);
      hdrLen = 0;
    }
    let subject = msg.subjectBytes;
    let reply = msg.replyBytes;
    if (jsDeliver.prepare(msg)) {
      subject = jsDeliver.subject;
      reply = jsDeliver.reply;
    }
    this.output.writeMsg(accountBytes(account), subject, reply, queues, hdrLen, data);
    return true;
  }

  // ---- RouteProtocolHandler ----

  onInfo(json: string): void {
    this.host.routeInfo(this, json);
  }

  onConnect(json: string): void {
    if (this.authTimer !== null) {
      clearTimeout(this.authTimer);
      this.authTimer = null;
    }
    this.host.routeConnect(this, json);
  }

  onPing(): void {
    this.lastActivityMs = this.lastInMs;
    this.enqueue(PONG_LINE);
  }

  onPong(): void {
    this.gotPong();
  }

  onOk(): void {
    // ignored, as nats-server does
  }

  onErr(text: string): void {
    this.log('error', `Route Error ${text}`);
    this.close(RouteCloseReason.PARSE_ERROR, true);
  }

  private lookup(name: string): Account | undefined {
    const c = this.accountCache;
    if (c.name === name) return c.acc;
    const acc = this.host.lookupAccount(name);
    this.accountCache = { name, acc };
    return acc;
  }

  onRemoteSub(account: string, subject: string, queue: string | undefined, weight: number, origin: string | undefined): void {
    this.lastActivityMs = this.lastInMs;
    const acc = this.lookup(account);
    if (acc === undefined) {
      this.log('error', `Unknown account "${account}" for remote subject "${subject}"`);
      return;
    }
    if (!this.host.canExport(subject)) {
      this.log('debug', `Can not export "${subject}", ignoring remote subscription request`);
      return;
    }
    const key = queue === undefined ? `${account} ${subject}` : `${account} ${subject} ${queue}`;
    const existing = this.subs.get(key);
    if (existing === undefined) {
      const sub = new Subscription(subject, queue, key, this);
      if (queue !== undefined) sub.weight = weight;
      if (!acc.addSubscription(sub)) {
        this.log('error', `Could not insert subscription: invalid subject "${subject}"`);
        this.enqueueString(encodeErrLine('Invalid Subscription'));
        return;
      }
      this.subs.set(key, sub);
      if (origin !== undefined) this.log('trace', `LS+ ${origin} ${key}`);
    } else if (queue !== undefined && existing.weight !== weight) {
      // A queue group's member count changed on the peer: re-insert so matches see the new weight.
      acc.sublist.remove(existing);
      existing.weight = weight;
      acc.sublist.insert(existing);
    }
  }

  onRemoteUnsub(account: string, subject: string, queue: string | undefined): void {
    this.lastActivityMs = this.lastInMs;
    const key = queue === undefined ? `${account} ${subject}` : `${account} ${subject} ${queue}`;
    const sub = this.subs.get(key);
    if (sub === undefined) return;
    this.subs.delete(key);
    const acc = this.lookup(account);
    if (acc !== undefined) acc.removeSubscription(sub);
  }

  onRoutedMsg(args: RoutedMsgArgs, data: Buffer): void {
    const size = data.length;
    this.inMsgs++;
    this.inBytes += size;
    this.lastActivityMs = this.lastInMs;
    this.host.countIn(size);
    const acc = this.lookup(args.account);
    if (acc === undefined) {
      this.log('debug', `Unknown account "${args.account}" for routed message on subject: "${args.subject}"`);
      return;
    }
    const msg = this.inMsg;
    let origin = this.origins.get(args.account);
    if (origin === undefined) {
      origin = { cid: this.cid, account: args.account, kind: 'route' };
      this.origins.set(args.account, origin);
    }
    msg.origin = origin;
    msg.subject = args.subject;
    // A JetStream delivery: matched on args.subject, shown with the subject after '@'.
    takeRoutedReply(msg, args);
    msg.hdrLen = args.hdrLen;
    msg.data = data;
    acc.deliverRouted(msg, args.queues);
  }

  // ---- lifecycle ----

  /** Drop every remote subscription of this route from the account sublists. */
  private removeRemoteSubs(): void {
    for (const [key, sub] of this.subs) {
      const acc = sub.account ?? this.host.lookupAccount(key.slice(0, key.indexOf(' ')));
      if (acc !== null && acc !== undefined) acc.removeSubscription(sub);
    }
    this.subs.clear();
  }

  /**
   * Close the connection. With `flush`, what is queued (e.g. an -ERR) is written before the
   * socket is ended; otherwise the socket is destroyed at once.
   */
  close(reason: string, flush: boolean): void {
    if (this.closed) return;
    this.parser.stop();
    this.stopMs = Date.now();
    this.markClosed(reason, flush);
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.removeRemoteSubs();
    this.host.routeClosed(this);
  }

  /** Snapshot of the peer's interest for monitoring (subject [queue]). */
  subscriptionList(): { account: string; subject: string; queue?: string; weight: number }[] {
    const out: { account: string; subject: string; queue?: string; weight: number }[] = [];
    for (const [key, sub] of this.subs) {
      out.push({ account: key.slice(0, key.indexOf(' ')), subject: sub.subject, queue: sub.queue, weight: sub.weight });
    }
    return out;
  }
}
