// Behaviour shared by the memory and file stores: limits and discard policies,
// max-age and per-message TTL expiry, queries over the index, storage-update
// callbacks. Subclasses only decide where message bytes live.

import { nowNs as defaultNowNs, nsToMs } from './clock.js';
import { NameMemo } from '../../protocol/names.js';
import { StoreError } from './errors.js';
import { MsgIndex, type Chunk, type IndexMode } from './msg-index.js';
import { LostData } from './lost-data.js';
import { encodeStreamState } from './stream-state-codec.js';
import { isAllFilter } from './subject.js';
import { snapshotStore } from './snapshot.js';
import type {
  ConsumerStore, DurableHandler, NowNs, NumPendingResult, RecoveredConsumer, SimpleState,
  StorageType, StorageUpdateHandler, StoreConfig, StoredMsg, StoreResult, StreamState, StreamStore,
} from './types.js';

/** Removal kinds passed to subclasses: single (tombstone needed), bulk (covered by a marker), erase. */
export type RemoveKind = 'single' | 'bulk' | 'erase';

const ROLLUP_HEADER = Buffer.from('Nats-Rollup:');
const MIN_EXPIRY_TIMER_MS = 5;
/** Byte lengths of stored subjects, which mostly repeat (names.ts NameMemo). */
const subjectNames = new NameMemo();

export function normalizeConfig(cfg: StoreConfig): StoreConfig {
  return {
    ...cfg,
    subjects: cfg.subjects ? [...cfg.subjects] : undefined,
    maxMsgs: cfg.maxMsgs ?? -1,
    maxBytes: cfg.maxBytes ?? -1,
    maxAgeMs: cfg.maxAgeMs ?? 0,
    maxMsgsPerSubject: cfg.maxMsgsPerSubject ?? -1,
    maxMsgSize: cfg.maxMsgSize ?? -1,
    discard: cfg.discard ?? 'old',
    discardNewPerSubject: cfg.discardNewPerSubject ?? false,
    firstSeq: cfg.firstSeq ?? 1,
    allowMsgTtl: cfg.allowMsgTtl ?? false,
  };
}

/** Min-heap of (expiresMs, seq) for per-message TTLs. Entries are checked against ttlExpiry on pop. */
class ExpiryHeap {
  private at: number[] = [];
  private seqs: number[] = [];
  get size(): number {
    return this.at.length;
  }
  peekAt(): number {
    return this.at.length ? this.at[0] : Infinity;
  }
  peekSeq(): number {
    return this.seqs[0];
  }
  push(at: number, seq: number): void {
    const a = this.at;
    const s = this.seqs;
    let i = a.length;
    a.push(at);
    s.push(seq);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= at) break;
      a[i] = a[p];
      s[i] = s[p];
      i = p;
    }
    a[i] = at;
    s[i] = seq;
  }
  pop(): void {
    const a = this.at;
    const s = this.seqs;
    const lastA = a.pop()!;
    const lastS = s.pop()!;
    if (a.length === 0) return;
    let i = 0;
    const n = a.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && a[c + 1] < a[c]) c++;
      if (a[c] >= lastA) break;
      a[i] = a[c];
      s[i] = s[c];
      i = c;
    }
    a[i] = lastA;
    s[i] = lastS;
  }
  clear(): void {
    this.at = [];
    this.seqs = [];
  }
}

export abstract class BaseStore implements StreamStore {
  abstract readonly type: StorageType;
  abstract readonly ackWaitsForSync: boolean;
  protected cfg: StoreConfig;
  protected readonly index: MsgIndex;
  protected readonly now: NowNs;
  protected scb: StorageUpdateHandler | undefined;
  protected durableCb: DurableHandler | undefined;
  protected closed = false;
  /** Per-message TTL bookkeeping: expiry time by seq, and seqs that never expire (ttl -1). */
  private ttlExpiry = new Map<number, number>();
  private ttlNever = new Set<number>();
  private ttlHeap = new ExpiryHeap();
  private expiryTimer: NodeJS.Timeout | undefined;
  private expiryTimerAt = 0;

