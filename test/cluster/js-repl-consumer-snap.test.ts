// R3 durable consumer groups take snapshots of the consumer state and compact their WAL
// (nats-server monitorConsumer doSnapshot): the WAL stays bounded while thousands of
// delivered/ack entries go through it, every server restarted comes back with the same state
// (snapshot + the log after it), and a follower that was down while the others compacted past
// its log is caught up from the leader's snapshot and ends with the identical state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, RetentionPolicy, jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { waitFor } from './cluster-helpers.js';
import { connectAll, jsOf, metaOf, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { restartOne, startRestartable, waitPlacement } from './js-repl-helpers.js';
import { CONSUMER_SNAPSHOT_POLICY as CONSUMER_SNAPSHOT } from '../../src/jetstream/cluster/raft-snapshot-policy.js';
import type { ConsumerState } from '../../src/jetstream/store/types.js';

const cg = (n: JsNode, s: string, c: string) => metaOf(n).streamGroups.get('$G', s)?.consumers.get(c);

/** msgs/first/last of server n's own copy of the stream. */
function replicaState(n: JsNode, stream: string): string {
  const st = jsOf(n).jsAccount('$G')?.streams.get(stream)?.store.fastState();
  return st ? `${st.msgs}/${st.firstSeq}/${st.lastSeq}` : 'none';
}

function stateKey(st: ConsumerState | undefined): string {
  if (!st) return 'none';
  return JSON.stringify({
    d: st.delivered, a: st.ackFloor, p: [...st.pending.keys()].sort((x, y) => x - y),
    r: [...st.redelivered.entries()].sort((x, y) => x[0] - y[0]),
  });
}

async function publishN(js: JetStreamClient, subject: string, n: number): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    const batch: Promise<unknown>[] = [];
    for (let k = i; k < Math.min(n, i + 100); k++) batch.push(js.publish(subject, `m${k}`));
    await Promise.all(batch);
  }
}

/** Fetch and acknowledge the next `count` messages; wait for the ack floor `floor` on `nodes`. */
async function consume(nc: NatsConnection, nodes: JsNode[], count: number, floor: number): Promise<void> {
  const c = await jetstream(nc).consumers.get('CS', 'D');
  let got = 0;
  await waitFor(async () => {
    const it = await c.fetch({ max_messages: Math.min(100, count - got), expires: 2000 });
    for await (const m of it) {
      m.ack();
      got++;
    }
    return got >= count;
  }, `${count} messages`, 60_000);
  await waitFor(() => nodes.every((n) => cg(n, 'CS', 'D')?.state().ackFloor.streamSeq === floor), `ack floor ${floor} on every replica`, 30_000);
}

