// S2 compression (github.com/klauspost/compress/s2) as nats-server uses it in the meta layer:
//  - the block format (s2.Encode / s2.EncodeBetter / s2.Decode) wraps meta snapshots and
//    compressed stream messages;
//  - the framed stream format (s2.NewWriter / s2.NewReader) wraps assignCompressedConsumerOp.
//
// S2 is a superset of Snappy: a Snappy block is a valid S2 block. The one extension the
// decoder must know is the "repeat" copy: a 1-byte-offset copy whose offset is 0 reuses the
// previous copy's offset, and its 3-bit length field selects how many extra length bytes
// follow. Our encoder emits Snappy-compatible tags plus repeat copies, which Go's s2.Decode
// reads.
//
// Decoding never trusts the input: the declared length is bounded before anything is
// allocated, every tag is bounds-checked, and a mismatch throws S2Error.

/** Thrown for corrupt, truncated or oversized input. `code` says which. */
export class S2Error extends Error {
  constructor(readonly code: 'corrupt' | 'too_large' | 'crc' | 'unsupported', message: string) {
    super(message);
    this.name = 'S2Error';
  }
}

/** Default bound on a decoded block (the meta snapshot of a very large system stays well below). */
export const S2_DEFAULT_MAX_DECODED = 256 * 1024 * 1024;
/** Largest block inside the framed stream format (S2's maxBlockSize). */
export const S2_STREAM_MAX_BLOCK = 4 * 1024 * 1024;
/** Block size our stream writer uses (s2.NewWriter's default). */
export const S2_STREAM_BLOCK = 1024 * 1024;

const TAG_LITERAL = 0;
const TAG_COPY1 = 1;
const TAG_COPY2 = 2;
const TAG_COPY4 = 3;

const corrupt = (why: string): S2Error => new S2Error('corrupt', `s2: corrupt input (${why})`);

function readUvarint(src: Uint8Array, pos: number): { value: number; next: number } {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= src.length) throw corrupt('truncated length header');
    const b = src[pos + i]!;
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      if (v > 0xffffffff) throw corrupt('length header over 32 bits');
      return { value: v, next: pos + i + 1 };
    }
    mul *= 128;
  }
  throw corrupt('length header too long');
}

/** Declared decoded length of a block (s2.DecodedLen). */
export function s2DecodedLen(src: Uint8Array): number {
  return readUvarint(src, 0).value;
}

/**
 * Decode one S2 (or Snappy) block. `maxDecoded` bounds the declared length so a hostile
 * header cannot make us allocate gigabytes.
 */
export function s2Decode(src: Uint8Array, maxDecoded = S2_DEFAULT_MAX_DECODED): Buffer {
  const { value: dLen, next } = readUvarint(src, 0);
  if (dLen > maxDecoded) {
    throw new S2Error('too_large', `s2: decoded block is too large (${dLen} > ${maxDecoded})`);
  }
  // The output grows as it is produced (up to the declared length), so a short input that
  // claims a huge length fails before it costs memory.
  let dst = Buffer.allocUnsafe(Math.min(dLen, Math.max(4096, src.length * 16)));
  const room = (need: number): void => {
    if (need <= dst.length) return;
    const next = Buffer.allocUnsafe(Math.min(dLen, Math.max(need, dst.length * 2)));
    dst.copy(next, 0, 0, d);
    dst = next;
  };
  let d = 0;
  let s = next;
  let offset = 0;
  const n = src.length;
  while (s < n) {
    const tag = src[s]!;
    let length: number;
    switch (tag & 3) {
      case TAG_LITERAL: {
        let x = tag >>> 2;
        if (x < 60) {
          s += 1;
        } else {
          const extra = x - 59; // 1..4 length bytes follow
          if (s + 1 + extra > n) throw corrupt('truncated literal length');
          x = 0;
          for (let i = extra; i >= 1; i--) x = x * 256 + src[s + i]!;
          s += 1 + extra;
        }
        length = x + 1;
        if (length > dLen - d || length > n - s) throw corrupt('literal overruns');
        room(d + length);
        dst.set(src.subarray(s, s + length), d);
        d += length;
        s += length;
        continue;
      }
      case TAG_COPY1: {
        if (s + 2 > n) throw corrupt('truncated copy');
        length = (tag >>> 2) & 7;
        const off = ((tag & 0xe0) << 3) | src[s + 1]!;
        s += 2;
        if (off === 0) {
          // Repeat the previous offset; lengths 5..7 carry 1..3 extra length bytes.
          if (length === 5) {
            if (s + 1 > n) throw corrupt('truncated repeat');
            length = src[s]! + 4;
            s += 1;
          } else if (length === 6) {
            if (s + 2 > n) throw corrupt('truncated repeat');
            length = (src[s]! | (src[s + 1]! << 8)) + (1 << 8);
            s += 2;
          } else if (length === 7) {
            if (s + 3 > n) throw corrupt('truncated repeat');
            length = (src[s]! | (src[s + 1]! << 8) | (src[s + 2]! << 16)) + (1 << 16);
            s += 3;
          }
        } else {
          offset = off;
        }
        length += 4;
        break;
      }
      case TAG_COPY2: {
        if (s + 3 > n) throw corrupt('truncated copy');
        length = 1 + (tag >>> 2);
        offset = src[s + 1]! | (src[s + 2]! << 8);
        s += 3;
        break;
      }
      default: {
        if (s + 5 > n) throw corrupt('truncated copy');
        length = 1 + (tag >>> 2);
        offset = (src[s + 1]! | (src[s + 2]! << 8) | (src[s + 3]! << 16)) + src[s + 4]! * 0x1000000;
        s += 5;
        break;
      }
    }
    if (offset <= 0 || d < offset || length > dLen - d) throw corrupt('bad copy');
    room(d + length);
    if (offset >= length) {
      dst.copyWithin(d, d - offset, d - offset + length);
      d += length;
    } else {
      // Overlapping copy runs forwards byte by byte (it repeats the last `offset` bytes).
      for (let i = 0; i < length; i++, d++) dst[d] = dst[d - offset]!;
    }
  }
  if (d !== dLen) throw corrupt(`decoded ${d} of ${dLen} bytes`);
  return dst.length === dLen ? dst : dst.subarray(0, dLen);
}

