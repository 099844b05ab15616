// Meta entries (op byte + assignment JSON) against the entries nats-server 2.9.10 put in its
// `_meta_` log, new assignments built from our configs, the compressed consumer op, and
// malformed entries (which must throw MetaCodecError so the caller can log and skip them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EntryOp, entryOpName, isMetaOp,
} from '../../src/jetstream/cluster/ops.js';
import {
  MetaCodecError, assignmentAccount, createdTime, clientForProposal, clientForSnapshot, createdNs, decodeMetaEntry,
  encodeMetaEntry, makeConsumerAssignment, makeStreamAssignment, withStreamConfig, type ConsumerAssignment,
  type StreamAssignment,
} from '../../src/jetstream/cluster/meta-codec.js';
import { s2Encode, s2StreamDecode } from '../../src/jetstream/cluster/s2.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import { decodeConsumerConfig } from '../../src/jetstream/consumer/config.js';
import { metaEntryFixtures } from '../fixtures/cluster/locate.js';

test('entry op codes have nats-server byte values 0..18', () => {
  const expected = [
    'assignStreamOp', 'assignConsumerOp', 'removeStreamOp', 'removeConsumerOp', 'streamMsgOp', 'purgeStreamOp',
    'deleteMsgOp', 'updateDeliveredOp', 'updateAcksOp', 'assignCompressedConsumerOp', 'updateSkipOp',
    'updateStreamOp', 'addPendingRequest', 'removePendingRequest', 'compressedStreamMsgOp', 'deleteRangeOp',
    'batchMsgOp', 'batchCommitMsgOp', 'resetSeqOp',
  ];
  expected.forEach((name, i) => {
    assert.equal((EntryOp as Record<string, number>)[name], i, name);
    assert.equal(entryOpName(i), name);
  });
  assert.equal(Object.keys(EntryOp).length, 19);
  assert.equal(entryOpName(19), 'unknown(19)');
  assert.deepEqual([...Array(19).keys()].filter(isMetaOp), [0, 1, 2, 3, 9, 11]);
});

test('2.9.10 meta entries: decode, then re-encode gives the same bytes', () => {
  const fx = metaEntryFixtures();
  for (const name of ['ae_meta_assign_stream_r1', 'ae_meta_assign_stream_r3', 'ae_meta_assign_consumer']) {
    const bytes = fx[name]!;
    assert.ok(bytes, name);
    const d = decodeMetaEntry(bytes);
    const again = encodeMetaEntry(d.op, (d.stream ?? d.consumer)!);
    assert.equal(again.toString('hex'), bytes.toString('hex'), name);
    assert.equal(again[again.length - 1], 0x0a, 'json.Encoder newline');
  }
  const r1 = decodeMetaEntry(fx.ae_meta_assign_stream_r1!);
  assert.equal(r1.op, EntryOp.assignStreamOp);
  const sa = r1.stream!;
  assert.equal(assignmentAccount(sa), 'APP');
  assert.deepEqual(sa.client, { acc: 'APP', rtt: 4926671, server: 'n2', cluster: 'C1' });
  assert.equal(sa.config.name, 'R1S');
  assert.deepEqual(sa.config.subjects, ['r1.>']);
  assert.equal(sa.config.num_replicas, 1);
  assert.equal(sa.config.max_msgs, -1);
  assert.equal(sa.config.duplicate_window, 120_000_000_000);
  assert.equal(sa.config.storage, 'file');
  assert.deepEqual(sa.group, { name: 'S-R1F-Q263792E', peers: ['fjFyEjc1'], store: 'file', cluster: 'C1', preferred: 'fjFyEjc1' });
  assert.equal(sa.sync, '$JSC.SYNC.SBGORelZ');
  assert.equal(sa.subject, '$JS.API.STREAM.CREATE.R1S');
  assert.equal(sa.reply, '_R_.AendjG.9QYfBM');
  assert.equal(sa.unsupported, undefined);
  assert.equal(createdNs(sa), 1795738558335068305n);
  assert.equal(createdTime(1795738558335068305n), sa.created, 'same text as Go for the same instant');
  assert.equal(createdTime(1795738559384776070n), '2026-11-27T00:15:59.38477607Z', 'trailing zeros trimmed');
  assert.match(createdTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);

  const r3 = decodeMetaEntry(fx.ae_meta_assign_stream_r3!).stream!;
  assert.deepEqual(r3.group.peers, ['fjFyEjc1', 'BXScrY9i', '44jzkV9D']);
  assert.equal(r3.group.preferred, 'BXScrY9i');
  assert.equal(r3.created, '2026-11-27T00:15:59.38477607Z');

  const c = decodeMetaEntry(fx.ae_meta_assign_consumer!);
  assert.equal(c.op, EntryOp.assignConsumerOp);
  const ca = c.consumer!;
  assert.equal(ca.name, 'D1');
  assert.equal(ca.stream, 'T3');
  assert.equal(ca.config.durable_name, 'D1');
  assert.equal(ca.config.ack_policy, 'explicit');
  assert.equal(ca.config.max_waiting, 512);
  assert.equal(ca.config.num_replicas, 0);
  assert.equal(ca.group.name, 'C-R3F-B8uz6d3E');
  assert.equal(ca.subject, '$JS.API.CONSUMER.CREATE.T3.D1');
});