  constructor(cfg: StoreConfig, mode: IndexMode, now?: NowNs) {
    this.cfg = normalizeConfig(cfg);
    this.index = new MsgIndex(mode, this.cfg.firstSeq);
    this.now = now ?? defaultNowNs;
  }

  get config(): Readonly<StoreConfig> {
    return this.cfg;
  }

  // ---- subclass hooks ----

  /** Accounted size of one message (nats-server's per-store formula). */
  protected abstract msgSize(subjectBytes: number, hdrLen: number, dataLen: number): number;
  /** Persist a message just added to the index at (chunk, slot). */
  protected abstract writeMsg(seq: number, subject: string, subjectBytes: number, hdr: Buffer | undefined,
    data: Buffer, ts: bigint, ttlSec: number, chunk: Chunk, slot: number): void;
  /** Load the message at (chunk, slot) (present in the index). undefined when its bytes turned out to
   *  be damaged: the subclass then has dropped it from the index and recorded it as lost. A failed
   *  read (I/O error) throws ErrStoreRead and changes nothing. */
  protected abstract readMsg(seq: number, chunk: Chunk, slot: number): StoredMsg | undefined;
  /** Called before the index forgets a message. */
  protected abstract beforeRemove(seq: number, chunk: Chunk, slot: number, kind: RemoveKind): void;
  /** Record consumed sequences [first, first+num) without messages. */
  protected abstract writeSkip(first: number, num: number, ts: bigint): void;
  /** After bulk removals (purge/compact/purgeEx-to-seq): persist the new first/last. */
  protected abstract afterBulkRemove(): void;
  /** After truncate(seq) removed everything above seq from the index. */
  protected abstract afterTruncate(seq: number): void;

  // ---- writes ----

  protected checkOpen(): void {
    if (this.closed) throw new StoreError('ErrStoreClosed');
  }

  storeMsg(subject: string, headers: Buffer | undefined, data: Buffer, ttlSec?: number): StoreResult {
    this.checkOpen();
    const seq = this.index.lastSeq + 1;
    let ts = this.now();
    // Timestamps must not go backwards relative to the last message (seqFromTime relies on order).
    if (ts < this.index.lastTs) ts = this.index.lastTs;
    this.storeInternal(subject, headers, data, seq, ts, ttlSec ?? 0, true);
    return { seq, ts };
  }

  storeRawMsg(subject: string, headers: Buffer | undefined, data: Buffer, seq: number, ts: bigint,
    ttlSec?: number, discardNewCheck?: boolean): void {
    this.checkOpen();
    if (seq === 0) seq = this.index.lastSeq + 1;
    this.storeInternal(subject, headers, data, seq, ts, ttlSec ?? 0, discardNewCheck ?? false);
  }

  private storeInternal(subject: string, hdr: Buffer | undefined, data: Buffer, seq: number, ts: bigint,
    ttlSec: number, discardNewCheck: boolean): void {
    const cfg = this.cfg;
    const hdrLen = hdr ? hdr.length : 0;
    if (cfg.maxMsgSize! > 0 && hdrLen + data.length > cfg.maxMsgSize!) throw new StoreError('ErrMsgTooLarge');
    if (seq !== this.index.lastSeq + 1) throw new StoreError('ErrSequenceMismatch');
    const index = this.index;
    const maxPer = cfg.maxMsgsPerSubject!;
    const ss = index.subjects.get(subject);
    const atSubjectLimit = maxPer > 0 && ss !== undefined && ss.msgs >= maxPer;
    const subjBytes = subjectNames.byteLength(subject);
    const size = this.msgSize(subjBytes, hdrLen, data.length);

    if (discardNewCheck && cfg.discard === 'new') {
      // Rollups purge the subject right after storing, so they may pass the per-subject limit.
      if (atSubjectLimit && cfg.discardNewPerSubject && !(hdr && hdr.indexOf(ROLLUP_HEADER) >= 0)) {
        throw new StoreError('ErrMaxMsgsPerSubject');
      }
      if (cfg.maxMsgs! > 0 && index.msgs >= cfg.maxMsgs! && !atSubjectLimit) {
        throw new StoreError('ErrMaxMsgs');
      }
      if (cfg.maxBytes! > 0 && index.bytes + size > cfg.maxBytes!) {
        // At a subject limit the subject's oldest message will be replaced: allowed if that frees enough.
        if (!atSubjectLimit || index.sizeOf(ss!.first) < size) throw new StoreError('ErrMaxBytes');
      }
    }

    const chunk = index.add(seq, subject, ts, size);
    this.writeMsg(seq, subject, subjBytes, hdr, data, ts, ttlSec, chunk, index.slot);

    if (cfg.allowMsgTtl && ttlSec !== 0) {
      if (ttlSec < 0) this.ttlNever.add(seq);
      else {
        const at = nsToMs(ts) + ttlSec * 1000;
        this.ttlExpiry.set(seq, at);
        this.ttlHeap.push(at, seq);
      }
    }

    if (this.scb) this.scb(1, size, seq, subject);

    // Per-subject limit: drop this subject's oldest messages.
    if (maxPer > 0) {
      const cur = index.subjects.get(subject)!;
      while (cur.msgs > maxPer) this.removeInternal(cur.first, 'single');
    }
    this.enforceMsgAndBytesLimits();
    this.armExpiry();
  }

