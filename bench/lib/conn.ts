// A raw NATS client connection for the load generator: a TCP socket, the
// frame scanner, PING/PONG barriers and (for control-plane calls such as
// $JS.API requests) a simple request helper. Hot loops use the socket and
// scanner directly; the Promise-based helpers are for setup only.

import net from 'node:net';
import tls from 'node:tls';
import { FrameScanner, connectFrame, tokenize, type ConnectOptions, type ScannerHandlers } from './proto.js';
import { WsClientSocket } from './ws-socket.js';

/** What the hot loops use of a connection's socket: TCP (net.Socket) or websocket (WsClientSocket). */
export interface ConnSocket {
  write(data: Buffer | string): boolean;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  setNoDelay(noDelay?: boolean): unknown;
  destroy(): unknown;
}

const PING = Buffer.from('PING\r\n');
const READ_BUFFER_BYTES = 256 * 1024;
const PONG = Buffer.from('PONG\r\n');

export interface ConnOptions extends ConnectOptions {
  port: number;
  host?: string;
  /** fixed MSG frame for the scanner's counting fast path */
  fixedFrame?: { frame: number; header: number };
  connectTimeoutMs?: number;
  /** connect to a websocket port (ws://host:port) instead of the client port */
  websocket?: boolean;
  /** upgrade to TLS after INFO, as NATS clients do (the TLS suite) */
  tls?: ConnTls;
}

export interface ConnTls {
  /** PEM of the CA that signed the server certificate */
  ca: string;
  /** the only TLS 1.3 suite offered (e.g. TLS_AES_128_GCM_SHA256), so both servers negotiate the same one */
  suite?: string;
}

export interface ReceivedMsg {
  subject: string;
  sid: string;
  reply: string;
  /** header block (HMSG) as text, '' for MSG */
  headers: string;
  payload: Buffer;
}

type MsgListener = (buf: Buffer, lineStart: number, lineEnd: number, payloadStart: number, payloadEnd: number, headerBytes: number) => void;

export class RawConn {
  readonly socket: ConnSocket;
  readonly scanner: FrameScanner;
  info: Record<string, unknown> = {};
  /** last -ERR text received, if any */
  lastError = '';
  closed = false;
  private pongWaiters: Array<() => void> = [];
  /** hook for hot loops: called on every PONG before barrier waiters */
  onPong: (() => void) | null = null;
  /** hook for hot loops: every MSG/HMSG (only when constructed with wantMsgs) */
  onMsg: MsgListener | null = null;
  private requestSeq = 0;
  private inboxPrefix = '';
  private inboxSid = '';
  private pendingRequests = new Map<string, (m: ReceivedMsg | Error) => void>();
  private readonly tokens = new Int32Array(12);

  /** called after each read has been scanned (the subscriber publishes its count here) */
  afterRead: (() => void) | null = null;

  private constructor(socket: ConnSocket, wantMsgs: boolean, fixed?: { frame: number; header: number }) {
    this.socket = socket;
    const handlers: ScannerHandlers = {
      onPing: () => { socket.write(PONG); },
      onPong: () => {
        this.onPong?.();
        const w = this.pongWaiters.shift();
        if (w) w();
      },
      onErr: (text) => { this.lastError = text; },
      onInfo: (json) => {
        try { this.info = JSON.parse(json) as Record<string, unknown>; } catch { /* keep the previous INFO */ }
      },
    };
    if (wantMsgs) {
      handlers.onMsg = (buf, ls, le, ps, pe, hb) => {
        if (this.onMsg !== null) this.onMsg(buf, ls, le, ps, pe, hb);
        else this.dispatchRequestReply(buf, ls, le, ps, pe, hb);
      };
    }
    this.scanner = new FrameScanner(handlers, fixed);
    socket.on('close', () => {
      this.closed = true;
      const err = new Error(`connection closed${this.lastError ? `: ${this.lastError}` : ''}`);
      for (const w of this.pongWaiters.splice(0)) w();
      for (const r of this.pendingRequests.values()) r(err);
      this.pendingRequests.clear();
    });
    socket.on('error', () => { /* 'close' follows and settles waiters */ });
  }

