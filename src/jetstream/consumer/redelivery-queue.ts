// Stream sequences due for redelivery, in the order they became due. A set gives
// O(1) membership; removal is lazy (the set is authoritative, stale array slots
// are skipped when popping) so acks of queued messages stay cheap.

export class RedeliveryQueue {
  private q: number[] = [];
  private head = 0;
  private readonly set = new Set<number>();

  get size(): number {
    return this.set.size;
  }

  has(seq: number): boolean {
    return this.set.has(seq);
  }

  add(seq: number): void {
    if (this.set.has(seq)) return;
    this.q.push(seq);
    this.set.add(seq);
  }

  /** Put back at the front (a message that could not be handed out after all). */
  addFront(seq: number): void {
    if (this.set.has(seq)) return;
    if (this.head > 0) this.q[--this.head] = seq;
    else this.q.unshift(seq);
    this.set.add(seq);
  }

  /** Next due sequence, or 0 when empty. */
  pop(): number {
    while (this.head < this.q.length) {
      const seq = this.q[this.head++]!;
      if (this.set.delete(seq)) {
        if (this.set.size === 0) this.clear();
        return seq;
      }
    }
    this.clear();
    return 0;
  }

  remove(seq: number): void {
    if (this.set.delete(seq) && this.set.size === 0) this.clear();
  }

  clear(): void {
    this.q = [];
    this.head = 0;
    this.set.clear();
  }

  /** Queued sequences in order. */
  toArray(): number[] {
    const out: number[] = [];
    const seen = new Set<number>();
    for (let i = this.head; i < this.q.length; i++) {
      const s = this.q[i]!;
      if (this.set.has(s) && !seen.has(s)) {
        seen.add(s);
        out.push(s);
      }
    }
    return out;
  }
}
