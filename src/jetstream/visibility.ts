// Visibility follows durability.
//
// Under the fsync-before-ack sync policy a stored message is seen by readers — consumers
// and KV watchers (through the stream's msgStored event), direct gets, the message-get
// and info API requests — only once the store reports it durable, and only after its
// PubAck was handed to the publisher's connection. So a consumer never processes a
// message that a machine crash could still take back, and no client sees a message
// delivered before its publisher was told it is stored (nats-server, storing and acking
// inline, shows the same order). Group commit keeps the cost small: one fsync makes a
// whole batch visible at once; readers that arrive meanwhile wait for that fsync.
//
// With the interval sync policy or a memory store the store reports every message
// durable when it is stored, and nothing here delays anything.

/** Visibility of one stream. Owned by the Stream; readers ask it what they may see. */
export class VisibilityGate {
  /** Highest sequence readers may see (gated streams only). */
  private visible: number;
  /** Highest sequence stored as a message. */
  private lastStored: number;
  // Stored messages not yet visible, in order: their msgStored event is held back.
  private seqs: number[] = [];
  private subjects: string[] = [];
  private head = 0;
  // Readers waiting for a sequence to become visible, in arrival order.
  private readers: Array<{ seq: number; run: () => void }> = [];
  private readersHead = 0;
  /** The store failed or the stream closed: nothing more becomes visible, nobody waits. */
  private ended = false;
  /** Told when a stored message makes the gate pending after everything was visible (RequestGate.watch). */
  onPending: ((gate: VisibilityGate) => void) | undefined = undefined;

  constructor(
    /** True when PubAcks wait for an fsync (file store, sync 'always'). */
    readonly gated: boolean,
    lastSeq: number,
    private readonly notify: (seq: number, subject: string) => void,
    /** Where a throwing listener or reader is reported: it runs inside the store's
     *  durability callback, and must neither fail the store nor stop the others. */
    private readonly onError: (e: unknown) => void = () => {},
  ) {
    this.visible = lastSeq;
    this.lastStored = lastSeq;
  }

  /** Highest sequence readers may see now. */
  get seq(): number {
    return this.gated ? this.visible : Number.MAX_SAFE_INTEGER;
  }

  /** Is a stored message not visible yet (so a reader arriving now has to wait)? */
  get pending(): boolean {
    return this.gated && !this.ended && this.visible < this.lastStored;
  }

  /** Has everything stored up to `seq` become visible (or will waiting not help)? */
  reached(seq: number): boolean {
    return !this.gated || this.ended || this.visible >= seq;
  }

  /** The sequence a reader arriving now waits for. */
  get target(): number {
    return this.lastStored;
  }

  /** A message was stored at `seq`. */
  stored(seq: number, subject: string): void {
    if (!this.gated) {
      this.notify(seq, subject);
      return;
    }
    if (seq > this.lastStored) {
      const wasPending = this.visible < this.lastStored;
      this.lastStored = seq;
      if (!wasPending && this.onPending !== undefined && !this.ended) this.onPending(this);
    }
    this.seqs.push(seq);
    this.subjects.push(subject);
  }

  /** The store made everything up to `durableSeq` durable (`failed`: the write failed). */
  durable(durableSeq: number, failed: boolean): void {
    if (failed) {
      // What did not reach the disk never becomes visible; waiting readers get what is.
      this.ended = true;
      this.seqs = [];
      this.subjects = [];
      this.head = 0;
      this.runReaders();
      return;
    }
    if (durableSeq > this.visible) this.visible = durableSeq;
    let i = this.head;
    while (i < this.seqs.length && this.seqs[i]! <= this.visible) {
      const seq = this.seqs[i]!;
      const subject = this.subjects[i]!;
      i++;
      this.head = i;
      try {
        this.notify(seq, subject);
      } catch (e) {
        this.onError(e);
      }
    }
    if (this.head === this.seqs.length) {
      this.seqs = [];
      this.subjects = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.seqs.length) {
      this.seqs = this.seqs.slice(this.head);
      this.subjects = this.subjects.slice(this.head);
      this.head = 0;
    }
    this.runReaders();
  }

  /** Run `reader` once everything stored so far is visible (at once when it already is). */
  whenVisible(reader: () => void): void {
    if (!this.pending && this.readersHead === this.readers.length) {
      reader();
      return;
    }
    this.readers.push({ seq: this.lastStored, run: reader });
  }

  /** The stream stops: readers still waiting run now (they answer with what is visible). */
  end(): void {
    this.ended = true;
    this.runReaders();
  }

  private runReaders(): void {
    const rs = this.readers;
    while (this.readersHead < rs.length && this.reached(rs[this.readersHead]!.seq)) {
      const r = rs[this.readersHead]!;
      this.readersHead++;
      try {
        r.run();
      } catch (e) {
        this.onError(e);
      }
    }
    if (this.readersHead === rs.length) {
      this.readers = [];
      this.readersHead = 0;
    }
  }
}

/** Anything with a visibility gate (a stream). */
export interface HasVisibility {
  readonly visibility: VisibilityGate;
}

/**
 * JetStream API requests of one account, held in arrival order while a stream of the
 * account has stored messages that are not visible yet: a request sees (and counts)
 * every message published before it, and is answered after their PubAcks.
 */
export class RequestGate {
  private queue: Array<{ waits: Array<[VisibilityGate, number]>; run: () => void }> = [];
  /**
   * The watched gates that became pending since a request last found them visible. A request
   * looks only at these, not at every stream of the account: with a thousand streams that scan
   * was ~0.1 ms of every API request (each clustered create, on every server).
   */
  private readonly maybePending = new Set<VisibilityGate>();
  private readonly becamePending = (g: VisibilityGate): void => { this.maybePending.add(g); };

  constructor(private readonly onError: (e: unknown) => void = () => {}) {}

  /** Requests wait for `s` (a stream of the account) from now on. */
  watch(s: HasVisibility): void {
    const g = s.visibility;
    g.onPending = this.becamePending;
    if (g.pending) this.maybePending.add(g);
  }

  /** `s` left the account: requests no longer wait for it. */
  unwatch(s: HasVisibility): void {
    const g = s.visibility;
    if (g.onPending === this.becamePending) g.onPending = undefined;
    this.maybePending.delete(g);
  }

  /** Run `request` now, or once what the account's streams hold now is visible. */
  submit(request: () => void): void {
    const waits: Array<[VisibilityGate, number]> = [];
    for (const g of this.maybePending) {
      if (g.pending) waits.push([g, g.target]);
      else this.maybePending.delete(g);
    }
    if (waits.length === 0 && this.queue.length === 0) {
      request();
      return;
    }
    this.queue.push({ waits, run: request });
  }

  /** A stream of the account made progress: run the requests whose waits are over. */
  progress(): void {
    const q = this.queue;
    let i = 0;
    while (i < q.length && q[i]!.waits.every(([g, seq]) => g.reached(seq))) i++;
    if (i === 0) return;
    const ready = q.splice(0, i);
    for (const r of ready) {
      try {
        r.run();
      } catch (e) {
        this.onError(e);
      }
    }
  }
}
