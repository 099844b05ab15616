// Push consumer flow control (nats-server: pbytes/maxpb/pblimit/fcid/fcsz).
// Deliveries add to the bytes in flight; past half the window a
// "100 FlowControl Request" goes out with a unique reply subject, and delivery
// stalls once the window is full until the client answers that subject. The
// window starts at 1/16 of the limit and doubles with every answer (slow start).

export class FlowControl {
  /** bytes delivered and not yet covered by an answered request */
  private pbytes = 0;
  /** current window */
  private maxpb: number;
  private readonly pblimit: number;
  /** reply subject of the outstanding request, '' when none */
  private fcid = '';
  /** bytes the outstanding request covers */
  private fcsz = 0;

  constructor(limitBytes: number) {
    this.pblimit = limitBytes;
    this.maxpb = Math.max(1, Math.floor(limitBytes / 16));
  }

  /** Over the window: stop delivering until a request is answered. */
  get stalled(): boolean {
    return this.pbytes > this.maxpb;
  }

  /** Reply subject of the outstanding request ('' when none); heartbeats report it. */
  get outstanding(): string {
    return this.fcid;
  }

  /** Account a delivery of `sz` bytes; true when a flow-control request should be sent now. */
  delivered(sz: number): boolean {
    this.pbytes += sz;
    if (this.fcid === '' && this.pbytes > this.maxpb / 2) return true;
    if (this.fcid !== '' && this.pbytes - this.fcsz >= this.maxpb) this.fcsz += sz;
    return false;
  }

  /** A request went out with this reply subject. */
  requested(reply: string): void {
    this.fcsz = this.pbytes;
    this.fcid = reply;
  }

  /** An answer arrived on `subject`; true when it was the outstanding one (delivery may resume). */
  answered(subject: string): boolean {
    if (subject !== this.fcid) return false;
    if (this.maxpb < this.pblimit) this.maxpb = Math.min(this.maxpb * 2, this.pblimit);
    this.pbytes = Math.max(0, this.pbytes - this.fcsz);
    this.fcid = '';
    this.fcsz = 0;
    return true;
  }
}
