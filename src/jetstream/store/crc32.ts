// CRC-32 (IEEE). Records are small, where a slicing-by-4 table loop beats a native call
// (which also needs a subarray view per call); large ranges go to zlib.crc32 when available
// (native from Node 20.15 / 22.2).
import * as zlib from 'node:zlib';

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const NATIVE_MIN_BYTES = 4096;

const T0 = new Int32Array(256);
const T1 = new Int32Array(256);
const T2 = new Int32Array(256);
const T3 = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  T0[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T0[n];
  c = T0[c & 0xff] ^ (c >>> 8);
  T1[n] = c;
  c = T0[c & 0xff] ^ (c >>> 8);
  T2[n] = c;
  c = T0[c & 0xff] ^ (c >>> 8);
  T3[n] = c;
}

function crc32Js(buf: Uint8Array, start: number, end: number, init: number): number {
  let c = init ^ -1;
  let i = start;
  for (; i + 4 <= end; i += 4) {
    c ^= buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24);
    c = T3[c & 0xff] ^ T2[(c >>> 8) & 0xff] ^ T1[(c >>> 16) & 0xff] ^ T0[c >>> 24];
  }
  for (; i < end; i++) c = T0[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC-32 of buf[start, end), continuing from init (the crc of preceding bytes). */
export function crc32(buf: Buffer, start: number, end: number, init = 0): number {
  if (native && end - start >= NATIVE_MIN_BYTES) return native(buf.subarray(start, end), init) >>> 0;
  return crc32Js(buf, start, end, init);
}
