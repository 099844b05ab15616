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
