// Outstanding pull requests of a pull consumer, in arrival order. Messages are
// handed out round-robin: a request that still wants more after receiving one
// goes to the back of the queue (nats-server waitQueue.pop semantics). Also the
// request-side status answers: 408 on expiry, 404 for finished no_wait requests,
// 409 when the next message exceeds a request's max_bytes, idle heartbeats.

import { messageSizeExceedsMaxBytes, requestTimeout, STATUS_NO_MESSAGES } from './pull-request.js';

/** How the queue talks to the outside. */
export interface WaitQueueIo {
  /** Send a header-only status message to a requester. */
  publish(subject: string, hdr: Buffer): void;
  hasInterest(subject: string): boolean;
  /** Send an idle heartbeat to a requester. */
  heartbeat(reply: string): void;
}

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

/** Told when a request starts and stops waiting (a replicated consumer mirrors them to its group). */
export interface WaitQueueObserver {
  added(reply: string): void;
  removed(reply: string): void;
  /** How many of the queue's requests to report as waiting (a replicated consumer: those its group committed). */
  reported?(wq: WaitQueue): number;
}

export class WaitQueue {
  head: WaitingRequest | null = null;
  tail: WaitingRequest | null = null;
  n = 0;
  /** time of the last request received (ms since epoch), for inactivity tracking */
  lastMs = 0;
  /** when processWaiting last ran (ms since epoch) */
  lastCheckMs = 0;
  observer: WaitQueueObserver | undefined;

  constructor(public max: number, private readonly io: WaitQueueIo) {}

  get isEmpty(): boolean {
    return this.n === 0;
  }

  get isFull(): boolean {
    return this.n === this.max;
  }

  /** num_waiting: every request, or what the observer counts of them. */
  reported(): number {
    return this.observer?.reported?.(this) ?? this.n;
  }

  /** Append; false when the queue is full. */
  add(wr: WaitingRequest): boolean {
    if (this.isFull) return false;
    this.append(wr);
    this.lastMs = wr.receivedMs;
    this.observer?.added(wr.reply);
    return true;
  }

  private append(wr: WaitingRequest): void {
    wr.next = null;
    if (this.tail === null) this.head = wr;
    else this.tail.next = wr;
    this.tail = wr;
    this.n++;
  }

  /** Remove the head (it stops waiting). */
  removeHead(): void {
    const h = this.unlinkHead();
    if (h !== null) this.observer?.removed(h.reply);
  }

  private unlinkHead(): WaitingRequest | null {
    const h = this.head;
    if (h === null) return null;
    this.head = h.next;
    if (this.head === null) this.tail = null;
    h.next = null;
    this.n--;
    return h;
  }

  /** Remove `wr` whose predecessor is `pre` (null when wr is the head). Returns wr's successor. */
  remove(pre: WaitingRequest | null, wr: WaitingRequest): WaitingRequest | null {
    const next = wr.next;
    if (pre === null) this.head = next;
    else pre.next = next;
    if (this.tail === wr) this.tail = pre;
    wr.next = null;
    this.n--;
    this.observer?.removed(wr.reply);
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
      // To the back of the queue: still waiting.
      this.unlinkHead();
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
    if (this.observer) for (const wr of all) this.observer.removed(wr.reply);
    return all;
  }

  /** Sum of outstanding batch sizes of requests that still have interest. */
  batchRequestsPending(now: number): number {
    this.processWaiting(false, now);
    let brp = 0;
    for (let w = this.head; w !== null; w = w.next) brp += w.n;
    return brp;
  }

  /**
   * nats-server processWaiting: expire requests (408), end no_wait requests at end of stream
   * (404, `eos`), drop requests whose requester went away, send due heartbeats. Returns the
   * next time (ms) something is due, or 0.
   */
  processWaiting(eos: boolean, now: number): number {
    if (this.n === 0) return 0;
    this.lastCheckMs = now;
    let fexp = 0;
    let pre: WaitingRequest | null = null;
    let wr = this.head;
    while (wr !== null) {
      const expired = wr.expiresAtMs !== 0 && now >= wr.expiresAtMs;
      if ((eos && wr.noWait) || expired) {
        if (expired) {
          this.io.publish(wr.reply, requestTimeout(wr.n, wr.b));
          wr = this.remove(pre, wr);
          continue;
        } else if (wr.expiresAtMs === 0 || wr.d > 0) {
          this.io.publish(wr.reply, STATUS_NO_MESSAGES);
          wr = this.remove(pre, wr);
          continue;
        }
      }
      if (!this.io.hasInterest(wr.reply)) {
        wr = this.remove(pre, wr);
        continue;
      }
      if (wr.hbtMs !== 0) {
        if (now >= wr.hbtMs) {
          this.io.heartbeat(wr.reply);
          wr.hbtMs = now + wr.hbMs;
        }
        if (fexp === 0 || wr.hbtMs < fexp) fexp = wr.hbtMs;
      }
      if (wr.expiresAtMs !== 0 && (fexp === 0 || wr.expiresAtMs < fexp)) fexp = wr.expiresAtMs;
      pre = wr;
      wr = wr.next;
    }
    return fexp;
  }

  /** nats-server nextWaiting: the request that gets the next message (of sz bytes), or null. */
  nextWaiting(sz: number, now: number): WaitingRequest | null {
    while (this.n > 0) {
      const wr = this.head!;
      if (wr.expiresAtMs === 0 || now < wr.expiresAtMs) {
        if (wr.b > 0) {
          if (sz <= wr.b) {
            wr.b -= sz;
            if (wr.b === 0) wr.n = 1;
          } else {
            this.io.publish(wr.reply, messageSizeExceedsMaxBytes(wr.n, wr.b));
            this.removeHead();
            continue;
          }
        }
        if (this.io.hasInterest(wr.reply)) return this.pop();
      } else {
        this.io.publish(wr.reply, requestTimeout(wr.n, wr.b));
        this.removeHead();
        continue;
      }
      // The requester went away.
      this.removeHead();
    }
    return null;
  }
}
