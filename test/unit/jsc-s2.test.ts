// S2 block and framed-stream codec: round trips, bytes written by nats-server 2.9.10 (Go's
// s2.EncodeBetter, with S2 repeat copies), hand-built tags, and hostile input that must throw
// S2Error rather than crash, hang or allocate what a header claims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  S2Error, crc32c, s2Decode, s2DecodedLen, s2Encode, s2StreamDecode, s2StreamEncode,
} from '../../src/jetstream/cluster/s2.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clusterFixturesDir, metaSnapshotFixtures } from '../fixtures/cluster/locate.js';
import { seededRandom as rng } from '../helpers/wait.js';
import { s2TagCounts } from '../helpers/s2-tags.js';

function randomBytes(r: () => number, n: number, alphabet = 256): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * alphabet);
  return b;
}

/** Text-like data with many repeats at varying distances (exercises every copy form). */
function repetitive(r: () => number, n: number): Buffer {
  const words = ['"stream":', '"name":"', 'num_replicas', '$JSC.SYNC.', 'consumer', '{"client":{"acc":"APP"', '-1,', 'file'];
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    const w = r() < 0.8 ? words[Math.floor(r() * words.length)]! : randomBytes(r, 1 + Math.floor(r() * 12), 26).toString('hex');
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join('').slice(0, n));
}

test('S2 block: decodes the meta snapshots written by nats-server 2.9.10 (repeat copies included)', () => {
  const files = metaSnapshotFixtures();
  assert.ok(files.length >= 3, 'captured snapshot fixtures present');
  for (const f of files) {
    const json = s2Decode(f.data);
    assert.equal(json.length, s2DecodedLen(f.data), f.name);
    const arr = JSON.parse(json.toString('utf8')) as Array<{ stream: { name: string }; group: { name: string } }>;
    assert.ok(Array.isArray(arr) && arr.length > 0, f.name);
    for (const sa of arr) assert.match(sa.group.name, /^S-R[135][FM]-[0-9A-Za-z]{8}$/);
    // Our encoder's output of the same JSON decodes to the same bytes.
    assert.deepEqual(s2Decode(s2Encode(json)), json);
  }
  // The fixtures do carry S2's repeat-offset copies (tag 01 with offset 0), which plain Snappy lacks.
  const repeats = files.map((f) => s2TagCounts(f.data).repeat).reduce((a, b) => a + b, 0);
  assert.ok(repeats > 0, 'golden data contains repeat copies');
});

test('S2 block: round trips of empty, tiny, random, repetitive and long-run inputs', () => {
  const r = rng(1);
  const inputs: Buffer[] = [
    Buffer.alloc(0), Buffer.from('a'), Buffer.from('hello hello hello hello hello'),
    Buffer.alloc(100_000, 0x41), // long run: overlapping copies and long repeats
    randomBytes(r, 70_000), // incompressible, literal tags with 2/3-byte lengths
    repetitive(r, 300_000), // offsets beyond 64 KiB are possible -> 4-byte offsets
  ];
  for (let i = 0; i < 40; i++) inputs.push(repetitive(r, Math.floor(r() * 5000)));
  for (const input of inputs) {
    const enc = s2Encode(input);
    assert.equal(s2DecodedLen(enc), input.length);
    assert.deepEqual(s2Decode(enc), input);
  }
  // Compressible data actually shrinks.
  assert.ok(s2Encode(Buffer.alloc(100_000, 0x41)).length < 100);
  assert.ok(s2Encode(inputs[5]!).length < inputs[5]!.length / 2);
});

test('S2 block: a far match is written with a 4-byte offset and decodes', () => {
  const r = rng(7);
  const head = randomBytes(r, 64);
  const input = Buffer.concat([head, Buffer.alloc(70_000), head]);
  const enc = s2Encode(input);
  assert.deepEqual(s2Decode(enc), input);
  assert.ok(enc.length < 200, 'the zeros and the repeated 64 bytes were copied, not stored');
  // The second copy of head sits 70,064 bytes back: only a copy4 tag (tag bits 11) can reach it.
  assert.ok([...enc].some((b, i) => (b & 3) === 3 && i + 5 <= enc.length && enc.readUInt32LE(i + 1) === 70_064), 'copy4 with offset 70064');
});

