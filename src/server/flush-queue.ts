// Flushes every connection that queued output. Normally once per event-loop turn,
// in a setImmediate callback after libuv's poll phase, so what several socket
// reads queued (libuv reads a busy socket up to 32 times per poll event; TLS and
// websocket streams emit several 'data' events per socket read) goes out in one
// socket write per connection (writev via cork/uncork when there are several
// chunks). Flushing after every read cost a write syscall per ~60 1 KiB messages.
// A burst is cut short once READ_BUDGET bytes or MSG_BUDGET messages were read
// since the last flush, so subscribers and PONGs are not held back while much
// input is parsed (a publisher pacing itself on PONGs would otherwise stall; with
// 16-byte messages one 64 KiB read already holds ~2,600 of them, and holding
// several such reads back cost pub->sub throughput). A read whose only output
// is for the reading connection itself (a PONG or reply to a publisher with no local
// subscribers) is written at once: there is no other connection's write to share,
// and waiting slowed publish-only traffic down. Routes and leaf links use a queue of
// their own, flushed once per turn.
import type { Client } from '../core/client.js';

/** input bytes read since the last flush after which the end of a read flushes at once */
const READ_BUDGET = 256 * 1024;
/** messages read since the last flush after which the end of a read flushes at once */
const MSG_BUDGET = 1024;

export class FlushQueue<T extends { flush(): void } = Client> {
  private queue: T[] = [];
  private scheduled = false;
  private readSinceFlush = 0;
  private msgsSinceFlush = 0;

  add(client: T): void {
    this.queue.push(client);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  /** A socket read of `bytes` holding `msgs` messages from `reader` was processed: flush now when
   *  the burst has gone on long enough, or when only the reader has output waiting. */
  afterRead(reader: T, bytes: number, msgs: number): void {
    this.readSinceFlush += bytes;
    this.msgsSinceFlush += msgs;
    const q = this.queue;
    if (this.readSinceFlush >= READ_BUDGET || this.msgsSinceFlush >= MSG_BUDGET
      || (q.length === 1 && q[0] === reader)) this.flushNow();
  }

  /** Flush everything queued so far (the scheduled callback then finds little or nothing). */
  flushNow(): void {
    this.readSinceFlush = 0;
    this.msgsSinceFlush = 0;
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
