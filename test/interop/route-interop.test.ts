// Mixed clusters of tsnats and nats-server 2.9.10 (nats-server from PATH or NATS_SERVER_BIN;
// see test/helpers/nats-server.ts for when a missing one skips): either side dialling, gossip across implementations, queue groups, request/reply,
// interest removal, and route reconnection after either side restarts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, headers, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  NatsServerNode, startNode, waitFor, waitRemoteInterest, waitRoutes, type InProcNode,
} from '../cluster/cluster-helpers.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { ClientKind } from '../../src/core/types.js';

type T = { after: (fn: () => Promise<void> | void) => void };
const skip = natsServerSkip();

async function client(url: string, t: T): Promise<NatsConnection> {
  const nc = await connect({ servers: url, reconnect: false });
  t.after(async () => { if (!nc.isClosed()) await nc.close(); });
  return nc;
}

/** Request until a reply comes (interest may still be travelling); no-responders retry fast. */
async function requestUntilOk(nc: NatsConnection, subject: string, payload = '', timeoutMs = 10_000): Promise<string> {
  let reply = '';
  await waitFor(async () => {
    try {
      reply = (await nc.request(subject, payload, { timeout: 500 })).string();
      return true;
    } catch {
      return false;
    }
  }, `a reply on ${subject}`, timeoutMs);
  return reply;
}

/** Wait until a request gets a no-responders answer: the interest is gone on that server. */
async function waitNoResponders(nc: NatsConnection, subject: string): Promise<void> {
  await waitFor(async () => {
    try {
      await nc.request(subject, '', { timeout: 500 });
      return false;
    } catch (e) {
      return /no responders/i.test(String((e as Error).message));
    }
  }, `no responders on ${subject}`);
}

function responder(nc: NatsConnection, subject: string, tag: string, queue?: string): void {
  nc.subscribe(subject, { queue, callback: (_e, m) => { m.respond(`${tag}:${m.string()}`); } });
}

async function nsNode(t: T, name: string, routes: string[], port = 0, clusterName = 'C1'): Promise<NatsServerNode> {
  const n = await NatsServerNode.start(name, routes, port, clusterName);
  t.after(() => n.cleanup());
  return n;
}

async function tsNode(t: T, name: string, routes: string[] = [], clusterPort = 0): Promise<InProcNode> {
  const n = await startNode({ name, routes, clusterPort });
  t.after(() => n.h.shutdown());
  return n;
}

