// CRC-32 (IEEE). zlib.crc32 is native from Node 20.15 / 22.2; older Node 20 gets a table-driven fallback.
import * as zlib from 'node:zlib';

const native = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

let table: Int32Array | undefined;

function makeTable(): Int32Array {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
}

function crc32Table(buf: Uint8Array, start: number, end: number, init: number): number {
  const t = (table ??= makeTable());
  let c = init ^ -1;
  for (let i = start; i < end; i++) c = t[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** CRC-32 of buf[start, end), continuing from init (the crc of preceding bytes). */
export function crc32(buf: Buffer, start: number, end: number, init = 0): number {
  if (native) return native(buf.subarray(start, end), init) >>> 0;
  return crc32Table(buf, start, end, init);
}
