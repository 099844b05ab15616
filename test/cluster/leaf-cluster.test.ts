// A leaf attached to one server of a two-server tsnats cluster: the leaf's interest reaches the
// other server through the route (RS+), and messages cross leaf -> route and route -> leaf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Msg } from '@nats-io/transport-node';
import { startNode, waitRoutes, waitRemoteInterest, waitFor } from './cluster-helpers.js';
import { startTestServer } from '../helpers/server.js';
import { getLeafnodes } from '../../src/leaf/index.js';

test('leaf on a cluster member: messages cross the route and the leaf link both ways', async (t) => {
  const a = await startNode({ name: 'A', clusterName: 'LC', extra: { leafnodes: { host: '127.0.0.1', port: 0, users: [], remotes: [], reconnectMs: 50 } } });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'B', clusterName: 'LC', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);
  const port = getLeafnodes(a.h.server)!.port;
  const leaf = await startTestServer({ leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`nats://127.0.0.1:${port}`] }] } }, t);
  await waitFor(() => getLeafnodes(a.h.server)!.connections().length === 1, 'leaf link');

  const lc = await connect({ servers: leaf.clientUrl });
  t.after(() => lc.close());
  const bc = await connect({ servers: b.h.clientUrl });
  t.after(() => bc.close());
  const onLeaf: Msg[] = [];
  lc.subscribe('from.b', { callback: (_e, m) => { onLeaf.push(m); } });
  const onB: Msg[] = [];
  bc.subscribe('from.leaf', { callback: (_e, m) => { onB.push(m); } });
  await lc.flush();
  await bc.flush();
  // leaf interest -> A (LS+) -> B (RS+); B's interest -> A (RS+) -> leaf (LS+)
  await waitRemoteInterest(b, 'from.b');
  await waitFor(() => leaf.server.globalAccount.sublist.hasInterest('from.leaf'), 'B interest on the leaf');
  bc.publish('from.b', 'hello leaf');
  lc.publish('from.leaf', 'hello b');
  await waitFor(() => onLeaf.length === 1 && onB.length === 1, 'messages both ways');
  assert.equal(onLeaf[0]!.string(), 'hello leaf');
  assert.equal(onB[0]!.string(), 'hello b');
});
