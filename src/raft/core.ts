// The pure Raft state machine of one NRG group member.
//
// Behaviour follows nats-server's NRG (server/raft.go upstream): one append entry
// (AE) per log index, AEs broadcast on $NRG.AE.<group>, lagging followers
// pull a catch-up stream from the leader, no pre-vote, a new leader's first
// entry is an EntryPeerState, single-server membership changes applied when
// appended and made official on commit.
//
// Where we deliberately differ (all wire-compatible):
// * A follower acknowledges only what is durable: responses report the last
//   fsync'ed index, sent when the group-commit fsync completes.
// * A duplicate or delayed AE never truncates entries we already hold; only
//   a real conflict does, and it skips back over every entry whose term is
//   higher than the leader's term at that point (fast back-off), then asks
//   for catch-up at once instead of waiting for the next heartbeat.
// * Each candidacy uses a fresh vote inbox, so a granted vote can be counted
//   even when the voter (nats-server 2.9.10) reports its pre-vote term.
// * Followers acknowledge catch-up entries (as 2.9.10 did) so the leader can
//   pace the stream; the acks are durable and truthful, so safe for quorum.
//
// The core is split into layers (see core-base.ts): shared state in
// core-base.ts, membership in core-membership.ts, elections in
// core-elections.ts; this module holds the log side: append entries,
// commit and apply, the leader's replication, proposals and snapshots.

import { decodePeerId, decodePeerState, encodePeerState, entryLength, WireEntry } from './codec.js';
import type { CoreConfig, RaftEnv, RaftHost, RestoredState } from './core-types.js';
import { RaftCoreElections } from './core-elections.js';
import { injectedFaults } from './test-faults.js';
import { catchupInbox, randomToken } from './subjects.js';
import {
  type AppendEntry,
  type AppendEntryResponse,
  type Entry,
  EntryType,
  makeAppendEntry,
  type PeerState,
  RaftError,
} from './types.js';

const EMPTY_ENTRIES: Entry[] = [];

/** The first catch-up AE a leader sends when the follower is behind its snapshot. */
function isSnapshotPair(ae: AppendEntry): boolean {
  const es = ae.entries;
  return es.length === 2 && es[0].type === EntryType.Snapshot && es[1].type === EntryType.PeerState;
}
const EMPTY_DATA = new Uint8Array(0);

export class RaftCore extends RaftCoreElections {
  constructor(cfg: CoreConfig, env: RaftEnv, host: RaftHost, restored?: RestoredState) {
    super(cfg, env, host);
    if (restored) {
      this._term = restored.term;
      this._vote = restored.vote;
    }
    if (restored?.snapshot) {
      const s = restored.snapshot;
      this.snapIndex = this.pindex = this._commit = this.durable = s.lastIndex;
      this.snapTerm = this.pterm = s.lastTerm;
      this.processPeerState(s.peerState, false);
    } else if (restored?.peerState) {
      this.processPeerState(restored.peerState, false);
    } else {
      const size = Math.max(cfg.clusterSize ?? cfg.peers.length, cfg.peers.length, 1);
      this.processPeerState({ knownPeers: [...cfg.peers], clusterSize: size, domainExt: 0 }, true);
    }
    this.replayLog();
    this.lastAckIndex = this.durable;
    this.initializing = !cfg.recovering && this.pindex === 0 && !this.stateLost;
    if (this.stateLost) this.warn('recovery lost state: voting as an empty log and not campaigning until a leader has caught us up');

    host.subscribe(this.voteSubject, 'vote-request');
    host.subscribe(this.aeSubject, 'append-entry');
    host.subscribe(this.aeReply, 'append-response');
    this.resetElectionTimeout();
    this.lastQuorumSignalAt = env.now();
  }

  // ------------------------------------------------------------------ time

  /** Advance timers to env.now(); call at or after nextDeadline(). */
  tick(): void {
    if (this._state === 'closed') return;
    const now = this.env.now();
    if (this._state === 'leader') {
      if (now >= this.nextHeartbeatAt) {
        this.nextHeartbeatAt = now + this.timing.heartbeatMs;
        if (now - this.lastStoreAt >= this.timing.heartbeatMs) this.sendHeartbeat();
      }
      if (now >= this.nextLostQuorumCheckAt) {
        this.nextLostQuorumCheckAt = now + this.timing.lostQuorumMs;
        if (!(this.scaleUpAt > 0 && now - this.scaleUpAt < this.timing.lostQuorumMs) && this.lostQuorum(now)) {
          this.debug('lost quorum, stepping down');
          this.switchToFollower('');
          return;
        }
      }
      this.runs.expire(now);
      return;
    }
    if (now >= this.electionDeadline) this.onElectionTimeout(now);
  }

