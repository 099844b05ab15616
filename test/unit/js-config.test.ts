import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStreamConfig, checkStreamUpdate, goDuration } from '../../src/jetstream/stream-config.js';
import { encodeStreamConfig, streamCreateRequestSchema, type StreamConfig, type StreamConfigRequest } from '../../src/jetstream/api/types.js';
import { decodeRequest, goJson, JsonDecodeError, goTimeFromNanos, parseGoTime } from '../../src/jetstream/api/json.js';
import { ApiError, jsErr } from '../../src/jetstream/api/errors.js';
import { SubjectTransform, subjectsCollide, subjectMatchesFilter, subjectIsSubsetMatch } from '../../src/jetstream/subjects.js';
import { readVectorJson } from '../helpers/vectors.js';

const noStreams = { lookupStream: () => undefined };

function errOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  assert.fail('expected an ApiError');
}

test('defaults are filled exactly as nats-server 2.9.10 returned them (golden vector)', () => {
  const captured = readVectorJson<{ request: { body: string }; response: { payload_text: string } }>('jsapi', 'js_stream_create_r1.json');
  const req = JSON.parse(captured.request.body) as StreamConfigRequest;
  const payload = captured.response.payload_text;
  const cfg = checkStreamConfig(req, noStreams);
  const encoded = goJson(encodeStreamConfig(cfg));
  const golden = /"config":(\{.*?\}),"created"/.exec(payload)![1]!;
  // 2.10 adds compression and consumer_limits to the 2.9.10 shape; everything else is byte-identical.
  const expected = golden.replace(',"allow_direct"', ',"compression":"none","allow_direct"')
    .replace('"allow_rollup_hdrs":false}', '"allow_rollup_hdrs":false,"consumer_limits":{}}');
  assert.equal(encoded, expected);
});

test('subjects default to the name; duplicate window follows max_age', () => {
  const cfg = checkStreamConfig({ name: 'ORDERS', max_age: 10_000_000_000 }, noStreams);
  assert.deepEqual(cfg.subjects, ['ORDERS']);
  assert.equal(cfg.duplicate_window, 10_000_000_000);
  assert.equal(cfg.max_msgs, -1);
  // 0 is unlimited (-1); other negative limits are kept as sent, as nats-server 2.9.10 does.
  const c2 = checkStreamConfig({ name: 'X', max_msgs: -5, max_bytes: 0 }, noStreams);
  assert.equal(c2.max_msgs, -5);
  assert.equal(c2.max_bytes, -1);
});

test('invalid configs get nats-server error codes and texts', () => {
  const cases: Array<[StreamConfigRequest, number, string]> = [
    [{ name: 'a.b' }, 10052, "stream name is required and can not contain '.', '*', '>', '\\', '/'"],
    [{ name: 'S', max_age: 50_000_000 }, 10052, 'max age needs to be >= 100ms'],
    [{ name: 'S', max_age: 1_000_000_000, duplicate_window: 2_000_000_000 }, 10052, 'duplicates window can not be larger then max age'],
    [{ name: 'S', subjects: ['a.*', 'a.b'] }, 10052, 'subject "a.*" overlaps with "a.b"'],
    [{ name: 'S', subjects: ['a', 'b', 'a'] }, 10052, 'duplicate subjects detected'],
    [{ name: 'S', subjects: ['>'] }, 10052, 'capturing all subjects requires no-ack to be true'],
    [{ name: 'S', subjects: ['$JS.API.x'] }, 10052, 'subjects that overlap with jetstream api require no-ack to be true'],
    [{ name: 'S', deny_purge: true, allow_rollup_hdrs: true }, 10052, 'roll-ups require the purge permission'],
    [{ name: 'S', discard_new_per_subject: true }, 10052, 'discard new per subject requires discard new policy to be set'],
    [{ name: 'S', num_replicas: 6 }, 10052, 'maximum replicas is 5'],
    [{ name: 'S', num_replicas: -1 }, 10133, 'replicas count cannot be negative'],
    [{ name: 'S', mirror: { name: 'O' }, subjects: ['x'] }, 10034, 'stream mirrors can not contain subjects'],
    [{ name: 'S', sources: [{ name: 'A' }, { name: 'A' }] }, 10140, 'duplicate source configuration detected'],
    [{ name: 'S', republish: { src: '>', dest: 'S' } }, 10052, 'stream configuration for republish destination forms a cycle'],
    [{ name: 'S', allow_msg_ttl: true }, 10052, 'per-message TTL (allow_msg_ttl) is not supported by this server'],
  ];
  for (const [req, code, text] of cases) {
    const e = errOf(() => checkStreamConfig(req, noStreams));
    assert.equal(e.errCode, code, JSON.stringify(req));
    assert.equal(e.description, text);
  }
});

test('mirror inherits allow_direct of its origin and detects cycles', () => {
  const origin = checkStreamConfig({ name: 'O', allow_direct: true }, noStreams);
  const ctx = { lookupStream: (n: string) => (n === 'O' ? origin : undefined) };
  const m = checkStreamConfig({ name: 'M', mirror: { name: 'O' } }, ctx);
  assert.equal(m.mirror_direct, true);
  assert.equal(m.subjects, undefined);
  const a = checkStreamConfig({ name: 'A', subjects: ['a'], sources: [{ name: 'B' }] }, noStreams);
  const b = checkStreamConfig({ name: 'B', subjects: ['b'], sources: [{ name: 'A' }] }, noStreams);
  const ctx2 = { lookupStream: (n: string) => ({ A: a, B: b } as Record<string, StreamConfig>)[n] };
  assert.equal(errOf(() => checkStreamConfig({ name: 'A', subjects: ['a'], sources: [{ name: 'B' }] }, ctx2)).description, 'detected cycle');
});

