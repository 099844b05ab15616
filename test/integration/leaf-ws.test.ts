// Leaf links over websocket, tsnats on both sides (in-process): a remote with a ws:// url
// dials the hub's websocket listener, which tells a leaf from a client by the `/leafnode`
// path. Messages, request/reply and queue groups cross both ways, with and without
// permessage-deflate and nats-server's no-masking; a hub without a leafnodes listener logs
// and closes; a remote mixing ws:// and nats:// urls is refused in config.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { captureLog, startTestServer, type ServerHandle } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { client, collect, interest, leafOpts } from '../helpers/leaf.js';
import { wsBlock } from '../helpers/ws.js';
import { getLeafnodes } from '../../src/leaf/index.js';
import type { LeafRemoteOptions } from '../../src/config/options.js';
import { loadConfigText } from '../../src/config/load.js';
import { ClientKind } from '../../src/core/types.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountJwt, createAccount, createUser, credsOf, newOperator, operatorConfig, userJwt } from '../helpers/jwt-flow.js';

/** A hub with a websocket listener (and a leafnodes listener, as nats-server requires) and a leaf dialling it over ws://. */
async function wsHubAndLeaf(
  t: TestContext, hubWs: { compression?: boolean } = {}, remote: Partial<LeafRemoteOptions> = {},
): Promise<{ hub: ServerHandle; leaf: ServerHandle; hubLog: string[] }> {
  const hub = await startTestServer({ websocket: wsBlock(hubWs), leafnodes: leafOpts({ port: 0 }), debug: true }, t);
  const hubLog = captureLog(hub);
  const wsPort = hub.server.listeners.port('websocket')!;
  const leaf = await startTestServer({
    leafnodes: leafOpts({ remotes: [{ urls: [`ws://127.0.0.1:${wsPort}`], ...remote }] }),
  }, t);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1 && getLeafnodes(leaf.server)!.connections().length === 1, 5000, 'leaf link over websocket');
  return { hub, leaf, hubLog };
}

/** Messages both ways, request/reply, and a queue group on the leaf serving every hub publish once. */
async function exercise(t: TestContext, hub: ServerHandle, leaf: ServerHandle): Promise<void> {
  const hc = await client(hub, t);
  const lc = await client(leaf, t);
  const onLeaf = collect(lc, 'to.leaf.>');
  const onHub = collect(hc, 'to.hub');
  lc.subscribe('svc', { callback: (_e, m) => { m.respond(`r:${m.string()}`); } });
  const q1 = collect(lc, 'work', 'g');
  const q2 = collect(lc, 'work', 'g');
  await lc.flush();
  await hc.flush();
  await waitUntil(() => interest(hub, 'to.leaf.x') && interest(hub, 'svc') && interest(hub, 'work') && interest(leaf, 'to.hub'), 5000, 'interest both ways');
  // large enough to be compressed when permessage-deflate was agreed
  const big = 'x'.repeat(70_000);
  hc.publish('to.leaf.x', 'from hub');
  hc.publish('to.leaf.big', big);
  lc.publish('to.hub', 'from leaf');
  lc.publish('to.hub', big);
  await waitUntil(() => onLeaf.length === 2 && onHub.length === 2, 5000, 'messages both ways');
  assert.equal(onLeaf[0]!.string(), 'from hub');
  assert.equal(onLeaf[1]!.string(), big);
  assert.equal(onHub[0]!.string(), 'from leaf');
  assert.equal(onHub[1]!.string(), big);
  const r = await hc.request('svc', 'q', { timeout: 5000 });
  assert.equal(r.string(), 'r:q');
  for (let i = 0; i < 30; i++) hc.publish('work', `${i}`);
  await hc.flush();
  await waitUntil(() => q1.length + q2.length === 30, 5000, 'queue deliveries');
  const seen = [...q1, ...q2].map((m) => Number(m.string())).sort((a, b) => a - b);
  assert.deepEqual(seen, Array.from({ length: 30 }, (_, i) => i));
}

test('leaf over websocket: a ws:// remote links to the hub websocket listener, messages and queues cross', async (t) => {
  const { hub, leaf } = await wsHubAndLeaf(t);
  const onHub = getLeafnodes(hub.server)!.connections()[0]!;
  assert.equal(onHub.websocket, true);
  assert.equal(onHub.kind, ClientKind.LEAF);
  assert.equal(getLeafnodes(leaf.server)!.connections()[0]!.websocket, true);
  // the leaf link is no websocket client of the hub
  assert.equal(hub.server.numClients, 0);
  await exercise(t, hub, leaf);
});

test('leaf over websocket: compression and no-masking negotiated', async (t) => {
  const { hub, leaf, hubLog } = await wsHubAndLeaf(t, { compression: true }, { wsCompression: true, wsNoMasking: true });
  // nats-server's debug line on the accepting side (its log is captured before the leaf dials;
  // that masking follows no-masking is shown against nats-server, test/interop/leaf-ws-nats-server.test.ts)
  assert.ok(hubLog.some((l) => l.includes('Leafnode compression=true')));
  await exercise(t, hub, leaf);
});