  // ------------------------------------------------------------------ persistence helpers

  /** Durable position reported by the driver (after fsync). */
  persisted(index: number): void {
    if (this._state === 'closed') return;
    if (index > this.pindex) index = this.pindex;
    if (index <= this.durable) return;
    this.durable = index;
    if (this._state === 'leader') this.leaderTryCommit();
    else this.sendPendingAck();
  }

  termAt(index: number): number {
    if (index === 0) return 0;
    if (index === this.snapIndex) return this.snapTerm;
    if (index > this.pindex) return -1;
    const c = this.cache.get(index);
    if (c) return c.term;
    return this.host.termAt(index);
  }

  private readEntry(index: number): AppendEntry | undefined {
    return this.cache.get(index) ?? this.host.read(index);
  }

  private cachePut(index: number, ae: AppendEntry): void {
    if (this.cache.size < this.timing.cacheMaxEntries) this.cache.set(index, ae);
    else this.cache.delete(index);
  }

  // ------------------------------------------------------------------ restore

  /** Rebuild pindex/pterm, membership and commit from the stored log (NRG replay). */
  private replayLog(): void {
    const first = this.host.firstIndex();
    const last = this.host.lastIndex();
    if (last < first) return;
    const ae0 = this.host.read(first);
    if (!ae0 || ae0.pindex !== first - 1 || ae0.pindex !== this.pindex) {
      this.warn(`log does not line up with snapshot at ${this.pindex} (first ${first}), truncating`);
      this.host.truncateLog(this.pindex);
      return;
    }
    for (let i = first; i <= last; i++) {
      const ae = i === first ? ae0 : this.host.read(i);
      if (!ae || ae.pindex !== i - 1 || ae.pterm !== this.pterm) {
        this.warn(`corrupt or misaligned log entry at ${i}, truncating`);
        this.host.truncateLog(i - 1);
        break;
      }
      this.pterm = ae.term;
      this.pindex = i;
      this.trackMembershipEntries(ae, i);
      const c = Math.min(ae.commit, i);
      if (c > this._commit) this.commitTo(c);
    }
    // A restarted node's log has been synced by the driver before replay.
    this.durable = this.pindex;
  }

  // ------------------------------------------------------------------ append entries (follower side)