test('update rules: storage, unseal, deny flags, workqueue, mirror', () => {
  const old = checkStreamConfig({ name: 'S', deny_delete: true, sealed: false }, noStreams);
  assert.equal(errOf(() => checkStreamUpdate(old, { name: 'S', storage: 'memory', deny_delete: true }, noStreams)).description,
    'stream configuration update can not change storage type');
  assert.equal(errOf(() => checkStreamUpdate(old, { name: 'S' }, noStreams)).description,
    'stream configuration update can not cancel deny message deletes');
  assert.equal(errOf(() => checkStreamUpdate(old, { name: 'S', deny_delete: true, retention: 'workqueue' }, noStreams)).description,
    'stream configuration update can not change retention policy to/from workqueue');
  const sealed = checkStreamUpdate(old, { name: 'S', deny_delete: true, sealed: true, max_age: 5_000_000_000 }, noStreams);
  assert.equal(sealed.sealed, true);
  assert.equal(sealed.max_age, 0);
  assert.equal(sealed.discard, 'new');
  assert.equal(sealed.deny_purge, true);
  assert.equal(errOf(() => checkStreamUpdate(sealed, { ...sealed, sealed: false }, noStreams)).description,
    'stream configuration update can not unseal a sealed stream');
  const upd = checkStreamUpdate(old, { name: 'S', deny_delete: true, subjects: ['x.>'], max_msgs: 10 }, noStreams);
  assert.deepEqual(upd.subjects, ['x.>']);
  assert.equal(upd.max_msgs, 10);
  const mir = checkStreamConfig({ name: 'M', mirror: { name: 'O' } }, noStreams);
  assert.equal(errOf(() => checkStreamUpdate(mir, { name: 'M', mirror: { name: 'P' } }, noStreams)).errCode, 10055);
  assert.equal(errOf(() => checkStreamUpdate(old, { name: 'S', deny_delete: true, num_replicas: 3 }, noStreams)).errCode, 10074);
});

test('strict request decoding reports Go-style errors', () => {
  assert.throws(() => decodeRequest('{"name":"S","bogus":1}', streamCreateRequestSchema, 'StreamConfigRequest', true),
    (e: unknown) => e instanceof JsonDecodeError && e.message === 'json: unknown field "bogus"');
  assert.deepEqual(decodeRequest('{"name":"S","bogus":1}', streamCreateRequestSchema, 'StreamConfigRequest', false), { name: 'S', bogus: 1 });
  assert.throws(() => decodeRequest('{"name":"S","max_msgs":"x"}', streamCreateRequestSchema, 'StreamConfigRequest', true),
    (e: unknown) => e instanceof JsonDecodeError &&
      e.message === 'json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of type int64');
  assert.throws(() => decodeRequest('{"name":"S","retention":"forever"}', streamCreateRequestSchema, 'StreamConfigRequest', true),
    (e: unknown) => e instanceof JsonDecodeError && e.message === 'can not unmarshal "\\"forever\\""');
  assert.throws(() => decodeRequest('{"name":', streamCreateRequestSchema, 'StreamConfigRequest', true), JsonDecodeError);
  assert.deepEqual(decodeRequest('', streamCreateRequestSchema, 'X', true), {});
});

test('error table and formatting helpers', () => {
  const e = jsErr('StreamWrongLastSequence', { seq: 2 });
  assert.deepEqual(e.toJSON(), { code: 400, err_code: 10071, description: 'wrong last sequence: 2' });
  assert.equal(goJson({ s: 'a.>' }), '{"s":"a.\\u003e"}');
  assert.equal(goTimeFromNanos(1795738558335068305n), '2026-11-27T00:15:58.335068305Z');
  assert.equal(parseGoTime('2026-11-27T00:15:58.335068305Z'), 1795738558335068305n);
  assert.equal(goTimeFromNanos(0n), '0001-01-01T00:00:00Z');
  assert.equal(goDuration(120_000_000_000), '2m0s');
  assert.equal(goDuration(1_500_000_000), '1.5s');
});

test('subject helpers: matching, collision, subset, transforms', () => {
  assert.equal(subjectMatchesFilter('a.b.c', 'a.>'), true);
  assert.equal(subjectMatchesFilter('a', 'a.>'), false);
  assert.equal(subjectMatchesFilter('a.b', 'a.*'), true);
  assert.equal(subjectMatchesFilter('a.b.c', 'a.*'), false);
  assert.equal(subjectsCollide('a.*', 'a.b'), true);
  assert.equal(subjectsCollide('a.*', 'b.*'), false);
  assert.equal(subjectsCollide('a.>', 'a.b.c'), true);
  assert.equal(subjectsCollide('a.*', 'a.b.c'), false);
  assert.equal(subjectIsSubsetMatch('a.b', 'a.*'), true);
  assert.equal(subjectIsSubsetMatch('a.*', 'a.b'), false);
  assert.equal(new SubjectTransform('$KV.src.>', '$KV.dst.>').apply('$KV.src.k.x'), '$KV.dst.k.x');
  assert.equal(new SubjectTransform('orders.*.*', 'x.$2.{{wildcard(1)}}').apply('orders.eu.42'), 'x.42.eu');
  assert.equal(new SubjectTransform('orders.*', 'x.$1').apply('other.1'), undefined);
  assert.throws(() => new SubjectTransform('a.*', 'x.$2'));
});
