// Consumer API and pull protocol side by side with nats-server 2.9.10, raw
// (what any client sees on the wire): deliver policies, headers_only,
// metadata, config updates, validation errors, pull status replies
// (no_wait, expires, max_bytes, max_request_*), malformed requests,
// deleting a consumer mid-fetch, ephemeral inactive_threshold removal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { sideBySide, startNatsServer, startTsnats, waitFor, type VersionDiff } from './js-consumer-sbs.js';

type Json = Record<string, any>;
const MS = 1_000_000;

/** Newer servers start a consumer's ack floor at its start position - 1 (2.9.10: 0), like `delivered`. */
const initialAckFloor: VersionDiff = {
  why: 'newer servers report the initial ack floor as start-1, the same as delivered (2.9.10: 0)',
  expect: (x) => ({ ...(x as Json), ack_floor: { ...(x as Json).delivered } }),
};

/** Answer of a JetStream API request with volatile fields removed. */
async function api(nc: NatsConnection, subject: string, body: unknown = ''): Promise<unknown> {
  const r = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 3000 });
  const j = r.json<Json>();
  if (j.error) return { error: j.error };
  const c = j.config ?? {};
  // last_active: nats-server prints nanoseconds, tsnats milliseconds (both RFC 3339).
  const seqs = (x: Json | undefined) => (x ? { consumer_seq: x.consumer_seq, stream_seq: x.stream_seq } : x);
  return {
    name: j.name, num_pending: j.num_pending, num_ack_pending: j.num_ack_pending, delivered: seqs(j.delivered), ack_floor: seqs(j.ack_floor),
    cfg: [c.deliver_policy, c.opt_start_seq, c.ack_policy, c.headers_only, c.max_waiting, c.max_batch, c.max_expires, c.max_bytes, c.inactive_threshold, c.description, c.max_ack_pending, c.sample_freq]
      .map((x) => x ?? '-').join(' '),
  };
}

/** Issue one pull and collect what comes back (messages and status lines) until `want` or quiet. */
async function pull(nc: NatsConnection, stream: string, consumer: string, body: unknown, want: number, waitMs = 1500): Promise<string[]> {
  const inbox = createInbox();
  const got: string[] = [];
  const sub = nc.subscribe(inbox, {
    callback: (_e, m: Msg) => {
      if (m.headers?.code) {
        const pend = m.headers.get('Nats-Pending-Messages');
        const pb = m.headers.get('Nats-Pending-Bytes');
        got.push(`${m.headers.code} ${m.headers.description}${pend ? ` pending=${pend}/${pb}` : ''}`);
      } else {
        const hdr = m.headers ? ` hdr:${[...m.headers.keys()].sort().join(',')}` : '';
        got.push(`${m.subject} s${m.reply!.split('.')[5]} ${m.data.length}b${hdr}`);
      }
    },
  });
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, typeof body === 'string' ? body : JSON.stringify(body), { reply: inbox });
  await waitFor(() => got.length >= want, waitMs, `${want} pull replies`).catch(() => undefined);
  sub.unsubscribe();
  // 2.9.10 ends a no_wait request that got part of its batch with 408, newer servers with 404.
  return got.map((l) => (l.startsWith('408 Request Timeout') && (body as Json).no_wait ? '404 No Messages' : l));
}

