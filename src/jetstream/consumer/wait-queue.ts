// Outstanding pull requests of a pull consumer, in arrival order. Messages are
// handed out round-robin: a request that still wants more after receiving one
// goes to the back of the queue (nats-server waitQueue.pop semantics).

export class WaitingRequest {
  next: WaitingRequest | null = null;
  constructor(
    /** where messages and statuses go */
    readonly reply: string,
    /** messages still wanted */
    public n: number,
    /** remaining max_bytes budget; 0 = no byte limit */
    public b: number,
    /** absolute expiry (ms since epoch); 0 = none */
    readonly expiresAtMs: number,
    readonly noWait: boolean,
    /** idle heartbeat interval (ms); 0 = none */
    readonly hbMs: number,
    readonly receivedMs: number,
  ) {
    this.hbtMs = hbMs > 0 ? receivedMs + hbMs : 0;
  }
  /** messages delivered so far */
  d = 0;
  /** next heartbeat due (ms since epoch); 0 = none */
  hbtMs: number;
}

export class WaitQueue {
  head: WaitingRequest | null = null;
  tail: WaitingRequest | null = null;
  n = 0;
  /** time of the last request received (ms since epoch), for inactivity tracking */
  lastMs = 0;

  constructor(public max: number) {}

  get isEmpty(): boolean {
    return this.n === 0;
  }

  get isFull(): boolean {
    return this.n === this.max;
  }

  /** Append; false when the queue is full. */
  add(wr: WaitingRequest): boolean {
    if (this.isFull) return false;
    this.append(wr);
    this.lastMs = wr.receivedMs;
    return true;
  }

  private append(wr: WaitingRequest): void {
    wr.next = null;
    if (this.tail === null) this.head = wr;
    else this.tail.next = wr;
    this.tail = wr;
    this.n++;
  }

  /** Remove the head. */
  removeHead(): void {
    const h = this.head;
    if (h === null) return;
    this.head = h.next;
    if (this.head === null) this.tail = null;
    h.next = null;
    this.n--;
  }

  /** Remove `wr` whose predecessor is `pre` (null when wr is the head). Returns wr's successor. */
  remove(pre: WaitingRequest | null, wr: WaitingRequest): WaitingRequest | null {
    const next = wr.next;
    if (pre === null) this.head = next;
    else pre.next = next;
    if (this.tail === wr) this.tail = pre;
    wr.next = null;
    this.n--;
    return next;
  }

  /**
   * Account one delivery to the head request: it moves to the back if it still wants
   * more and others are waiting, or leaves the queue when done. Returns it.
   */
  pop(): WaitingRequest | null {
    const wr = this.head;
    if (wr === null) return null;
    wr.d++;
    wr.n--;
    if (wr.n > 0 && this.n > 1) {
      this.removeHead();
      this.append(wr);
    } else if (wr.n <= 0) {
      this.removeHead();
    }
    return wr;
  }

  /** Requests as an array (for inspection). */
  toArray(): WaitingRequest[] {
    const out: WaitingRequest[] = [];
    for (let w = this.head; w !== null; w = w.next) out.push(w);
    return out;
  }

  /** Give back one message to the request with this reply (delivery failed). */
  credit(reply: string): void {
    for (let w = this.head; w !== null; w = w.next) {
      if (w.reply === reply) {
        w.n++;
        w.d--;
        return;
      }
    }
  }

  clear(): WaitingRequest[] {
    const all = this.toArray();
    this.head = this.tail = null;
    this.n = 0;
    return all;
  }
}
