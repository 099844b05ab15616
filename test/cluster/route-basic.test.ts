// Two- and three-server tsnats clusters in one process: messages, queue groups,
// request/reply, no-responders and interest bookkeeping across routes.
import { test } from 'node:test';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { RawClient, connectLine } from '../helpers/raw-client.js';
import { startNode, waitRoutes, waitRemoteInterest, waitFor, type InProcNode } from './cluster-helpers.js';
import { RouteConnection } from '../../src/cluster/route-conn.js';

async function pair(t: { after: (fn: () => Promise<void> | void) => void }): Promise<[InProcNode, InProcNode]> {
  const a = await startNode({ name: 'A' });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'B', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);
  return [a, b];
}

async function client(node: InProcNode, t: { after: (fn: () => Promise<void> | void) => void }): Promise<NatsConnection> {
  const nc = await connect({ servers: node.h.clientUrl, reconnect: false });
  t.after(() => nc.close());
  return nc;
}

test('pub/sub crosses the route both ways, with wildcards, replies and headers', async (t) => {
  const [a, b] = await pair(t);
  const nca = await client(a, t);
  const ncb = await client(b, t);

  const gotB: string[] = [];
  ncb.subscribe('orders.*', { callback: (_e, m) => { gotB.push(`${m.subject}|${m.reply ?? ''}|${m.string()}|${m.headers?.get('X-Id') ?? ''}`); } });
  const gotA: string[] = [];
  nca.subscribe('events.>', { callback: (_e, m) => { gotA.push(`${m.subject}|${m.string()}`); } });
  await ncb.flush();
  await nca.flush();
  await waitRemoteInterest(a, 'orders.new');
  await waitRemoteInterest(b, 'events.x.y');

  const h = headers();
  h.set('X-Id', '42');
  nca.publish('orders.new', 'o1');
  nca.publish('orders.new', 'o2', { reply: 'my.inbox', headers: h });
  nca.publish('orders.new.deep', 'not matched by *');
  ncb.publish('events.x.y', 'e1');
  ncb.publish('events', 'not matched by >');
  await nca.flush();
  await ncb.flush();
  await waitFor(() => gotB.length === 2 && gotA.length === 1, 'cross-route deliveries');
  assert.deepEqual(gotB, ['orders.new||o1|', 'orders.new|my.inbox|o2|42']);
  assert.deepEqual(gotA, ['events.x.y|e1']);
  // Route counters moved.
  const rz = a.cluster.routez();
  assert.equal(rz.num_routes, 1);
  assert.equal(rz.routes[0]!.remote_name, 'B');
  assert.ok(rz.routes[0]!.out_msgs >= 2);
  assert.ok(rz.routes[0]!.in_msgs >= 1);
});

test('a route URL that names a host is looked up and connects', async (t) => {
  // Host names go through the resolver (loaded on first use); addresses never do.
  const a = await startNode({ name: 'HA' });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'HB', routes: [a.routeUrl.replace('127.0.0.1', 'localhost')] });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);
  const nca = await client(a, t);
  const ncb = await client(b, t);
  const got: string[] = [];
  ncb.subscribe('named.host', { callback: (_e, m) => { got.push(m.string()); } });
  await ncb.flush();
  await waitRemoteInterest(a, 'named.host');
  nca.publish('named.host', 'via localhost');
  await nca.flush();
  await waitFor(() => got.length === 1, 'the message across the route');
  assert.deepEqual(got, ['via localhost']);
  assert.equal(b.cluster.routez().routes[0]!.remote_name, 'HA');
});

