// What may cross a leaf link, tsnats on both sides: the hub's per-user `permissions` (publish:
// what the leaf may send in, subscribe: what it may receive) and a remote's `deny_imports` /
// `deny_exports`. Interest that could only carry refused messages is not exchanged, and
// messages a wildcard interest would carry are still filtered one by one.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection, type Msg } from '@nats-io/transport-node';
import { startTestServer, type ServerHandle } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { getLeafnodes } from '../../src/leaf/index.js';
import type { LeafnodeOptions } from '../../src/config/options.js';

function leafOpts(o: Partial<LeafnodeOptions>): LeafnodeOptions {
  return { host: '127.0.0.1', users: [], remotes: [], reconnectMs: 50, ...o };
}

async function client(h: ServerHandle, t: TestContext): Promise<NatsConnection> {
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  return nc;
}

function collect(nc: NatsConnection, subject: string): Msg[] {
  const got: Msg[] = [];
  nc.subscribe(subject, { callback: (_e, m) => { got.push(m); } });
  return got;
}

const interest = (h: ServerHandle, subject: string): boolean => h.server.globalAccount.sublist.hasInterest(subject);

test('leaf permissions: the hub user\'s publish/subscribe permissions limit interest and messages', async (t) => {
  const hub = await startTestServer({
    leafnodes: leafOpts({
      port: 0,
      users: [{ user: 'lu', password: 'lp', permissions: { publish: { allow: ['up.>'] }, subscribe: { allow: ['down.>'], deny: ['down.secret'] } } }],
    }),
  }, t);
  const port = getLeafnodes(hub.server)!.port;
  const leaf = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`nats://lu:lp@127.0.0.1:${port}`] }] }) }, t);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 5000, 'leaf link');
  const hc = await client(hub, t);
  const lc = await client(leaf, t);

  // hub -> leaf interest: only what the leaf may publish in
  const upOk = collect(hc, 'up.ok');
  collect(hc, 'other');
  await hc.flush();
  await waitUntil(() => interest(leaf, 'up.ok'), 5000, 'up.ok interest on the leaf');
  assert.equal(interest(leaf, 'other'), false, 'interest the leaf may not publish to is not sent');

  // leaf -> hub interest: only what the leaf may subscribe to
  const down = collect(lc, 'down.>');
  collect(lc, 'nope');
  await lc.flush();
  await waitUntil(() => interest(hub, 'down.x'), 5000, 'down.> interest on the hub');
  assert.equal(interest(hub, 'nope'), false, 'interest outside subscribe permissions is not taken');

  // down.> is allowed, down.secret is denied: filtered per message
  hc.publish('down.secret', 'no');
  hc.publish('down.x', 'yes');
  lc.publish('up.ok', 'in');
  await waitUntil(() => down.length === 1 && upOk.length === 1, 5000, 'permitted messages');
  await hc.flush();
  await lc.flush();
  assert.deepEqual(down.map((m) => m.subject), ['down.x']);
  assert.equal(upOk[0]!.string(), 'in');
});

test('leaf permissions: a remote\'s deny_imports and deny_exports', async (t) => {
  const hub = await startTestServer({ leafnodes: leafOpts({ port: 0 }) }, t);
  const port = getLeafnodes(hub.server)!.port;
  const leaf = await startTestServer({
    leafnodes: leafOpts({ remotes: [{ urls: [`nats://127.0.0.1:${port}`], denyImports: ['priv.>'], denyExports: ['local.>'] }] }),
  }, t);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1 && getLeafnodes(leaf.server)!.connections().length === 1, 5000, 'leaf link');
  const hc = await client(hub, t);
  const lc = await client(leaf, t);

  // deny_imports: the leaf does not ask for priv.>, and drops it if it comes anyway
  const onLeaf = collect(lc, '>');
  await lc.flush();
  await waitUntil(() => interest(hub, 'pub.1'), 5000, 'leaf interest on the hub');
  hc.publish('priv.a', 'no');
  hc.publish('pub.1', 'yes');
  await waitUntil(() => onLeaf.some((m) => m.subject === 'pub.1'), 5000, 'pub.1 on the leaf');
  assert.equal(onLeaf.some((m) => m.subject === 'priv.a'), false, 'deny_imports');

  // deny_exports: the hub's interest in local.> is not taken; a wildcard interest still never carries it
  collect(hc, 'local.a');
  const onHub = collect(hc, '>');
  await hc.flush();
  await waitUntil(() => interest(leaf, 'ok.1'), 5000, 'hub interest on the leaf');
  lc.publish('local.a', 'no');
  lc.publish('ok.1', 'yes');
  await waitUntil(() => onHub.some((m) => m.subject === 'ok.1'), 5000, 'ok.1 on the hub');
  assert.equal(onHub.some((m) => m.subject === 'local.a'), false, 'deny_exports');
  const leafSubs = [...getLeafnodes(leaf.server)!.connections()[0]!.subs.keys()];
  assert.equal(leafSubs.includes('local.a'), false, 'the hub\'s local.a interest was not taken');
});
