// A client connection over a socket: parses what the client sends, routes its
// publishes, and queues MSG/HMSG frames for it (flushed once per event-loop turn).
//
// Readable state for monitoring (/connz): cid, kind, ip, port, startMs,
// lastActivityMs, rttMs, inMsgs/inBytes, outMsgs/outBytes, pendingBytes,
// subs (Map sid -> Subscription), opts (name/lang/version...), account,
// authorizedUser, closeReason, stopMs.
import type { Socket } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Options } from '../config/options.js';
import { ClientParser, ParseResult, type ClientOpHandler, type PubArgs } from '../protocol/client-parser.js';
import { Err, errFrame, OK, PING, PONG } from '../protocol/client-encode.js';
import { NO_RESPONDERS_HDR } from '../protocol/headers.js';
import { encodeName } from '../protocol/names.js';
import type { Account } from './account.js';
import {
  decodeConnect, defaultConnectOptions,
  type AuthResult, type ClientAuthenticator, type ClientPermissions, type ConnectOptions, type ConnectionAuthInfo,
} from './auth-hook.js';
import type { Logger } from './logger.js';
import { Outbound } from './outbound.js';
import { isValidLiteralSubject } from './subject.js';
import { ClientKind, EMPTY_BUFFER, InboundMsg, Subscription, type MsgSink, type SublistResult } from './types.js';
import { deliverResult } from './deliver.js';
import { SocketWriter, type ByteStream } from './socket-writer.js';
import { redactConnect } from './redact.js';
import { ResponsePermits } from './response-permits.js';
import { PingAction, pingTimerAction } from './keepalive.js';
import { negotiateClientTls } from '../tls/client-upgrade.js';
import { tlsVersionName, type TlsSettings } from '../tls/settings.js';
import { Expiry } from './expiry.js';

/** Closed-connection reasons (nats-server ClosedState strings). */
export const CloseReason = {
  CLIENT_CLOSED: 'Client Closed',
  AUTH_TIMEOUT: 'Authentication Timeout',
  AUTH_VIOLATION: 'Authentication Failure',
  SLOW_CONSUMER_PENDING: 'Slow Consumer (Pending Bytes)',
  SLOW_CONSUMER_DEADLINE: 'Slow Consumer (Write Deadline)',
  WRITE_ERROR: 'Write Error',
  READ_ERROR: 'Read Error',
  PARSE_ERROR: 'Parse Error',
  STALE: 'Stale Connection',
  PROTOCOL_VIOLATION: 'Protocol Violation',
  BAD_CLIENT_PROTOCOL: 'Bad Client Protocol Version',
  MAX_CONNECTIONS: 'Maximum Connections Exceeded',
  MAX_PAYLOAD: 'Maximum Message Payload Exceeded',
  MAX_CONTROL_LINE: 'Maximum Control Line Exceeded',
  MAX_SUBSCRIPTIONS: 'Maximum Subscriptions Exceeded',
  SERVER_SHUTDOWN: 'Server Shutdown',
  MSG_HEADER_VIOLATION: 'Message Header Violation',
  NO_RESPONDERS_REQUIRES_HEADERS: 'No Responders Requires Headers',
  KICKED: 'Kicked',
  TLS_HANDSHAKE: 'TLS Handshake Failure',
  AUTH_EXPIRED: 'Authentication Expired',
  MAX_ACCOUNT_CONNECTIONS: 'Maximum Account Connections Exceeded',
  REVOKED: 'Credentials Revoked',
} as const;

/** Server-wide counters the clients update (/varz). */
export class ServerStats {
  inMsgs = 0;
  inBytes = 0;
  outMsgs = 0;
  outBytes = 0;
  slowConsumers = 0;
  staleConnections = 0;
  totalConnections = 0;
}

/** What a client connection needs from its server. */
export interface ClientHost {
  readonly options: Options;
  readonly log: Logger;
  readonly stats: ServerStats;
  readonly globalAccount: Account;
  readonly systemAccount: Account;
  readonly authenticator: ClientAuthenticator | null;
  /** INFO JSON for this client (with client_id, client_ip, nonce) */
  infoJsonFor(client: Client): string;
  /** INFO JSON sent to this client once it is connected (nats-server generateClientInfoJSON):
   *  no nonce, and max_payload is the client's own limit */
  asyncInfoJsonFor(client: Client): string;
  /** when the cluster's client URLs (INFO connect_urls) last changed, ms since the epoch; 0: never */
  readonly connectUrlsChangedMs: number;
  /** queue the client for a flush at the end of this event-loop turn */
  scheduleFlush(client: Client): void;
  /** flush every queued client now (before replaying input held during authentication) */
  flushPending(): void;
  /** a socket read of `bytes` (`msgs` messages) from `reader` was parsed: flushes at once only
   *  after a long burst or when the reader alone has output (otherwise at the end of the turn) */
  afterRead(reader: Client, bytes: number, msgs: number): void;
  /** the client is closed: remove its subscriptions (flagged closed) from its account, remove it
   *  from the registries and record it; the host may do this on a later turn */
  clientClosed(client: Client): void;
  /** the client's first CONNECT was accepted (system account connect event) */
  clientConnected?(client: Client): void;
  /** TLS of the client port (null: plaintext only) */
  readonly clientTls?: { settings: TlsSettings; allowNonTls: boolean } | null;
}

/** How a client reached the server: the client port (TCP) or another listener (websocket). */
export interface ClientConn {
  /** nats-server connection type, for allowed_connection_types: STANDARD, WEBSOCKET */
  readonly type: string;
  /** log label id prefix: nats-server writes cid for TCP clients, wid for websocket ones */
  readonly tag: string;
  /** the listener's own authenticator (websocket authorization/no_auth_user); else the server's */
  readonly authenticator?: ClientAuthenticator | null;
  /** the listener's own authorization timeout */
  readonly authTimeoutMs?: number;
}

