// Hole (issue 13): subject-overlap checks of $JS.API requests compared every
// subject with every other on the event loop; 60,000 subjects in one stream
// create froze the server for minutes. The checks now use a subject trie. Here:
// overlap answers (wildcards on both sides) equal nats-server 2.9.10's, and a
// 60,000-subject create/update is answered while the server keeps serving.
//
// Deliberate difference: a request whose wildcard fan-out would need more than
// the trie's work budget is refused with 10052 "subject overlap check exceeded
// its work limit" (nats-server would run the quadratic loop to the end).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsServerJs, tsnatsJs } from '../helpers/js-conn.js';
import { natsServerSkip } from '../helpers/nats-server.js';

const tsnats = (t: TestContext): Promise<NatsConnection> => tsnatsJs(t, 'tsnats-ovl-');
const natsServer = (t: TestContext): Promise<NatsConnection> => natsServerJs(t, 'tsnats-ovl-ns-');

async function api(nc: NatsConnection, subject: string, body: unknown): Promise<Record<string, any>> {
  const m = await nc.request(subject, JSON.stringify(body), { timeout: 120_000 });
  return JSON.parse(m.string()) as Record<string, any>;
}

const addStream = (nc: NatsConnection, cfg: Record<string, unknown>) =>
  api(nc, `$JS.API.STREAM.CREATE.${cfg.name}`, { storage: 'memory', ...cfg });

