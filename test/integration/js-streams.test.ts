// JetStream streams through the official client (@nats-io/jetstream) and raw $JS.API
// requests against an in-process tsnats server.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { headers as mkHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, JetStreamApiError } from '@nats-io/jetstream';
import type { Options } from '../../src/config/options.js';
import { startTsnatsJs, type TsnatsJsEnv } from '../helpers/js-conn.js';

type JsEnv = TsnatsJsEnv;

function startJs(t: TestContext, over: Partial<Options> = {}): Promise<JsEnv> {
  return startTsnatsJs(t, 'tsnats-js-', over);
}

async function api(nc: NatsConnection, subject: string, body: unknown = ''): Promise<Record<string, any>> {
  const m = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 2000 });
  return JSON.parse(m.string()) as Record<string, any>;
}

async function pub(nc: NatsConnection, subject: string, data: string, hdrs?: Record<string, string>): Promise<Record<string, any>> {
  let h;
  if (hdrs) {
    h = mkHeaders();
    for (const [k, v] of Object.entries(hdrs)) h.set(k, v);
  }
  const m = await nc.request(subject, data, { timeout: 2000, headers: h });
  return JSON.parse(m.string()) as Record<string, any>;
}

async function until(fn: () => boolean | Promise<boolean>, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('create, info, publish and the exact answers of nats-server', async (t) => {
  const { nc, server } = await startJs(t);
  assert.equal(nc.info?.jetstream, true);
  const advisories = nc.subscribe('$JS.EVENT.ADVISORY.>');
  const jsm = await jetstreamManager(nc);
  const si = await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], storage: 'memory' });
  assert.equal(si.config.duplicate_window, 120_000_000_000);
  assert.equal(si.config.max_msgs, -1);
  assert.equal(si.state.first_seq, 0);

  // Raw bytes: PubAck is hand-built exactly like nats-server's.
  const ack = await nc.request('orders.a', 'hello', { timeout: 2000 });
  assert.equal(ack.string(), '{"stream":"ORDERS","seq":1}');
  const dupe1 = await pub(nc, 'orders.b', 'x', { 'Nats-Msg-Id': 'm-1' });
  assert.deepEqual(dupe1, { stream: 'ORDERS', seq: 2 });
  const dupe2 = await nc.request('orders.b', 'x', { timeout: 2000, headers: (() => { const h = mkHeaders(); h.set('Nats-Msg-Id', 'm-1'); return h; })() });
  assert.equal(dupe2.string(), '{"stream":"ORDERS","seq":2,"duplicate": true}');
  const wrong = await nc.request('orders.c', 'x', { timeout: 2000, headers: (() => { const h = mkHeaders(); h.set('Nats-Expected-Last-Sequence', '1'); return h; })() });
  assert.equal(wrong.string(), '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"},"stream":"ORDERS","seq":0}');

  // Through the client too.
  const js = jetstream(nc);
  const pa = await js.publish('orders.d', 'y', { expect: { lastSequence: 2, streamName: 'ORDERS' } });
  assert.equal(pa.seq, 3);
  await assert.rejects(js.publish('orders.d', 'y', { expect: { streamName: 'OTHER' } }),
    (e: unknown) => e instanceof JetStreamApiError && e.code === 10060);

  const info = await api(nc, '$JS.API.STREAM.INFO.ORDERS');
  assert.equal(info.type, 'io.nats.jetstream.api.v1.stream_info_response');
  assert.equal(info.total, 0);
  assert.equal(info.state.messages, 3);
  assert.equal(info.state.last_seq, 3);
  assert.equal(info.state.num_subjects, 3);
  assert.deepEqual(info.cluster, { leader: server.server.serverName });
  const keys = Object.keys(info);
  assert.deepEqual(keys.slice(0, 7), ['type', 'total', 'offset', 'limit', 'config', 'created', 'state']);

  // Idempotent create answers did_create again; a different config is refused.
  const again = await api(nc, '$JS.API.STREAM.CREATE.ORDERS', { name: 'ORDERS', subjects: ['orders.>'], storage: 'memory' });
  assert.equal(again.did_create, true);
  assert.equal(again.state.messages, 3);
  const diff = await api(nc, '$JS.API.STREAM.CREATE.ORDERS', { name: 'ORDERS', subjects: ['orders.>'], storage: 'memory', max_msgs: 5 });
  assert.deepEqual(diff.error, { code: 400, err_code: 10058, description: 'stream name already in use with a different configuration' });

  const acct = await jsm.getAccountInfo();
  assert.equal(acct.streams, 1);
  assert.ok(acct.memory > 0);

  // Advisories: the create (once, not for the idempotent re-create) and an API audit per request.
  await nc.flush();
  advisories.unsubscribe();
  const seen: Array<{ subject: string; body: any }> = [];
  for await (const m of advisories) seen.push({ subject: m.subject, body: m.json() });
  const created = seen.filter((a) => a.subject === '$JS.EVENT.ADVISORY.STREAM.CREATED.ORDERS');
  assert.equal(created.length, 1);
  assert.equal(created[0]!.body.type, 'io.nats.jetstream.advisory.v1.stream_action');
  assert.equal(created[0]!.body.action, 'create');
  const audits = seen.filter((a) => a.subject === '$JS.EVENT.ADVISORY.API');
  assert.ok(audits.some((a) => a.body.subject === '$JS.API.STREAM.CREATE.ORDERS' && a.body.type === 'io.nats.jetstream.advisory.v1.api_audit'));
});