// ---- block encoder ---------------------------------------------------------------------

class Out {
  buf: Buffer;
  len = 0;
  constructor(cap: number) {
    this.buf = Buffer.allocUnsafe(cap);
  }
  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + extra));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  bytes(src: Uint8Array, from: number, to: number): void {
    this.ensure(to - from);
    this.buf.set(src.subarray(from, to), this.len);
    this.len += to - from;
  }
}

/** A generous upper bound of an encoded block of n bytes (bounds chunk sizes when reading streams). */
export function s2MaxEncodedLen(n: number): number {
  return 10 + n + Math.ceil(n / 60) * 5 + 5;
}

function emitLiteral(o: Out, src: Uint8Array, from: number, to: number): void {
  // Literal runs are split at 1 MiB so the tag never needs the 4-byte length form.
  while (from < to) {
    const len = Math.min(to - from, 1 << 20);
    const n = len - 1;
    if (n < 60) {
      o.byte(n << 2);
    } else if (n < 1 << 8) {
      o.byte(60 << 2);
      o.byte(n);
    } else if (n < 1 << 16) {
      o.byte(61 << 2);
      o.byte(n & 0xff);
      o.byte(n >>> 8);
    } else {
      o.byte(62 << 2);
      o.byte(n & 0xff);
      o.byte((n >>> 8) & 0xff);
      o.byte(n >>> 16);
    }
    o.bytes(src, from, from + len);
    from += len;
  }
}

/** One copy tag with an explicit offset (length 1..64; copy1 needs 4..11 and offset < 2048). */
function emitCopyTag(o: Out, offset: number, len: number): void {
  if (offset > 0xffff) {
    o.byte(((len - 1) << 2) | TAG_COPY4);
    o.byte(offset & 0xff);
    o.byte((offset >>> 8) & 0xff);
    o.byte((offset >>> 16) & 0xff);
    o.byte(offset >>> 24);
  } else if (len >= 4 && len <= 11 && offset < 2048) {
    o.byte(((offset >>> 8) << 5) | ((len - 4) << 2) | TAG_COPY1);
    o.byte(offset & 0xff);
  } else {
    o.byte(((len - 1) << 2) | TAG_COPY2);
    o.byte(offset & 0xff);
    o.byte(offset >>> 8);
  }
}

/** A copy of length >= 4: one explicit tag, the rest (if any) as an S2 repeat of that offset. */
function emitCopy(o: Out, offset: number, length: number): void {
  if (length <= 64) {
    emitCopyTag(o, offset, length);
    return;
  }
  const first = length - 64 >= 4 ? 64 : 60; // the repeat that follows needs at least 4 bytes
  emitCopyTag(o, offset, first);
  emitRepeat(o, length - first);
}

