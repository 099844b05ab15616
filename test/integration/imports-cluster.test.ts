// Imports across a cluster: a stream import's shadow interest travels the routes as the
// exporting account's interest, and a service request made on one server is answered by a
// responder on another (the `_R_` reply interest of the importer's server crosses the route).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { loadConfigText } from '../../src/config/load.js';
import { startNode, waitRemoteInterest, waitRoutes, type InProcNode } from '../cluster/cluster-helpers.js';
import { waitUntil } from '../helpers/wait.js';

const CONF = `
accounts: {
  A: { users: [ {user: a, password: a} ], exports: [ { stream: "pub.>" }, { service: "svc.>", response_type: stream } ] }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      { stream: { account: A, subject: "pub.>" }, prefix: "fromA" }
      { service: { account: A, subject: "svc.>" }, to: "local.>" }
    ]
  }
}
`;

async function twoNodes(t: import('node:test').TestContext): Promise<[InProcNode, InProcNode]> {
  const { options } = loadConfigText(CONF, 'imports.conf');
  const extra = { ...options, host: '127.0.0.1', port: 0 };
  const n1 = await startNode({ name: 'n1', extra }, { configAuth: true });
  t.after(() => n1.h.shutdown());
  const n2 = await startNode({ name: 'n2', routes: [n1.routeUrl], extra }, { configAuth: true });
  t.after(() => n2.h.shutdown());
  await waitRoutes([n1, n2], 1);
  return [n1, n2];
}

async function open(t: import('node:test').TestContext, node: InProcNode, user: string): Promise<NatsConnection> {
  const nc = await connect({ servers: node.h.clientUrl, user, pass: user });
  t.after(() => nc.close());
  return nc;
}

test('stream and service imports work between clients on different servers', async (t) => {
  const [n1, n2] = await twoNodes(t);
  const a = await open(t, n1, 'a');
  const b = await open(t, n2, 'b');

  const got: string[] = [];
  const sub = b.subscribe('fromA.>', { callback: (_e, m) => { got.push(`${m.subject} ${m.string()}`); } });
  await b.flush();
  // the importer's subscription is A's interest on n2, announced to n1
  await waitRemoteInterest(n1, 'pub.x', true, 'A');
  a.publish('pub.x', 'over the route');
  await waitUntil(() => got.length === 1);
  assert.deepEqual(got, ['fromA.pub.x over the route']);

  let requests = 0;
  a.subscribe('svc.>', {
    callback: (_e, m) => {
      requests++;
      m.respond(`one ${m.subject}`);
      m.respond('two');
    },
  });
  await a.flush();
  await waitRemoteInterest(n2, 'svc.q', true, 'A');
  // a subscriber of B on n1 makes n2 route B's requests there too: n1 must not serve that copy again
  const served: string[] = [];
  const b1 = await open(t, n1, 'b');
  b1.subscribe('local.q', { callback: (_e, m) => { served.push(m.string()); } });
  await b1.flush();
  await waitRemoteInterest(n2, 'local.q', true, 'B');
  const answers: string[] = [];
  const inbox = b.subscribe('answers', { callback: (_e, m) => { answers.push(m.string()); } });
  await b.flush();
  b.publish('local.q', 'hi', { reply: 'answers' });
  await waitUntil(() => answers.length === 2);
  assert.deepEqual(answers, ['one svc.q', 'two']);
  assert.deepEqual(served, ['hi']);
  assert.equal(requests, 1, 'the responder in A got the request once');
  inbox.unsubscribe();

  // B's subscription gone: so is A's interest on n1
  sub.unsubscribe();
  await b.flush();
  await waitRemoteInterest(n1, 'pub.x', false, 'A');
});
