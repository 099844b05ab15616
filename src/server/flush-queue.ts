// Flushes every connection that queued output during this event-loop turn,
// once, in a setImmediate callback: many MSG frames for one client become one
// socket write (writev via cork/uncork when there are several chunks).
import type { Client } from '../core/client.js';

export class FlushQueue {
  private queue: Client[] = [];
  private scheduled = false;

  add(client: Client): void {
    this.queue.push(client);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    for (let i = 0; i < q.length; i++) q[i].flush();
  };
}
