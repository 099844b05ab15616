// Shared core types: connection kinds, message origin, the message being
// routed, subscription owners (MsgSink) and subscriptions.
import type { Account } from './account.js';
import { decodeName, encodeName } from '../protocol/names.js';

/** Kind of connection/client, as nats-server's CLIENT/ROUTER/SYSTEM/JETSTREAM/ACCOUNT. */
export enum ClientKind {
  CLIENT = 0,
  ROUTE = 1,
  SYSTEM = 2,
  JETSTREAM = 3,
  /** internal client created by an account (service imports, subsystems) */
  ACCOUNT = 4,
  LEAF = 5,
}

export function clientKindName(kind: ClientKind): string {
  switch (kind) {
    case ClientKind.CLIENT: return 'Client';
    case ClientKind.ROUTE: return 'Router';
    case ClientKind.SYSTEM: return 'System';
    case ClientKind.JETSTREAM: return 'JetStream';
    case ClientKind.ACCOUNT: return 'Account';
    case ClientKind.LEAF: return 'Leafnode';
  }
}

export interface MsgOrigin {
  /** connection id (cid) of the client that published, 0 for internal publishers */
  cid: number;
  /** account name of the publisher */
  account: string;
  kind: 'client' | 'route' | 'internal' | 'system';
}

export const EMPTY_BUFFER = Buffer.alloc(0);

/**
 * One message on its way through the server. Socket clients reuse one instance
 * per connection (no allocation per message); views into read buffers are only
 * valid during the synchronous delivery call: a sink that keeps bytes copies them.
 */
export class InboundMsg {
  subject = '';
  /**
   * The subject's bytes are `subjectSrc[subjectStart, subjectEnd)` (read only: set them with
   * the subjectBytes setter or setSubjectRange). A sink that writes bytes copies them from the
   * range (Outbound.writeMsg); `subjectBytes` makes a view only when read and the bytes are
   * not a Buffer of their own.
   */
  subjectSrc: Buffer = EMPTY_BUFFER;
  subjectStart = 0;
  subjectEnd = 0;
  /** subjectSrc when the range is all of it (no view needed), else the view once made, or null. */
  private subjectBuf: Buffer | null = EMPTY_BUFFER;
  /** The reply's bytes, as the subject's; replyStart is -1 when there is none. */
  replySrc: Buffer = EMPTY_BUFFER;
  replyStart = -1;
  replyEnd = -1;
  private replyBuf: Buffer | null = null;
  /** The reply as text; null until `reply` decodes it from the bytes (setReplyBytes, setReplyRange). */
  private replyText: string | null = '';
  /** length of the NATS header block at the start of `data`; <= 0 means no headers */
  hdrLen = -1;
  /** header block followed by the payload (no trailing CRLF) */
  data: Buffer = EMPTY_BUFFER;
  origin: MsgOrigin;

  constructor(origin: MsgOrigin) {
    this.origin = origin;
  }

  /** the subject's bytes (written as-is into MSG frames) */
  get subjectBytes(): Buffer {
    let b = this.subjectBuf;
    if (b === null) b = this.subjectBuf = this.subjectSrc.subarray(this.subjectStart, this.subjectEnd);
    return b;
  }

  set subjectBytes(bytes: Buffer) {
    this.subjectBuf = bytes;
    this.subjectSrc = bytes;
    this.subjectStart = 0;
    this.subjectEnd = bytes.length;
  }

  /**
   * The subject's bytes are `src[start, end)`; the view is made only if something reads
   * subjectBytes (a routed JetStream ack, a new subject every message, goes to an internal
   * subscriber that reads the text only; a client's MSG frame is written from the range).
   */
  setSubjectRange(src: Buffer, start: number, end: number): void {
    // A range that is the whole Buffer is the Buffer (a repeated subject's own copy): no view.
    this.subjectBuf = start === 0 && end === src.length ? src : null;
    this.subjectSrc = src;
    this.subjectStart = start;
    this.subjectEnd = end;
  }

  /** The reply's bytes, null when there is none. */
  get replyBytes(): Buffer | null {
    if (this.replyStart < 0) return null;
    let b = this.replyBuf;
    if (b === null) b = this.replyBuf = this.replySrc.subarray(this.replyStart, this.replyEnd);
    return b;
  }

  /** Sets the bytes only; the caller sets `reply` to the same name (setReplyBytes sets both). */
  set replyBytes(bytes: Buffer | null) {
    this.replyBuf = bytes;
    if (bytes === null) {
      this.replySrc = EMPTY_BUFFER;
      this.replyStart = -1;
      this.replyEnd = -1;
    } else {
      this.replySrc = bytes;
      this.replyStart = 0;
      this.replyEnd = bytes.length;
    }
  }