function sampleStream(): StreamAssignment {
  const config = checkStreamConfig({ name: 'ORDERS', subjects: ['orders.>', 'a<b&c'], num_replicas: 3, max_msgs: 10 },
    { lookupStream: () => undefined, clustered: true });
  return makeStreamAssignment({
    client: clientForProposal({ acc: 'APP', user: 'a', rtt: 1234, server: 's1', cluster: 'C1', jwt: 'secret', issuer_key: 'K' }),
    created: '2026-12-06T19:00:00.123456789Z',
    config,
    group: { name: 'S-R3F-abcdEFGH', peers: ['p1', 'p2', 'p3'], store: 'file', cluster: 'C1', preferred: 'p2' },
    sync: '$JSC.SYNC.xyz12345',
    subject: '$JS.API.STREAM.CREATE.ORDERS',
    reply: '_INBOX.1',
  });
}

function sampleConsumer(): ConsumerAssignment {
  return makeConsumerAssignment({
    client: { acc: 'APP', svc: 'SVC' },
    created: '2026-12-06T19:00:01Z',
    name: 'D1',
    stream: 'ORDERS',
    config: decodeConsumerConfig({ durable_name: 'D1', ack_policy: 'explicit', ack_wait: 30_000_000_000, filter_subject: 'orders.>' }),
    group: { name: 'C-R3F-ijklMNOP', peers: ['p1', 'p2', 'p3'], store: 'memory', cluster: 'C1', preferred: 'p1' },
    subject: '$JS.API.CONSUMER.CREATE.ORDERS.D1',
    reply: '_INBOX.2',
  });
}

