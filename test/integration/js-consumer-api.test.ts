// $JS.API.CONSUMER.* through raw requests and the official manager: create
// forms and their errors, create/update actions, update rules, names/list
// paging, delete, stepdown, advisories, ephemeral inactivity, limits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { startJetStreamClient } from '../helpers/js.js';
import { waitUntil } from '../helpers/wait.js';

async function setup(t: import('node:test').TestContext): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const { nc, jsm } = await startJetStreamClient(t, { memoryStreamS: true });
  return { nc, jsm };
}

type Json = Record<string, any>;

async function api(nc: NatsConnection, subject: string, body: unknown = ''): Promise<Json> {
  const r = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 2000 });
  return r.json<Json>();
}

function errOf(r: Json): [number, number] | undefined {
  return r.error ? [r.error.code, r.error.err_code] : undefined;
}

test('create forms: legacy ephemeral, named ephemeral, named + filter, legacy durable', async (t) => {
  const { nc } = await setup(t);
  const eph = await api(nc, '$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { ack_policy: 'explicit' } });
  assert.equal(eph.type, 'io.nats.jetstream.api.v1.consumer_create_response');
  assert.match(eph.name, /^[0-9A-Za-z]{8}$/);
  assert.equal(eph.config.name, eph.name);
  assert.equal(eph.config.inactive_threshold, 5_000_000_000, 'ephemerals get the 5s default');
  assert.equal(eph.config.durable_name, undefined);

  const named = await api(nc, '$JS.API.CONSUMER.CREATE.S.nm', { stream_name: 'S', config: { name: 'nm', ack_policy: 'none' } });
  assert.equal(named.name, 'nm');
  const filtered = await api(nc, '$JS.API.CONSUMER.CREATE.S.fl.s.x.*', {
    stream_name: 'S', config: { name: 'fl', durable_name: 'fl', filter_subject: 's.x.*', ack_policy: 'explicit' },
  });
  assert.equal(filtered.config.filter_subject, 's.x.*');
  assert.equal(filtered.config.durable_name, 'fl');
  const legacy = await api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.S.old', { stream_name: 'S', config: { durable_name: 'old', ack_policy: 'explicit' } });
  assert.equal(legacy.name, 'old');
  assert.equal(legacy.config.name, 'old');
  assert.equal(legacy.config.max_ack_pending, 1000);
  assert.equal(legacy.num_pending, 0);
  assert.ok(typeof legacy.ts === 'string' && typeof legacy.created === 'string');
  const names = await api(nc, '$JS.API.CONSUMER.NAMES.S');
  assert.deepEqual(names.consumers, [eph.name, 'fl', 'nm', 'old'].sort());
  assert.deepEqual([names.total, names.offset, names.limit], [4, 0, 1024]);
});

test('create errors carry nats-server codes', async (t) => {
  const { nc } = await setup(t);
  const cases: Array<[string, unknown, [number, number]]> = [
    ['$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { durable_name: 'd' } }, [400, 10020]],
    ['$JS.API.CONSUMER.CREATE.S.abc', { stream_name: 'S', config: { durable_name: 'x' } }, [400, 10017]],
    ['$JS.API.CONSUMER.DURABLE.CREATE.S.abc', { stream_name: 'S', config: {} }, [400, 10018]],
    ['$JS.API.CONSUMER.DURABLE.CREATE.S.abc', { stream_name: 'S', config: { durable_name: 'zzz' } }, [400, 10017]],
    ['$JS.API.CONSUMER.CREATE.S.abc.s.b', { stream_name: 'S', config: { filter_subject: 's.c' } }, [400, 10131]],
    ['$JS.API.CONSUMER.CREATE.S.abc.s.b', { stream_name: 'S', config: { filter_subjects: ['s.b'] } }, [400, 10137]],
    ['$JS.API.CONSUMER.CREATE.X', { stream_name: 'S', config: {} }, [400, 10056]],
    ['$JS.API.CONSUMER.CREATE.NOPE', { stream_name: 'NOPE', config: {} }, [404, 10059]],
    ['$JS.API.CONSUMER.CREATE.S', 'garbage', [400, 10025]],
    ['$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { bogus: true } }, [400, 10025]],
    ['$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { deliver_policy: 'by_start_sequence' } }, [400, 10094]],
    ['$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { num_replicas: 3 } }, [500, 10074]],
    ['$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { deliver_subject: 'a', flow_control: true } }, [400, 10108]],
    ['$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { deliver_subject: 's.loop' } }, [400, 10081]],
    ['$JS.API.CONSUMER.CREATE.S.a\\b', { stream_name: 'S', config: {} }, [400, 10127]],
  ];
  for (const [subj, body, want] of cases) {
    const r = await api(nc, subj, body);
    assert.deepEqual(errOf(r), want, `${subj} ${JSON.stringify(body)} -> ${JSON.stringify(r)}`);
    assert.equal(r.type, 'io.nats.jetstream.api.v1.consumer_create_response');
  }
  const bad = await api(nc, '$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { ack_wait: 'soon' } });
  assert.equal(bad.error.description,
    'invalid JSON: json: cannot unmarshal string into Go struct field CreateConsumerRequest.config.ack_wait of type time.Duration');
});

test('actions: create on a different existing config fails, update of a missing consumer fails, idempotent re-create', async (t) => {
  const { nc, jsm } = await setup(t);
  const cfg = { durable_name: 'D', ack_policy: 'explicit' };
  const a = await api(nc, '$JS.API.CONSUMER.CREATE.S.D', { stream_name: 'S', config: cfg, action: 'create' });
  assert.equal(a.error, undefined);
  const again = await api(nc, '$JS.API.CONSUMER.CREATE.S.D', { stream_name: 'S', config: cfg, action: 'create' });
  assert.equal(again.error, undefined, 'identical create is fine');
  assert.equal(again.created, a.created);
  const diff = await api(nc, '$JS.API.CONSUMER.CREATE.S.D', { stream_name: 'S', config: { ...cfg, description: 'x' }, action: 'create' });
  assert.deepEqual(errOf(diff), [400, 10148]);
  const upd = await api(nc, '$JS.API.CONSUMER.CREATE.S.Z', { stream_name: 'S', config: { durable_name: 'Z' }, action: 'update' });
  assert.deepEqual(errOf(upd), [400, 10149]);
  const ok = await api(nc, '$JS.API.CONSUMER.CREATE.S.D', { stream_name: 'S', config: { ...cfg, description: 'x', max_ack_pending: 5 }, action: 'update' });
  assert.equal(ok.error, undefined);
  assert.equal(ok.config.description, 'x');
  assert.equal(ok.config.max_ack_pending, 5);
  const ci = await jsm.consumers.info('S', 'D');
  assert.equal(ci.config.max_ack_pending, 5);
});

test('update rules: forbidden changes are 10012 with the nats-server reason', async (t) => {
  const { nc, jsm } = await setup(t);
  await jsm.consumers.add('S', { durable_name: 'U', ack_policy: AckPolicy.Explicit });
  const base = { durable_name: 'U', ack_policy: 'explicit' };
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ deliver_policy: 'new' }, 'deliver policy can not be updated'],
    [{ ack_policy: 'all' }, 'ack policy can not be updated'],
    [{ replay_policy: 'original' }, 'replay policy can not be updated'],
    [{ deliver_subject: 'p' }, 'can not update pull consumer to push based'],
    [{ max_waiting: 10 }, 'max waiting can not be updated'],
    [{ mem_storage: true }, 'storage type can not be updated'],
  ];
  for (const [delta, desc] of cases) {
    const r = await api(nc, '$JS.API.CONSUMER.DURABLE.CREATE.S.U', { stream_name: 'S', config: { ...base, ...delta } });
    assert.deepEqual(r.error, { code: 500, err_code: 10012, description: desc }, JSON.stringify(delta));
  }
  const updated = await jsm.consumers.update('S', 'U', { description: 'changed', filter_subject: 's.q', max_deliver: 7 });
  assert.equal(updated.config.description, 'changed');
  assert.equal(updated.config.filter_subject, 's.q');
  assert.equal(updated.config.max_deliver, 7);
});

test('info, names/list paging, delete, stepdown', async (t) => {
  const { nc, jsm } = await setup(t);
  for (let i = 0; i < 5; i++) await jsm.consumers.add('S', { durable_name: `c${i}`, ack_policy: AckPolicy.Explicit });
  const page = await api(nc, '$JS.API.CONSUMER.NAMES.S', { offset: 3 });
  assert.deepEqual(page.consumers, ['c3', 'c4']);
  assert.deepEqual([page.total, page.offset, page.limit], [5, 3, 1024]);
  const list = await api(nc, '$JS.API.CONSUMER.LIST.S', { offset: 4 });
  assert.deepEqual(list.consumers.map((c: Json) => c.name), ['c4']);
  assert.equal(list.limit, 256);
  const lister = await jsm.consumers.list('S').next();
  assert.equal(lister.length, 5);
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.NAMES.NOPE')), [404, 10059]);
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.INFO.S.nope')), [404, 10014]);
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.INFO.S.c1', '{"x":1}')), [400, 10038]);
  assert.equal((await api(nc, '$JS.API.CONSUMER.INFO.S.c1', '{}')).name, 'c1');
  const del = await api(nc, '$JS.API.CONSUMER.DELETE.S.c1');
  assert.deepEqual(del, { type: 'io.nats.jetstream.api.v1.consumer_delete_response', success: true });
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.DELETE.S.c1')), [404, 10014]);
  const sd = await api(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.S.c2');
  assert.deepEqual(sd, {
    type: 'io.nats.jetstream.api.v1.consumer_leader_stepdown_response',
    error: { code: 503, err_code: 10010, description: 'JetStream clustering support required' },
  });
  assert.equal((await jsm.streams.info('S')).state.consumer_count, 4);
  // Re-created under a deleted name: a fresh consumer.
  await nc.request('s.x', 'one');
  const again = await jsm.consumers.add('S', { durable_name: 'c1', ack_policy: AckPolicy.Explicit });
  assert.deepEqual([again.delivered.stream_seq, again.num_pending, again.num_ack_pending], [0, 1, 0]);
});

test('created/deleted advisories have nats-server consumer_action shape', async (t) => {
  const { nc, jsm } = await setup(t);
  const advs: Array<[string, Json]> = [];
  nc.subscribe('$JS.EVENT.ADVISORY.CONSUMER.>', { callback: (_e, m) => { advs.push([m.subject, m.json<Json>()]); } });
  await nc.flush();
  await jsm.consumers.add('S', { durable_name: 'ADV', ack_policy: AckPolicy.Explicit });
  await jsm.consumers.delete('S', 'ADV');
  await waitUntil(() => advs.length === 2, 2000, 'advisories');
  assert.equal(advs[0]![0], '$JS.EVENT.ADVISORY.CONSUMER.CREATED.S.ADV');
  assert.deepEqual(Object.keys(advs[0]![1]), ['type', 'id', 'timestamp', 'stream', 'consumer', 'action']);
  assert.equal(advs[0]![1].type, 'io.nats.jetstream.advisory.v1.consumer_action');
  assert.equal(advs[0]![1].action, 'create');
  assert.match(advs[0]![1].id, /^[0-9A-Za-z]{22}$/);
  assert.equal(advs[1]![0], '$JS.EVENT.ADVISORY.CONSUMER.DELETED.S.ADV');
  assert.equal(advs[1]![1].action, 'delete');
});

test('ephemeral consumers go away after inactive_threshold; durables with a threshold too', async (t) => {
  const { nc, jsm } = await setup(t);
  const e = await api(nc, '$JS.API.CONSUMER.CREATE.S', { stream_name: 'S', config: { ack_policy: 'explicit', inactive_threshold: 200_000_000 } });
  await jsm.consumers.add('S', { durable_name: 'dt', ack_policy: AckPolicy.Explicit, inactive_threshold: 300_000_000 });
  await jsm.consumers.add('S', { durable_name: 'keep', ack_policy: AckPolicy.Explicit });
  await waitUntil(async () => (await api(nc, '$JS.API.CONSUMER.NAMES.S')).consumers.length === 1, 4000, 'inactive ones removed');
  assert.deepEqual((await api(nc, '$JS.API.CONSUMER.NAMES.S')).consumers, ['keep']);
  assert.deepEqual(errOf(await api(nc, `$JS.API.CONSUMER.INFO.S.${e.name}`)), [404, 10014]);
});

test('limits: max_consumers, workqueue rules', async (t) => {
  const { nc, jsm } = await setup(t);
  await jsm.streams.add({ name: 'L', subjects: ['l.>'], max_consumers: 1, storage: 'memory' as never });
  await jsm.consumers.add('L', { durable_name: 'one', ack_policy: AckPolicy.Explicit });
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.CREATE.L.two', { stream_name: 'L', config: { name: 'two' } })), [400, 10026]);
  await jsm.streams.add({ name: 'WQ', subjects: ['wq.>'], retention: 'workqueue' as never, storage: 'memory' as never });
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.CREATE.WQ.a', { stream_name: 'WQ', config: { name: 'a', ack_policy: 'none' } })), [400, 10084]);
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.CREATE.WQ.a', { stream_name: 'WQ', config: { name: 'a', ack_policy: 'all' } })), [400, 10098]);
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.CREATE.WQ.a', {
    stream_name: 'WQ', config: { name: 'a', ack_policy: 'explicit', deliver_policy: 'new' },
  })), [400, 10101]);
  await jsm.consumers.add('WQ', { name: 'w1', ack_policy: AckPolicy.Explicit, filter_subject: 'wq.a.>' });
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.CREATE.WQ.w2', {
    stream_name: 'WQ', config: { name: 'w2', ack_policy: 'explicit' },
  })), [400, 10099]);
  assert.deepEqual(errOf(await api(nc, '$JS.API.CONSUMER.CREATE.WQ.w2', {
    stream_name: 'WQ', config: { name: 'w2', ack_policy: 'explicit', filter_subject: 'wq.*.x' },
  })), [400, 10100]);
  const w3 = await api(nc, '$JS.API.CONSUMER.CREATE.WQ.w3', { stream_name: 'WQ', config: { name: 'w3', ack_policy: 'explicit', filter_subject: 'wq.b' } });
  assert.equal(w3.error, undefined);
});