test('queue group: every message reaches exactly one member cluster-wide', async (t) => {
  const a = await startNode({ name: 'QA' });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'QB', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  const c = await startNode({ name: 'QC', routes: [a.routeUrl] });
  t.after(() => c.h.shutdown());
  await waitRoutes([a, b, c], 2);
  const ncs = [await client(a, t), await client(b, t), await client(c, t)];
  const seen = new Map<string, number>();
  const perServer = [0, 0, 0];
  // Two members on B, one on C, none on A (the publisher's server).
  for (const [i, nc] of [[1, ncs[1]!], [1, ncs[1]!], [2, ncs[2]!]] as const) {
    nc.subscribe('work', {
      queue: 'workers',
      callback: (_e, m) => {
        seen.set(m.string(), (seen.get(m.string()) ?? 0) + 1);
        perServer[i]++;
      },
    });
  }
  // A plain subscriber on C sees everything as well.
  let plain = 0;
  ncs[2]!.subscribe('work', { callback: () => { plain++; } });
  for (const nc of ncs) await nc.flush();
  await waitFor(() => a.cluster.hasRemoteInterest('$G', 'work') && b.cluster.hasRemoteInterest('$G', 'work'), 'queue interest on A and B');
  // The queue weight from B (2 members) has reached A.
  await waitFor(() => a.h.server.globalAccount.sublist.match('work').qsubs[0]?.length === 3, 'weights 2 (B) + 1 (C) on A');

  const N = 300;
  for (let i = 0; i < N; i++) ncs[0]!.publish('work', `m${i}`);
  // and some from a member's own server: its members and C's are all candidates there
  for (let i = 0; i < 30; i++) ncs[1]!.publish('work', `b${i}`);
  for (const nc of ncs) await nc.flush();
  await waitFor(() => seen.size === N + 30 && plain === N + 30, `all ${N + 30} messages`);
  assert.ok([...seen.values()].every((n) => n === 1), 'no message delivered twice');
  assert.equal(perServer[0], 0);
  assert.ok(perServer[1]! > 0 && perServer[2]! > 0, `both servers with members got some (${perServer})`);
});

test('request/reply and no-responders account for remote interest', async (t) => {
  const [a, b] = await pair(t);
  const nca = await client(a, t);
  const ncb = await client(b, t);
  ncb.subscribe('svc.add', { callback: (_e, m) => { m.respond(String(Number(m.string()) + 1)); } });
  ncb.subscribe('svc.q', { queue: 'q', callback: (_e, m) => { m.respond(`q:${m.string()}`); } });
  await ncb.flush();
  await waitRemoteInterest(a, 'svc.add');
  await waitRemoteInterest(a, 'svc.q');
  assert.equal((await nca.request('svc.add', '41', { timeout: 2000 })).string(), '42');
  assert.equal((await nca.request('svc.q', 'x', { timeout: 2000 })).string(), 'q:x');
  // reverse direction
  nca.subscribe('svc.echo', { callback: (_e, m) => { m.respond(m.data); } });
  await nca.flush();
  await waitRemoteInterest(b, 'svc.echo');
  assert.equal((await ncb.request('svc.echo', 'hey', { timeout: 2000 })).string(), 'hey');

  // Nobody anywhere: the requester gets a 503 at once instead of a timeout.
  // A timeout longer than the test's own: only the 503 can end the request.
  await assert.rejects(nca.request('svc.none', 'x', { timeout: 600_000 }), /no responders/i);
});

test('interest goes away on unsubscribe and on client disconnect', async (t) => {
  const [a, b] = await pair(t);
  const nca = await client(a, t);
  const ncb = await connect({ servers: b.h.clientUrl, reconnect: false });
  t.after(() => (ncb.isClosed() ? undefined : ncb.close()));
  let got = 0;
  const s1 = ncb.subscribe('gone.unsub', { callback: () => { got++; } });
  ncb.subscribe('gone.disc', { callback: () => { got++; } });
  ncb.subscribe('gone.q', { queue: 'g', callback: () => { got++; } });
  await ncb.flush();
  await waitRemoteInterest(a, 'gone.unsub');
  await waitRemoteInterest(a, 'gone.disc');
  await waitRemoteInterest(a, 'gone.q');

  s1.unsubscribe();
  await ncb.flush();
  await waitRemoteInterest(a, 'gone.unsub', false);
  // Nothing of the account's is forwarded: A no longer has the interest. (The route's out_msgs
  // also counts $SYS traffic such as server heartbeats, which may pass meanwhile.)
  const forwarded: string[] = [];
  const forward = RouteConnection.prototype.forwardMsg;
  RouteConnection.prototype.forwardMsg = function (this: RouteConnection, account, msg, queues) {
    if (account.name === '$G') forwarded.push(account.name);
    return forward.call(this, account, msg, queues);
  };
  try {
    nca.publish('gone.unsub', 'x');
    await nca.flush();
  } finally {
    RouteConnection.prototype.forwardMsg = forward;
  }
  assert.deepEqual(forwarded, []);

  await ncb.close();
  await waitRemoteInterest(a, 'gone.disc', false);
  await waitRemoteInterest(a, 'gone.q', false);
  // Nothing of B's $G interest is left on A ($SYS service subscriptions remain).
  const left = a.cluster.routez({ subscriptionsDetail: true }).routes[0]!.subscriptions_list_detail ?? [];
  assert.deepEqual(left.filter((d) => d.account === '$G'), []);
  assert.equal(got, 0);
});

