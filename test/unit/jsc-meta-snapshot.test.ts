// Meta snapshots: the snapshots nats-server 2.9.10 wrote (S2 block of the assignment array),
// our encoding of the same state, and bad snapshots.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MetaCodecError, clientForSnapshot, makeConsumerAssignment, makeStreamAssignment, type StreamAssignmentWithConsumers,
} from '../../src/jetstream/cluster/meta-codec.js';
import {
  decodeMetaSnapshot, encodeMetaSnapshot, encodeMetaSnapshotJson,
} from '../../src/jetstream/cluster/meta-snapshot.js';
import { s2Decode, s2Encode } from '../../src/jetstream/cluster/s2.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import { decodeConsumerConfig } from '../../src/jetstream/consumer/config.js';
import { metaSnapshotFixtures } from '../fixtures/cluster/locate.js';

/** What a snapshot keeps of an assignment: reduced client, no request subject/reply/state. */
function asSnapshotted(list: StreamAssignmentWithConsumers[]): StreamAssignmentWithConsumers[] {
  return list.map((sa) => {
    const s = { ...sa, consumers: sa.consumers.map((ca) => {
      const c = { ...ca };
      if (c.client) c.client = clientForSnapshot(c.client);
      delete c.subject;
      delete c.reply;
      delete c.stateJson;
      return c;
    }) };
    if (s.client) s.client = clientForSnapshot(s.client);
    delete s.subject;
    delete s.reply;
    delete s.restoreStateJson;
    return s;
  });
}

const summary = (list: StreamAssignmentWithConsumers[]): string[] =>
  list.map((sa) => `${sa.config.name}:${sa.group.name}:${sa.consumers.map((c) => `${c.name}/${c.group.name}`).sort().join(',')}`).sort();

test('2.9.10 meta snapshots decode to the assignments that were created', () => {
  const files = metaSnapshotFixtures();
  const small = files.filter((f) => /-n\d\./.test(f.name));
  assert.equal(small.length, 3);
  const decoded = small.map((f) => decodeMetaSnapshot(f.data));
  // Three servers, one state (map iteration order differs, the content does not).
  assert.deepEqual(summary(decoded[1]!), summary(decoded[0]!));
  assert.deepEqual(summary(decoded[2]!), summary(decoded[0]!));

  const byName = new Map(decoded[0]!.map((sa) => [sa.config.name, sa]));
  assert.deepEqual([...byName.keys()].sort(), ['MEM', 'R1S', 'T3']);
  const t3 = byName.get('T3')!;
  assert.equal(t3.config.description, 'three <replicas> & more');
  assert.equal(t3.config.max_msgs, 1000);
  assert.equal(t3.config.num_replicas, 3);
  assert.equal(t3.group.peers.length, 3);
  assert.match(t3.sync, /^\$JSC\.SYNC\.[0-9A-Za-z]{8}$/);
  assert.equal(t3.subject, undefined, 'snapshots carry no request subject for streams');
  assert.deepEqual(t3.consumers.map((c) => c.name).sort(), ['D1', 'D2']);
  const d2 = t3.consumers.find((c) => c.name === 'D2')!;
  assert.equal(d2.stream, 'T3');
  assert.equal(d2.group.peers.length, 1, 'R1 consumer on an R3 stream');
  assert.equal(d2.config.ack_policy, 'none');
  assert.equal(d2.subject, '$JS.API.CONSUMER.CREATE.T3.D2', '2.9.10 kept the request subject in consumer entries');
  const mem = byName.get('MEM')!;
  assert.equal(mem.config.storage, 'memory');
  assert.equal(mem.group.store, 'memory');
  assert.match(mem.group.name, /^S-R1M-/);
  assert.equal(mem.config.max_age, 60_000_000_000);
  assert.deepEqual(mem.consumers, [], '"Consumers":null is no consumers');
  const p1 = byName.get('R1S')!.consumers[0]!;
  assert.equal(p1.config.deliver_subject, 'push.p1');
  assert.equal(p1.config.filter_subject, 'r1.a');
  for (const sa of decoded[0]!) assert.equal(sa.client!.acc, 'APP');

  const big = files.find((f) => f.name.includes('-big.'));
  assert.ok(big, 'large snapshot fixture present');
  const bigState = decodeMetaSnapshot(big.data);
  assert.equal(bigState.length, 403);
  const b7 = bigState.find((sa) => sa.config.name === 'BIG7')!;
  assert.equal(b7.config.max_msgs, 7);
  assert.equal(b7.config.description, 'stream number 7');
  assert.equal(bigState.filter((sa) => sa.config.name.startsWith('BIG') && sa.group.peers.length === 3).length, 134);
});

test('our snapshot of a decoded 2.9.10 state decodes to the same assignments (reduced as snapshots are)', () => {
  for (const f of metaSnapshotFixtures()) {
    const state = decodeMetaSnapshot(f.data);
    const ours = encodeMetaSnapshot(state);
    const again = decodeMetaSnapshot(ours);
    assert.deepEqual(again, asSnapshotted(state), f.name);
    // Raw configs survive byte for byte.
    assert.deepEqual(again.map((s) => s.configJson), state.map((s) => s.configJson));
  }
});

