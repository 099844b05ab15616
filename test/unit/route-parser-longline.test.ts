// Route control lines have no 64 KB cap (nats-server has none on routes): an RMSG
// listing thousands of long queue groups arrives over many reads and is joined in
// linear time; the parser's own bound still refuses a line that outgrows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RouteParser, type RouteProtocolHandler } from '../../src/protocol/route-parser.js';
import { ROUTE_MAX_CONTROL_LINE } from '../../src/cluster/route-conn.js';

function handler(msgs: { subject: string; queues: string[] | undefined; data: string }[]): RouteProtocolHandler {
  const none = (): void => {};
  return {
    onInfo: none, onConnect: none, onPing: none, onPong: none, onOk: none, onErr: none,
    onRemoteSub: none, onRemoteUnsub: none,
    onRoutedMsg: (m, data) => { msgs.push({ subject: m.subject, queues: m.queues, data: data.toString() }); },
  };
}

const queues = Array.from({ length: 3000 }, (_, i) => `${'q'.repeat(100)}${i}`);
const frame = Buffer.from(`RMSG $G long.subject | ${queues.join(' ')} 5\r\nhello\r\n`);

test('a 300 KB RMSG line split over many reads (and bytes) is decoded', () => {
  assert.ok(frame.length > 300_000);
  for (const step of [1, 7, 1024, 65_536]) {
    const msgs: { subject: string; queues: string[] | undefined; data: string }[] = [];
    const p = new RouteParser(handler(msgs), { maxControlLineBytes: ROUTE_MAX_CONTROL_LINE });
    for (let i = 0; i < frame.length; i += step) assert.equal(p.parse(frame.subarray(i, i + step)), undefined, `step ${step}`);
    assert.equal(msgs.length, 1, `step ${step}`);
    assert.equal(msgs[0]!.subject, 'long.subject');
    assert.deepEqual(msgs[0]!.queues, queues);
    assert.equal(msgs[0]!.data, 'hello');
  }
});

test('the bound still holds for a line arriving in pieces, and a bad op is still found early', () => {
  const p = new RouteParser(handler([]), { maxControlLineBytes: 100_000 });
  let err;
  for (let i = 0; i < frame.length && err === undefined; i += 4096) err = p.parse(frame.subarray(i, i + 4096));
  assert.equal(err?.errText, 'maximum control line exceeded');

  const bad = new RouteParser(handler([]), { maxControlLineBytes: ROUTE_MAX_CONTROL_LINE });
  assert.equal(bad.parse(Buffer.from('R')), undefined);
  assert.equal(bad.parse(Buffer.from('Z garbage'))?.errText, 'Unknown Protocol Operation');
});
