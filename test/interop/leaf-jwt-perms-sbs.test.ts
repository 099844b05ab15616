// Operator mode: the user JWT a leaf links with, the same flows against nats-server 2.9.10 and
// tsnats hubs (child processes). The hub applies the user's permissions to the link the other
// way round from a client's (what the leaf may publish is the interest the hub gives it, what it
// may subscribe to is what the hub delivers to it), checks `allowed_connection_types` (LEAFNODE),
// `bearer_token`, and closes the link when the user JWT expires or the account revokes the user.
// Leaf servers (tsnats and nats-server) link with `credentials` files in the last two tests.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { natsServerSkip } from '../helpers/nats-server.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitUntil } from '../helpers/wait.js';
import { KINDS, natsServer, operatorLeafHub, outcome, rawClient, rawLeaf, tempDir, type Spawn } from '../helpers/leaf-interop.js';
import { createUser, credsOf, pushAccountUpdate, sysClient, userJwt, type KeyPair } from '../helpers/jwt-flow.js';
import type { User } from '@nats-io/jwt';

const skip = natsServerSkip();

/** A client of the hub's account A (no permissions of its own), closed after the test. */
async function hubClient(t: TestContext, port: number, akp: KeyPair): Promise<NatsConnection> {
  const ukp = createUser();
  const nc = await connect({ port, authenticator: credsAuthenticator(credsOf(await userJwt('c', ukp, akp), ukp)) });
  t.after(() => nc.close());
  return nc;
}

/** The subjects of the LS+ / LMSG lines a raw leaf received, in order. */
function lines(c: RawClient, verb: 'LS+' | 'LMSG'): string[] {
  return c.text.split('\r\n').filter((l) => l.startsWith(`${verb} `)).map((l) => l.split(' ')[1]!);
}

const PERMS: Partial<User> = { pub: { allow: ['up.>'], deny: ['up.secret'] }, sub: { allow: ['down.>'], deny: ['down.secret'] } };

async function permsFlow(t: TestContext, spawn: Spawn): Promise<Record<string, unknown>> {
  const { akp, hub, port } = await operatorLeafHub(t, spawn, {});
  const hc = await hubClient(t, hub.port, akp);
  const seen: string[] = [];
  hc.subscribe('>', { callback: (_e, m) => { seen.push(m.subject); } });
  for (const s of ['up.a', 'up.secret', 'down.a', 'other', 'up.*']) hc.subscribe(s);
  await hc.flush();
  const ukp = createUser();
  const leaf = await rawLeaf(port, { jwt: await userJwt('leaf', ukp, akp, PERMS) }, ukp);
  const out: Record<string, unknown> = { link: await outcome(leaf) };
  // the hub's interest comes with the link, before the answer to a second PING
  leaf.send('PING\r\n');
  await leaf.waitFor((x) => x.split('PONG\r\n').length > 2, 5000);
  out.interestToLeaf = lines(leaf, 'LS+').filter((s) => !s.startsWith('$')).sort();
  leaf.clear();
  // the leaf's interest: a wildcard wider than its subscribe permissions, and one inside them
  leaf.send('LS+ >\r\nLS+ down.>\r\n');
  await leaf.flushPing(5000);
  for (const s of ['down.secret', 'other.x', 'up.a', 'down.a']) hc.publish(s);
  hc.publish('down.end');
  await leaf.waitFor('LMSG down.end', 5000);
  out.deliveredToLeaf = lines(leaf, 'LMSG');
  // the leaf's messages: the hub takes what it has interest in
  await waitUntil(() => seen.includes('down.end'), 5000, 'down.end on the hub');
  seen.length = 0;
  leaf.send('LMSG up.secret 1\r\nx\r\nLMSG other.q 1\r\nx\r\nLMSG up.a 1\r\nx\r\nLMSG up.end 1\r\nx\r\n');
  await waitUntil(() => seen.includes('up.end'), 5000, 'up.end on the hub');
  out.fromLeaf = [...seen];
  // literal interest outside its subscribe permissions cuts the link
  leaf.send('LS+ other\r\n');
  await leaf.waitClosed(5000);
  out.literalOutside = /-ERR '([^']*)'/.exec(leaf.text)?.[1];
  return out;
}

test('leaf JWT side by side: the hub applies the leaf user\'s pub/sub permissions to the link', { skip }, async (t) => {
  const want = {
    link: 'linked',
    // what the leaf may publish, wildcards reaching into it included
    interestToLeaf: ['>', 'up.*', 'up.a'],
    // a wildcard interest is taken and filtered per message by what the leaf may subscribe to
    deliveredToLeaf: ['down.a', 'down.end'],
    // the hub does not check what the leaf sends
    fromLeaf: ['up.secret', 'other.q', 'up.a', 'up.end'],
    literalOutside: 'Permissions Violation for Subscription to "other"',
  };
  for (const [name, spawn] of KINDS) assert.deepEqual(await permsFlow(t, spawn), want, name);
});

