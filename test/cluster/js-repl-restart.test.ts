// A restart of every server of an in-process 3-server cluster (graceful shutdown of all, then
// all started again on the same store dirs): the R3 stream and its durable consumer come back
// from their groups' logs with the same messages on every replica, the same dedupe window and
// the same ack state, and take new publishes at the next sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { replicaMsgs, startRestartable, waitPlacement } from './js-repl-helpers.js';

test('repl: every server restarted: R3 stream, dedupe window and durable consumer state come back', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-repl-restart-'));
  let { nodes, layout } = await startRestartable(root);
  let ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'RS', subjects: ['rs.>'], num_replicas: 3, duplicate_window: 120_000_000_000 });
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 40; i++) assert.equal((await js.publish(`rs.${i % 4}`, `m${i}`, { msgID: `id${i}` })).seq, i);
    await jsm.consumers.add('RS', { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 2_000_000_000 });
    const c = await jetstream(ncs[2]!).consumers.get('RS', 'D');
    for await (const m of await c.fetch({ max_messages: 15, expires: 5000 })) {
      if (m.seq <= 10) await m.ackAck();
    }
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'RS').length === 40), 'every replica has 40 messages');
    await waitFor(() => nodes.every((n) => metaOf(n).streamGroups.get('$G', 'RS')?.consumers.get('D')?.state().ackFloor.streamSeq === 10),
      'ack floor 10 on every replica');
    const before = replicaMsgs(nodes[0]!, 'RS');

    await stopAll(nodes, ncs);
    ({ nodes } = await startRestartable(root, layout));
    ncs = await connectAll(nodes);
    await waitFor(() => nodes.some((n) => metaOf(n).streamGroups.get('$G', 'RS')?.isLeader), 'a stream leader after the restart', 30_000);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'RS').length === 40), 'every replica rebuilt', 30_000);
    for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'RS'), before, `replica ${n.name} after the restart`);

    const js2 = jetstream(ncs[0]!);
    const dup = await js2.publish('rs.1', 'again', { msgID: 'id5' });
    assert.equal(dup.duplicate, true);
    assert.equal(dup.seq, 5);
    assert.equal((await js2.publish('rs.1', 'new', { msgID: 'id41' })).seq, 41);

    await waitFor(() => nodes.some((n) => metaOf(n).streamGroups.get('$G', 'RS')?.consumers.get('D')?.isLeader), 'a consumer leader', 30_000);
    const ci = await (await jetstreamManager(ncs[1]!)).consumers.info('RS', 'D');
    assert.equal(ci.ack_floor.stream_seq, 10);
    assert.equal(ci.delivered.stream_seq, 15);
    const c2 = await jetstream(ncs[1]!).consumers.get('RS', 'D');
    const got: number[] = [];
    await waitFor(async () => {
      for await (const m of await c2.fetch({ max_messages: 41, expires: 1500 })) {
        got.push(m.seq);
        await m.ackAck();
      }
      return new Set(got).size === 31;
    }, 'messages 11..41 delivered', 30_000);
    assert.ok(got.every((s) => s > 10), `nothing acknowledged delivered again: ${got.join(',')}`);
  } finally {
    await stopAll(nodes, ncs, root);
    rmSync(root, { recursive: true, force: true });
  }
});
