// A running Raft group member: drives the pure core with a clock, persists
// through the WAL and meta files, talks through a RaftTransport and applies
// committed entries to the upper layer's callback, in order, exactly once
// per process lifetime.
//
// Event-loop discipline: inbound messages are handled as they arrive; the
// effects the core produces are published at once (AEs are encoded once and
// the same bytes go to the WAL), WAL writes are buffered, and at the end of
// the turn queued proposals are batched into AEs, the WAL is flushed and a
// group-commit fsync started. Durability reaches the core when the fsync
// completes, and only then does a follower acknowledge.

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  APPEND_ENTRY_BASE_LEN,
  decodeAppendEntry,
  decodeAppendEntryResponse,
  decodeVoteRequest,
  decodeVoteResponse,
  encodeAppendEntry,
  encodeAppendEntryResponse,
  encodePeerState,
  encodeVoteRequest,
  encodeVoteResponse,
} from './codec.js';
import { RaftCore } from './core.js';
import type { CoreStatus, RaftEnv, RaftHost, RaftTiming, SnapshotRecord, SubscriptionKind } from './core-types.js';
import {
  decodePeerStateOrThrow,
  readPeerStateFile,
  readTermVote,
  termVoteDamage,
  SnapshotStore,
  writePeerStateFile,
  writeFileDurable,
  writePeerStateFileLater,
  writeTermVote,
  writeTermVoteLater,
  PEER_STATE_FILE,
  STATE_LOST_FILE,
  SNAPSHOTS_DIR,
  TERM_VOTE_FILE,
} from './log/meta-files.js';
import { type LogStore, MemoryLog } from './log/log-store.js';
import { Wal } from './log/wal.js';
import { type RaftFs, type RaftRuntime, realRuntime } from './runtime.js';
import { peerIdForServerName } from './subjects.js';
import { injectedFaults, testElectionTiming } from './test-faults.js';
import { raftTrace, raftTraceOn } from './trace.js';
import type { RaftSubscription, RaftTransport } from './transport.js';
import {
  type AppendEntry,
  type AppendEntryResponse,
  type Entry,
  EntryType,
  type PeerState,
  RaftError,
  type RaftStateName,
  type VoteRequest,
  type VoteResponse,
} from './types.js';

/**
 * Drop a stopped node's log and snapshots so that it restarts as a node that lost its state (its
 * term, vote and peers stay). The lost-state marker is made durable before anything is deleted:
 * a crash half way must leave a node that still knows it may not vote or lead until a leader has
 * caught it up, never an empty log that counts as an ordinary member.
 */
/** The peer state a group that starts with no state records in peers.idx: its bootstrap peers and expected size. */
function bootstrapPeerState(opts: Pick<RaftNodeOptions, 'peers' | 'clusterSize'>): PeerState {
  const size = Math.max(opts.clusterSize ?? opts.peers.length, opts.peers.length, 1);
  return { knownPeers: [...opts.peers], clusterSize: size, domainExt: 0 };
}

/**
 * The file work of a new group's directory, done before its RaftNode is built and off the event loop, so
 * that the constructor finds it done and does not wait on the disk itself (a fresh meta group is built
 * while its server is joining the cluster, where 10-60 ms of synchronous fsyncs held everything else up).
 * First `makeNewGroupDirs`: `storeDir` with snapshots/ and wal/ (mkdir -p, nothing durable, as the
 * constructor makes them). Then `writeBootstrapPeerState`: peers.idx written durably (temp file,
 * fdatasync, rename, directory fsync) with exactly the peer state the constructor would write for a group
 * with no state. Only for a directory that held no group: a crash before peers.idx is renamed in leaves
 * no peer state (the next start bootstraps again, as after a crash before the constructor); after it,
 * the group is a member from a restart on, as after a crash right after the constructor.
 */
export async function makeNewGroupDirs(storeDir: string): Promise<void> {
  await mkdir(join(storeDir, SNAPSHOTS_DIR), { recursive: true });
  await mkdir(join(storeDir, 'wal'), { recursive: true });
}

/** peers.idx of a new group (see makeNewGroupDirs), durable when the promise resolves. */
export function writeBootstrapPeerState(storeDir: string, opts: Pick<RaftNodeOptions, 'peers' | 'clusterSize'>): Promise<void> {
  return new Promise<void>((resolve, reject) => writePeerStateFileLater(storeDir, bootstrapPeerState(opts), (err) => (err ? reject(err) : resolve())));
}

export function resetNodeStorage(storeDir: string, fsx: RaftFs = realRuntime.fs): void {
  writeFileDurable(join(storeDir, STATE_LOST_FILE), Buffer.from('state reset; cleared once a leader caught this node up\n'), storeDir, fsx);
  for (const d of ['wal', SNAPSHOTS_DIR]) fsx.rmSync(join(storeDir, d), { recursive: true, force: true });
}

