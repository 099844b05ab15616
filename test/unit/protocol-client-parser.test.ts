// The client-protocol parser: same ops whatever the read boundaries, exact
// error classes, limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientParser, ParseResult, parseSize, type ClientOpHandler, type PubArgs } from '../../src/protocol/client-parser.js';
import { seededRandom } from '../helpers/wait.js';

/** Records every op as a line of text. */
class Recorder implements ClientOpHandler {
  ops: string[] = [];
  rejectPub = false;
  onPubArgs(pa: PubArgs): boolean {
    return !this.rejectPub || pa.size < 0;
  }
  onMsg(pa: PubArgs, buf: Buffer, start: number, end: number): void {
    const data = buf.subarray(start, end).toString('latin1');
    this.ops.push(`${pa.hdrLen >= 0 ? 'HPUB' : 'PUB'} ${pa.subject}|${pa.reply}|${pa.hdrLen}|${pa.size}|${data}`);
    assert.equal(pa.subjectBytes.toString(), pa.subject);
    if (pa.reply) assert.equal(pa.replyBytes!.toString(), pa.reply);
  }
  onSub(subject: string, queue: string | undefined, sid: string): void { this.ops.push(`SUB ${subject}|${queue ?? ''}|${sid}`); }
  onUnsub(sid: string, max: number): void { this.ops.push(`UNSUB ${sid}|${max}`); }
  onConnect(json: string): boolean { this.ops.push(`CONNECT ${json}`); return true; }
  onPing(): void { this.ops.push('PING'); }
  onPong(): void { this.ops.push('PONG'); }
  onInfo(json: string): void { this.ops.push(`INFO ${json}`); }
  onOk(): void { this.ops.push('+OK'); }
  onErr(text: string): void { this.ops.push(`-ERR ${text}`); }
}

const STREAM = [
  'CONNECT {"verbose":false,"headers":true}\r\n',
  'PING\r\n',
  'sub foo.* 1\r\n',
  'SUB\tbar  q1 \t 2\r\n',
  'PUB foo.a 5\r\nhello\r\n',
  'pub foo.b _INBOX.x.1 0\r\n\r\n',
  'PUB foo.c 3\nabc\r\n',
  'HPUB foo.h 12 14\r\nNATS/1.0\r\n\r\nhi\r\n',
  'hpub foo.h rep 16 16\r\nNATS/1.0 503\r\n\r\n\r\n',
  'PUB foo.a 5\r\nhello\r\n',
  'PUB foo.big 300\r\n' + 'x'.repeat(300) + '\r\n',
  'UNSUB 1\r\n',
  'unsub 2 10\r\n',
  'PONG\r\n',
  'PING  junk\r\n',
  'INFO {"x":1}\r\n',
  '+OK\r\n',
  "-ERR 'oops'\r\n",
].join('');

function parseAll(chunks: Buffer[]): { ops: string[]; res: ParseResult } {
  const r = new Recorder();
  const p = new ClientParser(r, 4096);
  let res = ParseResult.OK;
  for (const c of chunks) {
    res = p.parse(c);
    if (res !== ParseResult.OK) break;
  }
  return { ops: r.ops, res };
}

test('whole buffer parses every op', () => {
  const { ops, res } = parseAll([Buffer.from(STREAM)]);
  assert.equal(res, ParseResult.OK);
  assert.deepEqual(ops, [
    'CONNECT {"verbose":false,"headers":true}',
    'PING',
    'SUB foo.*||1',
    'SUB bar|q1|2',
    'PUB foo.a||-1|5|hello',
    'PUB foo.b|_INBOX.x.1|-1|0|',
    'PUB foo.c||-1|3|abc',
    'HPUB foo.h||12|14|NATS/1.0\r\n\r\nhi',
    'HPUB foo.h|rep|16|16|NATS/1.0 503\r\n\r\n',
    'PUB foo.a||-1|5|hello',
    `PUB foo.big||-1|300|${'x'.repeat(300)}`,
    'UNSUB 1|-1',
    'UNSUB 2|10',
    'PONG',
    'PING',
    'INFO {"x":1}',
    '+OK',
    "-ERR 'oops'",
  ]);
});

test('byte-by-byte feeding gives the same ops', () => {
  const whole = parseAll([Buffer.from(STREAM)]).ops;
  const bytes = Buffer.from(STREAM);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  const split = parseAll(chunks);
  assert.equal(split.res, ParseResult.OK);
  assert.deepEqual(split.ops, whole);
});

test('random split points (seeded) give the same ops', () => {
  const whole = parseAll([Buffer.from(STREAM)]).ops;
  const bytes = Buffer.from(STREAM);
  for (let seed = 1; seed <= 200; seed++) {
    const rnd = seededRandom(seed);
    const chunks: Buffer[] = [];
    let i = 0;
    while (i < bytes.length) {
      const n = 1 + Math.floor(rnd() * 40);
      // Copy so that no chunk shares memory with the next (as socket reads).
      chunks.push(Buffer.from(bytes.subarray(i, i + n)));
      i += n;
    }
    assert.deepEqual(parseAll(chunks).ops, whole, `seed ${seed}`);
  }
});

