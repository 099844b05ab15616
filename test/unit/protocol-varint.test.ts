// Go's binary.PutUvarint for JS numbers (src/protocol/varint.ts), against a BigInt reference:
// the 28-bits-at-a-time path above 2^28 and the integer path below it must give Go's bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { putUvarint, uvarintLen } from '../../src/protocol/varint.js';

function reference(v: number): Buffer {
  const out: number[] = [];
  let b = BigInt(v);
  while (b >= 0x80n) {
    out.push(Number(b & 0x7fn) | 0x80);
    b >>= 7n;
  }
  out.push(Number(b));
  return Buffer.from(out);
}

test('uvarint: bytes and lengths equal a BigInt reference at every group boundary and at random', () => {
  const values = [0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0xfffffff, 0x10000000, 2 ** 31 - 1, 2 ** 31,
    2 ** 32 - 1, 2 ** 32, 2 ** 35 - 1, 2 ** 35, 2 ** 42 - 1, 2 ** 42, 2 ** 49 - 1, 2 ** 49, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER,
    Math.floor((1_765_072_800_123 * 2_000_000) / 2 ** 21)];
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
  for (let i = 0; i < 2000; i++) values.push(Math.floor((next() * 2 ** 21 + (next() & 0x1fffff)) / 2 ** (next() % 40)));
  const buf = Buffer.alloc(16);
  for (const v of values) {
    const want = reference(v);
    const end = putUvarint(buf, 3, v);
    assert.deepEqual(buf.subarray(3, end), want, `value ${v}`);
    assert.equal(uvarintLen(v), want.length, `length of ${v}`);
  }
});
