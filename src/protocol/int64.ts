// Signed 64-bit little-endian integers (nanosecond timestamps) in and out of buffers, for
// per-message encoders. Buffer.writeBigInt64LE / readBigInt64LE split the value with BigInt
// arithmetic (several BigInt allocations per call); going through an 8-byte scratch
// BigInt64Array is a plain typed-array store plus eight byte copies, about 10x cheaper.

const scratch = new BigInt64Array(1);
const bytes = new Uint8Array(scratch.buffer);
/** The scratch array's layout is the platform's; on a big-endian host use Buffer's methods. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Write `v` at `off`. The caller checks that `v` is within int64 (the scratch array would wrap it). */
export function writeI64LE(buf: Buffer, off: number, v: bigint): void {
  if (!LITTLE_ENDIAN) {
    buf.writeBigInt64LE(v, off);
    return;
  }
  if (off < 0 || off + 8 > buf.length) throw new RangeError(`int64 write at ${off} outside a buffer of ${buf.length}`);
  scratch[0] = v;
  buf[off] = bytes[0]!;
  buf[off + 1] = bytes[1]!;
  buf[off + 2] = bytes[2]!;
  buf[off + 3] = bytes[3]!;
  buf[off + 4] = bytes[4]!;
  buf[off + 5] = bytes[5]!;
  buf[off + 6] = bytes[6]!;
  buf[off + 7] = bytes[7]!;
}

/** Read the int64 at `off`. */
export function readI64LE(buf: Buffer, off: number): bigint {
  if (!LITTLE_ENDIAN) return buf.readBigInt64LE(off);
  if (off < 0 || off + 8 > buf.length) throw new RangeError(`int64 read at ${off} outside a buffer of ${buf.length}`);
  bytes[0] = buf[off]!;
  bytes[1] = buf[off + 1]!;
  bytes[2] = buf[off + 2]!;
  bytes[3] = buf[off + 3]!;
  bytes[4] = buf[off + 4]!;
  bytes[5] = buf[off + 5]!;
  bytes[6] = buf[off + 6]!;
  bytes[7] = buf[off + 7]!;
  return scratch[0]!;
}