  /**
   * Connects, waits for INFO, sends CONNECT + PING and waits for the PONG.
   * `wantMsgs` routes MSG frames to onMsg / request replies instead of only counting them.
   */
  static async open(o: ConnOptions, wantMsgs = true): Promise<RawConn> {
    if (o.tls) return RawConn.openTls(o, o.tls, wantMsgs);
    // `onread` reads into one reused buffer and skips the stream machinery
    // (no Buffer allocation and 'data' event per read): the scanner only
    // looks at each read once and copies what it must keep.
    let conn!: RawConn;
    const host = o.host ?? '127.0.0.1';
    const onBytes = (data: Buffer) => {
      conn.scanner.feed(data);
      conn.afterRead?.();
    };
    const socket: ConnSocket = o.websocket ? new WsClientSocket(`ws://${host}:${o.port}`, onBytes) : net.createConnection({
      port: o.port,
      host,
      onread: {
        buffer: Buffer.allocUnsafe(READ_BUFFER_BYTES),
        callback: (n: number, buf: Uint8Array) => {
          onBytes((buf as Buffer).subarray(0, n));
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    conn = new RawConn(socket, wantMsgs, o.fixedFrame);
    const timeoutMs = o.connectTimeoutMs ?? 5000;
    await withTimeout(new Promise<void>((resolve, reject) => {
      conn.afterRead = () => {
        if (conn.info.server_id !== undefined) { conn.afterRead = null; resolve(); }
      };
      socket.once('close', () => reject(new Error(`closed before INFO${conn.lastError ? `: ${conn.lastError}` : ''}`)));
    }), timeoutMs, 'INFO');
    socket.write(connectFrame(o));
    await conn.ping(timeoutMs);
    if (conn.closed) throw new Error(`connection refused after CONNECT: ${conn.lastError}`);
    return conn;
  }

  /**
   * TLS: INFO arrives in plaintext, then the client starts the handshake. Reads come as
   * 'data' events (a TLS socket has no `onread`); the scanner is the same.
   */
  private static async openTls(o: ConnOptions, t: ConnTls, wantMsgs: boolean): Promise<RawConn> {
    const timeoutMs = o.connectTimeoutMs ?? 5000;
    const raw = net.createConnection({ port: o.port, host: o.host ?? '127.0.0.1' });
    raw.setNoDelay(true);
    const infoLine = await withTimeout(new Promise<Buffer>((resolve, reject) => {
      let got = Buffer.alloc(0);
      const onData = (b: Buffer) => {
        got = Buffer.concat([got, b]);
        if (got.includes('\r\n')) {
          raw.off('data', onData);
          raw.pause();
          resolve(got);
        }
      };
      raw.on('data', onData);
      raw.once('error', reject);
      raw.once('close', () => reject(new Error('closed before INFO')));
    }), timeoutMs, 'INFO');
    // node takes TLS 1.3 suites in `ciphers` (TLS_ names); offering one suite and TLS 1.3 only
    // leaves the server no choice.
    const socket = tls.connect({
      socket: raw, host: o.host ?? '127.0.0.1', ca: t.ca,
      ...(t.suite ? { ciphers: t.suite, minVersion: 'TLSv1.3' as const } : {}),
    });
    await withTimeout(new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    }), timeoutMs, 'TLS handshake');
    const conn = new RawConn(socket, wantMsgs, o.fixedFrame);
    conn.scanner.feed(infoLine);
    socket.on('data', (b: Buffer) => {
      conn.scanner.feed(b);
      conn.afterRead?.();
    });
    socket.write(connectFrame(o));
    await conn.ping(timeoutMs);
    if (conn.closed) throw new Error(`connection refused after CONNECT: ${conn.lastError}`);
    return conn;
  }

  /** The negotiated TLS cipher (TLS connections only). */
  get tlsCipher(): string | undefined {
    return this.socket instanceof tls.TLSSocket ? this.socket.getCipher()?.standardName : undefined;
  }

  write(buf: Buffer | string): boolean {
    return this.socket.write(buf);
  }

  /** PING and wait for its PONG: everything written before has been processed by the server. */
  ping(timeoutMs = 10_000): Promise<void> {
    const p = new Promise<void>((resolve) => this.pongWaiters.push(resolve));
    this.socket.write(PING);
    return withTimeout(p, timeoutMs, 'PONG');
  }

  sub(subject: string, sid: string, queue = ''): void {
    this.socket.write(queue ? `SUB ${subject} ${queue} ${sid}\r\n` : `SUB ${subject} ${sid}\r\n`);
  }

  /**
   * Request/reply over a wildcard inbox (control plane only: allocates per call).
   * Rejects on timeout; a no-responders 503 resolves with headers containing "503".
   */
  async request(subject: string, payload: Buffer | string, timeoutMs = 5000): Promise<ReceivedMsg> {
    if (this.inboxSid === '') {
      this.inboxPrefix = `_INBOX.bench${process.pid}${Math.floor(Math.random() * 1e9)}.`;
      this.inboxSid = 'inbox';
      this.sub(`${this.inboxPrefix}*`, this.inboxSid);
    }
    const token = String(++this.requestSeq);
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const done = new Promise<ReceivedMsg>((resolve, reject) => {
      this.pendingRequests.set(token, (m) => (m instanceof Error ? reject(m) : resolve(m)));
    });
    this.socket.write(`PUB ${subject} ${this.inboxPrefix}${token} ${body.length}\r\n`);
    this.socket.write(body);
    this.socket.write('\r\n');
    try {
      return await withTimeout(done, timeoutMs, `reply to ${subject}`);
    } finally {
      this.pendingRequests.delete(token);
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private dispatchRequestReply(buf: Buffer, ls: number, le: number, ps: number, pe: number, headerBytes: number): void {
    const n = tokenize(buf, ls, le, this.tokens);
    if (n < 4) return;
    const subject = buf.toString('latin1', this.tokens[2], this.tokens[3]);
    if (!subject.startsWith(this.inboxPrefix) || this.inboxPrefix === '') return;
    const resolve = this.pendingRequests.get(subject.slice(this.inboxPrefix.length));
    if (!resolve) return;
    const isH = (buf[ls] | 0x20) === 104;
    const hasReply = n >= (isH ? 6 : 5);
    resolve({
      subject,
      sid: buf.toString('latin1', this.tokens[4], this.tokens[5]),
      reply: hasReply ? buf.toString('latin1', this.tokens[6], this.tokens[7]) : '',
      headers: headerBytes > 0 ? buf.toString('utf8', ps, ps + headerBytes) : '',
      payload: Buffer.from(buf.subarray(ps + headerBytes, pe)),
    });
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** JSON body of a reply, or an error describing a no-responders status / bad JSON. */
export function replyJson(m: ReceivedMsg): Record<string, any> {
  if (m.headers.includes(' 503')) throw new Error('no responders (503)');
  try {
    return JSON.parse(m.payload.toString()) as Record<string, any>;
  } catch {
    throw new Error(`reply is not JSON: ${m.headers}${m.payload.toString().slice(0, 200)}`);
  }
}