test('deliver policies pick the right start', async (t) => {
  const { nc, jsm } = await setup(t);
  for (const [subj, v] of [['s.a', 1], ['s.b', 2], ['s.a', 3], ['s.c', 4], ['s.b', 5]] as const) {
    await nc.request(subj, String(v));
  }
  const start = async (cfg: Record<string, unknown>): Promise<[number, number]> => {
    const ci = await jsm.consumers.add('S', { ack_policy: AckPolicy.None, ...cfg });
    return [ci.num_pending, ci.delivered.stream_seq];
  };
  assert.deepEqual(await start({ deliver_policy: DeliverPolicy.All }), [5, 0]);
  assert.deepEqual(await start({ deliver_policy: DeliverPolicy.Last }), [1, 4]);
  assert.deepEqual(await start({ deliver_policy: DeliverPolicy.New }), [0, 5]);
  assert.deepEqual(await start({ deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 3 }), [3, 2]);
  assert.deepEqual(await start({ deliver_policy: DeliverPolicy.Last, filter_subject: 's.a' }), [1, 2]);
  assert.deepEqual(await start({ deliver_policy: DeliverPolicy.LastPerSubject, filter_subject: 's.>' }), [3, 2]);
  const info = await jsm.streams.info('S');
  const ts = info.state.first_ts;
  assert.deepEqual(await start({ deliver_policy: DeliverPolicy.StartTime, opt_start_time: ts }), [5, 0]);
});
