// A websocket connection as the byte stream a client connection reads and writes (ByteStream):
// the payload of every data frame (binary or text) goes to the client parser as if read from
// TCP, and each flush of the client's output goes out as one binary frame written with the
// socket corked (header, then the queued buffers: no copy). Ping, pong and close frames are
// answered here; nats-server's close statuses say why a connection ends.
import type { Socket } from 'node:net';
import { randomFillSync } from 'node:crypto';
import type { ByteStream } from '../core/socket-writer.js';
import { CloseReason } from '../core/client.js';
import { closePayload, deflateMessage, FrameDecoder, frameHeader, Op, unmask, type FrameHandler } from './frames.js';

/** Output smaller than this is not compressed (nats-server's wsCompressThreshold). */
const COMPRESS_THRESHOLD = 64;
/** Largest compressed or control message collected whole (others stream to the parser). */
export const WS_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;
/** A peer that does not read after our close frame is cut after this. */
const CLOSE_GRACE_MS = 1000;

const enum Status {
  NORMAL = 1000,
  GOING_AWAY = 1001,
  PROTOCOL_ERROR = 1002,
  POLICY_VIOLATION = 1008,
  MESSAGE_TOO_BIG = 1009,
  INTERNAL_ERROR = 1011,
}

/** The close status nats-server sends for a close reason (wsEnqueueCloseMessage). */
export function closeStatusFor(reason: string): number {
  switch (reason) {
    case CloseReason.CLIENT_CLOSED:
      return Status.NORMAL;
    case CloseReason.AUTH_TIMEOUT:
    case CloseReason.AUTH_VIOLATION:
    case CloseReason.SLOW_CONSUMER_PENDING:
    case CloseReason.SLOW_CONSUMER_DEADLINE:
    case CloseReason.MAX_CONNECTIONS:
    case CloseReason.MAX_CONTROL_LINE:
    case CloseReason.MAX_SUBSCRIPTIONS:
      return Status.POLICY_VIOLATION;
    case CloseReason.PARSE_ERROR:
    case CloseReason.PROTOCOL_VIOLATION:
    case CloseReason.BAD_CLIENT_PROTOCOL:
      return Status.PROTOCOL_ERROR;
    case CloseReason.MAX_PAYLOAD:
      return Status.MESSAGE_TOO_BIG;
    case CloseReason.SERVER_SHUTDOWN:
      return Status.GOING_AWAY;
    default:
      // Write/read errors and stale connections (1006) cannot be sent in a close frame
      // (RFC 6455 7.4.1); ws refuses them, so they end like other internal reasons.
      return Status.INTERNAL_ERROR;
  }
}

export interface WsStreamOptions {
  /** client frames must be masked (false when nats-server's Nats-No-Masking was agreed) */
  requireMask: boolean;
  /** permessage-deflate was negotiated */
  compress: boolean;
  /** largest (inflated or fragmented) message accepted */
  maxMessageBytes: number;
  /** the user JWT of the handshake's `jwt_cookie` cookie */
  cookieJwt?: string;
  /**
   * Our frames are masked: we are the dialling side of a leaf link (a websocket client) and
   * the hub did not agree to nats-server's no-masking.
   */
  maskWrite?: boolean;
}

export class WsStream implements ByteStream, FrameHandler {
  private onBytes: ((data: Buffer) => void) | null = null;
  /** data that arrived before a reader was attached (a dialled leaf link's first INFO) */
  private early: Buffer[] = [];
  private readonly onErrors: ((err: Error) => void)[] = [];
  private readonly decoder: FrameDecoder;
  readonly cookieJwt: string | undefined;
  private corked = 0;
  private held: Buffer[] = [];
  private closeStatus: number = Status.NORMAL;
  private closeText = '';
  /** our close frame is written: nothing else may follow it */
  private closeSent = false;

  constructor(
    private readonly raw: Socket, readonly remoteAddress: string | undefined, readonly remotePort: number | undefined,
    private readonly opts: WsStreamOptions,
  ) {
    this.decoder = new FrameDecoder(this, opts.requireMask, opts.maxMessageBytes);
    this.cookieJwt = opts.cookieJwt;
    raw.on('data', (buf: Buffer) => this.decoder.feed(buf));
    raw.on('error', (err: Error) => {
      for (const f of this.onErrors) f(err);
    });
  }

  /** permessage-deflate is in use (nats-server's "compression=" debug line) */
  get compressed(): boolean {
    return this.opts.compress;
  }

  /** our frames are masked (a leaf link dialling a websocket hub without no-masking) */
  get masking(): boolean {
    return this.opts.maskWrite === true;
  }

  get writableLength(): number {
    return this.raw.writableLength;
  }

  get destroyed(): boolean {
    return this.raw.destroyed;
  }

  setNoDelay(noDelay?: boolean): void {
    this.raw.setNoDelay(noDelay);
  }

  pause(): void {
    this.raw.pause();
  }

  resume(): void {
    this.raw.resume();
  }

