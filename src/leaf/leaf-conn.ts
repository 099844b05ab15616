// One leaf-node connection (either side). It is bound to one local account; the peer's
// interest (LS+) lives in that account's sublist as Subscriptions owned by this connection,
// and the delivery loop hands it each matching message once (forwardMsg) which we write as
// LMSG/HMSG. Messages from the peer go to Account.deliverFromLeaf: everyone but this link.
//
// The wire side is the route machinery: RouteParser in leaf mode reads the protocol, and the
// output goes through a LinkOutput as a route's does (the route encoder into a slab, one
// socket write per event-loop turn), so batching, the write deadline, max_pending (slow
// consumer) and the server's out counters behave as on routes.
import type { ByteStream } from '../core/socket-writer.js';
import type { Account } from '../core/account.js';
import { ClientKind, InboundMsg, Subscription, type RouteSink } from '../core/types.js';
import { RouteParser, type RouteProtocolHandler, type RoutedMsgArgs } from '../protocol/route-parser.js';
import { PONG_LINE, encodeLeafSub, encodeLeafUnsub } from '../protocol/route-encoder.js';
import { ROUTE_MAX_CONTROL_LINE, jsDeliver, type RouteLimits } from '../cluster/route-conn.js';
import { takeRoutedReply } from '../cluster/js-deliver.js';
import { RouteCloseReason, ServerLink, type LinkOutputHost } from '../cluster/link-output.js';
import { permits, subjectIsLiteral, subjectMatchesFilter } from '../core/subject.js';
import { subjectIsSubsetMatch } from '../jetstream/subjects.js';
import { Expiry } from '../core/expiry.js';
import { countMsgIn } from '../core/msg-counters.js';
import type { ServerStats } from '../core/client.js';
import type { ClientPermissions } from '../core/auth-hook.js';

/** allow/deny subject lists (config PermissionRule, the import/export of a hub's INFO) */
export interface LeafRule { allow?: string[]; deny?: string[] }

/**
 * What may cross one link, from this server's side: `send` limits the messages we forward
 * (and so the peer's interest we take), `receive` the messages we take in (and so the
 * interest we advertise).
 */
export interface LeafPerms {
  send(subject: string): boolean;
  receive(subject: string): boolean;
  /**
   * Messages from the peer outside `receive` are dropped (a remote's deny_imports and the hub's
   * INFO); a hub leaves that to the interest it gives its leaf (nats-server checks nothing there).
   */
  readonly dropsInbound: boolean;
}

/** From allow/deny lists: a remote's deny_exports/deny_imports, merged with a hub's INFO export/import. */
export function rulePerms(send: LeafRule | undefined, receive: LeafRule | undefined): LeafPerms {
  return { send: (s) => permits(send, s), receive: (s) => permits(receive, s) || wider(receive, s), dropsInbound: true };
}

/**
 * nats-server lets interest over a leaf link be wider than the allow list (a `>` reaches a leaf
 * allowed `up.>`) unless a deny clause names it: the other side still sends only what it may.
 */
function wider(rule: LeafRule | undefined, subject: string): boolean {
  return rule !== undefined && !subjectIsLiteral(subject) && (rule.allow ?? []).some((a) => subjectIsSubsetMatch(a, subject))
    && !(rule.deny ?? []).some((d) => subjectMatchesFilter(subject, d));
}

/**
 * From the permissions of the client user a leaf authenticated as (hub side, as nats-server):
 * the leaf may subscribe to what we send it and publish what we take in.
 */
export function userPerms(p: ClientPermissions): LeafPerms {
  const pub = p.source?.publish;
  return { send: (s) => p.canSubscribe(s), receive: (s) => p.canPublish(s) || wider(pub, s), dropsInbound: false };
}

export interface LeafHost extends LinkOutputHost {
  log(level: 'info' | 'warn' | 'error' | 'debug', text: string): void;
  onInfo(conn: LeafConnection, info: Record<string, unknown>): void;
  onConnect(conn: LeafConnection, connect: Record<string, unknown>): void;
  /** the connection is gone (called once, after its subscriptions were removed) */
  closed(conn: LeafConnection): void;
  /** the peer advertised our own loop-detection subject: the host closes the link (returns true) */
  loopDetected(conn: LeafConnection, subject: string): boolean;
  /** interest in `subject` is not exchanged over leaf links (the JetStream API boundary) */
  denied(subject: string): boolean;
  /** the server's counters (varz in_msgs/in_bytes) */
  readonly stats: ServerStats;
  readonly limits: RouteLimits;
}