test('new assignments: every meta op round trips; JSON is in Go field order with Go escaping', () => {
  const sa = sampleStream();
  assert.equal(sa.client!.jwt, undefined, 'jwt stripped for proposals');
  for (const op of [EntryOp.assignStreamOp, EntryOp.updateStreamOp, EntryOp.removeStreamOp] as const) {
    const buf = encodeMetaEntry(op, sa);
    assert.equal(buf[0], op);
    const text = buf.subarray(1).toString();
    assert.ok(text.endsWith('}\n'));
    assert.match(text, /^\{"client":\{"acc":"APP","user":"a","rtt":1234,"server":"s1","cluster":"C1"\},"created":"2026-12-06T19:00:00.123456789Z","stream":\{"name":"ORDERS",/);
    assert.ok(text.includes('"a\\u003cb\\u0026c"'), 'Go HTML escaping in the config');
    assert.ok(text.includes(',"group":{"name":"S-R3F-abcdEFGH","peers":["p1","p2","p3"],"store":"file","cluster":"C1","preferred":"p2"},"sync":"$JSC.SYNC.xyz12345","subject":"$JS.API.STREAM.CREATE.ORDERS","reply":"_INBOX.1"}'));
    const d = decodeMetaEntry(buf);
    assert.equal(d.op, op);
    assert.deepEqual(d.stream!.config, sa.config);
    assert.deepEqual(d.stream, sa);
    assert.deepEqual(encodeMetaEntry(op, d.stream!), buf);
  }
  // Update with a new config re-renders the config JSON.
  const upd = withStreamConfig(sa, { ...sa.config, max_msgs: 99 });
  assert.equal(decodeMetaEntry(encodeMetaEntry(EntryOp.updateStreamOp, upd)).stream!.config.max_msgs, 99);

  const ca = sampleConsumer();
  assert.equal(assignmentAccount(ca), 'SVC', 'service account owns the asset');
  for (const op of [EntryOp.assignConsumerOp, EntryOp.removeConsumerOp] as const) {
    const buf = encodeMetaEntry(op, ca);
    const text = buf.subarray(1).toString();
    assert.match(text, /^\{"client":\{"acc":"APP","svc":"SVC"\},"created":"2026-12-06T19:00:01Z","name":"D1","stream":"ORDERS","consumer":\{"durable_name":"D1",/);
    const d = decodeMetaEntry(buf);
    assert.deepEqual(d.consumer, ca);
    assert.deepEqual(encodeMetaEntry(op, d.consumer!), buf);
  }
  assert.throws(() => encodeMetaEntry(EntryOp.assignStreamOp, ca), TypeError);
  assert.throws(() => encodeMetaEntry(EntryOp.assignConsumerOp, sa), TypeError);
});

test('assignCompressedConsumerOp: framed S2 stream written; 2.9.10 S2 block and framed stream both read', () => {
  const ca = sampleConsumer();
  const buf = encodeMetaEntry(EntryOp.assignCompressedConsumerOp, ca);
  assert.equal(buf[0], 9);
  assert.equal(buf.subarray(1, 11).toString('latin1'), '\xff\x06\x00\x00S2sTwO');
  const json = s2StreamDecode(buf.subarray(1)).toString();
  assert.equal(json, encodeMetaEntry(EntryOp.assignConsumerOp, ca).subarray(1).toString(), 'same JSON + newline as op 1');
  assert.deepEqual(decodeMetaEntry(buf).consumer, ca);
  // 2.9.10: op byte + s2.Encode(json.Marshal(ca)) (a block, no newline).
  const block = Buffer.concat([Buffer.from([9]), s2Encode(Buffer.from(json.trimEnd()))]);
  assert.deepEqual(decodeMetaEntry(block).consumer, ca);
  // Corrupt compression is a MetaCodecError.
  const broken = Buffer.from(buf);
  broken[broken.length - 2] ^= 0x55;
  assert.throws(() => decodeMetaEntry(broken), (e: unknown) => e instanceof MetaCodecError);
});

test('escapes inside strings do not confuse the raw-config extraction', () => {
  const config = checkStreamConfig({
    name: 'ESC', description: 'quote " backslash \\ both \\" brace } bracket ] \u00e9 \u2028', subjects: ['e.>'],
    metadata: { 'k"ey\\': 'v}a"l', '{': '[' },
  }, { lookupStream: () => undefined });
  const sa = makeStreamAssignment({
    client: { acc: 'A"CC' }, config, group: { name: 'S-R1F-escescES', peers: ['p"1'], store: 'file' }, sync: 's',
    subject: 'sub"ject', reply: '',
  });
  const buf = encodeMetaEntry(EntryOp.assignStreamOp, sa);
  const d = decodeMetaEntry(buf).stream!;
  assert.equal(d.config.description, config.description);
  assert.deepEqual(d.config.metadata, config.metadata);
  assert.equal(d.configJson, sa.configJson);
  assert.equal(d.client!.acc, 'A"CC');
  assert.equal(d.reply, '', 'empty reply is kept as present');
  assert.deepEqual(encodeMetaEntry(EntryOp.assignStreamOp, d), buf);
  assert.ok(buf.includes(Buffer.from('\\u2028')), 'Go escapes U+2028');
});

test('restore_state and consumer state travel verbatim (field order, numbers as written)', () => {
  const sa = { ...sampleStream(), restoreStateJson: '{"messages":3,"bytes":99,"first_seq":1,"first_ts":"2026-01-01T00:00:00Z","last_seq":3,"last_ts":"2026-01-01T00:00:01Z","consumer_count":0}' };
  const buf = encodeMetaEntry(EntryOp.assignStreamOp, sa);
  assert.ok(buf.toString().endsWith(`"reply":"_INBOX.1","restore_state":${sa.restoreStateJson}}\n`));
  const d = decodeMetaEntry(buf).stream!;
  assert.equal(d.restoreStateJson, sa.restoreStateJson);
  assert.deepEqual(encodeMetaEntry(EntryOp.assignStreamOp, d), buf);
  const ca = { ...sampleConsumer(), stateJson: '{"delivered":{"consumer_seq":5,"stream_seq":18446744073709551615},"ack_floor":{"consumer_seq":1,"stream_seq":1}}' };
  const cbuf = encodeMetaEntry(EntryOp.assignConsumerOp, ca);
  const cd = decodeMetaEntry(cbuf).consumer!;
  assert.equal(cd.stateJson, ca.stateJson, 'a uint64 beyond 2^53 is not rounded');
  assert.deepEqual(encodeMetaEntry(EntryOp.assignConsumerOp, cd), cbuf);
  assert.throws(() => decodeMetaEntry(Buffer.concat([Buffer.from([1]), Buffer.from(cbuf.subarray(1).toString().replace(ca.stateJson, '[1]'))])),
    (e: unknown) => e instanceof MetaCodecError && e.code === 'bad_assignment');
});

test('clientForSnapshot keeps account, service account and cluster only', () => {
  assert.deepEqual(clientForSnapshot({ acc: 'A', svc: 'S', cluster: 'C', server: 'x', rtt: 5, user: 'u' }), { acc: 'A', svc: 'S', cluster: 'C' });
  assert.deepEqual(clientForSnapshot({ acc: 'A' }), { acc: 'A' });
});

test('config with fields this server does not know: decoded as unsupported and carried through byte for byte', () => {
  const fx = metaEntryFixtures();
  const text = fx.ae_meta_assign_stream_r1!.subarray(1).toString().replace('"num_replicas":1,', '"num_replicas":1,"future_knob":{"x":[1,2]},');
  const buf = Buffer.concat([Buffer.from([0]), Buffer.from(text)]);
  const d = decodeMetaEntry(buf);
  assert.ok(d.stream!.unsupported, 'flagged unsupported');
  assert.match(d.stream!.unsupported!, /future_knob/);
  assert.equal(d.stream!.config.name, 'R1S');
  assert.deepEqual(encodeMetaEntry(0, d.stream!), buf);
  const ctext = fx.ae_meta_assign_consumer!.subarray(1).toString().replace('"num_replicas":0', '"num_replicas":0,"pause_until":"2030-01-01T00:00:00Z"');
  const cd = decodeMetaEntry(Buffer.concat([Buffer.from([1]), Buffer.from(ctext)]));
  assert.ok(cd.consumer!.unsupported);
  assert.equal(cd.consumer!.config.durable_name, 'D1');
});

test('malformed meta entries throw MetaCodecError (never anything else)', () => {
  const fx = metaEntryFixtures();
  const good = fx.ae_meta_assign_stream_r1!.subarray(1).toString();
  const cgood = fx.ae_meta_assign_consumer!.subarray(1).toString();
  const e = (op: number, s: string): Buffer => Buffer.concat([Buffer.from([op]), Buffer.from(s)]);
  const cases: Array<[string, Buffer, string]> = [
    ['empty', Buffer.alloc(0), 'empty'],
    ['stream message op', e(4, good), 'not_meta_op'],
    ['unknown op', e(200, good), 'not_meta_op'],
    ['not JSON', e(0, '{"client":'), 'bad_json'],
    ['JSON array', e(0, '[1,2]'), 'bad_json'],
    ['JSON null', e(0, 'null'), 'bad_json'],
    ['no config', e(0, '{"client":{"acc":"A"},"group":{"name":"g","peers":[],"store":"file"}}'), 'bad_assignment'],
    ['config not an object', e(0, good.replace(/"stream":\{[^}]*\}/, '"stream":"x"')), 'bad_assignment'],
    ['config field of wrong type', e(0, good.replace('"max_msgs":-1', '"max_msgs":"lots"')), 'bad_assignment'],
    ['config without name', e(0, good.replace('"name":"R1S",', '')), 'bad_assignment'],
    ['no group', e(0, good.replace(/"group":\{[^}]*\},/, '')), 'bad_assignment'],
    ['group peers not strings', e(0, good.replace('"peers":["fjFyEjc1"]', '"peers":[1]')), 'bad_assignment'],
    ['group store bad', e(0, good.replace('"store":"file"', '"store":"disk"')), 'bad_assignment'],
    ['no account', e(0, good.replace('"acc":"APP",', '')), 'bad_assignment'],
    ['client not an object', e(0, good.replace(/"client":\{[^}]*\}/, '"client":7')), 'bad_assignment'],
    ['bad created time', e(0, good.replace(/"created":"[^"]*"/, '"created":"yesterday"')), 'bad_assignment'],
    ['sync not a string', e(0, good.replace(/"sync":"[^"]*"/, '"sync":5')), 'bad_assignment'],
    ['consumer without name', e(1, cgood.replace('"name":"D1","stream"', '"stream"')), 'bad_assignment'],
    ['consumer without stream', e(1, cgood.replace('"stream":"T3",', '')), 'bad_assignment'],
    ['consumer config wrong type', e(1, cgood.replace('"ack_wait":30000000000', '"ack_wait":"slow"')), 'bad_assignment'],
    ['consumer entry holding a stream', e(1, good), 'bad_assignment'],
    ['compressed garbage', e(9, 'not s2 at all'), 'bad_compression'],
  ];
  for (const [name, buf, code] of cases) {
    assert.throws(() => decodeMetaEntry(buf), (err: unknown) => err instanceof MetaCodecError && err.code === code, name);
  }
  // Every truncation of a real entry either still decodes (only the newline cut) or throws MetaCodecError.
  const full = fx.ae_meta_assign_stream_r3!;
  for (let n = 0; n < full.length; n++) {
    try {
      decodeMetaEntry(full.subarray(0, n));
      assert.ok(n >= full.length - 1, `prefix of ${n} bytes decoded`);
    } catch (err) {
      assert.ok(err instanceof MetaCodecError, `prefix ${n}: ${String(err)}`);
    }
  }
  // Random byte mutations.
  let seed = 12345;
  const rnd = (): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(i % 2 ? full : fx.ae_meta_assign_consumer!);
    for (let k = 0; k < 1 + Math.floor(rnd() * 3); k++) b[1 + Math.floor(rnd() * (b.length - 1))] = Math.floor(rnd() * 256);
    try {
      decodeMetaEntry(b);
    } catch (err) {
      assert.ok(err instanceof MetaCodecError, `mutation ${i}: ${String(err)}`);
    }
  }
});
