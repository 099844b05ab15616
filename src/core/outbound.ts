// Per-connection outbound buffer. Frames are copied into a slab Buffer (small
// payloads) or referenced (large payloads); the connection hands everything to
// the socket once per event-loop turn (`take()` + cork/write/uncork).
//
// Slab regions handed to the socket are never written again: after a flush we
// continue writing after them in the same slab, or allocate a fresh one. The
// slab size adapts to the traffic of the previous flush so idle connections
// hold little memory.

const MIN_SLAB = 512;
const MAX_SLAB = 64 * 1024;
/** payloads larger than this are referenced instead of copied */
const COPY_LIMIT = 16 * 1024;
/** Buffer.allocUnsafe takes sizes below this from Node's shared pool (half of Buffer.poolSize) */
const POOLED_SLAB = Buffer.poolSize >>> 1;

const C_M = 77, C_S = 83, C_G = 71, C_H = 72, C_SP = 32, C_CR = 13, C_LF = 10;

export class Outbound {
  private slab: Buffer | null = null;
  private pos = 0;
  private start = 0;
  private chunks: Buffer[] = [];
  /** bytes queued here and not yet handed to the socket */
  pending = 0;
  private nextSlab = MIN_SLAB;

  get isEmpty(): boolean {
    return this.pending === 0;
  }

  /** Make sure `n` contiguous bytes can be written at `this.pos`. */
  private reserve(n: number): Buffer {
    const slab = this.slab;
    if (slab !== null && slab.length - this.pos >= n) return slab;
    if (slab !== null && this.pos > this.start) this.chunks.push(slab.subarray(this.start, this.pos));
    let size = this.nextSlab;
    if (size < n) size = n;
    const fresh = Buffer.allocUnsafe(size);
    this.slab = fresh;
    this.pos = 0;
    this.start = 0;
    return fresh;
  }

  /** Queue a buffer (copied when small, referenced when large). */
  write(buf: Buffer): void {
    const n = buf.length;
    if (n === 0) return;
    this.pending += n;
    if (n > COPY_LIMIT) {
      this.seal();
      this.chunks.push(buf);
      return;
    }
    const slab = this.reserve(n);
    if (n < 48) {
      let p = this.pos;
      for (let i = 0; i < n; i++) slab[p++] = buf[i];
      this.pos = p;
    } else {
      buf.copy(slab, this.pos);
      this.pos += n;
    }
  }

  private seal(): void {
    if (this.slab !== null && this.pos > this.start) {
      this.chunks.push(this.slab.subarray(this.start, this.pos));
      this.start = this.pos;
    }
  }

  /**
   * Write a MSG or HMSG frame:
   *   MSG <subject><sid bytes>[<reply> ]<size>\r\n<payload>\r\n
   *   HMSG <subject><sid bytes>[<reply> ]<hdrLen> <total>\r\n<data>\r\n
   * `sidBytes` is " <sid> " (with both spaces). `hdrLen` > 0 selects HMSG and
   * `data` then holds headers+payload. Returns the number of bytes queued.
   * The subject is `subject[ss, se)` and the reply `reply[rs, re)` (none when rs < 0): a
   * routed message's are ranges of the read buffer (InboundMsg), copied without a view.
   */
  writeMsg(subject: Buffer, ss: number, se: number, sidBytes: Buffer, reply: Buffer, rs: number, re: number,
    hdrLen: number, data: Buffer): number {
    const size = data.length;
    const rlen = rs < 0 ? 0 : re - rs + 1;
    const headLen = 5 + (se - ss) + sidBytes.length + rlen + 40;
    const inline = size <= COPY_LIMIT;
    const need = inline ? headLen + size + 2 : headLen;
    let slab = this.slab;
    if (slab === null || slab.length - this.pos < need) slab = this.reserve(need);
    let p = this.pos;
    const p0 = p;
    if (hdrLen > 0) {
      slab[p++] = C_H;
    }
    slab[p++] = C_M; slab[p++] = C_S; slab[p++] = C_G; slab[p++] = C_SP;
    p = copyRange(subject, ss, se, slab, p);
    p = copySmall(sidBytes, slab, p);
    if (rs >= 0) {
      p = copyRange(reply, rs, re, slab, p);
      slab[p++] = C_SP;
    }
    if (hdrLen > 0) {
      p = writeUint(slab, p, hdrLen);
      slab[p++] = C_SP;
    }
    p = writeUint(slab, p, size);
    slab[p++] = C_CR; slab[p++] = C_LF;
    if (inline) {
      if (size < 48) {
        for (let i = 0; i < size; i++) slab[p++] = data[i];
      } else {
        data.copy(slab, p);
        p += size;
      }
      slab[p++] = C_CR; slab[p++] = C_LF;
      this.pos = p;
    } else {
      this.pos = p;
      this.seal();
      this.chunks.push(data);
      const tail = this.reserve(2);
      tail[this.pos++] = C_CR; tail[this.pos++] = C_LF;
      p += 2;
    }
    const n = (p - p0) + (inline ? 0 : size);
    this.pending += n;
    return n;
  }

