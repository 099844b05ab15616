// Server identity: a 56-character NKEY-style public key starting with 'N'
// (prefix byte + 32 bytes + CRC16, base32 without padding). The key bytes are
// random: the id only has to be unique and well-formed; tsnats signs nothing
// with it. Generating an ed25519 pair in pure JS would cost ~40ms at start-up.
// The random bytes come from /dev/urandom where there is one: loading
// node:crypto for them would cost ~5 ms of a plain server's start.
import { closeSync, openSync, readSync } from 'node:fs';
import { crypto } from '../core/lazy-modules.js';

const PREFIX_SERVER = 13 << 3; // 'N'
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** CRC-16/XMODEM (poly 0x1021), as NKEYs use it. */
function crc16(data: Uint8Array): number {
  let crc = 0;
  for (const b of data) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

function base32(data: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of data) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

function fillRandom(buf: Buffer): void {
  try {
    const fd = openSync('/dev/urandom', 'r');
    try {
      if (readSync(fd, buf, 0, buf.length, null) === buf.length) return;
    } finally {
      closeSync(fd);
    }
  } catch {
    // no /dev/urandom (Windows, a chroot): node:crypto below
  }
  crypto().randomFillSync(buf);
}

/** A new server id, e.g. "NDLYBZIPHX2JADNVRIZ7L6PSJS3EWBF4PTHDRS7NVTCLCY772MI3XSQV". */
export function newServerId(): string {
  const raw = Buffer.alloc(35);
  raw[0] = PREFIX_SERVER;
  fillRandom(raw.subarray(1, 33));
  const crc = crc16(raw.subarray(0, 33));
  raw[33] = crc & 0xff;
  raw[34] = crc >> 8;
  return base32(raw);
}
