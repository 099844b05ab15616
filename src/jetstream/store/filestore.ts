// File-backed stream store.
//
// Layout under the store directory:
//   meta.json              store config + opaque stream metadata (store-meta.ts)
//   msgs/<id>.blk          append-only message blocks of records (record.ts)
//   msgs/<id>.idx          record index of a sealed block (block-meta.ts)
//   obs/<consumer>/        consumer meta.json + state.dat (consumer-store.ts)
//
// The whole log (blocks in id order, records in file order) is a history that
// replays into the in-memory index: MSG adds, DEL removes interior messages,
// SKIP consumes sequences, MARK sets first/last exactly (used for removals at
// the head of the stream, purge, compact and truncate). Removing a message at
// the head therefore writes nothing per message: one MARK per flush covers it.
//
// Write path: storeMsg encodes the record into an in-memory page (no I/O, no
// Promise per message). Once per event-loop turn the flush loop writes the
// pages with positional writev and, with sync policy 'always', syncs (fdatasync) once
// for everything written meanwhile (group commit), then reports the highest durable
// sequence through onDurable and resolves flush() waiters. Reads are
// synchronous: cache, then not-yet-written pages, then a positional read.
//
// Durability promise: with 'always', a sequence reported by onDurable/durableSeq
// (and everything before it, including removals) survives a process or machine
// crash. With { intervalMs }, data survives a process crash once written (end of
// the turn) and a machine crash once the next interval fsync has run.
//
// Faults (see test/integration/store-faults.test.ts):
// - A failed read (EIO, EMFILE, ...) throws ErrStoreRead and is logged; nothing is
//   removed. Open block files are bounded by an LRU (maxOpenBlocks); on EMFILE the
//   idle ones are closed and the open retried.
// - Damaged bytes found at recovery (torn tail, bad checksum, a block without its
//   index) are skipped record by record (block-scan.ts resyncs on the next good
//   record), logged with the sequences they held and reported in state().lost; a
//   torn tail is cut off the file. A damaged record found when read (a sealed block
//   whose index is trusted) is reported the same way, then removed like a delete.
// - Space: a sealed block whose live bytes fall below half its size is rewritten
//   without its dead records (block-compact.ts), crash-safely: temp file, fsync,
//   index removed, rename, directory fsync. It runs after a sync and keeps records
//   whose removal is not durable yet, so a crash never takes an acknowledged
//   message together with the unacknowledged write that replaced it. Block index
//   files likewise wait for the removals they leave out to be durable.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeName } from '../../protocol/names.js';
import { BaseStore, type RemoveKind } from './base-store.js';
import { BlockMeta, releaseLoadScratch } from './block-meta.js';
import { describeCut, lostSeqsOfCut, scanRecords, type DamagedRange } from './block-scan.js';
import { planCompaction } from './block-compact.js';
import { atomicWrite, FileConsumerStore, fsyncDir, readConsumerDirs } from './consumer-store.js';
import { writeSynced } from './durable-fs.js';
import { diskFullFault } from '../../core/disk-fault.js';
import { StoreError } from './errors.js';
import { DescriptorRetry, OpenFiles } from './open-files.js';
import {
  blockPath, closeP, fdatasyncP, fsyncP, unlinkP, writevFully, type Block, type CtlRec, type PendingPage, type QueueItem,
} from './block-file.js';
import { readStoreMeta, writeStoreMetaSync } from './store-meta.js';
import type { Chunk } from './msg-index.js';
import {
  CONTROL_LEN, encodeControl, encodeErased, encodeMsg, msgRecordLen, parseRecord, RecordView,
  REC_DEL, REC_ERASED, REC_MARK, REC_MSG, REC_SKIP,
} from './record.js';
import type {
  ConsumerStore, FileStoreOptions, NowNs, RecoveredConsumer, StoreConfig, StoredMsg,
} from './types.js';

// The meta file helpers live in store-meta.ts; importers of this module keep finding them here.
export { newStoreMetaText, prepareStoreMeta, readStoreMeta, storeMetaPath, type StoreMeta } from './store-meta.js';

const TWO32 = 0x1_0000_0000;
const DEFAULT_BLOCK_SIZE = 8 * 1024 * 1024;
const DEFAULT_CACHE_BYTES = 4 * 1024 * 1024;
const DEFAULT_SYNC_INTERVAL_MS = 120_000;
const DEFAULT_MAX_OPEN_BLOCKS = 128;
/** At most one read-failure log line per this many ms (a failing disk fails every read). */
const READ_ERROR_LOG_EVERY_MS = 1000;
const PAGE_SIZE = 256 * 1024;
const READ_AHEAD_BYTES = 64 * 1024;
const CACHE_SLOTS = 4096;
/** Messages indexed per event-loop turn when building a block index. */
const BUILD_SLICE = 8192;
/** Messages per index sweep (2 s) below which a write block does not keep its index (onIndexSweep). */
const WMETA_MIN_WRITES_PER_SWEEP = 1024;
const CACHE_MASK = CACHE_SLOTS - 1;

/** Fault-injection points for tests (a crash test kills the process at a compaction step). */
export interface FileStoreTestHooks {
  compactStep?: (step: 'start' | 'written' | 'index-removed' | 'renamed' | 'done') => void;
}

function cacheCost(m: StoredMsg): number {
  return m.data.length + (m.headers ? m.headers.length : 0) + m.subject.length + 64;
}

export class FileStore extends BaseStore {
  readonly type = 'file' as const;
  readonly ackWaitsForSync: boolean;
  private readonly dir: string;
  private readonly msgsDir: string;
  private readonly obsDir: string;
  private readonly blockSizeBytes: number;
  private readonly cacheBudget: number;
  private readonly syncAlways: boolean;
  private metadata: unknown;

  private blocks: Block[] = [];
  private blockById = new Map<number, Block>();
  private wb!: Block;
  private nextBlockId = 1;

  private page: Buffer | null = null;
  private pageUsed = 0;
  private pageBlk: Block | null = null;
  private pageOff = 0;
  private pageMaxSeq = 0;
  private pendingPages: PendingPage[] = [];
  private queue: QueueItem[] = [];
  private postSync: Array<() => Promise<void>> = [];

  private flushScheduled = false;
  private flushing = false;
  private syncRequested = false;
  private syncWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private durable = 0;
  private failed: Error | undefined;
  private markDirty = false;
  private emptyBlocks = new Set<Block>();
  /** Empty blocks kept because their tombstones are still needed. */
  private emptyKept = new Set<Block>();
  private retiredSinceCheck = false;
  private keptCheckedFirst = 0;
  private recovering = false;
  /** Index writes of sealed blocks in progress (stop() waits for them). */
  private bgTasks = new Set<Promise<void>>();
  /** Set once stop() has synced everything: the flush loop no longer runs. */
  private shutdown = false;
  private intervalTimer: NodeJS.Timeout | undefined;
  private readonly runFlushBound = (): void => {
    void this.runFlush();
  };

  private cache: Array<StoredMsg | undefined> = new Array(CACHE_SLOTS).fill(undefined);
  private cacheBytes = 0;
  private readonly cacheMaxEntry: number;
  private readonly rv = new RecordView();
  private readonly rvAhead = new RecordView();

  private consumers = new Map<string, FileConsumerStore>();
  private recovered: RecoveredConsumer[] = [];