export interface RaftNodeOptions {
  /** Group name (`_meta_`, `S-R3F-...`, `C-R3F-...`). */
  group: string;
  /** This server's name; the peer id is derived from it unless `id` is given. */
  serverName: string;
  id?: string;
  /** Peer ids of the group (including this one) used when the group directory is new. */
  peers: string[];
  /** Expected cluster size when not all peers are known yet (meta bootstrap). */
  clusterSize?: number;
  /** Group directory: tav.idx, peers.idx, snapshots/, wal/. */
  storeDir: string;
  /**
   * A file outside `storeDir` for a copy of the WAL's durable witness (the stream's store
   * directory, the JetStream root for the meta group): with it, a group directory removed whole
   * is lost state, not a new member. Removed by `delete()`.
   */
  witnessCopy?: string;
  transport: RaftTransport;
  /** Never campaigns (still replicates, votes and acknowledges). */
  observer?: boolean;
  /** Membership driven by the meta layer (stream/consumer groups). */
  managed?: boolean;
  /** Defaults to "the directory already holds state". */
  recovering?: boolean;
  /**
   * The upper layer knows this server held the group but its directory is
   * gone or was replaced (a wiped disk): start as a node that lost state
   * (never campaigns, votes as an empty log) until a leader caught it up.
   */
  stateLost?: boolean;
  timing?: Partial<RaftTiming>;
  segmentMaxBytes?: number;
  /**
   * 'file' (default): WAL segments on disk. 'memory': the log lives in memory
   * and is lost on restart (NRG memory WAL; term/vote and peers stay on disk,
   * snapshots are removed at start).
   */
  storage?: 'file' | 'memory';
  /**
   * Leader: when entries commit, send the commit to the followers and flush the transport before
   * applying them here (default false: the commit goes out with the turn's other output). For a
   * group whose followers' apply is on a request's critical path (the meta group: a follower may
   * hold the stream being created), so they need not wait for the leader's own apply.
   */
  announceCommitFirst?: boolean;
  /** fdatasync the WAL (default true). Turning it off voids durability; tests only. */
  fsync?: boolean;
  /**
   * Committed entries, in index order, exactly once per process lifetime.
   * `entries` holds EntryNormal data, EntrySnapshot (replace your state with
   * it), EntryAddPeer/EntryRemovePeer (informational); it may be empty.
   * Entry data are only valid during the call unless copied.
   */
  apply(index: number, entries: Entry[]): void;
  /**
   * Entries stored at `index` (one AE), before they are durable or committed: for work that can
   * overlap the fsync (the meta layer decodes assignments ahead of their apply). `asLeader` when
   * they are the leader's own proposals (its append goes out to the followers in the same turn).
   * Entry data are only valid during the call unless copied.
   */
  onAppend?(index: number, entries: readonly Entry[], asLeader: boolean): void;
  /** Leadership for the upper layer: true once this leader's first entry is applied. */
  onLeaderChange?(isLeader: boolean, term: number, leader: string): void;
  /** Local proposals up to seq are committed (at raft index `index`). */
  onProposalsCommitted?(seqUpTo: number, index: number): void;
  /** Local proposals fromSeq..toSeq lost their leader before commit (they may still commit; watch apply). */
  onProposalsAbandoned?(fromSeq: number, toSeq: number): void;
  /** Any change of state, leader or term. */
  onStateChange?(state: RaftStateName, leader: string, term: number): void;
  /** A fatal storage error; the node has stopped. */
  onError?(err: Error): void;
  log?(level: 'debug' | 'warn', msg: string): void;
  /** Clock, randomness, timers and file system (default: the real ones; the simulator passes its own). */
  runtime?: RaftRuntime;
}

export interface RaftNodeStatus extends CoreStatus {
  walBytes: number;
}

type Notice =
  | { k: 'apply'; index: number; entries: Entry[] }
  | { k: 'leader'; isLeader: boolean; term: number }
  | { k: 'state' }
  | { k: 'committed'; seq: number; index: number }
  | { k: 'abandoned'; from: number; to: number };