test('bad requests get nats-server error codes and nothing stored is lost', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'S', subjects: ['s.*'], storage: 'memory' });
  const js = jetstream(nc);
  await js.publish('s.1', 'keep-me');

  const cases: Array<[string, string, number, string?]> = [
    ['$JS.API.STREAM.CREATE.X', '{"name":"X",', 10025],
    ['$JS.API.STREAM.CREATE.X', '{"name":"X","bogus":true}', 10025, 'invalid JSON: json: unknown field "bogus"'],
    ['$JS.API.STREAM.CREATE.X', '{"name":"X","max_msgs":"many"}', 10025,
      'invalid JSON: json: cannot unmarshal string into Go struct field StreamConfigRequest.max_msgs of type int64'],
    ['$JS.API.STREAM.CREATE.X', '{"name":"Y"}', 10056, 'stream name in subject does not match request'],
    ['$JS.API.STREAM.CREATE.X', '{"name":"X","subjects":["s.1"]}', 10065, 'subjects overlap with an existing stream'],
    ['$JS.API.STREAM.CREATE.X', '{"name":"X","num_replicas":3}', 10074, 'replicas > 1 not supported in non-clustered mode'],
    ['$JS.API.STREAM.CREATE.X', '{"name":"X","sealed":true}', 10052, 'stream configuration for create can not be sealed'],
    ['$JS.API.STREAM.INFO.NOPE', '', 10059, 'stream not found'],
    ['$JS.API.STREAM.UPDATE.NOPE', '{"name":"NOPE"}', 10059, 'stream not found'],
    ['$JS.API.STREAM.UPDATE.S', '{"name":"S","subjects":["s.*"],"storage":"file"}', 10052, 'stream configuration update can not change storage type'],
    ['$JS.API.STREAM.MSG.GET.S', '', 10003, 'bad request'],
    ['$JS.API.STREAM.MSG.GET.S', '{"seq":99}', 10037, 'no message found'],
    ['$JS.API.STREAM.MSG.DELETE.S', '{"seq":99}', 10043, 'sequence 99 not found'],
    ['$JS.API.STREAM.DELETE.S', '{"x":1}', 10038, 'expected an empty request payload'],
    ['$JS.API.STREAM.PURGE.S', '{"seq":2,"keep":1}', 10003, 'bad request'],
    ['$JS.API.STREAM.LEADER.STEPDOWN.S', '', 10010, 'JetStream clustering support required'],
  ];
  for (const [subj, body, code, text] of cases) {
    const r = await api(nc, subj, body);
    assert.equal(r.error?.err_code, code, `${subj} ${body}: ${JSON.stringify(r)}`);
    if (text) assert.equal(r.error.description, text);
  }
  // Unknown API subjects and extra tokens get no reply at all.
  await assert.rejects(nc.request('$JS.API.STREAM.CREATE.a.b', '{}', { timeout: 300 }));
  await assert.rejects(nc.request('$JS.API.NOPE', '', { timeout: 300 }));

  const si = await jsm.streams.info('S');
  assert.equal(si.state.messages, 1);
  const m = await jsm.streams.getMessage('S', { seq: 1 });
  assert.equal(m?.string(), 'keep-me');
  const acct = await jsm.getAccountInfo();
  // A failed MSG.DELETE is answered as an ordinary response by nats-server (not an api error).
  assert.ok(acct.api.errors >= cases.length - 1);
});