  /** Bytes cut from damaged block tails during recovery. */
  recoveredCutBytes = 0;
  /** Damaged ranges found while scanning blocks at recovery (reported once all blocks are replayed). */
  /** Messages stored since the index's last sweep (see onIndexSweep). */
  private writesSinceSweep = 0;
  private recoveryCuts: Array<DamagedRange & { blk: Block; staleSeqs: number[] }> = [];
  /** A block file was created since the last directory fsync. */
  private dirDirty = false;
  /** Sequences removed since the current flush pass began (their removal records are not durable). */
  private removedPending = new Set<number>();
  /** Bytes given back by block compaction. */
  compactedBytes = 0;
  private readonly compactMinBytes: number;
  private readonly hooks: FileStoreTestHooks | undefined;
  /** Read failures (I/O errors) seen so far. */
  readErrors = 0;
  private readErrorLoggedAt = 0;
  private readonly openFiles: OpenFiles<Block>;
  private readonly log: (msg: string) => void;
  private beforeFirstSync: (() => Promise<void>) | undefined;
  /** Highest sequence written by a pass that a lack of descriptors cut short before its sync. */
  private writtenUnsynced = 0;
  private readonly descriptorRetry = new DescriptorRetry();

  constructor(cfg: StoreConfig, opts: FileStoreOptions & { now?: NowNs; testHooks?: FileStoreTestHooks }) {
    super({ ...cfg, storage: 'file' }, 'file', opts.now);
    this.dir = opts.dir;
    this.msgsDir = path.join(opts.dir, 'msgs');
    this.obsDir = path.join(opts.dir, 'obs');
    this.blockSizeBytes = opts.blockSizeBytes ?? DEFAULT_BLOCK_SIZE;
    this.cacheBudget = opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    this.cacheMaxEntry = this.cacheBudget / 16;
    this.compactMinBytes = opts.compactMinBytes ?? Math.min(2 * 1024 * 1024, Math.floor(this.blockSizeBytes / 4));
    this.hooks = opts.testHooks;
    this.openFiles = new OpenFiles<Block>(Math.max(2, opts.maxOpenBlocks ?? DEFAULT_MAX_OPEN_BLOCKS));
    this.log = opts.log ?? ((m) => console.warn(m));
    this.beforeFirstSync = opts.beforeFirstSync;
    const sync = opts.sync ?? { intervalMs: DEFAULT_SYNC_INTERVAL_MS };
    this.syncAlways = sync === 'always';
    this.ackWaitsForSync = this.syncAlways;
    if (opts.fresh !== undefined) {
      this.metadata = opts.fresh.metadata;
    } else {
      fs.mkdirSync(this.msgsDir, { recursive: true });
      const existing = readStoreMeta(this.dir);
      this.metadata = opts.metadata ?? existing?.metadata;
      if (!existing || opts.metadata !== undefined ||
        JSON.stringify(existing.config) !== JSON.stringify(this.cfg)) this.writeMeta();
    }

    this.recover(opts.recoveryProgress);
    this.durable = this.index.lastSeq;
    this.index.onSweep = () => this.onIndexSweep();

    if (opts.fresh === undefined) {
      for (const c of readConsumerDirs(this.obsDir)) {
        this.recovered.push({ name: c.name, config: c.config, createdMs: c.createdMs, state: c.state });
      }
    }
    if (sync !== 'always') {
      const every = Math.max(1, sync.intervalMs);
      this.intervalTimer = setInterval(() => {
        this.syncRequested = true;
        this.kick();
      }, every);
      this.intervalTimer.unref();
    }
    this.enforceAllLimits();
    this.armExpiry();
    this.kick();
  }

  private writeMeta(): void {
    writeStoreMetaSync(this.dir, this.cfg, this.metadata, this.syncAlways);
  }

  protected msgSize(subjectBytes: number, hdrLen: number, dataLen: number): number {
    // nats-server's fileStoreMsgSize.
    return hdrLen === 0 ? 30 + subjectBytes + dataLen : 34 + subjectBytes + hdrLen + dataLen;
  }

  // ---- blocks ----

  private newBlock(): Block {
    const id = this.nextBlockId++;
    const p = blockPath(this.msgsDir, id);
    const blk: Block = {
      id, path: p, idxPath: p.replace(/\.blk$/, '.idx'), size: 0, flushed: 0,
      fd: -1, busy: 0, created: false, live: 0, liveBytes: 0, compactQueued: false, noCompact: false, epoch: 0, rewrites: 0, deadOnDisk: 0, msgMin: 0, msgMax: 0, maxInfo: 0, maxInfoTs: 0n, hasMark: false, marks: false, tombs: [],
      sealed: false, removed: false, ctl: [], wmeta: new BlockMeta(16), dirty: false, appendOnly: true,
    };
    this.blocks.push(blk);
    this.blockById.set(id, blk);
    return blk;
  }

  /** The block's descriptor, opened on demand; the least recently used idle ones beyond the cap are closed. */
  private fdOf(blk: Block): number {
    if (blk.fd < 0) {
      this.openFiles.makeRoom(this.wb);
      const flags = blk.created ? 'r+' : 'w+';
      try {
        blk.fd = fs.openSync(blk.path, flags);
      } catch (e) {
        // Out of descriptors: give back every idle one and try once more.
        const code = (e as NodeJS.ErrnoException).code;
        if ((code !== 'EMFILE' && code !== 'ENFILE') || this.openFiles.closeIdle(this.wb) === 0) throw e;
        blk.fd = fs.openSync(blk.path, flags);
      }
      blk.created = true;
    }
    this.openFiles.touch(blk);
    return blk.fd;
  }

  /** After EMFILE in the flush loop: fsync the dirty blocks (their data is then durable early, which is
   *  harmless) so that they, and every idle block, can be closed. Returns how many were closed. */
  private async reclaimFds(keep: Block): Promise<number> {
    for (const b of this.blocks) {
      if (b === keep || b === this.wb || !b.dirty || b.fd < 0 || b.busy > 0) continue;
      await this.withFd(b, fdatasyncP);
      b.dirty = false;
    }
    return this.openFiles.closeIdle(this.wb);
  }

  /** Close a block's descriptor (block retired or store stopping). */
  private async closeFd(blk: Block): Promise<void> {
    if (blk.fd < 0) return;
    const fd = blk.fd;
    blk.fd = -1;
    this.openFiles.forget(blk);
    await closeP(fd);
  }

  /** Create a new block's file without blocking the event loop; the directory entry is made durable. */
  private async createFile(blk: Block): Promise<void> {
    this.openFiles.makeRoom(this.wb);
    const open = (): Promise<number> => new Promise<number>((resolve, reject) =>
      fs.open(blk.path, 'w+', (err, f) => (err ? reject(err) : resolve(f))));
    let fd: number;
    try {
      fd = await open();
    } catch (e) {
      // Out of descriptors: sync and close every other block not in use, then try once more.
      const code = (e as NodeJS.ErrnoException).code;
      if ((code !== 'EMFILE' && code !== 'ENFILE') || (await this.reclaimFds(blk)) === 0) throw e;
      fd = await open();
    }
    if (blk.created) {
      await closeP(fd);
      return;
    }
    blk.fd = fd;
    blk.created = true;
    this.openFiles.touch(blk);
    // A block file whose name is not durable vanishes with its fsynced contents in a machine crash:
    // the directory is fsynced with the pass's data, once for all files created in it.
    this.dirDirty = true;
  }

  /** Run an asynchronous operation on blk's descriptor, keeping it open meanwhile. */
  private async withFd<T>(blk: Block, fn: (fd: number) => Promise<T>): Promise<T> {
    const fd = this.fdOf(blk);
    blk.busy++;
    try {
      return await fn(fd);
    } finally {
      blk.busy--;
    }
  }

  /** Seal the write block and start a new one. */
  private rotate(): void {
    this.closePage();
    const old = this.wb;
    old.sealed = true;
    this.queue.push({ op: () => this.sealOp(old) });
    this.wb = this.newBlock();
    if (old.live === 0) this.emptyBlocks.add(old);
  }

  /** A block was sealed: write its index in the background (the flush loop does not wait for it). */
  private async sealOp(blk: Block): Promise<void> {
    const task = this.writeIndex(blk).catch(() => undefined).finally(() => this.bgTasks.delete(task));
    this.bgTasks.add(task);
  }