async function connTypesFlow(t: TestContext, spawn: Spawn): Promise<Record<string, unknown>> {
  const { akp, hub, port } = await operatorLeafHub(t, spawn, {});
  const out: Record<string, unknown> = {};
  for (const types of <User['allowed_connection_types'][]>[['STANDARD'], ['LEAFNODE'], ['LEAFNODE_WS'], ['STANDARD', 'LEAFNODE'], ['WEBSOCKET']]) {
    const ukp = createUser();
    const jwt = await userJwt('u', ukp, akp, { allowed_connection_types: types });
    out[types.join(',')] = { leaf: await outcome(await rawLeaf(port, { jwt }, ukp)), client: await outcome(await rawClient(hub.port, { jwt }, ukp)) };
  }
  const bkp = createUser();
  out.bearerUnsigned = await outcome(await rawLeaf(port, { jwt: await userJwt('b', bkp, akp, { bearer_token: true }) }));
  const nkp = createUser();
  out.unsigned = await outcome(await rawLeaf(port, { jwt: await userJwt('n', nkp, akp) }));
  return out;
}

test('leaf JWT side by side: allowed_connection_types and bearer_token', { skip }, async (t) => {
  const refused = '-ERR Authorization Violation';
  const want = {
    STANDARD: { leaf: refused, client: 'linked' },
    LEAFNODE: { leaf: 'linked', client: refused },
    LEAFNODE_WS: { leaf: refused, client: refused },
    'STANDARD,LEAFNODE': { leaf: 'linked', client: 'linked' },
    WEBSOCKET: { leaf: refused, client: refused },
    bearerUnsigned: 'linked',
    unsigned: refused,
  };
  for (const [name, spawn] of KINDS) assert.deepEqual(await connTypesFlow(t, spawn), want, name);
});

/** The -ERR a raw leaf got when the hub closed it ('open' if it stays up). */
async function closedWith(c: RawClient): Promise<string | undefined> {
  const closed = await waitUntil(() => c.isClosed, 10_000, 'link closed').then(() => true, () => false);
  return closed ? /-ERR '([^']*)'/.exec(c.text)?.[1] : 'open';
}

async function lifetimeFlow(t: TestContext, spawn: Spawn): Promise<Record<string, unknown>> {
  const { op, akp, hub, port } = await operatorLeafHub(t, spawn, {});
  const out: Record<string, unknown> = {};
  const ekp = createUser();
  const exp = Math.floor(Date.now() / 1000) + 3;
  const expiring = await rawLeaf(port, { jwt: await userJwt('e', ekp, akp, {}, { exp }) }, ekp);
  out.expiringLink = await outcome(expiring);
  const rkp = createUser();
  const revoked = await rawLeaf(port, { jwt: await userJwt('r', rkp, akp) }, rkp);
  out.revokedLink = await outcome(revoked);
  const sys = await sysClient(op, hub.port);
  t.after(() => sys.close());
  out.update = await pushAccountUpdate(sys, op, 'A', akp, { revocations: { [rkp.getPublicKey()]: Math.floor(Date.now() / 1000) } });
  out.revoked = await closedWith(revoked);
  out.expired = await closedWith(expiring);
  return out;
}

test('leaf JWT side by side: the link closes when the user JWT expires or the user is revoked', { skip }, async (t) => {
  const want = {
    expiringLink: 'linked', revokedLink: 'linked', update: undefined,
    revoked: 'User Authentication Revoked', expired: 'User Authentication Expired',
  };
  for (const [name, spawn] of KINDS) assert.deepEqual(await lifetimeFlow(t, spawn), want, name);
});

/**
 * A leaf server (tsnats or nats-server) linking with a `credentials` file of a user with
 * PERMS: what crosses between a hub client and a leaf client subscribed to `>` each.
 */
