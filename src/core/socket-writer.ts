// The socket side of a connection's output, shared by client and route connections: one
// corked write of everything queued per flush, the kernel's backlog (for max_pending), the
// write deadline armed while the kernel pushes back, and the two ways of ending a socket.
// What a stalled write means (a slow consumer) is the owner's call, through onDeadline.

/**
 * The byte stream under a connection: a net.Socket, or a transport adapter that carries the
 * same bytes in other frames (src/websocket). Only what the connection code uses.
 */
export interface ByteStream {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly writableLength: number;
  readonly destroyed: boolean;
  setNoDelay(noDelay?: boolean): unknown;
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'drain', listener: () => void): unknown;
  once(event: 'close', listener: () => void): unknown;
  write(data: Buffer): boolean;
  cork(): void;
  uncork(): void;
  end(): unknown;
  destroy(): unknown;
  /** Stop and restart reading (input is held while a CONNECT is checked asynchronously). */
  pause(): unknown;
  resume(): unknown;
  /** A websocket's user JWT from the handshake's cookie (websocket `jwt_cookie`), used when CONNECT has none. */
  readonly cookieJwt?: string;
  /** Told why the connection ends before end()/destroy() (a websocket sends it in its close frame). */
  closing?(reason: string): void;
}

export class SocketWriter {
  /** Bytes handed to the socket that the kernel has not taken yet. */
  buffered = 0;
  private deadlineTimer: NodeJS.Timeout | null = null;

  constructor(private readonly socket: ByteStream, private readonly onDeadline: () => void) {
    socket.on('drain', this.onDrain);
  }

  /** Write a batch of frames (one writev). When the kernel pushes back, a write deadline of
   *  `deadlineMs` (0 = none) starts; it is cleared when the socket drains. */
  write(bufs: Buffer[], deadlineMs: number): void {
    const socket = this.socket;
    let ok: boolean;
    if (bufs.length === 1) {
      ok = socket.write(bufs[0]!);
    } else {
      socket.cork();
      ok = true;
      for (let i = 0; i < bufs.length; i++) ok = socket.write(bufs[i]!);
      socket.uncork();
    }
    this.buffered = socket.writableLength;
    if (!ok && this.deadlineTimer === null && deadlineMs > 0) {
      this.deadlineTimer = setTimeout(this.onDeadlineTimer, deadlineMs);
      // An open socket keeps the process alive by itself; the timer need not.
      this.deadlineTimer.unref();
    }
  }

  /** End the connection. With `flush`, `last` (e.g. an -ERR) is written and the socket ended
   *  gracefully; otherwise it is destroyed at once. */
  end(last: Buffer[] | null, flush: boolean): void {
    this.stopDeadline();
    const socket = this.socket;
    if (flush && !socket.destroyed) {
      if (last !== null) {
        socket.cork();
        for (const b of last) socket.write(b);
        socket.uncork();
      }
      socket.end();
      // Do not wait forever for a peer that does not read.
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
    }
  }

  private stopDeadline(): void {
    if (this.deadlineTimer !== null) {
      clearTimeout(this.deadlineTimer);
      this.deadlineTimer = null;
    }
  }

  private readonly onDrain = (): void => {
    this.buffered = this.socket.writableLength;
    this.stopDeadline();
  };

  private readonly onDeadlineTimer = (): void => {
    this.deadlineTimer = null;
    if (this.socket.writableLength > 0) this.onDeadline();
  };
}
