// A replica whose disk is full (ENOSPC on every write of its raft logs and file stores, injected
// with core/disk-fault.ts; bench/attack/disk-full.ts does the same with a real tmpfs) while the
// other two keep the stream going: publishes are acknowledged by the quorum, the full replica
// stops its groups instead of resetting itself in a loop, and once space is back it starts them
// again from its own files and catches up (stream and consumer), without a restart of the
// server. Before: its raft node stopped for good at the first failed write and the replica stayed
// behind until the process was restarted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { injectDiskFull } from '../../src/core/disk-fault.js';
import { waitFor } from './cluster-helpers.js';
import { connectAll, jsOf, metaOf, stopAll } from './js-meta-own-helpers.js';
import { fetchOnce, replicaMsgs, startRestartable, waitPlacement } from './js-repl-helpers.js';

test('repl: a follower whose disk is full catches up from its files once space is back, stream and consumer', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-repl-disk-full-'));
  const { nodes } = await startRestartable(root);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'DF', subjects: ['df.>'], num_replicas: 3 });
    await jsm.consumers.add('DF', { durable_name: 'C', ack_policy: AckPolicy.Explicit });
    const js = jetstream(ncs[0]!);
    for (let i = 1; i <= 20; i++) assert.equal((await js.publish(`df.${i}`, `m${i}`)).seq, i);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'DF').length === 20), 'every replica has 20 messages');

    const group = (n: (typeof nodes)[number]) => metaOf(n).streamGroups.get('$G', 'DF');
    await waitFor(() => nodes.some((n) => group(n)?.isLeader) && nodes.some((n) => group(n)?.consumers.get('C')?.isLeader), 'stream and consumer leaders');
    // The full one: neither the stream's nor the consumer's leader (the other two keep quorum).
    const full = nodes.find((n) => !group(n)?.isLeader && !group(n)?.consumers.get('C')?.isLeader)!;
    const client = ncs[nodes.indexOf(nodes.find((n) => n !== full)!)]!;
    injectDiskFull(`${full.dir}/`);

    const js2 = jetstream(client);
    for (let i = 21; i <= 60; i++) assert.equal((await js2.publish(`df.${i}`, `m${i}`)).seq, i, 'acknowledged by the two others');
    const c = await js2.consumers.get('DF', 'C');
    let acked = 0;
    await waitFor(async () => {
      await fetchOnce(c, { max_messages: 30 - acked, expires: 1000 }, async (m) => {
        await m.ackAck();
        acked++;
      });
      return acked === 30;
    }, '30 messages acknowledged', 30_000);
    // Its stream group has hit the full disk (the first append after the fault): stopped, not reset.
    await waitFor(() => group(full) === undefined || group(full)!.failedStorage, `${full.name}'s stream group stopped on the full disk`, 30_000);
    assert.ok(replicaMsgs(full, 'DF').length < 60, 'the full replica could not store everything');
    assert.equal(group(full)?.resets ?? 0, 0, 'no reset from the leader (that would drop its files)');

    injectDiskFull(undefined);
    const want = replicaMsgs(nodes.find((n) => n !== full)!, 'DF');
    assert.equal(want.length, 60);
    await waitFor(() => replicaMsgs(full, 'DF').join('\n') === want.join('\n'), `${full.name} caught up once space was back`, 60_000);
    await waitFor(() => group(full)?.consumers.get('C')?.state().ackFloor.streamSeq === 30, `${full.name}'s consumer replica caught up`, 60_000);
    assert.equal(group(full)!.resets, 0);
    // Started again from its files: nothing was moved aside as the leftover of an unknown stream.
    assert.equal(existsSync(join(jsOf(full).storeRoot, 'APP', 'damaged')) || existsSync(join(jsOf(full).storeRoot, '$G', 'damaged')), false);

    assert.equal((await js2.publish('df.after', 'x')).seq, 61);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'DF').length === 61), 'every replica takes the next message');
  } finally {
    injectDiskFull(undefined);
    await stopAll(nodes, ncs, root);
    rmSync(root, { recursive: true, force: true });
  }
});
