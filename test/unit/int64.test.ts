// The scratch-array int64 helpers write and read the same bytes as Buffer's BigInt methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readI64LE, writeI64LE } from '../../src/protocol/int64.js';
import { seededRandom as rng } from '../helpers/wait.js';

const EDGES = [0n, 1n, -1n, 255n, 256n, -256n, 1795738563295351080n, -(1n << 63n), (1n << 63n) - 1n, 1n << 32n, -(1n << 32n)];

test('int64: same bytes as writeBigInt64LE / readBigInt64LE at every offset, edges and random values', () => {
  const r = rng(64);
  const values = [...EDGES];
  for (let i = 0; i < 500; i++) values.push(BigInt.asIntN(64, (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32))));
  for (const v of values) {
    for (const off of [0, 3, 8]) {
      const ours = Buffer.alloc(17, 0xaa);
      const node = Buffer.alloc(17, 0xaa);
      writeI64LE(ours, off, v);
      node.writeBigInt64LE(v, off);
      assert.deepEqual(ours, node, `write ${v} at ${off}`);
      assert.equal(readI64LE(node, off), v, `read ${v} at ${off}`);
    }
  }
});

test('int64: reads and writes outside the buffer throw RangeError (no silent short write)', () => {
  const b = Buffer.alloc(10);
  assert.throws(() => writeI64LE(b, 3, 1n), RangeError);
  assert.throws(() => readI64LE(b, 3), RangeError);
  assert.throws(() => readI64LE(b, -1), RangeError);
  writeI64LE(b, 2, -2n);
  assert.equal(readI64LE(b, 2), -2n);
});