test('update, names/list with subject filter and paging fields, delete', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'A', subjects: ['a.>'], storage: 'memory' });
  await jsm.streams.add({ name: 'B', subjects: ['b.>'], storage: 'memory', deny_delete: true });
  const names = await api(nc, '$JS.API.STREAM.NAMES', { subject: 'b.x' });
  assert.deepEqual(names, { type: 'io.nats.jetstream.api.v1.stream_names_response', total: 1, offset: 0, limit: 1024, streams: ['B'] });
  const list = await api(nc, '$JS.API.STREAM.LIST');
  assert.equal(list.total, 2);
  assert.equal(list.limit, 256);
  assert.deepEqual(list.streams.map((s: any) => s.config.name), ['A', 'B']);

  const upd = await jsm.streams.update('A', { subjects: ['a.>', 'aa.>'], max_msgs: 2, description: 'two' });
  assert.deepEqual(upd.config.subjects, ['a.>', 'aa.>']);
  const js = jetstream(nc);
  for (let i = 0; i < 4; i++) await js.publish('aa.x', `m${i}`);
  const si = await jsm.streams.info('A');
  assert.equal(si.state.messages, 2);
  assert.equal(si.state.first_seq, 3);

  const noUndeny = await api(nc, '$JS.API.STREAM.UPDATE.B', { name: 'B', subjects: ['b.>'], storage: 'memory' });
  assert.equal(noUndeny.error.description, 'stream configuration update can not cancel deny message deletes');
  await js.publish('b.1', 'x');
  const del = await api(nc, '$JS.API.STREAM.MSG.DELETE.B', { seq: 1 });
  assert.deepEqual(del.error, { code: 500, err_code: 10057, description: 'message delete not permitted' });

  assert.equal(await jsm.streams.delete('A'), true);
  const gone = await api(nc, '$JS.API.STREAM.INFO.A');
  assert.equal(gone.error.err_code, 10059);
  // Subjects are free again: a publish to them now has no responders.
  await assert.rejects(nc.request('a.1', 'x', { timeout: 500 }));
  const empty = await api(nc, '$JS.API.STREAM.NAMES', { subject: 'zzz' });
  assert.equal(empty.streams, null);
});

