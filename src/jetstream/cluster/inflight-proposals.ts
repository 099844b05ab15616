// The stream leader's proposals in flight, oldest first (owned by its ProposalSequencer).
//
// A leader proposes with increasing lseq and raft commits its proposals in that order, so the
// common case is an append at the tail and a take at the head. A ring of parallel arrays does
// that without the per-message Map inserts and deletes (and the hash table rebuilds they cause)
// of one map per field. Takes out of order (after a reset the sequencer may still be told about
// older entries) fall back to a scan, which stays correct and is rare.

const INITIAL_CAPACITY = 256;

export class InflightProposals {
  private lseqs: number[] = new Array<number>(INITIAL_CAPACITY).fill(0);
  private subjects: string[] = new Array<string>(INITIAL_CAPACITY).fill('');
  private ids: string[] = new Array<string>(INITIAL_CAPACITY).fill('');
  private replies: string[] = new Array<string>(INITIAL_CAPACITY).fill('');
  private head = 0;
  private count = 0;
  /** Fields of the entry the last successful take() removed. */
  takenSubject = '';
  takenId = '';
  takenReply = '';

  get size(): number {
    return this.count;
  }

  /** Append a proposal (lseq above every one in flight). `id`: its Nats-Msg-Id or ''; `reply`: where its PubAck goes or ''. */
  push(lseq: number, subject: string, id: string, reply: string): void {
    if (this.count === this.lseqs.length) this.grow();
    const i = (this.head + this.count) & (this.lseqs.length - 1);
    this.lseqs[i] = lseq;
    this.subjects[i] = subject;
    this.ids[i] = id;
    this.replies[i] = reply;
    this.count++;
  }

  /** Remove the proposal with this lseq; false when none is in flight. Its fields are left in taken*. */
  take(lseq: number): boolean {
    if (this.count === 0) return false;
    const mask = this.lseqs.length - 1;
    let k = 0;
    if (this.lseqs[this.head] !== lseq) {
      for (k = 1; k < this.count; k++) if (this.lseqs[(this.head + k) & mask] === lseq) break;
      if (k === this.count) return false;
    }
    const i = (this.head + k) & mask;
    this.takenSubject = this.subjects[i]!;
    this.takenId = this.ids[i]!;
    this.takenReply = this.replies[i]!;
    if (k === 0) {
      this.clearSlot(i);
      this.head = (this.head + 1) & mask;
    } else {
      // Out of order: close the gap by moving the later entries one slot back.
      for (let j = k; j < this.count - 1; j++) {
        const to = (this.head + j) & mask;
        const from = (to + 1) & mask;
        this.lseqs[to] = this.lseqs[from]!;
        this.subjects[to] = this.subjects[from]!;
        this.ids[to] = this.ids[from]!;
        this.replies[to] = this.replies[from]!;
      }
      this.clearSlot((this.head + this.count - 1) & mask);
    }
    this.count--;
    return true;
  }

  /** A proposal on `subject` is in flight (for the subject CAS pre-check; a scan, CAS publishes are rare). */
  hasSubject(subject: string): boolean {
    const mask = this.lseqs.length - 1;
    for (let k = 0; k < this.count; k++) if (this.subjects[(this.head + k) & mask] === subject) return true;
    return false;
  }

  clear(): void {
    for (let k = 0; k < this.count; k++) this.clearSlot((this.head + k) & (this.lseqs.length - 1));
    this.head = 0;
    this.count = 0;
  }

  /** Strings of finished proposals are not kept alive by the ring. */
  private clearSlot(i: number): void {
    this.subjects[i] = '';
    this.ids[i] = '';
    this.replies[i] = '';
  }

  private grow(): void {
    const n = this.lseqs.length;
    const unroll = <T>(a: T[], fill: T): T[] => {
      const out = new Array<T>(n * 2).fill(fill);
      for (let k = 0; k < this.count; k++) out[k] = a[(this.head + k) & (n - 1)]!;
      return out;
    };
    this.lseqs = unroll(this.lseqs, 0);
    this.subjects = unroll(this.subjects, '');
    this.ids = unroll(this.ids, '');
    this.replies = unroll(this.replies, '');
    this.head = 0;
  }
}