test('S2 block: hand-built tags (every literal length form, copy1/2/4, each repeat form)', () => {
  const lit = (data: Buffer): Buffer => {
    const n = data.length - 1;
    if (n < 60) return Buffer.concat([Buffer.from([n << 2]), data]);
    if (n < 256) return Buffer.concat([Buffer.from([60 << 2, n]), data]);
    if (n < 65536) return Buffer.concat([Buffer.from([61 << 2, n & 0xff, n >> 8]), data]);
    return Buffer.concat([Buffer.from([62 << 2, n & 0xff, (n >> 8) & 0xff, n >> 16]), data]);
  };
  const hdr = (n: number): Buffer => {
    const out: number[] = [];
    while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); }
    out.push(n);
    return Buffer.from(out);
  };
  const abcd = Buffer.from('abcd');
  // 4-byte literal length form (tag 63).
  const big = Buffer.alloc(70_000, 7);
  const n = big.length - 1;
  const lit63 = Buffer.concat([Buffer.from([63 << 2, n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, 0]), big]);
  assert.deepEqual(s2Decode(Buffer.concat([hdr(big.length), lit63])), big);
  // copy1 offset 4 length 4, then repeat forms: code 0..4 (len 4..8), code 5 (+1 byte), 6 (+2), 7 (+3).
  const cases: Array<[Buffer, number]> = [
    [Buffer.from([(2 << 2) | 1, 0]), 6], // repeat, length 4+2
    [Buffer.from([(5 << 2) | 1, 0, 10]), 10 + 8],
    [Buffer.from([(6 << 2) | 1, 0, 0x10, 0x01]), 0x110 + 256 + 4],
    [Buffer.from([(7 << 2) | 1, 0, 0x01, 0x00, 0x01]), 0x10001 + 65536 + 4],
  ];
  for (const [rep, len] of cases) {
    const body = Buffer.concat([lit(abcd), Buffer.from([(0 << 2) | 1, 4]), rep]);
    const out = s2Decode(Buffer.concat([hdr(8 + len), body]));
    assert.equal(out.length, 8 + len);
    for (let i = 0; i < out.length; i++) assert.equal(out[i], abcd[i % 4]);
  }
  // copy2 (offset 4, length 10) and copy4 (offset 4, length 3).
  const c2 = Buffer.concat([hdr(14), lit(abcd), Buffer.from([(9 << 2) | 2, 4, 0])]);
  assert.equal(s2Decode(c2).toString(), 'abcdabcdabcdab');
  const c4 = Buffer.concat([hdr(7), lit(abcd), Buffer.from([(2 << 2) | 3, 4, 0, 0, 0])]);
  assert.equal(s2Decode(c4).toString(), 'abcdabc');
});

test('S2 block: corrupt, truncated and oversized input throws S2Error', () => {
  const good = s2Encode(Buffer.from('the quick brown fox jumps over the lazy dog, the quick brown fox'));
  const bad: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['unterminated varint', Buffer.from([0x80, 0x80])],
    ['varint over 32 bits', Buffer.from([0xff, 0xff, 0xff, 0xff, 0x7f])],
    ['truncated', good.subarray(0, good.length - 3)],
    ['short of declared length', Buffer.from([10, 0 << 2, 0x41])],
    ['longer than declared', Buffer.from([1, 1 << 2, 0x41, 0x42])],
    ['copy before any output', Buffer.from([4, (0 << 2) | 1, 1])],
    ['repeat without previous offset', Buffer.from([8, 3 << 2, 1, 2, 3, 4, 1, 0])],
    ['copy offset beyond output', Buffer.from([9, 0 << 2, 0x41, (1 << 2) | 2, 5, 0])],
    ['copy4 huge offset', Buffer.from([9, 0 << 2, 0x41, (1 << 2) | 3, 0xff, 0xff, 0xff, 0xff])],
    ['literal length bytes missing', Buffer.from([100, 61 << 2, 0x10])],
  ];
  for (const [name, b] of bad) assert.throws(() => s2Decode(b), S2Error, name);
  // A header claiming 4 GiB is refused before any allocation.
  const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0]);
  assert.throws(() => s2Decode(huge), (e: unknown) => e instanceof S2Error && e.code === 'too_large');
  assert.throws(() => s2Decode(good, 10), (e: unknown) => e instanceof S2Error && e.code === 'too_large');
  // Under the limit but impossible for the input: fails without allocating the claimed 200 MB.
  const before = process.memoryUsage().arrayBuffers;
  const claims200MB = Buffer.from([0x80, 0x80, 0x80, 0x64, 0x08, 0x41, 0x42]);
  assert.equal(s2DecodedLen(claims200MB), 200 * 1024 * 1024);
  for (let i = 0; i < 50; i++) assert.throws(() => s2Decode(claims200MB), S2Error);
  assert.ok(process.memoryUsage().arrayBuffers - before < 50 * 1024 * 1024, 'no 200 MB buffers allocated');
  // A legitimately huge expansion still works (10 MB of one byte from a few bytes).
  const zeros = s2Encode(Buffer.alloc(10 * 1024 * 1024));
  assert.ok(zeros.length < 64);
  assert.deepEqual(s2Decode(zeros), Buffer.alloc(10 * 1024 * 1024));
});

test('S2 block: fuzz — random and mutated blocks either decode or throw S2Error', () => {
  const r = rng(42);
  const seeds = [s2Encode(repetitive(r, 2000)), s2Encode(Buffer.alloc(3000, 1)), metaSnapshotFixtures()[0]!.data];
  for (let i = 0; i < 3000; i++) {
    let b: Buffer;
    if (i % 3 === 0) {
      b = randomBytes(r, Math.floor(r() * 64));
    } else {
      b = Buffer.from(seeds[i % seeds.length]!);
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      if (r() < 0.3) b = b.subarray(0, Math.floor(r() * b.length));
    }
    try {
      const out = s2Decode(b, 1 << 20);
      assert.equal(out.length, s2DecodedLen(b));
    } catch (e) {
      assert.ok(e instanceof S2Error, `seed iteration ${i}: ${String(e)}`);
    }
  }
});