  /** Re-apply every limit (after recovery: removals driven by limits are not logged individually). */
  protected enforceAllLimits(): void {
    const per = this.cfg.maxMsgsPerSubject!;
    if (per > 0) {
      for (const ss of [...this.index.subjects.values()]) {
        while (ss.msgs > per) this.removeInternal(ss.first, 'single');
      }
    }
    this.enforceMsgAndBytesLimits();
    if (this.cfg.maxAgeMs! > 0 || this.ttlHeap.size > 0) this.expireNow();
  }

  private enforceMsgAndBytesLimits(): void {
    const cfg = this.cfg;
    if (cfg.discard !== 'old') return;
    const index = this.index;
    if (cfg.maxMsgs! > 0) while (index.msgs > cfg.maxMsgs!) this.removeInternal(index.firstSeq, 'single');
    if (cfg.maxBytes! > 0) while (index.bytes > cfg.maxBytes!) this.removeInternal(index.firstSeq, 'single');
  }

  skipMsg(seq: number): number {
    this.checkOpen();
    if (seq === 0) seq = this.index.lastSeq + 1;
    if (seq !== this.index.lastSeq + 1) throw new StoreError('ErrSequenceMismatch');
    const ts = this.index.lastTs === 0n ? this.now() : this.index.lastTs;
    this.index.skipTo(seq, ts);
    this.writeSkip(seq, 1, ts);
    return seq;
  }

  skipMsgs(seq: number, num: number): void {
    this.checkOpen();
    if (seq === 0) seq = this.index.lastSeq + 1;
    if (seq !== this.index.lastSeq + 1) throw new StoreError('ErrSequenceMismatch');
    if (num <= 0) return;
    const ts = this.index.lastTs === 0n ? this.now() : this.index.lastTs;
    this.index.skipTo(seq + num - 1, ts);
    this.writeSkip(seq, num, ts);
  }

  // ---- removal ----

  protected removeInternal(seq: number, kind: RemoveKind, notify = true): boolean {
    const c = this.index.lookup(seq);
    if (c === undefined) return false;
    this.beforeRemove(seq, c, this.index.slot, kind);
    this.index.remove(seq);
    if (this.ttlExpiry.size > 0) this.ttlExpiry.delete(seq);
    if (this.ttlNever.size > 0) this.ttlNever.delete(seq);
    if (notify && this.scb) this.scb(-1, -this.index.removedSize, seq, this.index.removedSubject);
    return true;
  }

  removeMsg(seq: number): boolean {
    this.checkOpen();
    return this.removeInternal(seq, 'single');
  }

  eraseMsg(seq: number): boolean {
    this.checkOpen();
    return this.removeInternal(seq, 'erase');
  }

