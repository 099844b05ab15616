// Flushes every connection that queued output: at the end of each socket read
// (flushNow, like nats-server's flush at the end of a readLoop pass, so a PONG
// or a reply is not held back while more reads are processed) and otherwise
// once per event-loop turn in a setImmediate callback (timers, internal
// publishes). Many MSG frames for one client become one socket write
// (writev via cork/uncork when there are several chunks). Routes and leaf links use one of
// their own, flushed once per turn.
import type { Client } from '../core/client.js';

export class FlushQueue<T extends { flush(): void } = Client> {
  private queue: T[] = [];
  private scheduled = false;

  add(client: T): void {
    this.queue.push(client);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  /** Flush everything queued so far (the scheduled callback then finds little or nothing). */
  flushNow(): void {
    if (this.queue.length === 0) return;
    const q = this.queue;
    this.queue = [];
    for (let i = 0; i < q.length; i++) q[i].flush();
  }

  private readonly run = (): void => {
    this.scheduled = false;
    this.flushNow();
  };
}
