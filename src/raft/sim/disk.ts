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
  cur: LogRec[] = [];
  /** cur[0..stableLen) is identical to the durable log ... */
  stableLen = 0;
  /** ... which continues with these entries (truncated in cur, truncation not yet durable). */
  durTail: LogRec[] = [];
  term = 0;
  vote = '';
  peerState?: PeerState;
  snapshot?: SimSnapshot;
  /** Sync in flight: last index it covers and the lowest truncation since it started. */
  syncing = false;
  syncLast = 0;
  syncMinTrunc = Infinity;
  dirty = false;
  generation = 0;
  /** Durable marker: recovery lost state and no leader has caught this server up yet. */
  lost = false;

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
    const removed = this.cur.splice(k);
    if (k < this.stableLen) {
      this.durTail = removed.slice(0, this.stableLen - k).concat(this.durTail);
      this.stableLen = k;
    }
    if (lastKept < this.syncMinTrunc) this.syncMinTrunc = lastKept;
    this.dirty = true;
  }

  /** Starts a sync; the data it covers counts as durable from now on. */
  startSync(): void {
    this.syncing = true;
    this.dirty = false;
    this.syncLast = this.lastIndex();
    this.syncMinTrunc = Infinity;
    this.stableLen = this.cur.length;
    this.durTail = [];
  }

  /** Finishes the sync; returns the index the core may treat as durable. */
  finishSync(): number {
    this.syncing = false;
    return Math.min(this.syncLast, this.syncMinTrunc);
  }

  compact(through: number, chain: number, term: number): void {
    const k = through - this.base;
    if (k <= 0) return;
    this.cur.splice(0, Math.min(k, this.cur.length));
    if (this.stableLen >= k) this.stableLen -= k;
    else {
      this.durTail.splice(0, k - this.stableLen);
      this.stableLen = 0;
    }
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
    this.stableLen = 0;
    this.durTail = [];
    this.dirty = false;
  }

  /** Corruption of the newest `k` durable records (after a crash): they are cut. Returns how many. */
  dropTail(k: number): number {
    const n = Math.min(k, this.cur.length);
    this.cur.length -= n;
    this.stableLen = this.cur.length;
    this.durTail = [];
    return n;
  }

  /** Power loss: keep the durable log, maybe plus a prefix of unsynced writes. */
  crash(rng: Prng): void {
    const extra = this.durTail.length === 0 && rng.chance(0.5) ? rng.int(0, this.cur.length - this.stableLen) : 0;
    this.cur = this.cur.slice(0, this.stableLen + extra).concat(this.durTail);
    this.stableLen = this.cur.length;
    this.durTail = [];
    this.syncing = false;
    this.dirty = false;
    this.generation++;
  }
}