test('system account traffic ($NRG, $SYS) flows over routes between internal clients', async (t) => {
  const [a, b] = await pair(t);
  const ica = a.h.server.systemAccount.createInternalClient('raft-a');
  const icb = b.h.server.systemAccount.createInternalClient('raft-b');
  t.after(() => { ica.close(); icb.close(); });
  const got: string[] = [];
  ica.subscribe('$NRG.AE.G1', (subject, reply, _h, payload) => got.push(`${subject}|${reply}|${payload.toString()}`));
  icb.subscribe('$NRG.R.*', (subject, _r, _h, payload) => got.push(`${subject}|${payload.toString()}`));
  await waitRemoteInterest(b, '$NRG.AE.G1', true, '$SYS');
  await waitRemoteInterest(a, '$NRG.R.abc', true, '$SYS');
  // The $G account does not see $SYS interest.
  assert.equal(b.cluster.hasRemoteInterest('$G', '$NRG.AE.G1'), false);
  icb.publish('$NRG.AE.G1', '$NRG.R.abc', undefined, Buffer.from([1, 2, 3]).toString('latin1'));
  ica.publish('$NRG.R.abc', '', undefined, 'ack');
  await waitFor(() => got.length === 2, 'raft-style messages over the route');
  assert.deepEqual(got.sort(), ['$NRG.AE.G1|$NRG.R.abc|\u0001\u0002\u0003', '$NRG.R.abc|ack'].sort());
});