  /** Remove every live message in [from, to] without individual tombstones; returns [count, bytes]. */
  private bulkRemove(from: number, to: number): [number, number] {
    let n = 0;
    let bytes = 0;
    this.index.forEachLive(from, to, (s) => {
      this.removeInternal(s, 'bulk', false);
      n++;
      bytes += this.index.removedSize;
    });
    return [n, bytes];
  }

  private notifyBulk(n: number, bytes: number): void {
    if (n > 0 && this.scb) this.scb(-n, -bytes, 0, '');
  }

  purge(): number {
    this.checkOpen();
    const [n, bytes] = this.bulkRemove(this.index.firstSeq, this.index.lastSeq);
    this.index.reset(this.index.lastSeq + 1);
    this.clearTtl();
    this.afterBulkRemove();
    this.notifyBulk(n, bytes);
    return n;
  }

  purgeEx(subject: string, seq: number, keep: number): number {
    this.checkOpen();
    if (seq === 1) return 0; // "up to but not including 1"
    if (isAllFilter(subject)) {
      if (keep === 0 && seq === 0) return this.purge();
      if (seq > 1) return this.compact(seq);
    }
    const fs = this.index.filteredState(1, subject);
    if (fs.msgs === 0) return 0;
    let maxPurge = Infinity;
    if (keep > 0) {
      if (keep >= fs.msgs) return 0;
      maxPurge = fs.msgs - keep;
    }
    const last = seq >= 1 ? Math.min(seq - 1, fs.last) : fs.last;
    let purged = 0;
    let bytes = 0;
    let lowSeq = 0;
    let lowSubj = '';
    for (let s = this.index.nextMatch(subject, fs.first); s !== 0 && s <= last; s = this.index.nextMatch(subject, s + 1)) {
      this.removeInternal(s, 'single', false);
      purged++;
      bytes += this.index.removedSize;
      if (lowSeq === 0) {
        lowSeq = s;
        lowSubj = this.index.removedSubject;
      }
      if (purged >= maxPurge) break;
    }
    if (this.scb && purged > 0) {
      if (purged === 1) this.scb(-1, -bytes, lowSeq, lowSubj);
      else this.scb(-purged, -bytes, 0, '');
    }
    return purged;
  }

  compact(seq: number): number {
    this.checkOpen();
    if (seq === 0) return this.purge();
    const index = this.index;
    if (index.firstSeq > seq && index.msgs > 0) return 0;
    if (seq <= index.lastSeq) {
      if (index.msgs === 0 && seq <= index.firstSeq) return 0;
      const [n, bytes] = this.bulkRemove(index.firstSeq, seq - 1);
      if (index.msgs === 0) index.reset(index.lastSeq + 1);
      this.afterBulkRemove();
      this.notifyBulk(n, bytes);
      return n;
    }
    // Past the end: everything goes and the next message gets seq.
    const [n, bytes] = this.bulkRemove(index.firstSeq, index.lastSeq);
    index.reset(seq, seq - 1);
    this.clearTtl();
    this.afterBulkRemove();
    this.notifyBulk(n, bytes);
    return n;
  }

  truncate(seq: number): void {
    this.checkOpen();
    const index = this.index;
    if (seq >= index.lastSeq) return;
    const [n, bytes] = this.bulkRemove(seq + 1, index.lastSeq);
    if (seq === 0) {
      index.reset(1, 0);
      this.clearTtl();
    } else {
      const lastTs = index.has(seq) ? index.tsOf(seq) : index.lastTs;
      index.setLast(seq, lastTs);
    }
    this.afterTruncate(seq);
    this.notifyBulk(n, bytes);
  }

  private clearTtl(): void {
    this.ttlExpiry.clear();
    this.ttlNever.clear();
    this.ttlHeap.clear();
  }

  // ---- expiry (max age and per-message TTL) ----

