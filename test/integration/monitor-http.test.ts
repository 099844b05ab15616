// Monitoring over real HTTP with real clients connected: /varz /connz /subsz
// /accountz /routez /leafz /gatewayz /healthz, the index page, base path,
// request statistics and nats-server's 400 texts for bad query values.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startServer, type ServerHandle } from '../../src/index.js';
import type { Options } from '../../src/config/options.js';
import { opensslSkip } from '../helpers/nats-server.js';
import { makeCerts } from '../helpers/certs.js';
import { ACCOUNT_SYS_IMPORTS } from '../../src/monitor/sys-imports.js';

/** Subscriptions every ordinary account holds for its $SYS imports (as in nats-server). */
const IMPORT_SUBS = ACCOUNT_SYS_IMPORTS.map(([subject]) => subject);
import http from 'node:http';
import https from 'node:https';

async function start(t: TestContext, over: Partial<Options> = {}): Promise<ServerHandle> {
  const h = await startServer({ port: 0, host: '127.0.0.1', httpPort: 0, ...over }, { quietLog: true });
  t.after(() => h.shutdown());
  return h;
}

async function client(t: TestContext, h: ServerHandle, name: string): Promise<NatsConnection> {
  const nc = await connect({ servers: h.clientUrl, name, reconnect: false });
  t.after(() => nc.close().catch(() => {}));
  return nc;
}

async function get(h: ServerHandle, path: string): Promise<{ status: number; type: string | null; text: string; json: any }> {
  const r = await fetch(`http://127.0.0.1:${h.httpPort}${path}`);
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: r.status, type: r.headers.get('content-type'), text, json };
}

async function waitFor<T>(fn: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('http port 0 binds a random port reported by the handle and the ports file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-ports-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const h = await start(t, { portsFileDir: dir });
  assert.equal(typeof h.httpPort, 'number');
  assert.ok(h.httpPort! > 0);
  const files = readdirSync(dir).filter((f) => f.endsWith('.ports'));
  assert.equal(files.length, 1);
  const ports = JSON.parse(readFileSync(join(dir, files[0]), 'utf8'));
  assert.deepEqual(ports.monitoring, [`http://127.0.0.1:${h.httpPort}`]);
  assert.deepEqual(ports.nats, [`nats://127.0.0.1:${h.port}`]);
  const r = await get(h, '/varz');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'application/json');
  assert.equal(r.json.http_port, h.httpPort);
});

test('no monitoring listener without an http port', async (t) => {
  const h = await startServer({ port: 0, host: '127.0.0.1' }, { quietLog: true });
  t.after(() => h.shutdown());
  assert.equal(h.httpPort, undefined);
});

