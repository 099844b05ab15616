// Interfaces between the pure Raft core and whoever drives it (the real
// node in node.ts, the deterministic simulator in sim/). The core owns no
// timers, no I/O and no randomness: time and randomness come from RaftEnv,
// every effect goes out through RaftHost.

import type { AppendEntry, AppendEntryResponse, Entry, PeerState, VoteRequest, VoteResponse } from './types.js';

/** NRG timing constants (server/raft.go: minElectionTimeout, hbInterval, lostQuorumInterval, ...). Tests and the sim may shrink them. */
export interface RaftTiming {
  electionTimeoutMinMs: number;
  electionTimeoutMaxMs: number;
  campaignTimeoutMinMs: number;
  campaignTimeoutMaxMs: number;
  heartbeatMs: number;
  /** A leader that heard from less than a quorum within this window steps down; checked at this interval. */
  lostQuorumMs: number;
  /** A failing candidate signals "no quorum" to the upper layer at most this often. */
  lostQuorumSignalMs: number;
  /** Follower: a catch-up with no pindex progress for this long is re-requested. */
  catchupStallMs: number;
  /** Leader: a catch-up run with no acknowledgement for this long ends. */
  leaderCatchupStallMs: number;
  /** Leader: unacknowledged catch-up bytes allowed in flight per follower. */
  leaderCatchupMaxBytes: number;
  /** Leader: unacknowledged catch-up entries (indexes) allowed in flight per follower. */
  leaderCatchupMaxEntries: number;
  /** Delay before the target of a leader transfer campaigns. */
  transferCampaignMs: number;
  /** Observers re-arm their election timer to this (they never campaign). */
  observerIntervalMs: number;
  /** A removed peer is ignored by automatic add-peer for this long. */
  peerRejoinMs: number;
  /** Stepdown only transfers to a peer heard from within this window. */
  healthyPeerMs: number;
  /** Proposal batching: bytes and entries per append entry. */
  maxBatchBytes: number;
  maxBatchEntries: number;
  /** Leader steps down / rejects proposals when uncommitted or unapplied backlog exceeds this many indexes. */
  overrunThreshold: number;
  /** Pending-AE memory cache size (indexes); beyond it reads go to the log. */
  cacheMaxEntries: number;
  /**
   * A follower told that its leader's server is gone (RaftCore.peerGone: its route closed)
   * probes after a random delay in [min, max] instead of waiting out the election timeout;
   * until a leader is heard again (at most electionTimeoutMinMs) it retries within 2x..4x max.
   */
  goneLeaderDelayMinMs: number;
  goneLeaderDelayMaxMs: number;
}

export const DEFAULT_TIMING: RaftTiming = {
  electionTimeoutMinMs: 4000,
  electionTimeoutMaxMs: 9000,
  campaignTimeoutMinMs: 100,
  campaignTimeoutMaxMs: 800,
  heartbeatMs: 1000,
  lostQuorumMs: 10_000,
  lostQuorumSignalMs: 20_000,
  catchupStallMs: 2000,
  leaderCatchupStallMs: 2000,
  leaderCatchupMaxBytes: 2 * 1024 * 1024,
  leaderCatchupMaxEntries: 8192,
  transferCampaignMs: 10,
  observerIntervalMs: 48 * 3600_000,
  peerRejoinMs: 5 * 60_000,
  healthyPeerMs: 3000,
  maxBatchBytes: 256 * 1024,
  maxBatchEntries: 4096,
  overrunThreshold: 100_000,
  cacheMaxEntries: 20_000,
  goneLeaderDelayMinMs: 20,
  goneLeaderDelayMaxMs: 250,
};

export interface RaftEnv {
  /** Milliseconds on this node's clock (monotonic enough; the sim drifts it). */
  now(): number;
  /** Uniform random number in [0, 1): election/campaign timeouts and inbox names. */
  random(): number;
}

/** What an inbound subscription delivers; the driver dispatches on it. */
export type SubscriptionKind =
  | 'vote-request'
  | 'append-entry'
  | 'vote-response'
  | 'append-response'
  | 'catchup'
  | 'proposal'
  | 'remove-peer';

/** A snapshot as handed between core and host (file layout in log/snapshot-file.ts). */
export interface SnapshotRecord {
  lastTerm: number;
  lastIndex: number;
  /** Encoded committed peer state at lastIndex. */
  peerState: Uint8Array;
  data: Uint8Array;
}

/** Read side of the log, served by the host; must reflect appendLog/truncateLog immediately. */
export interface RaftLogReader {
  /** Lowest stored index; lastIndex()+1 when nothing is stored. */
  firstIndex(): number;
  /** Highest stored index (the snapshot's index when the log is empty after one). */
  lastIndex(): number;
  /** Term of the stored entry at index, or -1 if not stored. */
  termAt(index: number): number;
  /** The stored AE at index, or undefined. */
  read(index: number): AppendEntry | undefined;
}

/**
 * Effects of the core. Calls are synchronous and must not call back into the
 * core (drivers buffer sends and applies until the core call returns).
 */