  private async writeIndex(blk: Block): Promise<void> {
    if (blk.removed || !blk.appendOnly || blk.ctl === null) return;
    // A compaction meanwhile changes the offsets: the index is then dropped, and in any case it
    // names the size it was built for, so a stale one never matches the file.
    const rewrites = blk.rewrites;
    const size = blk.size;
    const stale = (): boolean => blk.removed || !blk.appendOnly || blk.ctl === null || blk.rewrites !== rewrites;
    // The index may only describe bytes that are durable.
    await this.withFd(blk, fsyncP);
    const meta = await this.buildMeta(blk);
    if (!meta || stale()) return;
    // The index leaves out messages removed before it was built; their removal records must be
    // durable before the index is, or a crash would lose them with no record of their removal.
    await this.syncAll();
    if (stale()) return;
    blk.ctl = null;
    await atomicWrite(blk.idxPath, await meta.encodeAsync(size), false);
    // An erase, retirement or compaction that raced with the write makes the index stale.
    if (blk.removed || !blk.appendOnly || blk.rewrites !== rewrites) await unlinkP(blk.idxPath);
  }

  // ---- compaction ----

  private shouldCompact(blk: Block): boolean {
    return blk.sealed && !blk.removed && !blk.noCompact && blk !== this.wb && blk.live > 0 &&
      blk.size >= this.compactMinBytes && blk.liveBytes * 2 < blk.size;
  }

  /** Queue a compaction of blk when most of it is dead (nats-server: live bytes below half). It runs
   *  after the next sync, so the removals that made the block dead are durable by then. */
  private maybeCompact(blk: Block): void {
    if (blk.compactQueued || this.recovering || this.shutdown || !this.shouldCompact(blk)) return;
    blk.compactQueued = true;
    this.postSync.push(() => this.compactOp(blk));
    this.kick();
  }