test('purge by filter/keep/seq, msg get forms, delete with and without erase', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'P', subjects: ['p.*'], storage: 'memory' });
  const js = jetstream(nc);
  for (let i = 1; i <= 10; i++) await js.publish(i % 2 ? 'p.odd' : 'p.even', `v${i}`);
  const last = await api(nc, '$JS.API.STREAM.MSG.GET.P', { last_by_subj: 'p.odd' });
  assert.equal(last.message.seq, 9);
  assert.equal(Buffer.from(last.message.data, 'base64').toString(), 'v9');
  const next = await api(nc, '$JS.API.STREAM.MSG.GET.P', { seq: 3, next_by_subj: 'p.even' });
  assert.equal(next.message.seq, 4);

  assert.equal((await jsm.streams.purge('P', { filter: 'p.odd', keep: 2 })).purged, 3);
  assert.equal((await jsm.streams.purge('P', { seq: 5 })).purged, 2); // seq 2 and 4
  let si = await jsm.streams.info('P', { subjects_filter: '>' });
  assert.equal(si.state.messages, 5);
  assert.deepEqual(si.state.subjects, { 'p.even': 3, 'p.odd': 2 });
  assert.equal(await jsm.streams.deleteMessage('P', 8, false), true);
  assert.equal(await jsm.streams.deleteMessage('P', 9, true), true);
  si = await jsm.streams.info('P', { deleted_details: true });
  assert.equal(si.state.messages, 3);
  assert.deepEqual(si.state.deleted, [8, 9]);
  assert.equal(si.state.num_deleted, 2);
  assert.equal((await jsm.streams.purge('P')).purged, 3);
  si = await jsm.streams.info('P');
  assert.equal(si.state.first_seq, 11);
  assert.equal(si.state.last_seq, 10);
});

test('limits: discard new rejects with 10077, max_msg_size 10054, per-subject history', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'L', subjects: ['l.>'], storage: 'memory', max_msgs: 2, discard: 'new' as any, max_msg_size: 16 });
  const js = jetstream(nc);
  await js.publish('l.a', '1');
  await js.publish('l.a', '2');
  const full = await pub(nc, 'l.a', '3');
  assert.deepEqual(full.error, { code: 503, err_code: 10077, description: 'maximum messages exceeded' });
  const big = await pub(nc, 'l.b', 'x'.repeat(17));
  assert.deepEqual(big.error, { code: 400, err_code: 10054, description: 'message size exceeds maximum allowed' });
  await jsm.streams.add({ name: 'KV', subjects: ['kv.>'], storage: 'memory', max_msgs_per_subject: 2 });
  for (let i = 0; i < 5; i++) await js.publish('kv.k', `${i}`);
  const si = await jsm.streams.info('KV');
  assert.equal(si.state.messages, 2);
  assert.equal(si.state.first_seq, 4);
});

test('expected last subject sequence, last msg id, rollups and sealed streams', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'R', subjects: ['r.>'], storage: 'memory', allow_rollup_hdrs: true });
  await jsm.streams.add({ name: 'NR', subjects: ['nr.>'], storage: 'memory' });
  const ok = await pub(nc, 'r.k', 'v1', { 'Nats-Expected-Last-Subject-Sequence': '0' });
  assert.equal(ok.seq, 1);
  const conflict = await pub(nc, 'r.k', 'v2', { 'Nats-Expected-Last-Subject-Sequence': '0' });
  assert.equal(conflict.error.description, 'wrong last sequence: 1');
  await pub(nc, 'r.k', 'v2', { 'Nats-Expected-Last-Subject-Sequence': '1', 'Nats-Msg-Id': 'id-2' });
  const badId = await pub(nc, 'r.j', 'x', { 'Nats-Expected-Last-Msg-Id': 'nope' });
  assert.deepEqual(badId.error, { code: 400, err_code: 10070, description: 'wrong last msg ID: id-2' });
  await pub(nc, 'r.j', 'x');
  await pub(nc, 'r.k', 'v3');
  const roll = await pub(nc, 'r.k', 'final', { 'Nats-Rollup': 'sub' });
  assert.equal(roll.seq, 5);
  let si = await jsm.streams.info('R', { subjects_filter: '>' });
  assert.deepEqual(si.state.subjects, { 'r.j': 1, 'r.k': 1 });
  await pub(nc, 'r.z', 'all', { 'Nats-Rollup': 'all' });
  si = await jsm.streams.info('R');
  assert.equal(si.state.messages, 1);
  const denied = await pub(nc, 'nr.a', 'x', { 'Nats-Rollup': 'all' });
  assert.deepEqual(denied.error, { code: 500, err_code: 10111, description: 'rollup not permitted' });

  const sealed = await jsm.streams.update('NR', { sealed: true } as any);
  assert.equal(sealed.config.sealed, true);
  assert.equal(sealed.config.deny_delete, true);
  const rej = await pub(nc, 'nr.a', 'x');
  assert.deepEqual(rej.error, { code: 400, err_code: 10109, description: 'invalid operation on sealed stream' });
  const purge = await api(nc, '$JS.API.STREAM.PURGE.NR');
  assert.equal(purge.error.err_code, 10109);
});

