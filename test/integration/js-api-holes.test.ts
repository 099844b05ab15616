// Holes (issue 13) in $JS.API request checks, sent to tsnats and nats-server 2.9.10:
//  - an int64 field given 1e300 (or 2^63) was accepted and echoed as 1e+300; Go's
//    decoder refuses it (10025 invalid JSON; tsnats adds Go's decoder text, as
//    nats-server 2.10+ does);
//  - stream and consumer names with a NUL byte were accepted (nats-server refuses
//    them: for a consumer 2.9.10 answers 10012 "error creating store for consumer",
//    tsnats refuses the name itself, like the other invalid characters).
// Negative stream limits (-5) are kept as sent and enforced as unlimited, as
// 2.9.10 does (pedantic mode refuses them, as 2.11+ does).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { natsServerJs, tsnatsJs } from '../helpers/js-conn.js';
import { natsServerSkip } from '../helpers/nats-server.js';

const tsnats = (t: TestContext): Promise<NatsConnection> => tsnatsJs(t, 'tsnats-apiholes-');
const natsServer = (t: TestContext): Promise<NatsConnection> => natsServerJs(t, 'tsnats-apiholes-ns-');

async function api(nc: NatsConnection, subject: string, body: string): Promise<Record<string, any>> {
  const m = await nc.request(subject, body, { timeout: 10_000 });
  return JSON.parse(m.string()) as Record<string, any>;
}

const CASES: [string, string][] = [
  ['$JS.API.STREAM.CREATE.A', '{"name":"A","subjects":["a"],"max_msgs":1e300}'],
  ['$JS.API.STREAM.CREATE.B', '{"name":"B","subjects":["b"],"max_bytes":9223372036854775808}'],
  ['$JS.API.STREAM.CREATE.C', '{"name":"C","subjects":["c"],"max_msgs":-1e300}'],
  ['$JS.API.STREAM.CREATE.S', '{"name":"S","subjects":["s"]}'],
  ['$JS.API.CONSUMER.CREATE.S', '{"stream_name":"S","config":{"name":"C\\u0000x"}}'],
  ['$JS.API.CONSUMER.DURABLE.CREATE.S.D', '{"stream_name":"S","config":{"durable_name":"D","max_deliver":1e300}}'],
];

/** error code per case, or 'ok' */
async function codes(nc: NatsConnection): Promise<(number | string)[]> {
  const out: (number | string)[] = [];
  for (const [s, b] of CASES) {
    const r = await api(nc, s, b);
    out.push(r.error ? r.error.err_code : 'ok');
  }
  return out;
}

test('tsnats: int64 overflow is a JSON error; NUL bytes in names are refused', async (t) => {
  const nc = await tsnats(t);
  const r = await api(nc, CASES[0]![0], CASES[0]![1]);
  assert.equal(r.error?.err_code, 10025);
  assert.equal(r.error?.description, 'invalid JSON: json: cannot unmarshal number 1e300 into Go struct field StreamConfigRequest.max_msgs of type int64');
  const got = await codes(nc);
  assert.deepEqual(got.slice(0, 4), [10025, 10025, 10025, 'ok']);
  assert.equal(typeof got[4], 'number', 'consumer name with NUL refused');
  assert.equal(got[5], 10025);
  // the stream name with a NUL byte (in the subject and the body) is refused too
  const nul = await api(nc, '$JS.API.STREAM.CREATE.N\u0000x', '{"name":"N\\u0000x","subjects":["n"]}');
  assert.ok(nul.error, JSON.stringify(nul));
  const names = await api(nc, '$JS.API.STREAM.NAMES', '{}');
  assert.deepEqual(names.streams, ['S']);
});

test('nats-server 2.9.10 refuses the same requests', { skip: natsServerSkip() }, async (t) => {
  const got = await codes(await natsServer(t));
  assert.deepEqual(got.slice(0, 4), [10025, 10025, 10025, 'ok']);
  assert.equal(got[4], 10012, 'nats-server fails to create the store of a consumer named with NUL');
  assert.equal(got[5], 10025);
});

/** Answers that must be identical on both servers: no store path leaks, negative limits kept. */
async function leakAndLimits(nc: NatsConnection): Promise<unknown[]> {
  const long = 'L'.repeat(300);
  const out: unknown[] = [];
  out.push((await api(nc, '$JS.API.STREAM.CREATE.P', '{"name":"P","subjects":["p.>"]}')).error ?? 'ok');
  // The store directory name is too long for the file system: nats-server answers 10012
  // without the cause (which names the absolute store path).
  out.push((await api(nc, '$JS.API.CONSUMER.CREATE.P', JSON.stringify({ stream_name: 'P', config: { name: long } }))).error);
  const neg = await api(nc, '$JS.API.STREAM.CREATE.NEG', JSON.stringify({
    name: 'NEG', subjects: ['neg'], max_msgs: -5, max_bytes: -2, max_msg_size: -3, max_consumers: -4, max_msgs_per_subject: -2,
  }));
  const c = neg.config ?? {};
  out.push([c.max_msgs, c.max_bytes, c.max_msg_size, c.max_consumers, c.max_msgs_per_subject]);
  // Negative limits are no limits: messages are stored.
  for (let i = 0; i < 3; i++) await nc.request('neg', 'x', { timeout: 5000 });
  out.push((await api(nc, '$JS.API.STREAM.INFO.NEG', '')).state?.messages);
  out.push((await api(nc, '$JS.API.STREAM.CREATE.AGE', '{"name":"AGE","subjects":["age"],"max_age":-7}')).error);
  return out;
}

const LEAK_EXPECTED = [
  'ok',
  { code: 500, err_code: 10012, description: 'error creating store for consumer' },
  [-5, -2, -3, -4, -2],
  3,
  { code: 500, err_code: 10052, description: 'duplicates window can not be negative' },
];

test('tsnats: no store path in API errors; negative limits kept as sent', async (t) => {
  assert.deepEqual(await leakAndLimits(await tsnats(t)), LEAK_EXPECTED);
});

test('nats-server 2.9.10 answers the same', { skip: natsServerSkip() }, async (t) => {
  assert.deepEqual(await leakAndLimits(await natsServer(t)), LEAK_EXPECTED);
});
