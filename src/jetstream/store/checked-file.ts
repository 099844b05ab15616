// Small config files guarded by a checksum file, as nats-server guards a stream's
// or consumer's meta.inf with meta.sum (filestore.go writeStreamMeta /
// writeConsumerMeta; jetstream.go checks the sum before loading a stream).
//
// The sum is a keyed 64-bit hash of the file's bytes, written as 16 hex digits;
// the key is SHA-256 of a name (nats-server: the stream name for a stream,
// "<stream>/<consumer>" for a consumer), so a meta file copied into another
// stream's directory does not verify either.
//
// Two files cannot be replaced in one atomic step, so a write goes:
//   1. <file>.new  written and fsync'ed
//   2. <sum>       replaced atomically (temp, fsync, rename) with the new sum
//   3. <file>.new  renamed over <file>, then the directory fsync'ed
// A crash before 2 leaves the old pair (which verifies); a crash between 2 and 3
// leaves the old file, the new sum and the new file under .new: the reader sees
// that <file>.new matches the sum and completes the rename (roll forward). A
// reader therefore finds a verifying pair after any crash, and anything else
// (hand edit, torn write, flipped bit) is reported as damage, never loaded.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { diskFullFault } from '../../core/disk-fault.js';
import { sha256 } from '../../core/sha256.js';
import { fsyncDir, fsyncDirSync, writeSynced, writeSyncedSync } from './durable-fs.js';
import { highwayHash64 } from './highwayhash.js';

// store-factory takes fsyncDir from here.
export { fsyncDir };

/** The checksum nats-server writes to meta.sum: HighwayHash-64 keyed with SHA-256(keyName), hex. */
export function metaChecksum(keyName: string, data: Uint8Array): string {
  const key = sha256(keyName);
  return highwayHash64(key, data).toString('hex');
}

export type CheckedRead =
  /** The pair verifies (rolledForward: an interrupted write was completed). */
  | { status: 'ok'; data: Buffer; rolledForward: boolean }
  /** No file at all. */
  | { status: 'missing' }
  /** The file is there but no sum file (written before sums existed). */
  | { status: 'no-sum'; data: Buffer }
  /** The file does not match its sum, or could not be read: do not trust it. */
  | { status: 'damaged'; reason: string };

/**
 * Write `data` to dir/file and its checksum to dir/sumFile, crash-safe as described above.
 * doSync false keeps the order (safe against a process crash) but leaves the fsyncs to the OS.
 */
export function writeCheckedFileSync(dir: string, file: string, sumFile: string, keyName: string, data: Uint8Array,
  doSync = true): void {
  const target = path.join(dir, file);
  writeSyncedSync(`${target}.new`, data, doSync);
  const sumPath = path.join(dir, sumFile);
  writeSyncedSync(`${sumPath}.tmp`, Buffer.from(metaChecksum(keyName, data)), doSync);
  fs.renameSync(`${sumPath}.tmp`, sumPath);
  fs.renameSync(`${target}.new`, target);
  if (doSync) fsyncDirSync(dir);
}

/**
 * The async variant. <file>.new and the sum's temp file are written (and fsync'ed) concurrently:
 * the order that matters is between step 1 and step 2, and the new sum only takes effect with its
 * rename, which waits for both. syncDir false leaves the final directory fsync to a caller that
 * fsyncs the directory once for several files (a new stream's directory, store-factory.ts); the
 * pair is then durable only after that fsync.
 */
export async function writeCheckedFile(dir: string, file: string, sumFile: string, keyName: string, data: Uint8Array,
  doSync = true, syncDir = true): Promise<void> {
  diskFullFault(dir);
  const target = path.join(dir, file);
  const sumPath = path.join(dir, sumFile);
  await Promise.all([
    writeSynced(`${target}.new`, data, doSync),
    writeSynced(`${sumPath}.tmp`, Buffer.from(metaChecksum(keyName, data)), doSync),
  ]);
  await fs.promises.rename(`${sumPath}.tmp`, sumPath);
  await fs.promises.rename(`${target}.new`, target);
  if (doSync && syncDir) await fsyncDir(dir);
}

