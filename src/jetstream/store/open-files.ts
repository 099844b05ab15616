// Bounded set of open block file descriptors (least recently used first).
//
// A large stream has thousands of blocks; keeping one descriptor per block open
// would exhaust the process's open-files limit, and then every read fails. The
// file store opens a block on demand and this LRU closes the least recently used
// idle ones beyond the cap. A block is never closed while an asynchronous write,
// fsync or truncate uses its descriptor (busy), while it has unsynced writes
// (dirty: its fsync must go through the descriptor the writes went through, so a
// write-back error is not missed), or when it is the write block.

import * as fs from 'node:fs';

export interface FdHolder {
  fd: number;
  busy: number;
  dirty: boolean;
}

export class OpenFiles<T extends FdHolder> {
  private readonly lru = new Set<T>();

  constructor(private readonly max: number) {}

  get size(): number {
    return this.lru.size;
  }

  /** Mark b as just used (b.fd must be open). */
  touch(b: T): void {
    if (this.lru.has(b)) this.lru.delete(b);
    this.lru.add(b);
  }

  /** Forget b (its fd is being closed by the caller). */
  forget(b: T): void {
    this.lru.delete(b);
  }

  /** Close idle descriptors until fewer than `max - reserve` remain open (keep is never closed). */
  makeRoom(keep: T | undefined, reserve = 1): void {
    if (this.lru.size + reserve <= this.max) return;
    for (const b of this.lru) {
      if (this.lru.size + reserve <= this.max) return;
      if (b === keep || b.busy > 0 || b.dirty || b.fd < 0) continue;
      this.close(b);
    }
  }

  /** Close every idle descriptor (after EMFILE/ENFILE, to give the process room). */
  closeIdle(keep: T | undefined): number {
    let n = 0;
    for (const b of [...this.lru]) {
      if (b === keep || b.busy > 0 || b.dirty || b.fd < 0) continue;
      this.close(b);
      n++;
    }
    return n;
  }

  private close(b: T): void {
    const fd = b.fd;
    b.fd = -1;
    this.lru.delete(b);
    try {
      fs.closeSync(fd);
    } catch {
      // Closing an idle read descriptor cannot lose data.
    }
  }
}

/**
 * A flush pass that failed to open a file for lack of descriptors (EMFILE, ENFILE: a low
 * open-files limit, or a burst of other work) is tried again after a growing pause, instead of
 * failing the store for good: once descriptors are free again the stream works again without a
 * restart, as nats-server's does. Nothing is lost meanwhile; writers waiting for durability keep
 * waiting.
 */
export class DescriptorRetry {
  private failures = 0;
  private loggedAt = 0;

  transient(err: Error): boolean {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE';
  }

  schedule(run: () => void, err: Error, log: (msg: string) => void): void {
    const delay = Math.min(2_000, 50 * 2 ** Math.min(this.failures, 6));
    this.failures++;
    const now = Date.now();
    if (this.failures === 1 || now - this.loggedAt >= 30_000) {
      this.loggedAt = now;
      log(`store write waits for file descriptors (retrying every ${delay} ms or less): ${err.message}`);
    }
    setTimeout(run, delay);
  }

  succeeded(): void {
    this.failures = 0;
  }
}
