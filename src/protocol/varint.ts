// Unsigned LEB128 varints (Go's binary.PutUvarint) for JS numbers up to 2^53, with arithmetic
// rather than 32-bit bit ops. Shared by the raft codec and the JetStream codecs, so it lives
// here, below both layers.

// Values above 2^28 are taken 28 bits (four groups) at a time with exact double arithmetic, the
// rest with 32-bit integer ops: `%` on a double beyond the int32 range is a slow fmod call, and a
// delivered-message entry of a consumer group carries a 64-bit timestamp (written on every
// delivery).
const TWO_28 = 0x10000000;

export function uvarintLen(v: number): number {
  let n = 0;
  while (v >= TWO_28) {
    v = Math.floor(v / TWO_28);
    n += 4;
  }
  return n + (v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : 4);
}

/** Writes v at off; returns the offset after it. */
export function putUvarint(buf: Uint8Array, off: number, v: number): number {
  while (v >= TWO_28) {
    const hi = Math.floor(v / TWO_28);
    let lo = v - hi * TWO_28; // exact: below 2^28
    buf[off++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
    buf[off++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
    buf[off++] = (lo & 0x7f) | 0x80;
    buf[off++] = (lo >>> 7) | 0x80;
    v = hi;
  }
  while (v >= 0x80) {
    buf[off++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[off++] = v;
  return off;
}
