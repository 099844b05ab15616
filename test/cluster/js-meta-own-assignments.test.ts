// The assignment map's conversion to and from nats-server's bytes: entries and snapshots
// round-trip, Go's escaping is what goes into the log, and bad input is an error value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MetaAssignments, MetaOp, decodeMetaEntry, encodeConsumerEntry, encodeStreamEntry,
  type ConsumerAssignment, type StreamAssignment,
} from '../../src/jetstream/cluster/assignments.js';

const sa: StreamAssignment = {
  client: { acc: 'APP', server: 'n1', cluster: 'C1' },
  created: '2026-12-06T20:00:00.123456789Z',
  stream: { name: 'ORDERS', subjects: ['orders.>'], retention: 'limits', num_replicas: 1 },
  group: { name: 'S-R1F-abcdefgh', peers: ['fjFyEjc1'], store: 'file', cluster: 'C1', preferred: 'fjFyEjc1' },
  sync: '$JSC.SYNC.12345678',
  subject: '$JS.API.STREAM.CREATE.ORDERS',
  reply: '_INBOX.x.1',
};
const ca: ConsumerAssignment = {
  client: { acc: 'APP' }, created: '2026-12-06T20:00:01Z', name: 'D', stream: 'ORDERS',
  consumer: { durable_name: 'D', ack_policy: 'explicit', name: 'D' },
  group: { name: 'C-R1F-abcdefgh', peers: ['fjFyEjc1'], store: 'file' },
  subject: '$JS.API.CONSUMER.CREATE.ORDERS.D', reply: '_INBOX.x.2',
};

test('meta entries: assign/update/remove stream and assign/remove consumer round-trip in nats-server form', () => {
  const bytes = encodeStreamEntry(MetaOp.assignStream, sa);
  assert.equal(bytes[0], 0);
  const text = bytes.subarray(1).toString();
  assert.ok(text.endsWith('}\n'), 'assignments end with a newline');
  assert.ok(text.includes('"subjects":["orders.\\u003e"]'), `Go escapes ">" in the log: ${text}`);
  assert.ok(text.startsWith('{"client":{"acc":"APP","server":"n1","cluster":"C1"},"created":'), text);
  for (const op of [MetaOp.assignStream, MetaOp.updateStream, MetaOp.removeStream]) {
    const d = decodeMetaEntry(encodeStreamEntry(op, sa));
    assert.ok(!('error' in d), JSON.stringify(d));
    assert.equal(d.op, op);
    assert.deepEqual((d as { sa: StreamAssignment }).sa, sa);
  }
  for (const op of [MetaOp.assignConsumer, MetaOp.removeConsumer]) {
    const d = decodeMetaEntry(encodeConsumerEntry(op, ca));
    assert.ok(!('error' in d), JSON.stringify(d));
    assert.equal(d.op, op);
    assert.deepEqual((d as { ca: ConsumerAssignment }).ca, ca);
  }
});

test('meta entries: malformed input is an error value, never an exception', () => {
  const bad: Buffer[] = [
    Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 0x7b]), Buffer.from([200, 1, 2]),
    Buffer.concat([Buffer.from([0]), Buffer.from('{"client":{"acc":"A"},"stream":{}}\n')]),
    Buffer.concat([Buffer.from([1]), Buffer.from('{"name":"x"}')]),
    Buffer.concat([Buffer.from([9]), Buffer.from('not s2')]),
    Buffer.concat([Buffer.from([2]), Buffer.from('[1,2,3]')]),
  ];
  for (const b of bad) {
    const d = decodeMetaEntry(b);
    assert.ok('error' in d, `rejected: ${b.toString('hex')}`);
  }
});

test('meta snapshot: the whole map round-trips through S2; an empty map is an empty snapshot; garbage is refused', () => {
  const m = new MetaAssignments();
  assert.equal(m.toSnapshot().length, 0);
  m.setStream(sa);
  m.setConsumer(ca);
  m.setStream({ ...sa, stream: { ...sa.stream, name: 'OTHER', subjects: ['o.>'] }, group: { ...sa.group, name: 'S-R1F-zzzzzzzz' } });
  const snap = m.toSnapshot();
  assert.ok(snap.length > 0);
  const warnings: string[] = [];
  const back = MetaAssignments.fromSnapshot(snap, (w) => warnings.push(w));
  assert.deepEqual(warnings, []);
  // Snapshots carry no request subject/reply and only acc/svc/cluster of the client (nats-server's writeable form).
  assert.deepEqual(back.stream('APP', 'ORDERS')!.sa, { ...sa, client: { acc: 'APP', cluster: 'C1' }, subject: '', reply: '' });
  assert.deepEqual(back.stream('APP', 'ORDERS')!.consumers.get('D'), { ...ca, client: { acc: 'APP' }, subject: '', reply: '' });
  assert.equal(back.streamsOf('APP').length, 2);
  assert.throws(() => MetaAssignments.fromSnapshot(Buffer.from('definitely not s2'), () => {}));
  assert.equal(MetaAssignments.fromSnapshot(Buffer.alloc(0), () => {}).streamsOf('APP').length, 0);
});

test('meta state: a removal for an older incarnation of a name leaves the newer one', () => {
  const m = new MetaAssignments();
  m.setStream(sa);
  const older = { ...sa, created: '2026-12-06T19:00:00Z', group: { ...sa.group, name: 'S-R1F-oldoldol' } };
  assert.equal(m.removeStream('APP', 'ORDERS', older), undefined);
  assert.ok(m.stream('APP', 'ORDERS'));
  m.setConsumer(ca);
  assert.equal(m.removeConsumer({ ...ca, created: '2026-12-06T19:00:00Z', group: { ...ca.group, name: 'C-R1F-oldoldol' } }), undefined);
  assert.ok(m.stream('APP', 'ORDERS')!.consumers.has('D'));
  assert.ok(m.removeConsumer(ca));
  assert.ok(m.removeStream('APP', 'ORDERS', sa));
  assert.equal(m.stream('APP', 'ORDERS'), undefined);
});
