// One leaf-node connection (either side). It is bound to one local account; the peer's
// interest (LS+) lives in that account's sublist as Subscriptions owned by this connection,
// and the delivery loop hands it each matching message once (forwardMsg) which we write as
// LMSG/HMSG. Messages from the peer go to Account.deliverFromLeaf: everyone but this link.
import type { Socket } from 'node:net';
import type { Account } from '../core/account.js';
import { ClientKind, InboundMsg, Subscription, type RouteSink } from '../core/types.js';
import { LeafParser, type LeafProtocolHandler } from './leaf-parser.js';
import { encodeName, nameByteLength, writeNameSized } from '../protocol/names.js';

export interface LeafHost {
  log(level: 'info' | 'warn' | 'error' | 'debug', text: string): void;
  onInfo(conn: LeafConnection, info: Record<string, unknown>): void;
  onConnect(conn: LeafConnection, connect: Record<string, unknown>): void;
  /** the connection is gone (called once, after its subscriptions were removed) */
  closed(conn: LeafConnection): void;
  /** the peer advertised our own loop-detection subject: the host closes the link (returns true) */
  loopDetected(conn: LeafConnection, subject: string): boolean;
  /** interest in `subject` is not exchanged over leaf links */
  denied(subject: string): boolean;
  readonly maxPayload: number;
  readonly pingIntervalMs: number;
  /** bytes queued for the socket above which the link is cut as a slow consumer */
  readonly maxPendingBytes: number;
}

export class LeafConnection implements RouteSink, LeafProtocolHandler {
  readonly kind = ClientKind.LEAF;
  account: Account | null = null;
  /** the peer's interest, keyed "subject" or "subject queue" */
  readonly subs = new Map<string, Subscription>();
  /** interest we advertised to the peer: key -> weight sent (0 for plain) */
  readonly sent = new Map<string, number>();
  remoteId = '';
  remoteName = '';
  closed = false;
  inMsgs = 0; outMsgs = 0; inBytes = 0; outBytes = 0;
  readonly startMs = Date.now();
  private readonly parser: LeafParser;
  private readonly inMsg: InboundMsg;
  private out: Buffer[] = [];
  private flushQueued = false;
  private pingTimer: NodeJS.Timeout | null = null;
  private pingsOut = 0;

  readonly ip: string;
  readonly port: number;

  constructor(readonly cid: number, private readonly socket: Socket, private readonly host: LeafHost, readonly solicited: boolean) {
    this.ip = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.port = socket.remotePort ?? 0;
    this.parser = new LeafParser(this, 4096 * 16, host.maxPayload);
    this.inMsg = new InboundMsg({ cid, account: '', kind: 'route' });
    socket.setNoDelay(true);
    socket.on('data', (b: Buffer) => {
      const err = this.parser.parse(b);
      if (err === undefined) return;
      this.host.log('error', `${this.label()} - Leafnode parser ERROR: ${err.message}`);
      if (err.errText !== undefined) this.send(`-ERR '${err.errText}'\r\n`);
      this.close();
    });
    socket.on('error', () => this.close());
    socket.on('close', () => this.close());
    this.pingTimer = setInterval(this.onPingTimer, host.pingIntervalMs);
    this.pingTimer.unref();
  }

