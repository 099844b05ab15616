import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RouteParser, RouteParseError, type RouteProtocolHandler, type RouteParserOptions,
} from '../../src/protocol/route-parser.js';
import {
  encodeRemoteSub, encodeRemoteUnsub, encodeRoutedMsgHeader, writeRoutedMsgHeader,
  routedMsgHeaderMaxBytes, encodeInfoLine, encodeLeafSub, encodeLeafUnsub, writeRoutedMsgHead,
} from '../../src/protocol/route-encoder.js';
import { RouteOutbound } from '../../src/cluster/route-outbound.js';
import { readVectorJson } from '../helpers/vectors.js';

// Bytes nats-server 2.9.10 sent on a route (test/fixtures/vectors/route/route_transcript.json):
// the routed messages of the capture, in order, and the interest changes for the live.* subjects.
interface RouteCapture {
  transcript: { dir: string; hex: string }[];
  server_frames: { op: string; raw_text?: string }[];
}
const CAPTURE = readVectorJson<RouteCapture>('route', 'route_transcript.json');
const N1_MESSAGES = CAPTURE.server_frames.filter((f) => f.op === 'RMSG' || f.op === 'HMSG').map((f) => f.raw_text!);
const N1_INTEREST = CAPTURE.server_frames
  .filter((f) => (f.op === 'RS+' || f.op === 'RS-') && f.raw_text!.startsWith(`${f.op} APP live.`))
  .map((f) => f.raw_text!);
const EXPECTED_MESSAGES = [
  { acc: 'APP', subj: 'rt.plain', reply: '', queues: undefined, hdr: -1, data: 'hello' },
  { acc: 'APP', subj: 'rt.plain', reply: 'my.reply', queues: undefined, hdr: -1, data: 'hello' },
  { acc: 'APP', subj: 'rt.plain', reply: '', queues: undefined, hdr: 23, data: 'NATS/1.0\r\nX-Test: 1\r\n\r\nabc' },
  { acc: 'APP', subj: 'rt.plain', reply: 'my.reply', queues: undefined, hdr: 23, data: 'NATS/1.0\r\nX-Test: 1\r\n\r\nabc' },
  { acc: 'APP', subj: 'rt.q', reply: '', queues: ['grp1'], hdr: -1, data: 'qqq' },
  { acc: 'APP', subj: 'rt.q', reply: 'my.reply', queues: ['grp1'], hdr: -1, data: 'qqq' },
  { acc: 'APP', subj: 'rt.q', reply: 'my.reply', queues: ['grp1'], hdr: 23, data: 'NATS/1.0\r\nX-Test: 1\r\n\r\nabc' },
  { acc: 'APP', subj: 'rt.q', reply: '', queues: ['grp1'], hdr: 23, data: 'NATS/1.0\r\nX-Test: 1\r\n\r\nabc' },
];

type Ev = unknown[];

function recorder(): { h: RouteProtocolHandler; events: Ev[] } {
  const events: Ev[] = [];
  const h: RouteProtocolHandler = {
    onInfo: (j) => events.push(['INFO', JSON.parse(j)]),
    onConnect: (j) => events.push(['CONNECT', JSON.parse(j)]),
    onPing: () => events.push(['PING']),
    onPong: () => events.push(['PONG']),
    onOk: () => events.push(['+OK']),
    onErr: (t) => events.push(['-ERR', t]),
    onRemoteSub: (a, s, q, w, o) => events.push(['SUB', a, s, q, w, o]),
    onRemoteUnsub: (a, s, q, leaf) => events.push(['UNSUB', a, s, q, leaf]),
    onRoutedMsg: (m, data) => {
      assert.equal(m.subjectBytes.toString(), m.subject);
      assert.equal(m.replyBytes === null ? '' : m.replyBytes.toString(), m.reply);
      events.push(['MSG', m.account, m.subject, m.reply, m.queues, m.hdrLen, data.toString('latin1'), m.origin]);
    },
  };
  return { h, events };
}

