// Public surface of the Raft (NRG) layer. Raft knows nothing of JetStream,
// servers or routes: the clustered JetStream layer creates a RaftNode per
// group and hands it a RaftTransport that the route layer implements.

export { RaftNode, resetNodeStorage, makeNewGroupDirs, writeBootstrapPeerState, type RaftNodeOptions, type RaftNodeStatus } from './node.js';
export { RAFT_WITNESS_COPY, holdsWitnessCopy } from './log/wal.js';
export { type RaftTransport, type RaftSubscription, type RaftMessageHandler, type PeerGoneListener, InProcessHub } from './transport.js';
export { type RaftRuntime, type RaftFs, realRuntime } from './runtime.js';
export {
  EntryType,
  ExtensionState,
  RaftError,
  ID_LEN,
  type Entry,
  type AppendEntry,
  type AppendEntryResponse,
  type VoteRequest,
  type VoteResponse,
  type PeerState,
  type RaftErrorCode,
  type RaftStateName,
} from './types.js';
export { DEFAULT_TIMING, type RaftTiming, type CoreStatus, type PeerReport } from './core-types.js';
export {
  peerIdForServerName,
  groupName,
  voteSubject,
  appendEntrySubject,
  proposalSubject,
  removePeerSubject,
  replyInbox,
  catchupInbox,
  META_GROUP,
} from './subjects.js';
export {
  encodeVoteRequest,
  decodeVoteRequest,
  encodeVoteResponse,
  decodeVoteResponse,
  encodeAppendEntry,
  decodeAppendEntry,
  WireEntry,
  encodeAppendEntryResponse,
  decodeAppendEntryResponse,
  encodePeerState,
  decodePeerState,
  encodePeerId,
  decodePeerId,
} from './codec.js';