  /** Rewrite blk without its dead records. Crash-safe: the new content goes to a temp file that is
   *  fsynced, the stale index is removed, the temp file is renamed over the block and the directory
   *  is fsynced. A crash at any point leaves either the old or the new block, each of which replays
   *  to the same messages (a removal whose record is not durable yet may be kept or not: it was not
   *  acknowledged). Any in-place change of the block meanwhile (erase, truncate) cancels it. */
  private async compactOp(blk: Block): Promise<void> {
    blk.compactQueued = false;
    if (!this.shouldCompact(blk)) return;
    const epoch = blk.epoch;
    const size = blk.size;
    let buf: Buffer;
    try {
      buf = await fs.promises.readFile(blk.path);
    } catch (e) {
      this.log(`file store '${this.cfg.name}': compaction of block ${blk.id} skipped, read failed: ${String(e)}`);
      return;
    }
    if (blk.epoch !== epoch || !this.shouldCompact(blk) || buf.length !== size) return;
    const ix = this.index;
    const base = blk.id * TWO32;
    // MSG ranges of the other blocks, in log order, for the tombstone check (as tombsNeeded).
    const mins: number[] = [];
    const maxs: number[] = [];
    for (const x of this.blocks) {
      if (x === blk || x.msgMin === 0 || x.deadOnDisk === 0) continue;
      mins.push(x.msgMin);
      maxs.push(x.msgMax);
    }
    const plan = planCompaction(buf, {
      // A message removed since the last sync keeps its record: its removal is not durable yet, and
      // a crash must not take it together with an acknowledged value it replaced.
      isLive: (seq, off) => {
        if (this.removedPending.has(seq)) return true;
        const c = ix.lookup(seq);
        return c !== undefined && c.loc[ix.slot] === base + off;
      },
      delNeeded: (first, count) => {
        const last = first + count - 1;
        if (last < ix.firstSeq) return false;
        const live = ix.nextLive(first);
        if (live !== 0 && live <= last) return true;
        let lo = 0;
        let hi = maxs.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (maxs[mid] < first) lo = mid + 1;
          else hi = mid;
        }
        return lo < maxs.length && mins[lo] <= last;
      },
      maxInfo: blk.maxInfo,
      maxInfoTs: blk.maxInfoTs,
    });
    if (plan && plan.buf.length >= size) return;
    if (!plan) {
      blk.noCompact = true;
      this.log(`file store '${this.cfg.name}': block ${blk.id} has a damaged record; not compacted`);
      return;
    }
    const tmp = `${blk.path}.compact`;
    this.hooks?.compactStep?.('start');
    try {
      await writeSynced(tmp, plan.buf, true);
    } catch (e) {
      await unlinkP(tmp);
      this.log(`file store '${this.cfg.name}': compaction of block ${blk.id} failed: ${String(e)}`);
      return;
    }
    this.hooks?.compactStep?.('written');
    if (blk.epoch !== epoch || blk.removed) {
      await unlinkP(tmp);
      return;
    }
    // From here to the end of the swap nothing else runs: reads see either the old block with the
    // old offsets or the new one with the new offsets.
    fs.rmSync(blk.idxPath, { force: true });
    this.hooks?.compactStep?.('index-removed');
    fs.renameSync(tmp, blk.path);
    this.hooks?.compactStep?.('renamed');
    blk.epoch++;
    blk.rewrites++;
    if (blk.fd >= 0) {
      const fd = blk.fd;
      blk.fd = -1;
      this.openFiles.forget(blk);
      fs.closeSync(fd);
    }
    let liveBytes = 0;
    blk.deadOnDisk = 0;
    for (const [seq, oldOff, newOff] of plan.moves) {
      const c = ix.lookup(seq);
      if (c === undefined || c.loc[ix.slot] !== base + oldOff) {
        blk.deadOnDisk++;
        continue;
      }
      c.loc[ix.slot] = base + newOff;
      liveBytes += c.rlen[ix.slot];
    }
    const saved = size - plan.buf.length;
    blk.liveBytes = liveBytes;
    blk.size = plan.buf.length;
    blk.flushed = plan.buf.length;
    blk.appendOnly = true;
    blk.ctl = plan.ctl;
    blk.wmeta = null;
    blk.msgMin = plan.msgMin;
    blk.msgMax = plan.msgMax;
    blk.tombs = plan.tombs;
    blk.hasMark = plan.hasMark;
    blk.marks = plan.marks;
    this.compactedBytes += saved;
    await fsyncDir(this.msgsDir);
    this.hooks?.compactStep?.('done');
    // Narrower ranges may free tombstone-only blocks elsewhere; the new content gets an index.
    this.retiredSinceCheck = true;
    this.queue.push({ op: () => this.sealOp(blk) });
  }

  /** Index of a sealed block: its live messages (from the in-memory index) and control records, in
   *  file order. Built in slices across event-loop turns; messages removed meanwhile may or may not
   *  be listed, both replay the same (their removal is logged elsewhere). */
  private async buildMeta(blk: Block): Promise<BlockMeta | undefined> {
    const ctl = blk.ctl;
    if (!ctl) return undefined;
    const wm = blk.wmeta;
    blk.wmeta = null;
    if (wm !== null && wm.n - ctl.length === blk.live) {
      // Every message appended is still live (a removal in the block makes live smaller than the
      // listed count): the index kept while writing is exactly what the walk below would build.
      this.setMetaRange(wm, blk);
      return wm;
    }
    const ix = this.index;
    const m = new BlockMeta(Math.max(16, blk.live + ctl.length));
    const base = blk.id * TWO32;
    let ci = 0;
    const addCtl = (r: CtlRec): void => m.add(r.type, r.seq, r.ts, r.value, r.off, CONTROL_LEN, 0, null);
    if (blk.msgMin > 0) {
      const visit = (c: Chunk, i: number, s: number): void => {
        const loc = c.loc[i];
        if (loc < base || loc >= base + TWO32) return;
        const off = loc - base;
        while (ci < ctl.length && ctl[ci].off < off) addCtl(ctl[ci++]);
        const ts = c.ts[i];
        m.add(REC_MSG, s, ts, this.ttlSecOf(s, ts), off, c.rlen[i], c.size[i], ix.subjectById(c.subj[i])!.subject);
      };
      // A slice per event-loop turn; no chunk is held across the turn (the index may pack it).
      for (let from = blk.msgMin; from !== 0; ) {
        from = ix.visitLive(from, blk.msgMax, BUILD_SLICE, visit);
        if (from === 0) break;
        await new Promise((r) => setImmediate(r));
        if (blk.removed || blk.ctl === null) return undefined;
      }
    }
    while (ci < ctl.length) addCtl(ctl[ci++]);
    this.setMetaRange(m, blk);
    return m;
  }

  private setMetaRange(m: BlockMeta, blk: Block): void {
    m.msgMin = blk.msgMin;
    m.msgMax = blk.msgMax;
    m.maxInfo = blk.maxInfo;
    m.maxInfoTs = blk.maxInfoTs;
  }

  /** Packing the whole index now also lets go of the write block's kept index (same purpose). */
  override packIndex(): void {
    super.packIndex();
    this.wb.wmeta = null;
  }

  /** The message index's sweep (every SWEEP_MS while chunks are unpacked): a write block's kept
   *  index is let go unless the stream is busy. A slow or idle stream then keeps no per-message
   *  columns beyond the (packed) message index, whose walk at seal it can afford; a stream written
   *  slowly but steadily would otherwise grow the kept index to a whole block's worth (~41 bytes per
   *  message against the packed index's ~4-7). */
  private onIndexSweep(): void {
    if (this.writesSinceSweep < WMETA_MIN_WRITES_PER_SWEEP && this.wb !== undefined) this.wb.wmeta = null;
    this.writesSinceSweep = 0;
  }

  /** Reserve len bytes in the write block; returns the page and the record's offset in it. */
  private reserve(len: number, seq: number): number {
    if (this.wb.size > 0 && this.wb.size + len > this.blockSizeBytes) this.rotate();
    if (this.page === null || this.pageBlk !== this.wb || this.pageUsed + len > this.page.length) {
      this.closePage();
      this.page = Buffer.allocUnsafe(Math.max(PAGE_SIZE, len));
      this.pageUsed = 0;
      this.pageBlk = this.wb;
      this.pageOff = this.wb.size;
    }
    const at = this.pageUsed;
    this.pageUsed += len;
    this.wb.size += len;
    if (seq > this.pageMaxSeq) this.pageMaxSeq = seq;
    return at;
  }

  /** Move the current page (its used part) to the write queue. */
  private closePage(): void {
    if (this.page === null || this.pageUsed === 0) return;
    const p: PendingPage = { blk: this.pageBlk!, off: this.pageOff, buf: this.page.subarray(0, this.pageUsed), maxSeq: this.pageMaxSeq };
    this.pendingPages.push(p);
    this.queue.push({ page: p });
    // Keep the unused tail as the next page when it is still worth it.
    if (this.page.length - this.pageUsed >= 16 * 1024) {
      this.page = this.page.subarray(this.pageUsed);
      this.pageOff += this.pageUsed;
    } else {
      this.page = null;
    }
    this.pageUsed = 0;
    this.pageMaxSeq = 0;
  }

  // ---- hooks from BaseStore ----

  override storeMsg(subject: string, headers: Buffer | undefined, data: Buffer, ttlSec?: number) {
    if (this.failed) throw new StoreError('ErrStoreFailed', this.failed.message);
    return super.storeMsg(subject, headers, data, ttlSec);
  }

  override storeRawMsg(subject: string, headers: Buffer | undefined, data: Buffer, seq: number, ts: bigint,
    ttlSec?: number, discardNewCheck?: boolean): void {
    if (this.failed) throw new StoreError('ErrStoreFailed', this.failed.message);
    super.storeRawMsg(subject, headers, data, seq, ts, ttlSec, discardNewCheck);
  }

  protected writeMsg(seq: number, subject: string, subjectBytes: number, hdr: Buffer | undefined, data: Buffer,
    ts: bigint, ttlSec: number, chunk: Chunk, slot: number): void {
    if (!this.cfg.allowMsgTtl) ttlSec = 0;
    const len = msgRecordLen(subjectBytes, hdr ? hdr.length : -1, data.length, ttlSec !== 0);
    const at = this.reserve(len, seq);
    const page = this.page!;
    const fileOff = this.pageOff + at;
    encodeMsg(page, at, seq, ts, subject, subjectBytes, hdr, data, ttlSec);
    const wb = this.wb;
    chunk.loc[slot] = wb.id * TWO32 + fileOff;
    chunk.rlen[slot] = len;
    // What a scan of the record would list: the record's own ttl, and the index's accounted size.
    if (wb.wmeta !== null) wb.wmeta.add(REC_MSG, seq, ts, ttlSec, fileOff, len, chunk.size[slot], subject);
    this.writesSinceSweep++;
    wb.live++;
    wb.liveBytes += len;
    if (wb.msgMin === 0) wb.msgMin = seq;
    wb.msgMax = seq;
    if (seq > wb.maxInfo) {
      wb.maxInfo = seq;
      wb.maxInfoTs = ts;
    }
    this.kick();
  }

  /** Direct-mapped read cache: slot = seq mod size. No per-entry bookkeeping beyond a byte total;
   *  when the byte budget would be exceeded the whole cache is dropped (cheap, and rare with
   *  read-ahead sized well below the budget). */
  private cachePut(m: StoredMsg): void {
    const cost = cacheCost(m);
    if (cost > this.cacheMaxEntry) return;
    const i = m.seq & CACHE_MASK;
    const old = this.cache[i];
    if (old !== undefined) this.cacheBytes -= cacheCost(old);
    if (this.cacheBytes + cost > this.cacheBudget) {
      this.cache.fill(undefined);
      this.cacheBytes = 0;
    }
    this.cache[i] = m;
    this.cacheBytes += cost;
  }

  private cacheGet(seq: number): StoredMsg | undefined {
    const m = this.cache[seq & CACHE_MASK];
    return m !== undefined && m.seq === seq ? m : undefined;
  }

  private cacheDelete(seq: number): void {
    const i = seq & CACHE_MASK;
    const m = this.cache[i];
    if (m !== undefined && m.seq === seq) {
      this.cache[i] = undefined;
      this.cacheBytes -= cacheCost(m);
    }
  }

  protected readMsg(seq: number, chunk: Chunk, slot: number): StoredMsg | undefined {
    const cached = this.cacheGet(seq);
    if (cached) return cached;
    const loc = chunk.loc[slot];
    const len = chunk.rlen[slot];
    const blk = this.blockById.get(Math.floor(loc / TWO32))!;
    const off = loc % TWO32;
    let buf: Buffer | undefined;
    let at = 0;
    if (off + len > blk.flushed) {
      if (this.pageBlk === blk && this.page && off >= this.pageOff && off + len <= this.pageOff + this.pageUsed) {
        buf = this.page;
        at = off - this.pageOff;
      } else {
        for (let i = this.pendingPages.length - 1; i >= 0; i--) {
          const p = this.pendingPages[i];
          if (p.blk === blk && off >= p.off && off + len <= p.off + p.buf.length) {
            buf = p.buf;
            at = off - p.off;
            break;
          }
        }
      }
    }
    if (!buf) {
      // Read ahead: consumers mostly walk forward, so one read fills the cache for the next records.
      const want = Math.max(len, Math.min(READ_AHEAD_BYTES, blk.flushed - off, this.cacheBudget >> 2));
      buf = Buffer.allocUnsafe(want);
      let n: number;
      try {
        n = fs.readSync(this.fdOf(blk), buf, 0, want, off);
      } catch (e) {
        // The disk or the process failed us, not the data: the message stays; the caller gets an error.
        throw this.readFailed(seq, blk, e);
      }
      // A block shorter than the index says: its bytes are gone.
      if (n < len) return this.markLost(seq, `block ${blk.id} ends before the record (${n} of ${len} bytes at offset ${off})`);
      if (n > len) this.cacheAhead(blk, buf, off, len, n);
    }
    const rv = this.rv;
    if (!parseRecord(buf, at, at + len, rv, true) || rv.type !== REC_MSG || rv.seq !== seq) {
      return this.markLost(seq, `record in block ${blk.id} at offset ${off} fails its checksum`);
    }
    const m: StoredMsg = {
      subject: this.index.subjectById(chunk.subj[slot])!.subject,
      seq,
      ts: rv.ts,
      headers: rv.hdrLen >= 0 ? buf.subarray(rv.hdrStart, rv.hdrStart + rv.hdrLen) : undefined,
      data: buf.subarray(rv.dataStart, rv.dataStart + rv.dataLen),
    };
    this.cachePut(m);
    return m;
  }

  /** Cache the live messages found in buf[start, end) read from blk (after the one asked for). */
  private cacheAhead(blk: Block, buf: Buffer, fileOff: number, start: number, end: number): void {
    const rv = this.rvAhead;
    const ix = this.index;
    const base = blk.id * TWO32 + fileOff;
    let off = start;
    while (off < end && parseRecord(buf, off, end, rv, true)) {
      if (rv.type === REC_MSG && this.cacheGet(rv.seq) === undefined) {
        const c = ix.lookup(rv.seq);
        if (c && c.loc[ix.slot] === base + off) {
          this.cachePut({
            subject: ix.subjectById(c.subj[ix.slot])!.subject,
            seq: rv.seq,
            ts: rv.ts,
            headers: rv.hdrLen >= 0 ? buf.subarray(rv.hdrStart, rv.hdrStart + rv.hdrLen) : undefined,
            data: buf.subarray(rv.dataStart, rv.dataStart + rv.dataLen),
          });
        }
      }
      off += rv.len;
    }
  }

  /** A message whose bytes are damaged on disk (checksum, short block): report it in state().lost
   *  and the log, and drop it from the index. Its removal is recorded like a delete so the stream's
   *  counts stay true after a restart; the report is what tells it apart from a delete. */
  private markLost(seq: number, why: string): undefined {
    const size = this.index.sizeOf(seq);
    this.lost.add([seq], size);
    this.log(`file store '${this.cfg.name}': message ${seq} lost: ${why}`);
    this.removeInternal(seq, 'single');
    return undefined;
  }

  private readFailed(seq: number, blk: Block, e: unknown): StoreError {
    const msg = e instanceof Error ? e.message : String(e);
    this.readErrors++;
    const now = Date.now();
    if (now - this.readErrorLoggedAt >= READ_ERROR_LOG_EVERY_MS) {
      this.readErrorLoggedAt = now;
      this.log(`file store '${this.cfg.name}': reading message ${seq} from block ${blk.id} failed ` +
        `(${this.readErrors} read errors so far; nothing is removed): ${msg}`);
    }
    return new StoreError('ErrStoreRead', `message ${seq}: ${msg}`);
  }

  private blockOf(chunk: Chunk, slot: number): Block {
    return this.blockById.get(Math.floor(chunk.loc[slot] / TWO32))!;
  }

  protected beforeRemove(seq: number, chunk: Chunk, slot: number, kind: RemoveKind): void {
    const blk = this.blockOf(chunk, slot);
    blk.live--;
    blk.liveBytes -= chunk.rlen[slot];
    blk.deadOnDisk++;
    if (blk.live === 0 && blk !== this.wb) this.emptyBlocks.add(blk);
    this.cacheDelete(seq);
    if (this.recovering) return;
    this.removedPending.add(seq);
    if (kind === 'erase') this.eraseRecord(blk, chunk.loc[slot] % TWO32, chunk.rlen[slot], seq, chunk.ts[slot]);
    if (blk.live > 0) this.maybeCompact(blk);
    if (seq === this.index.firstSeq) {
      // Head removals are covered by the MARK written at the next flush.
      this.markDirty = true;
    } else if (kind !== 'bulk') {
      this.appendControl(REC_DEL, seq, 0n, 1);
    }
    this.kick();
  }

  private eraseRecord(blk: Block, off: number, len: number, seq: number, ts: bigint): void {
    const rec = encodeErased(len, seq, ts);
    if (this.pageBlk === blk && this.page && off >= this.pageOff && off + len <= this.pageOff + this.pageUsed) {
      rec.copy(this.page, off - this.pageOff);
      return;
    }
    const sealed = blk.sealed;
    blk.appendOnly = false;
    blk.epoch++;
    const rewrites = blk.rewrites;
    this.queue.push({
      op: async () => {
        // A compaction since dropped the record (the message was already out of the index).
        if (blk.removed || blk.rewrites !== rewrites) return;
        await this.withFd(blk, (fd) => writevFully(fd, [rec], off));
        blk.dirty = true;
        if (sealed) await unlinkP(blk.idxPath);
      },
    });
  }

  private appendControl(type: number, seq: number, ts: bigint, value: number): void {
    const at = this.reserve(CONTROL_LEN, 0);
    const fileOff = this.pageOff + at;
    encodeControl(this.page!, at, type, seq, ts, value);
    const wb = this.wb;
    if (type === REC_DEL) wb.tombs.push(seq, value);
    else {
      wb.hasMark = true;
      if (type === REC_MARK) wb.marks = true;
      const info = type === REC_SKIP ? seq + value - 1 : value;
      if (info > wb.maxInfo) {
        wb.maxInfo = info;
        wb.maxInfoTs = ts;
      }
    }
    wb.ctl?.push({ type, seq, ts, value, off: fileOff });
    if (wb.wmeta !== null) wb.wmeta.add(type, seq, ts, value, fileOff, CONTROL_LEN, 0, null);
  }

  private appendMark(): void {
    this.markDirty = false;
    const ix = this.index;
    this.appendControl(REC_MARK, ix.firstSeq, ix.lastTs, ix.lastSeq);
  }

  protected writeSkip(first: number, num: number, ts: bigint): void {
    if (this.failed) throw new StoreError('ErrStoreFailed', this.failed.message);
    this.appendControl(REC_SKIP, first, ts, num);
    this.kick();
  }

  protected afterBulkRemove(): void {
    // A write block left with only dead records is retired so its space can be reclaimed.
    if (this.wb.live === 0 && this.wb.size > 0) this.rotate();
    this.appendMark();
    this.kick();
  }

  protected afterTruncate(seq: number): void {
    this.closePage();
    const k = this.blocks.findIndex((b) => b.maxInfo > seq);
    if (k < 0) {
      this.appendMark();
      this.kick();
      return;
    }
    const cut = this.blocks[k];
    const later = this.blocks.slice(k + 1);
    const oldWb = this.wb;
    this.wb = this.newBlock();
    if (oldWb !== cut && !later.includes(oldWb)) {
      oldWb.sealed = true;
      this.queue.push({ op: () => this.sealOp(oldWb) });
    }
    // Compensation first (durable before anything is cut): exact first/last and every interior delete.
    this.appendMark();
    for (const [first, n] of this.index.deletedRuns()) this.appendControl(REC_DEL, first, 0n, n);
    this.closePage();

    // Tombstones above seq are history that was cut away; never re-home them.
    for (const b of this.blocks) {
      if (b.tombs.length === 0) continue;
      const kept: number[] = [];
      for (let i = 0; i < b.tombs.length; i += 2) {
        const s = b.tombs[i];
        if (s > seq) continue;
        kept.push(s, Math.min(b.tombs[i + 1], seq - s + 1));
      }
      b.tombs = kept;
    }
    cut.sealed = true;
    cut.epoch++;
    cut.noCompact = true;
    cut.ctl = null;
    cut.wmeta = null;
    cut.maxInfo = Math.min(cut.maxInfo, seq);
    if (cut.msgMin > seq) cut.msgMin = cut.msgMax = 0;
    else cut.msgMax = Math.min(cut.msgMax, seq);
    this.postSync.push(() => this.cutBlockOp(cut, seq));
    for (const b of later) {
      if (b === this.wb) continue;
      this.retireBlock(b);
    }
    if (cut.live === 0) this.emptyBlocks.add(cut);
    this.kick();
  }

  /** Cut a block file at its first record speaking for a sequence above seq. */
  private async cutBlockOp(blk: Block, seq: number): Promise<void> {
    if (blk.removed) return;
    const buf = await fs.promises.readFile(blk.path);
    const rv = new RecordView();
    let off = 0;
    while (off < buf.length && parseRecord(buf, off, buf.length, rv, false)) {
      const info = rv.type === REC_MSG ? rv.seq : rv.type === REC_SKIP ? rv.seq + rv.value - 1 : rv.type === REC_MARK ? rv.value : 0;
      if (info > seq) break;
      off += rv.len;
    }
    await this.withFd(blk, async (fd) => {
      await new Promise<void>((resolve, reject) => fs.ftruncate(fd, off, (e) => (e ? reject(e) : resolve())));
      await fsyncP(fd);
    });
    await unlinkP(blk.idxPath);
    blk.size = off;
    blk.flushed = off;
  }

  /** Forget a block in memory and delete its files after the next sync. */
  private retireBlock(b: Block): void {
    if (b.removed) return;
    b.removed = true;
    this.blockById.delete(b.id);
    const i = this.blocks.indexOf(b);
    if (i >= 0) this.blocks.splice(i, 1);
    this.emptyBlocks.delete(b);
    this.emptyKept.delete(b);
    this.postSync.push(async () => {
      await this.closeFd(b);
      await unlinkP(b.path);
      await unlinkP(b.idxPath);
    });
  }

  /** Retire blocks without live messages. A block still carrying tombstones for messages in another
   *  block is kept (re-writing them elsewhere could ping-pong forever); it is looked at again when
   *  another block goes away or the first sequence moves. When a retired block may have carried the
   *  stream's first/last (MARK/SKIP records, or the highest sequence), a fresh MARK records them. */
  private processEmptyBlocks(): void {
    const recheck = this.emptyKept.size > 0 && (this.retiredSinceCheck || this.index.firstSeq !== this.keptCheckedFirst);
    if (this.emptyBlocks.size === 0 && !recheck) return;
    const candidates = new Set<Block>(this.emptyBlocks);
    if (recheck) for (const b of this.emptyKept) candidates.add(b);
    this.emptyBlocks.clear();
    this.retiredSinceCheck = false;
    this.keptCheckedFirst = this.index.firstSeq;
    let needMark = false;
    for (const b of [...candidates].sort((x, y) => x.id - y.id)) {
      if (b.live !== 0 || b === this.wb || b.removed) {
        this.emptyKept.delete(b);
        continue;
      }
      if (this.tombsNeeded(b)) {
        this.emptyKept.add(b);
        continue;
      }
      this.emptyKept.delete(b);
      let carriesState = b.hasMark;
      if (!carriesState) {
        let maxOther = 0;
        for (const x of this.blocks) if (x !== b && x.maxInfo > maxOther) maxOther = x.maxInfo;
        carriesState = b.maxInfo >= maxOther;
      }
      this.retireBlock(b);
      this.retiredSinceCheck = true;
      // Only a later MARK says what the retired one said about the first sequence; a SKIP does not.
      if (carriesState && !this.blocks.some((x) => x.id > b.id && x.marks)) needMark = true;
    }
    if (needMark) this.appendMark();
  }

  /** Does block b hold a DEL for a message that another remaining block still contains? */
  private tombsNeeded(b: Block): boolean {
    if (b.tombs.length === 0) return false;
    // MSG ranges of the other blocks, ascending (blocks are in log order and sequences only grow
    // along the log); blocks without MSG records are left out so the search is monotonic.
    const mins: number[] = [];
    const maxs: number[] = [];
    for (const x of this.blocks) {
      if (x === b || x.msgMin === 0 || x.deadOnDisk === 0) continue;
      mins.push(x.msgMin);
      maxs.push(x.msgMax);
    }
    if (mins.length === 0) return false;
    const first = this.index.firstSeq;
    for (let i = 0; i < b.tombs.length; i += 2) {
      let s = b.tombs[i];
      const e = s + b.tombs[i + 1] - 1;
      if (e < first) continue;
      if (s < first) s = first;
      // First range with max >= s; it holds part of [s, e] when its min <= e.
      let lo = 0;
      let hi = maxs.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (maxs[mid] < s) lo = mid + 1;
        else hi = mid;
      }
      if (lo < maxs.length && mins[lo] <= e) return true;
    }
    return false;
  }

  // ---- flush loop (group commit) ----

  private kick(): void {
    if (this.flushScheduled || this.flushing) return;
    this.flushScheduled = true;
    setImmediate(this.runFlushBound);
  }

  private hasWork(): boolean {
    return this.queue.length > 0 || this.pageUsed > 0 || this.syncWaiters.length > 0 || this.syncRequested ||
      this.markDirty || this.emptyBlocks.size > 0 || this.postSync.length > 0 ||
      (this.emptyKept.size > 0 && (this.retiredSinceCheck || this.index.firstSeq !== this.keptCheckedFirst));
  }

  private async runFlush(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushing || this.shutdown) return;
    this.flushing = true;
    // Waiters taken by the pass in progress: a failure must reach them too.
    let inPass: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
    // Where a pass stands, so that a pass cut short by a lack of descriptors can be taken up again.
    let items: QueueItem[] = [];
    let at = 0;
    let post: Array<() => Promise<void>> = [];
    let pre: (() => Promise<void>) | undefined;
    let stage: 'write' | 'op' | 'sync' | 'post' = 'write';
    try {
      while (this.hasWork()) {
        if (this.failed) throw this.failed;
        stage = 'write';
        if (this.markDirty) this.appendMark();
        this.processEmptyBlocks();
        this.closePage();
        items = this.queue;
        this.queue = [];
        post = this.postSync;
        this.postSync = [];
        // Removals up to here are in `items` (or a MARK above) and durable once this pass has synced.
        if (this.removedPending.size > 0) this.removedPending = new Set();
        const waiters = this.syncWaiters;
        this.syncWaiters = [];
        inPass = waiters;
        const doSync = this.syncAlways || waiters.length > 0 || this.syncRequested || post.length > 0;
        this.syncRequested = false;
        let maxSeq = this.writtenUnsynced;
        for (let i = 0; i < items.length; i++) {
          at = i;
          const it = items[i];
          if ('op' in it) {
            stage = 'op';
            await it.op();
            stage = 'write';
            continue;
          }
          // Coalesce contiguous pages of one block into one writev.
          const first = it.page;
          const bufs = [first.buf];
          let end = first.off + first.buf.length;
          let mx = first.maxSeq;
          while (i + 1 < items.length) {
            const nx = items[i + 1];
            if (!('page' in nx) || nx.page.blk !== first.blk || nx.page.off !== end) break;
            bufs.push(nx.page.buf);
            end += nx.page.buf.length;
            if (nx.page.maxSeq > mx) mx = nx.page.maxSeq;
            i++;
          }
          if (!first.blk.removed) {
            diskFullFault(this.dir);
            if (!first.blk.created) await this.createFile(first.blk);
            await this.withFd(first.blk, (fd) => writevFully(fd, bufs, first.off));
            first.blk.dirty = true;
          }
          first.blk.flushed = end;
          this.pendingPages.splice(0, bufs.length);
          if (mx > maxSeq) maxSeq = mx;
          this.writtenUnsynced = maxSeq;
        }
        at = items.length;
        stage = 'sync';
        if (doSync) {
          // The store's own files first: nothing below is durable if its directory can vanish.
          pre = this.beforeFirstSync;
          this.beforeFirstSync = undefined;
          if (pre) await pre();
          pre = undefined;
          for (const b of this.blocks) {
            if (b.dirty && !b.removed) {
              await this.withFd(b, fdatasyncP);
              b.dirty = false;
            }
          }
          if (this.dirDirty) {
            await fsyncDir(this.msgsDir);
            this.dirDirty = false;
          }
          // Blocks kept open only because they were dirty may be closed now.
          this.openFiles.makeRoom(this.wb, 0);
        }
        stage = 'post';
        for (const op of post) await op();
        this.writtenUnsynced = 0;
        this.descriptorRetry.succeeded();
        if (maxSeq > this.durable) this.durable = maxSeq;
        if (this.syncAlways && maxSeq > 0 && this.durableCb) this.durableCb(this.durable);
        for (const w of waiters) w.resolve();
      }
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      if ((stage === 'write' || stage === 'sync') && !this.closed && this.descriptorRetry.transient(err)) {
        // Out of file descriptors (a low open-files limit): nothing was half written (the open
        // failed, and writes are positional), so the pass is taken up again later where it stopped
        // and its waiters keep waiting, instead of failing the store until the server restarts.
        // Pages written in this pass stay dirty and are synced by the next one.
        this.queue = items.slice(at).concat(this.queue);
        this.postSync = post.concat(this.postSync);
        this.syncWaiters = inPass.concat(this.syncWaiters);
        if (pre) this.beforeFirstSync = pre;
        this.syncRequested = true;
        this.flushing = false;
        this.flushScheduled = true;
        this.descriptorRetry.schedule(this.runFlushBound, err, this.log);
        return;
      }
      this.failed = err;
      const waiters = [...inPass, ...this.syncWaiters];
      inPass = [];
      this.syncWaiters = [];
      for (const w of waiters) w.reject(err);
      this.durableCb?.(this.durable, err);
    } finally {
      this.flushing = false;
    }
  }

  durableSeq(): number {
    return this.syncAlways ? this.durable : this.index.lastSeq;
  }

  flush(): Promise<void> {
    if (this.closed) return this.failed ? Promise.reject(this.failed) : Promise.resolve();
    return this.syncAll();
  }

  private syncAll(): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    // Stopped: everything was written and synced, and nothing can be added any more.
    if (this.shutdown) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.syncWaiters.push({ resolve, reject });
      this.kick();
    });
  }

  // ---- recovery ----

  private recover(progress?: (done: number, total: number) => void): void {
    this.recovering = true;
    // A compaction interrupted before its rename leaves its temp file; the block itself is intact.
    for (const f of fs.readdirSync(this.msgsDir)) {
      if (f.endsWith('.blk.compact')) fs.rmSync(path.join(this.msgsDir, f), { force: true });
    }
    const ids = fs.readdirSync(this.msgsDir)
      .filter((f) => /^\d+\.blk$/.test(f))
      .map((f) => Number(f.slice(0, -4)))
      .sort((a, b) => a - b);
    for (const [i, id] of ids.entries()) {
      progress?.(i, ids.length);
      const p = blockPath(this.msgsDir, id);
      const size = fs.statSync(p).size;
      const blk: Block = {
        id, path: p, idxPath: p.replace(/\.blk$/, '.idx'), size, flushed: size, fd: -1, busy: 0, created: true, live: 0, liveBytes: 0, compactQueued: false, noCompact: false, epoch: 0, rewrites: 0, deadOnDisk: 0,
        msgMin: 0, msgMax: 0, maxInfo: 0, maxInfoTs: 0n, hasMark: false, marks: false, tombs: [], sealed: false, removed: false, ctl: null,
        wmeta: null, dirty: false, appendOnly: true,
      };
      this.blocks.push(blk);
      this.blockById.set(id, blk);
      this.nextBlockId = id + 1;
      // A sealed block's index is trusted when it describes a file of exactly this size. Payloads
      // are not read here: every record's crc is checked when it is read, and a damaged record is
      // then reported lost. Blocks without a usable index are scanned and verified record by record.
      const meta = BlockMeta.load(blk.idxPath, size, true);
      if (meta) {
        blk.sealed = true;
        this.replayMeta(blk, meta);
        if (id === ids[ids.length - 1] && size < this.blockSizeBytes) {
          // The write block of a clean shutdown: keep writing to it. Its index goes (appends and
          // in-place erases would make it stale) and is rebuilt when the block is sealed.
          blk.sealed = false;
          blk.ctl = [];
          for (let i = 0; i < meta.n; i++) {
            const t = meta.type[i];
            if (t !== REC_MSG && t !== REC_ERASED) blk.ctl.push({ type: t, seq: meta.seq[i], ts: meta.ts[i], value: meta.aux[i], off: meta.off[i] });
          }
          fs.rmSync(blk.idxPath, { force: true });
        }
      } else {
        // An index that no longer matches (the block was cut or torn after it was written) still
        // says which sequences the block held: it bounds what a damaged tail lost.
        const stale = BlockMeta.load(blk.idxPath, undefined, true);
        const staleSeqs: number[] = [];
        if (stale) for (let i = 0; i < stale.n; i++) if (stale.type[i] === REC_MSG) staleSeqs.push(stale.seq[i]);
        this.scanBlock(blk, fs.readFileSync(p), staleSeqs);
      }
      // Pack the index of what is replayed so far: a restart then never holds the whole stream's
      // index unpacked (later blocks unpack what their deletes touch; the sweep packs it again).
      this.index.packAll();
    }
    releaseLoadScratch();
    // Older unsealed blocks (no valid .idx) get one now; the last one keeps taking writes if it has room.
    const last = this.blocks[this.blocks.length - 1];
    for (const b of this.blocks) {
      if (b === last || b.sealed) continue;
      b.sealed = true;
      this.queue.push({ op: () => this.sealOp(b) });
    }
    if (last && !last.sealed && last.size < this.blockSizeBytes) {
      this.wb = last;
      this.fdOf(last);
    } else {
      this.wb = this.newBlock();
    }
    for (const b of this.blocks) if (b.live === 0 && b !== this.wb) this.emptyBlocks.add(b);
    this.reportRecoveryCuts();
    this.recovering = false;
    // Blocks left mostly dead by an earlier run (or one without compaction) are compacted now.
    for (const b of this.blocks) this.maybeCompact(b);
  }

  private replayMeta(blk: Block, m: BlockMeta): void {
    const subjects = m.subjects;
    for (let i = 0; i < m.n; i++) {
      const type = m.type[i];
      if (type === REC_MSG) {
        this.applyMsg(blk, m.seq[i], m.ts[i], subjects[m.subj[i]], m.size[i], m.off[i], m.len[i], m.aux[i]);
      } else if (type !== REC_ERASED) {
        this.applyControl(blk, type, m.seq[i], m.ts[i], m.aux[i]);
      }
    }
    // Messages deleted before the seal are not listed: the header keeps what they spoke for.
    blk.msgMin = m.msgMin;
    blk.msgMax = m.msgMax;
    let listed = 0;
    for (let i = 0; i < m.n; i++) if (m.type[i] === REC_MSG) listed++;
    // Unlisted sequences of the range may be dead records on disk (or skips: counted to be safe).
    if (m.msgMin > 0) blk.deadOnDisk += Math.max(0, m.msgMax - m.msgMin + 1 - listed);
    if (m.maxInfo > blk.maxInfo) {
      blk.maxInfo = m.maxInfo;
      blk.maxInfoTs = m.maxInfoTs;
    }
    if (m.maxInfo > this.index.lastSeq) this.index.skipTo(m.maxInfo, m.maxInfoTs);
  }

  /** Scan a block without a usable index, record by record. A damaged record is skipped (the scan
   *  resyncs on the next good one) and noted as a cut; a damaged tail is cut off the file. */
  private scanBlock(blk: Block, buf: Buffer, staleSeqs: number[]): void {
    const rv = this.rv;
    const ctl: CtlRec[] = [];
    const damaged = scanRecords(buf, rv, this.index.lastSeq, (off) => {
      // Records replay ignores (sequence already passed) and erased ones are dead on disk.
      if ((rv.type === REC_MSG && rv.seq <= this.index.lastSeq) || rv.type === REC_ERASED) blk.deadOnDisk++;
      if (rv.type === REC_MSG) {
        const subject = decodeName(buf, rv.subjStart, rv.subjStart + rv.subjLen);
        const size = this.msgSize(rv.subjLen, rv.hdrLen > 0 ? rv.hdrLen : 0, rv.dataLen);
        this.applyMsg(blk, rv.seq, rv.ts, subject, size, off, rv.len, rv.ttlSec);
      } else if (rv.type === REC_ERASED) {
        // The message is gone but its sequence was used.
        if (rv.seq > blk.maxInfo) {
          blk.maxInfo = rv.seq;
          blk.maxInfoTs = rv.ts;
        }
        if (rv.seq > this.index.lastSeq) this.index.skipTo(rv.seq, rv.ts);
      } else {
        this.applyControl(blk, rv.type, rv.seq, rv.ts, rv.value);
        ctl.push({ type: rv.type, seq: rv.seq, ts: rv.ts, value: rv.value, off });
      }
    });
    let size = buf.length;
    for (const d of damaged) {
      this.recoveryCuts.push({ blk, ...d, staleSeqs: d.end === buf.length ? staleSeqs : [] });
      if (d.end === buf.length) size = d.start;
    }
    if (size < buf.length) {
      // Torn or corrupt tail: keep everything before it, cut the rest off the file so appends
      // continue from a good record.
      this.recoveredCutBytes += buf.length - size;
      fs.truncateSync(blk.path, size);
      blk.size = size;
      blk.flushed = size;
      fs.rmSync(blk.idxPath, { force: true });
    }
    blk.ctl = ctl;
  }

  /** After every block is replayed: work out which sequences each recovery cut lost, log the cut and
   *  report them in state().lost. A sequence counts as lost when the damaged bytes must have held it
   *  and nothing later in the log removed it (a head MARK or a delete tombstone). */
  private reportRecoveryCuts(): void {
    const cuts = this.recoveryCuts;
    this.recoveryCuts = [];
    if (cuts.length === 0) return;
    const ix = this.index;
    const tombs: Array<[number, number]> = [];
    for (const b of this.blocks) for (let i = 0; i < b.tombs.length; i += 2) tombs.push([b.tombs[i], b.tombs[i] + b.tombs[i + 1] - 1]);
    const gone = (s: number): boolean => s < ix.firstSeq || ix.has(s) || tombs.some(([a, z]) => s >= a && s <= z);
    for (const c of cuts) {
      // A tail: the next block (if any) starts after the sequences it held.
      const i = this.blocks.indexOf(c.blk);
      const nxt = this.blocks.slice(i + 1).find((b) => b.msgMin > 0 || b.maxInfo > 0);
      const nextFirst = nxt ? (nxt.msgMin > 0 ? nxt.msgMin : nxt.maxInfo) : 0;
      const seqs = lostSeqsOfCut(c, c.staleSeqs, nextFirst, gone);
      this.lost.add(seqs, c.end - c.start);
      this.log(`file store '${this.cfg.name}': ${describeCut(c.blk.id, c, seqs)}`);
    }
  }

  private applyMsg(blk: Block, seq: number, ts: bigint, subject: string, size: number, off: number, len: number, ttl: number): void {
    const ix = this.index;
    if (seq <= ix.lastSeq) return;
    const c = ix.add(seq, subject, ts, size);
    c.loc[ix.slot] = blk.id * TWO32 + off;
    c.rlen[ix.slot] = len;
    blk.live++;
    blk.liveBytes += len;
    if (blk.msgMin === 0) blk.msgMin = seq;
    blk.msgMax = seq;
    if (seq > blk.maxInfo) {
      blk.maxInfo = seq;
      blk.maxInfoTs = ts;
    }
    this.recoverTtl(seq, ts, ttl);
  }

  private applyControl(blk: Block, type: number, seq: number, ts: bigint, value: number): void {
    const ix = this.index;
    if (type !== REC_DEL) blk.hasMark = true;
    if (type === REC_MARK) blk.marks = true;
    if (type === REC_DEL) {
      blk.tombs.push(seq, value);
      if (value === 1) this.removeInternal(seq, 'bulk', false);
      else ix.forEachLive(seq, seq + value - 1, (s) => void this.removeInternal(s, 'bulk', false));
    } else if (type === REC_SKIP) {
      const end = seq + value - 1;
      if (end > blk.maxInfo) {
        blk.maxInfo = end;
        blk.maxInfoTs = ts;
      }
      ix.skipTo(end, ts);
    } else if (type === REC_MARK) {
      const first = seq;
      const last = value;
      if (last > blk.maxInfo) {
        blk.maxInfo = last;
        blk.maxInfoTs = ts;
      }
      ix.forEachLive(ix.firstSeq, first - 1, (s) => void this.removeInternal(s, 'bulk', false));
      if (last < ix.lastSeq) {
        ix.forEachLive(last + 1, ix.lastSeq, (s) => void this.removeInternal(s, 'bulk', false));
        ix.setLast(last, ts);
      } else if (last > ix.lastSeq) {
        ix.skipTo(last, ts);
      }
      if (ix.msgs === 0) ix.reset(first, Math.max(last, first - 1));
    }
  }

  // ---- consumers ----

  private consumerDir(name: string): string {
    return path.join(this.obsDir, encodeURIComponent(name));
  }

  consumerStore(name: string, cfg: unknown, createdMs: number): ConsumerStore {
    this.checkOpen();
    const existing = this.consumers.get(name);
    if (existing) {
      existing.updateConfig(cfg);
      return existing;
    }
    // A recovered state is handed over once: after that the live store owns it, and a consumer
    // deleted and created again under the same name must start empty.
    const recIdx = this.recovered.findIndex((r) => r.name === name);
    const rec = recIdx >= 0 ? this.recovered.splice(recIdx, 1)[0] : undefined;
    const cs = new FileConsumerStore(name, cfg, rec?.createdMs ?? createdMs, this.consumerDir(name), this.syncAlways,
      (n) => this.consumers.delete(n), rec?.state);
    this.consumers.set(name, cs);
    return cs;
  }

  recoveredConsumers(): RecoveredConsumer[] {
    return this.recovered.map((r) => ({ ...r }));
  }

  protected consumersForSnapshot(): Array<{ name: string; store: ConsumerStore; createdMs: number }> {
    return [...this.consumers.values()].map((c) => ({ name: c.name, store: c, createdMs: c.createdMs }));
  }

  // ---- config and lifecycle ----

  override updateConfig(cfg: StoreConfig, metadata?: unknown): void {
    super.updateConfig({ ...cfg, storage: 'file' });
    if (metadata !== undefined) this.metadata = metadata;
    this.writeMeta();
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    // New operations are refused from here on; what is queued is still written and synced.
    this.closed = true;
    this.stopExpiry();
    if (this.intervalTimer) clearInterval(this.intervalTimer);
    for (const c of [...this.consumers.values()]) await c.stop();
    let err: unknown;
    try {
      await this.syncAll();
    } catch (e) {
      err = e;
    }
    this.shutdown = true;
    while (this.flushing) await new Promise((r) => setImmediate(r));
    while (this.bgTasks.size > 0) await Promise.all([...this.bgTasks]);
    // Index the write block too, so a clean restart reads no block data at all.
    const wb = this.wb;
    if (!err && !this.failed && wb.size > 0 && wb.appendOnly && wb.ctl && !wb.removed) {
      const meta = await this.buildMeta(wb);
      if (meta) await atomicWrite(wb.idxPath, meta.encode(wb.size), this.syncAlways).catch(() => undefined);
    }
    for (const b of this.blocks) await this.closeFd(b);
    this.cache.fill(undefined);
    this.cacheBytes = 0;
    if (err) throw err;
  }

  async delete(): Promise<void> {
    try {
      await this.stop();
    } catch {
      // Deleting anyway.
    }
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}
