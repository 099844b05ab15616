// A websocket connection as the byte stream a client connection reads and writes (ByteStream):
// the payload of every message (binary or text) goes to the client parser as if read from TCP,
// and each flush of the client's output goes out as one binary message. Frames, masking,
// permessage-deflate, ping/pong and close frames are the `ws` package's.
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { ByteStream } from '../core/socket-writer.js';
import { CloseReason } from '../core/client.js';

const SEND_OPTS = { binary: true };
/** Like a socket's highWaterMark: past this, write() reports back-pressure. */
const HIGH_WATER_MARK = 64 * 1024;
/** A close frame's body is at most 125 bytes: 2 for the status, the rest for the text. */
const MAX_CLOSE_TEXT = 123;

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

export class WsStream implements ByteStream {
  private onData: ((data: Buffer) => void) | null = null;
  private readonly onError: ((err: Error) => void)[] = [];
  private readonly onClose: (() => void)[] = [];
  private readonly onDrain: (() => void)[] = [];
  private corked = 0;
  private readonly held: Buffer[] = [];
  private closeStatus: number = Status.NORMAL;
  private closeText = '';
  private ended = false;

  constructor(
    private readonly ws: WebSocket, private readonly raw: Socket,
    readonly remoteAddress: string | undefined, readonly remotePort: number | undefined,
  ) {
    ws.on('message', (data: Buffer) => {
      if (this.onData !== null) this.onData(data);
    });
    ws.on('error', (err: Error) => {
      for (const f of this.onError) f(err);
    });
    ws.on('close', () => {
      for (const f of this.onClose.splice(0)) f();
    });
    raw.on('drain', () => {
      for (const f of this.onDrain) f();
    });
  }

  get writableLength(): number {
    return this.ws.bufferedAmount;
  }

  get destroyed(): boolean {
    return this.raw.destroyed || this.ws.readyState === this.ws.CLOSED;
  }

  setNoDelay(noDelay?: boolean): void {
    this.raw.setNoDelay(noDelay);
  }

  on(event: 'data' | 'error' | 'close' | 'drain', listener: (arg: never) => void): this {
    switch (event) {
      case 'data':
        this.onData = listener as (data: Buffer) => void;
        break;
      case 'error':
        this.onError.push(listener as (err: Error) => void);
        break;
      case 'close':
        this.onClose.push(listener as () => void);
        break;
      case 'drain':
        this.onDrain.push(listener as () => void);
        break;
    }
    return this;
  }

  once(event: 'close', listener: () => void): this {
    // 'close' listeners run once already (the list is emptied when it fires).
    return this.on(event, listener);
  }

  write(data: Buffer): boolean {
    if (this.corked > 0) {
      this.held.push(data);
      return true;
    }
    return this.send(data);
  }

  cork(): void {
    this.corked++;
  }

  /** Everything written while corked goes out as one message. */
  uncork(): void {
    if (this.corked === 0 || --this.corked > 0) return;
    const held = this.held;
    if (held.length === 0) return;
    const data = held.length === 1 ? held[0]! : Buffer.concat(held);
    held.length = 0;
    this.send(data);
  }

  private send(data: Buffer): boolean {
    if (this.ended || this.ws.readyState !== this.ws.OPEN) return false;
    this.ws.send(data, SEND_OPTS);
    return this.ws.bufferedAmount < HIGH_WATER_MARK;
  }

  closing(reason: string): void {
    this.closeStatus = closeStatusFor(reason);
    this.closeText = reason.length > MAX_CLOSE_TEXT ? reason.slice(0, MAX_CLOSE_TEXT - 3) + '...' : reason;
  }

  /** Graceful end: a close frame with the reason after what was written. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.ws.readyState === this.ws.OPEN) this.ws.close(this.closeStatus, this.closeText);
    else this.ws.terminate();
  }

  destroy(): void {
    this.ended = true;
    this.ws.terminate();
  }
}