export class RaftNode {
  readonly id: string;
  readonly group: string;
  readonly storeDir: string;
  private readonly opts: RaftNodeOptions;
  private readonly rt: RaftRuntime;
  private readonly fs: RaftFs;
  private readonly transport: RaftTransport;
  private readonly wal: LogStore;
  private readonly snapshots: SnapshotStore;
  private readonly core: RaftCore;
  private readonly subs = new Map<string, RaftSubscription>();
  private notices: Notice[] = [];
  private draining = false;
  private started = false;
  private stopped = false;
  /** Unregisters the transport's "peer gone" hint listener. */
  private offPeerGone: (() => void) | undefined;
  private turnScheduled = false;
  private walDirty = false;
  private timer: unknown;
  private timerAt = Infinity;
  private readonly restoredSnapshot: SnapshotRecord | undefined;
  private readonly waiters = new Map<number, { resolve: (index: number) => void; reject: (e: Error) => void }>();
  /** Index being delivered to `apply` right now (0 = not inside apply). */
  private applyingIndex = 0;
  // Term/vote persistence runs off the event loop. Every message the node
  // sends while a term/vote write is wanted or in flight is held back and
  // published, in order, once the write is durable: no vote (or anything
  // else reflecting the new term) leaves before it is on disk.
  private tavWanted: { term: number; vote: string } | null = null;
  private tavWriting = false;
  private held: { subject: string; reply: string; payload: Uint8Array }[] = [];
  /** The state-lost marker file exists (removed once the core reports it caught up). */
  private stateLostMarked = false;
  /** Term/vote writes completed (diagnostics and tests). */
  termVoteWrites = 0;

  constructor(opts: RaftNodeOptions) {
    this.opts = opts;
    this.group = opts.group;
    this.id = opts.id ?? peerIdForServerName(opts.serverName);
    this.storeDir = opts.storeDir;
    this.transport = opts.transport;
    this.rt = opts.runtime ?? realRuntime;
    this.fs = this.rt.fs;
    this.fs.mkdirSync(opts.storeDir, { recursive: true });

    const tav = readTermVote(opts.storeDir, this.fs);
    let peerState = readPeerStateFile(opts.storeDir, this.fs);
    this.snapshots = new SnapshotStore(opts.storeDir, this.fs);
    if (opts.storage === 'memory') this.snapshots.clear();
    const snap = this.snapshots.loadLatest();
    this.restoredSnapshot = snap;
    // wal/ is created with the group (before peers.idx, whose directory fsync makes it durable) and
    // never removed while the group is here: the directory's other files without it mean its log
    // was removed (a fresh wal/ would look like a member that never received an entry).
    const walGone =
      !injectedFaults.ignoreRemovedLog &&
      opts.storage !== 'memory' &&
      !this.fs.existsSync(join(opts.storeDir, 'wal')) &&
      (snap !== undefined || [PEER_STATE_FILE, TERM_VOTE_FILE].some((f) => this.fs.existsSync(join(opts.storeDir, f))));
    if (walGone) this.log('warn', 'WAL recovery: the wal/ directory is missing while the group directory holds its other files; its entries may have been acknowledged');
    this.wal =
      opts.storage === 'memory'
        ? new MemoryLog()
        : Wal.open(join(opts.storeDir, 'wal'), {
            floor: snap?.lastIndex ?? 0,
            segmentMaxBytes: opts.segmentMaxBytes,
            fsync: opts.fsync,
            fs: this.fs,
            witnessCopy: opts.witnessCopy ? { path: opts.witnessCopy, tag: opts.group } : undefined,
          });
    const rec = this.wal.recovery;
    if (rec.reason) this.log('warn', `WAL recovery: ${rec.reason}, dropped ${rec.droppedRecords} record(s)${rec.lostDurable ? ' that may have been acknowledged' : ''}`);
    for (const f of this.snapshots.movedAside) this.log('warn', `snapshot ${f} failed to load; moved aside`);
    for (const f of rec.movedAside ?? []) this.log('warn', `WAL data moved aside to ${f}`);
    // A damaged term/vote file may have forgotten a vote cast in the current term: voting again as a
    // full log could elect a second leader in that term. Lost state votes only as "empty", which counts
    // only when every member grants, until a leader has caught this node up.
    const tavDamage = termVoteDamage(opts.storeDir, this.fs);
    if (tavDamage !== undefined) this.log('warn', `${tavDamage}: term and vote may be lost`);
    // Recovery that lost possibly acknowledged state: the core must not vote
    // or lead as if its log were complete until a leader has caught it up.
    // The marker keeps that knowledge across restarts until a leader has
    // caught the node up (a crash during catch-up must not forget it).
    const marker = join(opts.storeDir, STATE_LOST_FILE);
    const stateLost = opts.stateLost === true || walGone || this.snapshots.movedAside.length > 0 || rec.lostDurable === true || tavDamage !== undefined || this.fs.existsSync(marker);
    if (stateLost && !this.fs.existsSync(marker)) writeFileDurable(marker, Buffer.from('state lost in recovery; cleared once a leader caught this node up\n'), opts.storeDir, this.fs);
    // With the loss on record, the WAL's durable witness follows the log down (else entries the log
    // holds again after the repair would not be witnessed until it passes the old end).
    if (stateLost) this.wal.settleWitness();
    // With the loss on record (the marker), the term/vote file is made whole again from what could be
    // read, so that a later restart does not take it for new damage.
    if (tavDamage !== undefined) writeTermVote(opts.storeDir, tav.term, tav.vote, this.fs);
    this.stateLostMarked = stateLost;
    const hasState = !!snap || this.wal.lastIndex() > 0 || tav.term > 0;
    if (!peerState && !snap) {
      peerState = bootstrapPeerState(opts);
      writePeerStateFile(opts.storeDir, peerState, this.fs);
    }
    const env: RaftEnv = { now: this.rt.now, random: this.rt.random };
    this.wal.onDurable = (index, err) => this.onDurable(index, err);
    this.core = new RaftCore(
      {
        id: this.id,
        group: opts.group,
        peers: opts.peers,
        clusterSize: opts.clusterSize,
        observer: opts.observer,
        managed: opts.managed,
        recovering: opts.recovering ?? (hasState || stateLost),
        stateLost,
        timing: opts.timing ?? testElectionTiming(),
      },
      env,
      this.host,
      {
        term: tav.term,
        vote: tav.vote,
        peerState,
        snapshot: snap ? { lastTerm: snap.lastTerm, lastIndex: snap.lastIndex, peerState: decodePeerStateOrThrow(snap.peerState) } : undefined,
      },
    );
  }

