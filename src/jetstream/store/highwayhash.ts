// HighwayHash-64 (Alakuijala, Cox, Wassenberg: "Fast keyed hash/pseudo-random
// function using SIMD multiply and permute"), the keyed hash nats-server uses
// for its meta.sum files. Only used on small config files, so it is written
// for clarity with BigInt lanes, not for speed.
//
// State: four lanes each of v0, v1, mul0, mul1 (64-bit). A 32-byte packet is
// mixed into all lanes; a trailing partial packet is padded in the specific
// way the algorithm defines; finalisation permutes v0 back in four times and
// sums the first lane of each vector.

const M64 = (1n << 64n) - 1n;
const M32 = 0xffff_ffffn;

const INIT0 = [0xdbe6d5d5fe4cce2fn, 0xa4093822299f31d0n, 0x13198a2e03707344n, 0x243f6a8885a308d3n];
const INIT1 = [0x3bd39e10cb0ef593n, 0xc0acf169b5f18a8cn, 0xbe5466cf34e90c6cn, 0x452821e638d01377n];

interface State {
  v0: bigint[];
  v1: bigint[];
  mul0: bigint[];
  mul1: bigint[];
}

function rot32(x: bigint): bigint {
  return ((x >> 32n) | (x << 32n)) & M64;
}

function le64(b: Uint8Array, off: number): bigint {
  let x = 0n;
  for (let i = 7; i >= 0; i--) x = (x << 8n) | BigInt(b[off + i]!);
  return x;
}

function byteAt(x: bigint, i: number): bigint {
  return (x >> BigInt(8 * i)) & 0xffn;
}

/** The byte shuffle that spreads multiplication results across lanes: returns the two addends. */
function zipperMerge(a: bigint, b: bigint): [bigint, bigint] {
  // Output byte k of each addend is the input byte named at position k (a0..a7, b0..b7).
  const r0 = byteAt(a, 3) | (byteAt(b, 4) << 8n) | (byteAt(a, 2) << 16n) | (byteAt(a, 5) << 24n) |
    (byteAt(b, 6) << 32n) | (byteAt(a, 1) << 40n) | (byteAt(b, 7) << 48n) | (byteAt(a, 0) << 56n);
  const r1 = byteAt(b, 3) | (byteAt(a, 4) << 8n) | (byteAt(b, 2) << 16n) | (byteAt(b, 5) << 24n) |
    (byteAt(b, 1) << 32n) | (byteAt(a, 6) << 40n) | (byteAt(b, 0) << 48n) | (byteAt(a, 7) << 56n);
  return [r0, r1];
}

function init(key: Uint8Array): State {
  if (key.length !== 32) throw new Error('HighwayHash key must be 32 bytes');
  const k = [le64(key, 0), le64(key, 8), le64(key, 16), le64(key, 24)];
  return {
    mul0: [...INIT0],
    mul1: [...INIT1],
    v0: k.map((x, i) => INIT0[i]! ^ x),
    v1: k.map((x, i) => INIT1[i]! ^ rot32(x)),
  };
}

function packet(s: State, p: Uint8Array, off: number): void {
  for (let i = 0; i < 4; i++) {
    s.v1[i] = (s.v1[i]! + le64(p, off + 8 * i) + s.mul0[i]!) & M64;
    s.mul0[i] = s.mul0[i]! ^ (((s.v1[i]! & M32) * (s.v0[i]! >> 32n)) & M64);
    s.v0[i] = (s.v0[i]! + s.mul1[i]!) & M64;
    s.mul1[i] = s.mul1[i]! ^ (((s.v0[i]! & M32) * (s.v1[i]! >> 32n)) & M64);
  }
  for (const [dst, src] of [[s.v0, s.v1], [s.v1, s.v0]] as const) {
    for (let i = 0; i < 4; i += 2) {
      const [a, b] = zipperMerge(src[i]!, src[i + 1]!);
      dst[i] = (dst[i]! + a) & M64;
      dst[i + 1] = (dst[i + 1]! + b) & M64;
    }
  }
}

function rotl32(x: bigint, n: number): bigint {
  if (n === 0) return x;
  return ((x << BigInt(n)) | (x >> BigInt(32 - n))) & M32;
}

/** The last 1..31 bytes: lengths go into v0, v1's halves are rotated, then one padded packet. */
function remainder(s: State, rest: Uint8Array): void {
  const n = rest.length;
  const add = (BigInt(n) << 32n) + BigInt(n);
  for (let i = 0; i < 4; i++) {
    s.v0[i] = (s.v0[i]! + add) & M64;
    const lo = rotl32(s.v1[i]! & M32, n);
    const hi = rotl32(s.v1[i]! >> 32n, n);
    s.v1[i] = (hi << 32n) | lo;
  }
  const block = new Uint8Array(32);
  const mod4 = n & 3;
  const whole = n - mod4;
  block.set(rest.subarray(0, whole), 0);
  if (n >= 16) {
    block.set(rest.subarray(n - 4, n), 28);
  } else if (mod4 !== 0) {
    block[16] = rest[whole]!;
    block[17] = rest[whole + (mod4 >> 1)]!;
    block[18] = rest[n - 1]!;
  }
  packet(s, block, 0);
}

/** HighwayHash-64 of data under a 32-byte key, as the unsigned 64-bit value. */
export function highwayHash64Value(key: Uint8Array, data: Uint8Array): bigint {
  const s = init(key);
  const whole = data.length & ~31;
  for (let off = 0; off < whole; off += 32) packet(s, data, off);
  if (data.length > whole) remainder(s, data.subarray(whole));
  const perm = new Uint8Array(32);
  const dv = new DataView(perm.buffer);
  for (let r = 0; r < 4; r++) {
    const order = [2, 3, 0, 1];
    for (let i = 0; i < 4; i++) dv.setBigUint64(8 * i, rot32(s.v0[order[i]!]!), true);
    packet(s, perm, 0);
  }
  return (s.v0[0]! + s.v1[0]! + s.mul0[0]! + s.mul1[0]!) & M64;
}

/** The 8 hash bytes in the order nats-server hex-encodes them (little-endian). */
export function highwayHash64(key: Uint8Array, data: Uint8Array): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64LE(highwayHash64Value(key, data));
  return out;
}
