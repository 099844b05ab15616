// Hole (issue 13): the route parser capped a control line at 64 KB, so 2,000
// queue groups with long names made every RMSG (which lists the queue groups
// the receiver serves) too long and the route was dropped on each publish.
// nats-server has no control-line limit on routes; tsnats now allows lines up to
// a large bound (memory stays bounded) and accumulates a long line in chunks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsServerSkip } from '../helpers/nats-server.js';
import { NatsServerNode, startNode, waitFor, waitRoutes, type InProcNode } from './cluster-helpers.js';

const GROUPS = 2000;
const groupName = (i: number): string => `${'g'.repeat(80)}-${i}`;

/** 2,000 queue subscriptions on `subject`, one per group; returns the set of groups that got a message. */
function queueSubs(nc: NatsConnection, subject: string): Set<number> {
  const got = new Set<number>();
  for (let i = 0; i < GROUPS; i++) nc.subscribe(subject, { queue: groupName(i), callback: () => { got.add(i); } });
  return got;
}

async function publishUntilAllGroups(pub: NatsConnection, subject: string, got: Set<number>): Promise<void> {
  await waitFor(async () => {
    pub.publish(subject, 'x');
    await pub.flush();
    return got.size === GROUPS;
  }, `all ${GROUPS} queue groups served through the route`, 60_000);
}

test('tsnats -> tsnats: an RMSG listing 2,000 long queue groups (>64 KB line) keeps the route', async (t) => {
  const a: InProcNode = await startNode({ name: 'LQA' });
  t.after(() => a.h.shutdown());
  const b: InProcNode = await startNode({ name: 'LQB', routes: [a.routeUrl] });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);
  const sub = await connect({ servers: b.h.clientUrl });
  t.after(() => sub.close());
  const got = queueSubs(sub, 'long.q');
  await sub.flush();
  const pub = await connect({ servers: a.h.clientUrl });
  t.after(() => pub.close());
  await publishUntilAllGroups(pub, 'long.q', got);
  assert.equal(a.cluster.numRoutes, 1);
  assert.equal(b.cluster.numRoutes, 1);
});

test('nats-server -> tsnats: the same RMSG from nats-server 2.9.10 is accepted', { skip: natsServerSkip() }, async (t) => {
  const a: InProcNode = await startNode({ name: 'LQT' });
  t.after(() => a.h.shutdown());
  const ns = await NatsServerNode.start('LQN', [a.routeUrl]);
  t.after(() => ns.cleanup());
  await waitFor(() => a.cluster.numRoutes === 1, 'route from nats-server');
  const sub = await connect({ servers: a.h.clientUrl });
  t.after(() => sub.close());
  const got = queueSubs(sub, 'long.q');
  await sub.flush();
  const pub = await connect({ servers: ns.clientUrl });
  t.after(() => pub.close());
  await publishUntilAllGroups(pub, 'long.q', got);
  assert.equal(a.cluster.numRoutes, 1);
});
