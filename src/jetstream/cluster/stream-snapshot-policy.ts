// When a replicated stream's replica installs a stream snapshot (and so compacts its group's
// WAL): nats-server's monitorStream snapshots every 2 minutes (plus up to one minute of
// jitter, so the replicas and streams do not all write at once) and whenever enough of the
// WAL could be compacted. tsnats measures the compactable part as the WAL's bytes on disk.
//
// The thresholds are read here, once, from the environment, so that tests can make a stream
// compact after a few messages (child servers inherit the variables):
//   TSNATS_STREAM_SNAPSHOT_INTERVAL_MS  periodic snapshot (default 120000, +0..60000 jitter)
//   TSNATS_STREAM_SNAPSHOT_WAL_BYTES    snapshot once the WAL holds this much (default 8 MiB)
//   TSNATS_STREAM_SNAPSHOT_MIN_GAP_MS   at least this long between two size-driven snapshots (default 5000)
//   TSNATS_STREAM_SNAPSHOT_CHECK_MS     how often the conditions are checked (default 1000)

export interface StreamSnapshotPolicy {
  intervalMs: number;
  jitterMs: number;
  walBytes: number;
  minGapMs: number;
  checkMs: number;
}

export const DEFAULT_STREAM_SNAPSHOT_POLICY: StreamSnapshotPolicy = {
  intervalMs: 120_000, jitterMs: 60_000, walBytes: 8 * 1024 * 1024, minGapMs: 5_000, checkMs: 1_000,
};

function num(v: string | undefined, dflt: number, min: number): number {
  if (v === undefined || v.trim() === '') return dflt;
  const n = Number(v);
  return Number.isFinite(n) && n >= min ? Math.floor(n) : dflt;
}

/** The policy from the environment (unset or invalid variables keep the defaults). */
export function streamSnapshotPolicy(env: NodeJS.ProcessEnv = process.env): StreamSnapshotPolicy {
  const d = DEFAULT_STREAM_SNAPSHOT_POLICY;
  const intervalMs = num(env.TSNATS_STREAM_SNAPSHOT_INTERVAL_MS, d.intervalMs, 1);
  return {
    intervalMs,
    // A configured interval is taken as is (tests); the default gets nats-server's jitter.
    jitterMs: env.TSNATS_STREAM_SNAPSHOT_INTERVAL_MS === undefined ? d.jitterMs : 0,
    walBytes: num(env.TSNATS_STREAM_SNAPSHOT_WAL_BYTES, d.walBytes, 1),
    minGapMs: num(env.TSNATS_STREAM_SNAPSHOT_MIN_GAP_MS, d.minGapMs, 0),
    checkMs: num(env.TSNATS_STREAM_SNAPSHOT_CHECK_MS, d.checkMs, 10),
  };
}

/**
 * WAL segment size for stream groups. Compaction frees whole segments only, so segments must be
 * well below the size that triggers a snapshot; otherwise the WAL stays above it after every
 * snapshot (the raft default of 64 MiB would never shrink below 8 MiB) and snapshots repeat.
 */
export function walSegmentBytes(p: StreamSnapshotPolicy): number {
  return Math.max(16 * 1024, Math.floor(p.walBytes / 4));
}

/** Is a snapshot due? `sinceMs`: time since the last one; `dueMs`: this replica's interval (with jitter). */
export function snapshotDue(p: StreamSnapshotPolicy, sinceMs: number, dueMs: number, walBytes: number): boolean {
  return sinceMs >= dueMs || (sinceMs >= p.minGapMs && walBytes >= p.walBytes);
}
