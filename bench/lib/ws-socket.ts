// The load generator's websocket transport: a `ws` client that looks like the bits of a
// net.Socket RawConn uses (write with back-pressure, 'drain', 'close', destroy), so the
// publisher and subscriber workers drive a websocket port with the same code as TCP.
// Each write is one binary message (masked, as a client must); what arrives goes to onBytes.
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';

/** Like a socket's highWaterMark: past this, write() returns false until 'drain'. */
const HIGH_WATER_MARK = 256 * 1024;
const SEND_OPTS = { binary: true };

export class WsClientSocket extends EventEmitter {
  private readonly ws: WebSocket;
  private blocked = false;

  constructor(url: string, onBytes: (data: Buffer) => void) {
    super();
    // No compression: it would measure zlib, not the server.
    this.ws = new WebSocket(url, { perMessageDeflate: false });
    this.ws.on('message', (data: Buffer) => onBytes(data));
    this.ws.on('close', () => this.emit('close'));
    this.ws.on('error', (err) => this.emit('error', err));
  }

  write(data: Buffer | string): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(data, SEND_OPTS, this.onSent);
    if (this.ws.bufferedAmount > HIGH_WATER_MARK) this.blocked = true;
    return !this.blocked;
  }

  private readonly onSent = (): void => {
    if (this.blocked && this.ws.bufferedAmount <= HIGH_WATER_MARK / 2) {
      this.blocked = false;
      this.emit('drain');
    }
  };

  setNoDelay(): void {
    // ws sets TCP_NODELAY on its socket itself.
  }

  destroy(): void {
    this.ws.terminate();
  }
}
