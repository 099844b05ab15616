// The field scan shared by the client and route parsers (src/protocol/tokens.ts), and the two
// parsers' field splitting on the lines that use it most: JetStream ack subjects (long stream
// and consumer names, large sequences, 19-digit timestamps) with any run of blanks between fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldEnd } from '../../src/protocol/tokens.js';
import { ClientParser, ParseResult, type ClientOpHandler, type PubArgs } from '../../src/protocol/client-parser.js';
import { RouteParser, type RouteProtocolHandler } from '../../src/protocol/route-parser.js';
import { decodeName, LastName, sameAsciiName } from '../../src/protocol/names.js';
import { seededRandom } from '../helpers/wait.js';

const SEPARATORS = new Set([32, 9, 13, 10]);

function fieldEndRef(buf: Uint8Array, i: number, e: number): number {
  for (; i < e; i++) if (SEPARATORS.has(buf[i]!)) return i;
  return e;
}

test('fieldEnd stops at space, tab, CR and LF only (every other byte, 0-255, belongs to the field)', () => {
  for (let b = 0; b < 256; b++) {
    const buf = Uint8Array.from([65, b, 66]);
    assert.equal(fieldEnd(buf, 0, 3), SEPARATORS.has(b) ? 1 : 3, `byte ${b}`);
  }
  const rnd = seededRandom(11);
  const pool = [32, 9, 13, 10, 0, 8, 11, 12, 31, 33, 46, 127, 128, 255, 65];
  for (let k = 0; k < 2_000; k++) {
    const n = Math.floor(rnd() * 40);
    const buf = Uint8Array.from({ length: n }, () => pool[Math.floor(rnd() * pool.length)]!);
    const i = Math.floor(rnd() * (n + 1));
    const e = i + Math.floor(rnd() * (n - i + 1));
    assert.equal(fieldEnd(buf, i, e), fieldEndRef(buf, i, e));
  }
  // A range that ends before the buffer does: a separator after `e` is not looked at.
  assert.equal(fieldEnd(Buffer.from('abc def'), 0, 3), 3);
  assert.equal(fieldEnd(Buffer.from('abc'), 3, 3), 3);
});

/** An ack reply as a consumer writes it: long names and sequences near 2^53. */
function ackSubject(rnd: () => number): string {
  const name = (n: number) => Array.from({ length: n }, () => 'ABCxyz_-09'[Math.floor(rnd() * 10)]).join('');
  const big = () => String(Math.floor(rnd() * Number.MAX_SAFE_INTEGER));
  const stream = name(1 + Math.floor(rnd() * 200));
  const consumer = name(1 + Math.floor(rnd() * 60));
  return `$JS.ACK.${stream}.${consumer}.${1 + Math.floor(rnd() * 9)}.${big()}.${big()}.${'1765432109876543210'}.${big()}`;
}

function blanks(rnd: () => number): string {
  const n = 1 + Math.floor(rnd() * 3);
  return Array.from({ length: n }, () => (rnd() < 0.7 ? ' ' : '\t')).join('');
}

test('route parser: RMSG lines with long ack replies and any blanks between fields, in every split', () => {
  const rnd = seededRandom(7);
  const want: string[] = [];
  let wire = '';
  for (let k = 0; k < 40; k++) {
    const subj = `_INBOX.${'q'.repeat(1 + Math.floor(rnd() * 50))}.${k}`;
    const reply = `${ackSubject(rnd)}@r3.x`;
    const data = 'd'.repeat(Math.floor(rnd() * 5));
    const withReply = rnd() < 0.8;
    wire += `RMSG${blanks(rnd)}APP${blanks(rnd)}${subj}${blanks(rnd)}${withReply ? reply + blanks(rnd) : ''}${data.length}${rnd() < 0.5 ? '' : blanks(rnd)}\r\n${data}\r\n`;
    want.push(`APP|${subj}|${withReply ? reply : ''}|${data}`);
  }
  const all = Buffer.from(wire, 'latin1');
  const run = (chunks: Buffer[]) => {
    const got: string[] = [];
    const none = (): void => {};
    const h: RouteProtocolHandler = {
      onInfo: none, onConnect: none, onPing: none, onPong: none, onOk: none, onErr: none, onRemoteSub: none, onRemoteUnsub: none,
      onRoutedMsg: (m, data) => got.push(`${m.account}|${m.subject}|${m.reply}|${data.toString('latin1')}`),
    };
    const p = new RouteParser(h, {});
    for (const c of chunks) assert.equal(p.parse(c), undefined);
    return got;
  };
  assert.deepEqual(run([all]), want);
  for (let cut = 1; cut < all.length; cut += 7) {
    assert.deepEqual(run([all.subarray(0, cut), all.subarray(cut)]), want, `split at ${cut}`);
  }
});

