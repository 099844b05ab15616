// System account events across a route: a client connecting to one server is announced to
// system-account subscribers on the other; an account's $SYS import subscriptions stay local.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { startNode, waitRemoteInterest, waitRoutes } from '../cluster/cluster-helpers.js';
import { waitUntil } from '../helpers/wait.js';
import { ACCOUNT_SYS_IMPORTS } from '../../src/monitor/sys-imports.js';

test('connect/disconnect events of one server reach the system account of the other', async (t) => {
  const a = await startNode({ name: 'A' });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'B', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);

  const watcher = a.h.server.systemAccount.createInternalClient('test-events');
  t.after(() => watcher.close());
  const seen: { subject: string; body: any }[] = [];
  watcher.subscribe('$SYS.ACCOUNT.$G.>', (subject, _r, _h, payload) => {
    seen.push({ subject, body: JSON.parse(payload.toString()) });
  });
  await waitRemoteInterest(b, '$SYS.ACCOUNT.$G.CONNECT', true, a.h.server.systemAccount.name);

  const nc = await connect({ servers: b.h.clientUrl, name: 'on-b', reconnect: false });
  await waitUntil(() => seen.some((e) => e.subject === '$SYS.ACCOUNT.$G.CONNECT'), 15_000, 'connect event from B');
  const ev = seen.find((e) => e.subject === '$SYS.ACCOUNT.$G.CONNECT')!.body;
  assert.equal(ev.server.id, b.h.server.serverId);
  assert.equal(ev.server.name, 'B');
  assert.equal(ev.client.name, 'on-b');

  // the $G import subscriptions exist on both servers but are never announced over the route
  for (const [subject] of ACCOUNT_SYS_IMPORTS) {
    assert.equal(a.cluster.hasRemoteInterest('$G', subject), false, subject);
    assert.equal(b.cluster.hasRemoteInterest('$G', subject), false, subject);
  }
  // so the account's CONNZ request is answered by the server the client is on
  const r = (await nc.request('$SYS.REQ.ACCOUNT.PING.CONNZ', '', { timeout: 10_000 })).json<any>();
  assert.equal(r.server.id, b.h.server.serverId);
  assert.equal(r.data.connections[0].name, 'on-b');

  await nc.close();
  await waitUntil(() => seen.some((e) => e.subject === '$SYS.ACCOUNT.$G.DISCONNECT'), 15_000, 'disconnect event from B');
  const gone = seen.find((e) => e.subject === '$SYS.ACCOUNT.$G.DISCONNECT')!.body;
  assert.equal(gone.server.id, b.h.server.serverId);
  assert.equal(gone.reason, 'Client Closed');
});
