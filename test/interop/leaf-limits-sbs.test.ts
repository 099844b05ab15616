// Account connection limits and leaf links, the same flows against nats-server 2.9.10 and
// tsnats (both as child processes): leaf links count with the clients toward the account's
// connection limit (JWT `limits.conn`, config `max_connections`) but are refused only by the
// leaf limit (`limits.leaf`, config `max_leafnodes`), which also holds on the dialling side.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { natsServerSkip } from '../helpers/nats-server.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitUntil } from '../helpers/wait.js';
import { KINDS, exercise, leafListenPort, natsServer, outcome, rawClient, operatorLeafHub, rawLeaf, stillLinked, type Spawn } from '../helpers/leaf-interop.js';
import { createUser, pushAccountUpdate, sysClient, userJwt } from '../helpers/jwt-flow.js';

const skip = natsServerSkip();
const refused = '-ERR maximum account active connections exceeded';

// ---- config-file accounts ----

/**
 * Account A allows 2 connections and 2 leafs. The leafs authenticate as client users of A or,
 * with `leafAuth`, as users of the leafnodes block bound to A.
 */
async function configFlow(t: TestContext, spawn: Spawn, leafAuth: boolean): Promise<Record<string, unknown>> {
  const leafUsers = leafAuth ? 'authorization { users [ { user: l, password: l, account: A } ] }' : '';
  const hub = await natsServer(t, [
    'listen: 127.0.0.1:-1',
    'accounts { A { users [ { user: a, password: a } ], limits { max_connections: 2, max_leafnodes: 2 } } }',
    `leafnodes { listen: "127.0.0.1:-1", ${leafUsers} }`,
  ].join('\n') + '\n', spawn);
  const port = await leafListenPort(hub);
  const creds = leafAuth ? { user: 'l', pass: 'l' } : { user: 'a', pass: 'a' };
  const leaf = (): Promise<RawClient> => rawLeaf(port, creds);
  const client = (): Promise<RawClient> => rawClient(hub.port, { user: 'a', pass: 'a' });
  const out: Record<string, unknown> = {};
  const l1 = await leaf();
  out.leaf1 = await outcome(l1);
  const l2 = await leaf();
  out.leaf2 = await outcome(l2);
  out.leaf3 = await outcome(await leaf());
  // the two leafs fill the account's two connections
  out.client = await outcome(await client());
  // one leaf gone: a client fits again (waited for: the server sees the close on its own time)
  l1.close();
  let c1: RawClient | undefined;
  await waitUntil(async () => {
    const c = await client();
    if (await outcome(c) !== 'linked') return false;
    c1 = c;
    return true;
  }, 10_000, 'a client once a leaf left');
  // a leaf is not refused by the connection limit, only by the leaf limit
  const l3 = await leaf();
  out.leafOverConnLimit = await outcome(l3);
  out.clientOverConnLimit = await outcome(await client());
  await stillLinked(l2, l3, c1!);
  return out;
}

test('leaf limits side by side: config account max_connections counts leafs, max_leafnodes refuses leafs', { skip }, async (t) => {
  for (const leafAuth of [false, true]) {
    // a user of the leafnodes block over the leaf limit is an authorization failure in nats-server
    const want = {
      leaf1: 'linked', leaf2: 'linked', leaf3: leafAuth ? '-ERR Authorization Violation' : refused, client: refused,
      leafOverConnLimit: 'linked', clientOverConnLimit: refused,
    };
    for (const [name, spawn] of KINDS) assert.deepEqual(await configFlow(t, spawn, leafAuth), want, `${name}, leafnodes users: ${leafAuth}`);
  }
});

test('leaf limits side by side: max_connections 0 and max_leafnodes 0 allow nothing', { skip }, async (t) => {
  for (const [name, spawn] of KINDS) {
    const hub = await natsServer(t, [
      'listen: 127.0.0.1:-1',
      'accounts { A { users [ { user: a, password: a } ], limits { max_connections: 0, max_leafnodes: 0 } } }',
      'leafnodes { listen: "127.0.0.1:-1" }',
    ].join('\n') + '\n', spawn);
    const port = await leafListenPort(hub);
    assert.equal(await outcome(await rawClient(hub.port, { user: 'a', pass: 'a' })), refused, name);
    assert.equal(await outcome(await rawLeaf(port, { user: 'a', pass: 'a' })), refused, name);
  }
});