async function serverLeafFlow(t: TestContext, hubSpawn: Spawn, leafSpawn: Spawn): Promise<Record<string, unknown>> {
  const { akp, hub, port } = await operatorLeafHub(t, hubSpawn, {});
  const ukp = createUser();
  const creds = join(tempDir(t), 'leaf.creds');
  writeFileSync(creds, credsOf(await userJwt('leaf', ukp, akp, PERMS), ukp));
  const leaf = await natsServer(t, `listen: 127.0.0.1:-1\nleafnodes { reconnect: 1, remotes [ { url: "nats://127.0.0.1:${port}", credentials: "${creds}" } ] }\n`, leafSpawn);
  const hc = await hubClient(t, hub.port, akp);
  const lc = await connect({ port: leaf.port });
  t.after(() => lc.close());
  const onHub: string[] = [];
  const onLeaf: string[] = [];
  hc.subscribe('>', { callback: (_e, m) => { onHub.push(m.subject); } });
  lc.subscribe('>', { callback: (_e, m) => { onLeaf.push(m.subject); } });
  await hc.flush();
  await lc.flush();
  // each side publishes until its last subject crosses (interest arrives on its own time)
  await waitUntil(async () => {
    for (const s of ['down.secret', 'other.x', 'down.a']) hc.publish(s);
    for (const s of ['up.secret', 'other.y', 'up.a']) lc.publish(s);
    await hc.flush();
    await lc.flush();
    return onHub.includes('up.a') && onLeaf.includes('down.a');
  }, 10_000, 'messages across the link', 100);
  // one more round, in order on each side: what crossed before its last subject is all that crosses
  onHub.length = onLeaf.length = 0;
  for (const s of ['down.secret', 'other.x', 'down.end']) hc.publish(s);
  for (const s of ['up.secret', 'other.y', 'up.end']) lc.publish(s);
  await waitUntil(() => onHub.includes('up.end') && onLeaf.includes('down.end'), 5000, 'the last round');
  // (a late message of the first rounds may still land after the reset: only these subjects count)
  const crossed = (l: string[], sent: string[]): string[] => [...new Set(l.filter((s) => sent.includes(s)))];
  return { toHub: crossed(onHub, ['up.secret', 'other.y', 'up.end']), toLeaf: crossed(onLeaf, ['down.secret', 'other.x', 'down.end']) };
}

test('leaf JWT side by side: leaf servers linking with credentials get the user\'s permissions', { skip }, async (t) => {
  const want = { toHub: ['up.end'], toLeaf: ['down.end'] };
  for (const [hubName, hubSpawn] of KINDS) {
    for (const [leafName, leafSpawn] of KINDS) {
      assert.deepEqual(await serverLeafFlow(t, hubSpawn, leafSpawn), want, `hub ${hubName}, leaf ${leafName}`);
    }
  }
});

/**
 * A hub client's request to a service on the leaf whose user may subscribe to it and publish to
 * `x`, plus `resp` (allow_responses) or the requester's inbox: the reply or the request's error.
 */
async function responsesFlow(t: TestContext, hubSpawn: Spawn, leafSpawn: Spawn, via: 'resp' | 'inbox'): Promise<string> {
  const { akp, hub, port } = await operatorLeafHub(t, hubSpawn, {});
  const ukp = createUser();
  const creds = join(tempDir(t), 'leaf.creds');
  const perms: Partial<User> = via === 'resp'
    ? { sub: { allow: ['svc'] }, pub: { allow: ['x'] }, resp: { max: 1, ttl: 0 } }
    : { sub: { allow: ['svc'] }, pub: { allow: ['x', '_INBOX.>'] } };
  writeFileSync(creds, credsOf(await userJwt('leaf', ukp, akp, perms), ukp));
  const leaf = await natsServer(t, `listen: 127.0.0.1:-1\nleafnodes { reconnect: 1, remotes [ { url: "nats://127.0.0.1:${port}", credentials: "${creds}" } ] }\n`, leafSpawn);
  const hc = await hubClient(t, hub.port, akp);
  const lc = await connect({ port: leaf.port });
  t.after(() => lc.close());
  let served = 0;
  lc.subscribe('svc', { callback: (_e, m) => { served++; m.respond('pong'); } });
  await lc.flush();
  await waitUntil(async () => {
    hc.publish('svc');
    await hc.flush();
    return served > 0;
  }, 10_000, 'the service reached', 100);
  // the client subscribes to its inbox before it publishes the request
  return hc.request('svc', 'ping', { timeout: 2000 }).then((m) => m.string(), (e: Error) => e.message);
}

test('leaf JWT side by side: a leaf service answers only when its user may publish to the inbox (allow_responses does not open it)', { skip }, async (t) => {
  for (const [hubName, hubSpawn] of KINDS) {
    for (const [leafName, leafSpawn] of KINDS) {
      const got = { resp: await responsesFlow(t, hubSpawn, leafSpawn, 'resp'), inbox: await responsesFlow(t, hubSpawn, leafSpawn, 'inbox') };
      assert.deepEqual(got, { resp: 'timeout', inbox: 'pong' }, `hub ${hubName}, leaf ${leafName}`);
    }
  }
});