export const TCP_CONN: ClientConn = { type: 'STANDARD', tag: 'cid' };

const SYS_QUEUE = '_sys_';
const JS_ACK_PREFIX = '$JS.ACK.';
const SERVICE_REPLY_PREFIX = '_R_.';
const GW_REPLY_PREFIX = '$GNR.';
const NRG_PREFIX = '$NRG.';

export class Client implements ClientOpHandler, MsgSink {
  readonly kind: ClientKind = ClientKind.CLIENT;
  readonly ip: string;
  readonly port: number;
  readonly startMs = Date.now();
  lastActivityMs = this.startMs;
  /** last time anything was read from the socket */
  private lastInMs = this.startMs;
  rttMs = 0;
  private rttStartMs = 0;
  private rttMeasuredMs = 0;
  inMsgs = 0;
  inBytes = 0;
  outMsgs = 0;
  outBytes = 0;
  readonly subs = new Map<string, Subscription>();
  opts: ConnectOptions = defaultConnectOptions();
  account: Account;
  authorizedUser = '';
  permissions: ClientPermissions | null = null;
  /** reply subjects this client may answer (response permissions only; set with `permissions`) */
  private responsePermits: ResponsePermits | null = null;
  /** client supports HPUB/HMSG (CONNECT headers:true and server allows) */
  headers = false;
  // Hot CONNECT flags copied out of `opts` (read for every message).
  private verbose = true;
  private pedantic = true;
  private noEcho = false;
  private noResponders = false;
  connectReceived = false;
  nonce: string | undefined;
  closed = false;
  closeReason = '';
  stopMs = 0;
  /** TLS version / cipher once the handshake is done (connz tls_version, tls_cipher_suite) */
  tlsVersion: string | undefined;
  tlsCipher: string | undefined;
  /** the client's certificate (verify / verify_and_map) */
  peerCert: X509Certificate | undefined;
  /** INFO went before the TLS handshake was done (handshake_first sends it after) */
  private tlsPending = false;
  /** input read while an asynchronous authentication (bcrypt) runs; null when none runs */
  private heldInput: Buffer[] | null = null;

  private readonly parser: ClientParser;
  private readonly out = new Outbound();
  /** Writes `out` to the socket; knows the kernel's backlog and the write deadline. */
  private writer: SocketWriter;
  flushQueued = false;
  private pingsOut = 0;
  private pingTimer: NodeJS.Timeout | null = null;
  private authTimer: NodeJS.Timeout | null = null;
  private readonly msg: InboundMsg;
  private l1Subject = '';
  private l1Genid = -1;
  private l1Result: SublistResult | null = null;
  private maxPayload: number;
  /** the PONG to the first PING after CONNECT was sent (nats-server firstPongSent) */
  private firstPongSent = false;
  private maxPending: number;
  private maxSubs: number;
  private awaitingAuth = false;
  /** limits from the credentials (JWT user/account; -1 = none), combined with the options' in applyLimits */
  private authMaxSubs = -1;
  private authMaxPayload = -1;
  private readonly expiry = new Expiry();

  /** `socket` is a net.Socket on the client port (replaced by its TLSSocket after a TLS
   *  upgrade), or a transport adapter of another listener (`conn` says which: websocket). */
  constructor(
    readonly cid: number, private socket: ByteStream, private readonly host: ClientHost,
    readonly conn: ClientConn = TCP_CONN,
  ) {
    this.ip = socket.remoteAddress?.replace(/^::ffff:/, '') ?? '';
    this.port = socket.remotePort ?? 0;
    const o = host.options;
    // -1 = no limit (the options say 0 for that)
    this.maxPayload = combineLimit(o.maxPayloadBytes, -1);
    this.maxPending = o.maxPendingBytes;
    this.maxSubs = combineLimit(o.maxSubscriptions, -1);
    this.parser = new ClientParser(this, o.maxControlLineBytes);
    this.writer = new SocketWriter(socket, this.onWriteDeadline);
    this.account = host.globalAccount;
    this.msg = new InboundMsg({ cid, account: this.account.name, kind: 'client' });
  }