  /**
   * An AE arriving on `subject`: the group's AE subject (live) or a catch-up
   * inbox. `reply` is the leader's AE-response inbox.
   */
  handleAppendEntry(ae: AppendEntry, reply: string, subject: string): void {
    if (this._state === 'closed') return;
    if (!this.lxfer) this.resetElectionTimeout();
    const isNew = subject === this.aeSubject;
    const lterm = ae.lterm !== 0 ? ae.lterm : ae.term;

    if (this._state === 'leader') {
      if (lterm >= this._term) {
        if (lterm > this._term) {
          this._term = lterm;
          this._vote = '';
          if (!this.persistTermVote()) return;
        }
        this.debug(`AE from another leader ${ae.leader}, stepping down`);
        this.switchToFollower(ae.leader);
      } else {
        if (reply) this.respond(reply, this._term, this.pindex, false, '');
        return;
      }
    }
    if (this._state === 'candidate' && lterm >= this._term) {
      if (lterm > this._term) {
        this._term = lterm;
        this._vote = '';
        if (!this.persistTermVote()) return;
      }
      this.switchToFollower(ae.leader);
      this.host.leaderSignal(false, this._term);
    }

    let catchingUp = this.catchup !== null;
    // Entries on an inbox we no longer listen to are stale: ignore.
    if (!isNew && (!this.catchup || subject !== this.catchup.inbox)) return;

    if (lterm > this._term) {
      this._term = lterm;
      this._vote = '';
      if (!this.persistTermVote()) return;
      if (this._state !== 'follower') this.switchToFollower(ae.leader);
      else this.host.stateChanged();
    } else if (lterm < this._term) {
      if (isNew) {
        if (reply) this.respond(reply, this._term, this.pindex, false, '');
        return;
      }
      // Catch-up from a newer server always carries lterm; without it
      // (2.9.10 leader) the entries keep their original, older terms.
      if (ae.lterm !== 0) return;
    }

    if (this.catchup) {
      const cs = this.catchup;
      if ((this.pterm >= cs.cterm && this.pindex >= cs.cindex) || (isNew && ae.pindex <= this.pindex)) {
        // Caught up, or the leader's position lies inside our log (we may
        // hold a divergent tail the stream can never fix): process normally.
        this.cancelCatchup();
        catchingUp = false;
      } else if (isNew) {
        if (this.catchupStalled(this.env.now())) this.requestCatchup(ae, reply);
        return;
      }
    }

    if (isNew && this._leader !== ae.leader && this._state === 'follower') {
      this.updateLeader(ae.leader);
      this.resetElectionTimeout();
      this.host.leaderSignal(false, this._term);
      this.host.stateChanged();
    }
    if (isNew && ae.leader !== '' && ae.leader === this._leader) {
      const p = this.peers.get(ae.leader);
      const now = this.env.now();
      if (p) p.lastSeen = now;
      this.leaderContactAt = now;
      this.cancelProbe();
      if (this.goneLeaderUntil !== 0) {
        this.goneLeaderUntil = 0;
        if (!this.lxfer) this.resetElectionTimeout();
      }
      if (this.commitAheadTerm !== 0 && (ae.term !== this.commitAheadTerm || ae.pindex >= this._commit)) {
        this.commitAheadTerm = 0;
        this.host.stateChanged();
      }
    }

    // A leader's catch-up snapshot (+ peer state) is installed when it is
    // ahead of us and never stored as a log entry (duplicates included).
    if (!isNew && isSnapshotPair(ae)) {
      if (ae.pindex > this.pindex) this.installLeaderSnapshot(ae);
      return;
    }
    if (ae.pterm !== this.pterm || ae.pindex !== this.pindex) {
      if (ae.pindex <= this.pindex) {
        this.handleOverlap(ae, reply, isNew);
        return;
      }
      if (catchingUp) {
        // A gap in the catch-up stream (lost or reordered entries): ask again
        // from where we are rather than wait for a full stall, but not more
        // often than a quarter stall interval (each request restarts the
        // leader's stream).
        const cs = this.catchup!;
        if (this.env.now() - cs.requestedAt >= this.timing.catchupStallMs / 4) this.requestCatchup(ae, reply);
        return;
      }
      this.requestCatchup(ae, reply);
      return;
    }
    this.acceptAppendEntry(ae, reply, isNew);
  }

  /** ae.pterm/pindex line up with our last entry: store, commit, acknowledge. */
  private acceptAppendEntry(ae: AppendEntry, reply: string, isNew: boolean): void {
    if (isNew && this.stateLost && ae.leader === this._leader) {
      // A live AE lines up with our log: we hold the leader's log up to its
      // latest entry, so ours is complete again.
      this.stateLost = false;
      this.warn(`caught up by leader ${ae.leader} at ${ae.pindex}: state recovered, voting and campaigning again`);
      this.host.stateChanged();
    }
    if (ae.entries.length > 0) {
      const index = this.pindex + 1;
      this.host.appendLog(index, ae);
      this.cachePut(index, ae);
      this.pterm = ae.term;
      this.pindex = index;
      this.initializing = false;
      this.trackMembershipEntries(ae, index);
      if (isNew) this.checkLeaderTransfer(ae);
    }
    if (ae.commit > this._commit) this.commitTo(Math.min(ae.commit, this.pindex));
    if (reply && this._state !== 'closed') {
      this.ackReply = reply;
      this.ackTarget = this.pindex;
      this.sendPendingAck();
    }
  }

