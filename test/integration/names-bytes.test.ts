// Subjects, queue names and sids are opaque bytes (issue 13): a name holding
// invalid UTF-8 must neither match a different name nor come back altered.
// Every case runs against tsnats and nats-server 2.9.10 with the same bytes,
// and the transcripts must be equal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import { spawnTsnats, spawnNatsServer, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { decodeName, encodeName, nameByteLength, writeName } from '../../src/protocol/names.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** The bytes each server delivers to one subscriber session, in order. */
async function transcript(server: ChildServer): Promise<string> {
  const c = await RawClient.connect(server.port);
  try {
    await c.readLine();
    c.send(connectLine({ headers: true }));
    // Two subjects differing only in an invalid byte, a sid with invalid bytes,
    // two queue groups differing only in an invalid byte, a valid multi-byte name.
    c.send(b('SUB t.\xff 1\r\nSUB t.\xfe 2\r\nSUB t.* 3\r\n'));
    c.send(b('SUB s.x \xff\xc3(\r\nSUB s.y g\xff 9\r\n'));
    c.send(b('SUB q.x g\xff 5\r\nSUB q.x g\xfe 6\r\n'));
    c.send(Buffer.concat([b('SUB '), Buffer.from('u.\u00fc'), b(' 7\r\n')]));
    await c.flushPing();
    c.send(b('PUB t.\xff 1\r\nA\r\nPUB t.\xfe 1\r\nB\r\nPUB t.\xef\xbf\xbd 1\r\nC\r\n'));
    c.send(b('PUB s.x r.\xf0\x90 1\r\nD\r\n'));
    c.send(b('PUB q.x 1\r\nE\r\nPUB s.y 1\r\nH\r\n'));
    c.send(Buffer.concat([b('PUB '), Buffer.from('u.\u00fc'), b(' 1\r\nF\r\nPUB u.\xfc 1\r\nG\r\n')]));
    const got = await c.flushPing();
    // Queue-group deliveries carry no order guarantee between the two groups: sort lines.
    return got.split(/(?<=\r\n)(?=MSG )/).sort().join('');
  } finally {
    c.close();
  }
}

const EXPECTED = [
  'MSG q.x 5 1\r\nE\r\n',
  'MSG q.x 6 1\r\nE\r\n',
  'MSG s.x \xff\xc3( r.\xf0\x90 1\r\nD\r\n',
  'MSG s.y 9 1\r\nH\r\n',
  'MSG t.\xef\xbf\xbd 3 1\r\nC\r\n',
  'MSG t.\xfe 2 1\r\nB\r\n',
  'MSG t.\xfe 3 1\r\nB\r\n',
  'MSG t.\xff 1 1\r\nA\r\n',
  'MSG t.\xff 3 1\r\nA\r\n',
  'MSG u.\xc3\xbc 7 1\r\nF\r\n',
].join('');

test('tsnats keeps invalid UTF-8 names as sent (no cross-matching, exact echo)', async (t) => {
  const s = await spawnTsnats([]);
  t.after(() => s.stop());
  assert.equal(JSON.stringify(await transcript(s)), JSON.stringify(EXPECTED));
});

test('nats-server 2.9.10 delivers the same bytes', { skip: natsServerSkip() }, async (t) => {
  const s = await spawnNatsServer([]);
  t.after(() => s.stop());
  assert.equal(JSON.stringify(await transcript(s)), JSON.stringify(EXPECTED));
});

test('decodeName/encodeName round-trip every byte string and stay injective', () => {
  let seed = 7;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed / 2 ** 32; };
  const seen = new Map<string, string>();
  for (let i = 0; i < 20000; i++) {
    const n = Math.floor(rnd() * 8);
    const bytes = Buffer.from(Array.from({ length: n }, () => (rnd() < 0.3 ? 0x61 : Math.floor(rnd() * 256))));
    const s = decodeName(bytes, 0, bytes.length);
    assert.deepEqual(encodeName(s), bytes, `round trip of ${bytes.toString('hex')}`);
    assert.equal(nameByteLength(s), bytes.length);
    const out = Buffer.alloc(bytes.length + 4);
    assert.equal(writeName(out, 2, s), 2 + bytes.length);
    assert.deepEqual(out.subarray(2, 2 + bytes.length), bytes);
    const hex = bytes.toString('hex');
    const other = seen.get(s);
    assert.ok(other === undefined || other === hex, `${hex} and ${other} decode to the same name`);
    seen.set(s, hex);
  }
  // Valid UTF-8 decodes as ordinary text (so JSON-configured names still match).
  assert.equal(decodeName(Buffer.from('a.\u00fc.\u{1f600}'), 0, Buffer.byteLength('a.\u00fc.\u{1f600}')), 'a.\u00fc.\u{1f600}');
});

