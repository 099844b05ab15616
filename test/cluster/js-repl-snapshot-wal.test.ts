// The stream group's WAL stays bounded under continuous publishing: replicas snapshot once the
// WAL passes the (test-sized) threshold and compaction drops the segments behind the snapshot.
// A size assertion against what the log would hold without compaction (every payload).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { skipReason } from './js-cluster-harness.js';
import {
  SMALL_SNAPSHOTS, createR3, payloadOf, publishRange, startWithEnv, streamSnapshotIndex, streamWalBytes, waitReplicas,
} from './js-repl-snapshot-helpers.js';

const skip = skipReason('tsnats');

test('repl snapshot: the group WAL stays bounded under continuous publish', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv(SMALL_SNAPSHOTS);
  try {
    const nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'WALB');
    const n = 2000;
    let published = 0;
    for (let i = 1; i <= n; i++) published += Buffer.byteLength(payloadOf(i));
    await publishRange(nc, 'WALB', 1, n);
    await waitReplicas(c, 'WALB', n);
    const threshold = Number(SMALL_SNAPSHOTS.TSNATS_STREAM_SNAPSHOT_WAL_BYTES);
    for (const node of c.nodes) {
      const wal = streamWalBytes(node);
      console.log(`# ${node.name}: group WAL ${wal} bytes after ${n} messages (${published} payload bytes published)`);
      assert.ok(streamSnapshotIndex(node) > 0, `${node.name} snapshotted`);
      // Without compaction the WAL would hold every payload (and entry headers) of the run.
      assert.ok(wal < published / 4, `${node.name}: WAL ${wal} bytes, payloads published ${published}`);
      assert.ok(wal < 4 * threshold, `${node.name}: WAL ${wal} bytes, threshold ${threshold}`);
    }
  } finally {
    await c.shutdown();
  }
});