test('no_ack streams store silently; core publishes without reply are stored', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'N', subjects: ['n.>'], storage: 'memory', no_ack: true });
  await jsm.streams.add({ name: 'Q', subjects: ['q.>'], storage: 'memory' });
  nc.publish('q.1', 'a');
  nc.publish('q.2', 'b');
  await assert.rejects(nc.request('n.1', 'x', { timeout: 300 }));
  await until(async () => (await jsm.streams.info('Q')).state.messages === 2);
  assert.equal((await jsm.streams.info('N')).state.messages, 1);
});

test('interest retention without consumers keeps nothing but uses sequences', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'I', subjects: ['i.>'], storage: 'memory', retention: 'interest' as any });
  const js = jetstream(nc);
  assert.equal((await js.publish('i.a', '1')).seq, 1);
  assert.equal((await js.publish('i.a', '2')).seq, 2);
  const si = await jsm.streams.info('I');
  assert.equal(si.state.messages, 0);
  assert.equal(si.state.last_seq, 2);
});

test('direct get: by seq, last for subject, batch with EOB, multi_last, errors', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'D', subjects: ['d.>'], storage: 'memory', allow_direct: true });
  await jsm.streams.add({ name: 'ND', subjects: ['nd.>'], storage: 'memory' });
  const js = jetstream(nc);
  await js.publish('d.a', 'a1');
  await js.publish('d.b', 'b1', { headers: (() => { const h = mkHeaders(); h.set('X-Custom', 'yes'); return h; })() });
  await js.publish('d.a', 'a2');

  const m = await nc.request('$JS.API.DIRECT.GET.D', JSON.stringify({ seq: 2 }), { timeout: 2000 });
  assert.equal(m.string(), 'b1');
  assert.equal(m.headers?.get('Nats-Stream'), 'D');
  assert.equal(m.headers?.get('Nats-Sequence'), '2');
  assert.equal(m.headers?.get('Nats-Subject'), 'd.b');
  assert.equal(m.headers?.get('X-Custom'), 'yes');
  assert.match(m.headers?.get('Nats-Time-Stamp') ?? '', /^\d{4}-\d\d-\d\dT.*Z$/);

  const lastA = await nc.request('$JS.API.DIRECT.GET.D.d.a', '', { timeout: 2000 });
  assert.equal(lastA.string(), 'a2');
  const sm = await jsm.direct.getMessage('D', { last_by_subj: 'd.b' });
  assert.equal(sm?.string(), 'b1');

  const notFound = await nc.request('$JS.API.DIRECT.GET.D', JSON.stringify({ seq: 99 }), { timeout: 2000 });
  assert.equal(notFound.headers?.code, 404);
  assert.equal(notFound.headers?.description, 'Message Not Found');
  const empty = await nc.request('$JS.API.DIRECT.GET.D', '', { timeout: 2000 });
  assert.equal(empty.headers?.code, 408);

  // Batch: messages then a 204 EOB status, all on the request inbox.
  const got: Array<{ data: string; code?: number; pending?: string; last?: string }> = [];
  const inbox = nc.subscribe('_INBOX.batch.>');
  const done = (async () => {
    for await (const x of inbox) {
      got.push({ data: x.string(), code: x.headers?.code, pending: x.headers?.get('Nats-Num-Pending'), last: x.headers?.get('Nats-Last-Sequence') });
      if (x.headers?.code === 204) break;
    }
  })();
  nc.publish('$JS.API.DIRECT.GET.D', JSON.stringify({ seq: 1, batch: 2 }), { reply: '_INBOX.batch.1' });
  await done;
  assert.deepEqual(got.map((g) => g.data), ['a1', 'b1', '']);
  assert.deepEqual(got.map((g) => g.pending), ['2', '1', '1']);
  assert.deepEqual(got.map((g) => g.last), ['0', '1', '2']);

  const multi: string[] = [];
  const inbox2 = nc.subscribe('_INBOX.multi.>');
  const done2 = (async () => {
    for await (const x of inbox2) {
      if (x.headers?.code === 204) break;
      multi.push(`${x.headers?.get('Nats-Subject')}=${x.string()}`);
    }
  })();
  nc.publish('$JS.API.DIRECT.GET.D', JSON.stringify({ multi_last: ['d.*'] }), { reply: '_INBOX.multi.1' });
  await done2;
  assert.deepEqual(multi, ['d.b=b1', 'd.a=a2']);

  // Without allow_direct nobody answers.
  await assert.rejects(nc.request('$JS.API.DIRECT.GET.ND', JSON.stringify({ seq: 1 }), { timeout: 300 }));
});

