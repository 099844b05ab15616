// Shared by the leaf interop tests with nats-server 2.9.10: a nats-server from a config text
// (stopped after the test), the ports it picked from its log, clients, and the message
// exchange that shows a link works both ways. Interest on the far side is awaited by
// publishing until the first message arrives (nats-server's interest is not visible from here).
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection, type Msg } from '@nats-io/transport-node';
import { spawnNatsServer, type ChildServer } from './child.js';
import { waitUntil } from './wait.js';

export function tempConf(t: TestContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-leaf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'server.conf');
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
