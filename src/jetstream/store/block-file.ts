// A block file of the file store (filestore.ts): what the store knows of each one in memory, and the
// descriptor-level asynchronous I/O its flush loop, compaction and recovery use on it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BlockMeta } from './block-meta.js';

export interface Block {
  id: number;
  path: string;
  idxPath: string;
  /** Logical size: bytes assigned to records, written or not. */
  size: number;
  /** Bytes whose write has completed (writes to one block complete in order). */
  flushed: number;
  fd: number;
  /** Asynchronous operations using fd in flight (the open-files LRU leaves the block open). */
  busy: number;
  /** False until the flush loop has created the file (opening files can stall behind an fsync). */
  created: boolean;
  live: number;
  /** Record bytes of the live messages (compaction starts when they fall below half the size). */
  liveBytes: number;
  /** A compaction is queued; noCompact: never again in this process (damaged, or cut by truncate). */
  compactQueued: boolean;
  noCompact: boolean;
  /** Bumped by every in-place change of the file (erase, truncate cut, compaction). */
  epoch: number;
  /** Bumped by every compaction (record offsets changed). */
  rewrites: number;
  /** MSG records in the file whose message was removed (an upper bound). While it is 0 no tombstone
   *  is needed for this block: every message it still holds on disk is live. */
  deadOnDisk: number;
  /** Seq range of MSG records in the block (0 when none). */
  msgMin: number;
  msgMax: number;
  /** Highest sequence any record in the block speaks for (MSG seq, SKIP end, MARK last). */
  maxInfo: number;
  /** DEL runs recorded in this block, flattened [first, count, ...]. */
  tombs: number[];
  maxInfoTs: bigint;
  /** Holds MARK or SKIP records (state that a retirement must carry forward). */
  hasMark: boolean;
  /** Holds a MARK record (the stream's first sequence, which a SKIP does not carry). */
  marks: boolean;
  sealed: boolean;
  removed: boolean;
  /** Control records of the block (for its .idx at seal); null once no index may be written. */
  ctl: CtlRec[] | null;
  /** The block's index as its records are appended (a block created by this process, while it
   *  takes writes): at seal it is the .idx as is when no message of the block was removed, so a
   *  busy stream's seal does not walk the message index (unpacking what the sweep packed). null
   *  when it cannot describe the file, or once let go on a slow or idle stream (its memory: onIndexSweep); the seal
   *  then builds the index from the message index (buildMeta). */
  wmeta: BlockMeta | null;
  dirty: boolean;
  /** No in-place rewrite outside the page since the block was written or compacted (an erase of a
   *  record already queued): false means an index built now could disagree with the file, so none is
   *  written and the block is scanned at recovery. */
  appendOnly: boolean;
}

export interface CtlRec {
  type: number;
  seq: number;
  ts: bigint;
  value: number;
  off: number;
}

export interface PendingPage {
  blk: Block;
  off: number;
  buf: Buffer;
  maxSeq: number;
}

export type QueueItem = { page: PendingPage } | { op: () => Promise<void> };

export function blockPath(dir: string, id: number): string {
  return path.join(dir, `${id}.blk`);
}

export function writevFully(fd: number, bufs: Buffer[], pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const total = bufs.reduce((a, b) => a + b.length, 0);
    fs.writev(fd, bufs, pos, (err, written) => {
      if (err) return reject(err);
      if (written === total) return resolve();
      // Short write: finish the rest with a plain write of the remainder.
      const rest = Buffer.concat(bufs).subarray(written);
      writevFully(fd, [rest], pos + written).then(resolve, reject);
    });
  });
}

export function fsyncP(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

/** Block data in the group commit: fdatasync also writes the size and allocation an append changed
 *  (all a reader needs to find the records), only not the timestamps, so it promises as much as fsync
 *  here and never does more work (on this machine's ext4 the two cost the same: BENCHMARKS.md). */
export function fdatasyncP(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function closeP(fd: number): Promise<void> {
  return new Promise((resolve) => fs.close(fd, () => resolve()));
}

export function unlinkP(file: string): Promise<void> {
  return fs.promises.unlink(file).catch(() => undefined);
}