  /**
   * Delivers the restored snapshot and every committed entry found on disk to
   * `apply` (synchronously, before returning), then starts taking part.
   */
  start(): this {
    if (this.started) return this;
    this.started = true;
    const snap = this.restoredSnapshot;
    if (snap) {
      this.callApply(snap.lastIndex, [{ type: EntryType.Snapshot, data: snap.data }]);
      this.core.appliedTo(snap.lastIndex);
    }
    this.afterCore();
    this.armTimer();
    this.offPeerGone = this.transport.onPeerGone?.((peerId) => this.peerGone(peerId));
    return this;
  }

  /**
   * A hint that `peerId`'s server is unreachable (its route closed). When it is our leader we
   * do not wait out the election timeout: after a short random delay we ask the other members
   * whether they would vote for us (a pre-vote that changes nothing), and campaign only when a
   * quorum would, so a leader that others still hear is left alone.
   */
  peerGone(peerId: string): void {
    if (this.stopped || !this.started) return;
    this.core.peerGone(peerId);
    this.afterCore();
  }

  // ---------------------------------------------------------------- public API

  get state(): RaftStateName {
    return this.core.state;
  }
  get term(): number {
    return this.core.term;
  }
  /** Leader ready for upper-layer work (its first entry is applied). */
  get isLeader(): boolean {
    return this.core.isLeader;
  }
  get leaderId(): string {
    return this.core.leader;
  }
  /** Votes (or acks) a decision needs under the current membership. */
  get quorumNeeded(): number {
    return this.core.quorumNeeded;
  }
  get commit(): number {
    return this.core.commit;
  }
  get applied(): number {
    return this.core.applied;
  }
  get lastIndex(): number {
    return this.core.lastIndex;
  }
  get clusterSize(): number {
    return this.core.clusterSize;
  }
  get isObserver(): boolean {
    return this.core.isObserver;
  }
  get isCatchingUp(): boolean {
    return this.core.isCatchingUp;
  }
  get membershipChangeInProgress(): boolean {
    return this.core.membershipChangeInProgress;
  }
  get hadPreviousLeader(): boolean {
    return this.core.hadPreviousLeader;
  }
  peers(): string[] {
    return this.core.peerIds();
  }
  /** Self plus peers heard from within the lost-quorum window form a quorum. */
  hasQuorum(): boolean {
    return this.core.hasQuorum();
  }
  /** Leader, or a follower that heard from its leader recently and applied all it knows. */
  isCurrent(): boolean {
    const s = this.core.status();
    if (s.state === 'closed' || s.commit === 0) return false;
    if (s.state === 'leader') return true;
    if (s.catchingUp || !s.leader) return false;
    const l = s.peers.find((p) => p.id === s.leader);
    if (!l || l.lastSeenAgoMs === null || l.lastSeenAgoMs > 2 * this.core.timing.heartbeatMs) return false;
    return s.applied >= s.commit;
  }
  status(): RaftNodeStatus {
    return { ...this.core.status(), walBytes: this.wal.sizeBytes() };
  }

