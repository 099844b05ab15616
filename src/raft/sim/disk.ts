// The simulator's model of one server's disk for one group: the log with a
// synced and an unsynced part, plus the files that are written durably at
// once (term/vote, peer state, snapshot). A crash keeps exactly what was
// synced (and, sometimes, a prefix of what was written but never synced).

import type { SnapshotRecord } from '../core-types.js';
import type { AppendEntry, PeerState } from '../types.js';
import { contentHash, mix53 } from './hash.js';
import type { Prng } from './prng.js';

export interface LogRec {
  index: number;
  term: number;
  ae: AppendEntry;
  /** Chain hash of the log prefix ending here. */
  chain: number;
}

export interface SimSnapshot extends SnapshotRecord {
  /** Log chain hash at lastIndex. */
  chain: number;
}

export class SimDisk {
  /** Index covered by the snapshot (entries start at base + 1). */
  base = 0;
  baseTerm = 0;
  baseChain = 0;
  /** The log as the process sees it (page cache). */
  cur: LogRec[] = [];
  /** The log as it is on the platter: what the last completed fsync covered. */
  durable: LogRec[] = [];
  durableBase = 0;
  term = 0;
  vote = '';
  peerState?: PeerState;
  snapshot?: SimSnapshot;
  /** Sync in flight: the log it will make durable and the lowest truncation since it started. */
  syncing = false;
  private syncImage: LogRec[] = [];
  private syncBase = 0;
  syncLast = 0;
  syncMinTrunc = Infinity;
  dirty = false;
  generation = 0;
  /** Durable marker: recovery lost state and no leader has caught this server up yet. */
  lost = false;

  /** Length of the durable log prefix (for traces). */
  get stableLen(): number {
    return this.durable.length;
  }

  lastIndex(): number {
    return this.base + this.cur.length;
  }
  firstIndex(): number {
    return this.base + 1;
  }
  rec(index: number): LogRec | undefined {
    const k = index - this.base - 1;
    return k >= 0 && k < this.cur.length ? this.cur[k] : undefined;
  }
  termAt(index: number): number {
    const r = this.rec(index);
    return r ? r.term : -1;
  }
  chainAt(index: number): number | undefined {
    if (index === this.base) return this.baseChain;
    return this.rec(index)?.chain;
  }

  append(index: number, ae: AppendEntry): LogRec {
    if (index !== this.lastIndex() + 1) throw new Error(`sim disk: append at ${index} after ${this.lastIndex()}`);
    const prev = this.cur.length > 0 ? this.cur[this.cur.length - 1].chain : this.baseChain;
    const r: LogRec = { index, term: ae.term, ae, chain: mix53(prev, contentHash(ae)) };
    this.cur.push(r);
    this.dirty = true;
    return r;
  }

  truncate(lastKept: number): void {
    if (lastKept < this.base) throw new Error(`sim disk: truncate below snapshot ${lastKept} < ${this.base}`);
    const k = lastKept - this.base;
    if (k >= this.cur.length) return;
    this.cur.length = k;
    if (lastKept < this.syncMinTrunc) this.syncMinTrunc = lastKept;
    this.dirty = true;
  }

  /** Starts an fsync of the log as it is now; it becomes durable only when finishSync() runs. */
  startSync(): void {
    this.syncing = true;
    this.dirty = false;
    this.syncLast = this.lastIndex();
    this.syncMinTrunc = Infinity;
    this.syncImage = this.cur.slice();
    this.syncBase = this.base;
  }

  /** Finishes the sync; returns the index the core may treat as durable. */
  finishSync(): number {
    this.syncing = false;
    if (this.syncBase === this.base) {
      this.durable = this.syncImage;
      this.durableBase = this.syncBase;
    } else {
      // Compacted meanwhile: what the sync covered above the new base.
      this.durable = this.syncImage.slice(Math.max(0, this.base - this.syncBase));
      this.durableBase = this.base;
    }
    this.syncImage = [];
    return Math.min(this.syncLast, this.syncMinTrunc);
  }

  compact(through: number, chain: number, term: number): void {
    const k = through - this.base;
    if (k <= 0) return;
    this.cur.splice(0, Math.min(k, this.cur.length));
    const kd = through - this.durableBase;
    if (kd > 0) this.durable = this.durable.slice(Math.min(kd, this.durable.length));
    this.durableBase = Math.max(this.durableBase, through);
    this.base = through;
    this.baseTerm = term;
    this.baseChain = chain;
  }

  installSnapshot(s: SimSnapshot): void {
    this.snapshot = s;
    this.base = s.lastIndex;
    this.baseTerm = s.lastTerm;
    this.baseChain = s.chain;
    this.cur = [];
    this.durable = [];
    this.durableBase = s.lastIndex;
    this.dirty = false;
  }

  /** Corruption of the newest `k` durable records (after a crash): they are cut. Returns how many. */
  dropTail(k: number): number {
    const n = Math.min(k, this.cur.length);
    this.cur.length -= n;
    this.durable = this.cur.slice();
    return n;
  }

  /**
   * Power loss: keep the durable log; if the page cache only appended to it
   * since, maybe also a prefix of those unsynced writes (the OS may have
   * written some pages back on its own).
   */
  crash(rng: Prng): void {
    const d = this.durable;
    let extends_ = this.durableBase === this.base && this.cur.length >= d.length;
    for (let i = 0; extends_ && i < d.length; i++) if (this.cur[i] !== d[i]) extends_ = false;
    const extra = extends_ && rng.chance(0.5) ? rng.int(0, this.cur.length - d.length) : 0;
    this.cur = extends_ ? this.cur.slice(0, d.length + extra) : d.slice();
    if (this.durableBase !== this.base) {
      // The durable image predates a compaction: only what lies above the snapshot counts.
      this.cur = d.slice(Math.max(0, this.base - this.durableBase));
    }
    this.durable = this.cur.slice();
    this.durableBase = this.base;
    this.syncing = false;
    this.syncImage = [];
    this.dirty = false;
    this.generation++;
  }
}