  /**
   * The AE starts at or before our last entry. Either we already hold it
   * (duplicate/delayed: nothing to do), or our log conflicts with the
   * leader's from some point, which we cut away before asking for catch-up.
   * Never answers with success here: only acceptAppendEntry may.
   */
  private handleOverlap(ae: AppendEntry, reply: string, isNew: boolean): void {
    if (ae.pindex < this._commit) {
      // Our committed prefix always matches the leader's. A live AE of the
      // current leader ending below our commit means the leader's log lost
      // committed entries: nothing we can fix here, but never silently.
      const leaderLast = ae.pindex + (ae.entries.length > 0 ? 1 : 0);
      if (isNew && ae.leader === this._leader && ae.term === this._term && leaderLast < this._commit && this.commitAheadTerm !== ae.term) {
        this.commitAheadTerm = ae.term;
        this.warn(`commit ${this._commit} is ahead of leader ${ae.leader}'s log (last ${leaderLast}, term ${ae.term}): the leader lost committed entries; ignoring its appends below our commit`);
        this.host.stateChanged();
      }
      return;
    }
    const myTerm = this.termAt(ae.pindex);
    if (myTerm === ae.pterm) {
      const next = ae.pindex + 1;
      if (ae.entries.length === 0) {
        // Heartbeat behind our tail: we already match up to ae.pindex.
        if (ae.commit > this._commit) this.commitTo(Math.min(ae.commit, ae.pindex));
        return;
      }
      const have = this.termAt(next);
      if (have === ae.term) {
        // Already stored (duplicate or delayed): never truncate for it.
        if (ae.commit > this._commit) this.commitTo(Math.min(ae.commit, next));
        return;
      }
      if (next <= this._commit) return;
      // Real conflict at `next`: drop it and everything after, then store.
      this.truncateLog(ae.pindex);
      this.acceptAppendEntry(ae, reply, isNew);
      return;
    }
    if (myTerm < 0) return; // below our snapshot: nothing we can compare
    // Our entry at ae.pindex conflicts. Skip back over every entry whose term
    // is higher than the leader's term there (they cannot be the leader's).
    let keep = ae.pindex - 1;
    const floor = Math.max(this._commit, this.snapIndex);
    while (keep > floor) {
      const t = this.termAt(keep);
      if (t >= 0 && t <= ae.pterm) break;
      keep--;
    }
    if (keep < floor) keep = floor;
    this.truncateLog(keep);
    if (reply) this.requestCatchup(ae, reply);
    else this.cancelCatchup();
  }

  private truncateLog(lastKept: number): void {
    if (lastKept < this._commit) {
      this.warn(`refusing to truncate below commit (${lastKept} < ${this._commit})`);
      return;
    }
    if (lastKept >= this.pindex) return;
    this.host.truncateLog(lastKept);
    for (let i = lastKept + 1; i <= this.pindex; i++) this.cache.delete(i);
    this.pterm = this.termAt(lastKept);
    this.pindex = lastKept;
    if (this.durable > lastKept) this.durable = lastKept;
    if (this.lastAckIndex > lastKept) this.lastAckIndex = lastKept;
    if (this.membChange && this.membChange.index > lastKept) this.revertMembershipChange();
  }

  private requestCatchup(ae: AppendEntry, reply: string): void {
    if (this.catchup) this.host.unsubscribe(this.catchup.inbox);
    const inbox = catchupInbox(randomToken(this.env.random));
    const now = this.env.now();
    this.catchup = { cterm: ae.pterm, cindex: ae.pindex, pindex: this.pindex, activeAt: now, requestedAt: now, inbox };
    this.host.subscribe(inbox, 'catchup');
    if (reply) this.respond(reply, this.pterm, this.pindex, false, inbox);
  }

  protected cancelCatchup(): void {
    if (!this.catchup) return;
    this.host.unsubscribe(this.catchup.inbox);
    this.catchup = null;
  }

  protected catchupStalled(now: number): boolean {
    const cs = this.catchup;
    if (!cs) return false;
    if (cs.pindex === this.pindex) return now - cs.activeAt > this.timing.catchupStallMs;
    cs.pindex = this.pindex;
    cs.activeAt = now;
    return false;
  }