  /**
   * Proposes `data` (leader only). Returns a local sequence number reported
   * back through onProposalsCommitted / onProposalsAbandoned. Proposals made
   * in one event-loop turn go out in one append entry. Throws RaftError
   * 'not_leader' otherwise. `term` fences the proposal to a leadership term.
   */
  propose(data: Uint8Array, term?: number): number {
    if (raftTraceOn && !this.turnScheduled) raftTrace(this.opts.serverName, this.group, 'L-prop0', this.core.lastIndex + 1);
    const seq = this.core.propose(data, term);
    this.scheduleTurn();
    return seq;
  }

  /** propose() of `src[start, end)`, bytes the caller never rewrites (see RaftCore.proposeRange). */
  proposeRange(src: Uint8Array, start: number, end: number, term?: number): number {
    if (raftTraceOn && !this.turnScheduled) raftTrace(this.opts.serverName, this.group, 'L-prop0', this.core.lastIndex + 1);
    const seq = this.core.proposeRange(src, start, end, term);
    this.scheduleTurn();
    return seq;
  }

  /** Convenience: resolves with the raft index once committed (one Promise per call: not for hot paths). */
  proposeAndWait(data: Uint8Array): Promise<number> {
    const seq = this.propose(data);
    return new Promise((resolve, reject) => this.waiters.set(seq, { resolve, reject }));
  }

  /** Sends a proposal to the leader (followers) or proposes it (leader). */
  forwardProposal(data: Uint8Array): void {
    this.core.forwardProposal(Uint8Array.from(data));
    this.afterCore();
  }

  proposeAddPeer(peer: string): void {
    this.core.proposeAddPeer(peer);
    this.afterCore();
  }

  /** Removes a peer; on a follower the request is forwarded to the leader. */
  proposeRemovePeer(peer: string): void {
    this.core.proposeRemovePeer(peer);
    this.afterCore();
  }

  /** Take `keep` as the membership when removed peers left no quorum (core-membership.ts); a leader must stay in it. */
  forceKnownPeers(keep: readonly string[]): void {
    this.core.forceKnownPeers(keep);
    this.afterCore();
  }

  /** Steps down; transfers leadership to `preferred` (or a healthy peer) first. */
  stepDown(preferred?: string): void {
    this.core.stepDown(preferred);
    this.afterCore();
  }

  campaign(withinMs?: number): void {
    this.core.campaign(withinMs);
    this.armTimer();
  }

  campaignImmediately(): void {
    this.core.campaignImmediately();
    this.armTimer();
  }

  setObserver(on: boolean): void {
    this.core.setObserver(on);
    this.afterCore();
  }

  /**
   * Installs `data` as the snapshot of everything applied so far and
   * compacts the WAL behind it. Throws RaftError when not possible now
   * ('snapshot_not_allowed' if nothing new was applied, 'snapshot_in_progress'
   * while catching followers up unless `force`).
   */
  installSnapshot(data: Uint8Array, force = false): { index: number; term: number } {
    // Called from inside apply(): the caller's state already includes the
    // entry being applied, so the snapshot covers it (else it is applied
    // again after a restart).
    if (this.applyingIndex > 0 && !injectedFaults.snapshotBelowApplied) this.core.appliedTo(this.applyingIndex);
    const meta = this.core.prepareSnapshot(force);
    if (meta instanceof RaftError) throw meta;
    const rec: SnapshotRecord = {
      lastTerm: meta.lastTerm,
      lastIndex: meta.lastIndex,
      peerState: encodePeerState(meta.peerState),
      data,
    };
    this.snapshots.write(rec);
    this.wal.compactThrough(meta.lastIndex, meta.lastTerm);
    this.core.snapshotInstalled(meta.lastIndex, meta.lastTerm);
    return { index: meta.lastIndex, term: meta.lastTerm };
  }

  /**
   * Installs `data` as the snapshot of the state at `index`, an index already applied (at most
   * `applied`) and above the current snapshot, and compacts the WAL behind it. For an upper layer
   * whose state becomes durable asynchronously: it captures its state and the applied index
   * together, waits until that state is durable, then installs it at that index (entries applied
   * meanwhile stay in the WAL). Throws RaftError like installSnapshot().
   */
  installSnapshotAt(index: number, data: Uint8Array, force = false): { index: number; term: number } {
    if (index >= this.core.applied) return this.installSnapshot(data, force);
    if (this.core.state === 'closed') throw new RaftError('closed');
    if (!force && this.core.leaderCatchupsRunning > 0) throw new RaftError('snapshot_in_progress');
    if (index <= 0 || index <= this.core.snapshotIndex) throw new RaftError('snapshot_not_allowed');
    const term = this.core.termAt(index);
    if (term < 0) throw new RaftError('snapshot_not_allowed');
    this.snapshots.write({ lastTerm: term, lastIndex: index, peerState: encodePeerState(this.core.committedPeerState(index)), data });
    this.wal.compactThrough(index, term);
    this.core.snapshotInstalled(index, term);
    return { index, term };
  }

