// Bounded record of recently closed client connections (connz state=closed).
import type { ClientKind } from '../core/types.js';

export interface ClosedClientInfo {
  cid: number;
  kind: ClientKind;
  /** connection type (STANDARD, WEBSOCKET); absent for records made before it existed */
  connectionType?: string;
  ip: string;
  port: number;
  startMs: number;
  stopMs: number;
  lastActivityMs: number;
  rttMs: number;
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
  subscriptions: { subject: string; queue?: string; sid: string; msgs: number; max: number }[];
  name: string;
  lang: string;
  version: string;
  account: string;
  authorizedUser: string;
  /** nats-server ClosedState string, e.g. "Client Closed", "Slow Consumer (Pending Bytes)" */
  reason: string;
}

export class ClosedRing {
  private items: ClosedClientInfo[] = [];
  private next = 0;

  constructor(private capacity: number) {}

  push(info: ClosedClientInfo): void {
    if (this.capacity <= 0) return;
    if (this.items.length < this.capacity) {
      this.items.push(info);
    } else {
      this.items[this.next] = info;
      this.next = (this.next + 1) % this.capacity;
    }
  }

  /** Oldest first. */
  list(): ClosedClientInfo[] {
    if (this.items.length < this.capacity) return [...this.items];
    return [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }

  find(cid: number): ClosedClientInfo | undefined {
    return this.items.find((i) => i.cid === cid);
  }

  get size(): number {
    return this.items.length;
  }
}