  private installLeaderSnapshot(ae: AppendEntry): void {
    const es = ae.entries;
    const ps = decodePeerState(es[1].data);
    if (ps instanceof RaftError) {
      this.cancelCatchup();
      return;
    }
    if (ae.pindex < this._commit) return;
    this.processPeerState(ps, true);
    this.membChange = null;
    const data = Uint8Array.from(es[0].data);
    if (!this.host.installSnapshot({ lastTerm: ae.pterm, lastIndex: ae.pindex, peerState: encodePeerState(ps), data })) {
      this.failWrite('snapshot');
      return;
    }
    this.cache.clear();
    this.snapIndex = this.pindex = this._commit = this.durable = ae.pindex;
    this.snapTerm = this.pterm = ae.pterm;
    this.lastAckIndex = ae.pindex;
    this.initializing = false;
    // Hand the snapshot up; the upper layer replaces its state with it.
    this._applied = Math.min(this._applied, ae.pindex);
    this.host.apply(ae.pindex, [{ type: EntryType.Snapshot, data }]);
  }

  private checkLeaderTransfer(ae: AppendEntry): void {
    for (const e of ae.entries) {
      if (e.type === EntryType.LeaderTransfer) this.transferTarget = decodePeerId(e.data) ?? '';
      if (e.type === EntryType.LeaderTransfer && decodePeerId(e.data) === this.id && !this.observer) {
        this.lxfer = true;
        this.resetElect(this.timing.transferCampaignMs);
      }
    }
  }

  private respond(subject: string, term: number, index: number, success: boolean, replyTo: string): void {
    const ar: AppendEntryResponse = { term, index, peer: this.id, success };
    this.host.sendAppendEntryResponse(subject, replyTo, ar);
  }

  /** Acknowledge what is durable to the latest leader that asked. */
  private sendPendingAck(): void {
    if (!this.ackReply) return;
    const d = this.durable;
    if (d > this.lastAckIndex || d >= this.ackTarget) {
      const t = this.termAt(d);
      if (t < 0) return;
      const reply = this.ackReply;
      if (d >= this.ackTarget) this.ackReply = '';
      this.lastAckIndex = d;
      this.respond(reply, t, d, true, '');
    }
  }

  // ------------------------------------------------------------------ commit and apply

  private commitTo(target: number): void {
    while (this._commit < target && this._state !== 'closed') {
      const i = this._commit + 1;
      if (i <= this.snapIndex) {
        this._commit = i;
        continue;
      }
      const ae = this.readEntry(i);
      if (!ae) {
        this.warn(`cannot load committed entry ${i}`);
        return;
      }
      this._commit = i;
      this.cache.delete(i);
      this.applyEntries(i, ae);
    }
  }

  private applyEntries(index: number, ae: AppendEntry): void {
    const es = ae.entries;
    let allNormal = true;
    for (let k = 0; k < es.length; k++) {
      if (es[k].type !== EntryType.Normal) {
        allNormal = false;
        break;
      }
    }
    // Fast path: a batch of plain proposals goes up as is.
    let up: Entry[] = allNormal ? es : [];
    let removedSelf = false;
    if (!allNormal) {
      for (const e of es) {
        switch (e.type) {
          case EntryType.Normal:
          case EntryType.Snapshot:
            up.push(e);
            break;
          case EntryType.OldSnapshot:
            up.push({ type: EntryType.Snapshot, data: e.data });
            break;
          case EntryType.PeerState:
            if (this._state !== 'leader') {
              const ps = decodePeerState(e.data);
              if (!(ps instanceof RaftError)) {
                this.processPeerState(ps, true);
                // A membership change stored after this entry still holds.
                this.reapplyPendingChange(index);
              }
            }
            break;
          case EntryType.AddPeer:
          case EntryType.RemovePeer: {
            const peer = decodePeerId(e.data);
            if (peer === null) break;
            // A leader skips a change it reverted; followers apply what committed.
            if (this.membChange === null && this._state === 'leader') break;
            if (e.type === EntryType.AddPeer) this.addPeerOfficial(peer);
            else {
              this.removePeerOfficial(peer);
              if (peer === this.id && this._state === 'leader') removedSelf = true;
            }
            if (this.membChange && this.membChange.index <= index) this.membChange = null;
            up.push(e);
            break;
          }
          default:
            break;
        }
      }
      if (up.length === 0) up = EMPTY_ENTRIES;
    }
    this.host.apply(index, up);
    this.notifyProposalsCommitted(index);
    if (removedSelf) {
      this.debug('removed from the group, stepping down');
      this.transferAndStepDown('');
      this.close();
    }
  }

  /** Driver: entries up to `index` have been applied by the upper layer. */
  appliedTo(index: number): void {
    if (index > this._commit) index = this._commit;
    if (index > this._applied) this._applied = index;
    this.maybeSignalLeader();
  }

