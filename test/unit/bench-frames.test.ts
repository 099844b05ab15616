// The load generator's frame encoding and counting (bench/lib/proto.ts):
// a benchmark that miscounts messages reports a wrong figure silently.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FrameScanner, connectFrame, msgFrameLength, payloadOf, pubFrame, repeatFrame, tokenize, lastNumber,
} from '../../bench/lib/proto.js';

function msg(subject: string, sid: string, payload: string, reply = ''): Buffer {
  const head = reply ? `MSG ${subject} ${sid} ${reply} ${Buffer.byteLength(payload)}\r\n` : `MSG ${subject} ${sid} ${Buffer.byteLength(payload)}\r\n`;
  return Buffer.from(`${head}${payload}\r\n`);
}

test('pubFrame and repeatFrame encode exact PUB frames with a trailing barrier', () => {
  const f = pubFrame('bench.x', '', payloadOf(16));
  assert.equal(f.toString(), 'PUB bench.x 16\r\nabcdefghijklmnop\r\n');
  const withReply = pubFrame('a', '_INBOX.1', Buffer.from('hi'));
  assert.equal(withReply.toString(), 'PUB a _INBOX.1 2\r\nhi\r\n');
  const chunk = repeatFrame(f, 3, Buffer.from('PING\r\n'));
  assert.equal(chunk.toString(), f.toString().repeat(3) + 'PING\r\n');
});

test('connectFrame turns verbose and pedantic off and only asks no_responders with headers', () => {
  const plain = JSON.parse(connectFrame().toString().slice('CONNECT '.length));
  assert.equal(plain.verbose, false);
  assert.equal(plain.pedantic, false);
  assert.equal(plain.headers, false);
  assert.equal(plain.no_responders, false);
  const js = JSON.parse(connectFrame({ headers: true, noResponders: true }).toString().slice('CONNECT '.length));
  assert.equal(js.headers, true);
  assert.equal(js.no_responders, true);
  assert.ok(connectFrame().toString().endsWith('}\r\n'));
});

test('msgFrameLength matches the bytes a server sends', () => {
  const m = msg('bench.x', '1', 'abcdefghijklmnop');
  const len = msgFrameLength('bench.x', '1', 16);
  assert.equal(len.frame, m.length);
  assert.equal(m[len.header - 1], 10);
});

test('fast-path counting is exact whatever the read boundaries', () => {
  const one = msg('bench.x', '1', 'abcdefghijklmnop');
  const stream = Buffer.concat([
    ...Array.from({ length: 50 }, () => one),
    Buffer.from('PING\r\n'),
    ...Array.from({ length: 50 }, () => one),
  ]);
  for (const readSize of [1, 2, 3, 7, 35, 36, 37, 100, 1000, stream.length]) {
    let pings = 0;
    const s = new FrameScanner({ onPing: () => pings++ }, msgFrameLength('bench.x', '1', 16));
    for (let i = 0; i < stream.length; i += readSize) s.feed(stream.subarray(i, i + readSize));
    assert.equal(s.msgCount, 100, `read size ${readSize}`);
    assert.equal(pings, 1, `read size ${readSize}`);
  }
});

test('general path reports MSG and HMSG offsets, sizes and headers across splits', () => {
  const hdr = 'NATS/1.0\r\nA: b\r\n\r\n';
  const hmsg = Buffer.from(`HMSG _INBOX.x  2  ${hdr.length} ${hdr.length + 3}\r\n${hdr}xyz\r\n`);
  const stream = Buffer.concat([
    msg('a.b', '9', 'hello', 'reply.1'),
    Buffer.from('+OK\r\n-ERR \'Permissions Violation\'\r\nPONG\r\n'),
    hmsg,
    msg('big', '3', 'x'.repeat(20_000)),
  ]);
  for (const readSize of [1, 5, 64, 4096, stream.length]) {
    const seen: string[] = [];
    const errs: string[] = [];
    let pongs = 0;
    const tokens = new Int32Array(12);
    const s = new FrameScanner({
      onErr: (t) => errs.push(t),
      onPong: () => pongs++,
      onMsg: (buf, ls, le, ps, pe, hb) => {
        const n = tokenize(buf, ls, le, tokens);
        const words = Array.from({ length: n }, (_, i) => buf.toString('latin1', tokens[2 * i], tokens[2 * i + 1]));
        seen.push(`${words.join('|')}:${hb}:${buf.toString('latin1', ps + hb, Math.min(pe, ps + hb + 5))}:${pe - ps}`);
      },
    });
    for (let i = 0; i < stream.length; i += readSize) s.feed(stream.subarray(i, i + readSize));
    assert.deepEqual(seen, [
      'MSG|a.b|9|reply.1|5:0:hello:5',
      `HMSG|_INBOX.x|2|${hdr.length}|${hdr.length + 3}:${hdr.length}:xyz:${hdr.length + 3}`,
      'MSG|big|3|20000:0:xxxxx:20000',
    ], `read size ${readSize}`);
    assert.deepEqual(errs, ["-ERR 'Permissions Violation'"]);
    assert.equal(pongs, 1);
    assert.equal(s.msgCount, 3);
  }
});

test('lastNumber reads the size at the end of a control line, ignoring trailing blanks', () => {
  const line = Buffer.from('MSG a 1 reply 1234  ');
  assert.equal(lastNumber(line, 0, line.length), 1234);
});