class PubRecorder implements ClientOpHandler {
  pubs: string[] = [];
  onPubArgs(_pa: PubArgs): boolean { return true; }
  onMsg(pa: PubArgs, buf: Buffer, start: number, end: number): void {
    this.pubs.push(`${pa.subject}|${pa.reply}|${pa.hdrLen}|${buf.toString('latin1', start, end)}`);
  }
  onSub(): void {}
  onUnsub(): void {}
  onConnect(): boolean { return true; }
  onPing(): void {}
  onPong(): void {}
  onInfo(): void {}
  onOk(): void {}
  onErr(): void {}
}

test('client parser: ack PUBs with any blanks between fields, in every split; a fifth field is refused', () => {
  const rnd = seededRandom(5);
  const want: string[] = [];
  let wire = '';
  for (let k = 0; k < 60; k++) {
    const subj = ackSubject(rnd);
    const withReply = rnd() < 0.3;
    const data = rnd() < 0.7 ? '' : '+ACK';
    const lead = rnd() < 0.2 ? blanks(rnd) : ' ';
    const trail = rnd() < 0.3 ? blanks(rnd) : '';
    wire += `PUB${lead}${subj}${blanks(rnd)}${withReply ? `_INBOX.r${k}${blanks(rnd)}` : ''}${data.length}${trail}\r\n${data}\r\n`;
    want.push(`${subj}|${withReply ? `_INBOX.r${k}` : ''}|-1|${data}`);
  }
  const all = Buffer.from(wire, 'latin1');
  const run = (chunks: Buffer[]) => {
    const r = new PubRecorder();
    const p = new ClientParser(r, 4096);
    for (const c of chunks) assert.equal(p.parse(c), ParseResult.OK);
    return r.pubs;
  };
  assert.deepEqual(run([all]), want);
  for (let cut = 1; cut < all.length; cut += 11) {
    assert.deepEqual(run([all.subarray(0, cut), all.subarray(cut)]), want, `split at ${cut}`);
  }
  // Control bytes other than the four separators are part of a subject, as in nats-server.
  assert.deepEqual(run([Buffer.from('PUB a\x0bb\x00c 0\r\n\r\n', 'latin1')]), ['a\x0bb\x00c||-1|']);
  for (const line of ['PUB a b c\t1 0\r\n\r\n', 'PUB a b c 1 0 ', 'HPUB a b 0 0 0\r\n']) {
    const p = new ClientParser(new PubRecorder(), 4096);
    assert.equal(p.parse(Buffer.from(line)), ParseResult.BAD_ARGS, JSON.stringify(line));
  }
});

test('sameAsciiName: true only for the bytes an ASCII text was decoded from', () => {
  const cases: [string, string][] = [
    ['$JS.ACK.S.C.1.2.3.1765432109876543210.0', '$JS.ACK.S.C.1.2.3.1765432109876543210.0'],
    ['$JS.ACK.S.C.1.2.3.1765432109876543210.0', '$JS.ACK.S.C.1.2.3.1765432109876543210.1'],
    ['orders.new', 'orders.ne'],
    ['', ''],
  ];
  for (const [a, b] of cases) {
    const buf = Buffer.from(`xx${b}yy`);
    assert.equal(sameAsciiName(buf, 2, 2 + Buffer.byteLength(b), a), a === b, `${a} / ${b}`);
  }
  // Non-ASCII names never equal their own text here (LastName keeps their bytes instead).
  for (const bytes of [Buffer.from('ünïcode.subj'), Buffer.from([0x61, 0xff, 0x62]), Buffer.from([0xc3, 0xa9, 0x2e, 0x80])]) {
    const text = decodeName(bytes, 0, bytes.length);
    assert.equal(sameAsciiName(bytes, 0, bytes.length, text), false);
  }
  // A text of escaped bytes has one char per byte; the char codes (U+DC80..) never equal a byte.
  const esc = decodeName(Buffer.from([0x80, 0x81]), 0, 2);
  assert.equal(esc.length, 2);
  assert.equal(sameAsciiName(Buffer.from([0x80, 0x81]), 0, 2, esc), false);
});