test('routes carry invalid UTF-8 names byte for byte in both directions', async (t) => {
  const { startTestServer } = await import('../helpers/server.js');
  const h = await startTestServer({
    cluster: { name: 'C1', host: '127.0.0.1', port: 0, routes: [], noAdvertise: true, connectRetries: 0 },
  } as never, t);
  const route = await RawClient.connect(h.clusterPort!);
  t.after(() => route.close());
  await route.readLine(); // INFO
  const id = 'NRAWROUTEPEER0000000000000000000000000000000000000000000X';
  route.send(`CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"${id}","cluster":"C1","lnoc":true}\r\n`);
  route.send(`INFO {"server_id":"${id}","server_name":"raw","version":"2.9.10","proto":2,"host":"127.0.0.1","port":1,"headers":true,"max_payload":1048576,"cluster":"C1","lnoc":true}\r\n`);
  route.send(b('RS+ $G r.\xff\r\nRS+ $G r.q g\xfe 1\r\n'));
  const c = await RawClient.connect(h.port);
  t.after(() => c.close());
  await c.readLine();
  c.send(connectLine({ headers: true }));
  c.send(b('SUB l.\xfe 1\r\n'));
  await c.flushPing();
  await route.waitFor('RS+ $G l.\xfe\r\n'); // local interest reaches the route with its bytes
  route.clear();
  // Local publishes: only the exact subject crosses; the queue name comes back as sent.
  c.send(b('PUB r.\xfe 1\r\nX\r\nPUB r.\xff 1\r\nA\r\nPUB r.q 1\r\nQ\r\n'));
  const sent = await route.waitFor((x) => x.includes('Q\r\n'));
  assert.equal(sent.replace(/PING\r\n|PONG\r\n/g, ''), 'RMSG $G r.\xff 1\r\nA\r\nRMSG $G r.q | g\xfe 1\r\nQ\r\n');
  // A routed message for l.\xfe reaches the local subscriber byte for byte; l.\xff does not.
  route.send(b('RMSG $G l.\xff 1\r\nN\r\nRMSG $G l.\xfe re.\xc3 1\r\nY\r\n'));
  const got = await c.waitFor('Y\r\n');
  assert.equal(got, 'MSG l.\xfe 1 re.\xc3 1\r\nY\r\n');
});

test('a JetStream pull consumer delivers a stored message under the exact subject bytes', async (t) => {
  const { startTestServer } = await import('../helpers/server.js');
  const h = await startTestServer({ jetstream: { enabled: true } } as never, t);
  const c = await RawClient.connect(h.port);
  t.after(() => c.close());
  await c.readLine();
  c.send(connectLine({ headers: true }));
  c.send('SUB _INBOX.fz 1\r\n');
  const create = (subj: string, body: string): void => { c.send(`PUB ${subj} _INBOX.fz ${Buffer.byteLength(body)}\r\n${body}\r\n`); };
  create('$JS.API.STREAM.CREATE.B', '{"name":"B","subjects":["b.>"],"storage":"memory"}');
  await c.waitFor('stream_create_response');
  create('$JS.API.CONSUMER.DURABLE.CREATE.B.D', '{"stream_name":"B","config":{"durable_name":"D","ack_policy":"none"}}');
  await c.waitFor('consumer_create_response');
  c.send(b('PUB b.\xff.\xfe _INBOX.fz 1\r\nZ\r\n'));
  await c.waitFor('"seq":1');
  c.clear();
  c.send('PUB $JS.API.CONSUMER.MSG.NEXT.B.D _INBOX.fz 1\r\n1\r\n');
  const got = await c.waitFor('Z\r\n');
  assert.match(got, /^MSG b\.\xff\.\xfe 1 \$JS\.ACK\.B\.D\.1\.1\.1\.\d+\.0 1\r\nZ\r\n$/);
});
