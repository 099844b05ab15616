// A raw TCP client for exact-bytes protocol tests: send anything, read
// everything the server sends, wait for patterns or for the server to close.
import net from 'node:net';

export class RawClient {
  private chunks: Buffer[] = [];
  private waiters: (() => void)[] = [];
  /** resolves when the server closed the connection (or the socket errored) */
  readonly closed: Promise<void>;
  isClosed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (b) => {
      this.chunks.push(b);
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      const done = () => {
        this.isClosed = true;
        this.wake();
        resolve();
      };
      socket.on('close', done);
      socket.on('error', () => undefined);
    });
  }

  static connect(port: number, host = '127.0.0.1'): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host }, () => {
        s.off('error', reject);
        resolve(new RawClient(s));
      });
      s.once('error', reject);
    });
  }

  /** Connect and consume the INFO line; returns the client and the parsed INFO. */
  static async connectInfo(port: number): Promise<{ c: RawClient; info: Record<string, unknown> }> {
    const c = await RawClient.connect(port);
    const line = await c.readLine();
    if (!line.startsWith('INFO ')) throw new Error(`expected INFO, got ${line}`);
    return { c, info: JSON.parse(line.slice(5)) };
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Everything received and not consumed yet. */
  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  get bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Drop everything received so far. */
  clear(): void {
    this.chunks = [];
  }

  /** Wait until the received text satisfies `pred` (or contains `pred`). */
  async waitFor(pred: string | RegExp | ((text: string) => boolean), timeoutMs = 3000): Promise<string> {
    const test = typeof pred === 'string' ? (t: string) => t.includes(pred)
      : pred instanceof RegExp ? (t: string) => pred.test(t) : pred;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const t = this.text;
      if (test(t)) return t;
      if (this.isClosed) throw new Error(`connection closed while waiting for ${String(pred)}; got ${JSON.stringify(t)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${String(pred)}; got ${JSON.stringify(t)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Consume and return one CRLF-terminated line (without CRLF). */
  async readLine(timeoutMs = 3000): Promise<string> {
    const t = await this.waitFor((x) => x.includes('\r\n'), timeoutMs);
    const i = t.indexOf('\r\n');
    const line = t.slice(0, i);
    const rest = this.bytes.subarray(Buffer.byteLength(t.slice(0, i + 2), 'latin1'));
    this.chunks = rest.length > 0 ? [rest] : [];
    return line;
  }

  /** Send PING and wait for the PONG; returns everything received before it and consumes it. */
  async flushPing(timeoutMs = 3000): Promise<string> {
    this.send('PING\r\n');
    const t = await this.waitFor((x) => x.includes('PONG\r\n'), timeoutMs);
    const i = t.indexOf('PONG\r\n');
    const before = t.slice(0, i);
    const rest = this.bytes.subarray(i + 6);
    this.chunks = rest.length > 0 ? [rest] : [];
    return before;
  }

  /** Wait for the server to close the connection. */
  async waitClosed(timeoutMs = 3000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`server did not close the connection; got ${JSON.stringify(this.text)}`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A CONNECT line as nats.js would send it, with overrides. */
export function connectLine(over: Record<string, unknown> = {}): string {
  return `CONNECT ${JSON.stringify({
    verbose: false, pedantic: false, tls_required: false, lang: 'raw', version: '0.0.1',
    protocol: 1, echo: true, headers: true, no_responders: true, ...over,
  })}\r\n`;
}
