// Leaf authentication and TLS pinning, the same flows against nats-server 2.9.10 and tsnats
// (both as child processes): nkey users of the client authorization authenticate a leaf (its
// CONNECT signs the INFO nonce); the JWT account limit `limits.leaf` refuses the extra leaf
// with nats-server's error, also after an account update, which leaves existing links alone;
// `pinned_certs` of the leafnodes tls block refuse a peer whose key is not pinned, on the
// accepting and on the dialling side; a leaf server that links again replaces its old link.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip, opensslSkip } from '../helpers/nats-server.js';
import { RawClient } from '../helpers/raw-client.js';
import { makeCerts, type CertFiles } from '../helpers/certs.js';
import { waitUntil } from '../helpers/wait.js';
import { KINDS, exercise, leafListenPort, natsServer, operatorLeafHub, outcome, rawLeaf, stillLinked, type Spawn } from '../helpers/leaf-interop.js';
import { createUser, credsOf, pushAccountUpdate, sysClient, userJwt } from '../helpers/jwt-flow.js';
import { spkiSha256 } from '../../src/tls/settings.js';

const skip = natsServerSkip();

// ---- nkey users ----

async function nkeyFlow(t: TestContext, spawn: Spawn): Promise<Record<string, unknown>> {
  const ukp = createUser();
  const hub = await natsServer(t, [
    'listen: 127.0.0.1:-1',
    `authorization { users [ { nkey: ${ukp.getPublicKey()}, permissions: { subscribe: "down.>" } } ] }`,
    'leafnodes { listen: "127.0.0.1:-1" }',
  ].join('\n') + '\n', spawn);
  const port = await leafListenPort(hub);
  const good = await rawLeaf(port, { nkey: ukp.getPublicKey() }, ukp);
  const linked = await outcome(good);
  // the INFO answering the CONNECT carries the nkey user's permissions
  const connectInfo = /INFO (\{[^\r]*"connect_info":true[^\r]*\}) ?\r\n/.exec(good.text);
  const ci = connectInfo === null ? null : JSON.parse(connectInfo[1]!) as Record<string, unknown>;
  good.close();
  const wrongKey = createUser();
  const badSig = await outcome(await rawLeaf(port, { nkey: ukp.getPublicKey() }, wrongKey));
  const noSig = await outcome(await rawLeaf(port, { nkey: ukp.getPublicKey() }));
  return { linked, import: ci?.import, remoteAccount: ci?.remote_account, badSig, noSig };
}

test('leaf nkey users side by side: a leaf signs the nonce with the nkey of a client user', { skip }, async (t) => {
  const want = {
    linked: 'linked', import: { allow: ['down.>'] }, remoteAccount: '$G',
    badSig: '-ERR Authorization Violation', noSig: '-ERR Authorization Violation',
  };
  for (const [name, spawn] of KINDS) assert.deepEqual(await nkeyFlow(t, spawn), want, name);
});

// ---- the same leaf server linking again ----

async function duplicateFlow(t: TestContext, spawn: Spawn): Promise<Record<string, unknown>> {
  const hub = await natsServer(t, 'listen: 127.0.0.1:-1\nleafnodes { listen: "127.0.0.1:-1" }\n', spawn);
  const port = await leafListenPort(hub);
  const same = { name: 'edge-1', server_id: 'NEDGE1' };
  const first = await rawLeaf(port, same);
  const out: Record<string, unknown> = { first: await outcome(first) };
  const other = await rawLeaf(port, { name: 'edge-2', server_id: 'NEDGE2' });
  out.other = await outcome(other);
  const again = await rawLeaf(port, same);
  out.again = await outcome(again);
  // the old link is told and closed; the new one and the other server's stay
  await first.waitClosed(5000);
  out.firstErr = /-ERR '([^']*)'/.exec(first.text)?.[1];
  await stillLinked(again, other);
  out.log = /Replacing connection from same server/.test(hub.output());
  return out;
}

test('leaf duplicate side by side: a leaf server linking again replaces its old link', { skip }, async (t) => {
  const want = { first: 'linked', other: 'linked', again: 'linked', firstErr: 'Duplicate Remote LeafNode Connection', log: true };
  for (const [name, spawn] of KINDS) assert.deepEqual(await duplicateFlow(t, spawn), want, name);
});

// ---- JWT limits.leaf ----

async function leafLimitFlow(t: TestContext, spawn: Spawn): Promise<Record<string, unknown>> {
  const { op, akp, hub, port } = await operatorLeafHub(t, spawn, { limits: { leaf: 1 } });
  const ukp = createUser();
  const ujwt = await userJwt('leaf', ukp, akp);
  const leaf = (): Promise<RawClient> => rawLeaf(port, { jwt: ujwt }, ukp);
  const out: Record<string, unknown> = {};
  const first = await leaf();
  out.first = await outcome(first);
  out.second = await outcome(await leaf());
  // clients of the account are not leaf connections
  const ckp = createUser();
  const nc = await connect({ port: hub.port, authenticator: credsAuthenticator(credsOf(await userJwt('c', ckp, akp), ckp)) });
  t.after(() => nc.close());
  out.client = 'connected';
  // raise the limit: a second leaf links
  const sys = await sysClient(op, hub.port);
  t.after(() => sys.close());
  const update = async (leafLimit: number): Promise<void> => {
    assert.equal(await pushAccountUpdate(sys, op, 'A', akp, { limits: { leaf: leafLimit } }), undefined);
  };
  await update(2);
  const second = await leaf();
  out.afterRaise = await outcome(second);
  out.thirdAfterRaise = await outcome(await leaf());
  // lower it again: the two links stay (nats-server 2.9.10 does not cut leaf links on an update), a new one is refused
  await update(1);
  out.afterLowerNew = await outcome(await leaf());
  out.afterLowerExisting = [first, second].map((c) => c.isClosed ? 'closed' : 'open');
  await stillLinked(first, second);
  out.hubLog = /maximum account active connections exceeded/.test(hub.output());
  return out;
}