test('snapshot JSON shape: writeable assignments with a capitalised Consumers array', () => {
  const config = checkStreamConfig({ name: 'S', subjects: ['s.>'] }, { lookupStream: () => undefined });
  const sa = makeStreamAssignment({
    client: { acc: 'APP', server: 'n1', rtt: 10, cluster: 'C1', user: 'u' },
    created: '2026-12-06T20:00:00.5Z',
    config,
    group: { name: 'S-R1F-aaaaaaaa', peers: ['p1'], store: 'file', cluster: 'C1', preferred: 'p1' },
    sync: '$JSC.SYNC.bbbbbbbb',
    subject: '$JS.API.STREAM.CREATE.S',
    reply: '_INBOX.x',
  });
  const ca = makeConsumerAssignment({
    client: { acc: 'APP', server: 'n1' },
    created: '2026-12-06T20:00:01Z',
    name: 'C',
    stream: 'S',
    config: decodeConsumerConfig({ durable_name: 'C', ack_policy: 'explicit' }),
    group: { name: 'C-R1F-cccccccc', peers: ['p1'], store: 'file', cluster: 'C1' },
    subject: '$JS.API.CONSUMER.CREATE.S.C',
    reply: '_INBOX.y',
  });
  const state: StreamAssignmentWithConsumers[] = [{ ...sa, consumers: [ca] }, { ...sa, config: { ...config, name: 'T' }, configJson: sa.configJson.replace('"S"', '"T"'), consumers: [] }];
  const json = encodeMetaSnapshotJson(state);
  assert.ok(json.startsWith(`[{"client":{"acc":"APP","cluster":"C1"},"created":"2026-12-06T20:00:00.5Z","stream":${sa.configJson},"group":{"name":"S-R1F-aaaaaaaa","peers":["p1"],"store":"file","cluster":"C1","preferred":"p1"},"sync":"$JSC.SYNC.bbbbbbbb","Consumers":[{"client":{"acc":"APP"},"created":"2026-12-06T20:00:01Z","name":"C","stream":"S","consumer":{`));
  assert.ok(json.endsWith('"Consumers":[]}]'));
  assert.ok(!json.includes('_INBOX'), 'no reply subjects in snapshots');
  const buf = encodeMetaSnapshot(state);
  assert.deepEqual(s2Decode(buf).toString(), json);
  const back = decodeMetaSnapshot(buf);
  assert.deepEqual(back, asSnapshotted(state));
  assert.equal(back[1]!.config.name, 'T');
});

test('empty state is an empty snapshot; null decodes to nothing', () => {
  assert.equal(encodeMetaSnapshot([]).length, 0);
  assert.deepEqual(decodeMetaSnapshot(Buffer.alloc(0)), []);
  assert.deepEqual(decodeMetaSnapshot(s2Encode(Buffer.from('null'))), []);
  assert.deepEqual(decodeMetaSnapshot(s2Encode(Buffer.from('[]'))), []);
});

test('a consumer without a stream name takes its stream\'s (rehydration)', () => {
  const f = metaSnapshotFixtures()[0]!;
  const json = s2Decode(f.data).toString().replaceAll('"stream":"T3",', '');
  const state = decodeMetaSnapshot(s2Encode(Buffer.from(json)));
  const t3 = state.find((s) => s.config.name === 'T3')!;
  assert.deepEqual(t3.consumers.map((c) => c.stream), ['T3', 'T3']);
});

test('bad snapshots throw MetaCodecError', () => {
  const f = metaSnapshotFixtures()[0]!;
  const json = s2Decode(f.data).toString();
  const cases: Array<[string, Buffer, string]> = [
    ['corrupt compression', Buffer.from([0x10, 0xff, 0xff]), 'bad_compression'],
    ['truncated', f.data.subarray(0, f.data.length - 10), 'bad_compression'],
    ['not JSON', s2Encode(Buffer.from('[{"client":')), 'bad_json'],
    ['object, not array', s2Encode(Buffer.from('{"a":1}')), 'bad_json'],
    ['bad element', s2Encode(Buffer.from('[{"client":{"acc":"A"}}]')), 'bad_assignment'],
    ['Consumers not an array', s2Encode(Buffer.from(json.replace('"Consumers":null', '"Consumers":{}'))), 'bad_assignment'],
    ['bad consumer', s2Encode(Buffer.from(json.replace('"ack_policy":"explicit"', '"ack_policy":7'))), 'bad_assignment'],
  ];
  for (const [name, buf, code] of cases) {
    assert.throws(() => decodeMetaSnapshot(buf), (e: unknown) => e instanceof MetaCodecError && e.code === code, name);
  }
  // A header claiming a huge size is refused without allocating it.
  assert.throws(() => decodeMetaSnapshot(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00])),
    (e: unknown) => e instanceof MetaCodecError && e.code === 'bad_compression');
});

test('fuzz: mutated snapshots decode or throw MetaCodecError, nothing else', () => {
  const f = metaSnapshotFixtures().find((x) => x.name.includes('-n2.'))!;
  const json = s2Decode(f.data);
  let seed = 77;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  let decoded = 0;
  for (let i = 0; i < 1500; i++) {
    let buf: Buffer;
    if (i % 2) {
      // Damage the compressed bytes.
      buf = Buffer.from(f.data);
      buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
    } else {
      // Damage the JSON, then compress validly.
      const j = Buffer.from(json);
      for (let k = 0; k < 3; k++) j[Math.floor(rnd() * j.length)] = ' {}[]",:0a\\'.charCodeAt(Math.floor(rnd() * 11));
      buf = s2Encode(j);
    }
    try {
      decodeMetaSnapshot(buf);
      decoded++;
    } catch (e) {
      assert.ok(e instanceof MetaCodecError, `iteration ${i}: ${String(e)}`);
    }
  }
  assert.ok(decoded > 0, 'some mutations are harmless (e.g. inside a string)');
});
