// CRC-32 (IEEE). Records are small (a 128-byte message makes a ~170-byte record), where a
// slicing-by-8 table loop beats a native call (which also needs a subarray view per call); large
// ranges go to zlib.crc32 when available (native from Node 20.15 / 22.2).
import * as zlib from 'node:zlib';

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
const NATIVE_MIN_BYTES = 4096;

// T[k * 256 + n]: the crc of byte n followed by k zero bytes. Slicing-by-8 folds 8 input bytes per
// step with 8 lookups, half the steps of slicing-by-4.
const T = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n];
  for (let k = 1; k < 8; k++) {
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
    for (; i + 8 <= end; i += 8) {
      c ^= dv.getInt32(base + i, true);
      const d = dv.getInt32(base + i + 4, true);
      c = T[1792 + (c & 0xff)] ^ T[1536 + ((c >>> 8) & 0xff)] ^ T[1280 + ((c >>> 16) & 0xff)] ^ T[1024 + (c >>> 24)] ^
        T[768 + (d & 0xff)] ^ T[512 + ((d >>> 8) & 0xff)] ^ T[256 + ((d >>> 16) & 0xff)] ^ T[d >>> 24];
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