test('leaf limit side by side: the JWT account limit `limits.leaf` refuses the extra leaf', { skip }, async (t) => {
  const refused = '-ERR maximum account active connections exceeded';
  const want = {
    first: 'linked', second: refused, client: 'connected', afterRaise: 'linked', thirdAfterRaise: refused,
    afterLowerNew: refused, afterLowerExisting: ['open', 'open'], hubLog: true,
  };
  for (const [name, spawn] of KINDS) assert.deepEqual(await leafLimitFlow(t, spawn), want, name);
});

// ---- pinned_certs ----

function pinOf(pem: string): string {
  return spkiSha256(new X509Certificate(readFileSync(pem)));
}

/** A hub (nats-server or tsnats) whose leafnodes tls block asks for client certificates, pinned to `pins`. */
async function tlsHub(t: TestContext, spawn: Spawn, c: CertFiles, pins?: string[]): Promise<{ hub: ChildServer; port: number }> {
  const pinned = pins === undefined ? '' : `, pinned_certs: [${pins.map((p) => `"${p}"`).join(', ')}]`;
  const hub = await natsServer(t, [
    'listen: 127.0.0.1:-1',
    `leafnodes { listen: "127.0.0.1:-1", tls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}", ca_file: "${c.ca}", verify: true${pinned} } }`,
  ].join('\n') + '\n', spawn);
  return { hub, port: await leafListenPort(hub) };
}

/** A leaf (nats-server or tsnats) dialling `port` over TLS with the client certificate; `leafTls` adds a leafnodes-level tls block. */
async function tlsLeaf(t: TestContext, spawn: Spawn, c: CertFiles, port: number, leafTls = '', remoteExtra = ''): Promise<ChildServer> {
  return natsServer(t, [
    'listen: 127.0.0.1:-1',
    `leafnodes { ${leafTls} remotes [ { url: "tls://127.0.0.1:${port}", tls { cert_file: "${c.clientCert}", key_file: "${c.clientKey}", ca_file: "${c.ca}"${remoteExtra} } } ] }`,
  ].join('\n') + '\n', spawn);
}

const notPinnedRe = /TLS leafnode handshake error: certificate not pinned/;
const url = (s: ChildServer): string => `nats://127.0.0.1:${s.port}`;

test('leaf pinned_certs side by side: the accepting side refuses a leaf whose key is not pinned', { skip: skip || opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  for (const [hubName, hubSpawn] of KINDS) {
    for (const [leafName, leafSpawn] of KINDS) {
      const what = `${hubName} hub, ${leafName} leaf`;
      // pinned to the server's own key: the leaf's client certificate is refused
      const bad = await tlsHub(t, hubSpawn, c, [pinOf(c.serverCert)]);
      const badLeaf = await tlsLeaf(t, leafSpawn, c, bad.port);
      await waitUntil(() => notPinnedRe.test(bad.hub.output()), 10_000, `${what}: refused as not pinned`);
      await badLeaf.stop();
      await bad.hub.stop();
      // pinned to the leaf's key: messages cross
      const good = await tlsHub(t, hubSpawn, c, [pinOf(c.clientCert)]);
      const goodLeaf = await tlsLeaf(t, leafSpawn, c, good.port);
      await exercise(t, url(good.hub), url(goodLeaf));
      assert.doesNotMatch(good.hub.output(), notPinnedRe, what);
      await goodLeaf.stop();
      await good.hub.stop();
    }
  }
});

test('leaf pinned_certs side by side: the dialling side checks the hub against the leafnodes tls pinned_certs', { skip: skip || opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  for (const [name, spawn] of KINDS) {
    const { hub, port } = await tlsHub(t, spawnNatsServer, c);
    // nats-server checks the hub's key on this side against the leafnodes-level block
    const wrong = await tlsLeaf(t, spawn, c, port, `tls { ca_file: "${c.ca}", pinned_certs: ["${pinOf(c.clientCert)}"] },`);
    await waitUntil(() => notPinnedRe.test(wrong.output()), 10_000, `${name}: the hub's key is not pinned`);
    await wrong.stop();
    const right = await tlsLeaf(t, spawn, c, port, `tls { ca_file: "${c.ca}", pinned_certs: ["${pinOf(c.serverCert)}"] },`);
    await exercise(t, url(hub), url(right));
    assert.doesNotMatch(right.output(), notPinnedRe, name);
    await right.stop();
    await hub.stop();
  }
});

test('leaf pinned_certs: tsnats also honours pinned_certs in a remote\'s own tls block (nats-server 2.9.10 ignores them)', { skip: skip || opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  const { hub, port } = await tlsHub(t, spawnNatsServer, c);
  const nsLeaf = await tlsLeaf(t, spawnNatsServer, c, port, '', `, pinned_certs: ["${pinOf(c.clientCert)}"]`);
  await exercise(t, url(hub), url(nsLeaf));
  await nsLeaf.stop();
  const tsLeaf = await tlsLeaf(t, spawnTsnats, c, port, '', `, pinned_certs: ["${pinOf(c.clientCert)}"]`);
  await waitUntil(() => notPinnedRe.test(tsLeaf.output()), 10_000, 'tsnats refuses the hub');
  await tsLeaf.stop();
  const tsRight = await tlsLeaf(t, spawnTsnats, c, port, '', `, pinned_certs: ["${pinOf(c.serverCert)}"]`);
  await exercise(t, url(hub), url(tsRight));
});