/** The checks every mixed pair must pass, whichever side dialled. */
async function exercisePair(t: T, ts: InProcNode, nsUrl: string): Promise<void> {
  const tc = await client(ts.h.clientUrl, t);
  const nc = await client(nsUrl, t);

  // nats-server subscriber, tsnats publisher (wildcards).
  const atNs: string[] = [];
  nc.subscribe('iop.*.evt', { callback: (_e, m) => { atNs.push(`${m.subject}|${m.reply ?? ''}|${m.string()}`); } });
  nc.subscribe('iop.>', { callback: (_e, m) => { atNs.push(`>${m.subject}`); } });
  await nc.flush();
  await waitRemoteInterest(ts, 'iop.a.evt');
  tc.publish('iop.a.evt', 'one');
  tc.publish('iop.b.evt', 'two', { reply: 'r.x' });
  tc.publish('iop.c.other', 'three');
  await tc.flush();
  await waitFor(() => atNs.length === 5, 'nats-server side got 5 deliveries');
  assert.deepEqual(atNs.filter((x) => !x.startsWith('>')), ['iop.a.evt||one', 'iop.b.evt|r.x|two']);
  assert.deepEqual(atNs.filter((x) => x.startsWith('>')).sort(), ['>iop.a.evt', '>iop.b.evt', '>iop.c.other']);

  // tsnats subscriber, nats-server publisher; the probe responder is subscribed after the
  // data subscription, so once it answers, the data interest has reached nats-server too.
  const atTs: string[] = [];
  tc.subscribe('back.>', { callback: (_e, m) => { atTs.push(`${m.subject}|${m.string()}`); } });
  responder(tc, 'probe.ts', 'ts');
  await tc.flush();
  assert.equal(await requestUntilOk(nc, 'probe.ts', 'p'), 'ts:p');
  nc.publish('back.x.y', 'hi');
  nc.publish('back', 'not matched');
  await nc.flush();
  await waitFor(() => atTs.length === 1, 'tsnats side got the message');
  assert.deepEqual(atTs, ['back.x.y|hi']);

  // request/reply both ways
  responder(nc, 'svc.ns', 'ns');
  await nc.flush();
  await waitRemoteInterest(ts, 'svc.ns');
  assert.equal((await tc.request('svc.ns', 'q1', { timeout: 2000 })).string(), 'ns:q1');
  assert.equal((await nc.request('probe.ts', 'q2', { timeout: 2000 })).string(), 'ts:q2');

  // Headers cross in both directions (HMSG on the route).
  const echoHdr = (who: string) => (_e: unknown, m: Msg) => {
    const h = headers();
    h.set('X-Seen-By', who);
    h.set('X-Got', m.headers?.get('X-Req') ?? 'none');
    m.respond(m.data, { headers: h });
  };
  nc.subscribe('hdr.ns', { callback: echoHdr('ns') });
  tc.subscribe('hdr.ts', { callback: echoHdr('ts') });
  await nc.flush();
  await tc.flush();
  await waitRemoteInterest(ts, 'hdr.ns');
  await requestUntilOk(nc, 'hdr.ts');
  const rh = headers();
  rh.set('X-Req', 'abc');
  const r1 = await tc.request('hdr.ns', 'p1', { timeout: 2000, headers: rh });
  assert.equal(r1.headers?.get('X-Seen-By'), 'ns');
  assert.equal(r1.headers?.get('X-Got'), 'abc');
  assert.equal(r1.string(), 'p1');
  const r2 = await nc.request('hdr.ts', 'p2', { timeout: 2000, headers: rh });
  assert.equal(r2.headers?.get('X-Seen-By'), 'ts');
  assert.equal(r2.headers?.get('X-Got'), 'abc');
  assert.equal(r2.string(), 'p2');

  // Queue group with members on both servers: one delivery per message, cluster-wide.
  const seen = new Map<string, string[]>();
  const member = (who: string) => (_e: unknown, m: { string(): string }) => {
    const k = m.string();
    seen.set(k, [...(seen.get(k) ?? []), who]);
  };
  nc.subscribe('jobs', { queue: 'wq', callback: member('ns1') });
  nc.subscribe('jobs', { queue: 'wq', callback: member('ns2') });
  tc.subscribe('jobs', { queue: 'wq', callback: member('ts') });
  responder(tc, 'probe.q', 'ts');
  await nc.flush();
  await tc.flush();
  await waitFor(() => ts.h.server.globalAccount.sublist.match('jobs').qsubs[0]?.length === 3, 'nats-server queue weight 2 on tsnats');
  await requestUntilOk(nc, 'probe.q');
  const N = 200;
  for (let i = 0; i < N; i++) nc.publish('jobs', `n${i}`);
  for (let i = 0; i < N; i++) tc.publish('jobs', `t${i}`);
  await nc.flush();
  await tc.flush();
  await waitFor(() => seen.size === 2 * N, `all ${2 * N} jobs`);
  assert.ok([...seen.values()].every((w) => w.length === 1), 'no job delivered twice');
  const fromNsToTs = [...seen.entries()].filter(([k, w]) => k.startsWith('n') && w[0] === 'ts').length;
  assert.ok(fromNsToTs > 0, 'nats-server sent some jobs to the tsnats member (weighted random pick)');
  // and tsnats picks among all members too: about 2/3 of its own jobs go to the two there
  const fromTsToNs = [...seen.entries()].filter(([k, w]) => k.startsWith('t') && w[0] !== 'ts').length;
  assert.ok(fromTsToNs > 0 && fromTsToNs < N, `tsnats sent some of its jobs to the nats-server members (${fromTsToNs})`);

  // Interest removal on unsubscribe: nats-server -> tsnats ...
  const nsSub = nc.subscribe('rm.ns');
  await nc.flush();
  await waitRemoteInterest(ts, 'rm.ns');
  nsSub.unsubscribe();
  await nc.flush();
  await waitRemoteInterest(ts, 'rm.ns', false);
  // ... and tsnats -> nats-server (RS- is ordered before the probe's RS-).
  let gotRm = 0;
  const tsSub = tc.subscribe('rm.ts', { callback: () => { gotRm++; } });
  const probe = tc.subscribe('probe.rm', { callback: (_e, m) => { m.respond('x'); } });
  await tc.flush();
  await requestUntilOk(nc, 'probe.rm');
  tsSub.unsubscribe();
  probe.unsubscribe();
  await tc.flush();
  await waitNoResponders(nc, 'probe.rm');
  // Only the sync request crosses the route, not the publish to the removed interest. A system event
  // of nats-server's (a STATSZ heartbeat) may cross in the same window now and then, so the window is
  // tried up to three times; were rm.ts still forwarded, it would cross in every one.
  const crossed: number[] = [];
  for (let i = 0; i < 3 && crossed.at(-1) !== 1; i++) {
    const inBefore = ts.cluster.routez().routes[0]!.in_msgs;
    nc.publish('rm.ts', 'dropped');
    await nc.flush();
    assert.equal((await nc.request('probe.ts', 'sync', { timeout: 2000 })).string(), 'ts:sync');
    crossed.push(ts.cluster.routez().routes[0]!.in_msgs - inBefore);
  }
  assert.equal(crossed.at(-1), 1, `messages that crossed the route per window: ${crossed.join(', ')}`);
  assert.equal(gotRm, 0);

  // Interest removal on client disconnect, both directions.
  const tc2 = await client(ts.h.clientUrl, t);
  responder(tc2, 'disc.ts', 'ts2');
  await tc2.flush();
  assert.equal(await requestUntilOk(nc, 'disc.ts', 'a'), 'ts2:a');
  await tc2.close();
  await waitNoResponders(nc, 'disc.ts');
  const nc2 = await client(nsUrl, t);
  responder(nc2, 'disc.ns', 'ns2');
  await nc2.flush();
  await waitRemoteInterest(ts, 'disc.ns');
  await nc2.close();
  await waitRemoteInterest(ts, 'disc.ns', false);
}

