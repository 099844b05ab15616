// Spare stream directories: the inodes of a new file stream, made ahead of time.
//
// A new file stream needs five new inodes (its directory, msgs/, meta.json, meta.inf,
// meta.sum). On an ext4 file system whose other users delete many files, allocating an
// inode costs 0.3-1.5 ms of kernel CPU (the allocator skips recently deleted inodes), so
// on the holder of a clustered create the file work was most of the create's latency
// (BENCHMARKS.md, "create5"). A spare is that skeleton, made in the background after a
// create, under a name no stream can have (stream names never contain '.'):
//   <streams>/.spare-<token>-<n>/{msgs/, meta.json, meta.inf, meta.sum (all empty)}
// A create then only writes the three files (truncate and write, no new inode) and renames
// the spare to the stream's name. The directory appears complete or not at all, so a crash
// at any point leaves either no stream or a whole one; a spare left by a crash is removed
// when the account's streams are recovered.
//
// One owner: the StoreFactory of the server, which uses spares only in clustered mode (where
// create latency is on the meta group's critical path) and stops the refills at shutdown.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterTurnOutput } from '../core/after-output.js';

const SPARE_PREFIX = '.spare-';
let instances = 0;

/** The files a spare holds, empty, so that writing them allocates no inode. */
export const SPARE_FILES = ['meta.json', 'meta.inf', 'meta.sum'] as const;

/** True for a directory entry of a streams directory that is a spare, not a stream. */
export function isSpareName(name: string): boolean {
  return name.startsWith(SPARE_PREFIX);
}

export class StreamDirSpares {
  /** Ready spares per streams directory. */
  private readonly ready = new Map<string, string[]>();
  /** Refills run one file-system call at a time, one directory after another, so they hold at
   *  most one thread-pool thread and never crowd out a create's own calls. */
  private chain: Promise<void> = Promise.resolve();
  private readonly queued = new Set<string>();
  /** Distinguishes these spares from any that an earlier process (or server in this process) left
   *  behind: pid, time and instance (no node:crypto, which a plain server loads only on first use,
   *  and /healthz imports isSpareName). */
  private readonly token = `${process.pid.toString(36)}${Date.now().toString(36)}${(instances++).toString(36)}`;
  private seq = 0;
  private stopped = false;

  constructor(
    /** Spares kept ready per streams directory. */
    private readonly size: number,
    private readonly warn: (m: string) => void,
  ) {}

  /** A ready spare of `streamsDir` (now the caller's), or undefined when none is ready. */
  take(streamsDir: string): string | undefined {
    return this.ready.get(streamsDir)?.shift();
  }

  /**
   * Make `streamsDir`'s spares up to the pool size, in the background. The first call waits for
   * this turn's output (afterTurnOutput): a create asks for the refill before it answers, and the
   * answer should not wait for a thread-pool hand-off.
   */
  refill(streamsDir: string): void {
    if (this.stopped || this.queued.has(streamsDir)) return;
    this.queued.add(streamsDir);
    this.chain = this.chain.then(() => new Promise<void>((resolve) => afterTurnOutput(resolve))).then(async () => {
      try {
        const list = this.ready.get(streamsDir) ?? [];
        this.ready.set(streamsDir, list);
        while (!this.stopped && list.length < this.size) list.push(await this.makeSpare(streamsDir));
      } catch (e) {
        // The streams directory went away, or the disk is full: creates use the plain path.
        this.warn(`JetStream: could not prepare a stream directory in ${streamsDir}: ${String(e)}`);
      } finally {
        this.queued.delete(streamsDir);
      }
    });
  }

  /** Resolves once the refills asked for so far have finished. */
  settled(): Promise<void> {
    return this.chain;
  }

  /** No more refills; resolves once the one running has finished (nothing is left writing). */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
  }

  /**
   * The entries of a streams directory without its spares; spares another process left there (a
   * crash, or a stop while they were being made) are removed on the way.
   */
  async dropStale(streamsDir: string, names: string[]): Promise<string[]> {
    const mine = `${SPARE_PREFIX}${this.token}-`;
    const stale = names.filter((n) => isSpareName(n) && !n.startsWith(mine));
    await Promise.all(stale.map((n) => fs.promises.rm(path.join(streamsDir, n), { recursive: true, force: true }).catch((e) => {
      this.warn(`JetStream: could not remove the unused stream directory ${path.join(streamsDir, n)}: ${String(e)}`);
    })));
    return names.filter((n) => !isSpareName(n));
  }

  private async makeSpare(streamsDir: string): Promise<string> {
    const dir = path.join(streamsDir, `${SPARE_PREFIX}${this.token}-${this.seq++}`);
    await fs.promises.mkdir(dir);
    await fs.promises.mkdir(path.join(dir, 'msgs'));
    for (const f of SPARE_FILES) await (await fs.promises.open(path.join(dir, f), 'w')).close();
    return dir;
  }
}

