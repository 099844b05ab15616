// Unsigned LEB128 varints for JS numbers up to 2^53 (arithmetic, not 32-bit bit ops).

import { putUvarint } from '../../protocol/varint.js';

export { putUvarint, uvarintLen } from '../../protocol/varint.js';

/** Reads a uvarint at pos.off; advances pos.off. Returns -1 (and pos.off = -1) on truncation/overflow. */
export function getUvarint(buf: Buffer, pos: { off: number }): number {
  let v = 0;
  let mul = 1;
  let off = pos.off;
  if (off < 0) return -1;
  for (let i = 0; i < 10; i++) {
    if (off >= buf.length) {
      pos.off = -1;
      return -1;
    }
    const b = buf[off++];
    v += (b & 0x7f) * mul;
    if (b < 0x80) {
      pos.off = off;
      return v;
    }
    mul *= 128;
  }
  pos.off = -1;
  return -1;
}

/** Zig-zag signed varint helpers. */
export function putVarint(buf: Buffer, off: number, v: number): number {
  return putUvarint(buf, off, v >= 0 ? v * 2 : -v * 2 - 1);
}

export function getVarint(buf: Buffer, pos: { off: number }): number {
  const u = getUvarint(buf, pos);
  if (u < 0 && pos.off < 0) return 0;
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}