  /**
   * The reply subject, '' when there is none. After setReplyBytes or setReplyRange it is decoded
   * on first read: most sinks write the bytes and never need the text (a routed JetStream
   * delivery's unique ack reply, for one, goes to its client as bytes).
   */
  get reply(): string {
    const t = this.replyText;
    if (t !== null) return t;
    const r = this.replyStart < 0 ? '' : decodeName(this.replySrc, this.replyStart, this.replyEnd);
    this.replyText = r;
    return r;
  }

  /** Sets the text only; the caller sets replyBytes to the same name (or null for ''). */
  set reply(text: string) {
    this.replyText = text;
  }

  /** Sets the reply by its bytes (null: none); the text is decoded only if something reads `reply`. */
  setReplyBytes(bytes: Buffer | null): void {
    this.replyBytes = bytes;
    this.replyText = bytes === null ? '' : null;
  }

  /** The reply is `src[start, end)` (setSubjectRange's rules). */
  setReplyRange(src: Buffer, start: number, end: number): void {
    this.replyBuf = null;
    this.replySrc = src;
    this.replyStart = start;
    this.replyEnd = end;
    this.replyText = null;
  }

  /** Headers as a separate view, or undefined. */
  headers(): Buffer | undefined {
    return this.hdrLen > 0 ? this.data.subarray(0, this.hdrLen) : undefined;
  }

  /** Payload without the header block. */
  payload(): Buffer {
    return this.hdrLen > 0 ? this.data.subarray(this.hdrLen) : this.data;
  }

  static create(
    origin: MsgOrigin, subject: string, reply: string, headers: Buffer | undefined, payload: Buffer,
  ): InboundMsg {
    const m = new InboundMsg(origin);
    m.subject = subject;
    // encodeName: a subject that came in with invalid UTF-8 goes out with the same bytes.
    m.subjectBytes = encodeName(subject);
    m.reply = reply;
    m.replyBytes = reply ? encodeName(reply) : null;
    if (headers !== undefined && headers.length > 0) {
      m.hdrLen = headers.length;
      m.data = payload.length > 0 ? Buffer.concat([headers, payload]) : headers;
    } else {
      m.hdrLen = -1;
      m.data = payload;
    }
    return m;
  }
}

/**
 * The owner of subscriptions: a socket client, an internal client, or a route.
 * The delivery loop calls `deliverMsg` for every matching subscription owned by
 * a non-route sink; route-owned subscriptions are collected and each route gets
 * ONE `forwardMsg` call per message (see RouteSink).
 */
export interface MsgSink {
  readonly kind: ClientKind;
  readonly cid: number;
  /** Deliver one message for `sub`. Return true when it was accepted. */
  deliverMsg(sub: Subscription, msg: InboundMsg): boolean;
}

/**
 * A route connection. Its remote interest lives in the account sublist as
 * Subscriptions whose owner is the route (`kind === ClientKind.ROUTE`).
 * For a message published locally, the core calls `forwardMsg` once per route
 * with matching interest; `queues` lists the queue groups for which this route
 * was picked (null when only plain interest matched). Messages that arrived
 * from a route are never forwarded to routes.
 */
export interface RouteSink extends MsgSink {
  forwardMsg(account: Account, msg: InboundMsg, queues: string[] | null): boolean;
}

/** Handler of an internal subscription (contract: src/core/internal-client.ts). */
export type InternalMsgHandler = (
  subject: string, reply: string, headers: Buffer | undefined, payload: Buffer, origin: MsgOrigin,
  /** The message itself: its subjectBytes is the subject shown (a JetStream delivery's stream subject). */
  msg: InboundMsg,
) => void;

export class Subscription {
  /** messages delivered so far */
  nmsgs = 0;
  /** auto-unsubscribe after this many deliveries (0 = no limit) */
  max = 0;
  /** set once removed; the delivery loop skips closed subscriptions */
  closed = false;
  /** queue weight (remote queue subscriptions of routes; local ones are 1) */
  weight = 1;
  /** " <sid> " bytes, cached for MSG encoding */
  sidBytes: Buffer | null = null;
  /** handler of internal subscriptions */
  handler: InternalMsgHandler | null = null;
  /** account whose sublist holds it (set by Account.addSubscription) */
  account: Account | null = null;
  /** never announced to routes or leaf nodes (nats-server's noForward subscriptions, e.g. service imports) */
  localOnly = false;

  constructor(
    readonly subject: string,
    readonly queue: string | undefined,
    readonly sid: string,
    readonly owner: MsgSink,
  ) {}
}

/** Result of a sublist match: plain subscribers and one array per queue group. */
export interface SublistResult {
  readonly psubs: readonly Subscription[];
  readonly qsubs: readonly (readonly Subscription[])[];
}
