// Cluster formation: gossip from one seed, duplicate routes when servers dial each
// other, cluster-name and auth checks, and what a misbehaving route peer gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { connect } from '@nats-io/transport-node';
import { RawClient } from '../helpers/raw-client.js';
import {
  startNode, startNodesOnPortsKnownInAdvance, waitRoutes, waitRemoteInterest, waitFor, type InProcNode,
} from './cluster-helpers.js';

type T = { after: (fn: () => Promise<void> | void) => void };

async function node(t: T, ...args: Parameters<typeof startNode>): Promise<InProcNode> {
  const n = await startNode(...args);
  t.after(() => n.h.shutdown());
  return n;
}

function logLines(n: InProcNode): string[] {
  const lines: string[] = [];
  n.h.server.log.sink = { write: (l: string) => { lines.push(l); } };
  return lines;
}

test('a full mesh forms from a single seed (implicit routes by gossip)', async (t) => {
  const seed = await node(t, { name: 'S' });
  const others: InProcNode[] = [];
  for (const name of ['M1', 'M2', 'M3']) others.push(await node(t, { name, routes: [seed.routeUrl] }));
  const all = [seed, ...others];
  await waitRoutes(all, 3);
  for (const n of all) {
    const peers = n.cluster.peers().map((p) => p.name).sort();
    assert.deepEqual(peers, all.filter((x) => x !== n).map((x) => x.h.server.serverName).sort());
  }
  // Gossiped routes are implicit, configured ones explicit.
  const m1 = others[0]!.cluster.routez();
  const toSeed = m1.routes.find((r) => r.remote_name === 'S')!;
  assert.equal(toSeed.is_configured, true);
  assert.equal(toSeed.did_solicit, true);
  assert.ok(m1.routes.filter((r) => r.remote_name !== 'S').every((r) => !r.is_configured));

  // One hop: a message published on M3 reaches M1 directly, exactly once.
  const nc1 = await connect({ servers: others[0]!.h.clientUrl });
  const nc3 = await connect({ servers: others[2]!.h.clientUrl });
  t.after(async () => { await nc1.close(); await nc3.close(); });
  let got = 0;
  nc1.subscribe('mesh.x', { callback: () => { got++; } });
  await nc1.flush();
  await waitRemoteInterest(others[2]!, 'mesh.x');
  const seedOutToM1 = (): number => seed.cluster.routez().routes.find((r) => r.remote_name === 'M1')!.out_msgs;
  const m3OutToM1 = (): number => others[2]!.cluster.routez().routes.find((r) => r.remote_name === 'M1')!.out_msgs;
  const seedBefore = seedOutToM1();
  const m3Before = m3OutToM1();
  for (let i = 0; i < 20; i++) nc3.publish('mesh.x', 'x');
  await nc3.flush();
  await waitFor(() => got === 20, '20 messages');
  // All 20 went over the direct M3 -> M1 route and the seed relayed none of them. The seed's
  // route also carries system-account traffic (statsz heartbeats), so compare against the
  // burst's size rather than zero: a relaying seed would have sent all 20.
  assert.ok(m3OutToM1() - m3Before >= 20, 'M3 sent the burst to M1 directly');
  assert.ok(seedOutToM1() - seedBefore < 20, 'the seed did not relay the burst');
});

test('servers that dial each other end with one route and no duplicate deliveries', async (t) => {
  // Each node lists the other before it starts.
  const [a, b] = await startNodesOnPortsKnownInAdvance(2, ([pa, pb], clusterName) => [
    { name: 'DA', clusterName, clusterPort: pa, routes: [`nats-route://127.0.0.1:${pb}`] },
    { name: 'DB', clusterName, clusterPort: pb, routes: [`nats-route://127.0.0.1:${pa}`] },
  ]) as [InProcNode, InProcNode];
  t.after(async () => { await a.h.shutdown(); await b.h.shutdown(); });
  await waitRoutes([a, b], 1, 15_000);
  const nca = await connect({ servers: a.h.clientUrl });
  const ncb = await connect({ servers: b.h.clientUrl });
  t.after(async () => { await nca.close(); await ncb.close(); });
  let got = 0;
  ncb.subscribe('dup.test', { callback: () => { got++; } });
  await ncb.flush();
  await waitRemoteInterest(a, 'dup.test');
  for (let i = 0; i < 50; i++) nca.publish('dup.test', String(i));
  await nca.flush();
  await waitFor(() => got >= 50, '50 messages');
  // A round trip after the burst proves nothing more is in flight.
  ncb.subscribe('dup.sync', { callback: (_e, m) => { m.respond('ok'); } });
  await ncb.flush();
  await waitRemoteInterest(a, 'dup.sync');
  await nca.request('dup.sync', '', { timeout: 2000 });
  assert.equal(got, 50);
  assert.equal(a.cluster.numRoutes, 1);
  assert.equal(b.cluster.numRoutes, 1);
  // The survivor is marked solicited on at least one side (it keeps being re-dialled).
  assert.ok(a.cluster.routez().routes[0]!.did_solicit || b.cluster.routez().routes[0]!.did_solicit);
});

