// CRC-32 (IEEE). Records are small (a 128-byte message makes a ~170-byte record), where a
// slicing-by-16 table loop beats a native call (which also needs a subarray view per call); large
// ranges go to zlib.crc32 when available (native from Node 20.15 / 22.2).
import * as zlib from 'node:zlib';

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const NATIVE_MIN_BYTES = 4096;

// T[k * 256 + n]: the crc of byte n followed by k zero bytes. Slicing-by-16 folds 16 input bytes
// per step with 16 lookups (a quarter of slicing-by-4's steps; the 16 KiB table stays in L1), then
// one 8-byte step and single bytes finish the range.
const T = new Int32Array(16 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n];
  for (let k = 1; k < 16; k++) {
    c = T[c & 0xff] ^ (c >>> 8);
    T[k * 256 + n] = c;
  }
}

// The input is read 4 bytes at a time through a DataView (one load instead of four byte loads and
// shifts; records sit at any offset, so a Uint32Array view cannot be used). The view of the last
// ArrayBuffer is kept: the store's records are encoded into 256 KiB pages, so it is nearly always
// the same one. It keeps that one buffer reachable until a crc of another buffer, no longer.
let viewOf: ArrayBufferLike | null = null;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

function crc32Js(buf: Uint8Array, start: number, end: number, init: number): number {
  let c = init ^ -1;
  let i = start;
  if (end - start >= 8) {
    if (buf.buffer !== viewOf) {
      viewOf = buf.buffer;
      view = new DataView(buf.buffer);
    }
    const dv = view;
    const base = buf.byteOffset;
    for (; i + 16 <= end; i += 16) {
      c ^= dv.getInt32(base + i, true);
      const d = dv.getInt32(base + i + 4, true);
      const e = dv.getInt32(base + i + 8, true);
      const f = dv.getInt32(base + i + 12, true);
      c = T[3840 + (c & 0xff)] ^ T[3584 + ((c >>> 8) & 0xff)] ^ T[3328 + ((c >>> 16) & 0xff)] ^ T[3072 + (c >>> 24)] ^
        T[2816 + (d & 0xff)] ^ T[2560 + ((d >>> 8) & 0xff)] ^ T[2304 + ((d >>> 16) & 0xff)] ^ T[2048 + (d >>> 24)] ^
        T[1792 + (e & 0xff)] ^ T[1536 + ((e >>> 8) & 0xff)] ^ T[1280 + ((e >>> 16) & 0xff)] ^ T[1024 + (e >>> 24)] ^
        T[768 + (f & 0xff)] ^ T[512 + ((f >>> 8) & 0xff)] ^ T[256 + ((f >>> 16) & 0xff)] ^ T[f >>> 24];
    }
    if (i + 8 <= end) {
      c ^= dv.getInt32(base + i, true);
      const d = dv.getInt32(base + i + 4, true);
      c = T[1792 + (c & 0xff)] ^ T[1536 + ((c >>> 8) & 0xff)] ^ T[1280 + ((c >>> 16) & 0xff)] ^ T[1024 + (c >>> 24)] ^
        T[768 + (d & 0xff)] ^ T[512 + ((d >>> 8) & 0xff)] ^ T[256 + ((d >>> 16) & 0xff)] ^ T[d >>> 24];
      i += 8;
    }
  }
  for (; i < end; i++) c = T[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC-32 of buf[start, end), continuing from init (the crc of preceding bytes). */
export function crc32(buf: Buffer, start: number, end: number, init = 0): number {
  if (native && end - start >= NATIVE_MIN_BYTES) return native(buf.subarray(start, end), init) >>> 0;
  return crc32Js(buf, start, end, init);
}