  /** Leader: change the expected cluster size and announce it with a peer-state entry. */
  adjustClusterSize(size: number): void {
    this.core.adjustClusterSize(size);
    this.afterCore();
  }

  /** Before any leader ever existed: change the bootstrap cluster size (meta group). */
  adjustBootClusterSize(size: number): void {
    this.core.adjustBootClusterSize(size);
  }

  /** Leader: replicate `data` as an EntrySnapshot (e.g. scaling up from R1). */
  sendSnapshot(data: Uint8Array): void {
    this.core.sendSnapshot(data);
    this.afterCore();
  }

  /** Stops taking part and closes files. Safe to call more than once. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.offPeerGone?.();
    this.offPeerGone = undefined;
    if (this.timer !== undefined) this.rt.clearTimer(this.timer);
    this.timer = undefined;
    this.core.close();
    this.drainNotices();
    for (const s of this.subs.values()) s.unsubscribe();
    this.subs.clear();
    try {
      this.wal.close();
    } catch (e) {
      this.log('warn', `closing WAL: ${(e as Error).message}`);
    }
    for (const w of this.waiters.values()) w.reject(new RaftError('closed'));
    this.waiters.clear();
  }

  /** Stops and removes the group directory. */
  delete(): void {
    this.stop();
    this.wal.dropWitnessCopy();
    this.fs.rmSync(this.storeDir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- plumbing

  private log(level: 'debug' | 'warn', msg: string): void {
    this.opts.log?.(level, msg);
  }

  private callApply(index: number, entries: Entry[]): void {
    const outer = this.applyingIndex;
    this.applyingIndex = index;
    try {
      this.opts.apply(index, entries);
    } catch (e) {
      this.log('warn', `apply of ${index} threw: ${(e as Error).message}`);
    } finally {
      this.applyingIndex = outer;
    }
  }

  /** After any call into the core: deliver notices, keep the timer right. */
  private afterCore(): void {
    if (this.stateLostMarked && !this.core.hasLostState && !this.stopped) this.clearStateLost();
    if (this.opts.announceCommitFirst && this.core.commitUnannounced) {
      this.core.announceCommit();
      if (!this.core.commitUnannounced) this.transport.flush?.();
    }
    this.drainNotices();
    if (this.walDirty || this.core.needsFlush) this.scheduleTurn();
    this.armTimer();
  }

  private drainNotices(): void {
    if (this.draining || !this.started) return;
    this.draining = true;
    try {
      while (this.notices.length > 0) {
        const batch = this.notices;
        this.notices = [];
        for (const n of batch) this.deliver(n);
      }
    } finally {
      this.draining = false;
    }
  }

  private deliver(n: Notice): void {
    switch (n.k) {
      case 'apply':
        if (raftTraceOn) raftTrace(this.opts.serverName, this.group, 'apply0', n.index, n.entries.length);
        this.callApply(n.index, n.entries);
        if (raftTraceOn) raftTrace(this.opts.serverName, this.group, 'apply1', n.index, n.entries.length);
        this.core.appliedTo(n.index);
        break;
      case 'leader':
        this.opts.onLeaderChange?.(n.isLeader, n.term, this.core.leader);
        break;
      case 'state':
        this.opts.onStateChange?.(this.core.state, this.core.leader, this.core.term);
        break;
      case 'committed':
        this.opts.onProposalsCommitted?.(n.seq, n.index);
        if (this.waiters.size > 0) {
          for (const [seq, w] of this.waiters) {
            if (seq > n.seq) continue;
            this.waiters.delete(seq);
            w.resolve(n.index);
          }
        }
        break;
      case 'abandoned':
        this.opts.onProposalsAbandoned?.(n.from, n.to);
        if (this.waiters.size > 0) {
          for (const [seq, w] of this.waiters) {
            if (seq < n.from || seq > n.to) continue;
            this.waiters.delete(seq);
            w.reject(new RaftError('not_leader', 'raft: leadership lost before the proposal committed'));
          }
        }
        break;
    }
  }

  private scheduleTurn(): void {
    if (this.turnScheduled || this.stopped) return;
    this.turnScheduled = true;
    // A microtask runs once the current callback (a whole batch of inbound
    // messages, or a client's burst of proposals) has finished: one AE and
    // one WAL write + fsync per batch, without an extra event-loop hop.
    this.rt.defer(this.endOfTurn);
  }

  /** End of a turn: batch proposals, write the WAL, start a group commit. */
  private readonly endOfTurn = (): void => {
    this.turnScheduled = false;
    if (this.stopped) return;
    this.core.flush();
    this.drainNotices();
    if (this.walDirty) {
      this.walDirty = false;
      try {
        this.wal.sync();
      } catch (e) {
        this.fatal(e as Error);
        return;
      }
    }
    this.armTimer();
  };

  private onDurable(index: number, err?: Error): void {
    if (this.stopped) return;
    if (err) {
      this.fatal(err);
      return;
    }
    if (raftTraceOn) raftTrace(this.opts.serverName, this.group, 'durable', index);
    this.core.persisted(index);
    this.afterCore();
  }

  private fatal(err: Error): void {
    this.log('warn', `storage failure: ${err.message}`);
    this.opts.onError?.(err);
    this.stop();
  }

  private armTimer(): void {
    if (this.stopped || !this.started) return;
    const at = this.core.nextDeadline();
    // Deadlines that moved later need no re-arm: tick() re-checks.
    if (at >= this.timerAt || at === Infinity) return;
    if (this.timer !== undefined) this.rt.clearTimer(this.timer);
    this.timerAt = at;
    this.timer = this.rt.setTimer(this.onTimer, Math.max(0, Math.ceil(at - this.rt.now())));
  }

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAt = Infinity;
    if (this.stopped) return;
    this.core.tick();
    this.afterCore();
  };

  // ---------------------------------------------------------------- inbound

  private handlerFor(kind: SubscriptionKind): (subject: string, reply: string, payload: Uint8Array) => void {
    return (subject, reply, payload) => {
      if (this.stopped || !this.started) return;
      switch (kind) {
        case 'vote-request': {
          const vr = decodeVoteRequest(payload);
          if (!vr) return this.log('warn', `malformed vote request on ${subject}`);
          this.core.handleVoteRequest(vr, reply);
          break;
        }
        case 'vote-response': {
          const vr = decodeVoteResponse(payload);
          if (!vr) return this.log('warn', `malformed vote response on ${subject}`);
          this.core.handleVoteResponse(vr, subject);
          break;
        }
        case 'append-entry':
        case 'catchup': {
          if (payload.length < APPEND_ENTRY_BASE_LEN) return this.log('warn', `malformed append entry on ${subject}`);
          // Keep our own copy: entries are stored and applied after this call.
          const ae = decodeAppendEntry(Buffer.from(payload));
          if (ae instanceof RaftError) return this.log('warn', `malformed append entry on ${subject}`);
          if (raftTraceOn && ae.entries.length === 0) raftTrace(this.opts.serverName, this.group, 'F-hb', ae.commit);
          this.core.handleAppendEntry(ae, reply, subject);
          break;
        }
        case 'append-response': {
          const ar = decodeAppendEntryResponse(payload);
          if (!ar) return this.log('warn', `malformed append entry response on ${subject}`);
          if (raftTraceOn) raftTrace(this.opts.serverName, this.group, 'L-ackin', ar.index);
          this.core.handleAppendEntryResponse(ar, reply);
          break;
        }
        case 'proposal':
          this.core.handleForwardedProposal(Buffer.from(payload), reply);
          this.scheduleTurn();
          break;
        case 'remove-peer':
          this.core.handleForwardedRemovePeer(payload, reply);
          break;
      }
      this.afterCore();
    };
  }

  private clearStateLost(): void {
    this.stateLostMarked = false;
    try {
      this.fs.rmSync(join(this.storeDir, STATE_LOST_FILE), { force: true });
    } catch (e) {
      this.log('warn', `removing ${STATE_LOST_FILE}: ${(e as Error).message}`);
    }
  }

  /** Publishes now, or holds the message while a term/vote write is not yet durable. */
  private send(subject: string, reply: string, payload: Uint8Array): void {
    this.rt.onProduce?.(subject, payload);
    if ((this.tavWanted || this.tavWriting) && !injectedFaults.voteBeforeDurable) this.held.push({ subject, reply, payload });
    else this.transport.publish(subject, reply, payload);
  }

  private writeTermVote(): void {
    const want = this.tavWanted;
    if (!want || this.stopped) return;
    this.tavWanted = null;
    this.tavWriting = true;
    writeTermVoteLater(this.storeDir, want.term, want.vote, this.onTermVoteWritten, this.fs);
  }

  private readonly onTermVoteWritten = (err?: Error): void => {
    this.tavWriting = false;
    if (this.stopped) return;
    if (err) {
      this.log('warn', `writing term and vote: ${err.message}`);
      this.fatal(new RaftError('write_error', 'raft: could not persist term and vote'));
      return;
    }
    this.termVoteWrites++;
    if (this.tavWanted) {
      this.writeTermVote();
      return;
    }
    const held = this.held;
    this.held = [];
    for (const m of held) this.transport.publish(m.subject, m.reply, m.payload);
  };

  // ---------------------------------------------------------------- host (effects of the core)

  private readonly host: RaftHost = {
    firstIndex: () => this.wal.firstIndex(),
    lastIndex: () => this.wal.lastIndex(),
    termAt: (i) => this.wal.termAt(i),
    read: (i) => {
      const b = this.wal.read(i);
      if (!b) return undefined;
      const ae = decodeAppendEntry(b);
      return ae instanceof RaftError ? undefined : ae;
    },
    appendLog: (index, ae) => {
      if (!ae.buf) ae.buf = encodeAppendEntry(ae);
      // Stored without a catch-up lterm trailer (NRG stores the AE as sent live).
      const stored = ae.lterm !== 0 ? ae.buf.subarray(0, storedLength(ae)) : ae.buf;
      try {
        this.wal.append(index, ae.term, stored);
      } catch (e) {
        this.fatal(e as Error);
        return;
      }
      this.walDirty = true;
      if (raftTraceOn) raftTrace(this.opts.serverName, this.group, this.core.state === 'leader' ? 'L-aeout' : 'F-aein', index, ae.entries.length);
      if (this.opts.onAppend !== undefined) {
        try {
          this.opts.onAppend(index, ae.entries, this.core.state === 'leader');
        } catch (e) {
          this.log('warn', `onAppend of ${index} threw: ${(e as Error).message}`);
        }
      }
      if (injectedFaults.ackBeforeFsync) {
        this.rt.defer(() => {
          if (this.stopped) return;
          this.core.persisted(index);
          this.afterCore();
        });
      }
    },
    truncateLog: (lastKept) => {
      try {
        this.wal.truncateAfter(lastKept);
      } catch (e) {
        this.fatal(e as Error);
      }
      this.walDirty = true;
    },
    persistTermVote: (term, vote) => {
      this.tavWanted = { term, vote };
      if (!this.tavWriting) this.writeTermVote();
      return true;
    },
    persistPeerState: (ps: PeerState) => {
      // Derived from the log (replayed at start), so nothing waits for it.
      writePeerStateFileLater(
        this.storeDir,
        ps,
        (err) => {
          if (err && !this.stopped) this.fatal(err);
        },
        this.fs,
      );
    },
    installSnapshot: (snap) => {
      try {
        this.snapshots.write(snap);
        this.wal.resetTo(snap.lastIndex, snap.lastTerm);
        return true;
      } catch (e) {
        this.log('warn', `installing snapshot: ${(e as Error).message}`);
        return false;
      }
    },
    loadSnapshot: () => this.snapshots.loadCurrent(),
    sendVoteRequest: (subject: string, reply: string, vr: VoteRequest) => this.send(subject, reply, encodeVoteRequest(vr)),
    sendVoteResponse: (subject: string, vr: VoteResponse) => this.send(subject, '', encodeVoteResponse(vr)),
    sendAppendEntry: (subject: string, reply: string, ae: AppendEntry) => {
      if (!ae.buf) ae.buf = encodeAppendEntry(ae);
      this.send(subject, reply, ae.buf);
    },
    sendAppendEntryResponse: (subject: string, reply: string, ar: AppendEntryResponse) => {
      this.send(subject, reply, encodeAppendEntryResponse(ar));
    },
    sendRaw: (subject, reply, data) => this.send(subject, reply, data),
    subscribe: (subject, kind) => {
      if (this.subs.has(subject)) return;
      this.subs.set(subject, this.transport.subscribe(subject, this.handlerFor(kind)));
    },
    unsubscribe: (subject) => {
      const s = this.subs.get(subject);
      if (!s) return;
      this.subs.delete(subject);
      s.unsubscribe();
    },
    apply: (index, entries) => {
      this.notices.push({ k: 'apply', index, entries });
    },
    leaderSignal: (isLeader, term) => {
      this.notices.push({ k: 'leader', isLeader, term });
    },
    stateChanged: () => {
      if (this.opts.onStateChange) this.notices.push({ k: 'state' });
    },
    proposalsCommitted: (seq, index) => {
      this.notices.push({ k: 'committed', seq, index });
    },
    proposalsAbandoned: (from, to) => {
      this.notices.push({ k: 'abandoned', from, to });
    },
    writeFailed: (what) => {
      const err = new RaftError('write_error', `raft: could not persist ${what}`);
      this.opts.onError?.(err);
      this.rt.defer(() => this.stop());
    },
    log: (level, msg) => this.log(level, msg),
  };
}

/** Encoded length of an AE without its lterm trailer. */
function storedLength(ae: AppendEntry): number {
  let n = APPEND_ENTRY_BASE_LEN;
  for (const e of ae.entries) n += 5 + e.data.length;
  return n;
}