  // ------------------------------------------------------------------ leader side

  handleAppendEntryResponse(ar: AppendEntryResponse, reply: string): void {
    if (this._state === 'closed') return;
    this.trackPeerSeen(ar.peer);
    if (ar.success) {
      if (this._state !== 'leader') return;
      const p = this.peers.get(ar.peer);
      if (p && ar.index > p.li) p.li = ar.index;
      this.runs.acknowledged(ar.peer, ar.index, this.env.now(), this.readEntryFn, this._term);
      if (ar.index <= this._commit || (ar.term !== this._term && !injectedFaults.commitEarlierTermByCounting) || !p) return;
      if (ar.index > p.match) p.match = Math.min(ar.index, this.pindex);
      this.leaderTryCommit();
    } else if (reply) {
      if (this._state === 'leader') this.catchupFollower(ar, reply);
    } else if (ar.term > this._term) {
      this._term = ar.term;
      this._vote = '';
      if (!this.persistTermVote()) return;
      this.debug('response with a higher term, stepping down');
      if (this._state !== 'follower') this.switchToFollower('');
    }
  }

  private readonly readEntryFn = (i: number): AppendEntry | undefined => this.readEntry(i);

  private catchupFollower(ar: AppendEntryResponse, inbox: string): void {
    // ar = the follower's last entry (term, index). Every entry of the
    // follower up to it has a term <= ar.term, so where our log has a higher
    // term the logs differ: start below those entries (fast back-off; the
    // follower truncates what does not match and asks again if needed).
    const first = Math.max(this.host.firstIndex(), this.snapIndex + 1);
    let from = Math.min(ar.index, this.pindex);
    while (from >= first && this.termAt(from) > ar.term) from--;
    let start = from + 1;
    if (start <= this.snapIndex || (start < first && this.snapIndex > 0)) {
      const snap = this.host.loadSnapshot();
      if (!snap) {
        this.warn('need a snapshot for catch-up but have none, stepping down');
        this.switchToFollower('');
        return;
      }
      const sae = makeAppendEntry(this.id, this._term, this._commit, snap.lastTerm, snap.lastIndex, [
        { type: EntryType.Snapshot, data: snap.data },
        { type: EntryType.PeerState, data: snap.peerState },
      ]);
      this.host.sendAppendEntry(inbox, this.aeReply, sae);
      start = snap.lastIndex + 1;
    }
    if (start > this.pindex) {
      this.runs.cancel(ar.peer);
      this.catchupDone(ar.peer);
      return;
    }
    if (start < first) {
      this.warn(`catch-up from ${start} but the log starts at ${first}, stepping down`);
      this.switchToFollower('');
      return;
    }
    this.runs.start(ar.peer, inbox, start, this.pindex, this.env.now(), this.readEntryFn, this._term, this.aeReply, (peer) =>
      this.catchupDone(peer),
    );
  }

  private catchupDone(peer: string): void {
    if (this._state === 'leader' && !this.managed && !this.peers.has(peer) && !this.recentlyRemoved(peer)) {
      this.proposeAddPeerInternal(peer);
    }
  }

  protected leaderTryCommit(): void {
    if (this._state !== 'leader') return;
    const vals = this.commitScratch;
    let n = 0;
    for (const [pid, p] of this.peers) vals[n++] = pid === this.id ? this.durable : p.match;
    if (n < this.qn) return;
    vals.length = n;
    vals.sort((a, b) => b - a);
    const candidate = vals[this.qn - 1];
    // Only an entry of our own term commits by counting (earlier ones follow it).
    if (candidate > this._commit && (this.termAt(candidate) === this._term || injectedFaults.commitEarlierTermByCounting)) {
      this.commitTo(candidate);
      this.heartbeatAfterCommit = true;
    }
  }

  protected appendAndSend(entries: Entry[], propSeqEnd: number): void {
    const ae = makeAppendEntry(this.id, this._term, this._commit, this.pterm, this.pindex, entries);
    const index = this.pindex + 1;
    this.host.appendLog(index, ae);
    this.cachePut(index, ae);
    this.pterm = this._term;
    this.pindex = index;
    this.lastStoreAt = this.env.now();
    if (propSeqEnd > 0) {
      ae.propSeqEnd = propSeqEnd;
      this.propMarks.push(index, propSeqEnd);
    }
    this.trackMembershipEntriesLeader(entries, index);
    this.host.sendAppendEntry(this.aeSubject, this.aeReply, ae);
    this.heartbeatAfterCommit = false;
  }

