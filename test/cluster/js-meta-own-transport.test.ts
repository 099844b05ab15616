// The Raft transport over routes: $NRG traffic in the system account reaches the other
// servers only (never the publisher's own subscriptions), and a Raft group over it elects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNode, waitRoutes, waitFor, type InProcNode } from './cluster-helpers.js';
import { RouteRaftTransport, watchRoutePeersGone } from '../../src/jetstream/cluster/route-transport.js';
import { RaftNode, peerIdForServerName } from '../../src/raft/index.js';

async function threeNodes(): Promise<InProcNode[]> {
  const a = await startNode({ name: 'a' });
  const b = await startNode({ name: 'b', routes: [a.routeUrl] });
  const c = await startNode({ name: 'c', routes: [a.routeUrl] });
  const nodes = [a, b, c];
  await waitRoutes(nodes, 2);
  return nodes;
}

test('route transport: a publish reaches the other servers only, in order', async () => {
  const nodes = await threeNodes();
  const ts = nodes.map((n) => new RouteRaftTransport(n.h.server.systemAccount));
  try {
    const got: string[][] = [[], [], []];
    const subs = ts.map((t, i) => t.subscribe('$NRG.AE.G', (_s, reply, p) => got[i]!.push(`${Buffer.from(p).toString()}|${reply}`)));
    await waitFor(() => nodes.every((n) => n.cluster.hasRemoteInterest('$SYS', '$NRG.AE.G')), 'remote $SYS interest');
    for (let i = 0; i < 50; i++) ts[0]!.publish('$NRG.AE.G', '$NRG.R.x', Buffer.from(`m${i}`));
    await waitFor(() => got[1]!.length === 50 && got[2]!.length === 50, 'deliveries on b and c');
    assert.deepEqual(got[0], [], 'the publisher never receives its own message');
    assert.deepEqual(got[1], Array.from({ length: 50 }, (_, i) => `m${i}|$NRG.R.x`));
    assert.deepEqual(got[2], got[1]);
    // An unsubscribed handler gets nothing more.
    subs[1]!.unsubscribe();
    const before = got[1]!.length;
    ts[0]!.publish('$NRG.AE.G', '', Buffer.from('x'));
    await waitFor(() => got[2]!.length === 51, 'one more on c');
    assert.equal(got[1]!.length, before);
  } finally {
    ts.forEach((t) => t.close());
    await Promise.all(nodes.map((n) => n.h.shutdown()));
  }
});

test('route transport: a 3-node Raft group elects one leader and commits over routes', async () => {
  const nodes = await threeNodes();
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-rt-'));
  const names = ['a', 'b', 'c'];
  const peers = names.map(peerIdForServerName);
  const applied: string[][] = [[], [], []];
  const rafts = nodes.map((n, i) => new RaftNode({
    group: 'T-R3F-test', serverName: names[i]!, peers, storeDir: join(dir, names[i]!),
    transport: new RouteRaftTransport(n.h.server.systemAccount),
    timing: { electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600 },
    apply: (_idx, entries) => { for (const e of entries) if (e.type === 0) applied[i]!.push(Buffer.from(e.data).toString()); },
  }).start());
  try {
    await waitFor(() => rafts.filter((r) => r.isLeader).length === 1, 'one leader', 20_000);
    const leader = rafts.find((r) => r.isLeader)!;
    leader.propose(Buffer.from('hello'));
    await waitFor(() => applied.every((a) => a.includes('hello')), 'entry applied everywhere', 20_000);
    assert.equal(rafts.filter((r) => r.isLeader).length, 1);
  } finally {
    rafts.forEach((r) => r.stop());
    await Promise.all(nodes.map((n) => n.h.shutdown()));
    rmSync(dir, { recursive: true, force: true });
  }
});

test('route transport: when the leader\'s server goes away its closed routes elect a new leader, with election timeouts far away', async () => {
  const nodes = await threeNodes();
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-rt-'));
  const names = ['a', 'b', 'c'];
  const peers = names.map(peerIdForServerName);
  const applied: string[][] = [[], [], []];
  // A closed route is the only way to learn the leader is gone: the election timeout is 10 minutes.
  const unwatch = nodes.map((n) => watchRoutePeersGone(n.cluster, n.h.server.systemAccount));
  const rafts = nodes.map((n, i) => new RaftNode({
    group: 'T-R3F-gone', serverName: names[i]!, peers, storeDir: join(dir, names[i]!),
    transport: new RouteRaftTransport(n.h.server.systemAccount),
    timing: { electionTimeoutMinMs: 600_000, electionTimeoutMaxMs: 700_000 },
    apply: (_idx, entries) => { for (const e of entries) if (e.type === 0) applied[i]!.push(Buffer.from(e.data).toString()); },
  }).start());
  const down = new Set<number>();
  try {
    await waitFor(() => nodes.every((n) => n.cluster.hasRemoteInterest('$SYS', '$NRG.V.T-R3F-gone')), 'vote subscriptions everywhere');
    rafts[0]!.campaign();
    await waitFor(() => rafts.filter((r) => r.isLeader).length === 1, 'one leader', 20_000);
    const li = rafts.findIndex((r) => r.isLeader);
    const term = rafts[li]!.term;
    rafts[li]!.propose(Buffer.from('before'));
    await waitFor(() => applied.every((a) => a.includes('before')), 'entry applied everywhere', 20_000);
    rafts[li]!.stop();
    down.add(li);
    await nodes[li]!.h.shutdown();
    await waitFor(() => rafts.some((r, i) => i !== li && r.isLeader), 'a new leader among the other two', 20_000);
    const next = rafts.find((r, i) => i !== li && r.isLeader)!;
    assert.ok(next.term > term, `new term ${next.term} after ${term}`);
    next.propose(Buffer.from('after'));
    await waitFor(() => applied.every((a, i) => i === li || a.includes('after')), 'the entry after the failover applied on both', 20_000);
  } finally {
    unwatch.forEach((u) => u());
    rafts.forEach((r) => r.stop());
    await Promise.all(nodes.filter((_n, i) => !down.has(i)).map((n) => n.h.shutdown()));
    rmSync(dir, { recursive: true, force: true });
  }
});
