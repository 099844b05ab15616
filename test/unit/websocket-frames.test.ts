// The websocket frame decoder and encoder (src/websocket/frames.ts): client frames built here
// (masked, fragmented, compressed) are fed in every split, and must come out as the same bytes;
// the frames a leaf link writes as a websocket client (masked) are taken by the server decoder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync, inflateRawSync, constants as zc } from 'node:zlib';
import { closePayload, deflateMessage, FrameDecoder, frameHeader, Op, unmask } from '../../src/websocket/frames.js';
import { seededRandom } from '../helpers/wait.js';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { WsStream } from '../../src/websocket/transport.js';

interface Seen { data: Buffer[]; control: [Op, string][]; errors: string[] }

function decoder(requireMask = true, max = 1 << 20): { d: FrameDecoder; seen: Seen } {
  const seen: Seen = { data: [], control: [], errors: [] };
  const d = new FrameDecoder({
    onData: (b) => seen.data.push(Buffer.from(b)),
    onControl: (op, p) => seen.control.push([op, p.toString('latin1')]),
    onProtocolError: (t) => seen.errors.push(t),
  }, requireMask, max);
  return { d, seen };
}

/** A client frame: masked with `key` unless key is null. */
function clientFrame(op: number, payload: Buffer, opts: { fin?: boolean; rsv1?: boolean; key?: Buffer | null } = {}): Buffer {
  const fin = opts.fin ?? true;
  const key = opts.key === undefined ? Buffer.from([0x12, 0x34, 0x56, 0x78]) : opts.key;
  const len = payload.length;
  const head: number[] = [(fin ? 0x80 : 0) | (opts.rsv1 ? 0x40 : 0) | op];
  const m = key ? 0x80 : 0;
  if (len <= 125) head.push(m | len);
  else if (len < 65536) head.push(m | 126, len >> 8, len & 0xff);
  else {
    head.push(m | 127);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(len));
    head.push(...b);
  }
  const body = Buffer.from(payload);
  if (key) for (let i = 0; i < body.length; i++) body[i] ^= key[i & 3]!;
  return Buffer.concat([Buffer.from(head), ...(key ? [key] : []), body]);
}

function feedSplit(d: FrameDecoder, bytes: Buffer, rnd: () => number): void {
  let i = 0;
  while (i < bytes.length) {
    const n = 1 + Math.floor(rnd() * Math.min(200, bytes.length - i));
    // Copy into a fresh, oddly aligned buffer, as socket reads are.
    const pad = Math.floor(rnd() * 4);
    const buf = Buffer.alloc(n + pad).subarray(pad);
    bytes.copy(buf, 0, i, i + n);
    d.feed(buf);
    i += n;
  }
}

test('unmask: word-at-a-time path equals byte-by-byte for every alignment and key position', () => {
  const key = Uint8Array.from([1, 2, 3, 250]);
  for (let off = 0; off < 4; off++) {
    for (let pos = 0; pos < 4; pos++) {
      const src = Buffer.from(Array.from({ length: 101 }, (_, i) => (i * 7) & 0xff));
      const buf = Buffer.alloc(101 + off).subarray(off);
      src.copy(buf);
      const next = unmask(buf, key, pos);
      for (let i = 0; i < src.length; i++) assert.equal(buf[i], src[i]! ^ key[(pos + i) & 3]!, `off ${off} pos ${pos} i ${i}`);
      assert.equal(next, (pos + 101) & 3);
    }
  }
});