test('deliver policies, headers_only, updates, validation — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  const obs = await sideBySide(t, urls, async (nc, out) => {
    await nc.request('$JS.API.STREAM.CREATE.D', JSON.stringify({ name: 'D', subjects: ['d.*'], storage: 'memory' }));
    const h = headers();
    h.set('X-Trace', 'yes');
    for (let i = 1; i <= 6; i++) await nc.request(`d.${i % 3}`, `payload-${i}`, i === 2 ? { headers: h, timeout: 3000 } : { timeout: 3000 });
    const create = async (name: string, cfg: Json) => api(nc, `$JS.API.CONSUMER.CREATE.D.${name}`, { stream_name: 'D', config: { name, durable_name: name, ack_policy: 'explicit', ...cfg } });
    out.push(await create('ALL', {}));
    out.push(await create('LAST', { deliver_policy: 'last' }));
    out.push(await create('NEW', { deliver_policy: 'new' }));
    out.push(await create('SEQ', { deliver_policy: 'by_start_sequence', opt_start_seq: 4 }));
    out.push(await create('LPS', { deliver_policy: 'last_per_subject', filter_subject: 'd.*' }));
    out.push(await create('HO', { headers_only: true, filter_subject: 'd.2' }));
    out.push(await create('TIME', { deliver_policy: 'by_start_time', opt_start_time: '2000-01-01T00:00:00Z' }));
    out.push(['pull ALL', await pull(nc, 'D', 'ALL', { batch: 2 }, 2)]);
    out.push(['pull LAST', await pull(nc, 'D', 'LAST', { batch: 3, no_wait: true }, 2)]);
    out.push(['pull NEW', await pull(nc, 'D', 'NEW', { batch: 1, no_wait: true }, 1)]);
    out.push(['pull SEQ', await pull(nc, 'D', 'SEQ', { batch: 5, no_wait: true }, 4)]);
    out.push(['pull LPS', await pull(nc, 'D', 'LPS', { batch: 5, no_wait: true }, 4)]);
    out.push(['pull HO', await pull(nc, 'D', 'HO', { batch: 5, no_wait: true }, 3)]);
    out.push(['pull TIME', await pull(nc, 'D', 'TIME', { batch: 1, no_wait: true }, 1)]);
    // Validation errors.
    out.push(await create('BAD1', { deliver_policy: 'by_start_sequence' }));
    out.push(await create('BAD2', { deliver_policy: 'all', opt_start_seq: 3 }));
    out.push(await create('BAD3', { deliver_policy: 'by_start_time' }));
    out.push(await create('BAD4', { filter_subject: 'x.y' }));
    out.push(await create('BAD5', { max_waiting: -1 }));
    out.push(await create('BAD6', { ack_policy: 'none', max_ack_pending: 5 }));
    out.push(await create('BAD7', { deliver_subject: 'push.x', max_waiting: 5 }));
    out.push(await create('BAD8', { max_batch: -1 }));
    out.push(await create('BAD9', { sample_freq: 'abc' }));
    out.push(await create('BAD10', { description: 'x'.repeat(5000) }));
    out.push(await api(nc, '$JS.API.CONSUMER.CREATE.D.bad.name', { stream_name: 'D', config: { name: 'bad.name', ack_policy: 'explicit' } }));
    out.push(await api(nc, '$JS.API.CONSUMER.CREATE.D.X', 'not json'));
    out.push(await api(nc, '$JS.API.CONSUMER.CREATE.D.X', { stream_name: 'OTHER', config: { name: 'X' } }));
    // Updates: allowed and refused changes.
    out.push(await create('ALL', { description: 'now described', max_ack_pending: 50, sample_freq: '100%' }));
    out.push(await create('ALL', { deliver_policy: 'last' }));
    out.push(await create('ALL', { ack_policy: 'all' }));
    out.push(await create('ALL', { filter_subject: 'd.1' }));
    out.push(await create('ALL', { deliver_subject: 'now.push' }));
    out.push(await api(nc, '$JS.API.CONSUMER.NAMES.D'));
    const names = (await nc.request('$JS.API.CONSUMER.NAMES.D', '', { timeout: 3000 })).json<Json>();
    out.push(['names', names.consumers.sort(), names.total]);
  }, {
    1: initialAckFloor, 2: initialAckFloor, 3: initialAckFloor, 4: initialAckFloor,
    17: {
      why: '2.10 dropped the "filter subject is not a valid subset" (10093) check: created like ALL, with nothing pending for x.y',
      expect: (_x, all) => ({ ...(all[0] as Json), name: 'BAD4', num_pending: 0 }),
    },
    24: {
      why: '2.9.10 has no $JS.API.CONSUMER.CREATE.<stream>.<name>.<filter> form; newer servers refuse a filter that differs (10131)',
      expect: () => ({ error: { code: 400, err_code: 10131, description: 'Consumer create request did not match filtered subject from create subject' } }),
    },
    25: {
      why: 'newer servers append the decoder error to "invalid JSON" (server/jetstream_api.go unmarshalRequest: Go json error + " at offset N")',
      expect: (x) => ({ error: { ...(x as Json).error, description: `${(x as Json).error.description}: invalid character 'o' in literal null (expecting 'u') at offset 2` } }),
    },
    31: {
      why: 'newer servers check the deliver subject change first',
      expect: (x) => ({ error: { ...(x as Json).error, description: 'can not update pull consumer to push based' } }),
    },
    33: {
      why: 'consumer names follow from steps 17 and 24 (negative max_waiting / max_batch are refused as in 2.9.10)',
      expect: (x) => {
        const names = [...((x as [string, string[], number])[1]).filter((n) => n !== 'bad'), 'BAD4'].sort();
        return ['names', names, names.length];
      },
    },
  });
  // tsnats' side of the known differences (newer nats-server behaviour).
  assert.deepEqual((obs[1] as Json).ack_floor, { consumer_seq: 0, stream_seq: 5 });
  assert.equal((obs[24] as Json).error.err_code, 10131);
  assert.equal((obs[25] as Json).error.err_code, 10025);
  assert.equal((obs[31] as Json).error.description, 'can not update pull consumer to push based');
});