/** S2 repeat copy (offset 0 = previous offset), for length >= 4. */
function emitRepeat(o: Out, length: number): void {
  // The longest single repeat covers 2^24 + 65536 bytes; split longer runs.
  while (length > 0) {
    let len = Math.min(length, (1 << 24) - 1 + (1 << 16) + 4);
    if (length - len > 0 && length - len < 4) len -= 4; // leave at least 4 for the next piece
    const l = len - 4;
    if (l <= 4) {
      o.byte((l << 2) | TAG_COPY1);
      o.byte(0);
    } else if (l < 260) {
      o.byte((5 << 2) | TAG_COPY1);
      o.byte(0);
      o.byte(l - 4);
    } else if (l < 65536 + 256) {
      const v = l - 256;
      o.byte((6 << 2) | TAG_COPY1);
      o.byte(0);
      o.byte(v & 0xff);
      o.byte(v >>> 8);
    } else {
      const v = l - 65536;
      o.byte((7 << 2) | TAG_COPY1);
      o.byte(0);
      o.byte(v & 0xff);
      o.byte((v >>> 8) & 0xff);
      o.byte(v >>> 16);
    }
    length -= len;
  }
}

const HASH_BITS = 14;
const MIN_NON_LITERAL = 17;

const load32 = (b: Uint8Array, i: number): number => (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0;
const hash4 = (v: number): number => Math.imul(v, 0x1e35a7bd) >>> (32 - HASH_BITS);

/**
 * Encode one S2 block: greedy 4-byte hash matching. A match at the previous offset is
 * written as an S2 repeat copy (shorter than an explicit copy); everything else uses the
 * Snappy tags, so the output is readable by s2.Decode (and, without repeats, by Snappy).
 */
export function s2Encode(src: Uint8Array): Buffer {
  const n = src.length;
  const o = new Out(Math.min(s2MaxEncodedLen(n), 64 + n + (n >>> 4)));
  // Length header.
  let v = n;
  while (v >= 0x80) {
    o.byte((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  o.byte(v);
  if (n < MIN_NON_LITERAL) {
    emitLiteral(o, src, 0, n);
    return Buffer.from(o.buf.subarray(0, o.len));
  }
  const table = new Int32Array(1 << HASH_BITS).fill(-1);
  const limit = n - 4; // last position where a 4-byte load fits
  let lit = 0;
  let i = 0;
  let lastOffset = 0;
  while (i <= limit) {
    const cur = load32(src, i);
    const h = hash4(cur);
    const cand = table[h]!;
    table[h] = i;
    // Try the previous offset first: a repeat copy costs 2 bytes.
    let matchAt = -1;
    if (lastOffset > 0 && i - lastOffset >= 0 && load32(src, i - lastOffset) === cur) matchAt = i - lastOffset;
    else if (cand >= 0 && load32(src, cand) === cur) matchAt = cand;
    if (matchAt < 0) {
      // Skip faster through data that does not compress.
      i += 1 + ((i - lit) >>> 5);
      continue;
    }
    let len = 4;
    while (i + len < n && src[matchAt + len] === src[i + len]) len++;
    const offset = i - matchAt;
    emitLiteral(o, src, lit, i);
    if (offset === lastOffset) emitRepeat(o, len);
    else emitCopy(o, offset, len);
    lastOffset = offset;
    // Index a couple of positions inside the match so the next search has candidates.
    const end = i + len;
    if (end - 1 <= limit) table[hash4(load32(src, end - 1))] = end - 1;
    if (i + 1 <= limit) table[hash4(load32(src, i + 1))] = i + 1;
    i = end;
    lit = end;
  }
  emitLiteral(o, src, lit, n);
  return Buffer.from(o.buf.subarray(0, o.len));
}

// ---- framed stream format ---------------------------------------------------------------

const CHUNK_COMPRESSED = 0x00;
const CHUNK_UNCOMPRESSED = 0x01;
const CHUNK_STREAM_ID = 0xff;
const MAGIC_S2 = Buffer.from('S2sTwO', 'latin1');
const MAGIC_SNAPPY = Buffer.from('sNaPpY', 'latin1');

// CRC-32C (Castagnoli), as the framing format checksums each chunk's uncompressed data.
const CRC32C = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  CRC32C[i] = c >>> 0;
}
export function crc32c(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC32C[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
/** The masked checksum the framing format stores (so that CRCs of CRCs stay well spread). */
function maskedCrc(data: Uint8Array): number {
  const c = crc32c(data);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

function chunkHeader(type: number, len: number, crc: number): Buffer {
  const h = Buffer.allocUnsafe(8);
  h[0] = type;
  h[1] = len & 0xff;
  h[2] = (len >>> 8) & 0xff;
  h[3] = len >>> 16;
  h.writeUInt32LE(crc, 4);
  return h;
}

/**
 * Framed S2 stream as s2.NewWriter writes it: the "S2sTwO" identifier chunk, then one chunk
 * per block of up to 1 MiB, compressed unless compression does not pay.
 */
export function s2StreamEncode(src: Uint8Array): Buffer {
  const parts: Buffer[] = [Buffer.from([CHUNK_STREAM_ID, 6, 0, 0]), MAGIC_S2];
  for (let p = 0; p < src.length; p += S2_STREAM_BLOCK) {
    const block = src.subarray(p, Math.min(src.length, p + S2_STREAM_BLOCK));
    const crc = maskedCrc(block);
    const enc = s2Encode(block);
    if (enc.length < block.length - (block.length >>> 5)) {
      parts.push(chunkHeader(CHUNK_COMPRESSED, enc.length + 4, crc), enc);
    } else {
      parts.push(chunkHeader(CHUNK_UNCOMPRESSED, block.length + 4, crc), Buffer.from(block));
    }
  }
  return Buffer.concat(parts);
}

/**
 * Read a framed S2 (or Snappy) stream (s2.NewReader): checks the identifier, every chunk's
 * length and CRC, skips padding/skippable chunks, refuses reserved unskippable ones.
 * `maxDecoded` bounds the total output.
 */
export function s2StreamDecode(src: Uint8Array, maxDecoded = S2_DEFAULT_MAX_DECODED): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  let s = 0;
  let seenHeader = false;
  const maxChunk = s2MaxEncodedLen(S2_STREAM_MAX_BLOCK) + 4;
  while (s < src.length) {
    if (s + 4 > src.length) throw corrupt('truncated chunk header');
    const type = src[s]!;
    const len = src[s + 1]! | (src[s + 2]! << 8) | (src[s + 3]! << 16);
    s += 4;
    if (!seenHeader && type !== CHUNK_STREAM_ID) throw corrupt('missing stream identifier');
    if (len > maxChunk) throw new S2Error('unsupported', `s2: chunk of ${len} bytes is too large`);
    if (s + len > src.length) throw corrupt('truncated chunk');
    const body = src.subarray(s, s + len);
    s += len;
    if (type === CHUNK_STREAM_ID) {
      if (len !== 6) throw corrupt('bad stream identifier');
      const magic = Buffer.from(body);
      if (!magic.equals(MAGIC_S2) && !magic.equals(MAGIC_SNAPPY)) throw corrupt('bad stream identifier');
      seenHeader = true;
      continue;
    }
    if (type === CHUNK_COMPRESSED || type === CHUNK_UNCOMPRESSED) {
      if (len < 4) throw corrupt('chunk shorter than its checksum');
      const crc = (body[0]! | (body[1]! << 8) | (body[2]! << 16)) + body[3]! * 0x1000000;
      let data: Buffer;
      if (type === CHUNK_COMPRESSED) {
        const payload = body.subarray(4);
        if (s2DecodedLen(payload) > S2_STREAM_MAX_BLOCK) throw corrupt('block larger than 4 MiB');
        data = s2Decode(payload, S2_STREAM_MAX_BLOCK);
      } else {
        if (len - 4 > S2_STREAM_MAX_BLOCK) throw corrupt('block larger than 4 MiB');
        data = Buffer.from(body.subarray(4));
      }
      if (maskedCrc(data) !== crc) throw new S2Error('crc', 's2: corrupt input, crc mismatch');
      total += data.length;
      if (total > maxDecoded) throw new S2Error('too_large', `s2: stream decodes to more than ${maxDecoded} bytes`);
      out.push(data);
      continue;
    }
    // 0x02-0x7f: reserved unskippable; 0x80-0xfe: padding / skippable (e.g. S2's index).
    if (type <= 0x7f) throw new S2Error('unsupported', `s2: unsupported chunk type 0x${type.toString(16)}`);
  }
  return Buffer.concat(out, total);
}
