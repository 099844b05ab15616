// Queue member selection across a two-server cluster, side by side with nats-server 2.9.10:
// a client's message picks among all members of the group (a route's queue subscription
// counts as many members as its weight), a routed message stays with the local members,
// and a member leaving while messages flow loses nothing and duplicates nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { natsServerSkip } from '../helpers/nats-server.js';
import { RawClient } from '../helpers/raw-client.js';
import { NatsServerNode, startNode, waitFor, waitRoutes } from './cluster-helpers.js';

interface Pair { urlA: string; urlB: string }
type After = { after: (fn: () => Promise<void> | void) => void };

async function tsnatsPair(t: After): Promise<Pair> {
  const a = await startNode({ name: 'QSA' });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'QSB', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);
  return { urlA: a.h.clientUrl, urlB: b.h.clientUrl };
}

async function natsServerPair(t: After): Promise<Pair> {
  const a = await NatsServerNode.start('QSA', []);
  t.after(() => a.cleanup());
  const b = await NatsServerNode.start('QSB', [a.routeUrl]);
  t.after(() => b.cleanup());
  return { urlA: a.clientUrl, urlB: b.clientUrl };
}

const IMPLS: [string, (t: After) => Promise<Pair>, string | false][] = [
  ['tsnats', tsnatsPair, false],
  ['nats-server', natsServerPair, natsServerSkip()],
];

async function client(url: string, t: After): Promise<NatsConnection> {
  const nc = await connect({ servers: url, reconnect: false });
  t.after(() => nc.close());
  return nc;
}

/**
 * Wait until `from`'s server has every subscription `on` made so far: `on` answers on a
 * fresh subject after its other subscriptions, and the route carries interest in order.
 */
async function waitInterest(from: NatsConnection, on: NatsConnection, tag: string): Promise<void> {
  const probe = `probe.${tag}`;
  const s = on.subscribe(probe, { callback: (_e, m) => { m.respond('ok'); } });
  await on.flush();
  await waitFor(async () => {
    try {
      return (await from.request(probe, '', { timeout: 500 })).string() === 'ok';
    } catch {
      return false;
    }
  }, `interest of ${tag} on the other server`);
  s.unsubscribe();
  await on.flush();
}

/** Queue members on both servers; counts per member of each message id. */
function members(ncs: NatsConnection[], subject: string): { perMember: number[]; seen: Map<string, number> } {
  const perMember = ncs.map(() => 0);
  const seen = new Map<string, number>();
  ncs.forEach((nc, i) => nc.subscribe(subject, {
    queue: 'q',
    callback: (_e, m) => {
      perMember[i]++;
      seen.set(m.string(), (seen.get(m.string()) ?? 0) + 1);
    },
  }));
  return { perMember, seen };
}

async function publishAll(nc: NatsConnection, subject: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    nc.publish(subject, `m${i}`);
    if (i % 100 === 99) await nc.flush();
  }
  await nc.flush();
}

function assertOnce(seen: Map<string, number>, n: number): void {
  assert.equal(seen.size, n, 'every message reached the group');
  assert.ok([...seen.values()].every((c) => c === 1), 'no message reached the group twice');
}