  private sendHeartbeat(): void {
    this.host.sendAppendEntry(
      this.aeSubject,
      this.aeReply,
      makeAppendEntry(this.id, this._term, this._commit, this.pterm, this.pindex, EMPTY_ENTRIES),
    );
  }

  // ------------------------------------------------------------------ proposals

  private isOverrun(): boolean {
    const applied = Math.max(this._applied, this.snapIndex);
    const commit = Math.max(this._commit, this.snapIndex);
    const t = this.timing.overrunThreshold;
    return this.pindex - commit > t || commit - applied > t;
  }

  /**
   * Queue a proposal on the leader. Returns the local proposal sequence number
   * (reported back through proposalsCommitted/proposalsAbandoned). `term`,
   * when given, fences the proposal to that leadership term.
   */
  propose(data: Uint8Array, term?: number): number {
    return this.enqueue({ type: EntryType.Normal, data }, term);
  }

  /**
   * propose() of `src[start, end)`: for many small proposals written into one shared buffer, one
   * object each instead of a Buffer and an entry. The caller never rewrites those bytes.
   */
  proposeRange(src: Uint8Array, start: number, end: number, term?: number): number {
    return this.enqueue(new WireEntry(EntryType.Normal, src, start, end), term);
  }

  private enqueue(entry: Entry, term: number | undefined): number {
    if (this._state !== 'leader' || (term !== undefined && term !== this._term)) throw new RaftError('not_leader');
    if (this.isOverrun()) {
      this.warn('leader overrun, stepping down');
      this.switchToFollower('');
      throw new RaftError('not_leader');
    }
    const seq = this.nextPropSeq++;
    this.queue.push(entry);
    this.queueBytes += entryLength(entry) + 1;
    this.queueSeqEnd = seq;
    if (this.queue.length >= this.timing.maxBatchEntries || this.queueBytes >= this.timing.maxBatchBytes) this.flushQueue();
    return seq;
  }

  /** A follower sends a proposal to the leader ($NRG.P.<group>); on the leader it is propose(). */
  forwardProposal(data: Uint8Array): void {
    if (this._state === 'closed') throw new RaftError('closed');
    if (this._state === 'leader') {
      this.propose(data);
      return;
    }
    this.host.sendRaw(this.proposalSubject, '', data);
  }

  handleForwardedProposal(data: Uint8Array, reply: string): void {
    if (this._state !== 'leader' || !this.leaderReady) return;
    if (this.isOverrun()) {
      this.switchToFollower('');
      return;
    }
    this.queue.push({ type: EntryType.Normal, data });
    this.queueBytes += data.length + 1;
    if (reply) this.forwardedReplies.push(reply);
    if (this.queue.length >= this.timing.maxBatchEntries || this.queueBytes >= this.timing.maxBatchBytes) this.flushQueue();
  }

  /** True when flush() has work: queued proposals or a commit to announce. */
  get needsFlush(): boolean {
    return this._state === 'leader' && (this.queue.length > 0 || this.heartbeatAfterCommit);
  }

  /** True when the leader's commit index moved and no append entry has carried it yet. */
  get commitUnannounced(): boolean {
    return this._state === 'leader' && this.heartbeatAfterCommit;
  }

  /**
   * Sends the commit index to the followers now, before the driver delivers the newly committed
   * entries to the upper layer (NRG sends its heartbeat as soon as a quorum answered and leaves
   * the apply to another goroutine). As NRG, a heartbeat only when no proposals wait: otherwise
   * the append entry that carries them (end of turn) also carries the commit.
   */
  announceCommit(): void {
    if (!this.commitUnannounced || this.queue.length > 0) return;
    this.heartbeatAfterCommit = false;
    this.sendHeartbeat();
  }

  /** Driver: end of a batch of inputs; sends queued proposals and a pending heartbeat. */
  flush(): void {
    if (this._state !== 'leader') return;
    if (this.queue.length > 0) this.flushQueue();
    if (this.heartbeatAfterCommit) {
      this.heartbeatAfterCommit = false;
      this.sendHeartbeat();
    }
  }

