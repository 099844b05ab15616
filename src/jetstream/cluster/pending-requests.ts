// The pull requests waiting on a replicated consumer's leader, as its group committed them
// (nats-server 2.9.10's addPendingRequest / removePendingRequest entries, its o.prm).
//
// Every replica keeps the set, the leader too (nats-server's leader skips its own entries). A
// leader that steps down can win the next election itself, when no follower had acknowledged its
// last entries and so its stepdown named no successor: its Consumer has dropped its waiting
// requests by then, and it answers them from this set like any new leader.
//
// A reply subject can be waiting more than once (a client that pulls again on the same inbox
// before the last pull finished), so each reply keeps a count.

import type { WaitQueue } from '../consumer/wait-queue.js';

export class PendingRequests {
  private readonly counts = new Map<string, number>();

  /** An applied addPendingRequest. */
  add(reply: string): void {
    this.counts.set(reply, (this.counts.get(reply) ?? 0) + 1);
  }

  /** An applied removePendingRequest (one without its add, e.g. from before a snapshot, is ignored). */
  remove(reply: string): void {
    const n = this.counts.get(reply);
    if (n === undefined) return;
    if (n <= 1) this.counts.delete(reply);
    else this.counts.set(reply, n - 1);
  }

  /** How many requests with this reply the group knows to be waiting. */
  count(reply: string): number {
    return this.counts.get(reply) ?? 0;
  }

  replies(): string[] {
    return [...this.counts.keys()];
  }

  /**
   * A new leader takes the requests that waited on the old one (they died with its Consumer):
   * each reply with its count. The set starts over with what the new leader's Consumer commits.
   */
  takeAll(): Map<string, number> {
    const all = new Map(this.counts);
    this.counts.clear();
    return all;
  }

  /** Put back what takeAll() took (the new leader's Consumer did not start: the next leader answers them). */
  restore(taken: Map<string, number>): void {
    for (const [reply, n] of taken) this.counts.set(reply, (this.counts.get(reply) ?? 0) + n);
  }
}

/**
 * How many of the requests in `wq` the group knows of: what CONSUMER.INFO reports as num_waiting
 * on a replicated consumer. A request counts once its addPendingRequest is committed (on a quorum),
 * so any later leader holds it and answers it "409 Leadership Change" if this leader goes; counted
 * at arrival, a request whose entry was still in flight was lost with a leader killed right after.
 */
export function knownWaiting(wq: WaitQueue, known: PendingRequests): number {
  const live = new Map<string, number>();
  for (const wr of wq.toArray()) live.set(wr.reply, (live.get(wr.reply) ?? 0) + 1);
  let n = 0;
  for (const [reply, k] of live) n += Math.min(k, known.count(reply));
  return n;
}