test('S2 stream: framing round trip, identifier, CRC-32C and multi-block input', () => {
  // Known CRC-32C check value.
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  const r = rng(3);
  const inputs = [Buffer.alloc(0), Buffer.from('{"name":"D1"}\n'), repetitive(r, 2_500_000), randomBytes(r, 5000)];
  for (const input of inputs) {
    const enc = s2StreamEncode(input);
    assert.deepEqual(enc.subarray(0, 10), Buffer.from([0xff, 6, 0, 0, ...Buffer.from('S2sTwO')]));
    assert.deepEqual(s2StreamDecode(enc), input);
  }
  // 2.5 MB splits into 1 MiB blocks: three data chunks.
  const enc = s2StreamEncode(inputs[2]!);
  let chunks = 0;
  for (let s = 10; s < enc.length; chunks++) s += 4 + (enc[s + 1]! | (enc[s + 2]! << 8) | (enc[s + 3]! << 16));
  assert.equal(chunks, 3);
  // Incompressible data goes into an uncompressed chunk (type 1).
  assert.equal(s2StreamEncode(inputs[3]!)[10], 0x01);
});

test('S2 stream: decodes a stream snapshot written by nats-server 2.9.10 (Go s2.NewWriter)', () => {
  const framed = readFileSync(join(clusterFixturesDir(), 'stream-snapshot-2.9.10.tar.s2'));
  const tar = s2StreamDecode(framed);
  assert.equal(createHash('sha256').update(tar).digest('hex'), '4b7ddb0a9e59d8bebf4510c455f3341f02d5f38c05d62eeb7c14f91d3a94fb09');
  assert.equal(tar.length, 50688);
  for (const name of ['meta.inf', 'meta.sum', 'msgs/1.idx', 'msgs/1.fss', 'msgs/1.blk']) assert.ok(tar.includes(Buffer.from(name)), name);
  // And back through our writer.
  assert.deepEqual(s2StreamDecode(s2StreamEncode(tar)), tar);
  // A single flipped byte inside the data is caught (corrupt block or CRC mismatch).
  const bad = Buffer.from(framed);
  bad[framed.length >> 1] ^= 0x20;
  assert.throws(() => s2StreamDecode(bad), S2Error);
});

test('S2 stream: Snappy identifier accepted; padding skipped; bad frames throw S2Error', () => {
  const body = Buffer.from('{"client":{"acc":"APP"},"name":"C"}\n');
  const s2 = s2StreamEncode(body);
  const snappy = Buffer.concat([Buffer.from([0xff, 6, 0, 0]), Buffer.from('sNaPpY'), s2.subarray(10)]);
  assert.deepEqual(s2StreamDecode(snappy), body);
  const padded = Buffer.concat([s2.subarray(0, 10), Buffer.from([0xfe, 3, 0, 0, 0, 0, 0]), s2.subarray(10)]);
  assert.deepEqual(s2StreamDecode(padded), body);

  const crcBad = Buffer.from(s2);
  crcBad[14] ^= 0xff; // first checksum byte of the data chunk
  const cases: Array<[string, Buffer, string]> = [
    ['no identifier', s2.subarray(10), 'corrupt'],
    ['bad magic', Buffer.concat([Buffer.from([0xff, 6, 0, 0]), Buffer.from('S2sTwX'), s2.subarray(10)]), 'corrupt'],
    ['crc mismatch', crcBad, 'crc'],
    ['truncated chunk', s2.subarray(0, s2.length - 1), 'corrupt'],
    ['truncated header', s2.subarray(0, 12), 'corrupt'],
    ['reserved unskippable chunk', Buffer.concat([s2.subarray(0, 10), Buffer.from([0x05, 0, 0, 0])]), 'unsupported'],
    ['chunk too large', Buffer.concat([s2.subarray(0, 10), Buffer.from([0x00, 0xff, 0xff, 0xff])]), 'unsupported'],
    ['checksum missing', Buffer.concat([s2.subarray(0, 10), Buffer.from([0x01, 2, 0, 0, 0, 0])]), 'corrupt'],
  ];
  for (const [name, b, code] of cases) {
    assert.throws(() => s2StreamDecode(b), (e: unknown) => e instanceof S2Error && e.code === code, name);
  }
  assert.throws(() => s2StreamDecode(s2StreamEncode(Buffer.alloc(5000, 1)), 100),
    (e: unknown) => e instanceof S2Error && e.code === 'too_large');

  const r = rng(9);
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(s2);
    b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
    try {
      s2StreamDecode(b);
    } catch (e) {
      assert.ok(e instanceof S2Error, String(e));
    }
  }
});
