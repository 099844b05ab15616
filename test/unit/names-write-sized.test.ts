// writeNameSized (protocol/names.ts) writes exactly encodeName's bytes whatever the name holds:
// ASCII, UTF-8 text, astral characters and escaped invalid bytes, alone or mixed, into a buffer
// sized by nameByteLength with other bytes around it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeName, encodeName, NameMemo, nameByteLength, writeName, writeNameSized } from '../../src/protocol/names.js';

const escaped = (bytes: number[]): string => decodeName(Buffer.from(bytes), 0, bytes.length);

test('writeNameSized and writeName write encodeName(s) exactly', () => {
  const names = [
    'orders.new', 'ünïcode.sübject', 'emoji.😀.x', escaped([0x61, 0xff, 0x62]), escaped([0xff]) + 'é',
    'é' + escaped([0xc3]), escaped([0xed, 0xa0, 0x80]) + '.😀', '', escaped([0x80, 0x81, 0x82]),
  ];
  for (const s of names) {
    const want = encodeName(s);
    const n = nameByteLength(s);
    assert.equal(n, want.length, JSON.stringify(s));
    for (const write of [(b: Buffer) => writeNameSized(b, 3, s, n), (b: Buffer) => writeName(b, 3, s)]) {
      const buf = Buffer.alloc(n + 5, 0x2a);
      assert.equal(write(buf), 3 + n, JSON.stringify(s));
      assert.deepEqual(buf.subarray(3, 3 + n), want, JSON.stringify(s));
      assert.deepEqual([...buf.subarray(0, 3), ...buf.subarray(3 + n)], [0x2a, 0x2a, 0x2a, 0x2a, 0x2a], 'nothing written around it');
    }
  }
});

test('NameMemo answers exactly as decodeName, nameByteLength and writeNameSized over a run of names', () => {
  const long = 'l.'.repeat(200);
  const base = [
    'orders.new', 'orders.new', 'orders.old', 'orders.old', 'ünïcode.sübject', 'ünïcode.sübject', 'emoji.😀.x',
    escaped([0x61, 0xff, 0x62]), escaped([0x61, 0xff, 0x62]), escaped([0x61, 0xfe, 0x62]), 'a\ufffdb', 'a\ufffdb',
    long, long, long + 'x', 'orders.new', escaped([0xed, 0xa0, 0x80]) + '.😀', 'x', 'y', 'y',
  ];
  const memo = new NameMemo();
  for (const s of base) {
    const bytes = encodeName(s);
    // Decode from bytes in a larger buffer, as the stream entry decoder does.
    const src = Buffer.concat([Buffer.from([1, 2, 3]), bytes, Buffer.from([4])]);
    const got = memo.decode(src, 3, 3 + bytes.length);
    assert.equal(got, decodeName(src, 3, 3 + bytes.length), JSON.stringify(s));
    assert.equal(memo.byteLength(got), nameByteLength(got));
    const n = nameByteLength(got);
    const a = Buffer.alloc(n + 4, 0x2a);
    const b = Buffer.alloc(n + 4, 0x2a);
    assert.equal(memo.write(a, 2, got, n), writeNameSized(b, 2, got, n));
    assert.deepEqual(a, b, JSON.stringify(s));
    // A string equal in content but another object hits the memo the same way.
    assert.equal(memo.byteLength(`${got}`), n);
  }
});
