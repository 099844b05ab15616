// The duplicate window of a stream: Nats-Msg-Id -> sequence for the messages stored within
// `duplicate_window`, expired in insertion (time) order.
//
// After a restart the window is rebuilt from the stored messages' headers. At a high
// publish rate a 2-minute window holds a million messages, and reading them back in one go
// stalls the event loop for a second or more, so the rebuild runs in slices (the Stream
// schedules them, one per event-loop turn). Rebuilt ids go straight into the table unless a
// newer entry (a higher sequence, noted since the restart) is there; their expiry order is
// kept apart and put in front of the newer ones when done, without copying the table.
// Until then the window cannot answer for the part not read yet: the Stream holds back the
// publishes that need an answer (see Stream.processInbound) or finishes the rebuild at once
// for the rare direct caller.

import { getHeader, HDR_MSG_ID } from './headers.js';
import type { StreamStore } from './store/types.js';

interface DedupeEntry { id: string; seq: number; tsNs: bigint }

/** Messages read per rebuild slice at most, and the time budget of one slice. */
const REBUILD_SLICE_MSGS = 8192;
const REBUILD_SLICE_MS = 4;

interface Rebuild {
  next: number;
  end: number;
  /** Rebuilt entries in sequence (and so time) order. */
  order: DedupeEntry[];
}

export class DedupeWindow {
  private map = new Map<string, DedupeEntry>();
  private order: DedupeEntry[] = [];
  private head = 0;
  private rebuild: Rebuild | undefined;

  /** `windowNs` is read on every use: a stream update may change it. */
  constructor(private readonly windowNs: () => number) {}

  /** Is a rebuild from the store still running? */
  get rebuilding(): boolean {
    return this.rebuild !== undefined;
  }

  /** Sequence of a message with this id inside the window, else 0 (the rebuilt part and later ones). */
  check(id: string, nowNs: bigint): number {
    const e = this.map.get(id);
    if (e === undefined) return 0;
    if (nowNs - e.tsNs >= BigInt(this.windowNs())) return 0;
    return e.seq;
  }

  note(id: string, seq: number, tsNs: bigint): void {
    if (id === '' || this.windowNs() <= 0) return;
    const e: DedupeEntry = { id, seq, tsNs };
    this.map.set(id, e);
    this.order.push(e);
    this.expire(tsNs);
  }

  private expire(nowNs: bigint): void {
    const windowNs = BigInt(this.windowNs());
    const order = this.order;
    let h = this.head;
    while (h < order.length && nowNs - order[h]!.tsNs >= windowNs) {
      const e = order[h]!;
      if (this.map.get(e.id) === e) this.map.delete(e.id);
      h++;
    }
    if (h > 1024 && h * 2 > order.length) {
      this.order = order.slice(h);
      h = 0;
    }
    this.head = h;
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
    this.rebuild = { next: from, end: st.lastSeq, order: [] };
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
        const e: DedupeEntry = { id, seq: m.seq, tsNs: m.ts };
        const have = this.map.get(id);
        if (have === undefined || have.seq < e.seq) this.map.set(id, e);
        r.order.push(e);
      }
    }
    this.finish(r);
    return true;
  }

  /** The rebuilt (older) entries expire before the ones noted since the rebuild began. */
  private finish(r: Rebuild): void {
    this.rebuild = undefined;
    const noted = this.head < this.order.length ? this.order.slice(this.head) : [];
    this.order = noted.length === 0 ? r.order : r.order.concat(noted);
    this.head = 0;
    if (this.order.length > 0) this.expire(BigInt(Date.now()) * 1_000_000n);
  }
}