/** The overlap cases, answered as [code, description] (or 'ok'). */
async function overlapAnswers(nc: NatsConnection): Promise<unknown[]> {
  const out: unknown[] = [];
  const res = (r: Record<string, any>) => (r.error ? [r.error.err_code, r.error.description] : 'ok');
  out.push(res(await addStream(nc, { name: 'S1', subjects: ['a.*.c', 'x.>'] })));
  out.push(res(await addStream(nc, { name: 'S2', subjects: ['a.b.>'] })));
  out.push(res(await addStream(nc, { name: 'S3', subjects: ['x'] })));
  out.push(res(await addStream(nc, { name: 'S4', subjects: ['a.*.d', 'a.*'] })));
  out.push(res(await addStream(nc, { name: 'S5', subjects: ['y.*', 'q', 'y.z'] })));
  out.push(res(await addStream(nc, { name: 'S6', subjects: ['r.>', 'r.s.t'] })));
  out.push(res(await api(nc, '$JS.API.STREAM.UPDATE.S1', { name: 'S1', storage: 'memory', subjects: ['a.*.c', 'x.>', 'x.*.d'] })));
  out.push(res(await api(nc, '$JS.API.STREAM.UPDATE.S4', { name: 'S4', storage: 'memory', subjects: ['a.*.d', 'a.*', 'a.b.*'] })));
  out.push(res(await addStream(nc, { name: 'W', subjects: ['w.>'], retention: 'workqueue' })));
  out.push(res(await api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.W.C1', { stream_name: 'W', config: { durable_name: 'C1', filter_subject: 'w.*.a', ack_policy: 'explicit' } })));
  out.push(res(await api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.W.C2', { stream_name: 'W', config: { durable_name: 'C2', filter_subject: 'w.x.a', ack_policy: 'explicit' } })));
  out.push(res(await api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.W.C3', { stream_name: 'W', config: { durable_name: 'C3', filter_subject: 'w.c.b', ack_policy: 'explicit' } })));
  return out;
}

test('stream and workqueue-consumer overlap answers (wildcards on both sides) equal nats-server 2.9.10', { skip: natsServerSkip() }, async (t) => {
  const ours = await overlapAnswers(await tsnats(t));
  const theirs = await overlapAnswers(await natsServer(t));
  assert.deepEqual(ours, theirs, JSON.stringify(ours));
  // and the cases really exercise both outcomes
  assert.ok(ours.includes('ok'));
  assert.ok(ours.some((x) => Array.isArray(x) && x[0] === 10065));
  assert.ok(ours.some((x) => Array.isArray(x) && x[0] === 10052));
});

test('consumer filter_subjects overlap is found in a long list', async (t) => {
  const nc = await tsnats(t);
  assert.equal((await addStream(nc, { name: 'F', subjects: ['f.>'] })).error, undefined);
  const filters = Array.from({ length: 20_000 }, (_, i) => `f.${i}.x`);
  const ok = await api(nc, '$JS.API.CONSUMER.CREATE.F.CF', { stream_name: 'F', config: { name: 'CF', filter_subjects: filters } });
  assert.equal(ok.error, undefined, JSON.stringify(ok.error));
  const bad = await api(nc, '$JS.API.CONSUMER.CREATE.F.CG', { stream_name: 'F', config: { name: 'CG', filter_subjects: [...filters, 'f.*.y', 'f.19999.*'] } });
  assert.equal(bad.error?.err_code, 10138, JSON.stringify(bad.error));
});

test('a 60,000-subject stream create and update are answered; other clients keep being served', async (t) => {
  const nc = await tsnats(t);
  const subjects = Array.from({ length: 60_000 }, (_, i) => `s.${i}`);
  const other = await connect({ servers: nc.getServer(), reconnect: false });
  t.after(() => other.close());
  const created = await addStream(nc, { name: 'BIG', subjects });
  assert.equal(created.error, undefined, JSON.stringify(created.error));
  assert.equal(created.config.subjects.length, 60_000);
  await other.flush();

  // one overlapping subject at the very end, inside the request and against BIG
  const selfOverlap = await addStream(nc, { name: 'BIG2', subjects: [...subjects.map((s) => `t${s}`), 'ts.*'] });
  assert.equal(selfOverlap.error?.err_code, 10052);
  assert.equal(selfOverlap.error?.description, 'subject "ts.s.0" overlaps with "ts.*"'.replace('ts.s.0', 'ts.0'));
  const cross = await addStream(nc, { name: 'BIG3', subjects: [...subjects.map((s) => `u${s}`), 's.*'] });
  assert.equal(cross.error?.err_code, 10065);
  const updated = await api(nc, '$JS.API.STREAM.UPDATE.BIG', { name: 'BIG', storage: 'memory', subjects: [...subjects, 'v.>'] });
  assert.equal(updated.error, undefined, JSON.stringify(updated.error));

  // wildcard queries fanning out over a wide trie: refused, not run for minutes
  const fan = [...Array.from({ length: 30_000 }, (_, i) => `k${i}.e`), ...Array.from({ length: 30_000 }, (_, i) => `*.o${i}`)];
  const refused = await addStream(nc, { name: 'FAN', subjects: fan, no_ack: true });
  assert.equal(refused.error?.err_code, 10052);
  assert.equal(refused.error?.description, 'subject overlap check exceeded its work limit');
  await other.flush();
  assert.equal((await api(other, '$JS.API.STREAM.NAMES', {})).streams.sort().join(','), 'BIG');
});

/** Creates after deletes and updates: the account's subjects trie, kept between creates, must follow both. */
async function overlapAfterChanges(nc: NatsConnection): Promise<unknown[]> {
  const res = (r: Record<string, any>) => (r.error ? r.error.err_code : 'ok');
  const out: unknown[] = [];
  out.push(res(await addStream(nc, { name: 'A', subjects: ['a.>'] })));
  out.push(res(await addStream(nc, { name: 'B', subjects: ['a.x'] })));
  out.push(res(await api(nc, '$JS.API.STREAM.DELETE.A', {})));
  out.push(res(await addStream(nc, { name: 'B', subjects: ['a.x'] })));
  out.push(res(await api(nc, '$JS.API.STREAM.UPDATE.B', { name: 'B', storage: 'memory', subjects: ['b.x'] })));
  out.push(res(await addStream(nc, { name: 'C', subjects: ['a.x'] })));
  out.push(res(await addStream(nc, { name: 'D', subjects: ['b.*'] })));
  out.push(res(await addStream(nc, { name: 'E', subjects: ['a.*', 'e'] })));
  return out;
}

test('stream creates after a delete and an update see the account\'s current subjects', async (t) => {
  const ours = await overlapAfterChanges(await tsnats(t));
  assert.deepEqual(ours, ['ok', 10065, 'ok', 'ok', 'ok', 'ok', 10065, 10065]);
  if (natsServerSkip() === false) {
    assert.deepEqual(ours, await overlapAfterChanges(await natsServer(t)));
  }
});
