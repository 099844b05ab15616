// The store's crc32 (slicing-by-8 through a cached DataView) against a plain bitwise CRC-32.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from '../../src/jetstream/store/crc32.js';

/** Bit at a time, the definition: nothing shared with the code under test. */
function reference(buf: Uint8Array, start: number, end: number, init = 0): number {
  let c = ~init;
  for (let i = start; i < end; i++) {
    c ^= buf[i];
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return ~c >>> 0;
}

function bytes(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

test('crc32: the check value of "123456789"', () => {
  assert.equal(crc32(Buffer.from('123456789'), 0, 9), 0xcbf43926);
});

test('crc32: every length 0-300 at offsets 0-9, in a view at an odd byteOffset', () => {
  const whole = bytes(4096, 7);
  // Not at the start of its ArrayBuffer, and at an offset that is not a multiple of 4.
  const buf = whole.subarray(3, 3 + 400);
  for (let off = 0; off < 10; off++) {
    for (let len = 0; len <= 300; len++) {
      assert.equal(crc32(buf, off, off + len), reference(buf, off, off + len), `off ${off} len ${len}`);
    }
  }
});

test('crc32: continuing from the crc of the bytes before', () => {
  const buf = bytes(700, 11);
  for (const cut of [0, 1, 7, 8, 9, 63, 350, 699, 700]) {
    const first = crc32(buf, 0, cut);
    assert.equal(crc32(buf, cut, 700, first), reference(buf, 0, 700), `cut ${cut}`);
  }
});

test('crc32: alternating buffers (the cached view follows the buffer)', () => {
  const a = bytes(300, 1);
  const b = bytes(300, 2);
  const pooled = Buffer.from(bytes(200, 3)); // small: from the shared pool
  for (let i = 0; i < 50; i++) {
    const [x, y] = i % 3 === 0 ? [a, b] : i % 3 === 1 ? [b, pooled] : [pooled, a];
    const len = 8 + (i * 37) % 180;
    assert.equal(crc32(x, i % 5, i % 5 + len), reference(x, i % 5, i % 5 + len));
    assert.equal(crc32(y, 0, len), reference(y, 0, len));
  }
});

test('crc32: large ranges (native path where Node has it) give the same value', () => {
  const buf = bytes(20000, 5);
  for (const [s, e] of [[0, 4096], [1, 4098], [13, 20000], [0, 4095]]) {
    assert.equal(crc32(buf, s, e), reference(buf, s, e), `${s}-${e}`);
  }
});
