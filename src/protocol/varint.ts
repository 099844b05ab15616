// Unsigned LEB128 varints (Go's binary.PutUvarint) for JS numbers up to 2^53, with arithmetic
// rather than 32-bit bit ops. Shared by the raft codec and the JetStream codecs, so it lives
// here, below both layers.

export function uvarintLen(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes v at off; returns the offset after it. */
export function putUvarint(buf: Uint8Array, off: number, v: number): number {
  while (v >= 0x80) {
    buf[off++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[off++] = v;
  return off;
}