function parseAll(chunks: Buffer[], opts: RouteParserOptions = {}): { events: Ev[]; err?: RouteParseError } {
  const { h, events } = recorder();
  const p = new RouteParser(h, opts);
  for (const c of chunks) {
    const err = p.parse(c);
    if (err) return { events, err };
  }
  return { events };
}

function expectedMsgEvents(): Ev[] {
  return EXPECTED_MESSAGES.map((m) => ['MSG', m.acc, m.subj, m.reply, m.queues, m.hdr, m.data, undefined]);
}

test('route parser decodes the RMSG/HMSG forms nats-server 2.9.10 sent, one read each', () => {
  const { events, err } = parseAll(N1_MESSAGES.map((s) => Buffer.from(s, 'latin1')));
  assert.equal(err, undefined);
  assert.deepEqual(events, expectedMsgEvents());
});

test('route parser handles every split point and byte-at-a-time delivery', () => {
  const all = Buffer.from(N1_MESSAGES.join('') + N1_INTEREST.join('') + 'PING\r\nPONG\r\n', 'latin1');
  const want = parseAll([all]).events;
  assert.equal(want.length, N1_MESSAGES.length + N1_INTEREST.length + 2);
  for (let cut = 1; cut < all.length; cut++) {
    const got = parseAll([all.subarray(0, cut), all.subarray(cut)]);
    assert.equal(got.err, undefined, `cut at ${cut}`);
    assert.deepEqual(got.events, want, `cut at ${cut}`);
  }
  const bytes: Buffer[] = [];
  for (let i = 0; i < all.length; i++) bytes.push(all.subarray(i, i + 1));
  assert.deepEqual(parseAll(bytes).events, want);
});

test('route parser decodes RS+/RS- with queue weights', () => {
  const { events, err } = parseAll([Buffer.from(N1_INTEREST.join(''), 'latin1')]);
  assert.equal(err, undefined);
  assert.deepEqual(events, [
    ['SUB', 'APP', 'live.a', undefined, 0, undefined],
    ['SUB', 'APP', 'live.q', 'lq', 1, undefined],
    ['SUB', 'APP', 'live.q', 'lq', 2, undefined],
    ['SUB', 'APP', 'live.q', 'lq', 1, undefined],
    ['UNSUB', 'APP', 'live.q', 'lq', false],
    ['UNSUB', 'APP', 'live.a', undefined, false],
  ]);
});

test('route parser decodes LS+/LS-/LMSG, lower-case ops, tabs and extra spaces', () => {
  const input = 'ls+ hub APP foo.> q 3\r\nLS- APP foo.> q\r\nrs+\tAPP  bar\r\n'
    + 'LMSG hub APP foo.x + r q1 q2 0 2\r\nhi\r\nLMSG hub APP foo.y 2 2\r\nhi\r\nrmsg APP a.b   c.d  1\r\nx\r\n';
  const { events, err } = parseAll([Buffer.from(input)]);
  assert.equal(err, undefined);
  assert.deepEqual(events, [
    ['SUB', 'APP', 'foo.>', 'q', 3, 'hub'],
    ['UNSUB', 'APP', 'foo.>', 'q', true],
    ['SUB', 'APP', 'bar', undefined, 0, undefined],
    ['MSG', 'APP', 'foo.x', 'r', ['q1', 'q2'], 0, 'hi', 'hub'],
    ['MSG', 'APP', 'foo.y', '', undefined, 2, 'hi', 'hub'],
    ['MSG', 'APP', 'a.b', 'c.d', undefined, -1, 'x', undefined],
  ]);
});

test('route parser passes INFO/CONNECT JSON, -ERR text, +OK; PING with trailing junk', () => {
  const input = 'INFO {"server_id":"NX","cluster":"C1"} \r\nCONNECT {"name":"NX"}\r\n+OK\r\n'
    + "-ERR 'Unknown Protocol Operation'\r\nPING junk\r\nPONG\n";
  const { events, err } = parseAll([Buffer.from(input)]);
  assert.equal(err, undefined);
  assert.deepEqual(events, [
    ['INFO', { server_id: 'NX', cluster: 'C1' }],
    ['CONNECT', { name: 'NX' }],
    ['+OK'],
    ['-ERR', "'Unknown Protocol Operation'"],
    ['PING'],
    ['PONG'],
  ]);
});