test('leaf over websocket: the remote asks for compression the hub does not do', async (t) => {
  const { hub, leaf, hubLog } = await wsHubAndLeaf(t, { compression: false }, { wsCompression: true });
  assert.ok(hubLog.some((l) => l.includes('Leafnode compression=false')));
  await exercise(t, hub, leaf);
});

test('leaf over websocket: a hub without a leafnodes listener closes the link and logs it', async (t) => {
  const hub = await startTestServer({ websocket: wsBlock() }, t);
  const log = captureLog(hub);
  const wsPort = hub.server.listeners.port('websocket')!;
  const leaf = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`ws://127.0.0.1:${wsPort}`] }] }) }, t);
  await waitUntil(() => log.some((l) => l.includes('Not configured to accept leaf node connections')), 5000, 'the refusal log');
  assert.equal(getLeafnodes(leaf.server)!.connections().length, 0);
  assert.equal(hub.server.numClients, 0);
});

test('leaf over websocket: the hub restarting on its port is dialled again', async (t) => {
  const first = await startTestServer({ websocket: wsBlock(), leafnodes: leafOpts({ port: 0 }) }, t);
  const wsPort = first.server.listeners.port('websocket')!;
  const leaf = await startTestServer({ leafnodes: leafOpts({ remotes: [{ urls: [`ws://127.0.0.1:${wsPort}`] }] }) }, t);
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1, 5000, 'first link');
  await first.shutdown();
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 0, 5000, 'link gone');
  const hub = await startTestServer({ websocket: wsBlock({ port: wsPort }), leafnodes: leafOpts({ port: 0 }) }, t);
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1 && getLeafnodes(hub.server)!.connections().length === 1, 10000, 'link again');
  await exercise(t, hub, leaf);
});

test('leaf over websocket: a JWT user\'s allowed_connection_types tells LEAFNODE_WS from LEAFNODE', async (t) => {
  const op = await newOperator();
  const akp = createAccount();
  const { options } = loadConfigText(operatorConfig(op, { [akp.getPublicKey()]: await accountJwt(op, 'APP', akp) },
    'listen: 127.0.0.1:-1\nleafnodes { listen: "127.0.0.1:-1" }'), 'hub.conf');
  const hub = await startTestServer({ ...options, websocket: wsBlock() }, t);
  const hubLog = captureLog(hub);
  const wsPort = hub.server.listeners.port('websocket')!;
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-leaf-ws-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const creds = async (name: string, types: ('LEAFNODE' | 'LEAFNODE_WS')[]): Promise<string> => {
    const ukp = createUser();
    const f = join(dir, `${name}.creds`);
    writeFileSync(f, credsOf(await userJwt(name, ukp, akp, { allowed_connection_types: types }), ukp));
    return f;
  };
  const tcpOnly = await startTestServer({
    leafnodes: leafOpts({ remotes: [{ urls: [`ws://127.0.0.1:${wsPort}`], credentials: await creds('tcp', ['LEAFNODE']) }] }),
  }, t);
  await waitUntil(() => hubLog.some((l) => /Leafnode authentication error/.test(l)), 10_000, 'the LEAFNODE-only user refused over websocket');
  assert.equal(getLeafnodes(tcpOnly.server)!.connections().length, 0);
  const wsUser = await startTestServer({
    leafnodes: leafOpts({ remotes: [{ urls: [`ws://127.0.0.1:${wsPort}`], credentials: await creds('ws', ['LEAFNODE_WS']) }] }),
  }, t);
  await waitUntil(() => getLeafnodes(wsUser.server)!.connections().length === 1, 10_000, 'the LEAFNODE_WS user linked');
  assert.equal(getLeafnodes(hub.server)!.connections()[0]!.account!.name, akp.getPublicKey());
});

test('leaf over websocket config: ws_compression/ws_no_masking; a mix of websocket and other urls is refused', () => {
  const o = loadConfigText('leafnodes { remotes [ { urls: ["ws://127.0.0.1:1", "wss://127.0.0.1:2"], ws_compression: true, ws_no_masking: true } ] }\n').options;
  assert.deepEqual(o.leafnodes!.remotes[0], { urls: ['ws://127.0.0.1:1', 'wss://127.0.0.1:2'], wsCompression: true, wsNoMasking: true });
  assert.throws(
    () => loadConfigText('leafnodes { remotes [ { urls: ["ws://u:p@127.0.0.1:1", "nats://127.0.0.1:2"] } ] }\n'),
    /remote leaf node configuration cannot have a mix of websocket and non-websocket urls: \["ws:\/\/u:xxxxx@127.0.0.1:1" "nats:\/\/127.0.0.1:2"\]/,
  );
});