test('durable/legacy create forms, push rebinding, list paging, config checks — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  const obs = await sideBySide(t, urls, async (nc, out) => {
    const req = async (s: string, b: unknown = '') => {
      const r = (await nc.request(s, typeof b === 'string' ? b : JSON.stringify(b), { timeout: 3000 })).json<Json>();
      return r.error ? `ERR ${r.error.err_code} ${r.error.description}`
        : JSON.stringify({ n: r.name, c: r.consumers?.length ?? r.consumers, t: r.total, o: r.offset, md: r.config?.max_deliver, dsub: r.config?.deliver_subject, pb: r.push_bound, meta: r.config?.metadata });
    };
    await req('$JS.API.STREAM.CREATE.E', { name: 'E', subjects: ['e.>'], storage: 'memory' });
    const sub = nc.subscribe('old.dlv');
    await nc.flush();
    out.push(await req('$JS.API.CONSUMER.DURABLE.CREATE.E.PD', { stream_name: 'E', config: { durable_name: 'PD', deliver_subject: 'old.dlv', ack_policy: 'explicit', max_deliver: 0 } }));
    out.push(await req('$JS.API.CONSUMER.DURABLE.CREATE.E.PD', { stream_name: 'E', config: { durable_name: 'PD', deliver_subject: 'new.dlv', ack_policy: 'explicit' } }));
    out.push(await req('$JS.API.CONSUMER.DURABLE.CREATE.E.X', { stream_name: 'E', config: { durable_name: 'Y', ack_policy: 'explicit' } }));
    out.push(await req('$JS.API.CONSUMER.CREATE.E', { stream_name: 'E', config: { durable_name: 'Z', ack_policy: 'explicit' } }));
    out.push(await req('$JS.API.CONSUMER.INFO.NOPE.X'));
    for (let i = 0; i < 3; i++) await req(`$JS.API.CONSUMER.DURABLE.CREATE.E.L${i}`, { stream_name: 'E', config: { durable_name: `L${i}`, ack_policy: 'explicit', filter_subject: `e.${i}` } });
    out.push(await req('$JS.API.CONSUMER.LIST.E', { offset: 2 }));
    out.push(await req('$JS.API.CONSUMER.NAMES.E', 'garbage'));
    out.push(await req('$JS.API.CONSUMER.DELETE.E.PD', '{"x":1}'));
    out.push(await req('$JS.API.CONSUMER.DURABLE.CREATE.E.AW', { stream_name: 'E', config: { durable_name: 'AW', ack_policy: 'explicit', ack_wait: -5 } }));
    out.push(await req('$JS.API.CONSUMER.DURABLE.CREATE.E.HB', { stream_name: 'E', config: { durable_name: 'HB', ack_policy: 'explicit', idle_heartbeat: 1e9 } }));
    out.push(await req('$JS.API.CONSUMER.DURABLE.CREATE.E.FC', { stream_name: 'E', config: { durable_name: 'FC', ack_policy: 'explicit', deliver_subject: 'fc.x', flow_control: true } }));
    out.push(await req('$JS.API.CONSUMER.DURABLE.CREATE.E.DG', { stream_name: 'E', config: { durable_name: 'DG', ack_policy: 'explicit', deliver_group: 'g' } }));
    out.push(await req('$JS.API.CONSUMER.DURABLE.CREATE.E.MD', { stream_name: 'E', config: { durable_name: 'MD', ack_policy: 'explicit', metadata: { team: 'x' } } }));
    sub.unsubscribe();
  }, {
    6: {
      why: 'newer servers ignore a non-JSON NAMES body (2.9.10: invalid JSON): every name, as many as LIST counted',
      expect: (_x, all) => {
        const total = (JSON.parse(String(all[5])) as { t: number }).t;
        return JSON.stringify({ c: total, t: total, o: 0 });
      },
    },
    8: {
      why: 'newer servers refuse a negative ack_wait (JSConsumerAckWaitNegativeErr, 10183); 2.9.10 accepts it',
      expect: () => 'ERR 10183 consumer ack wait needs to be positive',
    },
    12: {
      why: 'consumer metadata came with 2.10 (2.9.10 drops it)',
      expect: (x) => JSON.stringify({ ...JSON.parse(String(x)), meta: { team: 'x' } }),
    },
  });
  assert.equal(obs[6], JSON.stringify({ c: 4, t: 4, o: 0 }));
  assert.match(String(obs[12]), /"meta":\{"team":"x"\}/);
  assert.match(String(obs[8]), /^ERR \d+ consumer ack wait needs to be positive$/);
});

