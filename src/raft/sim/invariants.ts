// Safety invariants checked by the simulator as events happen:
// * election safety: at most one leader per term;
// * log matching: two logs holding an entry with the same index and term
//   hold the same prefix up to it (compared by chain hash);
// * commit durability: a committed index never changes content, is never
//   truncated, and every new leader holds every committed entry;
// * state machine safety: every server applies the same entries in the
//   same order (compared by the state hash after each index).

import type { SimCluster, SimServer } from './cluster.js';

export class SimFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SimFailure';
  }
}

export class Invariants {
  private readonly leaderOfTerm = new Map<number, string>();
  private readonly chainByIndexTerm = new Map<number, Map<number, number>>();
  private readonly committedChain: number[] = [];
  private readonly appliedHash: number[] = [];
  /** Highest index first seen committed by a server in each term. */
  private readonly maxCommittedInTerm = new Map<number, number>();
  maxCommitted = 0;
  leadersElected = 0;
  /** Check Raft's commitment rule directly (off: only its consequences are seen). */
  checkCommitRule = true;

  constructor(private readonly sim: SimCluster) {}

  private fail(msg: string): never {
    throw new SimFailure(`t=${this.sim.now.toFixed(3)}ms ${msg}`);
  }

  /** A server just became leader of `term`. */
  onLeader(s: SimServer, term: number): void {
    const prev = this.leaderOfTerm.get(term);
    if (prev === undefined) {
      this.leaderOfTerm.set(term, s.name);
      this.leadersElected++;
    } else if (prev !== s.name) {
      this.fail(`two leaders in term ${term}: ${prev} and ${s.name}`);
    }
    // Leader completeness: a leader of term T holds every entry committed in
    // an earlier term (entries committed in T or later, e.g. by a newer
    // leader while this one is still deposed-but-unaware, are not owed).
    let m = 0;
    for (const [t, i] of this.maxCommittedInTerm) if (t < term && i > m) m = i;
    if (m > 0 && m >= s.disk.base) {
      const c = s.disk.chainAt(m);
      if (c === undefined) this.fail(`leader ${s.name} (term ${term}) lacks committed index ${m} (last ${s.disk.lastIndex()})`);
      if (c !== this.committedChain[m]) this.fail(`leader ${s.name} (term ${term}) has a different entry at committed index ${m}`);
    }
  }

  onAppend(s: SimServer, index: number, term: number, chain: number): void {
    let byTerm = this.chainByIndexTerm.get(index);
    if (!byTerm) this.chainByIndexTerm.set(index, (byTerm = new Map()));
    const c = byTerm.get(term);
    if (c === undefined) byTerm.set(term, chain);
    else if (c !== chain) this.fail(`log matching violated on ${s.name}: index ${index} term ${term} has a different prefix`);
    const cc = this.committedChain[index];
    if (index <= this.maxCommitted && cc !== undefined && term === this.termOfCommitted(index) && cc !== chain) {
      this.fail(`${s.name} stored a different entry at committed index ${index}`);
    }
  }

  private termOfCommitted(index: number): number | undefined {
    const byTerm = this.chainByIndexTerm.get(index);
    if (!byTerm) return undefined;
    const cc = this.committedChain[index];
    for (const [t, c] of byTerm) if (c === cc) return t;
    return undefined;
  }

  onTruncate(s: SimServer, lastKept: number): void {
    const last = Math.min(s.disk.lastIndex(), this.maxCommitted);
    for (let i = lastKept + 1; i <= last; i++) {
      const c = s.disk.chainAt(i);
      if (c !== undefined && c === this.committedChain[i]) this.fail(`${s.name} truncates committed index ${i} (keeping ${lastKept})`);
    }
  }

  onCommit(s: SimServer): void {
    const core = s.core;
    const commit = core.commit;
    if (commit > core.lastIndex) this.fail(`${s.name} commit ${commit} beyond its last index ${core.lastIndex}`);
    // Raft's commitment rule (§5.4.2): a leader advances commit only to an
    // entry of its own term (earlier entries follow it), never by counting
    // replicas of an earlier term's entry.
    if (core.state === 'leader') {
      if (this.checkCommitRule && s.leaderCommitTerm === core.term && commit > s.leaderCommitSeen && commit > s.disk.base && s.disk.termAt(commit) !== core.term) {
        this.fail(`leader ${s.name} (term ${core.term}) committed index ${commit} of term ${s.disk.termAt(commit)} by counting`);
      }
      s.leaderCommitTerm = core.term;
      s.leaderCommitSeen = commit;
    }
    if (commit <= s.commitChecked) return;
    for (let i = s.commitChecked + 1; i <= commit; i++) {
      const c = s.disk.chainAt(i);
      if (c === undefined) continue;
      const cc = this.committedChain[i];
      if (cc === undefined) {
        this.committedChain[i] = c;
        const t = core.term;
        if ((this.maxCommittedInTerm.get(t) ?? 0) < i) this.maxCommittedInTerm.set(t, i);
      } else if (cc !== c) this.fail(`${s.name} committed a different entry at index ${i}`);
    }
    if (commit > this.maxCommitted) this.maxCommitted = commit;
    s.commitChecked = commit;
  }

  onApplied(s: SimServer, index: number, hash: number): void {
    const h = this.appliedHash[index];
    if (h === undefined) this.appliedHash[index] = hash;
    else if (h !== hash) this.fail(`${s.name} state after applying ${index} differs from another server's`);
  }

  onSnapshotInstalled(s: SimServer, index: number, chain: number): void {
    const cc = this.committedChain[index];
    if (cc !== undefined && cc !== chain) this.fail(`${s.name} installed a snapshot at ${index} that differs from the committed log`);
    s.commitChecked = Math.max(s.commitChecked, index);
  }

  onCrash(s: SimServer): void {
    s.commitChecked = 0;
  }
}
