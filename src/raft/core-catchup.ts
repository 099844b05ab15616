// Leader side of NRG catch-up: for each lagging follower that asked (with a
// $NRG.CR.<inbox>), stream stored AEs re-stamped with the leader's term as
// `lterm`, keeping at most leaderCatchupMaxBytes unacknowledged. A run ends
// when the last index it set out to send is acknowledged, when nothing was
// acknowledged for leaderCatchupStallMs, or when leadership is lost.

import { appendEntrySize } from './codec.js';
import type { RaftHost, RaftTiming } from './core-types.js';
import { type AppendEntry, makeAppendEntry } from './types.js';

type ReadEntry = (index: number) => AppendEntry | undefined;

interface Run {
  peer: string;
  inbox: string;
  next: number;
  last: number;
  activeAt: number;
  /** Sent but unacknowledged: [index, bytes] pairs in index order. */
  inflight: number[];
  inflightBytes: number;
  aeReply: string;
  onDone: (peer: string) => void;
}

export class LeaderCatchup {
  private readonly runs = new Map<string, Run>();

  constructor(
    private readonly timing: RaftTiming,
    private readonly host: RaftHost,
  ) {}

  get size(): number {
    return this.runs.size;
  }

  /** Replaces any run for `peer` and starts streaming start..last. */
  start(
    peer: string,
    inbox: string,
    start: number,
    last: number,
    now: number,
    read: ReadEntry,
    term: number,
    aeReply: string,
    onDone: (peer: string) => void,
  ): void {
    const run: Run = { peer, inbox, next: start, last, activeAt: now, inflight: [], inflightBytes: 0, aeReply, onDone };
    this.runs.set(peer, run);
    this.sendMore(run, read, term);
  }

  cancel(peer: string): void {
    this.runs.delete(peer);
  }

  clear(): void {
    this.runs.clear();
  }

  /** A success response from `peer` up to `index`. */
  acknowledged(peer: string, index: number, now: number, read: ReadEntry, term: number): void {
    const run = this.runs.get(peer);
    if (!run) return;
    run.activeAt = now;
    const f = run.inflight;
    let k = 0;
    while (k < f.length && f[k] <= index) {
      run.inflightBytes -= f[k + 1];
      k += 2;
    }
    if (k > 0) f.splice(0, k);
    if (index >= run.last) {
      this.runs.delete(peer);
      run.onDone(peer);
      return;
    }
    if (run.next <= index) run.next = index + 1;
    this.sendMore(run, read, term);
  }

  expire(now: number): void {
    for (const [peer, run] of this.runs) {
      if (now - run.activeAt > this.timing.leaderCatchupStallMs) this.runs.delete(peer);
    }
  }

  nextDeadline(): number {
    let d = Infinity;
    for (const run of this.runs.values()) {
      const t = run.activeAt + this.timing.leaderCatchupStallMs + 1;
      if (t < d) d = t;
    }
    return d;
  }

  private sendMore(run: Run, read: ReadEntry, term: number): void {
    const maxBytes = this.timing.leaderCatchupMaxBytes;
    const maxEntries = this.timing.leaderCatchupMaxEntries * 2;
    while (run.inflightBytes <= maxBytes && run.inflight.length < maxEntries && run.next <= run.last) {
      const stored = read(run.next);
      if (!stored) {
        // Compacted or truncated under us: the follower will ask again.
        this.runs.delete(run.peer);
        return;
      }
      const ae =
        stored.lterm === term
          ? stored
          : makeAppendEntry(stored.leader, stored.term, stored.commit, stored.pterm, stored.pindex, stored.entries, term);
      const size = stored.sizeBytes || (stored.sizeBytes = appendEntrySize(stored));
      this.host.sendAppendEntry(run.inbox, run.aeReply, ae);
      run.inflight.push(run.next, size);
      run.inflightBytes += size;
      run.next++;
    }
  }
}
