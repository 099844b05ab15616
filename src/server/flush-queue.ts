// Flushes every connection that queued output once per event-loop turn, in a
// setImmediate callback: after libuv's poll phase, so everything the socket
// reads of that phase queued (libuv reads a busy socket up to 32 times per
// event) goes out in one socket write per connection (writev via cork/uncork
// when there are several chunks). Flushing after each read instead cost a
// write syscall per ~60 1 KiB messages. flushNow is for the few places that
// must write at once.
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