test('PUB/SUB/UNSUB/A+ on a route are consumed and ignored as nats-server does', () => {
  const input = 'PUB foo 5\r\nhello\r\nHPUB foo r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nSUB foo 1\r\nUNSUB 1\r\nA+ x\r\nPING\r\n';
  const { events, err } = parseAll([Buffer.from(input)]);
  assert.equal(err, undefined);
  assert.deepEqual(events, [['PING']]);
});

test('garbage gets Unknown Protocol Operation, even before its line ends', () => {
  for (const bad of ['GARBAGE\r\n', 'XYZ', 'RSX APP foo\r\n', 'RMSGfoo\r\n', '\r\n', 'PIN\r\n', 'RS+\r\n']) {
    const { err } = parseAll([Buffer.from(bad)]);
    assert.ok(err instanceof RouteParseError, bad);
    assert.equal(err.errText, 'Unknown Protocol Operation', bad);
  }
  // valid prefixes of an op wait for more bytes
  for (const partial of ['RS', 'RMS', 'CONNE', 'P', '-ER']) {
    assert.equal(parseAll([Buffer.from(partial)]).err, undefined, partial);
  }
});

test('payload not followed by CRLF is a protocol error with -ERR', () => {
  const { events, err } = parseAll([Buffer.from('RMSG APP foo 2\r\nhiXX')]);
  assert.equal(events.length, 0);
  assert.equal(err?.errText, 'Unknown Protocol Operation');
  const split = parseAll([Buffer.from('RMSG APP foo 2\r\nh'), Buffer.from('i\rX')]);
  assert.equal(split.err?.errText, 'Unknown Protocol Operation');
});

test('bad arguments close without -ERR (nats-server returns the parse error silently)', () => {
  for (const bad of [
    'RMSG APP\r\n', 'RMSG APP foo\r\n', 'RMSG APP foo x\r\n', 'RMSG APP foo * q 3\r\n',
    'HMSG APP foo 5 3\r\n', 'HMSG APP foo 3\r\n', 'RS+ APP\r\n', 'RS+ APP foo q\r\n', 'RS- APP\r\n',
    'RS- APP a b c\r\n', 'RMSG APP foo 1234567890\r\n',
  ]) {
    const { err } = parseAll([Buffer.from(bad)]);
    assert.ok(err instanceof RouteParseError, bad);
    assert.equal(err.errText, undefined, bad);
    assert.equal(err.closeReason, 'Protocol Violation');
  }
});

test('control line limit and CONNECT-first enforcement', () => {
  const p = new RouteParser(recorder().h, { maxControlLineBytes: 100 });
  const err = p.parse(Buffer.from('RS+ APP ' + 'a'.repeat(200)));
  assert.equal(err?.errText, 'maximum control line exceeded');

  const r = recorder();
  const auth = new RouteParser(r.h);
  auth.awaitingConnect = true;
  assert.equal(auth.parse(Buffer.from('PING\r\n'))?.errText, 'Authorization Violation');
  const ok = new RouteParser(r.h);
  ok.awaitingConnect = true;
  assert.equal(ok.parse(Buffer.from('CONNECT {}\r\nPING\r\n')), undefined);
  assert.deepEqual(r.events, [['CONNECT', {}], ['PING']]);
});

test('stop() from inside a callback halts the parse', () => {
  const events: string[] = [];
  const h = recorder().h;
  let parser: RouteParser;
  h.onPing = () => { events.push('PING'); parser.stop(); };
  parser = new RouteParser(h);
  assert.equal(parser.parse(Buffer.from('PING\r\nPING\r\nPING\r\n')), undefined);
  assert.deepEqual(events, ['PING']);
});

