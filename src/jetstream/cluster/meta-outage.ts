// A meta group member whose WAL cannot be written (a full disk, EIO) stops its raft node at the
// first failed write (RaftNode.fatal). nats-server 2.9.10 then disables JetStream on that server
// until it restarts (handleOutOfSpace: it even deletes the meta WAL). tsnats keeps the files:
// the server leaves placement and stays silent as a meta member while it cannot write, and once
// a test write succeeds it restarts its meta node from its files, catches up from the leader and
// serves again (js-cluster.ts: metaStorageFailed / restartMeta). This module holds the parts that
// need no meta state.

import { closeSync, fsyncSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { diskFullFault } from '../../core/disk-fault.js';

/** The file a write probe creates and removes again in the meta directory. */
const PROBE_FILE = '.write-probe';
/** One page: on a full filesystem a write of any size fails to allocate its first block. */
const PROBE_BYTES = Buffer.alloc(4096);

/**
 * Throws unless a page can be written and made durable under `dir` (ENOSPC on a disk still
 * full). The meta node is restarted only after this succeeds: a node restarted on a disk that
 * is still full would fail again at its first write, after having looked available meanwhile.
 */
export function probeWritable(dir: string): void {
  diskFullFault(dir);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, PROBE_FILE);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, PROBE_BYTES);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
}

/** How long the meta leader remembers an R1 create for its holder (longer than any client waits). */
const KEEP_MS = 30_000;

interface Recorded { index: number; account: string; stream: string; reply: string; at: number }

/**
 * R1 creates the meta leader applied, by holder. The holder answers the client once it applies the
 * assignment; a holder whose meta node stopped at a failed write before that (the assignment's own
 * append can be the first write to fail, after placement chose it) would never answer. When such a
 * holder announces its outage with the index it applied through, the leader takes the creates it
 * never applied (`takeUnapplied`), answers them with an error and undoes them, as a refused create.
 */
export class UnappliedCreates {
  private readonly byHolder = new Map<string, Recorded[]>();

  record(holder: string, index: number, account: string, stream: string, reply: string): void {
    const now = performance.now();
    let l = this.byHolder.get(holder);
    if (l === undefined) this.byHolder.set(holder, (l = []));
    let old = 0;
    while (old < l.length && now - l[old]!.at > KEEP_MS) old++;
    if (old > 0) l.splice(0, old);
    l.push({ index, account, stream, reply, at: now });
  }

  /** The creates on `holder` after index `applied` (forgotten here: each is handled once). */
  takeUnapplied(holder: string, applied: number): Recorded[] {
    const l = this.byHolder.get(holder);
    if (l === undefined) return [];
    this.byHolder.delete(holder);
    const now = performance.now();
    return l.filter((r) => r.index > applied && now - r.at <= KEEP_MS);
  }

  /** Leadership changed: what this server recorded as leader no longer applies. */
  clear(): void {
    this.byHolder.clear();
  }
}
