// RoutedDeliverSubject rewrites a JetStream delivery for a route: the matched subject (the pull
// inbox) as the RMSG subject, `<ack reply>@<shown subject>` as its reply. The inbox bytes are kept
// between calls (one pull batch goes to one inbox), so a change of inbox must be noticed. The
// receiving side (takeRoutedReply) takes the parser's ranges apart without a view of the whole reply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoutedDeliverSubject, jsAckDeliverIdx, takeRoutedReply } from '../../src/cluster/js-deliver.js';
import { RouteParser, type RoutedMsgArgs } from '../../src/protocol/route-parser.js';
import { InboundMsg } from '../../src/core/types.js';
import { encodeName } from '../../src/protocol/names.js';

function delivery(inbox: string, shown: string, reply: string): InboundMsg {
  const m = new InboundMsg({ cid: 0, account: 'A', kind: 'internal' });
  m.subject = inbox;
  m.subjectBytes = Buffer.from(shown);
  m.reply = reply;
  m.replyBytes = Buffer.from(reply);
  return m;
}

test('routed deliveries to alternating inboxes carry each its own inbox and shown subject', () => {
  const r = new RoutedDeliverSubject();
  const cases: [string, string, string][] = [
    ['_INBOX.a.1', 'orders.new', '$JS.ACK.S.C.1.1.1.1700000000000000000.9'],
    ['_INBOX.a.1', 'orders.old', '$JS.ACK.S.C.1.2.2.1700000000000000000.8'],
    ['_INBOX.longer-inbox.22', 'x', '$JS.ACK.S.C.1.3.3.1700000000000000000.7'],
    ['_INBOX.b', 'orders.é', '$JS.ACK.S.C.1.4.4.1700000000000000000.6'],
    ['_INBOX.a.1', 'y.z', '$JS.ACK.S.C.1.5.5.1700000000000000000.5'],
    ['_INBOX.ü.1', 'y.z', '$JS.ACK.S.C.1.6.6.1700000000000000000.4'],
    ['_INBOX.a.1', 'y.z', '$JS.ACK.S.C.1.7.7.1700000000000000000.3'],
  ];
  for (const [inbox, shown, reply] of cases) {
    assert.ok(r.prepare(delivery(inbox, shown, reply)));
    assert.equal(r.subject.toString(), inbox);
    assert.equal(r.reply.toString(), `${reply}@${shown}`);
    assert.equal(jsAckDeliverIdx(r.reply), Buffer.byteLength(reply));
  }
  // A scratch buffer that had to grow still starts with the right inbox.
  const long = `_INBOX.${'q'.repeat(3000)}`;
  assert.ok(r.prepare(delivery(long, 'big', '$JS.ACK.S.C.1.8.8.1.0')));
  assert.equal(r.subject.toString(), long);
  assert.ok(r.prepare(delivery('_INBOX.a.1', 'small', '$JS.ACK.S.C.1.9.9.1.0')));
  assert.equal(r.subject.toString(), '_INBOX.a.1');
  assert.equal(r.reply.toString(), '$JS.ACK.S.C.1.9.9.1.0@small');
  // Without a reply only the subject is rewritten.
  const noReply = delivery('_INBOX.c', 'shown', '');
  noReply.replyBytes = null;
  assert.ok(r.prepare(noReply));
  assert.equal(r.subject.toString(), '_INBOX.c');
  assert.equal(r.reply.length, 0);
});

test('routed deliveries of one batch: the reply view is reused only while it has the same place and length', () => {
  const r = new RoutedDeliverSubject();
  const seen: Buffer[] = [];
  for (let seq = 10; seq < 13; seq++) {
    const reply = `$JS.ACK.S.C.1.${seq}.${seq}.1700000000000000000.5`;
    assert.ok(r.prepare(delivery('_INBOX.batch', 'orders.new', reply)));
    assert.equal(r.reply.toString(), `${reply}@orders.new`);
    seen.push(r.reply);
  }
  assert.equal(seen[1], seen[0]);
  assert.equal(seen[2], seen[0]);
  // A longer reply, then a new inbox of another length (the reply moves in the scratch buffer).
  assert.ok(r.prepare(delivery('_INBOX.batch', 'orders.new', '$JS.ACK.S.C.1.100.100.1700000000000000000.5')));
  assert.notEqual(r.reply, seen[0]);
  assert.equal(r.reply.toString(), '$JS.ACK.S.C.1.100.100.1700000000000000000.5@orders.new');
  assert.ok(r.prepare(delivery('_INBOX.b2', 'orders.new', '$JS.ACK.S.C.1.101.101.1700000000000000000.5')));
  assert.equal(r.subject.toString(), '_INBOX.b2');
  assert.equal(r.reply.toString(), '$JS.ACK.S.C.1.101.101.1700000000000000000.5@orders.new');
  // A delivery without a shown-subject rewrite of the reply in between, then the batch again.
  const noReply = delivery('_INBOX.b2', 'shown', '');
  noReply.setReplyBytes(null);
  assert.ok(r.prepare(noReply));
  assert.equal(r.reply.length, 0);
  assert.ok(r.prepare(delivery('_INBOX.b2', 'orders.new', '$JS.ACK.S.C.1.102.102.1700000000000000000.5')));
  assert.equal(r.reply.toString(), '$JS.ACK.S.C.1.102.102.1700000000000000000.5@orders.new');
});

