// Pure wire pieces of consumers: ack subjects, pull request parsing, status
// headers (compared with bytes captured from nats-server 2.9.10 in
// test/fixtures/vectors/client/js_pull_*.json), Go duration/time renderings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AckReplyWriter, ackPrefix, ackSubscription, encodeAckSubject, parseAckSubject, BAD_NUM,
} from '../../src/jetstream/consumer/ack-subject.js';
import {
  parsePullRequest, requestTimeout, idleHeartbeat, STATUS_NO_MESSAGES, STATUS_CONSUMER_DELETED,
  statusHeader, messageSizeExceedsMaxBytes, headersOnly, badRequest,
} from '../../src/jetstream/consumer/pull-request.js';
import {
  formatGoDuration, parseGoDuration, parseRfc3339, formatGoTime, formatRfc3339Nano,
} from '../../src/jetstream/consumer/go-format.js';
import { readVectorJson } from '../helpers/vectors.js';

/** Header blocks of the status messages nats-server 2.9.10 sent in one captured pull case. */
function capturedHeaders(name: string): string[] {
  const v = readVectorJson<{ server_frames: { op: string; header_text?: string }[] }>('client', `${name}.json`);
  const hs = v.server_frames.filter((f) => f.op === 'HMSG').map((f) => f.header_text!);
  assert.ok(hs.length > 0, `${name}: no HMSG captured`);
  return hs;
}

/** The reply subject of the captured pull delivery. */
function capturedAckReply(): string {
  return readVectorJson<{ response: { reply: string } }>('jsapi', 'js_pull_msg_delivery.json').response.reply;
}

test('ack subject round trip matches the captured 2.9.10 delivery', () => {
  // js_pull_msg_delivery.json: the first delivery of stream T3's message 1 to consumer D1
  const s = encodeAckSubject(ackPrefix('T3', 'D1'), 1, 1, 1, 1795738563295351080n, 1);
  assert.equal(s, capturedAckReply());
  const info = parseAckSubject('$JS.ACK.ORDERS.C1.2.7.9.1795732728188044053.4');
  assert.deepEqual(info, { stream: 'ORDERS', consumer: 'C1', dc: 2, sseq: 7, dseq: 9, ts: '1795732728188044053', pending: 4 });
  assert.equal(ackSubscription('S', 'C'), '$JS.ACK.S.C.>');
});

test('AckReplyWriter writes the bytes of encodeAckSubject, reusing its view only while the length stays', () => {
  const w = new AckReplyWriter('T3', 'D1');
  assert.equal(w.write(1, 1, 1, 1795738563295351080n, 1).toString(), capturedAckReply());
  // Names are UTF-8 on the wire; numbers at their extremes; negative and zero timestamps.
  const cases: [string, string, number, number, number, bigint, number][] = [
    ['ORDERS', 'C1', 2, 7, 9, 1795732728188044053n, 4],
    ['strëam', 'cønsumer', 1, Number.MAX_SAFE_INTEGER, 10, 0n, 0],
    ['S', 'C', 999, 1, Number.MAX_SAFE_INTEGER, (1n << 63n) - 1n, Number.MAX_SAFE_INTEGER],
    ['S', 'C', 1, 2, 3, -(1n << 63n), 5],
  ];
  for (const [s, c, dc, sseq, dseq, ts, pending] of cases) {
    const writer = new AckReplyWriter(s, c);
    const got = writer.write(dc, sseq, dseq, ts, pending);
    assert.deepEqual(got, Buffer.from(encodeAckSubject(ackPrefix(s, c), dc, sseq, dseq, ts, pending), 'utf8'));
  }
  // Same length: the same view object with new contents; another length: a new view.
  const a = w.write(1, 100, 100, 5n, 7);
  const aText = a.toString();
  const b = w.write(1, 101, 101, 5n, 7);
  assert.equal(b, a);
  assert.equal(b.toString(), '$JS.ACK.T3.D1.1.101.101.5.7');
  assert.notEqual(aText, b.toString());
  const c = w.write(1, 1000, 1000, 5n, 7);
  assert.notEqual(c, b);
  assert.equal(c.toString(), '$JS.ACK.T3.D1.1.1000.1000.5.7');
});

test('ack subject parser accepts v2 form and rejects other shapes', () => {
  const v2 = parseAckSubject('$JS.ACK._.ACCHASH.S.C.3.10.5.123.0');
  assert.equal(v2?.stream, 'S');
  assert.equal(v2?.consumer, 'C');
  assert.equal(v2?.dc, 3);
  assert.equal(v2?.sseq, 10);
  assert.equal(v2?.dseq, 5);
  assert.equal(parseAckSubject('$JS.ACK.S.C.1.2.3.4'), undefined); // 8 tokens
  assert.equal(parseAckSubject('$JS.ACK.S.C.1.2.3.4.5.6'), undefined); // 10 tokens
  assert.equal(parseAckSubject('$JS.NAK.S.C.1.2.3.4.5'), undefined);
  assert.equal(parseAckSubject('$JS.ACK.S.C.x.2.3.4.5')?.dc, BAD_NUM);
});