  protected flushQueue(): void {
    const entries = this.queue;
    const seqEnd = this.queueSeqEnd > this.committedPropSeq ? this.queueSeqEnd : 0;
    this.queue = [];
    this.queueBytes = 0;
    this.queueSeqEnd = 0;
    this.appendAndSend(entries, seqEnd);
    if (this.forwardedReplies.length > 0) {
      for (const r of this.forwardedReplies) this.host.sendRaw(r, '', EMPTY_DATA);
      this.forwardedReplies = [];
    }
  }

  private notifyProposalsCommitted(index: number): void {
    const m = this.propMarks;
    if (m.length === 0 || m[0] > index) return;
    let seq = 0;
    let k = 0;
    while (k < m.length && m[k] <= index) {
      seq = m[k + 1];
      k += 2;
    }
    m.splice(0, k);
    if (seq > this.committedPropSeq) {
      this.committedPropSeq = seq;
      this.host.proposalsCommitted(seq, index);
    }
  }

  protected abandonProposals(): void {
    this.queue = [];
    this.queueBytes = 0;
    this.queueSeqEnd = 0;
    this.forwardedReplies = [];
    this.propMarks = [];
    const last = this.nextPropSeq - 1;
    if (last > this.committedPropSeq) {
      const from = this.committedPropSeq + 1;
      this.committedPropSeq = last;
      this.host.proposalsAbandoned(from, last);
    }
  }

  // ------------------------------------------------------------------ leadership API

  setObserver(on: boolean): void {
    const was = this.observer;
    this.observer = on;
    if (was && !on) this.resetElectionTimeout();
    this.host.stateChanged();
  }

  /** Stop taking part; the driver stops delivering input. */
  close(): void {
    if (this._state === 'closed') return;
    const wasLeader = this._state === 'leader';
    this._state = 'closed';
    this.cancelCatchup();
    this.runs.clear();
    if (this.voteInbox) this.host.unsubscribe(this.voteInbox);
    if (wasLeader) {
      this.host.unsubscribe(this.proposalSubject);
      this.host.unsubscribe(this.removePeerSubject);
      this.abandonProposals();
      this.host.leaderSignal(false, this._term);
    }
    this.host.unsubscribe(this.voteSubject);
    this.host.unsubscribe(this.aeSubject);
    this.host.unsubscribe(this.aeReply);
    this.host.stateChanged();
  }

  // ------------------------------------------------------------------ snapshots

  /**
   * Metadata for a snapshot at the applied index, or an error when none may
   * be taken now (nothing new applied, or catch-ups running and !force).
   */
  prepareSnapshot(force = false): { lastIndex: number; lastTerm: number; peerState: PeerState } | RaftError {
    if (this._state === 'closed') return new RaftError('closed');
    if (!force && this.runs.size > 0) return new RaftError('snapshot_in_progress');
    const idx = this._applied;
    if (idx === 0 || idx <= this.snapIndex) return new RaftError('snapshot_not_allowed');
    const t = this.termAt(idx);
    if (t < 0) return new RaftError('snapshot_not_allowed');
    return { lastIndex: idx, lastTerm: t, peerState: this.committedPeerState(idx) };
  }

  /** Driver: the snapshot file is durable and the log compacted through lastIndex. */
  snapshotInstalled(lastIndex: number, lastTerm: number): void {
    if (lastIndex <= this.snapIndex) return;
    this.snapIndex = lastIndex;
    this.snapTerm = lastTerm;
    // The snapshot file is durable: so is everything it covers.
    if (this.durable < lastIndex) this.durable = lastIndex;
    for (const k of this.cache.keys()) if (k <= lastIndex) this.cache.delete(k);
    if (this.pindex < lastIndex) {
      this.pindex = lastIndex;
      this.pterm = lastTerm;
    }
  }

  /** Leader: replicate an upper-layer snapshot as an EntrySnapshot (scale-up). */
  sendSnapshot(data: Uint8Array): void {
    if (this._state !== 'leader') throw new RaftError('not_leader');
    if (this.queue.length > 0) this.flushQueue();
    this.appendAndSend([{ type: EntryType.Snapshot, data }], 0);
  }
}
