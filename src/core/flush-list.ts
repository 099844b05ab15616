// Output batching shared by server-to-server links (routes, leaf connections): a link that
// queued output asks once per event-loop turn to be flushed; at the end of the turn every
// link that asked writes what it queued in one go (its SocketWriter corks the frames).

export class FlushList<T extends { flush(): void }> {
  private list: T[] = [];
  private scheduled = false;

  /** Flush `conn` at the end of this turn (the caller asks at most once per turn). */
  add(conn: T): void {
    this.list.push(conn);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.run);
    }
  }

  private readonly run = (): void => {
    this.scheduled = false;
    const list = this.list;
    this.list = [];
    for (let i = 0; i < list.length; i++) list[i]!.flush();
  };
}

/** Server-wide message counters a link adds to (varz in_msgs/in_bytes/out_msgs/out_bytes). */
export interface MsgCounters { inMsgs: number; inBytes: number; outMsgs: number; outBytes: number }

export function countMsgIn(s: MsgCounters, bytes: number): void {
  s.inMsgs++;
  s.inBytes += bytes;
}

export function countMsgOut(s: MsgCounters, bytes: number): void {
  s.outMsgs++;
  s.outBytes += bytes;
}