test('cluster name mismatch: the route is refused', async (t) => {
  const a = await node(t, { name: 'NA', clusterName: 'ALPHA' });
  const lines = logLines(a);
  const b = await node(t, { name: 'NB', clusterName: 'BETA', routes: [a.routeUrl] });
  await waitFor(() => lines.some((l) => l.includes('Rejecting connection, cluster name "BETA" does not match "ALPHA"')), 'rejection logged');
  assert.equal(a.cluster.numRoutes, 0);
  assert.equal(b.cluster.numRoutes, 0);
});

test('a dynamic cluster name adopts the configured name of its peer', async (t) => {
  const a = await node(t, { name: 'DYN-A', clusterName: 'FIXED' });
  const b = await startNode({ name: 'DYN-B', routes: [a.routeUrl], extra: { cluster: { name: undefined, host: '127.0.0.1', routes: [a.routeUrl], noAdvertise: false, connectRetries: 0, port: 0 } } });
  t.after(() => b.h.shutdown());
  assert.equal(b.cluster.dynamicName, true);
  await waitRoutes([a, b], 1);
  assert.equal(b.cluster.clusterName, 'FIXED');
});

test('duplicate server name is refused', async (t) => {
  const a = await node(t, { name: 'SAME' });
  const lines = logLines(a);
  const b = await node(t, { name: 'SAME', routes: [a.routeUrl] });
  await waitFor(() => lines.some((l) => l.includes('Remote server has a duplicate name: "SAME"')), 'duplicate name logged');
  // Only the accepting side checks the name (as nats-server does); it never registers the route.
  assert.equal(a.cluster.numRoutes, 0);
  assert.ok(b.cluster.numRoutes <= 1);
});

