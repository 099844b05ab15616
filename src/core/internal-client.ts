// A client that lives inside the server: subsystems (JetStream API, system
// services, raft transport) subscribe and publish through it on the same
// routing path as socket clients, without a socket.
import type { Account } from './account.js';
import {
  ClientKind, InboundMsg, Subscription,
  type InternalMsgHandler, type MsgOrigin, type MsgSink,
} from './types.js';

export type { InternalMsgHandler, MsgOrigin } from './types.js';

export class InternalClient implements MsgSink {
  private readonly subs = new Map<number, Subscription>();
  private nextSid = 1;
  private closed = false;
  private readonly origin: MsgOrigin;
  /** messages delivered to / published by this client (monitoring) */
  inMsgs = 0;
  outMsgs = 0;

  constructor(
    readonly account: Account,
    readonly name: string,
    readonly kind: ClientKind,
    readonly cid: number,
  ) {
    this.origin = {
      cid: 0,
      account: account.name,
      kind: kind === ClientKind.SYSTEM ? 'system' : 'internal',
    };
  }

  /** Subscribe; the handler runs synchronously on the delivery path. Returns the sid.
   *  `localOnly`: this server's interest alone, never sent to routes or leaf nodes. */
  subscribe(subject: string, handler: InternalMsgHandler, queue?: string, localOnly = false): number {
    if (this.closed) throw new Error('internal client closed');
    const sid = this.nextSid++;
    const sub = new Subscription(subject, queue, String(sid), this);
    sub.handler = handler;
    sub.localOnly = localOnly;
    if (!this.account.addSubscription(sub)) throw new Error(`invalid subject: ${subject}`);
    this.subs.set(sid, sub);
    return sid;
  }

  unsubscribe(sid: number): void {
    const sub = this.subs.get(sid);
    if (sub === undefined) return;
    this.subs.delete(sid);
    this.account.removeSubscription(sub);
  }

  /** Publish into the account (local subscribers and routes). Returns the number
   *  of sinks that accepted the message. `noEcho`: not to this client's own subscriptions
   *  (a queue group it is a member of then goes to another member, e.g. on another server). */
  publish(subject: string, reply: string, headers: Buffer | undefined, payload: Buffer | string, noEcho = false): number {
    return this.send(subject, reply, headers, payload, noEcho, false);
  }

  /**
   * Answer on a requester's reply subject (a PubAck, say), which is used once: its match skips
   * the sublist's cache (Sublist.matchOnce). Delivery is otherwise publish()'s.
   */
  answer(replySubject: string, payload: Buffer | string): number {
    return this.send(replySubject, '', undefined, payload, false, true);
  }

  private send(subject: string, reply: string, headers: Buffer | undefined, payload: Buffer | string, noEcho: boolean, once: boolean): number {
    if (this.closed) return 0;
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const msg = InboundMsg.create(this.origin, subject, reply, headers, body);
    this.inMsgs++;
    const stats = this.account.stats;
    stats.inMsgs++;
    stats.inBytes += msg.data.length;
    return this.account.processMsg(msg, this, noEcho, once);
  }

  deliverMsg(sub: Subscription, msg: InboundMsg): boolean {
    const h = sub.handler;
    if (h === null || this.closed) return false;
    sub.nmsgs++;
    this.outMsgs++;
    try {
      h(msg.subject, msg.reply, msg.headers(), msg.payload(), msg.origin, msg);
    } catch (e) {
      // A failing subsystem handler must not break the publisher's connection.
      this.account.reportError(`internal subscription handler on "${msg.subject}" (${this.name}) failed: ${(e as Error)?.stack ?? e}`);
    }
    return true;
  }

  /** Number of live subscriptions. */
  get numSubscriptions(): number {
    return this.subs.size;
  }

  close(): void {
    if (this.closed) return;
    for (const sub of this.subs.values()) this.account.removeSubscription(sub);
    this.subs.clear();
    this.closed = true;
  }
}
