// Leaf nodes, tsnats on both sides (in-process): messages both ways, request/reply, queue
// groups across the link (local members preferred), interest removal, and the leaf
// re-dialling a hub that restarted.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { captureLog, startTestServer, type ServerHandle } from '../helpers/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitUntil } from '../helpers/wait.js';
import { client, collect, interest, leafOpts } from '../helpers/leaf.js';
import { getLeafnodes } from '../../src/leaf/index.js';
import type { JetStreamOptions } from '../../src/config/options.js';
import { defaultOptions } from '../../src/config/options.js';
import { ClientKind } from '../../src/core/types.js';

function js(domain: string): JetStreamOptions {
  return { ...defaultOptions().jetstream, enabled: true, domain };
}

async function hubAndLeaf(t: TestContext, hubPort = 0): Promise<{ hub: ServerHandle; leaf: ServerHandle; leafPort: number }> {
  const hub = await startTestServer({ leafnodes: leafOpts({ port: hubPort }) }, t);
  const leafPort = getLeafnodes(hub.server)!.port;
  const leaf = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`nats://127.0.0.1:${leafPort}`] }] }) }, t);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1 && getLeafnodes(leaf.server)!.connections().length === 1, 5000, 'leaf link');
  return { hub, leaf, leafPort };
}

test('leaf: messages flow hub -> leaf and leaf -> hub, with request/reply', async (t) => {
  const { hub, leaf } = await hubAndLeaf(t);
  const hc = await client(hub, t);
  const lc = await client(leaf, t);
  const onLeaf = collect(lc, 'to.leaf.>');
  const onHub = collect(hc, 'to.hub');
  await lc.flush();
  await hc.flush();
  await waitUntil(() => interest(hub, 'to.leaf.x') && interest(leaf, 'to.hub'), 5000, 'interest both ways');
  hc.publish('to.leaf.x', 'from hub');
  lc.publish('to.hub', 'from leaf');
  await waitUntil(() => onLeaf.length === 1 && onHub.length === 1, 5000, 'messages');
  assert.equal(onLeaf[0]!.string(), 'from hub');
  assert.equal(onLeaf[0]!.subject, 'to.leaf.x');
  assert.equal(onHub[0]!.string(), 'from leaf');

  lc.subscribe('svc.echo', { callback: (_e, m) => { m.respond(`echo:${m.string()}`); } });
  await lc.flush();
  await waitUntil(() => interest(hub, 'svc.echo'), 5000, 'service interest on hub');
  const r = await hc.request('svc.echo', 'hi', { timeout: 5000 });
  assert.equal(r.string(), 'echo:hi');
  // the hub's own subscription is not echoed back over the link
  assert.equal(onHub.length, 1);
});

test('leaf: queue groups prefer local members, remote ones serve when there is none', async (t) => {
  const { hub, leaf } = await hubAndLeaf(t);
  const hc = await client(hub, t);
  const lc = await client(leaf, t);
  const hubQ = collect(hc, 'work', 'q');
  const leafQ = collect(lc, 'work', 'q');
  await hc.flush();
  await lc.flush();
  await waitUntil(() => interest(hub, 'work') && interest(leaf, 'work'), 5000, 'queue interest');
  for (let i = 0; i < 20; i++) hc.publish('work', `h${i}`);
  for (let i = 0; i < 20; i++) lc.publish('work', `l${i}`);
  await waitUntil(() => hubQ.length === 20 && leafQ.length === 20, 5000, 'queue deliveries');
  assert.ok(hubQ.every((m) => m.string().startsWith('h')), 'hub publishes stay with the hub member');
  assert.ok(leafQ.every((m) => m.string().startsWith('l')), 'leaf publishes stay with the leaf member');

  // only a leaf member left: hub publishes cross the link, each once
  const onlyLeaf = collect(lc, 'jobs', 'w');
  await lc.flush();
  await waitUntil(() => interest(hub, 'jobs'), 5000, 'jobs interest');
  for (let i = 0; i < 10; i++) hc.publish('jobs', `${i}`);
  await waitUntil(() => onlyLeaf.length === 10, 5000, 'remote queue deliveries');
});

test('leaf: interest removal reaches the other side', async (t) => {
  const { hub, leaf } = await hubAndLeaf(t);
  const lc = await client(leaf, t);
  const sub = lc.subscribe('gone.soon');
  await lc.flush();
  await waitUntil(() => interest(hub, 'gone.soon'), 5000, 'interest');
  sub.unsubscribe();
  await lc.flush();
  await waitUntil(() => !interest(hub, 'gone.soon'), 5000, 'interest removed');
  const hc = await client(hub, t);
  const s2 = hc.subscribe('back.up');
  await hc.flush();
  await waitUntil(() => interest(leaf, 'back.up'), 5000, 'hub interest on leaf');
  s2.unsubscribe();
  await hc.flush();
  await waitUntil(() => !interest(leaf, 'back.up'), 5000, 'hub interest removed on leaf');
});

