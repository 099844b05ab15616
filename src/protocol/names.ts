// Protocol names (subjects, queue groups, sids, reply subjects) as strings that
// keep the exact bytes a peer sent.
//
// nats-server treats names as opaque bytes. Decoding them as UTF-8 would turn
// every invalid byte into U+FFFD, so two different subjects would match each
// other and an echo would carry other bytes than the ones sent. Decoding as
// latin1 would keep the bytes but break matching against names that come from
// JSON (stream subjects, permissions), which are real UTF-8 text.
//
// So: valid UTF-8 decodes as usual; a name holding invalid UTF-8 maps each byte
// that is not part of a valid sequence to a lone low surrogate U+DC80..U+DCFF
// (the "surrogateescape" idea). A valid UTF-8 decode never yields a lone
// surrogate, so the mapping is injective, and encodeName() reverses it exactly.
// The hot path pays nothing for ASCII names: decoding checks for U+FFFD only,
// encoding checks only when the UTF-8 length differs from the string length.
import { isUtf8 } from 'node:buffer';

const ESC_BASE = 0xdc00;

/** Decode buf[s, e) as a name, keeping invalid UTF-8 bytes recoverable. */
export function decodeName(buf: Buffer, s: number, e: number): string {
  const str = buf.toString('utf8', s, e);
  if (str.indexOf('\ufffd') === -1) return str;
  const view = buf.subarray(s, e);
  if (isUtf8(view)) return str; // a literal U+FFFD sent as EF BF BD
  return decodeEscaped(view);
}

/**
 * buf[s, e) are the bytes `text` was decoded from (decodeName), for an ASCII `text`. Exact for any
 * text: equal length and char codes equal to the bytes mean every char came from one byte below
 * 0x80 (a multi-byte UTF-8 char makes the text shorter than its bytes, and an escaped byte decodes
 * to U+DC80..U+DCFF, which no byte equals).
 */
export function sameAsciiName(buf: Uint8Array, s: number, e: number, text: string): boolean {
  const n = e - s;
  if (text.length !== n) return false;
  // From the end: consecutive ack subjects share their first ~25 bytes and differ in the last ones.
  for (let i = n - 1; i >= 0; i--) if (text.charCodeAt(i) !== buf[s + i]) return false;
  return true;
}

/**
 * The previous message's subject in a parser: a repeat (the common case for publishes and
 * deliveries) is recognised without decoding it again, and gets one Buffer of its own.
 * A new ASCII name is compared later against its text (sameAsciiName), so no copy of its bytes
 * is kept: every JetStream ack has a new subject, and copying each one into a scratch buffer was
 * most of what spotting a repeat cost. A name whose text is longer or shorter than its bytes
 * (multi-byte UTF-8) keeps a copy of its bytes; one of escaped bytes is decoded again when it
 * repeats, which is only slower.
 */
export class LastName {
  /** the previous name, null before the first */
  text: string | null = null;
  /** the previous name's bytes, kept only when its text cannot stand for them (see above) */
  private bytes: Buffer | null = null;
  private own: Buffer | null = null;

  /** buf[s, e) is the previous name. */
  matches(buf: Buffer, s: number, e: number): boolean {
    const t = this.text;
    if (t === null) return false;
    // In a run of repeats (a pull batch's inbox, a publisher's subject) its own Buffer is there:
    // comparing bytes with bytes is several times cheaper than with the text's char codes.
    const b = this.own ?? this.bytes;
    if (b === null) return sameAsciiName(buf, s, e, t);
    const n = e - s;
    if (b.length !== n) return false;
    for (let i = n - 1; i >= 0; i--) if (b[i] !== buf[s + i]) return false;
    return true;
  }

  /** Decode buf[s, e) as the new previous name. */
  take(buf: Buffer, s: number, e: number): string {
    const t = decodeName(buf, s, e);
    this.text = t;
    this.own = null;
    this.bytes = t.length === e - s ? null : copyName(buf, s, e);
    return t;
  }

  /** The previous name's bytes as a Buffer of its own (made once per run of repeats); buf[s, e) holds them. */
  ownBytes(buf: Buffer, s: number, e: number): Buffer {
    let o = this.own;
    if (o === null) o = this.own = copyName(buf, s, e);
    return o;
  }
}

/** Below this many bytes copyName copies byte by byte. */
const SMALL_COPY = 128;

/**
 * A copy of buf[s, e): one Buffer, no intermediate view. Short names are copied byte by byte:
 * Buffer#copy of a range makes a Uint8Array view of the source first, as large as the copy.
 */
export function copyName(buf: Buffer, s: number, e: number): Buffer {
  const n = e - s;
  const b = Buffer.allocUnsafe(n);
  if (n < SMALL_COPY) {
    for (let i = 0; i < n; i++) b[i] = buf[s + i]!;
  } else {
    buf.copy(b, 0, s, e);
  }
  return b;
}

