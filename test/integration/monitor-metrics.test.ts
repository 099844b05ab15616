// /metrics: the Prometheus text page of the monitoring port, parsed by a strict parser and
// checked against /varz /connz /jsz of the same server (names as prometheus-nats-exporter).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startServer, type ServerHandle } from '../../src/index.js';
import { Exposition } from '../../src/monitor/prom-text.js';
import { parsePrometheus, sampleOf } from '../helpers/prom-parse.js';
import { startTestServer } from '../helpers/server.js';

async function startJs(t: TestContext): Promise<{ h: ServerHandle; nc: NatsConnection }> {
  // storeDir '': startTestServer gives the server a private temp store and removes it afterwards.
  const h = await startTestServer({
    httpPort: 0,
    jetstream: { enabled: true, storeDir: '', maxMemoryBytes: 64 * 1024 * 1024, maxFileBytes: 256 * 1024 * 1024, syncIntervalMs: 'always', strict: true },
  }, t);
  const nc = await connect({ servers: h.clientUrl, reconnect: false });
  t.after(() => nc.close().catch(() => {}));
  return { h, nc };
}

async function get(h: ServerHandle, path: string): Promise<{ status: number; type: string; text: string }> {
  const r = await fetch(`http://127.0.0.1:${h.httpPort}${path}`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
}

test('/metrics: server, connection and JetStream figures in Prometheus text, matching /varz and /jsz', async (t) => {
  const { h, nc } = await startJs(t);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], max_msgs: 1000 });
  await jsm.consumers.add('ORDERS', { durable_name: 'proc', ack_policy: AckPolicy.Explicit, description: 'says "hi"\\ok' });
  const js = jetstream(nc);
  for (let i = 0; i < 3; i++) await js.publish(`orders.${i}`, 'x'.repeat(10));
  const c = await js.consumers.get('ORDERS', 'proc');
  // Two delivered, one of them nak'ed and delivered again: 2 ack pending, 1 redelivered, 1 pending.
  const first = await c.fetch({ max_messages: 2, expires: 5000 });
  let n = 0;
  for await (const m of first) {
    if (n++ === 0) m.nak();
  }
  const again = await c.next({ expires: 5000 });
  assert.equal(again?.redelivered, true);
  await nc.flush();

  const r = await get(h, '/metrics');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
  const fams = parsePrometheus(r.text);
  const varz = JSON.parse((await get(h, '/varz')).text);
  const jsz = JSON.parse((await get(h, '/jsz?consumers=true&config=true')).text);
  const sid = { server_id: varz.server_id };

  // Server (exporter: gnatsd_varz_<flattened varz field>{server_id}).
  for (const k of ['connections', 'total_connections', 'subscriptions', 'max_payload', 'slow_consumers', 'cores']) {
    assert.equal(sampleOf(fams, `gnatsd_varz_${k}`, sid).value, varz[k], k);
  }
  // Counters move between the two scrapes only by what the scrapes themselves do (no client traffic).
  for (const k of ['in_msgs', 'out_msgs', 'in_bytes', 'out_bytes']) {
    assert.equal(fams.get(`gnatsd_varz_${k}`)!.type, 'counter', k);
    assert.equal(sampleOf(fams, `gnatsd_varz_${k}`, sid).value, varz[k], k);
  }
  assert.equal(fams.get('gnatsd_varz_connections')!.type, 'gauge');
  assert.ok(sampleOf(fams, 'gnatsd_varz_mem', sid).value > 0);
  assert.ok(Number.isFinite(sampleOf(fams, 'gnatsd_varz_cpu', sid).value));
  assert.equal(sampleOf(fams, 'gnatsd_varz_jetstream_config_max_memory', sid).value, 64 * 1024 * 1024);
  assert.equal(sampleOf(fams, 'gnatsd_varz_start', sid).value, Date.parse(varz.start));
  assert.equal(sampleOf(fams, 'gnatsd_varz_version', sid).labels.value, varz.version);
  // The scrape of /metrics counts itself in http_req_stats ('/metrics' flattened to 'metrics').
  assert.equal(sampleOf(fams, 'gnatsd_varz_http_req_stats_metrics', sid).value, 1);
  assert.equal(sampleOf(fams, 'gnatsd_connz_num_connections', sid).value, 1);
  const connz = JSON.parse((await get(h, '/connz')).text);
  assert.equal(sampleOf(fams, 'gnatsd_connz_subscriptions', sid).value, connz.connections[0].subscriptions);
  assert.equal(sampleOf(fams, 'gnatsd_connz_in_msgs', sid).value, connz.connections[0].in_msgs);
  assert.equal(sampleOf(fams, 'gnatsd_routez_num_routes', sid).value, 0);
  assert.equal(sampleOf(fams, 'gnatsd_healthz_status', sid).value, 0);
  assert.deepEqual(sampleOf(fams, 'gnatsd_healthz_status_value', sid), { labels: { ...sid, value: 'ok' }, value: 1 });

  // JetStream (exporter: jetstream_server_*, jetstream_stream_*, jetstream_consumer_*).
  const server = { server_id: varz.server_id, server_name: varz.server_name, is_meta_leader: 'true' };
  assert.equal(sampleOf(fams, 'jetstream_server_total_streams', server).value, jsz.streams);
  assert.equal(sampleOf(fams, 'jetstream_server_total_consumers', server).value, 1);
  assert.equal(sampleOf(fams, 'jetstream_server_total_messages', server).value, 3);
  assert.equal(sampleOf(fams, 'jetstream_server_total_message_bytes', server).value, jsz.bytes);
  assert.equal(sampleOf(fams, 'jetstream_server_max_storage', server).value, 256 * 1024 * 1024);
  assert.equal(sampleOf(fams, 'jetstream_server_jetstream_disabled', server).value, 0);
  const acc = jsz.account_details[0];
  assert.equal(sampleOf(fams, 'jetstream_account_storage_used', { account: '$G' }).value, acc.storage);
  const st = acc.stream_detail.find((s: any) => s.name === 'ORDERS');
  const sl = { account: '$G', stream_name: 'ORDERS', is_stream_leader: 'true' };
  assert.equal(sampleOf(fams, 'jetstream_stream_total_messages', sl).value, 3);
  assert.equal(sampleOf(fams, 'jetstream_stream_total_bytes', sl).value, st.state.bytes);
  assert.equal(sampleOf(fams, 'jetstream_stream_first_seq', sl).value, 1);
  assert.equal(sampleOf(fams, 'jetstream_stream_last_seq', sl).value, 3);
  assert.equal(sampleOf(fams, 'jetstream_stream_consumer_count', sl).value, 1);
  assert.equal(sampleOf(fams, 'jetstream_stream_limit_messages', sl).value, 1000);
  const cl = { ...sl, consumer_name: 'proc' };
  const ci = st.consumer_detail[0];
  const cons = sampleOf(fams, 'jetstream_consumer_num_pending', cl);
  // The description carries a quote and a backslash: escaped on the page, intact once parsed.
  assert.equal(cons.labels.consumer_desc, 'says "hi"\\ok');
  assert.match(r.text, /consumer_desc="says \\"hi\\"\\\\ok"/);
  assert.equal(cons.value, 1);
  assert.equal(cons.value, ci.num_pending);
  assert.equal(sampleOf(fams, 'jetstream_consumer_num_ack_pending', cl).value, 2);
  assert.equal(sampleOf(fams, 'jetstream_consumer_num_ack_pending', cl).value, ci.num_ack_pending);
  assert.equal(sampleOf(fams, 'jetstream_consumer_num_redelivered', cl).value, ci.num_redelivered);
  assert.equal(ci.num_redelivered, 1);
  assert.equal(sampleOf(fams, 'jetstream_consumer_delivered_stream_seq', cl).value, ci.delivered.stream_seq);
  assert.equal(sampleOf(fams, 'jetstream_consumer_ack_floor_stream_seq', cl).value, 0);
  // A single server runs no Raft groups.
  assert.equal(fams.has('jetstream_raft_group_leader'), false);
  assert.equal(fams.get('process_cpu_seconds_total')!.type, 'counter');
  for (const f of fams.values()) assert.ok(f.help.length > 0 && f.type !== 'untyped', f.name);
});