test('garbage from a route peer gets -ERR and a close; the server keeps serving', async (t) => {
  const a = await node(t, { name: 'G' });
  const port = a.h.clusterPort!;

  const c1 = await RawClient.connect(port);
  t.after(() => c1.close());
  const info = await c1.readLine();
  assert.match(info, /^INFO \{"server_id":"N[A-Z0-9]{55}","server_name":"G","version":"[^"]+","proto":2,.*"cluster":"C1".*"lnoc":true\} $/);
  c1.send('CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NFAKE","cluster":"C1","lnoc":true}\r\n');
  c1.send('THIS IS NOT A PROTOCOL\r\n');
  await c1.waitFor("-ERR 'Unknown Protocol Operation'\r\n");
  await c1.waitClosed();

  // Bad RMSG arguments: closed without an -ERR, like nats-server.
  const c2 = await RawClient.connect(port);
  t.after(() => c2.close());
  await c2.readLine();
  c2.send('CONNECT {"name":"NFAKE2","cluster":"C1"}\r\nRMSG $G foo bar baz\r\n');
  await c2.waitClosed();
  assert.equal(c2.text.includes('-ERR'), false);

  // A payload that does not end in CRLF.
  const c3 = await RawClient.connect(port);
  t.after(() => c3.close());
  await c3.readLine();
  c3.send('CONNECT {"name":"NFAKE3","cluster":"C1"}\r\nRMSG $G foo 2\r\nabcdef\r\n');
  await c3.waitFor("-ERR 'Unknown Protocol Operation'");
  await c3.waitClosed();

  // A client that dials the route port by mistake.
  const c4 = await RawClient.connect(port);
  t.after(() => c4.close());
  await c4.readLine();
  c4.send('CONNECT {"lang":"node","version":"3.0.0","verbose":false}\r\n');
  await c4.waitFor("-ERR 'attempted to connect to route port'");
  await c4.waitClosed();

  // Still fine for clients and real routes.
  const b = await node(t, { name: 'G2', routes: [a.routeUrl] });
  await waitRoutes([a, b], 1);
  const nc = await connect({ servers: a.h.clientUrl });
  t.after(() => nc.close());
  nc.subscribe('still.alive', { callback: (_e, m) => { m.respond('yes'); } });
  await nc.flush();
  const ncb = await connect({ servers: b.h.clientUrl });
  t.after(() => ncb.close());
  await waitRemoteInterest(b, 'still.alive');
  assert.equal((await ncb.request('still.alive', '', { timeout: 2000 })).string(), 'yes');
});

test('a fake route peer speaking the raw protocol exchanges interest and messages', async (t) => {
  const a = await node(t, { name: 'RAW' });
  const nc = await connect({ servers: a.h.clientUrl });
  t.after(() => nc.close());
  const got: string[] = [];
  nc.subscribe('rt.back', { callback: (_e, m) => { got.push(`${m.subject}|${m.reply ?? ''}|${m.string()}|${m.headers?.get('X-Test') ?? ''}`); } });
  nc.subscribe('live.q', { queue: 'lq' });
  await nc.flush();

  const c = await RawClient.connect(a.h.clusterPort!);
  t.after(() => c.close());
  await c.readLine();
  c.send('CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"NFAKEROUTE","cluster":"C1","lnoc":true}\r\n');
  c.send('INFO {"server_id":"NFAKEROUTE","server_name":"fake1","version":"2.9.10","proto":2,"go":"go1.19.8","host":"127.0.0.1","port":1,"headers":true,"max_payload":1048576,"cluster":"C1","lnoc":true}\r\n');
  // Our interest flood arrives: the client's subscriptions, queue weight included.
  await c.waitFor('RS+ $G rt.back\r\n');
  await c.waitFor('RS+ $G live.q lq 1\r\n');
  await waitFor(() => a.cluster.numRoutes === 1, 'fake route registered');

  c.send('RS+ $G rt.plain\r\nRS+ $G rt.q grp1 1\r\nPING\r\n');
  await c.waitFor('PONG\r\n');
  c.clear();
  nc.publish('rt.plain', 'hello');
  nc.publish('rt.plain', 'hello', { reply: 'my.reply' });
  nc.publish('rt.q', 'qqq');
  nc.publish('rt.q', 'qqq', { reply: 'my.reply' });
  await nc.flush();
  const all = await c.waitFor((x) => x.includes('RMSG $G rt.q + my.reply grp1 3\r\nqqq\r\n'));
  assert.equal(all, 'RMSG $G rt.plain 5\r\nhello\r\nRMSG $G rt.plain my.reply 5\r\nhello\r\n'
    + 'RMSG $G rt.q | grp1 3\r\nqqq\r\nRMSG $G rt.q + my.reply grp1 3\r\nqqq\r\n');

  c.send('RMSG $G rt.back 2\r\nhi\r\nHMSG $G rt.back r.x 23 26\r\nNATS/1.0\r\nX-Test: 1\r\n\r\nabc\r\n');
  await waitFor(() => got.length === 2, 'routed messages delivered');
  assert.deepEqual(got, ['rt.back||hi|', 'rt.back|r.x|abc|1']);

  // RS- removes the interest; a later publish is not forwarded.
  c.send('RS- $G rt.plain\r\nPING\r\n');
  await c.waitFor('PONG\r\n');
  c.clear();
  nc.publish('rt.plain', 'nope');
  nc.publish('rt.q', 'q2');
  await nc.flush();
  await c.waitFor('RMSG $G rt.q | grp1 2\r\nq2\r\n');
  assert.equal(c.text.includes('rt.plain'), false);

  // Live interest changes are sent as they happen.
  c.clear();
  const s2 = nc.subscribe('live.q', { queue: 'lq' });
  await nc.flush();
  await c.waitFor('RS+ $G live.q lq 2\r\n');
  s2.unsubscribe();
  await nc.flush();
  await c.waitFor('RS+ $G live.q lq 1\r\n');
});

test('cluster authorization: routes without the right credentials are refused', async (t) => {
  const auth = { user: 'ruser', password: 'rpass', timeoutSec: 1 };
  const a = await node(t, { name: 'AU', extra: { cluster: { name: 'C1', host: '127.0.0.1', port: 0, routes: [], noAdvertise: false, connectRetries: 0, authorization: auth } } });
  const port = a.h.clusterPort!;
  const c = await RawClient.connect(port);
  t.after(() => c.close());
  const info = JSON.parse((await c.readLine()).slice(5)) as { auth_required?: boolean };
  assert.equal(info.auth_required, true);
  c.send('CONNECT {"name":"NX","cluster":"C1","user":"ruser","pass":"wrong"}\r\n');
  await c.waitFor("-ERR 'Authorization Violation'");
  await c.waitClosed();

  const c2 = await RawClient.connect(port);
  t.after(() => c2.close());
  await c2.readLine();
  c2.send('PING\r\n');
  await c2.waitFor("-ERR 'Authorization Violation'");
  await c2.waitClosed();

  const b = await node(t, { name: 'AU2', routes: [`nats-route://ruser:rpass@127.0.0.1:${port}`] });
  await waitRoutes([a, b], 1);

  // Silent peers are cut after the auth timeout.
  const c3 = await RawClient.connect(port);
  t.after(() => c3.close());
  await c3.waitFor("-ERR 'Authentication Timeout'", 3000);
  await c3.waitClosed();
});

test('route PINGs: a peer that never answers is closed as stale', async (t) => {
  const a = await node(t, { name: 'P', extra: { cluster: { name: 'C1', host: '127.0.0.1', port: 0, routes: [], noAdvertise: false, connectRetries: 0, pingIntervalMs: 100, pingMax: 2 } } });
  const c = await RawClient.connect(a.h.clusterPort!);
  t.after(() => c.close());
  await c.readLine();
  c.send('CONNECT {"name":"NSILENT","cluster":"C1"}\r\n');
  await c.waitFor('PING\r\n', 3000);
  await c.waitFor("-ERR 'Stale Connection'", 3000);
  await c.waitClosed();
  // a plain TCP socket that is closed by us mid-handshake does not upset the server
  const s = net.connect(a.h.clusterPort!, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.destroy();
  const nc = await connect({ servers: a.h.clientUrl });
  await nc.flush();
  await nc.close();
});

test('a route peer that stops reading is cut as a slow consumer; local clients keep flowing', async (t) => {
  const a = await node(t, { name: 'SLOW', extra: { maxPendingBytes: 2 * 1024 * 1024 } });
  const lines = logLines(a);
  const peer = await RawClient.connect(a.h.clusterPort!);
  t.after(() => peer.close());
  await peer.readLine();
  peer.send('CONNECT {"name":"NSTUCK","cluster":"C1","headers":true}\r\n');
  peer.send('INFO {"server_id":"NSTUCK","server_name":"stuck","version":"2.9.10","proto":2,"go":"go","host":"127.0.0.1","port":1,"headers":true,"max_payload":1048576,"cluster":"C1"}\r\n');
  peer.send('RS+ $G big.data\r\n');
  await waitFor(() => a.cluster.hasRemoteInterest('$G', 'big.data'), 'stuck peer interest');
  // The peer never reads again.
  (peer as unknown as { socket: net.Socket }).socket.pause();

  const nc = await connect({ servers: a.h.clientUrl });
  t.after(() => nc.close());
  let local = 0;
  nc.subscribe('big.data', { callback: () => { local++; } });
  await nc.flush();
  const payload = new Uint8Array(60 * 1024);
  let sent = 0;
  while (a.cluster.numRoutes === 1 && sent < 2000) {
    for (let i = 0; i < 20; i++) nc.publish('big.data', payload);
    sent += 20;
    await nc.flush();
  }
  assert.equal(a.cluster.numRoutes, 0, 'the stuck route was closed');
  assert.ok(lines.some((l) => l.includes('Slow Consumer Detected')), 'slow consumer logged');
  await waitFor(() => local === sent, 'local subscriber got every message');
  assert.equal(a.cluster.hasRemoteInterest('$G', 'big.data'), false);
});

test('every node lists every node (itself included): a clean 3-node mesh', async (t) => {
  const nodes = await startNodesOnPortsKnownInAdvance(3, (ports, clusterName) => {
    const urls = ports.map((p) => `nats-route://127.0.0.1:${p}`);
    return ports.map((p, i) => ({ name: `ALL${i}`, clusterName, clusterPort: p, routes: urls }));
  });
  t.after(async () => { for (const n of nodes) await n.h.shutdown(); });
  await waitRoutes(nodes, 2, 20_000);
  const ncs = await Promise.all(nodes.map((n) => connect({ servers: n.h.clientUrl })));
  t.after(async () => { for (const nc of ncs) await nc.close(); });
  const counts = [0, 0, 0];
  ncs.forEach((nc, i) => nc.subscribe('all.x', { callback: () => { counts[i]!++; } }));
  ncs[1]!.subscribe('all.sync', { callback: (_e, m) => { m.respond('ok'); } });
  for (const nc of ncs) await nc.flush();
  await waitFor(() => nodes[0]!.cluster.hasRemoteInterest('$G', 'all.sync') && nodes[2]!.cluster.hasRemoteInterest('$G', 'all.sync'), 'sync interest');
  await waitFor(() => nodes.every((n) => n.h.server.globalAccount.sublist.match('all.x').psubs.length === 3), 'all.x interest everywhere');
  for (let i = 0; i < 30; i++) ncs[i % 3]!.publish('all.x', String(i));
  for (const nc of ncs) await nc.flush();
  await waitFor(() => counts.every((c) => c >= 30), 'every subscriber got 30');
  for (const nc of [ncs[0]!, ncs[2]!]) assert.equal((await nc.request('all.sync', '', { timeout: 2000 })).string(), 'ok');
  assert.deepEqual(counts, [30, 30, 30]);
  // No node dialled itself.
  for (const n of nodes) assert.ok(n.cluster.routez().routes.every((r) => r.remote_id !== n.h.server.serverId));
});