  /** Accept-time setup: send INFO, arm timers, start reading. Returns false if
   *  the connection was refused (`refuse` is an -ERR text to send after INFO). */
  start(refuse?: string): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    const auth = this.authenticator;
    this.awaitingAuth = auth !== null && auth.authRequired && !auth.noAuthUser;
    this.parser.awaitingAuth = this.awaitingAuth;
    this.account.numClients++;
    // The client port's TLS; a websocket listener does its own (none yet).
    const tls = this.conn === TCP_CONN ? this.host.clientTls : null;
    if (tls && refuse === undefined) {
      this.startTls(tls.settings, tls.allowNonTls);
      return;
    }
    this.listen(socket);
    this.sendNow(Buffer.from(`INFO ${this.host.infoJsonFor(this)} \r\n`));
    if (refuse !== undefined) {
      this.sendErrAndClose(refuse, CloseReason.MAX_CONNECTIONS);
      return;
    }
    this.armTimers();
  }

  private listen(socket: ByteStream): void {
    socket.on('data', this.onData);
    socket.on('error', this.onSocketError);
    socket.on('close', this.onSocketClose);
  }

  /** TLS before anything is read (see tls/client-upgrade.ts); timers start once it is done,
   *  as nats-server arms the auth timer after the handshake. */
  private startTls(settings: TlsSettings, allowNonTls: boolean): void {
    this.tlsPending = true;
    negotiateClientTls(this.socket as Socket, settings, allowNonTls, {
      sendInfo: (sock) => {
        sock.write(`INFO ${this.host.infoJsonFor(this)} \r\n`);
      },
      ready: (sock, pre, secure) => {
        if (this.closed) {
          sock.destroy();
          return;
        }
        this.tlsPending = false;
        if (secure !== null) this.secured(secure);
        if (sock !== this.socket) {
          this.socket = sock;
          this.writer = new SocketWriter(sock, this.onWriteDeadline);
        }
        this.listen(sock);
        this.armTimers();
        if (pre !== null) this.onData(pre);
        sock.setNoDelay(true);
        sock.resume();
        if (this.out.pending > 0) this.requestFlush();
      },
      failed: (log) => {
        if (this.closed) return;
        for (const l of log) this.host.log.error(`${this.label()} - ${l}`);
        this.close(CloseReason.TLS_HANDSHAKE, false);
      },
      gone: () => this.close(CloseReason.CLIENT_CLOSED, false),
    });
  }

  private secured(sock: TLSSocket): void {
    this.tlsVersion = tlsVersionName(sock);
    this.tlsCipher = sock.getCipher()?.standardName;
    this.peerCert = sock.getPeerX509Certificate();
    this.host.log.debug(`${this.label()} - TLS handshake complete`);
    this.host.log.debug(`${this.label()} - TLS version ${this.tlsVersion}, cipher suite ${this.tlsCipher ?? ''}`);
  }

  private armTimers(): void {
    const auth = this.authenticator;
    if (auth !== null && auth.authRequired) {
      if (auth.noAuthUser) {
        // no_auth_user: ops before CONNECT run as that user; a CONNECT with
        // credentials authenticates again.
        // No credentials: answered at once (only password checks run asynchronously).
        const res = auth.authenticate(defaultConnectOptions(), this.authInfo());
        if (res !== null && !(res instanceof Promise)) {
          this.bindAccount(res.account);
          this.authorizedUser = res.user ?? '';
          this.setPermissions(res.permissions);
        }
      } else {
        this.authTimer = setTimeout(this.onAuthTimeout, this.conn.authTimeoutMs ?? this.host.options.authTimeoutMs);
      }
    }
    this.setPingTimer(this.host.options.pingIntervalMs);
  }

  /** Who checks this client's credentials: its listener's authenticator, else the server's. */
  get authenticator(): ClientAuthenticator | null {
    const own = this.conn.authenticator;
    return own !== undefined ? own : this.host.authenticator;
  }

  private authInfo(): ConnectionAuthInfo {
    return {
      cid: this.cid, ip: this.ip, port: this.port, nonce: this.nonce, tlsCert: this.peerCert, connectionType: this.conn.type,
    };
  }

  // ---- socket events ----

  private readonly onData = (buf: Buffer): void => {
    this.lastInMs = Date.now();
    if (this.heldInput !== null) {
      // Authentication is still running: nothing after the CONNECT is looked at yet.
      this.heldInput.push(buf);
      return;
    }
    const msgs0 = this.inMsgs;
    let r: ParseResult;
    try {
      r = this.parser.parse(buf);
    } catch (e) {
      // A bug must cost this connection, never the server.
      this.host.log.error(`${this.label()} - internal error while processing client data: ${(e as Error)?.stack ?? e}`);
      this.close(CloseReason.PROTOCOL_VIOLATION, true);
      return;
    }
    // What this read queued is usually written at the end of the event-loop turn, with what
    // the next reads of the same poll phase queue (one write per burst instead of one per
    // 'data' event; see server/flush-queue.ts).
    this.host.afterRead(this, buf.length, this.inMsgs - msgs0);
    if (r === ParseResult.OK || r === ParseResult.STOPPED) return;
    if (r === ParseResult.SUSPENDED) {
      // The read buffer is copied: what follows the CONNECT is parsed once authentication settles.
      const rest = buf.subarray(this.parser.resumeOffset);
      // (onConnect set heldInput during parse())
      if (rest.length > 0) (this.heldInput as Buffer[] | null)?.push(Buffer.from(rest));
      return;
    }
    switch (r) {
      case ParseResult.UNKNOWN_OP:
        this.host.log.error(`${this.label()} - Client parser ERROR, state: unknown protocol operation`);
        this.sendErrAndClose(Err.UNKNOWN_PROTOCOL, CloseReason.PROTOCOL_VIOLATION);
        break;
      case ParseResult.MAX_CONTROL_LINE:
        this.sendErrAndClose(Err.MAX_CONTROL_LINE, CloseReason.MAX_CONTROL_LINE);
        break;
      case ParseResult.AUTH_VIOLATION:
        this.authViolation();
        break;
      case ParseResult.BAD_ARGS:
        this.host.log.error(`${this.label()} - Client parser ERROR: malformed protocol arguments`);
        this.close(CloseReason.PROTOCOL_VIOLATION, true);
        break;
    }
  };

  private readonly onSocketError = (err: Error): void => {
    const code = (err as NodeJS.ErrnoException).code;
    if (!this.closed) this.host.log.debug(`${this.label()} - Client connection error: ${code ?? err.message}`);
    this.close(code === 'EPIPE' ? CloseReason.WRITE_ERROR : code === 'ECONNRESET' ? CloseReason.CLIENT_CLOSED : CloseReason.READ_ERROR, false);
  };

  private readonly onSocketClose = (): void => {
    this.close(CloseReason.CLIENT_CLOSED, false);
  };

  // ---- timers ----

  private readonly onAuthTimeout = (): void => {
    this.authTimer = null;
    if (this.closed || this.connectReceived) return;
    this.sendErrAndClose(Err.AUTH_TIMEOUT, CloseReason.AUTH_TIMEOUT);
  };

  private setPingTimer(delayMs: number): void {
    if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    if (delayMs <= 0) return;
    this.pingTimer = setTimeout(this.onPingTimer, delayMs);
    // Idle connections must not keep an embedding process alive on their own.
    this.pingTimer.unref();
  }

  private readonly onPingTimer = (): void => {
    this.pingTimer = null;
    if (this.closed) return;
    const o = this.host.options;
    const now = Date.now();
    const action = pingTimerAction(now, this.lastInMs, this.rttMeasuredMs, this.pingsOut, o.pingIntervalMs, o.pingMax);
    if (action === PingAction.Skip) {
      this.setPingTimer(o.pingIntervalMs);
      return;
    }
    if (action === PingAction.Stale) {
      this.host.log.debug(`${this.label()} - Stale Client Connection - Closing`);
      this.host.stats.staleConnections++;
      this.sendErrAndClose(Err.STALE_CONNECTION, CloseReason.STALE);
      return;
    }
    this.pingsOut++;
    this.rttStartMs = now;
    this.enqueue(PING);
    this.setPingTimer(o.pingIntervalMs);
  };

  // ---- output ----

  /** Queue raw protocol bytes; flushed at the end of this event-loop turn. */
  enqueue(buf: Buffer): void {
    if (this.closed) return;
    this.out.write(buf);
    this.requestFlush();
  }

  private requestFlush(): void {
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.host.scheduleFlush(this);
    }
  }

  /** Bytes queued for this client and not yet written by the kernel (connz pending_bytes). */
  get pendingBytes(): number {
    return this.out.pending + this.writer.buffered;
  }

  /** Write everything queued to the socket (called by the server's flush loop). */
  flush(): void {
    this.flushQueued = false;
    if (this.closed || this.tlsPending) return;
    const bufs = this.out.take();
    if (bufs === null) return;
    this.writer.write(bufs, this.host.options.writeDeadlineMs);
    if (this.writer.buffered > this.maxPending) this.slowConsumer(CloseReason.SLOW_CONSUMER_PENDING);
  }

  private readonly onWriteDeadline = (): void => {
    if (!this.closed) this.slowConsumer(CloseReason.SLOW_CONSUMER_DEADLINE);
  };

  private slowConsumer(reason: string): void {
    if (this.closed) return;
    this.host.stats.slowConsumers++;
    if (reason === CloseReason.SLOW_CONSUMER_PENDING) {
      this.host.log.info(`${this.label()} - Slow Consumer Detected: MaxPending of ${this.maxPending} Exceeded`);
    } else {
      this.host.log.info(`${this.label()} - Slow Consumer Detected: WriteDeadline of ${this.host.options.writeDeadlineMs}ms Exceeded`);
    }
    // nats-server sends no -ERR to a slow consumer: the connection is just cut.
    this.close(reason, false);
  }

  /** Write immediately (INFO on accept). */
  private sendNow(buf: Buffer): void {
    this.out.write(buf);
    this.flush();
  }

  sendErr(text: string): void {
    this.enqueue(errFrame(text));
  }

  /** -ERR then close once the error has been written. */
  sendErrAndClose(text: string, reason: string): void {
    if (this.closed) return;
    this.out.write(errFrame(text));
    this.close(reason, true);
  }

  /** Async INFO (lame duck, connect_urls changes): only to protocol>=1 clients. */
  sendAsyncInfo(json: string): void {
    // Until its first PONG a client is not fully registered: what changed meanwhile is sent with
    // that PONG (onPing), as nats-server's sendAsyncInfoToClients skips such clients.
    if (this.closed || !this.firstPongSent || this.opts.protocol < 1) return;
    this.enqueue(Buffer.from(`INFO ${json} \r\n`));
  }

  // ---- MsgSink ----

  deliverMsg(sub: Subscription, msg: InboundMsg): boolean {
    if (this.closed) return false;
    const perms = this.permissions;
    if (perms !== null && perms.canDeliver !== undefined && !perms.canDeliver(msg.subject, sub.queue)) return false;
    let sid = sub.sidBytes;
    if (sid === null) sid = sub.sidBytes = encodeName(` ${sub.sid} `);
    const wasEmpty = this.out.pending === 0;
    let size: number;
    // Subject and reply are written from their ranges (a routed delivery's are parts of the read buffer).
    const out = this.out;
    if (msg.hdrLen > 0) {
      if (this.headers) {
        out.writeMsg(msg.subjectSrc, msg.subjectStart, msg.subjectEnd, sid, msg.replySrc, msg.replyStart, msg.replyEnd, msg.hdrLen, msg.data);
        size = msg.data.length;
      } else {
        // Non-header clients get the payload only.
        const payload = msg.data.subarray(msg.hdrLen);
        out.writeMsg(msg.subjectSrc, msg.subjectStart, msg.subjectEnd, sid, msg.replySrc, msg.replyStart, msg.replyEnd, 0, payload);
        size = payload.length;
      }
    } else {
      out.writeMsg(msg.subjectSrc, msg.subjectStart, msg.subjectEnd, sid, msg.replySrc, msg.replyStart, msg.replyEnd, 0, msg.data);
      size = msg.data.length;
    }
    this.outMsgs++;
    this.outBytes += size;
    if (this.host.log.traceEnabled) {
      const hdr = msg.hdrLen > 0 && this.headers;
      this.traceOp('->>', `${hdr ? 'HMSG' : 'MSG'} ${msg.subject} ${sub.sid}${msg.reply ? ' ' + msg.reply : ''}${hdr ? ' ' + msg.hdrLen : ''} ${size}`);
    }
    const stats = this.host.stats;
    stats.outMsgs++;
    stats.outBytes += size;
    sub.nmsgs++;
    if (this.responsePermits !== null && msg.reply.length > 0) this.responsePermits.received(msg.reply);
    if (sub.max > 0 && sub.nmsgs >= sub.max) this.removeSub(sub);
    if (wasEmpty) this.requestFlush();
    if (this.out.pending + this.writer.buffered > this.maxPending) this.slowConsumer(CloseReason.SLOW_CONSUMER_PENDING);
    return true;
  }

  // ---- ClientOpHandler ----

  onConnect(json: string): boolean {
    if (this.host.log.traceEnabled) this.traceOp('<<-', `CONNECT ${redactConnect(json)}`);
    if (this.authTimer !== null) {
      clearTimeout(this.authTimer);
      this.authTimer = null;
    }
    this.lastActivityMs = Date.now();
    const opts = decodeConnect(json, this.opts);
    if (opts === null) {
      this.host.log.error(`${this.label()} - Client parser ERROR: invalid CONNECT JSON`);
      this.close(CloseReason.PROTOCOL_VIOLATION, true);
      return false;
    }
    // A websocket client without a JWT in CONNECT uses the one of its handshake cookie (nats-server).
    if (!opts.jwt && this.socket.cookieJwt) opts.jwt = this.socket.cookieJwt;
    const first = !this.connectReceived;
    if (first) this.rttMs = Math.max(0.001, Date.now() - this.startMs);
    this.opts = opts;
    this.verbose = opts.verbose;
    this.pedantic = opts.pedantic;
    this.noEcho = !opts.echo;
    this.noResponders = opts.no_responders;
    this.connectReceived = true;
    this.headers = !this.host.options.noHeaderSupport && opts.headers;
    // A second CONNECT may switch accounts: drop subscriptions first.
    if (!first) this.clearSubs();

    const auth = this.authenticator;
    if (auth !== null && auth.authRequired) {
      const res = auth.authenticate(opts, this.authInfo());
      if (res instanceof Promise) {
        // Checked off the event loop: hold this connection's input (and reads) until it settles.
        this.parser.suspend();
        this.heldInput = [];
        this.socket.pause();
        res.then((r) => this.connectAuthenticated(opts, first, r), () => this.connectAuthenticated(opts, first, null));
        return true;
      }
      return this.connectAuthenticated(opts, first, res);
    }
    return this.connectAuthenticated(opts, first, undefined);
  }

  /** The rest of CONNECT once authentication is known (`undefined`: no authentication configured). */
  private connectAuthenticated(opts: ConnectOptions, first: boolean, res: AuthResult | null | undefined): boolean {
    const held = this.heldInput;
    this.heldInput = null;
    if (this.closed) return false;
    const ok = this.finishConnect(opts, first, res);
    if (held !== null) {
      // Asynchronous case: replay what arrived meanwhile, then read again.
      this.host.flushPending();
      if (!ok || this.closed) return ok;
      for (const b of held) this.onData(b);
      // A replayed CONNECT may have started another check: keep holding until it settles.
      if (!this.closed && this.heldInput === null) this.socket.resume();
    }
    return ok;
  }

  private finishConnect(opts: ConnectOptions, first: boolean, res: AuthResult | null | undefined): boolean {
    if (res === null) {
      this.authViolation();
      return false;
    }
    if (res !== undefined) {
      this.bindAccount(res.account);
      this.authorizedUser = res.user ?? '';
      this.setPermissions(res.permissions);
      if (!this.applyCredentialLimits(res)) return false;
    }
    if (opts.new_account || (opts.account !== undefined && opts.account !== '')) {
      this.authViolation();
      return false;
    }
    this.awaitingAuth = false;
    this.parser.awaitingAuth = false;

    if (opts.protocol < 0 || opts.protocol > 1) {
      this.sendErrAndClose(Err.BAD_CLIENT_PROTOCOL, CloseReason.BAD_CLIENT_PROTOCOL);
      return false;
    }
    if (opts.no_responders && !this.headers) {
      this.sendErrAndClose(Err.NO_RESPONDERS_REQUIRES_HEADERS, CloseReason.NO_RESPONDERS_REQUIRES_HEADERS);
      return false;
    }
    if (this.verbose) this.enqueue(OK);
    if (first) {
      const o = this.host.options;
      // The first PING goes out ~2s after CONNECT (+ up to 20%) to measure RTT.
      const firstPing = Math.min(o.pingIntervalMs, 2000);
      this.setPingTimer(firstPing + Math.floor(Math.random() * (firstPing / 5)));
      this.host.log.debug(`${this.label()} - Client connection created`);
      this.host.clientConnected?.(this);
    }
    return true;
  }

  private bindAccount(acc: Account): void {
    if (acc === this.account) return;
    this.account.numClients--;
    this.account = acc;
    acc.numClients++;
    this.msg.origin = { cid: this.cid, account: acc.name, kind: 'client' };
  }

  /** Limits and expiry that come with the credentials (operator mode); false = refused. */
  private applyCredentialLimits(res: AuthResult): boolean {
    const maxConns = res.accountMaxConnections ?? -1;
    // nats-server counts the account's leaf connections with its clients (this one included)
    if (maxConns >= 0 && this.account.numClients + this.account.numLeafs > maxConns) {
      this.host.log.error(`${this.label()} - ${Err.MAX_ACCOUNT_CONNECTIONS}`);
      this.sendErrAndClose(Err.MAX_ACCOUNT_CONNECTIONS, CloseReason.MAX_ACCOUNT_CONNECTIONS);
      return false;
    }
    this.authMaxSubs = res.maxSubs ?? -1;
    this.authMaxPayload = res.maxPayload ?? -1;
    this.applyLimits(this.host.options);
    if (this.maxSubs >= 0 && this.subs.size >= this.maxSubs) {
      // nats-server subsAtLimit: credentials that allow no subscriptions at all, or (an account
      // update) a limit the client's subscriptions already reach, are told and closed
      this.host.log.error(`${this.label()} - ${Err.MAX_SUBSCRIPTIONS}`);
      this.sendErrAndClose(Err.MAX_SUBSCRIPTIONS, CloseReason.MAX_SUBSCRIPTIONS);
      return false;
    }
    this.expiry.clear();
    if (res.expires !== undefined) this.armExpiry(res.expires.atMs, res.expires.error);
    return true;
  }

  /**
   * The credentials were checked again (the account JWT changed): apply the new limits, or
   * close the connection as nats-server does (`res` null = no longer valid). The permissions
   * stay those of the CONNECT: nats-server 2.9.10 gives new default permissions only to
   * connections made after the update.
   */
  credentialsChanged(res: AuthResult | null, revoked: boolean, overConnectionLimit: boolean): void {
    if (this.closed) return;
    if (overConnectionLimit) {
      this.host.log.error(`${this.label()} - ${Err.MAX_ACCOUNT_CONNECTIONS}`);
      this.sendErrAndClose(Err.MAX_ACCOUNT_CONNECTIONS, CloseReason.MAX_ACCOUNT_CONNECTIONS);
    } else if (revoked) {
      this.host.log.debug(`${this.label()} - User Authentication Revoked`);
      this.sendErrAndClose('User Authentication Revoked', CloseReason.REVOKED);
    } else if (res === null) {
      this.authViolation();
    } else {
      this.applyCredentialLimits({ ...res, accountMaxConnections: -1 });
    }
  }

  /**
   * A config reload replaced the users: check this client's CONNECT again, as nats-server's
   * reloadAuthorization does. A user that is gone or now belongs to another account is closed
   * without an -ERR (nats-server closes it so that it reconnects); credentials no longer
   * accepted get 'Authorization Violation'; otherwise the new permissions apply and each
   * subscription they deny is removed with an -ERR naming it.
   */
  authorizationReloaded(): void {
    if (this.closed || !this.connectReceived) return;
    const auth = this.authenticator;
    const named = this.opts.nkey ? this.opts.nkey : this.opts.user;
    if (named) {
      // With no users configured any more the user is gone too.
      const acc = auth === null ? null : auth.userAccount?.(this.opts);
      if (acc !== undefined && acc !== this.account.name) {
        this.close(CloseReason.CLIENT_CLOSED, true);
        return;
      }
    }
    // No authentication any more: the client keeps what it has (nats-server lets it be).
    if (auth === null || !auth.authRequired) return;
    const res = auth.authenticate(this.opts, this.authInfo());
    if (res instanceof Promise) void res.then((r) => this.reauthenticated(r));
    else this.reauthenticated(res);
  }

  private reauthenticated(res: AuthResult | null): void {
    if (this.closed) return;
    if (res === null) return this.authViolation();
    if (res.account !== this.account) {
      this.close(CloseReason.CLIENT_CLOSED, true);
      return;
    }
    this.authorizedUser = res.user ?? '';
    this.setPermissions(res.permissions);
    if (!this.applyCredentialLimits({ ...res, accountMaxConnections: -1 })) return;
    this.dropDeniedSubs();
  }

  /** nats-server processSubsOnConfigReload: a queue subscription stays if its subject alone or with its queue is allowed. */
  private dropDeniedSubs(): void {
    const perms = this.permissions;
    if (perms === null) return;
    for (const sub of [...this.subs.values()]) {
      if (perms.canSubscribe(sub.subject)) continue;
      if (sub.queue !== undefined && perms.canSubscribe(sub.subject, sub.queue)) continue;
      this.removeSub(sub);
      this.sendErr(Err.subRemoved(sub.subject, sub.sid));
      this.host.log.info(`Removed sub "${sub.subject}" (sid "${sub.sid}") for ${this.authLabel()} - not authorized`);
    }
  }

  /** Who the client is in log lines (nats-server getAuthUser). */
  private authLabel(): string {
    if (this.opts.nkey) return `Nkey "${this.opts.nkey}"`;
    if (this.opts.user) return `User "${this.opts.user}"`;
    if (this.opts.jwt) return `JWT User "${this.authorizedUser}"`;
    return 'User "N/A"';
  }

  private setPermissions(p: ClientPermissions | null | undefined): void {
    this.permissions = p ?? null;
    const rp = p?.responses;
    // New permissions start with no answerable replies, as nats-server's setPermissions.
    this.responsePermits = rp === undefined ? null : new ResponsePermits(rp.max, rp.expiresMs);
  }

  private armExpiry(atMs: number, error: string): void {
    this.expiry.set(atMs, () => {
      if (this.closed) return;
      this.host.log.debug(`${this.label()} - ${error}`);
      this.sendErrAndClose(error, CloseReason.AUTH_EXPIRED);
    });
  }

  private authViolation(): void {
    this.host.log.error(`${this.label()} - authentication error`);
    this.sendErrAndClose(Err.AUTH_VIOLATION, CloseReason.AUTH_VIOLATION);
  }

  onPubArgs(pa: PubArgs): boolean {
    if (this.host.log.traceEnabled) {
      const op = pa.hdrLen >= 0 ? 'HPUB' : 'PUB';
      this.traceOp('<<-', `${op} ${pa.subject}${pa.reply ? ' ' + pa.reply : ''}${pa.hdrLen >= 0 ? ' ' + pa.hdrLen : ''} ${pa.size}`);
    }
    if (pa.hdrLen >= 0 && !this.headers) {
      // HPUB from a client that did not negotiate headers: closed without -ERR.
      this.host.log.error(`${this.label()} - message headers not supported`);
      this.close(CloseReason.MSG_HEADER_VIOLATION, true);
      return false;
    }
    if (this.maxPayload >= 0 && pa.size > this.maxPayload) {
      this.host.log.error(`${this.label()} - Maximum Payload Violation: ${pa.size} vs ${this.maxPayload}`);
      this.sendErrAndClose(Err.MAX_PAYLOAD, CloseReason.MAX_PAYLOAD);
      return false;
    }
    if (this.pedantic && !isValidLiteralSubject(pa.subject)) {
      this.sendErr(Err.INVALID_PUBLISH_SUBJECT);
    }
    return true;
  }

  onMsg(pa: PubArgs, buf: Buffer, start: number, end: number): void {
    const size = end - start;
    this.inMsgs++;
    this.inBytes += size;
    this.lastActivityMs = this.lastInMs;
    const stats = this.host.stats;
    stats.inMsgs++;
    stats.inBytes += size;
    const acc = this.account;
    acc.stats.inMsgs++;
    acc.stats.inBytes += size;

    const subject = pa.subject;
    const reply = pa.reply;
    if (this.permissions !== null && !this.permissions.canPublish(subject)
      && (this.responsePermits === null || !this.responsePermits.respond(subject))) {
      this.host.log.error(`${this.label()} - Publish Violation - Subject "${subject}"`);
      this.sendErr(Err.pubViolation(subject));
      return;
    }
    if (subject.charCodeAt(0) === 36 /* $ */ && (
      (subject.length > GW_REPLY_PREFIX.length && subject.startsWith(GW_REPLY_PREFIX))
      // raft traffic belongs to the system account
      || (subject.startsWith(NRG_PREFIX) && acc !== this.host.systemAccount))) {
      this.host.log.error(`${this.label()} - Publish Violation - Subject "${subject}"`);
      this.sendErr(Err.pubViolation(subject));
      return;
    }
    if (reply.length > 0 && isReservedReply(reply)) {
      this.sendErr(Err.replyViolation(reply));
      return;
    }
    if (this.verbose) this.enqueue(OK);

    // Per-connection L1 match cache: the parser hands back the same subject
    // string for repeated subjects, and the sublist genid tells if it is stale.
    const sl = acc.sublist;
    let r = this.l1Result;
    if (subject !== this.l1Subject || sl.genid !== this.l1Genid || r === null) {
      r = sl.match(subject);
      this.l1Subject = subject;
      this.l1Genid = sl.genid;
      this.l1Result = r;
    }
    let delivered = 0;
    if (r.psubs.length > 0 || r.qsubs.length > 0) {
      const msg = this.msg;
      msg.subject = subject;
      msg.setSubjectRange(pa.subjectSrc, pa.subjectStart, pa.subjectEnd);
      msg.reply = reply;
      msg.replyBytes = pa.replyBytes;
      msg.hdrLen = pa.hdrLen;
      // No view for an empty payload (every JetStream ack is one).
      msg.data = end > start ? buf.subarray(start, end) : EMPTY_BUFFER;
      delivered = deliverResult(acc, r, msg, this, this.noEcho, false, null);
    }
    if (delivered === 0 && reply.length > 0 && this.noResponders) {
      this.sendNoResponders(subject, pa.replyBytes!, reply);
    }
  }

  /** 503 status to the requester's own subscription on the reply subject (2.9.10 bytes). */
  private sendNoResponders(_subject: string, replyBytes: Buffer, reply: string): void {
    const r = this.account.sublist.match(reply);
    for (const sub of r.psubs) {
      if (sub.owner === this) {
        let sid = sub.sidBytes;
        if (sid === null) sid = sub.sidBytes = encodeName(` ${sub.sid} `);
        this.out.writeMsg(replyBytes, 0, replyBytes.length, sid, replyBytes, -1, -1, NO_RESPONDERS_HDR.length, NO_RESPONDERS_HDR);
        this.requestFlush();
        return;
      }
    }
  }

  onSub(subject: string, queue: string | undefined, sid: string): void {
    if (this.host.log.traceEnabled) this.traceOp('<<-', `SUB ${subject}${queue !== undefined ? ' ' + queue : ''} ${sid}`);
    this.lastActivityMs = this.lastInMs;
    const perms = this.permissions;
    if (queue !== undefined) {
      if ((perms !== null && !perms.canSubscribe(subject, queue)) || queue === SYS_QUEUE) {
        this.host.log.error(`${this.label()} - Subscription Violation - Subject "${subject}", Queue: "${queue}"`);
        this.sendErr(Err.queueSubViolation(subject, queue));
        return;
      }
    } else if (perms !== null && !perms.canSubscribe(subject)) {
      this.host.log.error(`${this.label()} - Subscription Violation - Subject "${subject}"`);
      this.sendErr(Err.subViolation(subject));
      return;
    }
    const maxTokens = this.host.options.maxSubTokens;
    if (maxTokens > 0 && subject.split('.').length > maxTokens) {
      this.sendErr(Err.tooManyTokens(subject));
      return;
    }
    if (this.maxSubs >= 0 && this.subs.size >= this.maxSubs) {
      this.host.log.error(`${this.label()} - Maximum Subscriptions Exceeded (${this.maxSubs})`);
      this.sendErr(Err.MAX_SUBSCRIPTIONS);
      return;
    }
    // Re-using a sid keeps the first subscription (still +OK when verbose).
    if (!this.subs.has(sid)) {
      const sub = new Subscription(subject, queue, sid, this);
      if (!this.account.addSubscription(sub)) {
        this.sendErr(Err.INVALID_SUBJECT);
        return;
      }
      this.subs.set(sid, sub);
    }
    if (this.verbose) this.enqueue(OK);
  }

  onUnsub(sid: string, max: number): void {
    if (this.host.log.traceEnabled) this.traceOp('<<-', `UNSUB ${sid}${max >= 0 ? ' ' + max : ''}`);
    this.lastActivityMs = this.lastInMs;
    const sub = this.subs.get(sid);
    if (sub !== undefined) {
      if (max > 0 && max > sub.nmsgs) sub.max = max;
      else this.removeSub(sub);
    }
    if (this.verbose) this.enqueue(OK);
  }

  private removeSub(sub: Subscription): void {
    if (this.subs.get(sub.sid) === sub) this.subs.delete(sub.sid);
    sub.max = 0;
    this.account.removeSubscription(sub);
  }

  private clearSubs(): void {
    for (const sub of this.subs.values()) this.account.removeSubscription(sub);
    this.subs.clear();
  }

  onPing(): void {
    if (this.host.log.traceEnabled) {
      this.traceOp('<<-', 'PING');
      this.traceOp('->>', 'PONG');
    }
    this.enqueue(PONG);
    if (this.firstPongSent || !this.connectReceived) return;
    this.firstPongSent = true;
    // Clients flush right after CONNECT: the answer to that first PING tells a client what changed
    // in the cluster's URLs since it connected, and a client whose credentials limit the payload
    // below the server's what its limit is (as nats-server).
    if (this.opts.protocol >= 1 && (this.host.connectUrlsChangedMs >= this.startMs || this.maxPayload !== this.host.options.maxPayloadBytes)) {
      this.enqueue(Buffer.from(`INFO ${this.host.asyncInfoJsonFor(this)} \r\n`));
    }
  }

  /** The largest payload this client may publish (-1: none), the server's and its credentials' limits combined. */
  get payloadLimit(): number {
    return this.maxPayload;
  }

  onPong(): void {
    if (this.host.log.traceEnabled) this.traceOp('<<-', 'PONG');
    this.pingsOut = 0;
    if (this.rttStartMs > 0) {
      const now = Date.now();
      this.rttMs = Math.max(0.001, now - this.rttStartMs);
      this.rttStartMs = 0;
      this.rttMeasuredMs = now;
    }
  }

  onInfo(_json: string): void {
    // Clients may send INFO; nats-server parses and ignores it.
  }

  onOk(): void {
    // ignored
  }

  onErr(text: string): void {
    this.host.log.error(`${this.label()} - Client Error ${text}`);
    this.close(CloseReason.PARSE_ERROR, true);
  }

  // ---- lifecycle ----

  /** Apply reloadable limits (config reload). */
  applyLimits(o: Options): void {
    // The smaller of the server's and the credentials' limits (nats-server applyAccountLimits).
    this.maxPayload = combineLimit(o.maxPayloadBytes, this.authMaxPayload);
    this.maxPending = o.maxPendingBytes;
    this.maxSubs = combineLimit(o.maxSubscriptions, this.authMaxSubs);
    this.parser.maxControlLine = o.maxControlLineBytes;
  }

  /**
   * Close the connection. With `flush`, what is queued (e.g. an -ERR) is written
   * before the socket is ended; otherwise the socket is destroyed at once.
   */
  close(reason: string, flush: boolean): void {
    if (this.closed) return;
    this.parser.stop();
    // What is queued (e.g. an -ERR) is written before the socket is ended when flushing.
    let last: Buffer[] | null = null;
    if (flush) {
      this.flushQueued = false;
      last = this.out.take();
    }
    this.closed = true;
    this.closeReason = reason;
    this.stopMs = Date.now();
    this.out.clear();
    if (this.pingTimer !== null) clearTimeout(this.pingTimer);
    if (this.authTimer !== null) clearTimeout(this.authTimer);
    this.expiry.clear();
    this.pingTimer = this.authTimer = null;
    this.socket.closing?.(reason);
    this.writer.end(last, flush);
    // Flagged now: delivery (and queue picks) skip closed subscriptions. Their removal from the
    // sublist is the host's, possibly a few turns later (server/close-queue.ts).
    for (const sub of this.subs.values()) sub.closed = true;
    this.account.numClients--;
    this.host.clientClosed(this);
  }

  /** Protocol trace line (-V): `<<-` inbound, `->>` outbound, as nats-server writes them. */
  private traceOp(dir: '<<-' | '->>', op: string): void {
    this.host.log.trace(`${this.label()} - ${dir} [${op}]`);
  }

  /** "127.0.0.1:54321 - cid:5" as nats-server prefixes client log lines. */
  label(): string {
    return `${this.ip}:${this.port} - ${this.conn.tag}:${this.cid}`;
  }
}

/**
 * A server limit (0 or less = none) combined with a credentials limit (-1 = none; 0 allows
 * nothing, as in nats-server). The result uses -1 for "none".
 */
function combineLimit(server: number, cred: number): number {
  const srv = server > 0 ? server : -1;
  if (cred < 0) return srv;
  if (srv < 0) return cred;
  return Math.min(srv, cred);
}

/** nats-server isReservedReply: service-import replies, JetStream acks, gateway replies. */
function isReservedReply(reply: string): boolean {
  return reply.startsWith(SERVICE_REPLY_PREFIX)
    || (reply.length > JS_ACK_PREFIX.length && reply.startsWith(JS_ACK_PREFIX))
    || (reply.length > GW_REPLY_PREFIX.length && reply.startsWith(GW_REPLY_PREFIX));
}
