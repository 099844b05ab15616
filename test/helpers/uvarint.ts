// Byte builders for tests that write nats-server's binary layouts by hand (Go's
// binary.PutUvarint / PutVarint), kept apart from the codecs under test so the expected
// bytes do not come from the code being checked.

/** Go's unsigned varint: 7 bits a byte, low group first, high bit set on all but the last. */
export function uv(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

/** Go's signed varint: zig-zag then uv. */
export const zz = (v: number): number[] => uv(v >= 0 ? v * 2 : -v * 2 - 1);
