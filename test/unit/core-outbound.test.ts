// Outbound buffer: MSG/HMSG frames byte-exact, large payloads by reference,
// numbers of every width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Outbound } from '../../src/core/outbound.js';

const B = (s: string) => Buffer.from(s);

/** writeMsg of whole buffers (subject, sid, reply or null, header length, data). */
function msg(o: Outbound, subject: Buffer, sid: Buffer, reply: Buffer | null, hdrLen: number, data: Buffer): number {
  return o.writeMsg(subject, 0, subject.length, sid, reply ?? subject, reply === null ? -1 : 0, reply === null ? -1 : reply.length, hdrLen, data);
}

function drain(o: Outbound): string {
  const bufs = o.take();
  return bufs === null ? '' : Buffer.concat(bufs).toString('latin1');
}

test('MSG and HMSG frames', () => {
  const o = new Outbound();
  msg(o, B('foo.bar'), B(' 1 '), null, 0, B('hello'));
  msg(o, B('foo'), B(' 22 '), B('_INBOX.x'), 0, B(''));
  msg(o, B('h'), B(' 3 '), null, 12, B('NATS/1.0\r\n\r\nhi'));
  msg(o, B('h'), B(' 3 '), B('r'), 16, B('NATS/1.0 503\r\n\r\n'));
  assert.equal(drain(o),
    'MSG foo.bar 1 5\r\nhello\r\n'
    + 'MSG foo 22 _INBOX.x 0\r\n\r\n'
    + 'HMSG h 3 12 14\r\nNATS/1.0\r\n\r\nhi\r\n'
    + 'HMSG h 3 r 16 16\r\nNATS/1.0 503\r\n\r\n\r\n');
  assert.equal(o.pending, 0);
  assert.equal(o.take(), null);
});

test('sizes of every width are written in decimal', () => {
  const o = new Outbound();
  for (const n of [0, 7, 9, 10, 99, 100, 999, 1000, 12345, 65535, 1048576]) {
    const payload = Buffer.alloc(n, 0x61);
    msg(o, B('s'), B(' 1 '), null, 0, payload);
    const text = drain(o);
    assert.equal(text, `MSG s 1 ${n}\r\n${'a'.repeat(n)}\r\n`);
  }
});

test('large payloads and many frames keep their order across slabs', () => {
  const o = new Outbound();
  const big = Buffer.alloc(100_000, 0x62);
  let want = '';
  for (let i = 0; i < 50; i++) {
    const p = i % 10 === 0 ? big : Buffer.from(`m${i}`.repeat(i * 10));
    msg(o, B('x.y'), B(` ${i} `), null, 0, p);
    want += `MSG x.y ${i} ${p.length}\r\n${p.toString('latin1')}\r\n`;
    if (i % 7 === 0) o.write(B('PONG\r\n')), (want += 'PONG\r\n');
  }
  assert.equal(o.pending, Buffer.byteLength(want, 'latin1'));
  const bufs = o.take()!;
  assert.ok(bufs.some((b) => b === big), 'large payload is referenced, not copied');
  assert.equal(Buffer.concat(bufs).toString('latin1'), want);
});

test('bytes written after a take do not overwrite what was taken', () => {
  const o = new Outbound();
  o.write(B('first\r\n'));
  const a = o.take()!;
  o.write(B('second\r\n'));
  const b = o.take()!;
  assert.equal(Buffer.concat(a).toString(), 'first\r\n');
  assert.equal(Buffer.concat(b).toString(), 'second\r\n');
});

test('a small slab (a slice of the shared Buffer pool) is not kept across a take; a large one is reused', () => {
  const slabOf = (o: Outbound) => (o as unknown as { slab: Buffer | null }).slab;
  const idle = new Outbound();
  msg(idle, B('a'), B(' 1 '), null, 0, B('x'));
  const small = slabOf(idle);
  assert.ok(small !== null && small.length < Buffer.poolSize / 2);
  // The slab shares its ArrayBuffer with other Buffers: kept by an idle connection, it pins all of it.
  assert.equal(small.buffer.byteLength, Buffer.poolSize);
  assert.equal(drain(idle), 'MSG a 1 1\r\nx\r\n');
  assert.equal(slabOf(idle), null);
  msg(idle, B('a'), B(' 1 '), null, 0, B('y'));
  assert.equal(drain(idle), 'MSG a 1 1\r\ny\r\n');

  const busy = new Outbound();
  const payload = Buffer.alloc(1000, 0x62);
  for (let i = 0; i < 20; i++) msg(busy, B('b'), B(' 2 '), null, 0, payload);
  drain(busy);
  // The next slab is sized after that flush (~40 KB): its own ArrayBuffer, kept and written after.
  msg(busy, B('b'), B(' 2 '), null, 0, payload);
  const big = slabOf(busy);
  assert.ok(big !== null && big.length >= Buffer.poolSize);
  assert.equal(drain(busy), `MSG b 2 1000\r\n${'b'.repeat(1000)}\r\n`);
  assert.equal(slabOf(busy), big);
});

test('subject and reply written from ranges of a larger buffer, short and long', () => {
  const o = new Outbound();
  for (const len of [1, 47, 48, 128, 129, 600]) {
    const subject = `s.${'x'.repeat(len)}`;
    const reply = `$JS.ACK.${'r'.repeat(len)}`;
    // As a routed delivery: `<reply>@<subject>` in the middle of a read buffer.
    const src = Buffer.from(`RMSG $G _INBOX.1 ${reply}@${subject} 2\r\n`);
    const rs = src.indexOf('$JS.ACK.');
    const at = src.indexOf('@', rs);
    const se = src.indexOf(' 2\r\n', at);
    const n = o.writeMsg(src, at + 1, se, B(' 9 '), src, rs, at, 0, B('hi'));
    const want = `MSG ${subject} 9 ${reply} 2\r\nhi\r\n`;
    assert.equal(n, want.length);
    assert.equal(drain(o), want);
  }
});