test('route parser: a repeated subject is one Buffer of its own, the text of a new one is right after any other', () => {
  const subjects = ['_INBOX.a.1', '_INBOX.a.1', '_INBOX.a.1', '$JS.ACK.S.C.1.5.5.1765432109876543210.0',
    '$JS.ACK.S.C.1.6.6.1765432109876543211.0', 'ünï.x', 'ünï.x', '_INBOX.a.1', '_INBOX.a.12', '_INBOX.a.1'];
  const wire = Buffer.from(subjects.map((s) => `RMSG APP ${s} 1\r\nx\r\n`).join(''));
  for (const step of [wire.length, 5, 1]) {
    const seen: { subject: string; bytes: Buffer }[] = [];
    const none = (): void => {};
    const p = new RouteParser({
      onInfo: none, onConnect: none, onPing: none, onPong: none, onOk: none, onErr: none, onRemoteSub: none, onRemoteUnsub: none,
      onRoutedMsg: (m) => seen.push({ subject: m.subject, bytes: m.subjectBytes }),
    }, {});
    for (let i = 0; i < wire.length; i += step) {
      // A fresh buffer per read, as a socket's; zeroed after the parse, so a kept view would show it.
      const read = Buffer.from(wire.subarray(i, Math.min(wire.length, i + step)));
      assert.equal(p.parse(read), undefined);
      read.fill(0);
    }
    assert.deepEqual(seen.map((x) => x.subject), subjects, `step ${step}`);
    // The repeats of _INBOX.a.1 (2nd and 3rd) share one Buffer of their own, intact after later reads.
    assert.equal(seen[1]!.bytes, seen[2]!.bytes, `step ${step}`);
    assert.equal(seen[2]!.bytes.toString(), '_INBOX.a.1', `step ${step}`);
    assert.equal(seen[6]!.bytes.toString(), 'ünï.x', `step ${step}`);
    assert.notEqual(seen[6]!.bytes, seen[5]!.bytes, `step ${step}: the first of a run is a range of the read`);
  }
});

test('LastName: repeats of ASCII, multi-byte and escaped names, and the names between them', () => {
  const names = [
    Buffer.from('orders.new'), Buffer.from('orders.new'), Buffer.from('orders.nex'), Buffer.from('ünï.x'), Buffer.from('ünï.x'),
    Buffer.from('ünï.y'), Buffer.from([0x61, 0xff]), Buffer.from([0x61, 0xff]), Buffer.from([0x61, 0xfe]), Buffer.from('a'),
    Buffer.from(''), Buffer.from(''), Buffer.from('x'.repeat(300)), Buffer.from('x'.repeat(300)),
  ];
  const last = new LastName();
  let prev: Buffer | undefined;
  for (const raw of names) {
    const buf = Buffer.concat([Buffer.from('>>'), raw, Buffer.from('<<')]);
    const s = 2;
    const e = 2 + raw.length;
    const repeat = prev !== undefined && prev.equals(raw);
    const escaped = raw.includes(0xff) || raw.includes(0xfe);
    // A repeat is recognised unless it is of escaped bytes (decoded again: slower, still right).
    assert.equal(last.matches(buf, s, e), repeat && !escaped, `${raw.toString('hex')}`);
    if (last.matches(buf, s, e)) {
      const own = last.ownBytes(buf, s, e);
      assert.deepEqual(own, raw);
      buf.fill(0);
      assert.equal(last.ownBytes(buf, s, e), own, 'one Buffer per run of repeats');
      assert.deepEqual(own, raw);
    } else {
      assert.equal(last.take(buf, s, e), decodeName(raw, 0, raw.length));
      // What it kept must not be the caller's buffer.
      buf.fill(0);
    }
    assert.equal(last.text, decodeName(raw, 0, raw.length));
    prev = raw;
  }
});