test('decoder: text, binary, fragmented and control frames in random splits give back the bytes', () => {
  const rnd = seededRandom(14);
  for (let round = 0; round < 50; round++) {
    const { d, seen } = decoder();
    const a = Buffer.from('PUB a 5\r\nhello\r\n');
    const big = Buffer.alloc(70_000, 'x');
    const mid = Buffer.alloc(300, 'y');
    const stream = Buffer.concat([
      clientFrame(Op.TEXT, a),
      clientFrame(Op.PING, Buffer.from('p1')),
      clientFrame(Op.BINARY, big.subarray(0, 1000), { fin: false }),
      clientFrame(Op.PONG, Buffer.alloc(0)),              // control frames may interleave fragments
      clientFrame(Op.CONTINUATION, big.subarray(1000), { fin: false }),
      clientFrame(Op.CONTINUATION, Buffer.alloc(0)),
      clientFrame(Op.BINARY, mid),
      clientFrame(Op.CLOSE, closePayload(1000, 'bye')),
    ]);
    feedSplit(d, stream, rnd);
    assert.deepEqual(Buffer.concat(seen.data), Buffer.concat([a, big, mid]));
    assert.deepEqual(seen.control, [[Op.PING, 'p1'], [Op.PONG, ''], [Op.CLOSE, '\x03\xe8bye']]);
    assert.deepEqual(seen.errors, []);
  }
});

test('decoder: compressed messages (one frame or fragmented) are inflated whole', () => {
  const rnd = seededRandom(7);
  const msg = Buffer.from('MSG '.repeat(5000));
  const z = deflateMessage(msg);
  assert.ok(z.length < msg.length / 10);
  const { d, seen } = decoder();
  feedSplit(d, Buffer.concat([
    clientFrame(Op.BINARY, z, { rsv1: true }),
    clientFrame(Op.BINARY, z.subarray(0, 10), { rsv1: true, fin: false }),
    clientFrame(Op.CONTINUATION, z.subarray(10)),
  ]), rnd);
  assert.deepEqual(seen.errors, []);
  assert.deepEqual(seen.data, [msg, msg]);
  // what a browser sends (sync flush) inflates the same
  const browser = deflateRawSync(msg, { finishFlush: zc.Z_SYNC_FLUSH });
  const { d: d2, seen: s2 } = decoder();
  d2.feed(clientFrame(Op.BINARY, browser.subarray(0, browser.length - 4), { rsv1: true }));
  assert.deepEqual(s2.data, [msg]);
});

test('decoder: protocol errors carry nats-server texts and stop decoding', () => {
  const cases: [Buffer, string][] = [
    [clientFrame(Op.BINARY, Buffer.from('x'), { key: null }), 'mask bit missing'],
    [clientFrame(Op.PING, Buffer.alloc(126)), 'control frame length bigger than maximum allowed of 125 bytes'],
    [clientFrame(Op.PING, Buffer.alloc(1), { fin: false }), 'control frame does not have final bit set'],
    [Buffer.concat([clientFrame(Op.BINARY, Buffer.from('a'), { fin: false }), clientFrame(Op.TEXT, Buffer.from('b'))]),
      'new message started before final frame for previous message was received'],
    [clientFrame(Op.CONTINUATION, Buffer.from('a')), 'invalid continuation frame'],
    [clientFrame(3, Buffer.from('a')), 'unknown opcode 3'],
  ];
  for (const [bytes, text] of cases) {
    const { d, seen } = decoder();
    d.feed(Buffer.concat([bytes, clientFrame(Op.BINARY, Buffer.from('after'))]));
    assert.deepEqual(seen.errors, [text]);
    assert.ok(!seen.data.some((b) => b.toString() === 'after'), text);
  }
  // unmasked frames are fine when no-masking was agreed
  const { d, seen } = decoder(false);
  d.feed(clientFrame(Op.BINARY, Buffer.from('plain'), { key: null }));
  assert.deepEqual(seen.data.map(String), ['plain']);
});

