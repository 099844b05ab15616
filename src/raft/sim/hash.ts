// Small non-cryptographic hashes for the simulator's invariant checks: a
// 53-bit chain hash over log content lets any two logs be compared at one
// index in O(1) (equal chain at index i <=> equal prefix 1..i, up to
// collisions at ~2^-53 per pair).

import type { AppendEntry } from '../types.js';

const TWO_32 = 4294967296;

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over bytes, 32 bits. */
export function fnv32(data: Uint8Array, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    h ^= data[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Combines a 53-bit running hash with a 32-bit value. */
export function mix53(prev: number, x: number): number {
  const lo = prev % TWO_32;
  const hi = (prev - lo) / TWO_32;
  const nlo = fmix((lo ^ x ^ Math.imul(hi, 0x9e3779b1)) >>> 0);
  const nhi = fmix((hi ^ nlo ^ 0x27d4eb2f) >>> 0) & 0x1fffff;
  return nhi * TWO_32 + nlo;
}

/** Hash of an AE's stored content (its term and entries). */
export function contentHash(ae: AppendEntry): number {
  let h = fmix((ae.term * 2654435761) >>> 0);
  for (const e of ae.entries) {
    h = fnv32(e.data, (h ^ e.type) >>> 0);
    h = fmix((h + e.data.length) >>> 0);
  }
  return h;
}
