// Shared by the leaf interop tests with nats-server 2.9.10: a nats-server from a config text
// (stopped after the test), the ports it picked from its log, clients, and the message
// exchange that shows a link works both ways; raw leaves (a CONNECT written by hand) and what
// the hub answered them. Interest on the far side is awaited by
// publishing until the first message arrives (nats-server's interest is not visible from here).
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection, type Msg } from '@nats-io/transport-node';
import { spawnNatsServer, spawnTsnats, type ChildServer } from './child.js';
import { RawClient } from './raw-client.js';
import { accountJwt, createAccount, newOperator, operatorConfig, type KeyPair, type OperatorSetup } from './jwt-flow.js';
import type { Account } from '@nats-io/jwt';
import { waitUntil } from './wait.js';

export type Spawn = (args: string[]) => Promise<ChildServer>;
/** The two servers the side-by-side tests run the same flow against. */
export const KINDS: [string, Spawn][] = [['nats-server', spawnNatsServer], ['tsnats', spawnTsnats]];

/** A temporary directory, removed after the test. */
export function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-leaf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function tempConf(t: TestContext, text: string): string {
  const f = join(tempDir(t), 'server.conf');
  writeFileSync(f, text);
  return f;
}

/** A child server (nats-server unless `spawn` says otherwise) from a config text, stopped after the test. */
export async function natsServer(t: TestContext, conf: string, spawn: (args: string[]) => Promise<ChildServer> = spawnNatsServer): Promise<ChildServer> {
  const c = await spawn(['-c', tempConf(t, conf)]);
  t.after(() => c.stop());
  return c;
}

/** The websocket port a nats-server picked (config `websocket { listen: "...:-1" }`), from its log. */
export async function wsListenPort(s: ChildServer): Promise<number> {
  const re = /Listening for websocket clients on wss?:\/\/[^:]+:(\d+)/;
  await waitUntil(() => re.test(s.output()), 5000, 'websocket listener');
  return Number(re.exec(s.output())![1]);
}

/** The leafnode port a nats-server picked (config `leafnodes { listen: "...:-1" }`), from its log. */
export async function leafListenPort(hub: ChildServer): Promise<number> {
  const re = /Listening for leafnode connections on [^:]+:(\d+)/;
  await waitUntil(() => re.test(hub.output()), 5000, 'hub leaf listener');
  return Number(re.exec(hub.output())![1]);
}

export async function client(url: string, t: TestContext): Promise<NatsConnection> {
  const nc = await connect({ servers: url });
  t.after(() => nc.close());
  return nc;
}

/** Publish on `pub` until `got` has a message (the far side's interest arrives asynchronously). */
export async function publishUntilSeen(pub: NatsConnection, subject: string, got: Msg[]): Promise<void> {
  await waitUntil(async () => {
    if (got.length > 0) return true;
    pub.publish(subject, 'probe');
    await pub.flush();
    return got.length > 0;
  }, 10000, `a message on ${subject}`, 50);
}

export async function exercise(t: TestContext, hubUrl: string, leafUrl: string): Promise<void> {
  const hc = await client(hubUrl, t);
  const lc = await client(leafUrl, t);
  const onLeaf: Msg[] = [];
  lc.subscribe('down.>', { callback: (_e, m) => { onLeaf.push(m); } });
  const onHub: Msg[] = [];
  hc.subscribe('up', { callback: (_e, m) => { onHub.push(m); } });
  lc.subscribe('svc', { callback: (_e, m) => { m.respond(`r:${m.string()}`); } });
  await lc.flush();
  await hc.flush();
  await publishUntilSeen(hc, 'down.x', onLeaf);
  await publishUntilSeen(lc, 'up', onHub);
  assert.equal(onLeaf[0]!.subject, 'down.x');
  const r = await hc.request('svc', 'q', { timeout: 5000 });
  assert.equal(r.string(), 'r:q');

  // queue group on the leaf only: every hub publish is served exactly once across the link
  const qgot: Msg[] = [];
  lc.subscribe('qwork', { queue: 'g', callback: (_e, m) => { qgot.push(m); } });
  lc.subscribe('qwork', { queue: 'g', callback: (_e, m) => { qgot.push(m); } });
  await lc.flush();
  await publishUntilSeen(hc, 'qwork', qgot);
  const before = qgot.length;
  for (let i = 0; i < 20; i++) hc.publish('qwork', `${i}`);
  await hc.flush();
  await waitUntil(() => qgot.length === before + 20, 5000, 'queue deliveries');
}

let rawLeaves = 0;

/**
 * A leaf written by hand: reads the INFO, sends a leaf CONNECT (no `lang`: that would be a
 * client on the leaf port) with `fields`, the nonce signed by `signer` when given, then PING.
 * Each has its own server id (nats-server refuses a second link from the same server).
 */
export async function rawLeaf(port: number, fields: Record<string, unknown>, signer?: KeyPair): Promise<RawClient> {
  const id = `NRAWLEAF${++rawLeaves}`;
  return rawConnect(port, { server_id: id, name: id, headers: true, ...fields }, signer);
}

/** A client written by hand (a CONNECT with `lang`, signed as `rawLeaf`'s), for `outcome`. */
export function rawClient(port: number, fields: Record<string, unknown>, signer?: KeyPair): Promise<RawClient> {
  return rawConnect(port, { verbose: false, lang: 'raw', ...fields }, signer);
}

async function rawConnect(port: number, fields: Record<string, unknown>, signer?: KeyPair): Promise<RawClient> {
  const { c, info } = await RawClient.connectInfo(port);
  const sig = signer === undefined ? {} : { sig: Buffer.from(signer.sign(Buffer.from(String(info.nonce)))).toString('base64url') };
  c.send(`CONNECT ${JSON.stringify({ ...fields, ...sig })}\r\nPING\r\n`);
  return c;
}

/** What a raw leaf (or raw client) saw: 'linked' (its PING answered) or the -ERR it got before the server closed it. */
export async function outcome(c: RawClient): Promise<string> {
  await c.waitFor((x) => x.includes('PONG\r\n') || x.includes('-ERR'), 5000);
  const err = /-ERR '([^']*)'/.exec(c.text);
  if (err === null) return 'linked';
  await c.waitClosed(5000);
  return `-ERR ${err[1]}`;
}

/** The raw leaves answer a PING (their links are still up); then they are closed. */
export async function stillLinked(...leaves: RawClient[]): Promise<void> {
  for (const c of leaves) await c.flushPing(5000);
  for (const c of leaves) c.close();
}

/**
 * An operator-mode hub (full resolver, so that account updates are accepted) with a leafnodes
 * listener and one account `A` made from `data`: the operator, the account key and the ports.
 */
export async function operatorLeafHub(t: TestContext, spawn: Spawn, data: Partial<Account>): Promise<{ op: OperatorSetup; akp: KeyPair; hub: ChildServer; port: number }> {
  const op = await newOperator();
  const akp = createAccount();
  const conf = operatorConfig(op, { [akp.getPublicKey()]: await accountJwt(op, 'A', akp, data) },
    `listen: 127.0.0.1:-1\nresolver: { type: full, dir: "${join(tempDir(t), 'jwt')}" }\nleafnodes { listen: "127.0.0.1:-1" }`)
    .replace('resolver: MEMORY\n', '');
  const hub = await natsServer(t, conf, spawn);
  return { op, akp, hub, port: await leafListenPort(hub) };
}