test('/varz: identity, configuration and live counters', async (t) => {
  const h = await start(t, { serverName: 'mon-1', maxPayloadBytes: 2 * 1024 * 1024, pingIntervalMs: 30_000, serverTags: ['az:1'] });
  const nc = await client(t, h, 'counter');
  const sub = nc.subscribe('count.>');
  for (let i = 0; i < 5; i++) nc.publish(`count.${i}`, 'abcd');
  await nc.flush();
  const v = (await waitFor(() => get(h, '/varz'), (r) => r.json.out_msgs >= 5, 'out_msgs')).json;
  assert.equal(v.server_id, nc.info!.server_id);
  assert.equal(v.server_name, 'mon-1');
  assert.equal(v.version, nc.info!.version);
  assert.equal(v.proto, 1);
  assert.equal(v.host, '127.0.0.1');
  assert.equal(v.port, h.port);
  assert.equal(v.max_payload, 2 * 1024 * 1024);
  assert.equal(v.ping_interval, 30_000_000_000, 'durations are Go nanoseconds');
  assert.equal(v.write_deadline, 10_000_000_000);
  assert.equal(v.auth_timeout, 2);
  assert.equal(v.max_connections, 65536);
  assert.equal(v.connections, 1);
  assert.equal(v.total_connections, 1);
  assert.equal(v.in_msgs, 5);
  assert.equal(v.in_bytes, 20);
  assert.equal(v.out_msgs, 5);
  assert.equal(v.out_bytes, 20);
  assert.ok(v.subscriptions >= 1);
  assert.deepEqual(v.tags, ['az:1']);
  assert.equal(v.system_account, '$SYS');
  for (const k of ['cluster', 'gateway', 'leaf', 'mqtt', 'websocket', 'jetstream']) assert.deepEqual(v[k], {}, k);
  assert.match(v.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  assert.match(v.uptime, /^\d+s$/);
  assert.ok(v.mem > 0);
  assert.ok(v.cores >= 1);
  sub.unsubscribe();
});

test('/varz http_req_stats counts requests per endpoint', async (t) => {
  const h = await start(t);
  await get(h, '/connz');
  await get(h, '/connz');
  await get(h, '/subsz');
  await get(h, '/subscriptionsz');
  await get(h, '/healthz');
  const v = (await get(h, '/varz')).json;
  assert.deepEqual(v.http_req_stats, { '/connz': 2, '/subsz': 2, '/healthz': 1, '/varz': 1 });
});

test('/connz lists real clients with subscriptions, sorting, paging and cid', async (t) => {
  const h = await start(t);
  const a = await client(t, h, 'client-a');
  const b = await client(t, h, 'client-b');
  a.subscribe('foo.*');
  a.subscribe('bar', { queue: 'q1' });
  b.subscribe('one');
  b.subscribe('two');
  b.subscribe('three');
  a.publish('foo.x', 'hello');
  await a.flush();
  await b.flush();

  const c = (await waitFor(() => get(h, '/connz?subs=1'), (r) => r.json.connections.every((x: any) => x.subscriptions > 1), 'subs')).json;
  assert.equal(c.server_id, a.info!.server_id);
  assert.equal(c.num_connections, 2);
  assert.equal(c.total, 2);
  assert.equal(c.offset, 0);
  assert.equal(c.limit, 1024);
  const ca = c.connections.find((x: any) => x.name === 'client-a');
  assert.equal(ca.cid, a.info!.client_id);
  assert.equal(ca.kind, 'Client');
  assert.equal(ca.type, 'nats');
  assert.equal(ca.ip, '127.0.0.1');
  assert.equal(ca.lang, 'nats.js');
  assert.equal(ca.subscriptions, 2);
  assert.deepEqual(ca.subscriptions_list.sort(), ['bar', 'foo.*']);
  assert.equal(ca.in_msgs, 1);
  assert.equal(ca.in_bytes, 5);
  assert.equal(ca.out_msgs, 1);
  assert.match(ca.rtt, /^[\d.]+(ns|µs|ms|s)$/);
  assert.equal(ca.subscriptions_list_detail, undefined);
  // default order: cid ascending
  assert.deepEqual(c.connections.map((x: any) => x.cid), [a.info!.client_id, b.info!.client_id].sort((x, y) => x - y));

  const d = (await get(h, '/connz?subs=detail')).json;
  const da = d.connections.find((x: any) => x.name === 'client-a');
  const bar = da.subscriptions_list_detail.find((s: any) => s.subject === 'bar');
  assert.deepEqual(bar, { subject: 'bar', qgroup: 'q1', sid: bar.sid, msgs: 0, cid: a.info!.client_id });
  const foo = da.subscriptions_list_detail.find((s: any) => s.subject === 'foo.*');
  assert.equal(foo.msgs, 1);

  const bySubs = (await get(h, '/connz?sort=subs')).json;
  assert.deepEqual(bySubs.connections.map((x: any) => x.name), ['client-b', 'client-a'], 'other sorts are descending');
  const page = (await get(h, '/connz?sort=subs&limit=1&offset=1')).json;
  assert.equal(page.num_connections, 1);
  assert.equal(page.total, 2);
  assert.equal(page.connections[0].name, 'client-a');
  const one = (await get(h, `/connz?cid=${b.info!.client_id}`)).json;
  assert.equal(one.limit, 1);
  assert.deepEqual(one.connections.map((x: any) => x.name), ['client-b']);
  const byMsgsFrom = (await get(h, '/connz?sort=msgs_from')).json;
  assert.equal(byMsgsFrom.connections[0].name, 'client-a');
});

test('/connz state=closed keeps closed connections with their reason', async (t) => {
  const h = await start(t);
  const a = await client(t, h, 'leaver');
  a.subscribe('x.y');
  await a.flush();
  const cid = a.info!.client_id;
  await a.close();
  const closed = (await waitFor(() => get(h, '/connz?state=closed&subs=1'), (r) => r.json.num_connections === 1, 'closed')).json;
  const ci = closed.connections[0];
  assert.equal(ci.cid, cid);
  assert.equal(ci.name, 'leaver');
  assert.equal(ci.reason, 'Client Closed');
  assert.match(ci.stop, /Z$/);
  assert.deepEqual(ci.subscriptions_list, ['x.y']);
  assert.equal((await get(h, '/connz')).json.num_connections, 0);
  const all = (await get(h, '/connz?state=all')).json;
  assert.equal(all.total, 1);
  assert.equal((await get(h, `/connz?state=any&cid=${cid}`)).json.connections[0].reason, 'Client Closed');
  assert.equal((await get(h, '/connz?state=closed&sort=reason')).status, 200);
});

test('/connz and /subsz answer bad query values with 400 and nats-server\'s text', async (t) => {
  const h = await start(t);
  const cases: [string, string][] = [
    ['/connz?limit=x', `Error decoding int for 'limit': strconv.Atoi: parsing "x": invalid syntax`],
    ['/connz?offset=1.5', `Error decoding int for 'offset': strconv.Atoi: parsing "1.5": invalid syntax`],
    ['/connz?state=foo', 'Error decoding state for foo'],
    ['/connz?sort=foo', 'invalid sorting option: foo'],
    ['/connz?sort=stop', 'sort by stop only valid on closed connections'],
    ['/connz?sort=reason&state=open', 'sort by reason only valid on closed connections'],
    ['/connz?subs=maybe', `Error decoding boolean for 'subs': strconv.ParseBool: parsing "maybe": invalid syntax`],
    ['/connz?auth=yes', `Error decoding boolean for 'auth': strconv.ParseBool: parsing "yes": invalid syntax`],
    ['/connz?cid=-1', `Error decoding uint64 for 'cid': strconv.ParseUint: parsing "-1": invalid syntax`],
    ['/subsz?test=a.*', 'invalid test subject, must be valid publish subject: a.*'],
    ['/subsz?limit=z', `Error decoding int for 'limit': strconv.Atoi: parsing "z": invalid syntax`],
    ['/healthz?details=2', `Error decoding boolean for 'details': strconv.ParseBool: parsing "2": invalid syntax`],
    ['/accountz?acc=nope', 'Account nope does not exist'],
    ['/jsz?accounts=x', `Error decoding boolean for 'accounts': strconv.ParseBool: parsing "x": invalid syntax`],
  ];
  for (const [path, text] of cases) {
    const r = await get(h, path);
    assert.equal(r.status, 400, path);
    assert.equal(r.text, text, path);
    assert.equal(r.type, 'text/plain; charset=utf-8', path);
  }
  // Go's ParseBool accepts these
  for (const v of ['1', 't', 'TRUE', 'True', '0', 'f', 'false']) assert.equal((await get(h, `/connz?subs=${v}`)).status, 200, v);
});

test('/subsz: statistics, the subscription list, test subject and account filters', async (t) => {
  const h = await start(t);
  const nc = await client(t, h, 'subber');
  nc.subscribe('orders.*');
  nc.subscribe('orders.new', { queue: 'workers' });
  nc.subscribe('other');
  await nc.flush();
  const plain = (await get(h, '/subsz')).json;
  assert.equal(plain.server_id, nc.info!.server_id);
  for (const k of ['num_subscriptions', 'num_cache', 'num_inserts', 'num_removes', 'num_matches', 'cache_hit_rate', 'max_fanout', 'avg_fanout']) {
    assert.equal(typeof plain[k], 'number', k);
  }
  assert.equal(plain.subscriptions_list, undefined);
  const g = (await get(h, '/subsz?subs=1&acc=$G')).json;
  assert.equal(g.total, 3 + IMPORT_SUBS.length);
  assert.deepEqual(g.subscriptions_list.map((s: any) => s.subject).sort(), [...IMPORT_SUBS, 'orders.*', 'orders.new', 'other'].sort());
  const q = g.subscriptions_list.find((s: any) => s.subject === 'orders.new');
  assert.equal(q.qgroup, 'workers');
  assert.equal(q.account, '$G');
  assert.equal(q.cid, nc.info!.client_id);
  const tested = (await get(h, '/subsz?subs=1&test=orders.new')).json;
  assert.deepEqual(tested.subscriptions_list.map((s: any) => s.subject).sort(), ['orders.*', 'orders.new']);
  const paged = (await get(h, '/subsz?subs=1&acc=$G&limit=2&offset=2')).json;
  assert.equal(paged.total, 6);
  assert.equal(paged.subscriptions_list.length, 2);
  // the alias answers the same
  assert.equal((await get(h, '/subscriptionsz?subs=1&acc=$G')).json.total, 6);
  // the system account holds the server's own request subscriptions
  const sys = (await get(h, '/subsz?subs=1&acc=$SYS&test=$SYS.REQ.SERVER.PING.VARZ')).json;
  assert.deepEqual(sys.subscriptions_list.map((s: any) => s.subject), ['$SYS.REQ.SERVER.PING.VARZ']);
});

test('/accountz and /accstatz', async (t) => {
  const h = await start(t, {
    accounts: [{ name: 'APP', users: [], exports: [{ stream: 'pub.>' }], imports: [], mappings: { 'a.b': 'c.d' } }],
  });
  const nc = await client(t, h, 'acct');
  nc.subscribe('x');
  nc.publish('x', 'hi');
  await nc.flush();
  const list = (await get(h, '/accountz')).json;
  assert.equal(list.system_account, '$SYS');
  assert.deepEqual([...list.accounts].sort(), ['$G', '$SYS', 'APP']);
  const g = (await get(h, '/accountz?acc=$G')).json.account_detail;
  assert.equal(g.account_name, '$G');
  assert.equal(g.client_connections, 1);
  assert.equal(g.subscriptions, 1 + IMPORT_SUBS.length);
  assert.equal(g.jetstream_enabled, false);
  assert.equal(g.sublist_stats.num_subscriptions, 1 + IMPORT_SUBS.length);
  assert.deepEqual(g.imports.map((i: any) => [i.subject, i.account, i.to, i.type]), [
    ['$SYS.REQ.ACCOUNT.PING.CONNZ', '$SYS', '$SYS.REQ.ACCOUNT.$G.CONNZ', 'service'],
    ['$SYS.REQ.SERVER.PING.CONNZ', '$SYS', '$SYS.REQ.ACCOUNT.$G.CONNZ', 'service'],
    ['$SYS.REQ.ACCOUNT.PING.STATZ', '$SYS', '$SYS.REQ.ACCOUNT.$G.STATZ', 'service'],
  ]);
  const app = (await get(h, '/accountz?acc=APP')).json.account_detail;
  assert.deepEqual(app.exports, [{ subject: 'pub.>', type: 'stream' }]); // a public export has no approved_accounts (nats-server 2.9.10)
  assert.deepEqual(app.mappings, { 'a.b': [{ dest: 'c.d', weight: 100 }] });
  assert.equal((await get(h, '/accountz?acc=$SYS')).json.account_detail.is_system, true);
  const stz = (await get(h, '/accstatz')).json;
  assert.deepEqual(stz.account_statz.map((a: any) => a.acc), ['$G']);
  assert.equal(stz.account_statz[0].conns, 1);
  assert.equal(stz.account_statz[0].num_subscriptions, 1 + IMPORT_SUBS.length);
  const unused = (await get(h, '/accstatz?unused=1')).json;
  assert.deepEqual(unused.account_statz.map((a: any) => a.acc).sort(), ['$G', '$SYS', 'APP']);
});

test('/routez /gatewayz /leafz have the right shapes without routes, gateways or leafnodes', async (t) => {
  const h = await start(t, { serverName: 'lonely' });
  const r = (await get(h, '/routez')).json;
  assert.deepEqual(Object.keys(r), ['server_id', 'server_name', 'now', 'num_routes', 'routes']);
  assert.equal(r.num_routes, 0);
  assert.deepEqual(r.routes, []);
  assert.equal(r.server_name, 'lonely');
  const gw = (await get(h, '/gatewayz')).json;
  assert.deepEqual([gw.outbound_gateways, gw.inbound_gateways], [{}, {}]);
  const lf = (await get(h, '/leafz')).json;
  assert.equal(lf.leafnodes, 0);
  assert.deepEqual(lf.leafs, []);
});

test('/healthz without JetStream is ok; a stream check needs an account', async (t) => {
  const h = await start(t);
  for (const p of ['/healthz', '/healthz?js-enabled-only=true', '/healthz?js-server-only=1', '/healthz?js-enabled=true']) {
    const r = await get(h, p);
    assert.equal(r.status, 200, p);
    assert.equal(r.text, '{"status":"ok"}', p);
  }
  const bad = await get(h, '/healthz?stream=S');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json, { status: 'error', error: '"account" must not be empty when checking stream health' });
  const badDetails = await get(h, '/healthz?stream=S&details=true');
  assert.equal(badDetails.status, 400);
  assert.deepEqual(badDetails.json, {
    status: 'error',
    errors: [{ type: 'BAD_REQUEST', error: '"account" must not be empty when checking stream health' }],
  });
  assert.equal((await get(h, '/healthz?consumer=C&account=A')).status, 400);
});

