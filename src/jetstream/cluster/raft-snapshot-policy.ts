// When a replica of a raft group installs a snapshot (and so compacts its WAL): one rule for the
// meta group (js-cluster.ts), stream groups (stream-group.ts) and consumer groups
// (consumer-group.ts), each with its own thresholds (nats-server: monitorCluster, monitorStream,
// monitorConsumer). A snapshot is due once the interval (plus this replica's random jitter, so
// that replicas and groups do not all write at once) has passed since the last one, or, no sooner
// than a minimum gap after it, once enough was written since: WAL bytes on disk (the meta group
// and streams measure what could be compacted that way) or entries and bytes applied (consumers:
// what they log is small).
//
// The stream thresholds can be set from the environment, read once, so that tests can make a
// stream compact after a few messages (child servers inherit the variables):
//   TSNATS_STREAM_SNAPSHOT_INTERVAL_MS  periodic snapshot (default 120000, +0..60000 jitter)
//   TSNATS_STREAM_SNAPSHOT_WAL_BYTES    snapshot once the WAL holds this much (default 8 MiB)
//   TSNATS_STREAM_SNAPSHOT_MIN_GAP_MS   at least this long between two size-driven snapshots (default 5000)
//   TSNATS_STREAM_SNAPSHOT_CHECK_MS     how often the conditions are checked (default 1000)

export interface SnapshotPolicy {
  /** Periodic snapshot. */
  intervalMs: number;
  /** Up to this much random time added to each interval. */
  jitterMs: number;
  /** Threshold-driven snapshots are at least this far apart. */
  minGapMs: number;
  /** WAL bytes on disk that make a snapshot due (Infinity: not a criterion). */
  walBytes: number;
  /** Committed entries applied since the last snapshot (with some bytes applied; Infinity: not a criterion). */
  entries: number;
  /** Bytes of entries applied since the last snapshot (more than this; Infinity: not a criterion). */
  appliedBytes: number;
  /** How often a checking group (meta, streams) looks at the conditions. */
  checkMs: number;
  /**
   * WAL segment size of the group. Compaction frees whole segments only, so segments must be well
   * below the size that triggers a snapshot; otherwise the WAL stays above it after every snapshot
   * (the raft default of 64 MiB would never shrink below 8 MiB) and snapshots repeat.
   */
  segmentBytes: number;
}

/** Segments of a quarter of the WAL threshold (at least 16 KiB): a snapshot always frees some. */
export function walSegmentBytes(walBytes: number): number {
  return Math.max(16 * 1024, Math.floor(walBytes / 4));
}

const META_WAL_BYTES = 8 * 1024 * 1024;

/** nats-server's meta group: every minute, or at 8 MiB of compactable WAL 30 s after the last. */
export const META_SNAPSHOT_POLICY: SnapshotPolicy = {
  intervalMs: 60_000, jitterMs: 0, minGapMs: 30_000, walBytes: META_WAL_BYTES, entries: Infinity, appliedBytes: Infinity,
  checkMs: 5_000, segmentBytes: walSegmentBytes(META_WAL_BYTES),
};

/**
 * nats-server monitorConsumer: every 2 minutes (+ up to 1 minute), or once 1,024 entries or 64 KiB
 * were applied, 2 s after the last. Mutable for in-process tests.
 */
export const CONSUMER_SNAPSHOT_POLICY: SnapshotPolicy = {
  intervalMs: 2 * 60_000, jitterMs: 60_000, minGapMs: 2_000, walBytes: Infinity, entries: 1024, appliedBytes: 64 * 1024,
  checkMs: 0,
  // What a consumer logs is small (nats-server: "always small for consumers"): with the 64 MiB
  // default its WAL would grow that large before a snapshot could shrink it.
  segmentBytes: 256 * 1024,
};

const STREAM_DEFAULTS = { intervalMs: 120_000, jitterMs: 60_000, walBytes: 8 * 1024 * 1024, minGapMs: 5_000, checkMs: 1_000 };

function num(v: string | undefined, dflt: number, min: number): number {
  if (v === undefined || v.trim() === '') return dflt;
  const n = Number(v);
  return Number.isFinite(n) && n >= min ? Math.floor(n) : dflt;
}

/** A stream group's policy (nats-server monitorStream), from the environment (unset or invalid variables keep the defaults). */
export function streamSnapshotPolicy(env: NodeJS.ProcessEnv = process.env): SnapshotPolicy {
  const d = STREAM_DEFAULTS;
  const walBytes = num(env.TSNATS_STREAM_SNAPSHOT_WAL_BYTES, d.walBytes, 1);
  return {
    intervalMs: num(env.TSNATS_STREAM_SNAPSHOT_INTERVAL_MS, d.intervalMs, 1),
    // A configured interval is taken as is (tests); the default gets nats-server's jitter.
    jitterMs: env.TSNATS_STREAM_SNAPSHOT_INTERVAL_MS === undefined ? d.jitterMs : 0,
    minGapMs: num(env.TSNATS_STREAM_SNAPSHOT_MIN_GAP_MS, d.minGapMs, 0),
    walBytes,
    entries: Infinity,
    appliedBytes: Infinity,
    checkMs: num(env.TSNATS_STREAM_SNAPSHOT_CHECK_MS, d.checkMs, 10),
    segmentBytes: walSegmentBytes(walBytes),
  };
}

/** One replica's schedule: when it last snapshotted, its jittered interval, what it applied since. */
export class SnapshotSchedule {
  private lastAt: number;
  private dueMs: number;
  private entries = 0;
  private bytes = 0;

  constructor(readonly policy: SnapshotPolicy, private readonly clock: () => number = Date.now, private readonly random: () => number = Math.random) {
    this.lastAt = clock();
    this.dueMs = this.nextInterval();
  }

  /** The interval until the next periodic snapshot, with fresh jitter (timer-driven groups). */
  nextInterval(): number {
    return this.policy.intervalMs + Math.floor(this.random() * this.policy.jitterMs);
  }

  /** Committed entries and their bytes applied (counted towards the entries/bytes thresholds). */
  applied(entries: number, bytes: number): void {
    this.entries += entries;
    this.bytes += bytes;
  }

  /** A snapshot from elsewhere (restart, the leader's) replaced the state: nothing applied since. */
  resetApplied(): void {
    this.entries = 0;
    this.bytes = 0;
  }

  /** Enough was written since the last snapshot (`walBytes`: the WAL's size on disk). */
  thresholdMet(walBytes = 0): boolean {
    const p = this.policy;
    return walBytes >= p.walBytes || (this.bytes > 0 && this.entries >= p.entries) || this.bytes > p.appliedBytes;
  }

  /** At least the minimum gap since the last snapshot. */
  pastMinGap(): boolean {
    return this.clock() - this.lastAt >= this.policy.minGapMs;
  }

  /** Is a snapshot due: the interval passed, or past the minimum gap with a threshold met. */
  due(walBytes = 0): boolean {
    const since = this.clock() - this.lastAt;
    return since >= this.dueMs || (since >= this.policy.minGapMs && this.thresholdMet(walBytes));
  }

  /** A snapshot was installed (or attempted, for groups that space attempts too). */
  taken(): void {
    this.lastAt = this.clock();
    this.dueMs = this.nextInterval();
    this.resetApplied();
  }
}
