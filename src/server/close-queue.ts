// Spreads the bookkeeping of a burst of closing clients over event-loop turns.
//
// When thousands of connections close at once (a client process dies), libuv runs all their
// close callbacks in one phase. Doing each client's bookkeeping there (subscription removal
// with interest updates and RS- to every route, the /connz closed record, the $SYS disconnect
// event) stalled the loop 250-400 ms of CPU for 2,000 clients with 6 subscriptions each.
// Client.close() does what must happen at once itself (the client and its subscriptions are
// flagged closed, so delivery and queue picks skip them; timers stop; the socket ends) and then
// hands the client here; at most BATCH clients are finished per setImmediate turn. A lone close
// is still finished in the check phase of the same turn. Whoever needs exact books at a given
// moment (shutdown, /connz, /varz) calls drainAll() first.
import type { Client } from '../core/client.js';

const BATCH = 64;

export class CloseQueue {
  private queue: Client[] = [];
  private head = 0;
  private scheduled = false;

  /** `finish` completes one closed client (the server's finishClose). */
  constructor(private readonly finish: (client: Client) => void) {}

  push(client: Client): void {
    this.queue.push(client);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  /** Clients closed but not yet finished. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** Finish every queued client now. */
  drainAll(): void {
    this.run(this.queue.length);
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    this.run(Math.min(this.queue.length, this.head + BATCH));
    if (this.head < this.queue.length) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  };

  private run(end: number): void {
    while (this.head < end) this.finish(this.queue[this.head++]!);
    if (this.head >= this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
  }
}