test('index page, unknown paths and http_base_path', async (t) => {
  const h = await start(t);
  const root = await get(h, '/');
  assert.equal(root.status, 200);
  assert.match(root.type!, /^text\/html/);
  assert.match(root.text, /<a href=\.\/varz>General/);
  const nf = await get(h, '/nope');
  assert.equal(nf.status, 404);
  assert.equal(nf.text, '404 page not found\n');

  const based = await start(t, { httpBasePath: 'nats/' });
  assert.equal((await get(based, '/nats/varz')).status, 200);
  assert.equal((await get(based, '/nats/connz')).json.num_connections, 0);
  assert.equal((await get(based, '/varz')).status, 404);
  const idx = await get(based, '/nats');
  assert.equal(idx.status, 200);
  assert.match(idx.text, /<a href=\.\/nats\/varz>General/);
  assert.equal((await get(based, '/nats/varz')).json.http_base_path, 'nats/');
});

test('https_port serves monitoring over TLS with the client certificate; plain http is refused there', { skip: opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  const h = await startServer({
    port: 0, host: '127.0.0.1', httpsPort: 0, tls: { certFile: c.serverCert, keyFile: c.serverKey },
  }, { quietLog: true });
  t.after(() => h.shutdown());
  const port = h.server.listeners.port('monitoring')!;
  const body = await new Promise<string>((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: '/varz', ca: c.pem(c.ca) }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
  const varz = JSON.parse(body);
  assert.equal(varz.https_port, port);
  assert.equal(varz.server_id, h.server.serverId);
  // an https client that does not trust the CA fails
  await assert.rejects(new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path: '/varz' }, resolve).on('error', reject);
  }));
  // plain http on the https port gets no monitoring data
  const plain = await new Promise<number | string>((resolve) => {
    http.get({ host: '127.0.0.1', port, path: '/varz' }, (res) => resolve(res.statusCode ?? 0)).on('error', (e) => resolve(e.message));
  });
  assert.notEqual(plain, 200);
  assert.deepEqual(JSON.parse(h.server.listeners.portsJson()).monitoring, [`https://127.0.0.1:${port}`]);
});
