// Membership of a Raft group (NRG): the peer set, cluster size and quorum,
// single-server changes (EntryAddPeer / EntryRemovePeer) applied when stored
// and made official when committed, reverted when truncated away.

import { decodePeerId, encodePeerId, encodePeerState } from './codec.js';
import { RaftCoreBase } from './core-base.js';
import { type AppendEntry, type Entry, EntryType, makeAppendEntry, type PeerState, RaftError } from './types.js';

const EMPTY_DATA = new Uint8Array(0);

export abstract class RaftCoreMembership extends RaftCoreBase {
  // Leader side (core.ts).
  protected abstract leaderTryCommit(): void;
  protected abstract flushQueue(): void;
  protected abstract appendAndSend(entries: Entry[], propSeqEnd: number): void;

  protected currentPeerState(): PeerState {
    return { knownPeers: [...this.peers.keys()], clusterSize: this.csz, domainExt: 0 };
  }

  /** Committed membership as of `index` (a pending change after it is reverted). */
  committedPeerState(index: number): PeerState {
    const mc = this.membChange;
    if (!mc || mc.index <= index) return this.currentPeerState();
    const names = [...this.peers.keys()].filter((p) => p !== mc.peer || !mc.add);
    if (!mc.add && !names.includes(mc.peer)) names.push(mc.peer);
    return { knownPeers: names, clusterSize: names.length, domainExt: 0 };
  }

  protected processPeerState(ps: PeerState, persist: boolean): void {
    this.csz = Math.max(ps.clusterSize, 1);
    this.qn = Math.floor(this.csz / 2) + 1;
    const old = new Map(this.peers);
    this.peers.clear();
    for (const pid of ps.knownPeers) {
      this.peers.set(pid, old.get(pid) ?? { lastSeen: 0, li: 0, match: 0 });
      old.delete(pid);
      this.removed.delete(pid);
    }
    const now = this.env.now();
    for (const pid of old.keys()) this.removed.set(pid, now);
    if (persist) this.host.persistPeerState(ps);
  }

  protected adjustClusterSizeAndQuorum(): void {
    const prev = this.csz;
    this.csz = Math.max(this.peers.size, 1);
    this.qn = Math.floor(this.csz / 2) + 1;
    if (this.csz > prev) this.scaleUpAt = this.env.now();
    else if (this.csz < prev && this._state === 'leader') this.heartbeatAfterCommit = true;
  }

  /** Follower/replay: entries just stored at `index` change membership speculatively. */
  protected trackMembershipEntries(ae: AppendEntry, index: number): void {
    for (const e of ae.entries) {
      if (e.type !== EntryType.AddPeer && e.type !== EntryType.RemovePeer) continue;
      const peer = decodePeerId(e.data);
      if (peer === null) continue;
      if (e.type === EntryType.AddPeer) {
        this.membChange = { index, peer, add: true };
        if (!this.peers.has(peer)) this.peers.set(peer, { lastSeen: 0, li: 0, match: 0 });
      } else {
        const prev = this.peers.get(peer) ?? { lastSeen: 0, li: 0, match: 0 };
        this.membChange = { index, peer, add: false, prev };
        this.peers.delete(peer);
      }
      this.adjustClusterSizeAndQuorum();
    }
  }

  protected trackMembershipEntriesLeader(entries: Entry[], index: number): void {
    if (entries.length !== 1) return;
    const e = entries[0];
    if (e.type === EntryType.AddPeer || e.type === EntryType.RemovePeer) {
      this.trackMembershipEntries(makeAppendEntry('', 0, 0, 0, 0, entries), index);
      this.leaderTryCommit();
    }
  }

  protected reapplyPendingChange(after: number): void {
    const mc = this.membChange;
    if (!mc || mc.index <= after) return;
    if (mc.add) {
      if (!this.peers.has(mc.peer)) this.peers.set(mc.peer, { lastSeen: 0, li: 0, match: 0 });
    } else {
      const p = this.peers.get(mc.peer);
      if (p) mc.prev = p;
      this.peers.delete(mc.peer);
    }
    this.adjustClusterSizeAndQuorum();
  }

  protected revertMembershipChange(): void {
    const mc = this.membChange;
    if (!mc) return;
    if (mc.add) this.peers.delete(mc.peer);
    else {
      this.peers.set(mc.peer, mc.prev ?? { lastSeen: 0, li: 0, match: 0 });
      this.removed.delete(mc.peer);
    }
    this.membChange = null;
    this.adjustClusterSizeAndQuorum();
    this.host.persistPeerState(this.currentPeerState());
  }

  protected addPeerOfficial(peer: string): void {
    this.removed.delete(peer);
    if (!this.peers.has(peer)) this.peers.set(peer, { lastSeen: 0, li: 0, match: 0 });
    this.adjustClusterSizeAndQuorum();
    this.host.persistPeerState(this.currentPeerState());
  }