test('views handed out for split payloads stay valid after later reads', () => {
  const r = new Recorder();
  const kept: Buffer[] = [];
  r.onMsg = (_pa, buf, s, e) => { kept.push(buf.subarray(s, e)); };
  const p = new ClientParser(r, 4096);
  p.parse(Buffer.from('PUB a 4\r\nab'));
  p.parse(Buffer.from('cd\r\nPUB a 4\r\nwxyz\r\n'));
  p.parse(Buffer.from('PUB a 4\r\n1234\r\n'));
  assert.deepEqual(kept.map((b) => b.toString()), ['abcd', 'wxyz', '1234']);
});

test('protocol errors', () => {
  const cases: [string, ParseResult][] = [
    ['FOO bar\r\n', ParseResult.UNKNOWN_OP],
    ['MSG foo 1 2\r\nhi\r\n', ParseResult.UNKNOWN_OP],
    ['HMSG foo 1 2 2\r\n', ParseResult.UNKNOWN_OP],
    ['RS+ A foo\r\n', ParseResult.UNKNOWN_OP],
    ['PUB foo 2\r\nhiX\r\n', ParseResult.UNKNOWN_OP],
    ['PUB foo 1\r\nx\n', ParseResult.UNKNOWN_OP],
    ['UNSUB\r\n', ParseResult.UNKNOWN_OP],
    ['PUB\r\n', ParseResult.UNKNOWN_OP],
    ['PUB foo\r\n', ParseResult.BAD_ARGS],
    ['PUB foo bar baz 1\r\n', ParseResult.BAD_ARGS],
    ['PUB foo -1\r\n', ParseResult.BAD_ARGS],
    ['PUB foo 1x\r\n', ParseResult.BAD_ARGS],
    ['PUB foo 99999999999999999999\r\n', ParseResult.BAD_ARGS],
    ['HPUB foo 5\r\n', ParseResult.BAD_ARGS],
    ['HPUB foo 12 10\r\n', ParseResult.BAD_ARGS],
    ['SUB foo\r\n', ParseResult.BAD_ARGS],
    ['SUB a b c d\r\n', ParseResult.BAD_ARGS],
    ['UNSUB \r\n', ParseResult.BAD_ARGS],
    ['UNSUB 1 2 3\r\n', ParseResult.BAD_ARGS],
    [`SUB ${'x'.repeat(5000)} 1\r\n`, ParseResult.MAX_CONTROL_LINE],
    [`PUB ${'x'.repeat(5000)} 1\r\n`, ParseResult.MAX_CONTROL_LINE],
  ];
  for (const [input, want] of cases) {
    assert.equal(parseAll([Buffer.from(input)]).res, want, JSON.stringify(input.slice(0, 40)));
    // The same error is found when the input arrives one byte at a time.
    const bytes = Buffer.from(input);
    const chunks: Buffer[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
    assert.equal(parseAll(chunks).res, want, `split ${JSON.stringify(input.slice(0, 40))}`);
  }
});

test('control line limit applies to a split line before its end arrives', () => {
  const r = new Recorder();
  const p = new ClientParser(r, 100);
  assert.equal(p.parse(Buffer.from('SUB ' + 'a'.repeat(60))), ParseResult.OK);
  assert.equal(p.parse(Buffer.from('b'.repeat(60))), ParseResult.MAX_CONTROL_LINE);
});

test('awaiting auth: only CONNECT may come first', () => {
  const r = new Recorder();
  const p = new ClientParser(r, 4096);
  p.awaitingAuth = true;
  assert.equal(p.parse(Buffer.from('PING\r\n')), ParseResult.AUTH_VIOLATION);
  const r2 = new Recorder();
  const p2 = new ClientParser(r2, 4096);
  p2.awaitingAuth = true;
  assert.equal(p2.parse(Buffer.from('connect {}\r\n')), ParseResult.OK);
  assert.deepEqual(r2.ops, ['CONNECT {}']);
});

test('stop() ends parsing at once', () => {
  const r = new Recorder();
  const p = new ClientParser(r, 4096);
  r.onPing = () => { r.ops.push('PING'); p.stop(); };
  assert.equal(p.parse(Buffer.from('PING\r\nPING\r\n')), ParseResult.STOPPED);
  assert.deepEqual(r.ops, ['PING']);
});

test('parseSize', () => {
  const b = Buffer.from('0 12 1x  123456789012345 1234567890123456');
  assert.equal(parseSize(b, 0, 1), 0);
  assert.equal(parseSize(b, 2, 4), 12);
  assert.equal(parseSize(b, 5, 7), -1);
  assert.equal(parseSize(b, 7, 7), -1);
  // at most 9 digits, as nats-server's parseSize (a longer size is a protocol error)
  assert.equal(parseSize(b, 9, 24), -1);
  assert.equal(parseSize(b, 9, 18), 123456789);
  assert.equal(parseSize(b, 9, 19), -1);
  assert.equal(parseSize(b, 25, 41), -1);
});

test('suspend() in onConnect stops right after the CONNECT line and says where', () => {
  const rec = new Recorder();
  const p = new ClientParser(rec, 4096);
  rec.onConnect = (json: string): boolean => {
    rec.ops.push(`CONNECT ${json}`);
    p.suspend();
    return true;
  };
  const buf = Buffer.from('CONNECT {}\r\nSUB a 1\r\nPING\r\n');
  assert.equal(p.parse(buf), ParseResult.SUSPENDED);
  assert.deepEqual(rec.ops, ['CONNECT {}']);
  assert.equal(buf.subarray(p.resumeOffset).toString(), 'SUB a 1\r\nPING\r\n');
  // parsing goes on from there with the rest
  rec.onConnect = (json: string): boolean => { rec.ops.push(`CONNECT ${json}`); return true; };
  assert.equal(p.parse(buf.subarray(p.resumeOffset)), ParseResult.OK);
  assert.deepEqual(rec.ops, ['CONNECT {}', 'SUB a||1', 'PING']);
  // a CONNECT split over two reads suspends in the second one
  const q = new ClientParser(rec, 4096);
  rec.ops = [];
  rec.onConnect = (json: string): boolean => { rec.ops.push(`CONNECT ${json}`); q.suspend(); return true; };
  assert.equal(q.parse(Buffer.from('CONNECT {"a"')), ParseResult.OK);
  const second = Buffer.from(':1}\r\nPING\r\n');
  assert.equal(q.parse(second), ParseResult.SUSPENDED);
  assert.equal(second.subarray(q.resumeOffset).toString(), 'PING\r\n');
});

test('subjects: a new one is a range of the read buffer, a repeated one a Buffer of its own; bytes and text right at every split', () => {
  // Unique ack subjects, a repeated publish subject, prefixes and extensions of the previous
  // subject (same bytes up to a length), one longer than the reused copy, non-ASCII.
  const subjects = [
    '$JS.ACK.S.C.1.1.1.1700000000000000001.9', '$JS.ACK.S.C.1.2.2.1700000000000000002.8', 'orders.new', 'orders.new',
    'orders.new', 'orders.ne', 'orders.new', 'orders.new.x', 'orders.new.x', `long.${'y'.repeat(200)}`, `long.${'y'.repeat(200)}`,
    'ünïcode.subj', 'ünïcode.subj', 'orders.new',
  ];
  const wire = Buffer.concat(subjects.map((s, i) => Buffer.from(`PUB ${s} ${i < 10 ? 1 : 2}\r\n${i < 10 ? 'x' : 'yz'}\r\n`)));
  for (const step of [wire.length, 7, 1]) {
    const seen: { subject: string; bytes: string; own: boolean; inRead: boolean }[] = [];
    const kept: Buffer[] = [];
    let read = Buffer.alloc(0);
    const p = new ClientParser(new class extends Recorder {
      override onMsg(pa: PubArgs): void {
        const own = pa.subjectStart === 0 && pa.subjectEnd === pa.subjectSrc.length && pa.subjectSrc !== read;
        seen.push({ subject: pa.subject, bytes: pa.subjectBytes.toString(), own, inRead: pa.subjectSrc === read });
        kept.push(pa.subjectBytes);
      }
    }(), 4096);
    for (let i = 0; i < wire.length; i += step) {
      // A fresh buffer per read, as a socket's.
      read = Buffer.from(wire.subarray(i, Math.min(wire.length, i + step)));
      assert.equal(p.parse(read), ParseResult.OK);
    }
    assert.deepEqual(seen.map((x) => x.subject), subjects, `step ${step}`);
    for (const x of seen) assert.equal(x.bytes, x.subject, `step ${step}`);
    // Every repeat of the previous subject is one Buffer, the same one while it repeats.
    for (let i = 1; i < subjects.length; i++) {
      if (subjects[i] === subjects[i - 1]) {
        assert.ok(seen[i]!.own, `step ${step}: repeat ${i} is a Buffer of its own`);
        if (i >= 2 && subjects[i - 2] === subjects[i]) assert.equal(kept[i], kept[i - 1], `step ${step}: repeat ${i} reuses it`);
      } else if (step === wire.length) {
        // A new subject whose line is whole in the read: a range of that read.
        assert.ok(seen[i]!.inRead, `step ${step}: new subject ${i} is a range of the read buffer`);
      }
    }
    // What was handed out stays right after later reads.
    assert.deepEqual(kept.map((b) => b.toString()), subjects, `step ${step}`);
  }
});
