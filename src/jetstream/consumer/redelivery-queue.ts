// Stream sequences due for redelivery, in the order they became due. A map from
// sequence to its slot gives O(1) membership; removal is lazy (the map is
// authoritative, stale array slots are skipped when popping) so acks of queued
// messages stay cheap, and a sequence re-added later is not revived at its old slot.

export class RedeliveryQueue {
  private q: number[] = [];
  private head = 0;
  /** queued sequence -> its slot in q (absolute index) */
  private readonly slot = new Map<number, number>();

  get size(): number {
    return this.slot.size;
  }

  has(seq: number): boolean {
    return this.slot.has(seq);
  }

  add(seq: number): void {
    if (this.slot.has(seq)) return;
    this.slot.set(seq, this.q.length);
    this.q.push(seq);
  }

  /** Put back at the front (a message that could not be handed out after all). */
  addFront(seq: number): void {
    if (this.slot.has(seq)) return;
    if (this.head === 0) {
      // Make room: shift every slot by one.
      this.q.unshift(seq);
      for (const [s, i] of this.slot) this.slot.set(s, i + 1);
      this.slot.set(seq, 0);
      return;
    }
    this.head--;
    this.q[this.head] = seq;
    this.slot.set(seq, this.head);
  }

  /** Next due sequence, or 0 when empty. */
  pop(): number {
    while (this.head < this.q.length) {
      const i = this.head++;
      const seq = this.q[i]!;
      if (this.slot.get(seq) === i) {
        this.slot.delete(seq);
        if (this.slot.size === 0) this.clear();
        return seq;
      }
    }
    this.clear();
    return 0;
  }

  remove(seq: number): void {
    if (this.slot.delete(seq) && this.slot.size === 0) this.clear();
  }

  clear(): void {
    this.q = [];
    this.head = 0;
    this.slot.clear();
  }

  /** Queued sequences in order. */
  toArray(): number[] {
    const out: number[] = [];
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i]!;
      if (this.slot.get(s) === i) out.push(s);
    }
    return out;
  }
}
