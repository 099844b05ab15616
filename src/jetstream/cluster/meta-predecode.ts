// Meta entries decoded while their append waits for the disk.
//
// A follower stores a meta entry, starts its WAL fdatasync and acknowledges once that is done;
// the entry is applied only when the leader's commit arrives, a few ms later. On the server that
// holds the stream being created, the apply is on the create's critical path, and decoding the
// assignment (JSON, config checks) was ~0.25 ms of it. So a follower decodes each appended entry
// in the idle time after the fsync was started (setImmediate: after the raft turn that submits
// it), and the apply takes the result when the bytes it applies are the bytes that were decoded
// (a truncated and rewritten index decodes again). The leader waits as long for its quorum, and
// when it holds the stream its own apply is on the create's path too: it decodes its proposals
// once the append it sends to the followers in the same turn is written (afterTurnOutput).
//
// One owner: the meta layer (js-cluster.ts) feeds appended() from the raft node's onAppend and
// calls take() from its apply. Decoding is pure, so a result is the same whenever it is made.

import type { Entry } from '../../raft/index.js';
import { EntryType } from '../../raft/index.js';
import { decodeMetaEntry } from './assignments.js';
import { afterTurnOutput } from '../../core/after-output.js';

type Decoded = ReturnType<typeof decodeMetaEntry>;

/** Entries kept at most; more means the apply stalled (a catch-up): decode at apply as before. */
const MAX_HELD = 256;

export class MetaPredecode {
  /** Copies of appended EntryNormal payloads by raft index, waiting for the idle decode. */
  private queued: Array<{ index: number; data: Buffer[] }> = [];
  private readonly ready = new Map<number, Array<{ data: Buffer; decoded: Decoded }>>();
  private scheduled = false;
  /** Highest index applied: entries at or below it are not decoded ahead any more. */
  private applied = 0;

  /** Entries stored at `index` by an append, the leader's own when `asLeader` (their bytes are copied). */
  appended(index: number, entries: readonly Entry[], asLeader = false): void {
    if (index <= this.applied || this.ready.size + this.queued.length >= MAX_HELD) return;
    const data: Buffer[] = [];
    for (const e of entries) if (e.type === EntryType.Normal) data.push(Buffer.from(e.data));
    if (data.length === 0) return;
    this.queued.push({ index, data });
    if (!this.scheduled) {
      this.scheduled = true;
      if (asLeader) afterTurnOutput(this.decodeQueued);
      else setImmediate(this.decodeQueued);
    }
  }

  private readonly decodeQueued = (): void => {
    this.scheduled = false;
    const q = this.queued;
    this.queued = [];
    for (const { index, data } of q) {
      if (index <= this.applied) continue;
      this.ready.set(index, data.map((d) => ({ data: d, decoded: decodeMetaEntry(d) })));
    }
  };

  /**
   * Applying the EntryNormal payload `data`, the `nth` of those at `index`: its decode when it was
   * made ahead from the same bytes, else undefined.
   */
  take(index: number, nth: number, data: Uint8Array): Decoded | undefined {
    const held = this.ready.get(index)?.[nth];
    return held !== undefined && held.data.equals(data) ? held.decoded : undefined;
  }

  /** Everything at or below `index` is applied: its decodes are dropped. */
  appliedThrough(index: number): void {
    if (index > this.applied) this.applied = index;
    for (const i of this.ready.keys()) if (i <= index) this.ready.delete(i);
  }
}
