// Account.watchInterest: notifications when subscriptions that can match a watched subject
// come or go, from local clients (plain, wildcard, queue) and from a route peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { startTestServer } from '../helpers/server.js';
import { startNode, waitRoutes, waitFor } from '../cluster/cluster-helpers.js';

test('watchInterest fires for local plain, wildcard and queue subscriptions on the watched subject only', async (t) => {
  const h = await startTestServer({}, t);
  const acc = h.server.lookupAccount('$G')!;
  const states: boolean[] = [];
  const unwatch = acc.watchInterest('deliver.here', () => { states.push(acc.sublist.hasInterest('deliver.here')); });
  const nc = await connect({ servers: h.clientUrl, reconnect: false });
  t.after(() => nc.close());

  const other = nc.subscribe('deliver.elsewhere');
  await nc.flush();
  assert.deepEqual(states, [], 'an unrelated subject does not notify');

  const plain = nc.subscribe('deliver.here');
  await nc.flush();
  assert.deepEqual(states, [true]);
  plain.unsubscribe();
  await nc.flush();
  assert.deepEqual(states, [true, false]);

  const wild = nc.subscribe('deliver.*');
  const q = nc.subscribe('>', { queue: 'workers' });
  await nc.flush();
  assert.deepEqual(states, [true, false, true, true]);
  wild.unsubscribe();
  q.unsubscribe();
  other.unsubscribe();
  await nc.flush();
  assert.deepEqual(states, [true, false, true, true, true, false]);

  unwatch();
  nc.subscribe('deliver.here');
  await nc.flush();
  assert.equal(states.length, 6, 'no notifications after unwatch');
});

test('watchInterest fires for interest of a route peer (RS+ / RS- and route loss)', async (t) => {
  const a = await startNode({ name: 'A' });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'B', routes: [a.routeUrl] });
  let bDown = false;
  t.after(() => (bDown ? undefined : b.h.shutdown()));
  await waitRoutes([a, b], 1);
  const acc = a.h.server.lookupAccount('$G')!;
  const states: boolean[] = [];
  const unwatch = acc.watchInterest('push.remote', () => { states.push(acc.sublist.hasInterest('push.remote')); });
  t.after(unwatch);

  const ncb = await connect({ servers: b.h.clientUrl, reconnect: false });
  const sub = ncb.subscribe('push.remote');
  await ncb.flush();
  await waitFor(() => states.length === 1, 'notified of remote interest');
  assert.deepEqual(states, [true]);
  sub.unsubscribe();
  await ncb.flush();
  await waitFor(() => states.length === 2, 'notified of remote interest removal');
  assert.deepEqual(states, [true, false]);

  ncb.subscribe('push.>');
  await ncb.flush();
  await waitFor(() => states.length === 3, 'notified of remote wildcard interest');
  await ncb.close();
  await waitFor(() => states.length === 4, 'notified when the remote client left');
  assert.deepEqual(states, [true, false, true, false]);

  const ncb2 = await connect({ servers: b.h.clientUrl, reconnect: false });
  ncb2.subscribe('push.remote');
  await ncb2.flush();
  await waitFor(() => states.length === 5, 'remote interest again');
  t.after(() => ncb2.close());
  bDown = true;
  await b.h.shutdown();
  await waitFor(() => states.length >= 6 && states[states.length - 1] === false, 'route loss drops the interest');
});