test('repl: consumer snapshots bound the WAL; full restart and a lagging follower recover the same state', async (t) => {
  const saved = { ...CONSUMER_SNAPSHOT };
  // Small thresholds so that a few hundred acks go through many snapshots.
  CONSUMER_SNAPSHOT.entries = 8;
  CONSUMER_SNAPSHOT.appliedBytes = 1024;
  CONSUMER_SNAPSHOT.minGapMs = 0;
  CONSUMER_SNAPSHOT.segmentBytes = 4096;
  const root = mkdtempSync(join(tmpdir(), 'tsnats-cons-snap-'));
  let { nodes, layout } = await startRestartable(root);
  let ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'CS', subjects: ['cs.>'], num_replicas: 3 });
    await publishN(jetstream(ncs[1]!), 'cs.x', 900);
    await jsm.consumers.add('CS', { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
    await waitFor(() => nodes.every((n) => cg(n, 'CS', 'D') !== undefined), 'the consumer group on every server');

    // 600 deliveries + 600 acks: 1,200 ops, about 20 KB of WAL without compaction.
    let maxWal = 0;
    const sampler = setInterval(() => {
      for (const n of nodes) maxWal = Math.max(maxWal, cg(n, 'CS', 'D')?.node.status().walBytes ?? 0);
    }, 5);
    await consume(ncs[2]!, nodes, 600, 600).finally(() => clearInterval(sampler));
    // Never more than the active segment plus one being compacted (4 KiB each) and a batch.
    assert.ok(maxWal > 0 && maxWal <= 3 * 4096, `largest consumer WAL seen: ${maxWal} bytes`);
    t.diagnostic(`largest consumer WAL seen through 1,200 delivered/ack ops: ${maxWal} bytes`);
    await waitFor(() => nodes.every((n) => cg(n, 'CS', 'D')!.node.status().snapshotIndex > 0), 'a snapshot on every replica');
    for (const n of nodes) {
      const st = cg(n, 'CS', 'D')!.node.status();
      assert.ok(st.walBytes <= 3 * 4096, `${n.name}: WAL ${st.walBytes} bytes after ${st.applied} entries (snapshot at ${st.snapshotIndex})`);
    }
    await waitFor(() => new Set(nodes.map((n) => stateKey(cg(n, 'CS', 'D')?.state()))).size === 1, 'identical state on every replica');
    const before = stateKey(cg(nodes[0]!, 'CS', 'D')!.state());

    // A workqueue stream whose acks are partly behind a consumer snapshot: the stream is rebuilt
    // from its own log at start, the consumer snapshot's acknowledged range is swept again.
    await jsm.streams.add({ name: 'SW', subjects: ['sw.>'], num_replicas: 3, retention: RetentionPolicy.Workqueue });
    await publishN(jetstream(ncs[1]!), 'sw.x', 200);
    await jsm.consumers.add('SW', { durable_name: 'W', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
    await waitFor(() => nodes.every((n) => cg(n, 'SW', 'W') !== undefined), 'W on every server');
    const w = await jetstream(ncs[0]!).consumers.get('SW', 'W');
    let wGot = 0;
    await waitFor(async () => {
      for await (const m of await w.fetch({ max_messages: Math.min(50, 150 - wGot), expires: 2000 })) {
        m.ack();
        wGot++;
      }
      return wGot >= 150;
    }, '150 workqueue messages', 30_000);
    await waitFor(() => nodes.every((n) => replicaState(n, 'SW') === '50/151/200'), 'SW = 50/151/200 on every replica', 20_000);
    await waitFor(() => nodes.every((n) => cg(n, 'SW', 'W')!.node.status().snapshotIndex > 0), 'W snapshots on every replica');

    // Every server restarted: snapshot + the log after it give the same state.
    await stopAll(nodes, ncs);
    ({ nodes } = await startRestartable(root, layout));
    ncs = await connectAll(nodes);
    await waitFor(() => nodes.every((n) => cg(n, 'CS', 'D') !== undefined), 'the consumer group back on every server', 30_000);
    for (const n of nodes) assert.equal(stateKey(cg(n, 'CS', 'D')!.state()), before, `${n.name} after the restart`);
    await waitFor(() => nodes.every((n) => cg(n, 'SW', 'W') !== undefined), 'W back on every server', 30_000);
    await waitFor(() => nodes.every((n) => replicaState(n, 'SW') === '50/151/200'),
      'SW = 50/151/200 on every replica after the restart', 20_000);
    await waitFor(() => nodes.some((n) => cg(n, 'CS', 'D')?.isLeader), 'a consumer leader', 30_000);

    // A follower goes down; the others go on and compact past its log.
    const leaderIdx = nodes.findIndex((n) => cg(n, 'CS', 'D')?.isLeader);
    const downIdx = (leaderIdx + 1) % 3;
    const downLast = cg(nodes[downIdx]!, 'CS', 'D')!.node.lastIndex;
    await ncs[downIdx]!.close();
    await nodes[downIdx]!.h.shutdown();
    const up = nodes.filter((_, i) => i !== downIdx);
    const ncUp = ncs[leaderIdx]!;
    await consume(ncUp, up, 300, 900);
    await waitFor(() => up.every((n) => cg(n, 'CS', 'D')!.node.status().snapshotIndex > downLast), 'the others snapshot past the stopped follower');
    const leaderState = stateKey(cg(nodes[leaderIdx]!, 'CS', 'D')!.state());

    nodes[downIdx] = await restartOne(root, layout, downIdx);
    ncs[downIdx] = (await connectAll([nodes[downIdx]!]))[0]!;
    await waitFor(() => stateKey(cg(nodes[downIdx]!, 'CS', 'D')?.state()) === leaderState, 'the restarted follower adopts the leader state', 30_000);
    const st = cg(nodes[downIdx]!, 'CS', 'D')!.node.status();
    assert.ok(st.snapshotIndex > downLast, `caught up from a snapshot (at ${st.snapshotIndex}, its log ended at ${downLast})`);
  } finally {
    Object.assign(CONSUMER_SNAPSHOT, saved);
    await stopAll(nodes, ncs, root);
  }
});