test('tsnats dials nats-server 2.9.10: messages, queues, requests, interest removal', { skip }, async (t) => {
  const ns = await nsNode(t, 'ns-a', []);
  const ts = await tsNode(t, 'ts-a', [ns.routeUrl]);
  await waitRoutes([ts], 1);
  await waitFor(() => ns.log().includes('Registering remote route'), 'nats-server registered the route');
  assert.equal(ts.cluster.routez().routes[0]!.remote_name, 'ns-a');
  await exercisePair(t, ts, ns.clientUrl);
  assert.doesNotMatch(ns.log(), /\[ERR\].*(parser|Protocol|rid)/, 'nats-server logged no route errors');
});

test('nats-server 2.9.10 dials tsnats: messages, queues, requests, interest removal', { skip }, async (t) => {
  const ts = await tsNode(t, 'ts-b');
  const ns = await nsNode(t, 'ns-b', [ts.routeUrl]);
  await waitRoutes([ts], 1);
  const r = ts.cluster.routez().routes[0]!;
  assert.equal(r.did_solicit, false);
  assert.equal(r.remote_name, 'ns-b');
  await exercisePair(t, ts, ns.clientUrl);
  assert.doesNotMatch(ns.log(), /\[ERR\].*(parser|Protocol|rid)/, 'nats-server logged no route errors');
});

test('3-node mixed clusters form a full mesh by gossip across implementations', { skip }, async (t) => {
  // nats-server seed, two tsnats members: nats-server gossips each tsnats to the other.
  const ns = await nsNode(t, 'ns-seed', []);
  const t1 = await tsNode(t, 'ts-1', [ns.routeUrl]);
  const t2 = await tsNode(t, 'ts-2', [ns.routeUrl]);
  await waitRoutes([t1, t2], 2, 15_000);
  assert.deepEqual(t1.cluster.peers().map((p) => p.name).sort(), ['ns-seed', 'ts-2']);

  // tsnats seed, two nats-server members: tsnats gossips each nats-server to the other.
  const seed = await tsNode(t, 'ts-seed');
  // The only messages tsnats itself sends the nats-servers are its statsz heartbeats (as every
  // nats-server does); count them so "relayed nothing" can be checked exactly.
  let beats = 0;
  const beat = seed.h.server.systemAccount.createInternalClient('test-statsz', ClientKind.SYSTEM);
  beat.subscribe(`$SYS.SERVER.${seed.h.server.serverId}.STATSZ`, () => { beats++; });
  t.after(() => beat.close());
  const n1 = await nsNode(t, 'ns-1', [seed.routeUrl]);
  const n2 = await nsNode(t, 'ns-2', [seed.routeUrl]);
  await waitRoutes([seed], 2);
  await waitFor(() => /Registering remote route "[A-Z0-9]+"/.test(n1.log()) && n1.log().split('Registering remote route').length - 1 >= 2,
    'ns-1 has routes to ts-seed and ns-2', 15_000);
  // A message from ns-1 to ns-2 goes direct: tsnats relays nothing (one hop).
  const c1 = await client(n1.clientUrl, t);
  const c2 = await client(n2.clientUrl, t);
  responder(c2, 'mesh.svc', 'n2');
  await c2.flush();
  // Route counters read between two equal heartbeat counts (a beat may fire meanwhile).
  const countersBetweenBeats = async (): Promise<{ sent: number; outs: { remote_name: string; out_msgs: number }[] }> => {
    let got = { sent: 0, outs: [] as { remote_name: string; out_msgs: number }[] };
    await waitFor(() => {
      got = { sent: beats, outs: seed.cluster.routez().routes };
      return beats === got.sent;
    }, 'route counters read between heartbeats');
    return got;
  };
  assert.equal(await requestUntilOk(c1, 'mesh.svc', 'w'), 'n2:w'); // interest everywhere first
  const before = await countersBetweenBeats();
  assert.equal(await requestUntilOk(c1, 'mesh.svc', 'x'), 'n2:x');
  const after = await countersBetweenBeats();
  for (const r of after.outs) {
    const was = before.outs.find((x) => x.remote_name === r.remote_name)?.out_msgs ?? 0;
    assert.equal(r.out_msgs - was, after.sent - before.sent, `tsnats relayed nothing to ${r.remote_name} (only its own statsz heartbeats)`);
  }
  // All three interoperate: a tsnats client reaches both nats-servers' responders.
  responder(c1, 'mesh.svc1', 'n1');
  await c1.flush();
  const sc = await client(seed.h.clientUrl, t);
  await waitRemoteInterest(seed, 'mesh.svc1');
  assert.equal((await sc.request('mesh.svc1', 'y', { timeout: 2000 })).string(), 'n1:y');
  assert.equal((await sc.request('mesh.svc', 'z', { timeout: 2000 })).string(), 'n2:z');
});

