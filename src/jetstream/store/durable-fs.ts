// The file-system steps the store's crash-safe writes are built from: write-and-fsync a
// file, fsync a directory (so a rename or a new entry survives a power loss), and the
// temp-file-then-rename write. One copy, used by the checked meta files and the consumer
// and block-index files.

import * as fs from 'node:fs';
import * as path from 'node:path';

export function fsyncDirSync(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Some platforms cannot fsync a directory; the renames are still atomic.
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // See fsyncDirSync.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** fsync an existing file by name; a file removed meanwhile (its stream deleted) is not an error. */
export async function fsyncFile(file: string): Promise<void> {
  let fh: fs.promises.FileHandle;
  try {
    fh = await fs.promises.open(file, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    await fh.sync();
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** Create or truncate `file` and write all of `data` (writeSync may write less than asked), fsync'ed if doSync. */
export function writeSyncedSync(file: string, data: Uint8Array, doSync: boolean): void {
  const fd = fs.openSync(file, 'w');
  try {
    let off = 0;
    while (off < data.length) off += fs.writeSync(fd, data, off, data.length - off);
    if (doSync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export async function writeSynced(file: string, data: Uint8Array | string, doSync: boolean): Promise<void> {
  const fh = await fs.promises.open(file, 'w');
  try {
    await fh.writeFile(data);
    if (doSync) await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Write a file atomically: temp file, fsync (optional), rename, fsync of the directory (optional). */
export async function atomicWrite(file: string, data: Buffer | string, doSync: boolean): Promise<void> {
  const tmp = `${file}.tmp`;
  await writeSynced(tmp, data, doSync);
  await fs.promises.rename(tmp, file);
  if (doSync) await fsyncDir(path.dirname(file));
}

/**
 * Create `dir` holding only `file`, durably: built under a temporary name, the file fsync'ed, the
 * directory renamed into place and its parent fsync'ed. After a crash the directory either does not
 * exist or holds the file (a marker that must be there before anything else is).
 */
export function createDirWithFileSync(dir: string, file: string, data: Uint8Array): void {
  const parent = path.dirname(dir);
  const tmp = path.join(parent, `.${path.basename(dir)}.init`);
  fs.mkdirSync(parent, { recursive: true });
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  writeSyncedSync(path.join(tmp, file), data, true);
  fsyncDirSync(tmp);
  fs.renameSync(tmp, dir);
  fsyncDirSync(parent);
}

export function atomicWriteSync(file: string, data: Buffer | string, doSync: boolean): void {
  const tmp = `${file}.tmp`;
  writeSyncedSync(tmp, typeof data === 'string' ? Buffer.from(data) : data, doSync);
  fs.renameSync(tmp, file);
  if (doSync) fsyncDirSync(path.dirname(file));
}