export class LeafConnection extends ServerLink implements RouteSink, RouteProtocolHandler {
  readonly kind = ClientKind.LEAF;
  account: Account | null = null;
  /** the peer's interest, keyed "subject" or "subject queue" */
  readonly subs = new Map<string, Subscription>();
  /** interest we advertised to the peer: key -> weight sent (0 for plain) */
  readonly sent = new Map<string, number>();
  remoteId = '';
  remoteName = '';
  /** the cluster the peer says it belongs to (CONNECT `cluster`) */
  remoteCluster = '';
  inMsgs = 0; inBytes = 0;
  readonly startMs = Date.now();
  /** the link runs over TLS (the leaf TLS upgrade; a wss link is `websocket`) */
  tls = false;
  /** the link runs over websocket frames (a ws:// or wss:// remote, or the hub's websocket listener) */
  websocket = false;
  /** null: everything may cross */
  perms: LeafPerms | null = null;
  /** the nonce of our INFO (accept side): operator-mode leaves sign it */
  nonce = '';
  /** a CONNECT is being checked (asynchronously): interest and PINGs that arrive meanwhile wait in `held` */
  authPending = false;
  private held: (() => void)[] = [];
  /** the user JWT the peer linked with (accept side, operator mode): an account update checks it again */
  jwt = '';
  private readonly expiry = new Expiry();
  private readonly parser: RouteParser;
  private readonly inMsg: InboundMsg;

  readonly ip: string;
  readonly port: number;

  constructor(readonly cid: number, private readonly socket: ByteStream, private readonly host: LeafHost, readonly solicited: boolean) {
    super(socket, host, 'Leafnode');
    this.ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.port = socket.remotePort ?? 0;
    const l = host.limits;
    // Like routes, leaf connections have no control-line limit in nats-server (an LMSG lists
    // the queue groups it serves); the route bound caps the memory one line can take.
    this.parser = new RouteParser(this, { leaf: true, maxControlLineBytes: ROUTE_MAX_CONTROL_LINE, maxPayloadBytes: l.maxPayloadBytes });
    this.inMsg = new InboundMsg({ cid, account: '', kind: 'route' });
  }

  /** Start reading; `pending` is input that arrived before (the INFO read ahead of a TLS upgrade). */
  start(pending?: Buffer): void {
    const socket = this.socket;
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', () => this.close(RouteCloseReason.READ_ERROR, false));
    socket.on('close', () => this.close(RouteCloseReason.CLIENT_CLOSED, false));
    this.setPingTimer(Math.min(this.host.limits.pingIntervalMs, 1000));
    if (pending !== undefined && pending.length > 0) this.onData(pending);
    // A dialled socket was paused after its INFO was read ahead.
    socket.resume();
  }

  label(): string {
    return `${this.ip.includes(':') ? `[${this.ip}]` : this.ip}:${this.port} - lid:${this.cid}`;
  }

  private readonly onData = (b: Buffer): void => {
    this.lastInMs = Date.now();
    const err = this.parser.parse(b);
    if (err === undefined) return;
    this.host.log('error', `${this.label()} - Leafnode parser ERROR: ${err.message}`);
    if (err.errText !== undefined) this.sendErrAndClose(err.errText, err.closeReason);
    else this.close(err.closeReason, true);
  };

  // ---- interest we send ----
  sendSub(subject: string, queue: string | undefined, weight: number): void {
    this.enqueueString(encodeLeafSub(subject, queue, weight));
  }

  sendUnsub(subject: string, queue: string | undefined): void {
    this.enqueueString(encodeLeafUnsub(subject, queue));
  }

  /** may messages on `subject` go to the peer */
  maySend(subject: string): boolean {
    return this.perms === null || this.perms.send(subject);
  }

  /** may messages on `subject` come in from the peer (and so: do we tell it our interest) */
  mayReceive(subject: string): boolean {
    return this.perms === null || this.perms.receive(subject);
  }

  // ---- RouteSink ----
  deliverMsg(): boolean {
    return false;
  }

  forwardMsg(_account: Account, msg: InboundMsg, queues: string[] | null): boolean {
    if (this.closed || this.account === null) return false;
    if (this.perms !== null && !this.maySend(msg.subject)) return false;
    // A JetStream delivery is matched on the deliver subject and shown with the stream's
    // subject: as on routes (and as nats-server does on leaf links), the matched one goes as
    // the LMSG subject and the shown one after an '@' in the $JS.ACK reply.
    let subject = msg.subjectBytes;
    let reply = msg.replyBytes;
    if (jsDeliver.prepare(msg)) {
      subject = jsDeliver.subject;
      reply = jsDeliver.reply;
    }
    this.output.writeMsg(null, subject, reply, queues, msg.hdrLen, msg.data);
    return true;
  }

  // ---- RouteProtocolHandler (leaf mode) ----
  onInfo(json: string): void {
    const info = parseJson(json);
    if (info === null) return this.close(RouteCloseReason.PARSE_ERROR, false);
    this.host.onInfo(this, info);
  }

  onConnect(json: string): void {
    const c = parseJson(json);
    if (c === null) return this.close(RouteCloseReason.PARSE_ERROR, false);
    this.host.onConnect(this, c);
  }

