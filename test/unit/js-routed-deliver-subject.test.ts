// RoutedDeliverSubject rewrites a JetStream delivery for a route: the matched subject (the pull
// inbox) as the RMSG subject, `<ack reply>@<shown subject>` as its reply. The inbox bytes are kept
// between calls (one pull batch goes to one inbox), so a change of inbox must be noticed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoutedDeliverSubject, jsAckDeliverIdx } from '../../src/cluster/js-deliver.js';
import { InboundMsg } from '../../src/core/types.js';

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
