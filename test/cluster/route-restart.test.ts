// Nodes in child processes: SIGKILL one (no goodbye on its routes), restart it on the
// same ports, and check that the mesh re-forms, interest is re-synced and nothing is
// delivered twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ChildNode, waitFor, type NodeSpec } from './cluster-helpers.js';

type T = { after: (fn: () => Promise<void> | void) => void };

async function routesEverywhere(nodes: ChildNode[], n: number, timeoutMs = 15_000): Promise<void> {
  await waitFor(async () => {
    for (const x of nodes) if ((await x.numRoutes()) !== n) return false;
    return true;
  }, `${n} routes on every child node`, timeoutMs);
}

async function interest(node: ChildNode, subject: string): Promise<void> {
  await waitFor(() => node.hasRemoteInterest(subject), `remote interest in ${subject}`, 15_000);
}

async function counted(nc: NatsConnection, subject: string): Promise<{ n: () => number; ids: Map<string, number> }> {
  const ids = new Map<string, number>();
  let n = 0;
  nc.subscribe(subject, { callback: (_e, m) => { n++; ids.set(m.string(), (ids.get(m.string()) ?? 0) + 1); } });
  await nc.flush();
  return { n: () => n, ids };
}

test('SIGKILL a member and restart it: mesh re-forms, interest re-synced, no duplicates', async (t: T) => {
  // Every node binds a free cluster port; restarts reuse the port the node had, since
  // the others keep dialling it (K1 then also lists K2, whose port is known by then).
  const k1 = await ChildNode.start({ name: 'K1' });
  const seed = `nats-route://127.0.0.1:${k1.ready.clusterPort}`;
  const k2 = await ChildNode.start({ name: 'K2', routes: [seed] });
  const k3 = await ChildNode.start({ name: 'K3', routes: [seed] });
  const nodes = [k1, k2, k3];
  t.after(async () => { for (const n of nodes) await n.stop(); });
  const specs: NodeSpec[] = [
    { name: 'K1', clusterPort: k1.ready.clusterPort, routes: [`nats-route://127.0.0.1:${k2.ready.clusterPort}`] },
    { name: 'K2', clusterPort: k2.ready.clusterPort, routes: [seed] },
  ];
  await routesEverywhere(nodes, 2);

  const nc1 = await connect({ servers: nodes[0]!.ready.clientUrl, reconnect: false });
  const nc3 = await connect({ servers: nodes[2]!.ready.clientUrl, reconnect: false });
  t.after(async () => { await nc1.close(); await nc3.close(); });
  const on1 = await counted(nc1, 'k.data');
  await interest(nodes[2]!, 'k.data');

  // K2 dies without closing its routes.
  await nodes[1]!.kill();
  await waitFor(async () => (await nodes[0]!.numRoutes()) === 1 && (await nodes[2]!.numRoutes()) === 1, 'K1 and K3 notice K2 is gone');

  // Same name and ports again.
  nodes[1] = await ChildNode.start(specs[1]!);
  await routesEverywhere(nodes, 2);
  const nc2 = await connect({ servers: nodes[1]!.ready.clientUrl, reconnect: false });
  t.after(() => nc2.close());
  const on2 = await counted(nc2, 'k.data');
  // K1's old subscription was re-sent to the new K2; K2's new one reached K3.
  await interest(nodes[1]!, 'k.data');
  await interest(nodes[2]!, 'k.data');

  // Sync subject served on K2 so we know K2's subscriptions are known on K3.
  nc2.subscribe('k.sync', { callback: (_e, m) => { m.respond('ok'); } });
  await nc2.flush();
  await interest(nodes[2]!, 'k.sync');
  assert.equal((await nc3.request('k.sync', '', { timeout: 3000 })).string(), 'ok');

  const N = 100;
  for (let i = 0; i < N; i++) nc3.publish('k.data', `m${i}`);
  await nc3.flush();
  await waitFor(() => on1.n() >= N && on2.n() >= N, 'both subscribers got every message', 10_000);
  // A published message from the restarted node also reaches K1.
  nc2.publish('k.data', 'from-k2');
  await nc2.flush();
  await waitFor(() => on1.ids.has('from-k2'), 'K2 -> K1 after restart');
  // Round trip through K2 so anything still in flight has arrived.
  assert.equal((await nc1.request('k.sync', '', { timeout: 3000 })).string(), 'ok');
  assert.equal(on1.n(), N + 1);
  assert.equal(on2.n(), N + 1);
  assert.ok([...on1.ids.values()].every((c) => c === 1));
  assert.ok([...on2.ids.values()].every((c) => c === 1));

  // Now the seed itself: K2 and K3 keep dialling it until it is back.
  await nc1.close();
  await nodes[0]!.kill();
  await waitFor(async () => (await nodes[1]!.numRoutes()) === 1 && (await nodes[2]!.numRoutes()) === 1, 'K2 and K3 notice K1 is gone');
  nodes[0] = await ChildNode.start(specs[0]!);
  await routesEverywhere(nodes, 2);
  const nc1b = await connect({ servers: nodes[0]!.ready.clientUrl, reconnect: false });
  t.after(() => nc1b.close());
  await interest(nodes[0]!, 'k.sync');
  assert.equal((await nc1b.request('k.sync', '', { timeout: 3000 })).string(), 'ok');
});