test('republish and subject transform', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({
    name: 'RP', subjects: ['in.>'], storage: 'memory',
    subject_transform: { src: 'in.*', dest: 'stored.$1' } as any,
    republish: { src: 'stored.>', dest: 'out.>' } as any,
  });
  const sub = nc.subscribe('out.>', { max: 1 });
  const got = (async () => { for await (const m of sub) return m; })();
  const js = jetstream(nc);
  const pa = await js.publish('in.x', 'payload');
  assert.equal(pa.seq, 1);
  const m = await got;
  assert.ok(m);
  assert.equal(m.subject, 'out.x');
  assert.equal(m.string(), 'payload');
  assert.equal(m.headers?.get('Nats-Stream'), 'RP');
  assert.equal(m.headers?.get('Nats-Subject'), 'stored.x');
  assert.equal(m.headers?.get('Nats-Sequence'), '1');
  assert.equal(m.headers?.get('Nats-Last-Sequence'), '0');
  const stored = await jsm.streams.getMessage('RP', { seq: 1 });
  assert.equal(stored?.subject, 'stored.x');
});

test('mirrors and sources follow their origins', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'O1', subjects: ['o1.>'], storage: 'memory' });
  await jsm.streams.add({ name: 'O2', subjects: ['o2.>'], storage: 'memory' });
  const js = jetstream(nc);
  await js.publish('o1.a', '1');
  await js.publish('o1.b', '2');
  await js.publish('o2.a', '3');
  await jsm.streams.add({ name: 'M', storage: 'memory', mirror: { name: 'O1', filter_subject: 'o1.b' } as any });
  await jsm.streams.add({ name: 'AGG', storage: 'memory', sources: [{ name: 'O1' }, { name: 'O2' }] as any });
  await js.publish('o1.b', '4');
  await until(async () => (await jsm.streams.info('M')).state.messages === 2);
  await until(async () => (await jsm.streams.info('AGG')).state.messages === 4);
  const mi = await jsm.streams.info('M');
  assert.equal(mi.state.last_seq, 3); // mirror keeps origin sequences
  assert.equal(mi.mirror?.name, 'O1');
  assert.equal(mi.mirror?.lag, 0);
  const first = await jsm.streams.getMessage('M', { seq: 2 });
  assert.equal(first?.string(), '2');
  const agg = await jsm.streams.info('AGG');
  assert.deepEqual(agg.sources?.map((s) => s.name).sort(), ['O1', 'O2']);
  const sm = await jsm.streams.getMessage('AGG', { last_by_subj: 'o2.a' });
  assert.match(sm?.header.get('Nats-Stream-Source') ?? '', /^O2 1 /);
  // Mirrors reject direct publishes by having no subjects; their config cannot change the origin.
  const bad = await api(nc, '$JS.API.STREAM.UPDATE.M', { name: 'M', storage: 'memory', mirror: { name: 'O2' } });
  assert.equal(bad.error.err_code, 10055);
});