test('suspend() from onConnect keeps everything after the CONNECT until resume(), across reads and a second CONNECT', () => {
  const input = 'CONNECT {"a":1}\r\nINFO {}\r\nRS+ $G foo\r\nRMSG $G foo 5\r\nhello\r\nCONNECT {"a":2}\r\nPING\r\n';
  const want = [['CONNECT', { a: 1 }], ['INFO', {}], ['SUB', '$G', 'foo', undefined, 0, undefined],
    ['MSG', '$G', 'foo', '', undefined, -1, 'hello', undefined], ['CONNECT', { a: 2 }], ['PING']];
  // every split of the input into two reads, the CONNECT line itself included
  for (let cut = 1; cut < input.length; cut++) {
    const r = recorder();
    const p = new RouteParser(r.h);
    p.awaitingConnect = true;
    r.h.onConnect = (j) => {
      r.events.push(['CONNECT', JSON.parse(j)]);
      p.suspend();
    };
    for (const part of [input.slice(0, cut), input.slice(cut)]) assert.equal(p.parse(Buffer.from(part)), undefined);
    assert.deepEqual(r.events, [want[0]], `cut ${cut}: nothing after the first CONNECT`);
    assert.equal(p.isSuspended, true);
    assert.equal(p.resume(), undefined);
    assert.deepEqual(r.events, want.slice(0, 5), `cut ${cut}: up to the second CONNECT`);
    assert.equal(p.isSuspended, true);
    assert.equal(p.resume(), undefined);
    assert.deepEqual(r.events, want, `cut ${cut}: all`);
    assert.equal(p.isSuspended, false);
  }
  // stop() while suspended drops what was kept
  const r = recorder();
  const p = new RouteParser(r.h);
  r.h.onConnect = () => p.suspend();
  p.parse(Buffer.from('CONNECT {}\r\nPING\r\n'));
  p.stop();
  assert.equal(p.resume(), undefined);
  assert.deepEqual(r.events, []);
});

test('payload views share the read buffer only when the payload is in one read', () => {
  const datas: Buffer[] = [];
  const h = recorder().h;
  h.onRoutedMsg = (_m, d) => datas.push(d);
  const p = new RouteParser(h);
  const whole = Buffer.from('RMSG A s 3\r\nabc\r\n');
  p.parse(whole);
  assert.equal(datas[0]!.buffer, whole.buffer);
  p.parse(Buffer.from('RMSG A s 3\r\na'));
  p.parse(Buffer.from('bc\r\n'));
  assert.equal(datas[1]!.toString(), 'abc');
});

test('encoders produce the exact 2.9.10 bytes', () => {
  const got: string[] = [];
  for (const m of EXPECTED_MESSAGES) {
    const total = Buffer.byteLength(m.data);
    const hdr = m.hdr;
    const line = encodeRoutedMsgHeader(m.acc, m.subj, m.reply, m.queues, hdr, total);
    const buf = Buffer.alloc(routedMsgHeaderMaxBytes(m.acc, m.subj, m.reply, m.queues));
    const end = writeRoutedMsgHeader(buf, 0, m.acc, m.subj, m.reply, m.queues, hdr, total);
    assert.equal(buf.toString('latin1', 0, end), line);
    got.push(line + m.data + '\r\n');
  }
  assert.deepEqual(got, N1_MESSAGES);
  assert.equal(encodeRemoteSub('APP', 'live.a'), N1_INTEREST[0]);
  assert.equal(encodeRemoteSub('APP', 'live.q', 'lq', 2), N1_INTEREST[2]);
  assert.equal(encodeRemoteUnsub('APP', 'live.q', 'lq'), N1_INTEREST[4]);
  assert.equal(encodeRemoteUnsub('APP', 'live.a'), N1_INTEREST[5]);
  assert.equal(encodeInfoLine('{}'), 'INFO {} \r\n');
  // multi-byte subjects survive the fast writer
  const b = Buffer.alloc(routedMsgHeaderMaxBytes('A', 'ñ.ü', '', undefined));
  const e = writeRoutedMsgHeader(b, 0, 'A', 'ñ.ü', '', undefined, -1, 1234567);
  assert.equal(b.toString('utf8', 0, e), 'RMSG A ñ.ü 1234567\r\n');
});

