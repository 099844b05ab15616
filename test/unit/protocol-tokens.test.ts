// The field scan shared by the client and route parsers (src/protocol/tokens.ts), and the two
// parsers' field splitting on the lines that use it most: JetStream ack subjects (long stream
// and consumer names, large sequences, 19-digit timestamps) with any run of blanks between fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldEnd } from '../../src/protocol/tokens.js';
import { ClientParser, ParseResult, type ClientOpHandler, type PubArgs } from '../../src/protocol/client-parser.js';
import { RouteParser, type RouteProtocolHandler } from '../../src/protocol/route-parser.js';
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