  onPing(): void {
    // nats-server checks the CONNECT before it reads on: the PONG follows the verdict
    if (this.authPending) return void this.held.push(() => this.onPing());
    this.enqueue(PONG_LINE);
  }

  onPong(): void {
    this.gotPong();
  }

  onOk(): void {
    // ignored, as nats-server does
  }

  onErr(text: string): void {
    this.host.log('error', `${this.label()} - Leafnode Error ${text}`);
    this.close(RouteCloseReason.PARSE_ERROR, true);
  }

  /** The CONNECT check finished (bound or closed): replay the interest that waited for it. */
  authSettled(): void {
    this.authPending = false;
    const held = this.held;
    this.held = [];
    for (const f of held) f();
  }

  onRemoteSub(_account: string, subject: string, queue: string | undefined, weight: number): void {
    if (this.authPending) return void this.held.push(() => this.onRemoteSub('', subject, queue, weight));
    const acc = this.account;
    if (acc === null) {
      this.sendErrAndClose('Authorization Violation', RouteCloseReason.AUTH_VIOLATION);
      return;
    }
    if (subject.startsWith('$LDS.') && this.host.loopDetected(this, subject)) return;
    if (this.host.denied(subject)) return;
    // Loop detection and gateway reply subjects are never subject to permissions (nats-server).
    // Only literal interest is checked: a wildcard wider than the permissions is taken, and what
    // it matches is filtered message by message when forwarded (nats-server processLeafSub).
    const exempt = subject.startsWith('$LDS.') || subject.startsWith('$GR.') || subject.startsWith('_GR_.');
    if (!exempt && subjectIsLiteral(subject) && !this.maySend(subject)) {
      if (this.solicited) {
        this.host.log('debug', `${this.label()} - Not permitted to export "${subject}", ignoring leafnode interest`);
        return;
      }
      // The hub refuses interest outside the leaf user's subscribe permissions and cuts the link.
      this.host.log('error', `${this.label()} - Subscription Violation on "${subject}" - Check other side configuration`);
      this.sendErrAndClose(`Permissions Violation for Subscription to "${subject}"`, RouteCloseReason.PROTOCOL_VIOLATION);
      return;
    }
    const key = queue === undefined ? subject : `${subject} ${queue}`;
    const existing = this.subs.get(key);
    if (existing === undefined) {
      const sub = new Subscription(subject, queue, key, this);
      if (queue !== undefined) sub.weight = weight;
      this.subs.set(key, sub);
      if (!acc.addSubscription(sub)) {
        this.subs.delete(key);
        this.host.log('error', `${this.label()} - Could not insert subscription: invalid subject "${subject}"`);
      }
    } else if (queue !== undefined && existing.weight !== weight) {
      acc.sublist.remove(existing);
      existing.weight = weight;
      acc.sublist.insert(existing);
    }
  }

  onRemoteUnsub(_account: string, subject: string, queue: string | undefined): void {
    if (this.authPending) return void this.held.push(() => this.onRemoteUnsub('', subject, queue));
    const key = queue === undefined ? subject : `${subject} ${queue}`;
    const sub = this.subs.get(key);
    if (sub === undefined || this.account === null) return;
    this.subs.delete(key);
    this.account.removeSubscription(sub);
  }

  onRoutedMsg(args: RoutedMsgArgs, data: Buffer): void {
    const acc = this.account;
    if (acc === null) return;
    const size = data.length;
    this.inMsgs++;
    this.inBytes += size;
    countMsgIn(this.host.stats, size);
    if (this.perms !== null && this.perms.dropsInbound && !this.perms.receive(args.subject)) {
      this.host.log('debug', `${this.label()} - Dropping leafnode message on "${args.subject}" (not permitted)`);
      return;
    }
    const msg = this.inMsg;
    msg.origin.account = acc.name;
    msg.subject = args.subject;
    takeRoutedReply(msg, args);
    msg.hdrLen = args.hdrLen;
    msg.data = data;
    acc.deliverFromLeaf(msg, this, args.queues ?? null);
  }

  /** The credentials the peer linked with expire at `atMs`: the link is told `error` and closed then. */
  expireAt(atMs: number, error: string): void {
    this.expiry.set(atMs, () => {
      if (this.closed) return;
      this.host.log('debug', `${this.label()} - ${error}`);
      this.sendErrAndClose(error, 'Authentication Expired');
    });
  }

  close(reason: string = RouteCloseReason.CLIENT_CLOSED, flush = true): void {
    if (this.closed) return;
    this.expiry.clear();
    this.parser.stop();
    // A websocket link says why in its close frame.
    this.socket.closing?.(reason);
    this.markClosed(reason, flush);
    const acc = this.account;
    if (acc !== null) for (const sub of this.subs.values()) acc.removeSubscription(sub);
    this.subs.clear();
    this.host.closed(this);
  }
}

/** A JSON object (INFO, CONNECT), or null for anything else. */
export function parseJson(s: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(s) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : null;
  } catch {
    return null;
  }
}
