// The one snapshot rule of the meta, stream and consumer raft groups (raft-snapshot-policy.ts):
// each group's thresholds, the stream's environment overrides, and when a schedule says a
// snapshot is due, on a virtual clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CONSUMER_SNAPSHOT_POLICY, META_SNAPSHOT_POLICY, SnapshotSchedule, streamSnapshotPolicy, walSegmentBytes,
} from '../../src/jetstream/cluster/raft-snapshot-policy.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
}

test('snapshot policy: stream defaults and environment overrides (TSNATS_STREAM_SNAPSHOT_*)', () => {
  const d = streamSnapshotPolicy({});
  assert.deepEqual([d.intervalMs, d.jitterMs, d.walBytes, d.minGapMs, d.checkMs], [120_000, 60_000, 8 * 1024 * 1024, 5_000, 1_000]);
  assert.equal(d.segmentBytes, 2 * 1024 * 1024, 'a snapshot always frees segments');
  const t = streamSnapshotPolicy({
    TSNATS_STREAM_SNAPSHOT_WAL_BYTES: '65536', TSNATS_STREAM_SNAPSHOT_INTERVAL_MS: '1000', TSNATS_STREAM_SNAPSHOT_MIN_GAP_MS: 'x', TSNATS_STREAM_SNAPSHOT_CHECK_MS: '5',
  });
  assert.deepEqual([t.intervalMs, t.jitterMs, t.walBytes, t.minGapMs, t.checkMs, t.segmentBytes], [1000, 0, 65536, 5000, 1_000, 16 * 1024]);
  assert.equal(walSegmentBytes(1 << 30), 1 << 28);
});

test('snapshot policy: interval, minimum gap and WAL bytes (meta and stream groups)', () => {
  const c = clock();
  const s = new SnapshotSchedule(META_SNAPSHOT_POLICY, c.now, () => 0.5);
  assert.equal(s.due(0), false);
  c.advance(29_999);
  assert.equal(s.due(64 << 20), false, 'not sooner than the minimum gap');
  c.advance(1);
  assert.equal(s.due(8 * 1024 * 1024 - 1), false, 'below the WAL threshold');
  assert.equal(s.due(8 * 1024 * 1024), true);
  c.advance(30_000);
  assert.equal(s.due(0), true, 'the interval (no jitter for the meta group)');
  s.taken();
  assert.equal(s.due(0), false);

  const st = new SnapshotSchedule(streamSnapshotPolicy({}), c.now, () => 0.5);
  c.advance(149_999);
  assert.equal(st.due(0), false, 'interval + this replica\'s jitter');
  c.advance(1);
  assert.equal(st.due(0), true);
});

test('snapshot policy: entries and bytes applied (consumer groups)', () => {
  const c = clock();
  const s = new SnapshotSchedule(CONSUMER_SNAPSHOT_POLICY, c.now, () => 0);
  assert.equal(s.nextInterval(), 120_000);
  s.applied(1023, 0);
  s.applied(1, 0);
  assert.equal(s.thresholdMet(), false, 'entries without bytes do not count');
  s.applied(0, 10);
  assert.equal(s.thresholdMet(), true, '1,024 entries');
  assert.equal(s.due(), false, 'within the minimum gap');
  assert.equal(s.pastMinGap(), false);
  c.advance(2_000);
  assert.equal(s.pastMinGap(), true);
  assert.equal(s.due(), true);
  s.resetApplied();
  assert.equal(s.thresholdMet(), false, 'a snapshot from elsewhere resets the counts');
  s.applied(3, 64 * 1024 + 1);
  assert.equal(s.thresholdMet(), true, 'more than 64 KiB');
  s.taken();
  assert.equal(s.thresholdMet(), false);
  assert.equal(s.pastMinGap(), false);
  assert.equal(CONSUMER_SNAPSHOT_POLICY.segmentBytes, 256 * 1024);
});