test('leaf: the leaf reconnects after the hub restarts and sends its interest again', async (t) => {
  const { hub, leaf, leafPort } = await hubAndLeaf(t);
  const lc = await client(leaf, t);
  const got = collect(lc, 'after.restart');
  await lc.flush();
  await waitUntil(() => interest(hub, 'after.restart'), 5000, 'interest');
  await hub.shutdown();
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 0, 5000, 'link down');
  const hub2 = await startTestServer({ leafnodes: leafOpts({ port: leafPort }) }, t);
  await waitUntil(() => interest(hub2, 'after.restart'), 10000, 'interest after reconnect');
  const hc = await client(hub2, t);
  hc.publish('after.restart', 'again');
  await waitUntil(() => got.length === 1, 5000, 'message after reconnect');
});

test('leaf: hub authorization binds the leaf to the user account; bad password is refused', async (t) => {
  const hub = await startTestServer({
    accounts: [{ name: 'A', users: [], exports: [], imports: [], mappings: {} }],
    leafnodes: leafOpts({ port: 0, users: [{ user: 'lu', password: 'lp', account: 'A' }] }),
  }, t);
  const port = getLeafnodes(hub.server)!.port;
  const bad = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`nats://lu:wrong@127.0.0.1:${port}`] }] }) }, t);
  const good = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`nats://lu:lp@127.0.0.1:${port}`] }] }) }, t);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 5000, 'good leaf bound');
  assert.equal(getLeafnodes(hub.server)!.connections()[0]!.account!.name, 'A');
  // the wrong password never gets a bound link on the hub
  assert.deepEqual(getLeafnodes(hub.server)!.connections().map((c) => c.remoteId), [good.server.serverId]);
  assert.notEqual(bad.server.serverId, good.server.serverId);
  const lc = await client(good, t);
  lc.subscribe('in.a');
  await lc.flush();
  const accA = hub.server.lookupAccount('A')!;
  await waitUntil(() => accA.sublist.hasInterest('in.a'), 5000, 'interest in account A');
  assert.equal(interest(hub, 'in.a'), false);
});

test('leaf: JetStream of a leaf is reached from the hub through its domain', async (t) => {
  const hub = await startTestServer({ jetstream: js('hub'), leafnodes: leafOpts({ port: 0 }) }, t);
  const port = getLeafnodes(hub.server)!.port;
  const leaf = await startTestServer({
    jetstream: js('edge'),
    leafnodes: leafOpts({ remotes: [{ urls: [`nats://127.0.0.1:${port}`] }] }),
  }, t);
  await waitUntil(() => interest(hub, '$JS.edge.API.INFO'), 5000, 'edge domain API interest on the hub');
  // the plain API stays local on each side: no leaf-owned interest in it on the hub
  assert.deepEqual(hub.server.globalAccount.sublist.match('$JS.API.INFO').psubs.filter((s) => s.owner.kind === ClientKind.LEAF), []);
  const hc = await client(hub, t);
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const edge = await jetstreamManager(hc, { domain: 'edge' });
  await edge.streams.add({ name: 'EDGE', subjects: ['edge.>'] });
  const local = await jetstreamManager(hc);
  await assert.rejects(local.streams.info('EDGE'), /stream not found/);
  const hubInfo = await local.getAccountInfo();
  assert.equal(hubInfo.domain, 'hub');
  await waitUntil(() => interest(hub, 'edge.x'), 5000, 'stream subjects interest on the hub');
  hc.publish('edge.x', 'stored at the edge');
  await waitUntil(async () => (await edge.streams.info('EDGE')).state.messages === 1, 5000, 'message stored on the leaf');
});

test('leaf: /leafz and /varz list the leaf connections', async (t) => {
  const hub = await startTestServer({ leafnodes: leafOpts({ port: 0 }) }, t);
  const port = getLeafnodes(hub.server)!.port;
  const leaf = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`nats://127.0.0.1:${port}`] }] }) }, t);
  // Each side registers the link on its own schedule: wait for both.
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1 && getLeafnodes(leaf.server)!.connections().length === 1, 10000, 'leaf link on both sides');
  const { leafz } = await import('../../src/monitor/other.js');
  const lz = leafz(hub.server, true) as { leafnodes: number; leafs: { account: string; is_spoke: boolean; name: string }[] };
  assert.equal(lz.leafnodes, 1);
  assert.equal(lz.leafs[0]!.account, '$G');
  assert.equal(lz.leafs[0]!.is_spoke, false);
  assert.equal(lz.leafs[0]!.name, leaf.server.serverName);
  const spoke = leafz(leaf.server) as { leafs: { is_spoke: boolean }[] };
  assert.equal(spoke.leafs[0]!.is_spoke, true);
  const { varz, ProcessUsage } = await import('../../src/monitor/varz.js');
  assert.equal(varz(hub.server, new ProcessUsage(), {}).leafnodes, 1);
});

