// RFC 6455 frames, written for the NATS byte stream (the server side of websocket clients and
// leaf links, and the dialling side of a leaf link to a websocket hub): the decoder unmasks
// payload bytes in place and hands them on as they arrive (a message is never reassembled,
// since the NATS parser takes its input in any pieces), except compressed messages, which
// are collected and inflated whole (permessage-deflate, RFC 7692, no context takeover).
// Checks and their close texts follow nats-server's wsRead.
import { endianness } from 'node:os';
import { deflateRawSync, inflateRawSync, constants as zc } from 'node:zlib';

export const enum Op {
  CONTINUATION = 0,
  TEXT = 1,
  BINARY = 2,
  CLOSE = 8,
  PING = 9,
  PONG = 10,
}

const FIN = 0x80;
const RSV1 = 0x40;
const MASK = 0x80;
export const MAX_CONTROL_PAYLOAD = 125;
/** Put back after a message to inflate it (RFC 7692 7.2.2: the sender removed 00 00 ff ff),
 *  followed by an empty final block so the inflater sees a complete stream. */
const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff]);
const LITTLE_ENDIAN = endianness() === 'LE';

export interface FrameHandler {
  /** NATS protocol bytes: a piece of a data frame (unmasked), or a whole inflated message */
  onData(data: Buffer): void;
  /** a complete ping, pong or close frame */
  onControl(op: Op, payload: Buffer): void;
  /** the peer broke the framing rules: `text` goes in a 1002 close frame */
  onProtocolError(text: string): void;
}

const enum State {
  HEADER,
  PAYLOAD,
  FAILED,
}

export class FrameDecoder {
  private state = State.HEADER;
  private readonly header = Buffer.alloc(14);
  private headerLen = 0;
  private headerNeed = 2;
  private op = 0;
  private fin = false;
  private masked = false;
  private remaining = 0;
  private readonly key = new Uint8Array(4);
  private keyPos = 0;
  /** the current data message's last frame has not arrived yet */
  private inMessage = false;
  private compressed = false;
  private compressedParts: Buffer[] = [];
  private compressedBytes = 0;
  private controlParts: Buffer[] = [];

  /** `requireMask`: client frames must be masked (unless nats-server's no-masking was agreed). */
  constructor(private readonly h: FrameHandler, private readonly requireMask: boolean, private readonly maxMessageBytes: number) {}

  feed(buf: Buffer): void {
    let i = 0;
    const n = buf.length;
    while (i < n && this.state !== State.FAILED) {
      if (this.state === State.HEADER) {
        const take = Math.min(this.headerNeed - this.headerLen, n - i);
        buf.copy(this.header, this.headerLen, i, i + take);
        this.headerLen += take;
        i += take;
        if (this.headerLen === this.headerNeed) this.onHeaderBytes();
        continue;
      }
      const take = Math.min(this.remaining, n - i);
      const part = buf.subarray(i, i + take);
      i += take;
      this.remaining -= take;
      if (this.masked) this.keyPos = unmask(part, this.key, this.keyPos);
      this.onPayload(part);
      if (this.remaining === 0) this.frameDone();
    }
  }