test('JetStream domain: API on $JS.<domain>.API and domain in PubAck', async (t) => {
  const { nc } = await startJs(t, { jetstream: { domain: 'hub' } as any });
  assert.equal((nc.info as any)?.domain, 'hub');
  const jsm = await jetstreamManager(nc, { domain: 'hub' });
  await jsm.streams.add({ name: 'H', subjects: ['h.>'], storage: 'memory' });
  const ack = await nc.request('h.1', 'x', { timeout: 2000 });
  assert.equal(ack.string(), '{"stream":"H","domain":"hub","seq":1}');
  const info = await api(nc, '$JS.hub.API.INFO');
  assert.equal(info.domain, 'hub');
  assert.equal(info.streams, 1);
});

test('account limits: max streams and memory reservation', async (t) => {
  const { nc, server: srv } = await startJs(t, {
    accounts: [
      { name: 'A', users: [{ user: 'a', password: 'a' }], jetstream: { enabled: true, maxStreams: 1, maxMemory: 1000 }, exports: [], imports: [], mappings: {} },
      { name: 'N', users: [{ user: 'n', password: 'n' }], exports: [], imports: [], mappings: {} },
    ],
    // With users configured, an anonymous connection needs no_auth_user to get in.
    noAuthUser: 'n',
  } as Partial<Options>);
  // The default user is in an account without JetStream.
  const noJs = await api(nc, '$JS.API.INFO');
  assert.deepEqual(noJs.error, { code: 503, err_code: 10039, description: 'JetStream not enabled for account' });
  // Requests published inside account A (users are mapped to accounts by the auth layer;
  // an internal client of A exercises the same API path).
  const accA = srv.server.lookupAccount('A')!;
  const client = accA.createInternalClient('test');
  t.after(() => client.close());
  let seq = 0;
  const nca = {
    request: (subject: string, body: string) => new Promise<{ string(): string }>((resolve, reject) => {
      const inbox = `_INBOX.t.${++seq}`;
      const timer = setTimeout(() => reject(new Error('timeout')), 2000);
      const sid = client.subscribe(inbox, (_s: string, _r: string, _h: unknown, p: Buffer) => {
        clearTimeout(timer);
        client.unsubscribe(sid);
        const text = p.toString();
        resolve({ string: () => text });
      });
      client.publish(subject, inbox, undefined, body);
    }),
  } as unknown as NatsConnection;
  const tooBig = await api(nca, '$JS.API.STREAM.CREATE.S1', { name: 'S1', storage: 'memory', max_bytes: 5000 });
  assert.deepEqual(tooBig.error, { code: 500, err_code: 10028, description: 'insufficient memory resources available' });
  const ok = await api(nca, '$JS.API.STREAM.CREATE.S1', { name: 'S1', storage: 'memory', max_bytes: 500 });
  assert.equal(ok.did_create, true);
  const second = await api(nca, '$JS.API.STREAM.CREATE.S2', { name: 'S2', storage: 'memory' });
  assert.deepEqual(second.error, { code: 400, err_code: 10027, description: 'maximum number of streams reached' });
  const info = await api(nca, '$JS.API.INFO');
  assert.equal(info.limits.max_streams, 1);
  assert.equal(info.reserved_memory, 500);
});