test('pull request bodies: empty, integer, JSON, bad JSON, heartbeat too large', () => {
  assert.deepEqual(parsePullRequest(Buffer.from('')), { batch: 1, expiresNs: 0, maxBytes: 0, noWait: false, heartbeatNs: 0 });
  assert.equal((parsePullRequest(Buffer.from(' 5 ')) as { batch: number }).batch, 5);
  assert.equal((parsePullRequest(Buffer.from('abc')) as { batch: number }).batch, 1);
  assert.deepEqual(parsePullRequest(Buffer.from('{"batch":10,"expires":2500000000,"idle_heartbeat":1000000000,"max_bytes":100,"no_wait":true}')),
    { batch: 10, expiresNs: 2500000000, maxBytes: 100, noWait: true, heartbeatNs: 1000000000 });
  // Unknown fields are ignored (lenient decode in nats-server for pull requests).
  assert.equal((parsePullRequest(Buffer.from('{"batch":2,"bogus":1}')) as { batch: number }).batch, 2);
  assert.deepEqual(parsePullRequest(Buffer.from('{"batch":"x"}')),
    { error: 'json: cannot unmarshal string into Go struct field JSApiConsumerGetNextRequest.batch of type int' });
  assert.deepEqual(parsePullRequest(Buffer.from('{"batch":1,"idle_heartbeat":1000000000,"expires":1500000000}')),
    { error: 'heartbeat value too large' });
  assert.deepEqual(parsePullRequest(Buffer.from('{"batch":1,"idle_heartbeat":1000000000}')), { error: 'heartbeat value too large' });
  assert.deepEqual(parsePullRequest(Buffer.from('{"batch":1,"min_pending":3}')), { error: 'Not a Overflow Priority consumer' });
  assert.deepEqual(parsePullRequest(Buffer.from('{"batch":1,"priority":12}')), { error: 'Priority must be between 0 and 9' });
  assert.ok('error' in parsePullRequest(Buffer.from('{"batch":1')));
});

test('status headers are byte-identical to nats-server captures', () => {
  assert.deepEqual([STATUS_NO_MESSAGES.toString('latin1')], capturedHeaders('js_pull_404_no_messages'));
  // the request asked for a batch of 1 and got nothing: 1 message and 0 bytes still pending
  assert.deepEqual([requestTimeout(1, 0).toString('latin1')], capturedHeaders('js_pull_408_request_timeout'));
  // two heartbeats on an empty consumer, then the 408 at expiry
  const hb = idleHeartbeat(0, 0).toString('latin1');
  assert.deepEqual([hb, hb, requestTimeout(1, 0).toString('latin1')], capturedHeaders('js_pull_100_idle_heartbeat'));
  assert.deepEqual([STATUS_CONSUMER_DELETED.toString('latin1')], capturedHeaders('js_pull_409_consumer_deleted'));
  // the consumer was created with max_batch 2
  assert.deepEqual([statusHeader(409, 'Exceeded MaxRequestBatch of 2').toString('latin1')],
    capturedHeaders('js_pull_409_exceeded_max_request_batch'));
  assert.equal(messageSizeExceedsMaxBytes(3, 10).toString('latin1'),
    'NATS/1.0 409 Message Size Exceeds MaxBytes\r\nNats-Pending-Messages: 3\r\nNats-Pending-Bytes: 10\r\n\r\n');
  assert.equal(badRequest('heartbeat value too large').toString('latin1'), 'NATS/1.0 400 Bad Request - heartbeat value too large\r\n\r\n');
  assert.equal(idleHeartbeat(4, 9, '$JS.FC.S.C.abcd').toString('latin1'),
    'NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 4\r\nNats-Last-Stream: 9\r\nNats-Consumer-Stalled: $JS.FC.S.C.abcd\r\n\r\n');
});

test('headers_only keeps original headers and adds Nats-Msg-Size', () => {
  assert.equal(headersOnly(undefined, 5).toString(), 'NATS/1.0\r\nNats-Msg-Size: 5\r\n\r\n');
  const orig = Buffer.from('NATS/1.0\r\nA: b\r\n\r\n');
  assert.equal(headersOnly(orig, 0).toString(), 'NATS/1.0\r\nA: b\r\nNats-Msg-Size: 0\r\n\r\n');
});

test('Go duration formatting and parsing', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'], [1, '1ns'], [1500, '1.5µs'], [500_000_000, '500ms'], [1_000_000_000, '1s'],
    [1_500_000_000, '1.5s'], [90_000_000_000, '1m30s'], [3_600_000_000_000, '1h0m0s'],
    [3_723_000_000_000, '1h2m3s'], [-2_000_000_000, '-2s'], [100_000_000, '100ms'],
  ];
  for (const [ns, s] of cases) assert.equal(formatGoDuration(ns), s, `format ${ns}`);
  assert.equal(parseGoDuration('5s'), 5_000_000_000n);
  assert.equal(parseGoDuration('1m30s'), 90_000_000_000n);
  assert.equal(parseGoDuration('1.5s'), 1_500_000_000n);
  assert.equal(parseGoDuration('250ms'), 250_000_000n);
  assert.equal(parseGoDuration('-1h'), -3_600_000_000_000n);
  assert.equal(parseGoDuration('0'), 0n);
  assert.equal(parseGoDuration('5'), undefined);
  assert.equal(parseGoDuration('abc'), undefined);
  assert.equal(parseGoDuration(''), undefined);
});

test('RFC3339 times parse and render like Go', () => {
  const t = parseRfc3339('2024-01-02T03:04:05.123456789Z');
  assert.ok(t);
  assert.equal(formatGoTime(t), '2024-01-02T03:04:05.123456789Z');
  assert.equal(formatGoTime(parseRfc3339('2024-01-02T03:04:05.120Z')!), '2024-01-02T03:04:05.12Z');
  const off = parseRfc3339('2024-01-02T05:04:05+02:00')!;
  assert.equal(off.ns, parseRfc3339('2024-01-02T03:04:05Z')!.ns);
  assert.equal(formatGoTime(off), '2024-01-02T05:04:05+02:00');
  assert.equal(parseRfc3339('2024-13-02T03:04:05Z'), undefined);
  assert.equal(parseRfc3339('not a time'), undefined);
  assert.equal(formatRfc3339Nano(0n), '1970-01-01T00:00:00Z');
});