// ---- JWT limits.conn ----

async function jwtConnFlow(t: TestContext, spawn: Spawn): Promise<Record<string, unknown>> {
  const { op, akp, hub, port } = await operatorLeafHub(t, spawn, { limits: { conn: 3, leaf: 3 } });
  const ukp = createUser();
  const ujwt = await userJwt('u', ukp, akp);
  const out: Record<string, unknown> = {};
  const c1 = await rawClient(hub.port, { jwt: ujwt }, ukp);
  out.client1 = await outcome(c1);
  const leaves: RawClient[] = [];
  for (const k of ['leaf1', 'leaf2', 'leaf3', 'leaf4']) {
    const l = await rawLeaf(port, { jwt: ujwt }, ukp);
    out[k] = await outcome(l);
    if (out[k] === 'linked') leaves.push(l);
  }
  out.client2 = await outcome(await rawClient(hub.port, { jwt: ujwt }, ukp));
  // lower limits.conn: the oldest connections beyond it are closed, leaf links included
  const sys = await sysClient(op, hub.port);
  t.after(() => sys.close());
  out.update = await pushAccountUpdate(sys, op, 'A', akp, { limits: { conn: 2, leaf: 3 } });
  const all = [c1, ...leaves];
  await waitUntil(() => all.filter((c) => c.isClosed).length >= 2, 10_000, 'two connections closed');
  out.afterLower = all.map((c) => (c.isClosed ? /-ERR '([^']*)'/.exec(c.text)?.[1] ?? 'closed' : 'open'));
  await stillLinked(...all.filter((c) => !c.isClosed));
  return out;
}

test('leaf limits side by side: JWT limits.conn counts the leafs of the account, which only limits.leaf refuses', { skip }, async (t) => {
  const want = {
    client1: 'linked', leaf1: 'linked', leaf2: 'linked', leaf3: 'linked', leaf4: refused, client2: refused, update: undefined,
    afterLower: [refused.slice(5), refused.slice(5), 'open', 'open'],
  };
  for (const [name, spawn] of KINDS) assert.deepEqual(await jwtConnFlow(t, spawn), want, name);
});

// ---- the dialling side ----

test('leaf limits side by side: the dialling server applies its own account\'s max_leafnodes to its remotes', { skip }, async (t) => {
  const refusedRe = /maximum account active connections exceeded/g;
  for (const [name, spawn] of KINDS) {
    const hubs = [];
    for (let i = 0; i < 2; i++) hubs.push(await natsServer(t, 'listen: 127.0.0.1:-1\nleafnodes { listen: "127.0.0.1:-1" }\n'));
    const ports = [];
    for (const h of hubs) ports.push(await leafListenPort(h));
    const leaf = await natsServer(t, [
      'listen: 127.0.0.1:-1',
      'accounts { A { users [ { user: a, password: a } ], limits { max_leafnodes: 1 } } }\nno_auth_user: a',
      `leafnodes { reconnect: 1, remotes [ ${ports.map((p) => `{ url: "nats://127.0.0.1:${p}", account: A }`).join(', ')} ] }`,
    ].join('\n') + '\n', spawn);
    // the second link is refused by the leaf itself, again on each re-dial; the hub is told why
    await waitUntil(() => (leaf.output().match(refusedRe) ?? []).length >= 2, 10_000, `${name}: the second remote refused twice`);
    const told = hubs.map((h) => /Leafnode Error 'maximum account active connections exceeded'/.test(h.output()));
    assert.equal(told.filter(Boolean).length, 1, `${name}: one hub refused, ${JSON.stringify(told)}`);
    // the first link stays and carries messages
    const linked = hubs[told.indexOf(false)]!;
    await exercise(t, `nats://127.0.0.1:${linked.port}`, `nats://127.0.0.1:${leaf.port}`);
    for (const s of [leaf, ...hubs]) await s.stop();
  }
});