  /** Header bytes so far are complete for what is known: read more of it or start the payload. */
  private onHeaderBytes(): void {
    const hd = this.header;
    if (this.headerNeed === 2) {
      const len7 = hd[1]! & 0x7f;
      const extra = (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + ((hd[1]! & MASK) !== 0 ? 4 : 0);
      if (extra > 0) {
        this.headerNeed = 2 + extra;
        return;
      }
    }
    const b0 = hd[0]!;
    const b1 = hd[1]!;
    const op = b0 & 0x0f;
    const fin = (b0 & FIN) !== 0;
    const rsv1 = (b0 & RSV1) !== 0;
    this.masked = (b1 & MASK) !== 0;
    if (this.requireMask && !this.masked) return this.fail('mask bit missing');
    let len = b1 & 0x7f;
    let p = 2;
    if (len === 126) {
      len = hd.readUInt16BE(2);
      p = 4;
    } else if (len === 127) {
      const big = hd.readBigUInt64BE(2);
      if (big > BigInt(this.maxMessageBytes)) return this.fail('frame too large');
      len = Number(big);
      p = 10;
    }
    if (this.masked) {
      this.key[0] = hd[p]!;
      this.key[1] = hd[p + 1]!;
      this.key[2] = hd[p + 2]!;
      this.key[3] = hd[p + 3]!;
      this.keyPos = 0;
    }
    switch (op) {
      case Op.PING:
      case Op.PONG:
      case Op.CLOSE:
        if (len > MAX_CONTROL_PAYLOAD) return this.fail(`control frame length bigger than maximum allowed of ${MAX_CONTROL_PAYLOAD} bytes`);
        if (!fin) return this.fail('control frame does not have final bit set');
        break;
      case Op.TEXT:
      case Op.BINARY:
        if (this.inMessage) return this.fail('new message started before final frame for previous message was received');
        this.inMessage = !fin;
        this.compressed = rsv1;
        break;
      case Op.CONTINUATION:
        if (!this.inMessage || rsv1) return this.fail('invalid continuation frame');
        this.inMessage = !fin;
        break;
      default:
        return this.fail(`unknown opcode ${op}`);
    }
    this.op = op;
    this.fin = fin;
    this.remaining = len;
    this.headerLen = 0;
    this.headerNeed = 2;
    this.state = State.PAYLOAD;
    if (len === 0) this.frameDone();
  }

  private onPayload(part: Buffer): void {
    if (part.length === 0) return;
    if (this.op >= Op.CLOSE) {
      this.controlParts.push(Buffer.from(part));
    } else if (this.compressed) {
      this.compressedBytes += part.length;
      if (this.compressedBytes > this.maxMessageBytes) return this.fail('message too large');
      // The read buffer is reused by the socket: keep a copy until the message is whole.
      this.compressedParts.push(Buffer.from(part));
    } else {
      this.h.onData(part);
    }
  }

  private frameDone(): void {
    this.state = State.HEADER;
    const op = this.op;
    if (op >= Op.CLOSE) {
      const payload = this.controlParts.length === 1 ? this.controlParts[0]! : Buffer.concat(this.controlParts);
      this.controlParts = [];
      this.h.onControl(op, payload);
      return;
    }
    if (this.compressed && this.fin) {
      const parts = this.compressedParts;
      this.compressedParts = [];
      this.compressedBytes = 0;
      this.compressed = false;
      parts.push(DEFLATE_TAIL);
      let data: Buffer;
      try {
        data = inflateRawSync(Buffer.concat(parts), { maxOutputLength: this.maxMessageBytes });
      } catch (e) {
        return this.fail(`decompression error: ${(e as Error).message}`);
      }
      this.h.onData(data);
    }
  }

  private fail(text: string): void {
    this.state = State.FAILED;
    this.h.onProtocolError(text);
  }
}

/** XOR `buf` in place with the 4-byte key starting at key position `pos`; returns the next position. */
export function unmask(buf: Buffer, key: Uint8Array, pos: number): number {
  const n = buf.length;
  let i = 0;
  if (LITTLE_ENDIAN && n >= 32) {
    // Byte by byte up to a 4-byte boundary of the underlying memory, then a word at a time.
    const off = buf.byteOffset;
    while (((off + i) & 3) !== 0) {
      buf[i] ^= key[(pos + i) & 3]!;
      i++;
    }
    const p = (pos + i) & 3;
    const word = (key[p]! | (key[(p + 1) & 3]! << 8) | (key[(p + 2) & 3]! << 16) | (key[(p + 3) & 3]! << 24)) | 0;
    const words = (n - i) >> 2;
    const view = new Int32Array(buf.buffer, off + i, words);
    for (let w = 0; w < words; w++) view[w] ^= word;
    i += words << 2;
  }
  for (; i < n; i++) buf[i] ^= key[(pos + i) & 3]!;
  return (pos + n) & 3;
}

/**
 * A frame header for a payload of `len` bytes. A server's frames are never masked; a leaf link
 * that dialled a websocket hub writes as a client and masks (unless the hub agreed to
 * nats-server's no-masking): then `maskKey` is written after the length and the caller masks
 * the payload with it.
 */
export function frameHeader(op: Op, len: number, compressed = false, maskKey?: Uint8Array): Buffer {
  const b0 = FIN | op | (compressed ? RSV1 : 0);
  if (maskKey !== undefined) return maskedHeader(b0, len, maskKey);
  if (len <= 125) {
    const h = Buffer.allocUnsafe(2);
    h[0] = b0;
    h[1] = len;
    return h;
  }
  if (len < 65536) {
    const h = Buffer.allocUnsafe(4);
    h[0] = b0;
    h[1] = 126;
    h.writeUInt16BE(len, 2);
    return h;
  }
  const h = Buffer.allocUnsafe(10);
  h[0] = b0;
  h[1] = 127;
  h.writeBigUInt64BE(BigInt(len), 2);
  return h;
}

/** A client's header: the mask bit, the length, then the 4-byte key (kept apart from the server's hot path). */
function maskedHeader(b0: number, len: number, key: Uint8Array): Buffer {
  const lenBytes = len <= 125 ? 0 : len < 65536 ? 2 : 8;
  const h = Buffer.allocUnsafe(6 + lenBytes);
  h[0] = b0;
  if (lenBytes === 0) {
    h[1] = MASK | len;
  } else if (lenBytes === 2) {
    h[1] = MASK | 126;
    h.writeUInt16BE(len, 2);
  } else {
    h[1] = MASK | 127;
    h.writeBigUInt64BE(BigInt(len), 2);
  }
  h.set(key.subarray(0, 4), 2 + lenBytes);
  return h;
}

/** A close frame body: the status, then the text cut to fit (with "..." as nats-server does). */
export function closePayload(status: number, text: string): Buffer {
  let body = Buffer.from(text);
  if (body.length > MAX_CONTROL_PAYLOAD - 2) body = Buffer.concat([body.subarray(0, MAX_CONTROL_PAYLOAD - 5), Buffer.from('...')]);
  const out = Buffer.allocUnsafe(2 + body.length);
  out.writeUInt16BE(status, 0);
  body.copy(out, 2);
  return out;
}

/** One message deflated as permessage-deflate wants it (sync flush, the 4-byte tail removed). */
export function deflateMessage(data: Buffer): Buffer {
  const out = deflateRawSync(data, { level: 1, finishFlush: zc.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}
