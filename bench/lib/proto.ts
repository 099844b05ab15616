// Byte-level pieces of the load generator: pre-encoded client frames and a
// scanner that counts server frames without building an object per message.
// The generator must never be what limits a measurement, so the counting path
// is a few byte comparisons per frame and allocates nothing.

const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;
/** bytes of a new read joined to a carried partial frame */
const STRADDLE_WINDOW_BYTES = 8192;

export interface ConnectOptions {
  headers?: boolean;
  noResponders?: boolean;
  echo?: boolean;
  name?: string;
  /** user/password authentication (servers configured with accounts) */
  user?: string;
  pass?: string;
}

/** CONNECT line as real clients send it: verbose/pedantic explicitly false. */
export function connectFrame(o: ConnectOptions = {}): Buffer {
  const headers = o.headers ?? false;
  const json = {
    verbose: false,
    pedantic: false,
    echo: o.echo ?? true,
    headers,
    no_responders: headers && (o.noResponders ?? false),
    protocol: 1,
    lang: 'tsnats-bench',
    version: '1.0.0',
    name: o.name ?? 'bench',
    ...(o.user !== undefined ? { user: o.user, pass: o.pass ?? '' } : {}),
  };
  return Buffer.from(`CONNECT ${JSON.stringify(json)}\r\n`);
}

/** PUB frame: `PUB <subject> [reply] <size>\r\n<payload>\r\n`. */
export function pubFrame(subject: string, reply: string, payload: Buffer): Buffer {
  const head = reply ? `PUB ${subject} ${reply} ${payload.length}\r\n` : `PUB ${subject} ${payload.length}\r\n`;
  return Buffer.concat([Buffer.from(head), payload, Buffer.from('\r\n')]);
}

/** `count` copies of `frame` back to back, then `trailer` (e.g. a PING barrier). */
export function repeatFrame(frame: Buffer, count: number, trailer?: Buffer): Buffer {
  const trailerLength = trailer ? trailer.length : 0;
  const out = Buffer.allocUnsafe(frame.length * count + trailerLength);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  if (trailer) trailer.copy(out, frame.length * count);
  return out;
}

/** A payload of `size` printable bytes (content is irrelevant to the servers). */
export function payloadOf(size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = 97 + (i % 26);
  return b;
}

/** Length of the MSG frame a server sends for `subject`/`sid` with no reply. */
export function msgFrameLength(subject: string, sid: string, payloadSize: number): { frame: number; header: number } {
  const header = `MSG ${subject} ${sid} ${payloadSize}\r\n`.length;
  return { frame: header + payloadSize + 2, header };
}

export interface ScannerHandlers {
  /** server PING: the caller must answer PONG (keepalive) */
  onPing?(): void;
  onPong?(): void;
  onErr?(text: string): void;
  onInfo?(json: string): void;
  /**
   * Every MSG/HMSG that is not counted by the fixed-frame fast path.
   * Offsets index `buf`; the control line is [lineStart, lineEnd) without CRLF;
   * the payload (headers included for HMSG) is [payloadStart, payloadEnd).
   * `headerBytes` is 0 for MSG. Copy anything kept past the call.
   */
  onMsg?(buf: Buffer, lineStart: number, lineEnd: number, payloadStart: number, payloadEnd: number, headerBytes: number): void;
}

/**
 * Streaming scanner of server-to-client frames. Frames may be split across
 * reads; a partial frame is kept (copied, it is small) until the next chunk.
 *
 * Fast path: when the caller declares that nearly every frame is a MSG of one
 * fixed length (known subject, sid and payload size) and has no onMsg handler,
 * a frame is recognised by three byte checks and counted without parsing.
 */
export class FrameScanner {
  /** MSG + HMSG frames seen */
  msgCount = 0;
  private carry: Buffer | null = null;
  private readonly fixedFrame: number;
  private readonly fixedHeader: number;

  constructor(private readonly handlers: ScannerHandlers = {}, fixed?: { frame: number; header: number }) {
    this.fixedFrame = fixed && !handlers.onMsg ? fixed.frame : 0;
    this.fixedHeader = fixed ? fixed.header : 0;
  }