  /** Everything queued since the last take, in order; resets the pending count. */
  take(): Buffer[] | null {
    if (this.pending === 0) return null;
    this.seal();
    const out = this.chunks;
    this.chunks = [];
    // Size the next slab after this flush's volume (bounded).
    let next = this.pending * 2;
    if (next < MIN_SLAB) next = MIN_SLAB;
    else if (next > MAX_SLAB) next = MAX_SLAB;
    this.nextSlab = next;
    this.pending = 0;
    // Drop a nearly full slab so an idle connection does not pin it. Keep no small slab either:
    // it is a slice of Node's shared 8 KiB Buffer pool (allocUnsafe below 4 KiB), and one kept by
    // an idle connection pins the whole pool (1,000 idle connections held 233 pools, 1.9 MB); a
    // connection with little output takes a fresh slice at its next write instead.
    if (this.slab !== null && (this.slab.length - this.pos < 256 || this.slab.length < POOLED_SLAB)) {
      this.slab = null;
      this.pos = 0;
      this.start = 0;
    }
    return out;
  }

  /** Discard everything queued (connection closed). */
  clear(): void {
    this.chunks = [];
    this.slab = null;
    this.pos = 0;
    this.start = 0;
    this.pending = 0;
  }
}

function copySmall(src: Buffer, dst: Buffer, p: number): number {
  const n = src.length;
  if (n < 48) {
    for (let i = 0; i < n; i++) dst[p++] = src[i];
    return p;
  }
  src.copy(dst, p);
  return p + n;
}

/** copySmall of `src[s, e)`. Up to 128 bytes byte by byte: Buffer#copy of a range makes a view of the source first. */
function copyRange(src: Buffer, s: number, e: number, dst: Buffer, p: number): number {
  if (e - s <= 128) {
    for (let i = s; i < e; i++) dst[p++] = src[i];
    return p;
  }
  src.copy(dst, p, s, e);
  return p + (e - s);
}

/** Write a non-negative integer in decimal; returns the new position. */
function writeUint(dst: Buffer, p: number, v: number): number {
  if (v < 10) {
    dst[p] = 48 + v;
    return p + 1;
  }
  if (v < 100) {
    const t = (v / 10) | 0;
    dst[p] = 48 + t;
    dst[p + 1] = 48 + v - t * 10;
    return p + 2;
  }
  let digits = 0;
  if (v < 2147483648) {
    for (let t = v; t > 0; t = (t / 10) | 0) digits++;
    let q = p + digits - 1;
    for (let t = v; t > 0; q--) {
      const d = (t / 10) | 0;
      dst[q] = 48 + t - d * 10;
      t = d;
    }
    return p + digits;
  }
  for (let t = v; t > 0; t = Math.floor(t / 10)) digits++;
  let q = p + digits - 1;
  for (let t = v; t > 0; t = Math.floor(t / 10)) dst[q--] = 48 + (t % 10);
  return p + digits;
}