  label(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? 0} - lid:${this.cid}`;
  }

  private readonly onPingTimer = (): void => {
    if (this.pingsOut >= 2) {
      this.host.log('debug', `${this.label()} - Stale Leafnode Connection - Closing`);
      this.send("-ERR 'Stale Connection'\r\n");
      this.close();
      return;
    }
    this.pingsOut++;
    this.send('PING\r\n');
  };

  send(s: string | Buffer): void {
    if (this.closed) return;
    // Control lines carry subjects and queues: written back with their exact bytes (protocol/names.ts).
    this.out.push(typeof s === 'string' ? encodeName(s) : s);
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushQueued = false;
    if (this.closed || this.out.length === 0) return;
    const bufs = this.out;
    this.out = [];
    this.socket.write(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs));
    if (this.socket.writableLength > this.host.maxPendingBytes) {
      // The peer does not read: cut the link (a dialled one is re-dialled) rather than buffer without bound.
      this.host.log('info', `${this.label()} - Slow Consumer Detected: MaxPending of ${this.host.maxPendingBytes} Exceeded`);
      this.close();
    }
  };

  // ---- interest we send ----
  sendSub(subject: string, queue: string | undefined, weight: number): void {
    this.send(queue === undefined ? `LS+ ${subject}\r\n` : `LS+ ${subject} ${queue} ${weight}\r\n`);
  }

  sendUnsub(subject: string, queue: string | undefined): void {
    this.send(queue === undefined ? `LS- ${subject}\r\n` : `LS- ${subject} ${queue}\r\n`);
  }

  // ---- RouteSink ----
  deliverMsg(): boolean {
    return false;
  }

  forwardMsg(_account: Account, msg: InboundMsg, queues: string[] | null): boolean {
    if (this.closed || this.account === null) return false;
    const data = msg.data;
    const subject = msg.subject;
    let mid = '';
    if (queues !== null && queues.length > 0) mid = msg.reply !== '' ? ` + ${msg.reply} ${queues.join(' ')}` : ` | ${queues.join(' ')}`;
    else if (msg.reply !== '') mid = ` ${msg.reply}`;
    const head = msg.hdrLen > 0 ? `HMSG ${subject}${mid} ${msg.hdrLen} ${data.length}\r\n` : `LMSG ${subject}${mid} ${data.length}\r\n`;
    // One buffer per message: the control line, a copy of the payload (the caller's view is
    // only valid during this call) and CRLF.
    const hl = nameByteLength(head);
    const b = Buffer.allocUnsafe(hl + data.length + 2);
    writeNameSized(b, 0, head, hl);
    data.copy(b, hl);
    b[hl + data.length] = 13;
    b[hl + data.length + 1] = 10;
    this.send(b);
    this.outMsgs++;
    this.outBytes += data.length;
    return true;
  }

  // ---- LeafProtocolHandler ----
  onInfo(json: string): void {
    const info = parseJson(json);
    if (info === null) return this.close();
    this.host.onInfo(this, info);
  }

  onConnect(json: string): void {
    const c = parseJson(json);
    if (c === null) return this.close();
    this.host.onConnect(this, c);
  }

  onPing(): void {
    this.send('PONG\r\n');
  }

  onPong(): void {
    this.pingsOut = 0;
  }

  onErr(text: string): void {
    this.host.log('error', `${this.label()} - Leafnode Error '${text}'`);
    this.close();
  }

  onLeafSub(subject: string, queue: string | undefined, weight: number): void {
    const acc = this.account;
    if (acc === null) {
      this.send("-ERR 'Authorization Violation'\r\n");
      return this.close();
    }
    if (subject.startsWith('$LDS.') && this.host.loopDetected(this, subject)) return;
    if (this.host.denied(subject)) return;
    const key = queue === undefined ? subject : `${subject} ${queue}`;
    const existing = this.subs.get(key);
    if (existing === undefined) {
      const sub = new Subscription(subject, queue, key, this);
      if (queue !== undefined) sub.weight = Math.max(1, weight);
      this.subs.set(key, sub);
      if (!acc.addSubscription(sub)) {
        this.subs.delete(key);
        this.host.log('error', `${this.label()} - Could not insert subscription: invalid subject "${subject}"`);
      }
    } else if (queue !== undefined && existing.weight !== weight) {
      acc.sublist.remove(existing);
      existing.weight = Math.max(1, weight);
      acc.sublist.insert(existing);
    }
  }

  onLeafUnsub(subject: string, queue: string | undefined): void {
    const key = queue === undefined ? subject : `${subject} ${queue}`;
    const sub = this.subs.get(key);
    if (sub === undefined || this.account === null) return;
    this.subs.delete(key);
    this.account.removeSubscription(sub);
  }

  onLeafMsg(subject: string, reply: string, queues: string[] | null, hdrLen: number, data: Buffer): void {
    const acc = this.account;
    if (acc === null) return;
    this.inMsgs++;
    this.inBytes += data.length;
    const msg = this.inMsg;
    msg.origin.account = acc.name;
    msg.subject = subject;
    msg.subjectBytes = encodeName(subject);
    msg.reply = reply;
    msg.replyBytes = reply === '' ? null : encodeName(reply);
    msg.hdrLen = hdrLen;
    msg.data = data;
    acc.deliverFromLeaf(msg, this, queues);
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    this.parser.stop();
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.socket.end();
    this.socket.destroySoon?.();
    const acc = this.account;
    if (acc !== null) for (const sub of this.subs.values()) acc.removeSubscription(sub);
    this.subs.clear();
    this.host.closed(this);
  }
}

function parseJson(s: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(s) as unknown;
    return typeof v === 'object' && v !== null ? v as Record<string, unknown> : null;
  } catch {
    return null;
  }
}