  /** Arm the expiry timer for the earliest deadline, without scanning the stream:
   *  with max age the oldest message is the first one (timestamps grow with seq). */
  protected armExpiry(): void {
    if (this.closed) return;
    if (this.cfg.maxAgeMs! <= 0 && this.ttlHeap.size === 0) return;
    // An armed timer already covers the oldest message (new ones are never older); only a TTL
    // deadline earlier than the timer needs re-arming.
    if (this.expiryTimer && (this.ttlHeap.size === 0 || this.ttlHeap.peekAt() >= this.expiryTimerAt)) return;
    let at = Infinity;
    if (this.cfg.maxAgeMs! > 0 && this.index.msgs > 0) {
      at = nsToMs(this.index.tsOf(this.index.firstSeq)) + this.cfg.maxAgeMs!;
    }
    if (this.ttlHeap.size > 0) at = Math.min(at, this.ttlHeap.peekAt());
    if (at === Infinity) {
      if (this.expiryTimer) {
        clearTimeout(this.expiryTimer);
        this.expiryTimer = undefined;
        this.expiryTimerAt = 0;
      }
      return;
    }
    if (this.expiryTimer && this.expiryTimerAt <= at) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    const delay = Math.max(MIN_EXPIRY_TIMER_MS, at - nsToMs(this.now()));
    this.expiryTimerAt = at;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.expiryTimerAt = 0;
      this.expireNow();
    }, delay);
    this.expiryTimer.unref();
  }

  /** Remove messages past max age or their TTL as of the store clock; re-arms the timer.
   *  Called by the timer; tests with an injected clock may call it directly. */
  expireNow(): void {
    if (this.closed) return;
    const nowMs = nsToMs(this.now());
    const index = this.index;
    const maxAge = this.cfg.maxAgeMs!;
    if (maxAge > 0) {
      const cutoff = BigInt(nowMs - maxAge) * 1_000_000n;
      let s = index.firstSeq;
      while (index.msgs > 0) {
        s = index.nextLive(s);
        if (s === 0 || index.tsOf(s) > cutoff) break;
        if (this.ttlNever.has(s)) {
          s++;
          continue;
        }
        this.removeInternal(s, 'single');
        s++;
      }
    }
    const heap = this.ttlHeap;
    while (heap.size > 0 && heap.peekAt() <= nowMs) {
      const seq = heap.peekSeq();
      const at = heap.peekAt();
      heap.pop();
      if (this.ttlExpiry.get(seq) === at) this.removeInternal(seq, 'single');
    }
    this.armExpiryAfterRun(nowMs);
  }

  private armExpiryAfterRun(nowMs: number): void {
    // Never-expiring messages at the head must not make the timer spin: look for the first
    // message that can expire.
    let at = Infinity;
    if (this.cfg.maxAgeMs! > 0 && this.index.msgs > 0) {
      let s = this.index.firstSeq;
      while (s !== 0 && this.ttlNever.has(s)) s = this.index.nextLive(s + 1);
      if (s !== 0) at = nsToMs(this.index.tsOf(s)) + this.cfg.maxAgeMs!;
    }
    if (this.ttlHeap.size > 0) at = Math.min(at, this.ttlHeap.peekAt());
    if (at === Infinity || this.closed) return;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimerAt = at;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.expiryTimerAt = 0;
      this.expireNow();
    }, Math.max(MIN_EXPIRY_TIMER_MS, at - nowMs));
    this.expiryTimer.unref();
  }

  protected stopExpiry(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.expiryTimerAt = 0;
  }

  /** Register a recovered message's TTL (file store recovery). */
  protected recoverTtl(seq: number, ts: bigint, ttlSec: number): void {
    if (!this.cfg.allowMsgTtl || ttlSec === 0) return;
    if (ttlSec < 0) this.ttlNever.add(seq);
    else {
      const at = nsToMs(ts) + ttlSec * 1000;
      this.ttlExpiry.set(seq, at);
      this.ttlHeap.push(at, seq);
    }
  }

  /** The TTL a stored message was given: seconds, -1 for never, 0 for none. */
  protected ttlSecOf(seq: number, ts: bigint): number {
    if (this.ttlNever.size > 0 && this.ttlNever.has(seq)) return -1;
    // Most streams have no TTLs: a block seal asks for every message, so skip the map lookup.
    if (this.ttlExpiry.size === 0) return 0;
    const at = this.ttlExpiry.get(seq);
    return at === undefined ? 0 : Math.max(1, Math.round((at - nsToMs(ts)) / 1000));
  }

  protected forgetTtl(seq: number): void {
    this.ttlExpiry.delete(seq);
    this.ttlNever.delete(seq);
  }

  // ---- reads ----

  loadMsg(seq: number): StoredMsg | undefined {
    this.checkOpen();
    const c = this.index.lookup(seq);
    return c ? this.readMsg(seq, c, this.index.slot) : undefined;
  }

  loadLastMsg(filter: string): StoredMsg | undefined {
    this.checkOpen();
    for (;;) {
      const seq = this.index.lastMatch(filter);
      if (seq === 0) return undefined;
      const m = this.loadMsg(seq);
      if (m) return m;
    }
  }

  loadNextMsg(filter: string, startSeq: number): StoredMsg | undefined {
    this.checkOpen();
    for (;;) {
      const seq = this.index.nextMatch(filter, startSeq);
      if (seq === 0) return undefined;
      const m = this.loadMsg(seq);
      if (m) return m;
      startSeq = seq + 1;
    }
  }

  loadNextMsgMulti(filters: string[], startSeq: number): StoredMsg | undefined {
    this.checkOpen();
    for (;;) {
      const seq = this.index.nextMatchMulti(filters, startSeq);
      if (seq === 0) return undefined;
      const m = this.loadMsg(seq);
      if (m) return m;
      startSeq = seq + 1;
    }
  }

  loadPrevMsg(filter: string, startSeq: number): StoredMsg | undefined {
    this.checkOpen();
    for (;;) {
      const seq = this.index.prevMatch(filter, startSeq);
      if (seq === 0) return undefined;
      const m = this.loadMsg(seq);
      if (m) return m;
      startSeq = seq - 1;
    }
  }

  subjectForSeq(seq: number): string | undefined {
    return this.index.subjectOf(seq);
  }

  // ---- state ----

  /** Messages found damaged (file store), reported as StreamState.lost. */
  protected readonly lost = new LostData();

  get lastSeq(): number {
    return this.index.lastSeq;
  }

  get firstSeq(): number {
    return this.index.firstSeq;
  }

  get msgs(): number {
    return this.index.msgs;
  }

  fastState(): StreamState {
    const ix = this.index;
    const empty = ix.msgs === 0;
    const st: StreamState = {
      msgs: ix.msgs,
      bytes: ix.bytes,
      firstSeq: ix.firstSeq,
      firstTs: empty ? 0n : ix.tsOf(ix.firstSeq),
      lastSeq: ix.lastSeq,
      lastTs: ix.lastTs,
      numSubjects: ix.subjects.size,
      numDeleted: ix.numDeleted(),
    };
    const lost = this.lost.state();
    if (lost) st.lost = lost;
    return st;
  }

  state(): StreamState {
    const st = this.fastState();
    const deleted: number[] = [];
    for (const [first, n] of this.index.deletedRuns()) for (let i = 0; i < n; i++) deleted.push(first + i);
    if (deleted.length > 0) st.deleted = deleted;
    return st;
  }

  filteredState(startSeq: number, filter: string): SimpleState {
    return this.index.filteredState(startSeq, filter);
  }

  subjectsState(filter: string): Map<string, SimpleState> {
    const out = new Map<string, SimpleState>();
    this.index.forEachSubject(filter, (ss) => out.set(ss.subject, { msgs: ss.msgs, first: ss.first, last: ss.last }));
    return out;
  }

  subjectsTotals(filter: string): Map<string, number> {
    const out = new Map<string, number>();
    this.index.forEachSubject(filter, (ss) => out.set(ss.subject, ss.msgs));
    return out;
  }

  numPending(startSeq: number, filter: string, lastPerSubject: boolean): NumPendingResult {
    const validThrough = this.index.lastSeq;
    if (lastPerSubject) return { total: this.index.lastPerSubjectCount(startSeq, filter), validThrough };
    return { total: this.index.filteredState(startSeq, filter).msgs, validThrough };
  }

  numPendingMulti(startSeq: number, filters: string[], lastPerSubject: boolean): NumPendingResult {
    if (filters.length <= 1) return this.numPending(startSeq, filters[0] ?? '', lastPerSubject);
    // Overlapping filters must not double count: count distinct subjects.
    const seen = new Set<string>();
    let total = 0;
    for (const f of filters) {
      this.index.forEachSubject(f, (ss) => {
        if (seen.has(ss.subject)) return;
        seen.add(ss.subject);
        if (lastPerSubject) {
          if (ss.last >= startSeq) total++;
        } else {
          total += this.index.filteredState(startSeq, ss.subject).msgs;
        }
      });
    }
    return { total, validThrough: this.index.lastSeq };
  }

  multiLastSeqs(filters: string[], maxSeq: number, maxAllowed: number): number[] {
    if (this.index.msgs === 0) return [];
    if (maxSeq <= 0) maxSeq = this.index.lastSeq;
    const seen = new Set<number>();
    const out: number[] = [];
    const list = filters.length === 0 ? ['>'] : filters;
    for (const f of list) {
      this.index.forEachSubject(f, (ss) => {
        const s = ss.last <= maxSeq ? ss.last : this.index.lastAtOrBelow(ss, maxSeq);
        if (s !== 0 && !seen.has(s)) {
          seen.add(s);
          out.push(s);
        }
      });
      if (maxAllowed > 0 && out.length > maxAllowed) throw new StoreError('ErrTooManyResults');
    }
    return out.sort((a, b) => a - b);
  }

  allLastSeqs(): number[] {
    const out: number[] = [];
    for (const ss of this.index.subjects.values()) out.push(ss.last);
    return out.sort((a, b) => a - b);
  }

  getSeqFromTime(tsNs: bigint): number {
    return this.index.seqFromTime(tsNs);
  }

  // ---- config ----

  updateConfig(cfg: StoreConfig, _metadata?: unknown): void {
    this.checkOpen();
    const prevPer = this.cfg.maxMsgsPerSubject!;
    const firstSeq = this.cfg.firstSeq;
    this.cfg = normalizeConfig({ ...cfg, firstSeq });
    if (!this.cfg.allowMsgTtl) this.clearTtl();
    this.enforceMsgAndBytesLimits();
    const per = this.cfg.maxMsgsPerSubject!;
    if (per > 0 && (prevPer <= 0 || per < prevPer)) {
      for (const ss of [...this.index.subjects.values()]) {
        while (ss.msgs > per) this.removeInternal(ss.first, 'single');
      }
    }
    if (this.cfg.maxAgeMs! > 0 || this.ttlHeap.size > 0) this.expireNow();
    else this.stopExpiry();
  }

  registerStorageUpdates(cb: StorageUpdateHandler | undefined): void {
    this.scb = cb;
  }

  onDurable(cb: DurableHandler | undefined): void {
    this.durableCb = cb;
  }

  abstract durableSeq(): number;
  abstract flush(): Promise<void>;

  /** Memory of the message index: unpacked column bytes and packed bytes (msg-index.ts). */
  indexMemory(): ReturnType<MsgIndex['chunkBytes']> {
    return this.index.chunkBytes();
  }

  /** Pack every idle index chunk now rather than at the next sweeps (tests, and benchmarks). */
  packIndex(): void {
    this.index.packAll();
  }

  encodedStreamState(failed: number): Buffer {
    const ix = this.index;
    return encodeStreamState({
      msgs: ix.msgs,
      bytes: ix.bytes,
      firstSeq: ix.firstSeq,
      lastSeq: ix.lastSeq,
      failed,
      deleted: ix.deletedRuns(),
    });
  }

  snapshot(includeConsumers: boolean): AsyncIterable<Buffer> {
    return snapshotStore(this, includeConsumers ? this.consumersForSnapshot() : []);
  }

  /** Consumers to include in snapshots. */
  protected abstract consumersForSnapshot(): Array<{ name: string; store: ConsumerStore; createdMs: number }>;

  abstract consumerStore(name: string, cfg: unknown, createdMs: number): ConsumerStore;
  abstract recoveredConsumers(): RecoveredConsumer[];
  abstract stop(): Promise<void>;
  abstract delete(): Promise<void>;
}