export interface RaftHost extends RaftLogReader {
  /** Store `ae` at `index` (== ae.pindex + 1). Durability is reported back with RaftCore.persisted(). */
  appendLog(index: number, ae: AppendEntry): void;
  /** Remove every stored entry above lastKeptIndex. */
  truncateLog(lastKeptIndex: number): void;
  /** Persist term and vote durably before returning; false when the write failed. */
  persistTermVote(term: number, vote: string): boolean;
  /** Persist the peer state (peers.idx). */
  persistPeerState(ps: PeerState): void;
  /** Durably store a leader's snapshot and reset the log to start right after it. */
  installSnapshot(snap: SnapshotRecord): boolean;
  /** The latest snapshot, for catching up a follower behind the log. */
  loadSnapshot(): SnapshotRecord | undefined;

  sendVoteRequest(subject: string, reply: string, vr: VoteRequest): void;
  sendVoteResponse(subject: string, vr: VoteResponse): void;
  sendAppendEntry(subject: string, reply: string, ae: AppendEntry): void;
  sendAppendEntryResponse(subject: string, reply: string, ar: AppendEntryResponse): void;
  sendRaw(subject: string, reply: string, data: Uint8Array): void;
  subscribe(subject: string, kind: SubscriptionKind): void;
  unsubscribe(subject: string): void;

  /** Committed index, in order, exactly once per core lifetime (entries may be empty). */
  apply(index: number, entries: Entry[]): void;
  /** Leadership as the upper layer sees it: true once the new leader's first entry is applied. */
  leaderSignal(isLeader: boolean, term: number): void;
  /** Any change of state, leader or term worth showing in monitoring. */
  stateChanged(): void;
  /** Local proposals up to and including seq are committed. */
  proposalsCommitted(seqUpTo: number, index: number): void;
  /** Local proposals fromSeq..toSeq lost their leader before commit (outcome unknown). */
  proposalsAbandoned(fromSeq: number, toSeq: number): void;
  /** A critical write failed; the core has closed itself. */
  writeFailed(what: string): void;
  /** Diagnostics. */
  log?(level: 'debug' | 'warn', msg: string): void;
}

export interface CoreConfig {
  id: string;
  group: string;
  /** Known peers (ids), including this node if it is a member. */
  peers: string[];
  /** Expected cluster size (>= peers.length); quorum = floor(size/2)+1. */
  clusterSize?: number;
  /** Never campaigns (still stores, applies, acknowledges and votes). */
  observer?: boolean;
  /** Membership driven from outside (stream/consumer groups): no automatic add-peer, and not campaigning outside the peer set. */
  managed?: boolean;
  /** Set when restarting with existing data: an empty log then counts as "empty" in votes. */
  recovering?: boolean;
  /**
   * Recovery lost state that may have been acknowledged (WAL records dropped
   * by corruption, a snapshot that failed to load): until a leader has caught
   * this node up it votes as an empty log and never campaigns.
   */
  stateLost?: boolean;
  timing?: Partial<RaftTiming>;
}

/** Durable state read back by the driver at start. */
export interface RestoredState {
  term: number;
  vote: string;
  /** peers.idx content, if any. */
  peerState?: PeerState;
  /** Latest valid snapshot metadata, if any (the data is the driver's business). */
  snapshot?: { lastTerm: number; lastIndex: number; peerState: PeerState };
}

export interface PeerProgress {
  /** Last time (env.now) this peer was heard from; 0 = never. */
  lastSeen: number;
  /** Highest index this peer reported (for lag). */
  li: number;
  /** Highest index acknowledged in the current term (leader quorum counting). */
  match: number;
}

export interface PeerReport {
  id: string;
  self: boolean;
  lastSeenAgoMs: number | null;
  lastIndex: number;
  lag: number;
  current: boolean;
}

export interface CoreStatus {
  id: string;
  group: string;
  state: string;
  leader: string;
  term: number;
  vote: string;
  pterm: number;
  pindex: number;
  commit: number;
  applied: number;
  snapshotIndex: number;
  durableIndex: number;
  clusterSize: number;
  quorum: number;
  observer: boolean;
  catchingUp: boolean;
  leaderReady: boolean;
  membershipChangeInProgress: boolean;
  /** Recovery lost state; votes as an empty log and does not campaign until a leader caught it up. */
  stateLost: boolean;
  /** The current leader's log ends below our commit index (its log lost committed entries). */
  commitAheadOfLeader: boolean;
  peers: PeerReport[];
}

/** A membership change appended but not yet committed (reverted if its entry is truncated). */
export interface MembershipChange {
  /** Log index holding the change. */
  index: number;
  peer: string;
  add: boolean;
  /** For removals: the progress record to restore on revert. */
  prev?: PeerProgress;
}

export interface FollowerCatchup {
  /** Target: the live AE's pterm/pindex that showed we were behind. */
  cterm: number;
  cindex: number;
  /** Progress marker for stall detection. */
  pindex: number;
  activeAt: number;
  /** When this catch-up was requested. */
  requestedAt: number;
  inbox: string;
}