  protected removePeerOfficial(peer: string): void {
    this.removed.set(peer, this.env.now());
    this.peers.delete(peer);
    this.adjustClusterSizeAndQuorum();
    this.host.persistPeerState(this.currentPeerState());
  }

  protected recentlyRemoved(peer: string): boolean {
    const t = this.removed.get(peer);
    return t !== undefined && this.env.now() - t < this.timing.peerRejoinMs;
  }

  protected trackPeerSeen(peer: string): void {
    const p = this.peers.get(peer);
    if (p) p.lastSeen = this.env.now();
    else if (this._state === 'leader' && !this.managed && !this.recentlyRemoved(peer) && this.leaderReady) {
      this.proposeAddPeerInternal(peer);
    }
  }

  protected proposeAddPeerInternal(peer: string): void {
    if (this.membChange === null && !this.peers.has(peer)) this.sendMembershipChange(EntryType.AddPeer, peer);
  }

  /**
   * Leader: add a peer (one membership change at a time). Only once the
   * leader's own first entry committed, so a change never races one left
   * uncommitted by an earlier leader (single-server change safety).
   */
  proposeAddPeer(peer: string): void {
    if (this._state !== 'leader') throw new RaftError('not_leader');
    if (this.membChange) throw new RaftError('membership_change');
    if (!this.leaderReady) throw new RaftError('not_leader');
    if (this.peers.has(peer)) return;
    this.sendMembershipChange(EntryType.AddPeer, peer);
  }

  /** Remove a peer; a follower forwards the request to the leader. */
  proposeRemovePeer(peer: string): void {
    if (this._state === 'closed') throw new RaftError('closed');
    if (this._state !== 'leader') {
      this.host.sendRaw(this.removePeerSubject, '', encodePeerId(peer));
      return;
    }
    if (this.membChange) throw new RaftError('membership_change');
    if (!this.leaderReady) throw new RaftError('not_leader');
    if (!this.peers.has(peer)) throw new RaftError('peer_not_found');
    if (this.peers.size <= 1) throw new RaftError('remove_last_node');
    this.sendMembershipChange(EntryType.RemovePeer, peer);
  }

  handleForwardedRemovePeer(data: Uint8Array, reply: string): void {
    const peer = decodePeerId(data);
    if (peer === null || this._state !== 'leader' || !this.leaderReady) return;
    if (this.membChange || !this.peers.has(peer) || this.peers.size <= 1) return;
    this.sendMembershipChange(EntryType.RemovePeer, peer);
    if (reply) this.host.sendRaw(reply, '', EMPTY_DATA);
  }

  protected sendMembershipChange(type: number, peer: string): void {
    // Keep proposal order: whatever is queued goes out first, the change alone.
    if (this.queue.length > 0) this.flushQueue();
    this.appendAndSend([{ type, data: encodePeerId(peer) }], 0);
  }

  /** Leader: set the expected cluster size (floor 2, as NRG) and send a peer state. */
  adjustClusterSize(size: number): void {
    if (this._state !== 'leader') throw new RaftError('not_leader');
    this.csz = Math.max(size, 2);
    this.qn = Math.floor(this.csz / 2) + 1;
    if (this.queue.length > 0) this.flushQueue();
    this.appendAndSend([{ type: EntryType.PeerState, data: encodePeerState(this.currentPeerState()) }], 0);
  }

  /**
   * An authority outside this group (the meta group's committed assignment) removed peers for
   * good, and the rest can never form a quorum of the current membership to remove them by
   * entries (e.g. two stopped servers of three). Adopt `keep` as the membership; the survivors
   * then elect among themselves (nats-server keeps such a group running with its remaining peers).
   * A leader may do it only while it stays (a consumer scaled down to fewer replicas than a
   * quorum, its leader kept: nats-server's UpdateKnownPeers); it goes on leading the smaller group.
   */
  forceKnownPeers(keep: readonly string[]): void {
    if (this._state === 'closed' || (this._state === 'leader' && !keep.includes(this.id))) throw new RaftError('not_leader');
    if (keep.length === 0) return;
    this.membChange = null;
    this.processPeerState({ knownPeers: [...keep], clusterSize: keep.length, domainExt: 0 }, true);
    if (this._state !== 'leader') return;
    // In the log too: a peer added later replays it and takes this membership, not the older one
    // of earlier entries. Committing it also commits what only the removed peers held back.
    if (this.queue.length > 0) this.flushQueue();
    this.appendAndSend([{ type: EntryType.PeerState, data: encodePeerState(this.currentPeerState()) }], 0);
  }

  /** Only while the group never had a leader: set the bootstrap cluster size (floor 2). */
  adjustBootClusterSize(size: number): void {
    if (this._leader !== '' || this.hadLeader) throw new RaftError('bad_message', 'raft: can not adjust boot peer size on established group');
    this.csz = Math.max(size, 2);
    this.qn = Math.floor(this.csz / 2) + 1;
  }

}