test('account reservations follow creates, updates and deletes of streams', async (t) => {
  // Account A may reserve 1000 bytes of memory: every create and every max_bytes growth is checked
  // against what the account's other streams reserve at that moment, as nats-server checks it.
  const { nc: nca } = await startJs(t, {
    accounts: [
      { name: 'A', users: [{ user: 'a', password: 'a' }], jetstream: { enabled: true, maxMemory: 1000 }, exports: [], imports: [], mappings: {} },
    ],
    // The test's connection is user a of account A.
    noAuthUser: 'a',
  } as Partial<Options>);
  const noRoom = { code: 500, err_code: 10028, description: 'insufficient memory resources available' };
  const create = (name: string, maxBytes: number) => api(nca, `$JS.API.STREAM.CREATE.${name}`, { name, subjects: [name.toLowerCase()], storage: 'memory', max_bytes: maxBytes });
  const update = (name: string, maxBytes: number) => api(nca, `$JS.API.STREAM.UPDATE.${name}`, { name, subjects: [name.toLowerCase()], storage: 'memory', max_bytes: maxBytes });
  const reserved = async () => (await api(nca, '$JS.API.INFO')).reserved_memory as number;

  assert.equal((await create('S1', 600)).did_create, true);
  assert.equal(await reserved(), 600);
  assert.deepEqual((await create('S2', 600)).error, noRoom);
  // An update is checked against the other streams only, so S1 can keep or shrink its own 600.
  assert.equal((await update('S1', 600)).error, undefined);
  assert.equal((await update('S1', 300)).error, undefined);
  assert.equal(await reserved(), 300);
  assert.equal((await create('S2', 600)).did_create, true);
  assert.equal(await reserved(), 900);
  assert.deepEqual((await update('S2', 800)).error, noRoom);
  assert.equal((await api(nca, '$JS.API.STREAM.DELETE.S1')).success, true);
  assert.equal(await reserved(), 600);
  assert.equal((await update('S2', 800)).error, undefined);
  assert.equal(await reserved(), 800);
  assert.deepEqual((await create('S3', 300)).error, noRoom);
  assert.equal((await create('S3', 200)).did_create, true);
  assert.equal(await reserved(), 1000);
});

test('KV buckets through @nats-io/kv: create, put, get, update with revision, delete, purge', async (t) => {
  const { nc } = await startJs(t);
  const { Kvm } = await import('@nats-io/kv');
  const kvm = new Kvm(nc);
  const kv = await kvm.create('cfg', { history: 3 });
  const r1 = await kv.put('a', 'one');
  assert.equal(r1, 1);
  assert.equal((await kv.get('a'))?.string(), 'one');
  const r2 = await kv.update('a', 'two', r1);
  assert.equal(r2, 2);
  await assert.rejects(kv.update('a', 'three', r1));
  await assert.rejects(kv.create('a', 'dup'));
  assert.equal(await kv.create('b', 'bee'), 3); // rejected writes use no sequence
  await kv.delete('b');
  const del = await kv.get('b');
  assert.equal(del?.operation, 'DEL');
  await kv.purge('a');
  const purged = await kv.get('a');
  assert.equal(purged?.operation, 'PURGE');
  const jsm = await jetstreamManager(nc);
  const si = await jsm.streams.info('KV_cfg');
  assert.equal(si.config.allow_direct, true);
  assert.equal(si.config.max_msgs_per_subject, 3);
  assert.equal(si.state.messages, 3); // b's value and DEL marker, a's PURGE marker (the rollup removed a's history)
});

test('first_seq, metadata and compression round-trip; max_msgs_per_subject with discard new per subject', async (t) => {
  const { nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  const si = await jsm.streams.add({
    name: 'FS', subjects: ['fs.>'], storage: 'memory', first_seq: 100, metadata: { owner: 'team-a' }, compression: 's2' as any,
  });
  assert.equal(si.config.first_seq, 100);
  assert.deepEqual(si.config.metadata, { owner: 'team-a' });
  assert.equal(si.config.compression, 's2');
  const js = jetstream(nc);
  assert.equal((await js.publish('fs.a', 'x')).seq, 100);

  await jsm.streams.add({
    name: 'DN', subjects: ['dn.>'], storage: 'memory', max_msgs_per_subject: 1, discard: 'new' as any, discard_new_per_subject: true,
  });
  await js.publish('dn.k', '1');
  const second = await pub(nc, 'dn.k', '2');
  assert.deepEqual(second.error, { code: 503, err_code: 10077, description: 'maximum messages per subject exceeded' });
  assert.equal((await js.publish('dn.other', '1')).seq, 2);
});