interface RawPair {
  file?: Buffer;
  fileErr?: string;
  next?: Buffer;
  sum?: string;
  sumErr?: string;
}

/** Decide from what is on disk; `complete` renames <file>.new over <file> when rolling forward. */
function judge(raw: RawPair, keyName: string, file: string, sumFile: string, complete: () => void): CheckedRead {
  if (raw.sumErr !== undefined) return { status: 'damaged', reason: `cannot read ${sumFile}: ${raw.sumErr}` };
  if (raw.sum === undefined) {
    if (raw.fileErr !== undefined) return { status: 'damaged', reason: `cannot read ${file}: ${raw.fileErr}` };
    if (raw.file === undefined) return { status: 'missing' };
    return { status: 'no-sum', data: raw.file };
  }
  const sum = raw.sum.trim();
  if (raw.file !== undefined && metaChecksum(keyName, raw.file) === sum) return { status: 'ok', data: raw.file, rolledForward: false };
  if (raw.next !== undefined && metaChecksum(keyName, raw.next) === sum) {
    complete();
    return { status: 'ok', data: raw.next, rolledForward: true };
  }
  if (raw.fileErr !== undefined) return { status: 'damaged', reason: `cannot read ${file}: ${raw.fileErr}` };
  if (raw.file === undefined) return { status: 'damaged', reason: `${file} is missing but ${sumFile} is present` };
  return {
    status: 'damaged',
    reason: `${file} does not match its checksum (${sumFile} ${JSON.stringify(sum.slice(0, 32))}, ` +
      `computed ${metaChecksum(keyName, raw.file)}; ${raw.file.length} bytes)`,
  };
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

export function readCheckedFileSync(dir: string, file: string, sumFile: string, keyName: string): CheckedRead {
  const target = path.join(dir, file);
  const raw: RawPair = {};
  try {
    raw.file = fs.readFileSync(target);
  } catch (e) {
    if (!isNotFound(e)) raw.fileErr = errText(e);
  }
  try {
    raw.sum = fs.readFileSync(path.join(dir, sumFile), 'latin1');
  } catch (e) {
    if (!isNotFound(e)) raw.sumErr = errText(e);
  }
  try {
    raw.next = fs.readFileSync(`${target}.new`);
  } catch {
    // Usually absent: only there after a crash in the middle of a write.
  }
  return judge(raw, keyName, file, sumFile, () => {
    try {
      fs.renameSync(`${target}.new`, target);
      fsyncDirSync(dir);
    } catch {
      // The content verified; completing the rename is retried by the next read or write.
    }
  });
}

export async function readCheckedFile(dir: string, file: string, sumFile: string, keyName: string): Promise<CheckedRead> {
  const target = path.join(dir, file);
  const raw: RawPair = {};
  const [f, s, n] = await Promise.allSettled([
    fs.promises.readFile(target),
    fs.promises.readFile(path.join(dir, sumFile), 'latin1'),
    fs.promises.readFile(`${target}.new`),
  ]);
  if (f.status === 'fulfilled') raw.file = f.value;
  else if (!isNotFound(f.reason)) raw.fileErr = errText(f.reason);
  if (s.status === 'fulfilled') raw.sum = s.value;
  else if (!isNotFound(s.reason)) raw.sumErr = errText(s.reason);
  if (n.status === 'fulfilled') raw.next = n.value;
  let rolled = false;
  const r = judge(raw, keyName, file, sumFile, () => {
    rolled = true;
  });
  if (rolled) {
    try {
      await fs.promises.rename(`${target}.new`, target);
      await fsyncDir(dir);
    } catch {
      // See readCheckedFileSync.
    }
  }
  return r;
}