  on(event: 'data' | 'error' | 'close' | 'drain', listener: (arg: never) => void): this {
    if (event === 'data') {
      const f = listener as (data: Buffer) => void;
      this.onBytes = f;
      const early = this.early;
      this.early = [];
      for (const b of early) f(b);
    } else if (event === 'error') {
      this.onErrors.push(listener as (err: Error) => void);
    } else {
      this.raw.on(event, listener as () => void);
    }
    return this;
  }

  once(event: 'close', listener: () => void): this {
    this.raw.once(event, listener);
    return this;
  }

  // ---- FrameHandler (what the client sent) ----

  onData(data: Buffer): void {
    if (this.onBytes !== null) this.onBytes(data);
    // Kept (copied: the socket reuses its read buffer) until a reader is attached.
    else this.early.push(Buffer.from(data));
  }

  /** Bytes read off the socket before this stream took it over (what followed the HTTP 101 answer). */
  feed(bytes: Buffer): void {
    if (bytes.length > 0) this.decoder.feed(bytes);
  }

  onControl(op: Op, payload: Buffer): void {
    if (op === Op.PING) {
      this.sendFrame(Op.PONG, payload);
    } else if (op === Op.CLOSE) {
      // Echo the status and text, then end: the socket's close ends the client connection as
      // "Client Closed". A close without a status gets an empty close back (nats-server sends
      // 1005, which RFC 6455 forbids on the wire and clients such as `ws` reject).
      if (payload.length >= 2) this.sendClose(payload.readUInt16BE(0), payload.toString('utf8', 2));
      else this.sendClose(undefined, '');
    }
  }

  onProtocolError(text: string): void {
    this.sendClose(Status.PROTOCOL_ERROR, text);
    const err = new Error(`websocket protocol error: ${text}`);
    for (const f of this.onErrors) f(err);
  }

  // ---- output (what the client connection writes) ----

  write(data: Buffer): boolean {
    if (this.corked > 0) {
      this.held.push(data);
      return true;
    }
    return this.sendData([data], data.length);
  }

  cork(): void {
    this.corked++;
  }

  /** Everything written while corked goes out as one frame. */
  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    const held = this.held;
    if (held.length === 0) return;
    this.held = [];
    let len = 0;
    for (let i = 0; i < held.length; i++) len += held[i]!.length;
    this.sendData(held, len);
  }

  private sendData(bufs: Buffer[], len: number): boolean {
    const raw = this.raw;
    if (this.closeSent || raw.destroyed) return false;
    if (this.opts.compress && len > COMPRESS_THRESHOLD) {
      const z = deflateMessage(bufs.length === 1 ? bufs[0]! : Buffer.concat(bufs, len));
      return this.opts.maskWrite === true ? this.writeMasked(Op.BINARY, z, true) : this.writeFrame(Op.BINARY, [z], z.length, true);
    }
    // Masking changes the bytes: it works on a copy (the queued buffers may be shared).
    if (this.opts.maskWrite === true) return this.writeMasked(Op.BINARY, Buffer.concat(bufs, len), false);
    return this.writeFrame(Op.BINARY, bufs, len, false);
  }

  /** One frame: header, then the buffers (already masked with `maskKey` if given), in one corked write. */
  private writeFrame(op: Op, bufs: Buffer[], len: number, compressed: boolean, maskKey?: Uint8Array): boolean {
    const raw = this.raw;
    raw.cork();
    raw.write(frameHeader(op, len, compressed, maskKey));
    let ok = true;
    for (let i = 0; i < bufs.length; i++) ok = raw.write(bufs[i]!);
    raw.uncork();
    return ok;
  }

  /** One masked frame (a client's, RFC 6455 5.3): `payload` is ours and is masked in place. */
  private writeMasked(op: Op, payload: Buffer, compressed: boolean): boolean {
    const key = randomFillSync(Buffer.allocUnsafe(4));
    unmask(payload, key, 0);
    return this.writeFrame(op, payload.length > 0 ? [payload] : [], payload.length, compressed, key);
  }

  private sendFrame(op: Op, payload: Buffer): void {
    if (this.closeSent || this.raw.destroyed) return;
    if (this.opts.maskWrite === true) this.writeMasked(op, Buffer.from(payload), false);
    else this.writeFrame(op, payload.length > 0 ? [payload] : [], payload.length, false);
  }

  private sendClose(status: number | undefined, text: string): void {
    if (this.closeSent || this.raw.destroyed) return;
    this.sendFrame(Op.CLOSE, status === undefined ? Buffer.alloc(0) : closePayload(status, text));
    this.closeSent = true;
    this.raw.end();
    setTimeout(() => this.raw.destroy(), CLOSE_GRACE_MS).unref();
  }

  closing(reason: string): void {
    this.closeStatus = closeStatusFor(reason);
    this.closeText = reason;
  }

  /** Graceful end: a close frame with the reason after what was written. */
  end(): void {
    if (this.closeSent) return;
    this.sendClose(this.closeStatus, this.closeText);
  }

  destroy(): void {
    // A close frame just written is left its grace period to reach the peer.
    if (this.closeSent) return;
    this.raw.destroy();
  }
}