  feed(chunk: Buffer): void {
    let start = 0;
    const carry = this.carry;
    if (carry !== null) {
      this.carry = null;
      // Finish the frame split across reads on a small joined window instead
      // of concatenating the whole read (a full copy per read is measurable).
      const head = Math.min(chunk.length, STRADDLE_WINDOW_BYTES);
      const joined = Buffer.concat([carry, chunk.subarray(0, head)]);
      const stop = this.scan(joined, 0);
      if (stop >= carry.length) {
        start = stop - carry.length;
      } else if (head === chunk.length) {
        this.carry = Buffer.from(joined.subarray(stop));
        return;
      } else {
        // A frame larger than the window: fall back to one full concat.
        const all = Buffer.concat([joined.subarray(stop), chunk.subarray(head)]);
        const end = this.scan(all, 0);
        if (end < all.length) this.carry = Buffer.from(all.subarray(end));
        return;
      }
    }
    const end = this.scan(chunk, start);
    if (end < chunk.length) this.carry = Buffer.from(chunk.subarray(end));
  }

  /** Consumes complete frames from `start`; returns where the first incomplete frame begins. */
  private scan(buf: Buffer, start: number): number {
    const end = buf.length;
    let p = start;
    const fixedFrame = this.fixedFrame;
    const fixedHeader = this.fixedHeader;
    let count = this.msgCount;
    while (p < end) {
      if (
        fixedFrame !== 0 &&
        p + fixedFrame <= end &&
        buf[p] === 77 /* M */ &&
        buf[p + fixedHeader - 1] === LF &&
        buf[p + fixedFrame - 1] === LF &&
        buf[p + fixedFrame - 2] === CR
      ) {
        count++;
        p += fixedFrame;
        continue;
      }
      const nl = buf.indexOf(LF, p);
      if (nl < 0) break;
      const lineEnd = nl > p && buf[nl - 1] === CR ? nl - 1 : nl;
      const c0 = buf[p] | 0x20;
      if (c0 === 109 /* m */ || c0 === 104 /* h */) {
        const isH = c0 === 104;
        const total = lastNumber(buf, p, lineEnd);
        const payloadStart = nl + 1;
        const payloadEnd = payloadStart + total;
        if (payloadEnd + 2 > end) break; // payload not complete yet
        count++;
        if (this.handlers.onMsg) {
          const headerBytes = isH ? secondLastNumber(buf, p, lineEnd) : 0;
          this.msgCount = count;
          this.handlers.onMsg(buf, p, lineEnd, payloadStart, payloadEnd, headerBytes);
          count = this.msgCount;
        }
        p = payloadEnd + 2;
        continue;
      }
      if (c0 === 112 /* p */) {
        if ((buf[p + 1] | 0x20) === 105 /* i */) this.handlers.onPing?.();
        else this.handlers.onPong?.();
      } else if (c0 === 45 /* - */) {
        this.handlers.onErr?.(buf.toString('latin1', p, lineEnd));
      } else if (c0 === 105 /* i */) {
        this.handlers.onInfo?.(buf.toString('utf8', p + 5, lineEnd).trim());
      }
      // +OK and anything unknown: skip the line
      p = nl + 1;
    }
    this.msgCount = count;
    return p;
  }
}

function isBlank(b: number): boolean {
  return b === SPACE || b === TAB;
}

/** The decimal number ending the control line [start, end). */
export function lastNumber(buf: Buffer, start: number, end: number): number {
  let i = end - 1;
  while (i >= start && isBlank(buf[i])) i--;
  let value = 0;
  let scale = 1;
  while (i >= start && buf[i] >= 48 && buf[i] <= 57) {
    value += (buf[i] - 48) * scale;
    scale *= 10;
    i--;
  }
  return value;
}

/** The number before the last one (HMSG header size). */
function secondLastNumber(buf: Buffer, start: number, end: number): number {
  let i = end - 1;
  while (i >= start && isBlank(buf[i])) i--;
  while (i >= start && !isBlank(buf[i])) i--;
  return lastNumber(buf, start, i + 1);
}

/**
 * Splits the control line [start, end) into whitespace-separated tokens and
 * writes their [start, end) offsets pairwise into `out`. Returns the count.
 * Runs of spaces count as one separator (nats-server sends `sid  size` for
 * messages without a reply).
 */
export function tokenize(buf: Buffer, start: number, end: number, out: Int32Array): number {
  let n = 0;
  let i = start;
  while (i < end && n * 2 < out.length) {
    while (i < end && isBlank(buf[i])) i++;
    if (i >= end) break;
    const s = i;
    while (i < end && !isBlank(buf[i])) i++;
    out[n * 2] = s;
    out[n * 2 + 1] = i;
    n++;
  }
  return n;
}