test('full captured n1->route byte stream parses in its original TCP chunks', () => {
  const d = CAPTURE;
  const chunks = d.transcript.filter((t) => t.dir === 'n1->fake_route').map((t) => Buffer.from(t.hex, 'hex'));
  const { events, err } = parseAll(chunks);
  assert.equal(err, undefined);
  const ops = events.map((e) => e[0]);
  const want = d.server_frames.map((f) => (f.op === 'RS+' ? 'SUB' : f.op === 'RS-' ? 'UNSUB' : f.op === 'RMSG' || f.op === 'HMSG' ? 'MSG' : f.op));
  assert.deepEqual(ops, want);
  const info = events[0]![1] as Record<string, unknown>;
  assert.equal(info.server_name, 'n1');
  assert.equal(info.cluster, 'C1');
  // the fake peer's own stream (CONNECT, INFO, RS+, PING, RS-, RMSG, HMSG) too
  const back = d.transcript.filter((t) => t.dir === 'fake_route->n1').map((t) => Buffer.from(t.hex, 'hex'));
  const r = parseAll(back);
  assert.equal(r.err, undefined);
  assert.deepEqual(r.events.map((e) => e[0]), ['CONNECT', 'INFO', 'PONG', 'SUB', 'SUB', 'PING', 'UNSUB', 'MSG', 'MSG']);
});

// ---- leaf mode: the leaf-node protocol (no account, no origin) ----

const LEAF = { leaf: true };

test('leaf mode decodes LS+/LS-/LMSG/HMSG as nats-server 2.9.10 writes them on a leaf connection', () => {
  const input = 'LS+ foo.>\r\nLS+ work q 2\r\nls-\tfoo.>\r\nLS- work q\r\n'
    + 'LMSG a.b 3\r\nabc\r\nLMSG a.b r.1 1\r\nx\r\nLMSG a.b + r.2 q1 q2 1\r\ny\r\nLMSG a.b | q1 1\r\nz\r\n'
    + 'HMSG h.s 12 14\r\nNATS/1.0\r\n\r\nhi\r\nHMSG h.s + rep q 12 14\r\nNATS/1.0\r\n\r\nhi\r\n';
  const { events, err } = parseAll([Buffer.from(input)], LEAF);
  assert.equal(err, undefined);
  assert.deepEqual(events, [
    ['SUB', '', 'foo.>', undefined, 0, undefined],
    ['SUB', '', 'work', 'q', 2, undefined],
    ['UNSUB', '', 'foo.>', undefined, true],
    ['UNSUB', '', 'work', 'q', true],
    ['MSG', '', 'a.b', '', undefined, -1, 'abc', undefined],
    ['MSG', '', 'a.b', 'r.1', undefined, -1, 'x', undefined],
    ['MSG', '', 'a.b', 'r.2', ['q1', 'q2'], -1, 'y', undefined],
    ['MSG', '', 'a.b', '', ['q1'], -1, 'z', undefined],
    ['MSG', '', 'h.s', '', undefined, 12, 'NATS/1.0\r\n\r\nhi', undefined],
    ['MSG', '', 'h.s', 'rep', ['q'], 12, 'NATS/1.0\r\n\r\nhi', undefined],
  ]);
});

