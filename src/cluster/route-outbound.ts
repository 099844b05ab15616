// Outbound buffer of a route connection. Routed messages are written straight
// into a slab (control line, payload, CRLF in one pass, no per-message
// allocation); large payloads are referenced instead of copied. Everything
// queued during one event-loop turn goes to the socket in one cork/uncork.
//
// Slab regions handed to the socket are never written again: after take() we
// continue after them in the same slab or start a fresh one.

import { routedMsgHeadRoom, writeRoutedMsgHead } from '../protocol/route-encoder.js';

const CRLF = Buffer.from('\r\n');
const SLAB_BYTES = 64 * 1024;
/** payloads larger than this are referenced, not copied */
const COPY_LIMIT = 16 * 1024;

export class RouteOutbound {
  private slab: Buffer = Buffer.allocUnsafe(SLAB_BYTES);
  /** write position in the slab */
  pos = 0;
  /** start of the slab region not yet handed out */
  private start = 0;
  private chunks: Buffer[] = [];
  /** bytes queued and not yet taken */
  pending = 0;

  /**
   * Make `n` contiguous bytes writable at `this.pos` and return the slab to write into.
   * After writing, call commit(newPos).
   */
  reserve(n: number): Buffer {
    const slab = this.slab;
    if (slab.length - this.pos >= n) return slab;
    this.seal();
    const fresh = Buffer.allocUnsafe(n > SLAB_BYTES ? n : SLAB_BYTES);
    this.slab = fresh;
    this.pos = 0;
    this.start = 0;
    return fresh;
  }

  /** Record that the slab was written up to `newPos`. */
  commit(newPos: number): void {
    this.pending += newPos - this.pos;
    this.pos = newPos;
  }

  /** Queue bytes: copied when small, referenced when large. */
  write(buf: Buffer): void {
    const n = buf.length;
    if (n === 0) return;
    if (n > COPY_LIMIT) {
      this.seal();
      this.chunks.push(buf);
      this.pending += n;
      return;
    }
    const slab = this.reserve(n);
    buf.copy(slab, this.pos);
    this.commit(this.pos + n);
  }

  /**
   * Queue one routed message (RMSG/HMSG, or the leaf form LMSG/HMSG when `accountBytes` is
   * null): control line, payload and CRLF in one pass into the slab when the payload is small,
   * the payload referenced when large (read buffers are never reused by Node). `data` is
   * headers+payload; `hdrLen` > 0 selects HMSG.
   */
  writeMsg(
    accountBytes: Buffer | null, subject: Buffer, reply: Buffer | null, queues: readonly string[] | null,
    hdrLen: number, data: Buffer,
  ): void {
    const size = data.length;
    const room = routedMsgHeadRoom(accountBytes, subject, reply, queues);
    if (size <= COPY_LIMIT) {
      const b = this.reserve(room + size + 2);
      let p = writeRoutedMsgHead(b, this.pos, accountBytes, subject, reply, queues, hdrLen, size);
      if (size < 64) {
        for (let i = 0; i < size; i++) b[p++] = data[i]!;
      } else {
        data.copy(b, p);
        p += size;
      }
      b[p++] = 13;
      b[p++] = 10;
      this.commit(p);
    } else {
      const b = this.reserve(room);
      this.commit(writeRoutedMsgHead(b, this.pos, accountBytes, subject, reply, queues, hdrLen, size));
      this.write(data);
      this.write(CRLF);
    }
  }

  /** Whether a payload of this size is copied into the slab (otherwise referenced). */
  static copies(size: number): boolean {
    return size <= COPY_LIMIT;
  }

  private seal(): void {
    if (this.pos > this.start) {
      this.chunks.push(this.slab.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }

  /** Everything queued since the last take, in order. */
  take(): Buffer[] | null {
    if (this.pending === 0) return null;
    this.seal();
    const out = this.chunks;
    this.chunks = [];
    this.pending = 0;
    // Start over in a fresh slab when little room is left.
    if (this.slab.length - this.pos < 1024) {
      this.slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.pos = 0;
      this.start = 0;
    }
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.pending = 0;
    this.start = this.pos;
  }
}