test('clients get connect_urls of the cluster in an async INFO', async (t) => {
  const a = await startNode({ name: 'UA' });
  t.after(() => a.h.shutdown());
  const { c } = await RawClient.connectInfo(a.h.port);
  t.after(() => c.close());
  c.send(connectLine());
  await c.flushPing();
  const b = await startNode({ name: 'UB', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  const text = await c.waitFor(/INFO \{[^\r]*"connect_urls"[^\r]*\} \r\n/, 5000);
  const line = text.match(/INFO (\{[^\r]*"connect_urls"[^\r]*\}) \r\n/)![1]!;
  const info = JSON.parse(line) as { connect_urls: string[]; cluster: string };
  assert.deepEqual(info.connect_urls, [`127.0.0.1:${a.h.port}`, `127.0.0.1:${b.h.port}`]);
  assert.equal(info.cluster, 'C1');
  // B leaves: its URL is withdrawn.
  c.clear();
  await b.h.shutdown();
  const text2 = await c.waitFor(/INFO \{[^\r]*\} \r\n/, 5000);
  const info2 = JSON.parse(text2.match(/INFO (\{[^\r]*\}) \r\n/)![1]!) as { connect_urls: string[] };
  assert.deepEqual(info2.connect_urls, [`127.0.0.1:${a.h.port}`]);
});

test('a client before its first PING gets the changed connect_urls with its first PONG, not before (nats-server firstPongSent)', async (t) => {
  const a = await startNode({ name: 'FA' });
  t.after(() => a.h.shutdown());
  const { c } = await RawClient.connectInfo(a.h.port);
  t.after(() => c.close());
  c.send(connectLine());
  const b = await startNode({ name: 'FB', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  await waitFor(() => ((a.h.server.getInfoField('connect_urls') as string[] | undefined) ?? []).length === 2, 'A knows B\'s client URL');
  // A has changed its INFO; this client is not registered yet (no PING), so nothing came.
  c.send('PING\r\n');
  const text = await c.waitFor(/PONG\r\nINFO \{[^\r]*\} \r\n/, 5000);
  assert.ok(text.startsWith('PONG\r\nINFO '), JSON.stringify(text));
  const info = JSON.parse(text.match(/INFO (\{[^\r]*\}) \r\n/)![1]!) as { connect_urls: string[] };
  assert.deepEqual(info.connect_urls, [`127.0.0.1:${a.h.port}`, `127.0.0.1:${b.h.port}`]);
  // A client that connects after the change gets the URLs in its first INFO and no second one.
  const late = await RawClient.connectInfo(a.h.port);
  t.after(() => late.c.close());
  assert.deepEqual(late.info.connect_urls, info.connect_urls);
  late.c.send(connectLine());
  await late.c.flushPing();
  assert.doesNotMatch(late.c.text, /INFO/);
});

test('/routez and the /varz cluster section over HTTP', async (t) => {
  const a = await startNode({ name: 'HA', extra: { httpHost: '127.0.0.1', httpPort: 0 } });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'HB', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);
  const ncb = await client(b, t);
  ncb.subscribe('rz.one');
  ncb.subscribe('rz.q', { queue: 'g' });
  await ncb.flush();
  await waitRemoteInterest(a, 'rz.q');
  const base = `http://127.0.0.1:${a.h.httpPort}`;
  const rz = await (await fetch(`${base}/routez?subs=1`)).json() as Record<string, unknown> & { routes: Record<string, unknown>[] };
  assert.equal(rz.server_id, a.h.server.serverId);
  assert.equal(rz.num_routes, 1);
  const r = rz.routes[0]!;
  assert.deepEqual(Object.keys(r).slice(0, 5), ['rid', 'remote_id', 'remote_name', 'did_solicit', 'is_configured']);
  assert.equal(r.remote_id, b.h.server.serverId);
  assert.equal(r.remote_name, 'HB');
  assert.equal(r.did_solicit, false);
  assert.equal(r.ip, '127.0.0.1');
  assert.match(String(r.uptime), /^\d+s$/);
  assert.match(String(r.start), /^\d{4}-\d\d-\d\dT/);
  assert.ok((r.subscriptions as number) >= 2);
  assert.ok((r.subscriptions_list as string[]).includes('rz.one'));
  const detail = await (await fetch(`${base}/routez?subs=detail`)).json() as { routes: { subscriptions_list_detail: { subject: string; qgroup?: string }[] }[] };
  assert.ok(detail.routes[0]!.subscriptions_list_detail.some((d) => d.subject === 'rz.q' && d.qgroup === 'g'));
  const varz = await (await fetch(`${base}/varz`)).json() as { cluster: Record<string, unknown>; routes: number };
  assert.equal(varz.cluster.name, 'C1');
  assert.equal(varz.cluster.cluster_port, a.h.clusterPort);
  assert.equal(varz.routes, 1);
});

test('peer join/leave events for other subsystems (JetStream placement, raft peers)', async (t) => {
  const a = await startNode({ name: 'EA' });
  t.after(() => a.h.shutdown());
  const events: string[] = [];
  const off = a.cluster.onPeerChange((ev, p) => events.push(`${ev}:${p.name}:${p.cluster}:${p.jetstream}`));
  const b = await startNode({ name: 'EB', routes: [a.routeUrl] });
  await waitRoutes([a, b], 1);
  assert.deepEqual(events, ['added:EB:C1:false']);
  assert.deepEqual(a.cluster.peers().map((p) => p.id), [b.h.server.serverId]);
  await b.h.shutdown();
  await waitRoutes([a], 0);
  assert.deepEqual(events, ['added:EB:C1:false', 'removed:EB:C1:false']);
  off();
});

test('no_advertise keeps client URLs out of route INFO and client INFO; ports file lists the cluster port', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-ports-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const noAdv = { name: 'C1', host: '127.0.0.1', port: 0, routes: [], noAdvertise: true, connectRetries: 0 };
  const a = await startNode({ name: 'NA1', extra: { cluster: noAdv, portsFileDir: dir } });
  t.after(() => a.h.shutdown());
  const ports = JSON.parse(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.ports'))!), 'utf8')) as Record<string, string[]>;
  assert.deepEqual(ports.cluster, [`nats://127.0.0.1:${a.h.clusterPort}`]);
  assert.deepEqual(ports.nats, [`nats://127.0.0.1:${a.h.port}`]);

  const raw = await RawClient.connect(a.h.clusterPort!);
  t.after(() => raw.close());
  const info = JSON.parse((await raw.readLine()).slice(5)) as Record<string, unknown>;
  assert.equal(info.connect_urls, undefined);
  raw.close();

  const b = await startNode({ name: 'NA2', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);
  // B advertises, but A was told not to pass cluster URLs to its clients.
  assert.equal(a.h.server.getInfoField('connect_urls'), undefined);
  // B learned nothing from A either (A's route INFO had no connect_urls).
  const bUrls = b.h.server.getInfoField('connect_urls') as string[] | undefined;
  assert.ok(bUrls === undefined || !bUrls.includes(`127.0.0.1:${a.h.port}`));
});