test('leaf mode: every split point gives the same events; RS+/RMSG are unknown ops; bad args close silently', () => {
  const all = Buffer.from('LS+ foo q 3\r\nLMSG foo + r q 2\r\nhi\r\nHMSG bar r 12 12\r\nNATS/1.0\r\n\r\n\r\nPING\r\n');
  const want = parseAll([all], LEAF).events;
  assert.equal(want.length, 4);
  for (let cut = 1; cut < all.length; cut++) {
    assert.deepEqual(parseAll([all.subarray(0, cut), all.subarray(cut)], LEAF).events, want, `cut at ${cut}`);
  }
  for (const bad of ['RS+ $G foo\r\n', 'RMSG $G foo 1\r\nx\r\n', 'RS- $G foo\r\n']) {
    const { err } = parseAll([Buffer.from(bad)], LEAF);
    assert.equal(err?.errText, 'Unknown Protocol Operation', bad);
  }
  for (const [bad, text] of [
    ['LS+ a b\r\n', "processLeafSub Parse Error: 'a b'"],
    ['LS- a b c\r\n', "processLeafUnsub parse error: 'a b c'"],
    ['LMSG a\r\n', "processLeafMsgArgs Parse Error: 'a'"],
    ['LMSG a x\r\n', "processLeafMsgArgs Bad or Missing Size: 'a x'"],
    ['HMSG a 1\r\n', "processLeafHeaderMsgArgs Parse Error: 'a 1'"],
    ['HMSG a 5 4\r\n', "processLeafHeaderMsgArgs Header Size larger then TotalSize: 'a 5 4'"],
    ['LMSG a * q 1\r\n', "processLeafMsgArgs Bad or Missing Reply Indicator: 'a * q 1'"],
  ] as const) {
    const { err } = parseAll([Buffer.from(bad)], LEAF);
    assert.equal(err?.errText, undefined, bad);
    assert.equal(err?.message, text, bad);
  }
  // as nats-server, a queue weight that is not a number is taken (as one member), not an error
  assert.deepEqual(parseAll([Buffer.from('LS+ a b notanumber\r\n')], LEAF).events, [['SUB', '', 'a', 'b', 1, undefined]]);
});

test('leaf encoders and the RouteOutbound leaf frame write the bytes the leaf parser reads back', () => {
  assert.equal(encodeLeafSub('foo.>', undefined, 0), 'LS+ foo.>\r\n');
  assert.equal(encodeLeafSub('work', 'q', 3), 'LS+ work q 3\r\n');
  assert.equal(encodeLeafUnsub('work', 'q'), 'LS- work q\r\n');
  assert.equal(encodeLeafUnsub('foo', undefined), 'LS- foo\r\n');
  const b = Buffer.alloc(128);
  const n = writeRoutedMsgHead(b, 0, null, Buffer.from('a.b'), Buffer.from('r'), ['q1'], 0, 5);
  assert.equal(b.toString('latin1', 0, n), 'LMSG a.b + r q1 5\r\n');
  const out = new RouteOutbound();
  out.writeMsg(null, Buffer.from('a.b'), null, null, 0, Buffer.from('hello'));
  out.writeMsg(null, Buffer.from('a.b'), Buffer.from('r'), null, 12, Buffer.from('NATS/1.0\r\n\r\nhi'));
  const big = Buffer.alloc(20_000, 120);
  out.writeMsg(null, Buffer.from('big'), null, ['g'], 0, big);
  out.writeMsg(Buffer.from('$G'), Buffer.from('a.b'), null, null, 0, Buffer.from('x'));
  const wire = Buffer.concat(out.take()!);
  assert.ok(wire.toString('latin1').startsWith('LMSG a.b 5\r\nhello\r\nHMSG a.b r 12 14\r\nNATS/1.0\r\n\r\nhi\r\nLMSG big | g 20000\r\nxxx'));
  assert.ok(wire.toString('latin1').endsWith('RMSG $G a.b 1\r\nx\r\n'));
  const leaf = parseAll([wire.subarray(0, wire.length - 'RMSG $G a.b 1\r\nx\r\n'.length)], LEAF);
  assert.equal(leaf.err, undefined);
  assert.deepEqual(leaf.events.map((e) => [e[2], e[3], e[4], e[5], (e[6] as string).length]), [
    ['a.b', '', undefined, -1, 5], ['a.b', 'r', undefined, 12, 14], ['big', '', ['g'], -1, 20_000],
  ]);
});