test('encoder: frame headers for each length form, close payload truncation, deflate round trip', () => {
  assert.deepEqual([...frameHeader(Op.BINARY, 5)], [0x82, 5]);
  assert.deepEqual([...frameHeader(Op.BINARY, 126)], [0x82, 126, 0, 126]);
  assert.deepEqual([...frameHeader(Op.BINARY, 70_000)], [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
  assert.deepEqual([...frameHeader(Op.BINARY, 10, true)], [0xc2, 10]);
  const long = closePayload(1008, 'x'.repeat(200));
  assert.equal(long.length, 125);
  assert.equal(long.readUInt16BE(0), 1008);
  assert.ok(long.toString('latin1', 2).endsWith('...'));
  const msg = Buffer.from('hello hello hello hello');
  const z = deflateMessage(msg);
  assert.deepEqual(inflateRawSync(Buffer.concat([z, Buffer.from([0, 0, 0xff, 0xff])]), { finishFlush: zc.Z_SYNC_FLUSH }), msg);
});

test('decoder: random bytes in random splits never throw, and stop at the first protocol error', () => {
  const rnd = seededRandom(99);
  for (let round = 0; round < 300; round++) {
    const { d, seen } = decoder(rnd() < 0.5, 1 << 16);
    const bytes = Buffer.alloc(1 + Math.floor(rnd() * 3000));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 256);
    // half the rounds start with a valid frame, so the garbage hits later states too
    const input = rnd() < 0.5 ? Buffer.concat([clientFrame(Op.BINARY, Buffer.from('ok')), bytes]) : bytes;
    assert.doesNotThrow(() => feedSplit(d, input, rnd));
    assert.ok(seen.errors.length <= 1);
  }
});

/** A stand-in for the socket under a WsStream: what is written is kept, reads are emitted by the test. */
class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  destroyed = false;
  writableLength = 0;
  write(b: Buffer): boolean {
    this.written.push(Buffer.from(b));
    return true;
  }
  cork(): void {}
  uncork(): void {}
  end(): void {}
  destroy(): void {
    this.destroyed = true;
  }
}

test('encoder: a leaf link dialling a websocket hub writes masked frames a server decoder takes (data, compressed, control)', () => {
  assert.deepEqual([...frameHeader(Op.BINARY, 5, false, Buffer.from([1, 2, 3, 4]))], [0x82, 0x85, 1, 2, 3, 4]);
  assert.deepEqual([...frameHeader(Op.BINARY, 300, true, Buffer.from([1, 2, 3, 4]))], [0xc2, 0xfe, 1, 44, 1, 2, 3, 4]);
  for (const compress of [false, true]) {
    const raw = new FakeSocket();
    const ws = new WsStream(raw as unknown as Socket, '127.0.0.1', 1, { requireMask: false, compress, maxMessageBytes: 1 << 20, maskWrite: true });
    const shared = Buffer.from('LMSG a 2\r\nhi\r\n');
    ws.write(shared);
    ws.cork();
    ws.write(Buffer.from('LS+ foo\r\n'));
    ws.write(Buffer.from(`LMSG big ${200}\r\n${'z'.repeat(200)}\r\n`));
    ws.uncork();
    // a ping from the hub is answered with a masked pong
    raw.emit('data', Buffer.from([0x89, 2, 0x61, 0x62]));
    // the caller's buffer is left as it was (masking works on a copy)
    assert.equal(shared.toString(), 'LMSG a 2\r\nhi\r\n');
    const { d, seen } = decoder(true);
    d.feed(Buffer.concat(raw.written));
    assert.deepEqual(seen.errors, []);
    assert.equal(Buffer.concat(seen.data).toString(), `LMSG a 2\r\nhi\r\nLS+ foo\r\nLMSG big 200\r\n${'z'.repeat(200)}\r\n`);
    assert.deepEqual(seen.control, [[Op.PONG, 'ab']]);
  }
  // unmasked (no-masking agreed): a decoder that requires masks refuses it
  const raw = new FakeSocket();
  new WsStream(raw as unknown as Socket, '127.0.0.1', 1, { requireMask: false, compress: false, maxMessageBytes: 1 << 20 }).write(Buffer.from('PING\r\n'));
  const { d, seen } = decoder(true);
  d.feed(Buffer.concat(raw.written));
  assert.deepEqual(seen.errors, ['mask bit missing']);
});