/** Slow path: walk the bytes, keep valid sequences, escape every other byte. */
function decodeEscaped(b: Buffer): string {
  let out = '';
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      out += String.fromCharCode(c);
      i++;
      continue;
    }
    const len = seqLength(b, i);
    if (len === 0) {
      out += String.fromCharCode(ESC_BASE + c);
      i++;
    } else {
      out += b.toString('utf8', i, i + len);
      i += len;
    }
  }
  return out;
}

/** Length of the valid UTF-8 sequence starting at b[i] (a non-ASCII lead byte), 0 when invalid. */
function seqLength(b: Buffer, i: number): number {
  const c = b[i]!;
  const n = b.length;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => k < n && b[k]! >= lo && b[k]! <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    // E0 needs A0..BF (no overlongs), ED needs 80..9F (no surrogates).
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    // F0 needs 90..BF (no overlongs), F4 needs 80..8F (nothing above U+10FFFF).
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

/** True when `s` holds an escaped byte (so plain UTF-8 encoding would lose it). */
function hasEscapes(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xdc80 && u <= 0xdcff) {
      // A low surrogate preceded by a high one is a real astral character.
      const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
      if (!(prev >= 0xd800 && prev <= 0xdbff)) return true;
    }
  }
  return false;
}

/** The exact bytes of a name produced by decodeName (or of any ordinary string). */
export function encodeName(s: string): Buffer {
  const b = Buffer.from(s);
  if (b.length === s.length) return b; // ASCII: nothing escaped
  return hasEscapes(s) ? encodeEscaped(s) : b;
}

/** Byte length of encodeName(s) without allocating on the ASCII path. */
export function nameByteLength(s: string): number {
  const n = Buffer.byteLength(s);
  if (n === s.length || !hasEscapes(s)) return n;
  return encodeEscaped(s).length;
}

/** Write encodeName(s) into buf at off; returns the new offset. */
export function writeName(buf: Buffer, off: number, s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 127) return writeNonAscii(buf, off, s);
  }
  return off + buf.write(s, off, 'latin1');
}

/**
 * writeName when the caller already has n = nameByteLength(s) (it sized the buffer). When n equals
 * s.length every unit is ASCII or an escaped byte U+DC80..U+DCFF, and latin1 writes the low byte
 * of each unit: exactly the original bytes, with no scan. Otherwise the name is not ASCII, and
 * the one scan left is the one for escaped bytes. Returns the new offset.
 */
export function writeNameSized(buf: Buffer, off: number, s: string, n: number): number {
  if (n === s.length) return off + buf.write(s, off, n, 'latin1');
  return writeNonAscii(buf, off, s);
}

/** A name known to hold a non-ASCII unit: plain UTF-8 unless it holds escaped bytes. */
function writeNonAscii(buf: Buffer, off: number, s: string): number {
  if (!hasEscapes(s)) return off + buf.write(s, off, 'utf8');
  const b = encodeEscaped(s);
  b.copy(buf, off);
  return off + b.length;
}

function encodeEscaped(s: string): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u < 0xdc80 || u > 0xdcff) continue;
    const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
    if (prev >= 0xd800 && prev <= 0xdbff) continue;
    if (i > start) parts.push(Buffer.from(s.slice(start, i)));
    parts.push(Buffer.of(u - ESC_BASE));
    start = i + 1;
  }
  if (start < s.length) parts.push(Buffer.from(s.slice(start)));
  return Buffer.concat(parts);
}

const MEMO_MAX = 256;

/**
 * The last name decoded or written, with its bytes. Consecutive messages of a stream mostly share a
 * subject, and each decodeName / nameByteLength / writeNameSized is a call into the runtime
 * (~100 ns each); a compare of a few bytes, or of the same string, is much cheaper. Every method
 * returns exactly what the plain function returns (they are pure in the bytes or the string). One
 * memo per call site: a site that sees a new name each time (reply subjects) gains nothing.
 */
export class NameMemo {
  private str = '';
  private len = -1;
  private readonly bytes = Buffer.alloc(MEMO_MAX);

  /** decodeName(buf, s, e). */
  decode(buf: Buffer, s: number, e: number): string {
    const n = e - s;
    if (n === this.len) {
      const b = this.bytes;
      let k = 0;
      while (k < n && buf[s + k] === b[k]) k++;
      if (k === n) return this.str;
    }
    const str = decodeName(buf, s, e);
    this.remember(str, buf, s, n);
    return str;
  }

  /** nameByteLength(name). */
  byteLength(name: string): number {
    if (name === this.str && this.len >= 0) return this.len;
    return nameByteLength(name);
  }

  /** writeNameSized(buf, off, name, n), n = nameByteLength(name). */
  write(buf: Buffer, off: number, name: string, n: number): number {
    if (name === this.str && n === this.len) {
      const b = this.bytes;
      for (let k = 0; k < n; k++) buf[off + k] = b[k];
      return off + n;
    }
    const end = writeNameSized(buf, off, name, n);
    this.remember(name, buf, off, end - off);
    return end;
  }

  private remember(str: string, buf: Buffer, at: number, n: number): void {
    if (n > MEMO_MAX) {
      this.len = -1;
      this.str = '';
      return;
    }
    buf.copy(this.bytes, 0, at, at + n);
    this.str = str;
    this.len = n;
  }
}
