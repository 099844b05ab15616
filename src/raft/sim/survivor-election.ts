// A focused scenario of the core simulation: the leader of a 5-member group and one follower
// crash at once (two servers of five stopped), so the three survivors must elect a leader with
// every one of their votes (quorum 3). Some survivors are told the servers are gone (a closed
// route: RaftCore.peerGone), the others notice only by their election timers. Returns how long
// (simulated ms) the group stayed without a ready leader. The simulation's invariants (one
// leader per term, log matching, votes durable when sent, ...) are checked at every event.
//
// This is where split votes hurt most: two survivors campaigning at once leave the third unable
// to elect either, and every such round used to cost a whole election timeout. Slow disks (every
// term/vote write 5-60 ms, a loaded machine) widen the window in which candidacies collide.

import { SimCluster, type SimServer } from './cluster.js';

export type SurvivorsTold = 'all' | 'two' | 'none';

export interface SurvivorElection {
  seed: number;
  /** Simulated ms from the crash to a ready leader among the survivors (-1: none within limitMs). */
  leaderlessMs: number;
  /** Term of that leader minus the crashed leader's term: elections it took. */
  terms: number;
}

export function survivorElection(opts: { seed: number; told: SurvivorsTold; slowDisk?: boolean; limitMs?: number }): SurvivorElection {
  const c = new SimCluster({ seed: opts.seed, nodes: 5 });
  if (opts.slowDisk) for (const s of c.servers) s.slowDisk = true;
  const first = runUntilLeader(c, c.now + 20_000);
  if (first === undefined) throw new Error(`seed ${opts.seed}: no first leader`);
  // Crash somewhere between two heartbeats, so the survivors last heard the leader at different ages.
  c.runUntil(c.now + c.rng.range(0, 150));
  const leader = c.readyLeader() ?? first;
  const followers = c.servers.filter((s) => s !== leader);
  const other = followers[opts.seed % followers.length];
  const survivors = followers.filter((s) => s !== other);
  const term = leader.core.term;
  c.crash(leader);
  c.crash(other);
  const told = opts.told === 'all' ? survivors : opts.told === 'two' ? survivors.slice(0, 2) : [];
  for (const s of told) {
    c.reportGone(leader, s);
    c.reportGone(other, s);
  }
  const t0 = c.now;
  const next = runUntilLeader(c, t0 + (opts.limitMs ?? 60_000));
  return { seed: opts.seed, leaderlessMs: next === undefined ? -1 : c.now - t0, terms: next === undefined ? 0 : next.core.term - term };
}

function runUntilLeader(c: SimCluster, until: number): SimServer | undefined {
  while (c.now < until) {
    c.runUntil(Math.min(until, c.now + 5));
    const l = c.readyLeader();
    if (l !== undefined) return l;
  }
  return undefined;
}