test('leaf: a cycle of leaf links is detected through the $LDS subject and refused', async (t) => {
  // B's leaf port is taken from a listener closed just before B binds it; A dials it until B is up.
  const probe = net.createServer();
  await new Promise<void>((res) => probe.listen(0, '127.0.0.1', () => res()));
  const bPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((res) => probe.close(() => res()));
  const a = await startTestServer({ leafnodes: leafOpts({ port: 0, remotes: [{ urls: [`nats://127.0.0.1:${bPort}`] }] }) }, t);
  const logA = captureLog(a);
  const aPort = getLeafnodes(a.server)!.port;
  const b = await startTestServer({ leafnodes: leafOpts({ port: bPort, remotes: [{ urls: [`nats://127.0.0.1:${aPort}`] }] }) }, t);
  const logB = captureLog(b);
  await waitUntil(() => [...logA, ...logB].some((l) => l.includes('Loop detected for leafnode account="$G"')), 10000, 'loop detection');
});

test('leaf: bad input on the leaf port closes that link only', async (t) => {
  const hub = await startTestServer({ leafnodes: leafOpts({ port: 0 }) }, t);
  const port = getLeafnodes(hub.server)!.port;
  const { c, info } = await RawClient.connectInfo(port);
  assert.equal(typeof info.client_id, 'number');
  assert.ok(Array.isArray(info.leafnode_urls));
  // interest before CONNECT is refused
  c.send('LS+ foo\r\n');
  await c.waitFor(/-ERR 'Authorization Violation'/);
  await c.waitClosed();
  const c2 = (await RawClient.connectInfo(port)).c;
  // LS+ takes one or three arguments (nats-server processLeafSub); a bad weight alone is not an error
  c2.send('CONNECT {"server_id":"NX","name":"raw"}\r\nLS+ a b c d\r\n');
  await c2.waitClosed();
  const c3 = (await RawClient.connectInfo(port)).c;
  c3.send('CONNECT {"server_id":"NY"}\r\nBOGUS\r\n');
  await c3.waitFor(/-ERR 'Unknown Protocol Operation'/);
  await c3.waitClosed();
  const c4 = (await RawClient.connectInfo(port)).c;
  c4.send('CONNECT {"server_id":"NZ"}\r\nLMSG foo 99999999999\r\n');
  await c4.waitClosed();
  // the server still serves leaf links and clients
  const leaf = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`nats://127.0.0.1:${port}`] }] }) }, t);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 5000, 'leaf link after bad input');
  const lc = await client(leaf, t);
  const got = collect(lc, 'still.ok');
  await lc.flush();
  await waitUntil(() => interest(hub, 'still.ok'), 5000, 'interest');
  const hc = await client(hub, t);
  hc.publish('still.ok', 'yes');
  await waitUntil(() => got.length === 1, 5000, 'message');
});

test('leaf: subjects with invalid UTF-8 cross the link byte for byte (LS+ and LMSG) and do not match each other', async (t) => {
  const { hub, leaf } = await hubAndLeaf(t);
  const raw = (s: string): Buffer => Buffer.from(s, 'latin1');
  const sub = (await RawClient.connectInfo(leaf.server.port)).c;
  const pub = (await RawClient.connectInfo(hub.server.port)).c;
  t.after(() => { sub.close(); pub.close(); });
  sub.send(raw('CONNECT {"verbose":false}\r\nSUB t.\xff 1\r\nSUB t.\xfe 2\r\n'));
  await sub.flushPing();
  pub.send(raw('CONNECT {"verbose":false}\r\n'));
  await pub.flushPing();
  // The hub decodes the leaf's LS+ lines: two distinct subjects, neither the U+FFFD one.
  const subjectsOnHub = (): string[] => [...hub.server.globalAccount.sublist.all()].map((s) => s.subject);
  await waitUntil(() => subjectsOnHub().filter((x) => x.startsWith('t.')).length === 2, 5000, 'both subjects on the hub');
  pub.send(raw('PUB t.\xff 1\r\nA\r\nPUB t.\xfe 1\r\nB\r\nPUB t.\xef\xbf\xbd 1\r\nC\r\n'));
  await pub.flushPing();
  const got = await sub.waitFor((s) => s.includes('B\r\n'));
  assert.equal(got, 'MSG t.\xff 1 1\r\nA\r\nMSG t.\xfe 2 1\r\nB\r\n');
  const more = await sub.flushPing();
  assert.ok(!more.includes('C\r\n'), 'the U+FFFD subject matched nobody');
});