test('InboundMsg: a reply set by its bytes is decoded when read, names with invalid UTF-8 included', () => {
  const m = new InboundMsg({ cid: 0, account: 'A', kind: 'route' });
  assert.equal(m.reply, '');
  const scratch = Buffer.from('$JS.ACK.S.C.1.2.3.4.5');
  m.setReplyBytes(scratch);
  assert.equal(m.reply, '$JS.ACK.S.C.1.2.3.4.5');
  // Read once: the text stays even if the bytes' buffer is reused afterwards (the caller's rule
  // is that bytes are valid during delivery; a sink that read the text keeps a string).
  scratch[14] = 0x39;
  assert.equal(m.reply, '$JS.ACK.S.C.1.2.3.4.5');
  const bad = Buffer.from([0x72, 0x2e, 0xff, 0x2e, 0x78]);
  m.setReplyBytes(bad);
  assert.equal(Buffer.from(encodeName(m.reply)).compare(bad), 0);
  m.setReplyBytes(null);
  assert.equal(m.reply, '');
  assert.equal(m.replyBytes, null);
  m.reply = 'text.only';
  assert.equal(m.reply, 'text.only');
});

test('takeRoutedReply: what a route parser hands over, split at every byte, gives each message its shown subject and reply', () => {
  const frames: { line: string; subject: string; shown: string; reply: string }[] = [
    // A routed JetStream delivery: shown with the subject after '@', the ack reply before it.
    { line: 'RMSG $G _INBOX.p.1 $JS.ACK.S.C.1.7.7.1700000000000000000.3@orders.new 3', subject: '_INBOX.p.1', shown: 'orders.new', reply: '$JS.ACK.S.C.1.7.7.1700000000000000000.3' },
    { line: 'RMSG $G _INBOX.p.1 $JS.ACK.S.C.1.8.8.1700000000000000000.2@orders.é 3', subject: '_INBOX.p.1', shown: 'orders.é', reply: '$JS.ACK.S.C.1.8.8.1700000000000000000.2' },
    // Acks: a new subject each, no reply.
    { line: 'RMSG $G $JS.ACK.S.C.1.7.7.1700000000000000000.3 3', subject: '$JS.ACK.S.C.1.7.7.1700000000000000000.3', shown: '$JS.ACK.S.C.1.7.7.1700000000000000000.3', reply: '' },
    { line: 'RMSG $G $JS.ACK.S.C.1.8.8.1700000000000000000.2 3', subject: '$JS.ACK.S.C.1.8.8.1700000000000000000.2', shown: '$JS.ACK.S.C.1.8.8.1700000000000000000.2', reply: '' },
    // A plain subject three times (kept as one Buffer from the second on), with and without a reply.
    { line: 'RMSG $G plain.ü r.1 3', subject: 'plain.ü', shown: 'plain.ü', reply: 'r.1' },
    { line: 'RMSG $G plain.ü 3', subject: 'plain.ü', shown: 'plain.ü', reply: '' },
    { line: 'RMSG $G plain.ü + r.2 q1 3', subject: 'plain.ü', shown: 'plain.ü', reply: 'r.2' },
    // An '@' that is not after the ack's eighth dot stays in the reply.
    { line: `RMSG $G x.y $JS.ACK.S@C.1.1 3`, subject: 'x.y', shown: 'x.y', reply: '$JS.ACK.S@C.1.1' },
    { line: `RMSG $G ${'l'.repeat(300)} 3`, subject: 'l'.repeat(300), shown: 'l'.repeat(300), reply: '' },
  ];
  const wire = Buffer.from(frames.map((f) => `${f.line}\r\nabc\r\n`).join(''));
  for (const step of [wire.length, 1, 7]) {
    const seen: { subject: string; shown: Buffer; reply: string; replyBytes: string | null }[] = [];
    const msg = new InboundMsg({ cid: 1, account: '$G', kind: 'route' });
    const p = new RouteParser({
      onInfo() {}, onConnect() {}, onPing() {}, onPong() {}, onOk() {}, onErr() {}, onRemoteSub() {}, onRemoteUnsub() {},
      onRoutedMsg(args: RoutedMsgArgs, data: Buffer) {
        assert.equal(data.toString(), 'abc');
        msg.subject = args.subject;
        takeRoutedReply(msg, args);
        seen.push({ subject: msg.subject, shown: msg.subjectBytes, reply: msg.reply, replyBytes: msg.replyBytes === null ? null : msg.replyBytes.toString() });
      },
    });
    for (let i = 0; i < wire.length; i += step) assert.equal(p.parse(wire.subarray(i, Math.min(wire.length, i + step))), undefined);
    assert.equal(seen.length, frames.length);
    frames.forEach((f, i) => {
      const s = seen[i]!;
      assert.equal(s.subject, f.subject, `step ${step} frame ${i}`);
      assert.deepEqual(s.shown, encodeName(f.shown), `step ${step} frame ${i}`);
      assert.equal(s.reply, f.reply);
      assert.equal(s.replyBytes, f.reply === '' ? null : f.reply);
    });
    assert.equal(seen[5]!.shown, seen[6]!.shown, 'a repeated subject is one Buffer');
  }
});
