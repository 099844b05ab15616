// Bookkeeping of messages found damaged (nats-server's LostStreamData): the
// sequences reported as `lost` in stream state, and the bytes they held.
//
// Memory stays bounded: at most LOST_LIST_MAX sequences are listed (the oldest
// are dropped from the list once it is full, their bytes stay counted), and the
// state object is built once per change instead of being copied on every
// state() call.

export const LOST_LIST_MAX = 10_000;

export interface LostView {
  msgs: number[];
  bytes: number;
}

export class LostData {
  private seqs: number[] = [];
  private known = new Set<number>();
  private bytes = 0;
  /** Sequences dropped from the list because it was full. */
  dropped = 0;
  private view: LostView | undefined;

  constructor(private readonly max = LOST_LIST_MAX) {}

  get count(): number {
    return this.seqs.length + this.dropped;
  }

  /** Record seqs (with their total bytes) as lost; sequences already listed are not counted twice. */
  add(seqs: Iterable<number>, bytes: number): void {
    let added = false;
    let sorted = true;
    for (const s of seqs) {
      if (this.known.has(s)) continue;
      this.known.add(s);
      if (this.seqs.length > 0 && s < this.seqs[this.seqs.length - 1]) sorted = false;
      this.seqs.push(s);
      added = true;
    }
    if (!added && bytes === 0) return;
    this.bytes += bytes;
    if (!sorted) this.seqs.sort((a, b) => a - b);
    if (this.seqs.length > this.max) {
      const drop = this.seqs.splice(0, this.seqs.length - this.max);
      for (const s of drop) this.known.delete(s);
      this.dropped += drop.length;
    }
    this.view = undefined;
  }

  /** The state's `lost` field, or undefined when nothing was lost. Shared until the next change. */
  state(): LostView | undefined {
    if (this.seqs.length === 0 && this.bytes === 0) return undefined;
    if (this.view === undefined) this.view = Object.freeze({ msgs: Object.freeze([...this.seqs]) as number[], bytes: this.bytes });
    return this.view;
  }
}
