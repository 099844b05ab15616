// CRC-32 (IEEE) for WAL records: zlib's native crc32 where Node has it
// (>= 20.15), otherwise a table-driven fallback with the same results.
import * as zlib from 'node:zlib';

let TABLE: Int32Array | undefined;

function tableCrc32(data: Uint8Array, crc = 0): number {
  if (!TABLE) {
    TABLE = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      TABLE[n] = c;
    }
  }
  let c = ~crc;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

export const crc32: (data: Uint8Array, crc?: number) => number = native
  ? (data, crc = 0) => native(data, crc) >>> 0
  : tableCrc32;

export { tableCrc32 as crc32Portable };