test('/metrics without JetStream reports it disabled; the page is reachable under http_base_path', async (t) => {
  const h = await startServer({ port: 0, host: '127.0.0.1', httpPort: 0, httpBasePath: '/mon' }, { quietLog: true });
  t.after(() => h.shutdown());
  assert.equal((await get(h, '/metrics')).status, 404);
  const r = await get(h, '/mon/metrics');
  assert.equal(r.status, 200);
  const fams = parsePrometheus(r.text);
  assert.equal(sampleOf(fams, 'jetstream_server_jetstream_disabled').value, 1);
  assert.equal(fams.has('jetstream_stream_total_messages'), false);
  assert.equal(sampleOf(fams, 'gnatsd_varz_connections').value, 0);
});

test('exposition: escaping, names, one TYPE per family, no duplicate series', () => {
  const e = new Exposition();
  e.add('a_b', 'gauge', 'help with \\ and\nnewline', { l: 'x"y\\z\nw' }, 1.5);
  e.add('a_b', 'gauge', 'ignored', { l: 'other' }, NaN);
  e.add('a_b', 'gauge', 'ignored', { l: 'other' }, 3);
  e.add('c.d-e', 'counter', 'c', {}, Infinity);
  assert.throws(() => e.add('a_b', 'counter', 'x', {}, 1));
  const text = e.render();
  assert.equal(text, [
    '# HELP a_b help with \\\\ and\\nnewline',
    '# TYPE a_b gauge',
    'a_b{l="x\\"y\\\\z\\nw"} 1.5',
    'a_b{l="other"} NaN',
    '# HELP c_d_e c',
    '# TYPE c_d_e counter',
    'c_d_e +Inf',
    '',
  ].join('\n'));
  const fams = parsePrometheus(text);
  assert.equal(fams.get('a_b')!.help, 'help with \\ and\nnewline');
  assert.equal(fams.get('a_b')!.samples[0]!.labels.l, 'x"y\\z\nw');
  assert.ok(Number.isNaN(fams.get('a_b')!.samples[1]!.value));
  assert.throws(() => parsePrometheus('a 1\nb 2\na 3\n'), /not contiguous/);
  assert.throws(() => parsePrometheus('a{l="\\q"} 1\n'), /bad escape/);
  assert.throws(() => parsePrometheus('a 1\na 2\n'), /duplicate series/);
  assert.throws(() => parsePrometheus('a one\n'), /bad value/);
});
