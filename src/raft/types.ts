// Shared Raft (NRG) value types. Field names follow nats-server's NRG so the
// wire structures of server/raft.go (appendEntry, voteRequest, ...) map one to one onto these objects.
// Terms and indices are JS numbers: u64 on the wire, but values above 2^53
// are rejected by the decoders (no real group gets near that).

/** NRG entry types (server/raft.go EntryType). The numeric values are wire bytes. */
export const EntryType = {
  Normal: 0,
  OldSnapshot: 1,
  PeerState: 2,
  AddPeer: 3,
  RemovePeer: 4,
  LeaderTransfer: 5,
  Snapshot: 6,
  /** Internal only, never on the wire (newer servers). */
  Catchup: 7,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

export interface Entry {
  type: number;
  data: Uint8Array;
}

/**
 * An append entry. One AE occupies exactly one log index (pindex + 1) when it
 * carries entries; with no entries it is a heartbeat and is never stored.
 */
export interface AppendEntry {
  leader: string;
  term: number;
  commit: number;
  pterm: number;
  pindex: number;
  entries: Entry[];
  /** Term of the leader re-sending this entry during catch-up; 0 = absent. */
  lterm: number;
  /** Cached wire encoding (without lterm trailer when lterm is 0). */
  buf?: Uint8Array;
  /** Leader-local: highest local proposal sequence carried by this batch (0 = none). */
  propSeqEnd: number;
  /** Cached encoded size in bytes (0 = not computed yet; catch-up flow control). */
  sizeBytes: number;
}

/**
 * Creates an AE with every field present, so all AEs share one object shape
 * (adding fields later would make the hot paths polymorphic).
 */
export function makeAppendEntry(
  leader: string,
  term: number,
  commit: number,
  pterm: number,
  pindex: number,
  entries: Entry[],
  lterm = 0,
  buf?: Uint8Array,
): AppendEntry {
  return { leader, term, commit, pterm, pindex, entries, lterm, buf, propSeqEnd: 0, sizeBytes: 0 };
}

export interface VoteRequest {
  term: number;
  lastTerm: number;
  lastIndex: number;
  candidate: string;
}

export interface VoteResponse {
  term: number;
  peer: string;
  granted: boolean;
  /** Voter's log is empty (newer servers; 2.9.10 never sets it). */
  empty: boolean;
  /**
   * Only in our answers to a probe (pre-vote): the voter refuses because it leads or follows a
   * leader heard within the minimum election timeout. Never sent to an NRG candidate.
   */
  liveLeader?: boolean;
}

export interface AppendEntryResponse {
  /** On success: follower's last term; on reject: follower's current term. */
  term: number;
  /** Follower's last (for our followers: last durable) index. */
  index: number;
  peer: string;
  success: boolean;
}

/** domainExt values of the peer state (server/raft.go extensionState). */
export const ExtensionState = { Undetermined: 0, Extended: 1, NotExtended: 2 } as const;

export interface PeerState {
  knownPeers: string[];
  clusterSize: number;
  domainExt: number;
}

/** Length of a peer id (first 8 chars of the server-name hash). */
export const ID_LEN = 8;

export class RaftError extends Error {
  constructor(readonly code: RaftErrorCode, message?: string) {
    super(message ?? RAFT_ERROR_TEXT[code]);
    this.name = 'RaftError';
  }
}

export type RaftErrorCode =
  | 'not_leader'
  | 'membership_change'
  | 'peer_not_found'
  | 'remove_last_node'
  | 'already_leader'
  | 'closed'
  | 'write_error'
  | 'snapshot_in_progress'
  | 'no_snapshot'
  | 'snapshot_not_allowed'
  | 'leader_len'
  | 'too_many_entries'
  | 'bad_append_entry'
  | 'corrupt_peers'
  | 'bad_message';

// Texts follow nats-server's raft error strings where one exists.
const RAFT_ERROR_TEXT: Record<RaftErrorCode, string> = {
  not_leader: 'raft: not leader',
  membership_change: 'raft: membership change in progress',
  peer_not_found: 'raft: peer not found',
  remove_last_node: 'raft: cannot remove last node',
  already_leader: 'raft: already leader',
  closed: 'raft: node is closed',
  write_error: 'raft: write error',
  snapshot_in_progress: 'raft: snapshot can not be installed while catchups running',
  no_snapshot: 'raft: no snapshot available',
  snapshot_not_allowed: 'raft: nothing new to snapshot',
  leader_len: 'raft: leader should be exactly 8 bytes',
  too_many_entries: 'raft: append entry can contain a max of 64k entries',
  bad_append_entry: 'raft: append entry corrupt',
  corrupt_peers: 'raft: corrupt peer state',
  bad_message: 'raft: malformed message',
};

export type RaftStateName = 'follower' | 'candidate' | 'leader' | 'closed';
