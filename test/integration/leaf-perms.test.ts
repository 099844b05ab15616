// What may cross a leaf link, tsnats on both sides: the permissions of the client user a leaf
// authenticates as (publish: what it may send in, subscribe: what it may receive; announced to
// the leaf in the INFO answering its CONNECT, as nats-server 2.9.10 does) and a remote's
// `deny_imports` / `deny_exports`. Interest that could only carry refused messages is not exchanged, and
// messages a wildcard interest would carry are still filtered one by one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '@nats-io/transport-node';
import { startTestServer } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { client, collect, interest, leafOpts } from '../helpers/leaf.js';
import { RawClient } from '../helpers/raw-client.js';
import { loadConfigText } from '../../src/config/load.js';
import { getLeafnodes } from '../../src/leaf/index.js';

test('leaf permissions: a leaf authenticating as a client user gets its publish/subscribe permissions', async (t) => {
  const { options } = loadConfigText([
    'listen: 127.0.0.1:-1',
    'accounts { A { users [',
    '  { user: lu, password: lp, permissions { publish: "up.>", subscribe: { allow: "down.>", deny: "down.secret" } } }',
    '  { user: c, password: c }',
    '] } }',
    'leafnodes { listen: "127.0.0.1:-1" }',
  ].join('\n'), 'hub.conf');
  const hub = await startTestServer({ ...options, leafnodes: { ...options.leafnodes!, reconnectMs: 50 } }, t);
  const port = getLeafnodes(hub.server)!.port;
  const leaf = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`nats://lu:lp@127.0.0.1:${port}`] }] }) }, t);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1 && getLeafnodes(leaf.server)!.connections().length === 1, 5000, 'leaf link');
  const link = getLeafnodes(hub.server)!.connections()[0]!;
  assert.equal(link.account!.name, 'A');
  const accA = hub.server.lookupAccount('A')!;
  const hc = await connect({ servers: hub.clientUrl, user: 'c', pass: 'c' });
  t.after(() => hc.close());
  const lc = await client(leaf, t);

  // hub -> leaf interest: only what the leaf may publish in
  const upOk = collect(hc, 'up.ok');
  collect(hc, 'other');
  await hc.flush();
  await waitUntil(() => interest(leaf, 'up.ok'), 5000, 'up.ok interest on the leaf');
  assert.equal(interest(leaf, 'other'), false, 'interest the leaf may not publish to is not sent');

  // leaf -> hub interest: the leaf learnt the user's subscribe permissions from the hub's INFO
  // and never sends interest the hub would refuse (which would cost it the link)
  const down = collect(lc, 'down.>');
  collect(lc, 'nope');
  await lc.flush();
  await waitUntil(() => accA.sublist.hasInterest('down.x'), 5000, 'down.> interest on the hub');
  assert.equal(accA.sublist.hasInterest('nope'), false);

  // down.> is allowed, down.secret is denied: filtered per message
  hc.publish('down.secret', 'no');
  hc.publish('down.x', 'yes');
  lc.publish('up.ok', 'in');
  await waitUntil(() => down.length === 1 && upOk.length === 1, 5000, 'permitted messages');
  await hc.flush();
  await lc.flush();
  assert.deepEqual(down.map((m) => m.subject), ['down.x']);
  assert.equal(upOk[0]!.string(), 'in');
  assert.equal(link.closed, false, 'the link survived');

  // a leaf that does send such interest is cut, with nats-server's error
  const { c: raw } = await RawClient.connectInfo(port);
  raw.send('CONNECT {"user":"lu","pass":"lp","server_id":"NRAW","name":"raw"}\r\nLS+ down.y\r\nLS+ other\r\n');
  await raw.waitFor(/"connect_info":true/);
  await raw.waitFor(/-ERR 'Permissions Violation for Subscription to "other"'/);
  await raw.waitClosed();
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

test('leaf permissions: leafnodes authorization users take no permissions (nats-server 2.9.10: unknown field)', () => {
  assert.throws(
    () => loadConfigText('leafnodes { listen: "127.0.0.1:-1", authorization { users [ { user: u, password: p, permissions { publish: ">" } } ] } }', 'x.conf'),
    /unknown field "permissions"/,
  );
});
