// The duplicate window of a stream: Nats-Msg-Id -> sequence for the messages stored within
// `duplicate_window`, expired in insertion (time) order.
//
// After a restart the window is rebuilt from the stored messages' headers. At a high
// publish rate a 2-minute window holds a million messages, and reading them back in one go
// stalls the event loop for a second or more, so the rebuild runs in slices (the Stream
// schedules them, one per event-loop turn). Rebuilt ids go straight into the table unless a
// newer entry (a higher sequence, noted since the restart) is there; their expiry order is
// kept apart and put in front of the newer ones when done, without copying the table.
//
// A million ids are a large live heap, and a full garbage collection pause grows with the
// number of objects, so an entry is only its id string: the table maps id -> sequence, and
// the expiry order is three flat arrays (ids, sequences, times in ms), sorted by sequence.
// The table is split in shards: a JS Map rehashes all its entries at once when it grows
// past a power of two, which at a few hundred thousand ids stalls one publish for tens to
// hundreds of milliseconds; a shard holds 1/64 of them.
// Until then the window cannot answer for the part not read yet: the Stream holds back the
// publishes that need an answer (see Stream.processInbound) or finishes the rebuild at once
// for the rare direct caller.

import { getHeader, HDR_MSG_ID } from './headers.js';
import type { StreamStore } from './store/types.js';

/** Messages read per rebuild slice at most, and the time budget of one slice. */
const REBUILD_SLICE_MSGS = 8192;
const REBUILD_SLICE_MS = 4;
const NS_PER_MS = 1e6;
const SHARDS = 64;

/** id -> sequence, split over SHARDS maps by a hash of the id. */
class ShardedMap {
  private readonly maps: Array<Map<string, number>> = Array.from({ length: SHARDS }, () => new Map());

  private shard(id: string): Map<string, number> {
    let h = 0;
    for (let i = 0; i < id.length; i++) h = (Math.imul(h, 31) + id.charCodeAt(i)) | 0;
    return this.maps[h & (SHARDS - 1)]!;
  }

  get(id: string): number | undefined {
    return this.shard(id).get(id);
  }

  set(id: string, seq: number): void {
    this.shard(id).set(id, seq);
  }

  delete(id: string): void {
    this.shard(id).delete(id);
  }
}

/** Entries in sequence order: parallel arrays, read from `head`. */
class Order {
  ids: string[] = [];
  seqs: number[] = [];
  tsMs: number[] = [];
  head = 0;

  get live(): number {
    return this.ids.length - this.head;
  }

  push(id: string, seq: number, tsMs: number): void {
    this.ids.push(id);
    this.seqs.push(seq);
    this.tsMs.push(tsMs);
  }

  /** Index of `seq` (binary search over the live part), or -1. */
  find(seq: number): number {
    let lo = this.head;
    let hi = this.seqs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.seqs[mid]!;
      if (v === seq) return mid;
      if (v < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Drop the consumed head once it is the larger part. */
  compact(): void {
    const h = this.head;
    if (h > 1024 && h * 2 > this.ids.length) {
      this.ids = this.ids.slice(h);
      this.seqs = this.seqs.slice(h);
      this.tsMs = this.tsMs.slice(h);
      this.head = 0;
    }
  }

  /** `older` entries first, then the live part of this one. */
  prepend(older: Order): void {
    if (this.live === 0) {
      this.ids = older.ids;
      this.seqs = older.seqs;
      this.tsMs = older.tsMs;
    } else {
      this.ids = older.ids.concat(this.ids.slice(this.head));
      this.seqs = older.seqs.concat(this.seqs.slice(this.head));
      this.tsMs = older.tsMs.concat(this.tsMs.slice(this.head));
    }
    this.head = 0;
  }
}

interface Rebuild {
  next: number;
  end: number;
  /** Rebuilt entries, in sequence (and so time) order. */
  order: Order;
}

export class DedupeWindow {
  private map = new ShardedMap();
  private order = new Order();
  private rebuild: Rebuild | undefined;

  /** `windowNs` is read on every use: a stream update may change it. */
  constructor(private readonly windowNs: () => number) {}

  /** Is a rebuild from the store still running? */
  get rebuilding(): boolean {
    return this.rebuild !== undefined;
  }

  /** Sequence of a message with this id inside the window, else 0 (the rebuilt part and later ones). */
  check(id: string, nowMs: number = Date.now()): number {
    const seq = this.map.get(id);
    if (seq === undefined) return 0;
    const windowMs = this.windowNs() / NS_PER_MS;
    let i = this.order.find(seq);
    let o = this.order;
    if (i < 0 && this.rebuild !== undefined) {
      o = this.rebuild.order;
      i = o.find(seq);
    }
    if (i < 0 || nowMs - o.tsMs[i]! >= windowMs) return 0;
    return seq;
  }

  /** A message `seq` with id `id` was stored at `tsMs` (ms since the epoch). */
  note(id: string, seq: number, tsMs: number): void {
    if (id === '' || this.windowNs() <= 0) return;
    this.map.set(id, seq);
    this.order.push(id, seq, tsMs);
    this.expire(tsMs);
  }

  private expire(nowMs: number): void {
    const windowMs = this.windowNs() / NS_PER_MS;
    const o = this.order;
    let h = o.head;
    while (h < o.ids.length && nowMs - o.tsMs[h]! >= windowMs) {
      const id = o.ids[h]!;
      if (this.map.get(id) === o.seqs[h]) this.map.delete(id);
      o.ids[h] = '';
      h++;
    }
    o.head = h;
    o.compact();
  }

  /**
   * Begin rebuilding from `store` (after a restart): the messages stored within the window
   * before `nowNs`. Returns false when there is nothing to read.
   */
  startRebuild(store: StreamStore, nowNs: bigint): boolean {
    const st = store.fastState();
    if (st.msgs === 0 || this.windowNs() <= 0) return false;
    const from = store.getSeqFromTime(nowNs - BigInt(this.windowNs()));
    if (from > st.lastSeq) return false;
    this.rebuild = { next: from, end: st.lastSeq, order: new Order() };
    return true;
  }

  /** Read one slice; true when the rebuild is complete. `all` reads to the end at once. */
  rebuildSlice(store: StreamStore, all = false): boolean {
    const r = this.rebuild;
    if (r === undefined) return true;
    const t0 = performance.now();
    let n = 0;
    while (r.next <= r.end) {
      if (!all && ((n & 63) === 63 && performance.now() - t0 >= REBUILD_SLICE_MS || n >= REBUILD_SLICE_MSGS)) return false;
      const m = store.loadNextMsg('', r.next);
      if (m === undefined || m.seq > r.end) break;
      n++;
      r.next = m.seq + 1;
      const id = m.headers ? getHeader(m.headers, HDR_MSG_ID) : undefined;
      if (id) {
        // A higher sequence already there was noted since the restart: it is the newer one.
        const have = this.map.get(id);
        if (have === undefined || have < m.seq) this.map.set(id, m.seq);
        r.order.push(id, m.seq, Number(m.ts) / NS_PER_MS);
      }
    }
    this.rebuild = undefined;
    this.order.prepend(r.order);
    if (this.order.live > 0) this.expire(Date.now());
    return true;
  }
}