test('routes come back after nats-server restarts, and after tsnats restarts', { skip }, async (t) => {
  // Each lists the other: both sides dial, duplicates are resolved, both re-dial after a loss.
  // Both bind a free port themselves; nats-server learns tsnats' port by a config reload.
  let ns = await nsNode(t, 'ns-r', []);
  const nsPort = ns.clusterPort;
  let ts = await startNode({ name: 'ts-r', routes: [`nats-route://127.0.0.1:${nsPort}`] });
  t.after(() => ts.h.shutdown());
  const tsPort = ts.h.clusterPort;
  await ns.setRoutes([`nats-route://127.0.0.1:${tsPort}`]);
  await waitRoutes([ts], 1, 15_000);
  await waitFor(() => ns.log().includes(`127.0.0.1:${tsPort}`), 'nats-server dialled the route it was given');

  const tc = await connect({ servers: ts.h.clientUrl, reconnect: false });
  t.after(async () => { if (!tc.isClosed()) await tc.close(); });
  responder(tc, 'rs.ts', 'ts');
  await tc.flush();

  // nats-server dies hard and comes back on the same cluster port (the one port reuse this
  // test needs: tsnats keeps dialling it).
  const dir = ns.dir;
  await ns.kill('SIGKILL');
  await waitRoutes([ts], 0);
  ns = await NatsServerNode.start('ns-r', [`nats-route://127.0.0.1:${tsPort}`], nsPort, 'C1', dir);
  t.after(() => ns.cleanup());
  await waitRoutes([ts], 1, 15_000);
  const nc = await client(ns.clientUrl, t);
  // tsnats re-sent its interest to the new nats-server ...
  assert.equal(await requestUntilOk(nc, 'rs.ts', '1'), 'ts:1');
  // ... and the new nats-server's interest reaches tsnats.
  responder(nc, 'rs.ns', 'ns');
  await nc.flush();
  await waitRemoteInterest(ts, 'rs.ns');
  assert.equal((await tc.request('rs.ns', '2', { timeout: 2000 })).string(), 'ns:2');

  // tsnats restarts on the same cluster port; nats-server re-dials it.
  await tc.close();
  await ts.h.shutdown();
  ts = await startNode({ name: 'ts-r', routes: [`nats-route://127.0.0.1:${nsPort}`], clusterPort: tsPort });
  await waitRoutes([ts], 1, 15_000);
  await waitRemoteInterest(ts, 'rs.ns');
  const tc2 = await client(ts.h.clientUrl, t);
  assert.equal((await tc2.request('rs.ns', '3', { timeout: 2000 })).string(), 'ns:3');
  responder(tc2, 'rs.ts2', 'ts2');
  await tc2.flush();
  assert.equal(await requestUntilOk(nc, 'rs.ts2', '4'), 'ts2:4');
});
