// A replica whose store stops lining up with the group's log while it runs (here: its last
// message vanishes under it) detects the sequence mismatch at the next entry and resets itself
// from the leader (log dropped, store distrusted, snapshot + catch-up) instead of diverging.
// In-process servers, so the test can reach into one replica's store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, stopAll } from './js-meta-own-helpers.js';
import { replicaMsgs, startRestartable, waitPlacement } from './js-repl-helpers.js';
import { withEnv } from './js-repl-snapshot-helpers.js';

const ENV: Record<string, string> = {
  TSNATS_STREAM_SNAPSHOT_WAL_BYTES: '16384', TSNATS_STREAM_SNAPSHOT_MIN_GAP_MS: '0', TSNATS_STREAM_SNAPSHOT_CHECK_MS: '50',
};

test('repl snapshot: a replica whose store no longer lines up with the log resets itself from the leader', async () => {
  // Small snapshot thresholds (read when each stream group starts): the leader's log is compacted,
  // so the reset replica gets the leader's snapshot and fetches the messages by catch-up.
  await withEnv(ENV, async () => {
    const root = mkdtempSync(join(tmpdir(), 'tsnats-repl-reset-'));
    const { nodes } = await startRestartable(root);
    const ncs = await connectAll(nodes);
    try {
      await waitPlacement(nodes);
      const jsm = await jetstreamManager(ncs[0]!);
      await jsm.streams.add({ name: 'RST', subjects: ['rst.>'], num_replicas: 3 });
      const js = jetstream(ncs[0]!);
      const pad = 'p'.repeat(1000);
      for (let i = 1; i <= 30; i++) assert.equal((await js.publish(`rst.${i % 3}`, `m${i}${pad}`)).seq, i);
      await waitFor(() => nodes.every((n) => replicaMsgs(n, 'RST').length === 30), 'every replica has 30 messages');
      const follower = nodes.find((n) => !metaOf(n).streamGroups.get('$G', 'RST')!.isLeader)!;
      const g = metaOf(follower).streamGroups.get('$G', 'RST')!;
      // Damage under the running replica: its last message is gone.
      g.stream.store.truncate(29);

      await waitFor(() => nodes.every((n) => metaOf(n).streamGroups.get('$G', 'RST')!.snapshotsTaken > 0), 'every replica snapshotted');
      for (let i = 31; i <= 40; i++) assert.equal((await js.publish(`rst.${i % 3}`, `m${i}${pad}`)).seq, i);
      await waitFor(() => g.resets > 0, 'the replica reset itself', 30_000);
      await waitFor(() => g.catchupsDone > 0, 'the reset replica caught up from the leader snapshot', 30_000);
      await waitFor(() => nodes.every((n) => replicaMsgs(n, 'RST').length === 40), 'every replica has 40 messages', 30_000);
      const want = replicaMsgs(nodes.find((n) => n !== follower)!, 'RST');
      for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'RST'), want, `replica ${n.name}`);
      assert.equal((await js.publish('rst.1', 'after')).seq, 41);
      await waitFor(() => nodes.every((n) => replicaMsgs(n, 'RST').length === 41), 'every replica has 41 messages', 30_000);
    } finally {
      await stopAll(nodes, ncs, root);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