for (const [name, pair, skip] of IMPLS) {
  test(`${name}: one member on each server, a client's messages are spread over both`, { skip }, async (t) => {
    const { urlA, urlB } = await pair(t);
    const pubA = await client(urlA, t);
    const [ma, mb] = [await client(urlA, t), await client(urlB, t)];
    const { perMember, seen } = members([ma, mb], 'spread');
    await ma.flush();
    await waitInterest(pubA, mb, 'b');
    await waitInterest(await client(urlB, t), ma, 'a');
    const N = 1000;
    await publishAll(pubA, 'spread', N);
    await waitFor(() => seen.size === N, `${N} messages in the group`);
    assertOnce(seen, N);
    console.log(`${name} 1+1 from A: member on A ${perMember[0]}, member on B ${perMember[1]}`);
    // Expected 50% each. The member on B gets its share through the route and B keeps it
    // (a routed message prefers local members): > 35% rules out both "local only" and a
    // second draw on B (which would leave it about 25%).
    assert.ok(perMember[0]! > 0.35 * N && perMember[1]! > 0.35 * N, `both members got a share: ${perMember}`);
  });

  test(`${name}: a route's queue weight counts its members (3 on B, 1 on A)`, { skip }, async (t) => {
    const { urlA, urlB } = await pair(t);
    const pubA = await client(urlA, t);
    const ma = await client(urlA, t);
    const bs = [await client(urlB, t), await client(urlB, t), await client(urlB, t)];
    const { perMember, seen } = members([ma, ...bs], 'weights');
    for (const nc of bs) await waitInterest(pubA, nc, `w${bs.indexOf(nc)}`);
    await ma.flush();
    const N = 1000;
    await publishAll(pubA, 'weights', N);
    await waitFor(() => seen.size === N, `${N} messages in the group`);
    assertOnce(seen, N);
    const onB = perMember[1]! + perMember[2]! + perMember[3]!;
    console.log(`${name} 1+3 from A: member on A ${perMember[0]}, members on B ${perMember.slice(1)} (${onB})`);
    // Expected 750 on B (std ~14).
    assert.ok(onB > 0.65 * N && onB < 0.85 * N, `about 75% crossed to B: ${onB}`);
    // Each member expects 25% (std ~14): B draws evenly among its own members for routed ones.
    assert.ok(perMember.every((c) => c > 0.15 * N), `every member got its share: ${perMember}`);
  });

  test(`${name}: a member leaving while messages flow loses and duplicates nothing`, { skip }, async (t) => {
    const { urlA, urlB } = await pair(t);
    const pubA = await client(urlA, t);
    const [ma, mb] = [await client(urlA, t), await client(urlB, t)];
    const seen = new Map<string, number>();
    const count = (s: string): void => { seen.set(s, (seen.get(s) ?? 0) + 1); };
    let onB = 0;
    let drained: Promise<void> | null = null;
    ma.subscribe('leave', { queue: 'q', callback: (_e, m) => count(m.string()) });
    const subB: Subscription = mb.subscribe('leave', {
      queue: 'q',
      callback: (_e, m) => {
        count(m.string());
        // Leave mid-stream; drain still hands over what the server already sent.
        if (++onB === 200) drained = subB.drain();
      },
    });
    await ma.flush();
    await waitInterest(pubA, mb, 'leave');
    const N = 3000;
    await publishAll(pubA, 'leave', N);
    await waitFor(() => seen.size === N, `${N} messages in the group`);
    await drained;
    await pubA.flush();
    assertOnce(seen, N);
    assert.ok(drained !== null, 'the member on B left while messages flowed');
    assert.ok(onB >= 200 && onB < N, `B got ${onB} before it left`);
  });
}

/** A route peer speaking the raw protocol to `clusterPort` (its own server id `id`). */
async function fakeRoute(clusterPort: number, id: string, t: After): Promise<RawClient> {
  const c = await RawClient.connect(clusterPort);
  t.after(() => c.close());
  await c.readLine();
  c.send(`CONNECT {"echo":true,"verbose":false,"pedantic":false,"tls_required":false,"headers":true,"name":"${id}","cluster":"C1"}\r\n`);
  c.send(`INFO {"server_id":"${id}","server_name":"${id}","version":"2.9.10","proto":2,"go":"go1.19.8","host":"127.0.0.1","port":1,"headers":true,"max_payload":1048576,"cluster":"C1"}\r\n`);
  await c.flushPing();
  return c;
}

const SINGLE: [string, (t: After) => Promise<{ clientUrl: string; clusterPort: number }>, string | false][] = [
  ['tsnats', async (t) => {
    const a = await startNode({ name: 'QSR' });
    t.after(() => a.h.shutdown());
    return { clientUrl: a.h.clientUrl, clusterPort: a.h.clusterPort! };
  }, false],
  ['nats-server', async (t) => {
    const a = await NatsServerNode.start('QSR', []);
    t.after(() => a.cleanup());
    return a;
  }, natsServerSkip()],
];

for (const [name, single, skip] of SINGLE) {
  test(`${name}: a routed queue message goes to a local member, and to a route member only when none is left`, { skip }, async (t) => {
    const { clientUrl, clusterPort } = await single(t);
    const r1 = await fakeRoute(clusterPort, 'NQSR1', t);
    const r2 = await fakeRoute(clusterPort, 'NQSR2', t);
    // r1 has a member of group q (weight 3); the server has one local member.
    r1.send('RS+ $G routed.q q 3\r\n');
    await r1.flushPing();
    const nc = await client(clientUrl, t);
    let local = 0;
    const sub = nc.subscribe('routed.q', { queue: 'q', callback: () => { local++; } });
    await nc.flush();
    await r1.waitFor('RS+ $G routed.q q 1\r\n');
    r1.clear();

    const N = 20;
    for (let i = 0; i < N; i++) r2.send('RMSG $G routed.q | q 1\r\nX\r\n');
    await r2.flushPing();
    await waitFor(() => local === N, `${N} routed messages on the local member`);
    assert.equal(await r1.flushPing(), '', 'nothing went on to the other route');

    // No local member left: the message still reaches the group, through r1.
    sub.unsubscribe();
    await nc.flush();
    await r1.waitFor('RS- $G routed.q q\r\n');
    r1.clear();
    r2.send('RMSG $G routed.q | q 1\r\nY\r\n');
    await r2.flushPing();
    await r1.waitFor('RMSG $G routed.q | q 1\r\nY\r\n');
  });
}