test('pull status replies, malformed requests, delete mid-fetch, inactive threshold — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  await sideBySide(t, urls, async (nc, out) => {
    await nc.request('$JS.API.STREAM.CREATE.P', JSON.stringify({ name: 'P', subjects: ['p.*'], storage: 'memory' }));
    for (let i = 1; i <= 4; i++) await nc.request('p.x', 'x'.repeat(100 * i));
    const create = async (name: string, cfg: Json) => api(nc, `$JS.API.CONSUMER.CREATE.P.${name}`, { stream_name: 'P', config: { name, durable_name: name, ack_policy: 'explicit', ...cfg } });
    out.push(await create('L', { max_batch: 3, max_expires: 2000 * MS, max_bytes: 1000, max_waiting: 1 }));
    out.push(['batch over max', await pull(nc, 'P', 'L', { batch: 5 }, 1)]);
    out.push(['expires over max', await pull(nc, 'P', 'L', { batch: 1, expires: 5000 * MS }, 1)]);
    out.push(['bytes over max', await pull(nc, 'P', 'L', { batch: 1, max_bytes: 5000 }, 1)]);
    out.push(['max_bytes too small', await pull(nc, 'P', 'L', { batch: 2, max_bytes: 50 }, 1)]);
    out.push(['max_bytes partial', await pull(nc, 'P', 'L', { batch: 3, max_bytes: 350 }, 3)]);
    out.push(['no_wait rest', await pull(nc, 'P', 'L', { batch: 3, no_wait: true }, 3)]);
    out.push(['no_wait empty', await pull(nc, 'P', 'L', { batch: 1, no_wait: true }, 1)]);
    out.push(['expires empty', await pull(nc, 'P', 'L', { batch: 1, expires: 200 * MS }, 1)]);
    out.push(['heartbeat', (await pull(nc, 'P', 'L', { batch: 1, expires: 900 * MS, idle_heartbeat: 300 * MS }, 3)).slice(0, 3)]);
    out.push(['heartbeat > expires/2', await pull(nc, 'P', 'L', { batch: 1, expires: 400 * MS, idle_heartbeat: 300 * MS }, 1)]);
    out.push(['malformed json', await pull(nc, 'P', 'L', '{bad', 1)]);
    out.push(['negative batch', await pull(nc, 'P', 'L', { batch: -1 }, 1, 500)]);
    out.push(await create('PN', {}));
    out.push(['plain number', await pull(nc, 'P', 'PN', '2', 2)]);
    out.push(['unknown consumer', await pull(nc, 'P', 'nope', { batch: 1, no_wait: true }, 1, 500)]);
    // Deleting a consumer while a request waits: "409 Consumer Deleted".
    out.push(await create('DEL', {}));
    await pull(nc, 'P', 'DEL', { batch: 4, no_wait: true }, 4);
    const inbox = createInbox();
    const waiting: string[] = [];
    const sub = nc.subscribe(inbox, { callback: (_e, m) => { waiting.push(`${m.headers?.code} ${m.headers?.description}`); } });
    nc.publish('$JS.API.CONSUMER.MSG.NEXT.P.DEL', JSON.stringify({ batch: 1, expires: 5000 * MS }), { reply: inbox });
    await nc.flush();
    out.push(await api(nc, '$JS.API.CONSUMER.DELETE.P.DEL'));
    await waitFor(() => waiting.length > 0, 2000, 'consumer deleted status');
    sub.unsubscribe();
    out.push(['mid-fetch delete', waiting]);
    // Pull on a push consumer.
    out.push(await api(nc, '$JS.API.CONSUMER.CREATE.P.PUSH', { stream_name: 'P', config: { name: 'PUSH', durable_name: 'PUSH', deliver_subject: 'somewhere', ack_policy: 'explicit' } }));
    out.push(['pull on push', await pull(nc, 'P', 'PUSH', { batch: 1 }, 1)]);
    // Ephemeral with inactive_threshold disappears; the server keeps serving.
    out.push(await api(nc, '$JS.API.CONSUMER.CREATE.P.EPH', { stream_name: 'P', config: { name: 'EPH', ack_policy: 'explicit', inactive_threshold: 300 * MS } }));
    const deadline = Date.now() + 3000;
    let gone: unknown;
    while (Date.now() < deadline) {
      gone = await api(nc, '$JS.API.CONSUMER.INFO.P.EPH');
      if ((gone as Json).error) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    out.push(['ephemeral after threshold', gone]);
    out.push(await api(nc, '$JS.API.CONSUMER.INFO.P.L'));
  });
});
