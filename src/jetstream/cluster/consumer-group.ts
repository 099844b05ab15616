// Replicated consumers of replicated streams (nats-server's monitorConsumer +
// applyConsumerEntries + processConsumerLeaderChange).
//
// Every peer of the stream's group runs a RaftNode for each consumer and holds the
// consumer's state store; only the consumer's leader runs the delivering Consumer object.
// The leader's Consumer writes its state through a wrapping store (installed with
// Stream.consumerStoreHook) that updates the local state and proposes the same change
// (updateDeliveredOp, updateAcksOp, updateSkipOp); followers apply committed changes to their
// store. A new leader starts its Consumer from that state, so it continues where the
// replicated state says: a delivery or ack the old leader made but could not commit is
// redelivered (at-least-once), never lost.
//
// Snapshots (nats-server monitorConsumer's doSnapshot): every replica installs the encoded
// consumer state as its group's snapshot every 2 minutes (+ up to 1 minute of spread), once
// 1,024 entries or 64 KiB were applied since the last one, when it becomes leader and on a
// clean stop; the WAL behind it is compacted. At start the store is reset and rebuilt from the
// snapshot plus the log after it; a follower behind the leader's compacted log receives the
// leader's snapshot and adopts it. As in nats-server, the leader's state (and so its snapshot)
// may hold its own changes that are not committed yet; a replica that restarts from such a
// snapshot keeps them (a delivery stays pending and is redelivered; an ack the client sent but
// the group never committed stays an ack, also for retention on that replica).
//
// Acks reach interest/workqueue retention when they are applied, on every replica (see
// consumer-retention.ts), so every copy of the stream removes the same messages.
//
// Pending pull requests (nats-server 2.9.10): the leader proposes addPendingRequest /
// removePendingRequest as requests wait and finish; every replica keeps the set it applied
// (pending-requests.ts), and a new leader answers each of them "409 Leadership Change" (the
// requests died with the old leader's Consumer) and removes them from the group's set.

import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { EntryType, RAFT_WITNESS_COPY, RaftError, RaftNode, WireEntry, type Entry } from '../../raft/index.js';
import type { ConsumerState, ConsumerStore } from '../store/types.js';
import { emptyConsumerState } from '../store/consumer-state-codec.js';
import { lookupConsumer } from '../consumer/manager.js';
import { StopReason, type Consumer } from '../consumer/consumer.js';
import { STATUS_LEADERSHIP_CHANGE } from '../consumer/pull-request.js';
import { PendingRequests, knownWaiting } from './pending-requests.js';
import type { FilterSet } from '../consumer/filters.js';
import type { WaitQueue } from '../consumer/wait-queue.js';
import { decodeConsumerConfig } from '../consumer/config.js';
import { buildConsumerInfo } from '../consumer/consumer-info.js';
import { parseGoTime } from '../api/json.js';
import { RouteRaftTransport } from './route-transport.js';
import { MetaOp, accountOf, encodeConsumerEntry as encodeMetaConsumerEntry, type ConsumerAssignment } from './assignments.js';
import { EntryOp } from './ops.js';
import { asBuffer } from './stream-entry.js';
import {
  type AckUpdate, type DeliveredMs, decodeAckUpdate, decodeConsumerEntry, decodeDeliveredMs, encodeAddPendingRequest, encodeDeliveredUpdate, encodeRemovePendingRequest, encodeSkipUpdate, OpSlab,
} from './consumer-entry.js';
import { decodeConsumerSnapshot } from './consumer-snapshot.js';
import { clearSeedRole, prepareSeedRole, scaledFromOne } from './consumer-seed.js';
import { CONSUMER_SNAPSHOT_POLICY, SnapshotSchedule } from './raft-snapshot-policy.js';
import { removeIfDone, removeUninterested, retentionConfig, stateNeedsAck, type AckPolicyName, type RetentionMember } from './consumer-retention.js';
import {
  QuorumLostThrottle, advisoryCopies, advisoryReplicas, consumerLeaderElected, consumerQuorumLost, consumerStepdownResponse,
  quorumLostApplies, type Advisory, type AdvisoryMeta, type PeerInfo, type RaftPeerStatus,
} from './advisories.js';
import type { ClusteredJetStream } from './js-cluster.js';
import { randomCurrentPeer, stopGroupNode, type StreamGroup } from './stream-group.js';
import { consumerInfoSubject, serveLeaderInfo } from './leader-info.js';
import { injectedStartFault, standInForPreferred } from './start-retry.js';

/** addPendingRequest / removePendingRequest: applied on every replica, the leader too. */
function isPendingRequestOp(op: number | undefined): boolean {
  return op === EntryOp.addPendingRequest || op === EntryOp.removePendingRequest;
}

/** How often a consumer leader re-checks a stream replica that is not current yet. */
const STREAM_WAIT_MS = 50;

/**
 * The stream replica on this server holds everything its group committed, so a consumer may run
 * on it: its raft node is the leader or a follower current with its leader (heard from lately,
 * everything known applied), and it is not fetching missing messages from the leader.
 */
export function streamReplicaCurrent(sg: Pick<StreamGroup, 'node' | 'stream' | 'catchingUp' | 'stopped'>): boolean {
  if (sg.stopped || !sg.stream || !sg.node || sg.catchingUp) return false;
  return sg.node.isCurrent();
}

/**
 * Least time between two writes of a replica's consumer state file: the raft log and its snapshots
 * hold a replicated consumer's state (the file is reset and rebuilt from them at start), so writing
 * it after every delivery and ack (open, write, rename per turn) bought nothing on the consume path.
 */
const STORE_WRITE_GAP_MS = 1_000;

/** Longest time the leader's local store lags its running Consumer (ReplicatingConsumerStore). */
const REFRESH_MS = STORE_WRITE_GAP_MS;

/** What a running Consumer offers its replicating store: its whole delivery state (a copy). */
export interface ConsumerStateSource {
  state(): ConsumerState;
}

/**
 * The store the leader's Consumer writes through: proposed, and kept in the local store. `resuming`
 * keeps the replicated state when the consumer is brought up on a new leader (the create path would
 * otherwise reset a store that already holds state).
 *
 * One owner of the leader's pending state: once the running Consumer is known (follow()), its
 * deliveries and acks are only proposed, and the local store is brought up to the Consumer's state
 * when it is read (snapshot, info, the end of the leadership) and at least once a second
 * (REFRESH_MS). Updating both copies per message (two maps of pending deliveries, each growing and
 * shrinking with every fetch) was a quarter of the consume path's allocations on the leader. The
 * store's state is what the Consumer delivered: its own next sequences can run ahead (a message held
 * back for replay timing or the rate limit, non-matching messages skipped), so the delivered
 * sequences are the highest this store saw, as the store would count them.
 */
class ReplicatingConsumerStore implements ConsumerStore {
  resuming = false;
  /** The hook handed this store to a Consumer (ConsumerGroup.wrap). */
  handedOut = false;
  /** The delivered and ack ops of the consume path (two per message), written without a Buffer each. */
  private readonly ops = new OpSlab();
  /** Set by follow(): the running Consumer the local store copies. */
  private source: ConsumerStateSource | undefined;
  /** Delivered (consumer, stream sequence) as the store counts it, while following. */
  private deliveredC = 0;
  private deliveredS = 0;
  /** The Consumer changed its state since the local store last copied it. */
  private stale = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  constructor(readonly inner: ConsumerStore, private readonly propose: (data: Buffer) => void,
    private readonly proposeRange: (src: Buffer, start: number, end: number) => void,
    /** Ack policy none on an interest/workqueue stream: a delivery is the ack (nats-server proposes one). */
    private readonly deliveryAcks: () => boolean,
    /** Resolves once every change proposed so far is committed (ConsumerGroup.whenCommitted). */
    readonly flush: () => Promise<void>) {}
  get name(): string { return this.inner.name; }

  /**
   * From now on the local store copies `source` lazily. Until here both were updated together, so
   * they hold the same state.
   */
  follow(source: ConsumerStateSource): void {
    this.adoptDelivered();
    this.source = source;
  }

  /** Stop following (the Consumer stops): the local store gets its last state first, unless it is being deleted. */
  unfollow(keep: boolean): void {
    if (keep) this.refresh();
    if (this.refreshTimer !== undefined) clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    this.source = undefined;
    this.stale = false;
  }

  /** Copy the Consumer's state into the local store if it changed since the last copy. */
  refresh(): void {
    if (this.refreshTimer !== undefined) {
      clearTimeout(this.refreshTimer);
      this.refreshTimer = undefined;
    }
    if (!this.stale || this.source === undefined) return;
    this.stale = false;
    const st = this.source.state();
    const d = st.delivered;
    d.consumerSeq = this.deliveredC;
    d.streamSeq = this.deliveredS;
    const f = st.ackFloor;
    // The Consumer's floor moves to its next sequence when nothing is pending, which may be past
    // what it delivered (see the class comment): the store never counts more than delivered.
    if (f.consumerSeq > d.consumerSeq) f.consumerSeq = d.consumerSeq;
    if (f.streamSeq > d.streamSeq) f.streamSeq = d.streamSeq;
    const pending = st.pending;
    pending.forEach((_, seq) => {
      if (seq <= f.streamSeq || seq > d.streamSeq) pending.delete(seq);
    });
    try {
      // The state is a fresh copy: the store may keep it as is.
      if (this.inner.replaceState) this.inner.replaceState(st);
      else this.inner.forceUpdate(st);
    } catch { /* closed (the consumer was deleted): there is nothing left to keep */ }
  }

  private markStale(): void {
    if (this.stale) return;
    this.stale = true;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.refresh();
    }, REFRESH_MS);
    this.refreshTimer.unref();
  }

  /** The delivered sequences from the local store (after it was written as a whole). */
  private adoptDelivered(): void {
    const d = this.inner.state().delivered;
    this.deliveredC = d.consumerSeq;
    this.deliveredS = d.streamSeq;
  }

  setStarting(sseq: number): void {
    if (this.source !== undefined) {
      this.deliveredS = sseq;
      this.markStale();
    } else {
      this.inner.setStarting(sseq);
    }
    this.propose(encodeSkipUpdate(sseq));
  }
  updateDelivered(dseq: number, sseq: number, dc: number, tsMs: number): void {
    if (this.source !== undefined) {
      if (dseq > this.deliveredC) this.deliveredC = dseq;
      if (sseq > this.deliveredS) this.deliveredS = sseq;
      this.markStale();
    } else {
      this.inner.updateDelivered(dseq, sseq, dc, tsMs);
    }
    const ms = Math.round(tsMs);
    if (ms >= 0 && ms < 2 ** 42) {
      this.ops.delivered(dseq, sseq, dc, ms);
      this.proposeOp();
    } else {
      this.propose(encodeDeliveredUpdate({ dseq, sseq, dc, ts: BigInt(ms) * 1_000_000n }));
    }
    if (this.deliveryAcks()) this.proposeAck(dseq, sseq);
  }
  updateAcks(dseq: number, sseq: number): void {
    // Following, an ack of something not pending is proposed as well (as nats-server's leader
    // does); every replica's store ignores it.
    if (this.source !== undefined) this.markStale();
    else this.inner.updateAcks(dseq, sseq);
    this.proposeAck(dseq, sseq);
  }
  private proposeAck(dseq: number, sseq: number): void {
    this.ops.ack(dseq, sseq);
    this.proposeOp();
  }
  private proposeOp(): void {
    const o = this.ops;
    this.proposeRange(o.buf, o.start, o.end);
  }
  update(state: ConsumerState): void {
    this.inner.update(state);
    this.wroteWhole();
  }
  forceUpdate(state: ConsumerState): void {
    if (this.resuming) return;
    this.inner.forceUpdate(state);
    this.wroteWhole();
  }
  /** The Consumer wrote its whole state (bulk changes): the local store holds it as is. */
  private wroteWhole(): void {
    if (this.source === undefined) return;
    this.stale = false;
    this.adoptDelivered();
  }
  state(): ConsumerState {
    this.refresh();
    return this.inner.state();
  }
  hasState(): boolean {
    this.refresh();
    return this.inner.hasState();
  }
  config(): unknown { return this.inner.config(); }
  updateConfig(cfg: unknown): void { this.inner.updateConfig(cfg); }
  encodedState(): Buffer {
    this.refresh();
    return this.inner.encodedState();
  }
  /** The Consumer stops on a leadership change: the state store stays open for the follower. */
  async stop(): Promise<void> {}
  async delete(): Promise<void> {
    this.unfollow(false);
    await this.inner.delete();
  }
}

export class ConsumerGroup implements RetentionMember {
  readonly account: string;
  readonly name: string;
  node!: RaftNode;
  private store!: ConsumerStore;
  private wrapper: ReplicatingConsumerStore | undefined;
  private transport!: RouteRaftTransport;
  private createReply: string;
  stopped = false;
  /** stop() was a delete (a consumer created while it ran is deleted too). */
  private deleting = false;
  private wasLeader = false;
  /** The `$JSC.CI` subscription while this server leads (setInfoSub). */
  private infoUnsub: (() => void) | undefined;
  private waitLogged = false;
  private readonly startedMs = Date.now();
  private readonly lostQuorum = new QuorumLostThrottle();
  /** The Consumer runs here (this server leads the group). */
  private running = false;
  /**
   * The ops applied now are this replica's own (it leads, and its Consumer already holds them), so
   * they are not applied to the store again. Cleared the moment raft reports the leadership lost,
   * before any entry of the next leader is applied, while `running` stays set until the Consumer has
   * been stopped (asynchronously): a thawed or deposed leader must apply the new leader's entries
   * and snapshots, not skip them as its own.
   */
  private ownOps = false;
  /**
   * Seed of a scale-up from R1: keeps its store's state and replicates it as a snapshot once leader,
   * until that snapshot is committed (consumer-seed.ts).
   */
  private seeding = false;
  /** A new replica of a scale-up from R1 that has not applied the seed's state yet (consumer-seed.ts). */
  private awaitingSeed = false;
  /** When to snapshot; counts entries and bytes applied since the last (nats-server's n.Applied). */
  private readonly snaps = new SnapshotSchedule(CONSUMER_SNAPSHOT_POLICY);
  private lastSnap: Buffer | undefined;
  private snapTimer: NodeJS.Timeout | undefined;
  /** Set while this leader waits for its stream replica to be current (startConsumer). */
  private streamWait: NodeJS.Timeout | undefined;
  /** Pull requests waiting on the leader, as the group committed them (every replica, the leader too). */
  private readonly pendingRequests = new PendingRequests();
  /** Ack policy and filters of `ca` (re-read when a config update replaces the assignment). */
  private retentionOf: { ca: ConsumerAssignment; ackPolicy: AckPolicyName; filters: FilterSet } | undefined;
  /** AckAll: the stream sequence up to which retention already ran for this consumer. */
  private retentionFloor = 0;
  private unlisten: (() => void) | undefined;
  /** A follower's state as retention reads it; the store hands out copies, so one is kept until the next apply. */
  private stateCache: ConsumerState | undefined;
  /** Reused by applyOp for the two ops of every consumed message. */
  private readonly deliveredOp: DeliveredMs = { dseq: 0, sseq: 0, dc: 0, tsMs: 0 };
  private readonly ackOp: AckUpdate = { dseq: 0, sseq: 0 };
  /** Raft proposal sequence of the last change proposed, the highest known committed, and who waits for one. */
  private lastProposed = 0;
  private committedSeq = 0;
  private commitWaiters: { seq: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Campaigns if the preferred first leader has not led in time (start-retry.ts standInForPreferred). */
  private standIn: NodeJS.Timeout | undefined;

  constructor(private readonly c: ClusteredJetStream, private readonly sg: StreamGroup, public ca: ConsumerAssignment) {
    this.account = accountOf(ca.client);
    this.name = ca.name;
    this.createReply = ca.reply;
  }

  get dir(): string {
    return join(this.c.js.storeRoot, this.c.server.systemAccount.name, '_js_', this.ca.group.name);
  }

  /**
   * The copy of the group's durable WAL witness, in the consumer store's own directory (file
   * streams): a group directory removed while the store is left is then lost state, not a new
   * member whose empty log votes as a full one. It goes with the store when the consumer is
   * deleted, and the group name it carries tells a recreated consumer's group it is not its own.
   */
  private get witnessCopyPath(): string | undefined {
    const dir = this.store.dir;
    return dir === undefined ? undefined : join(dir, RAFT_WITNESS_COPY);
  }

  private get ackPolicy(): AckPolicyName {
    return this.retention().ackPolicy;
  }

  private get filters(): FilterSet {
    return this.retention().filters;
  }

  private retention(): { ackPolicy: AckPolicyName; filters: FilterSet } {
    if (this.retentionOf?.ca !== this.ca) this.retentionOf = { ca: this.ca, ...retentionConfig(this.ca.consumer) };
    return this.retentionOf;
  }

  get isLeader(): boolean {
    return !this.stopped && this.node?.isLeader === true;
  }

  /** This replica's copy of the consumer state. */
  state(): ConsumerState {
    return this.localStore().state();
  }

  /** The local store, brought up to the running Consumer's state when this server leads. */
  private localStore(): ConsumerStore {
    this.wrapper?.refresh();
    return this.store;
  }

  /** Reply subjects of the pull requests this replica knows to be waiting on the leader (tests). */
  pendingRequestReplies(): string[] {
    return this.pendingRequests.replies();
  }

  start(): void {
    const stream = this.sg.stream;
    this.store = stream.store.consumerStore(this.name, { ...this.ca.consumer, name: this.name }, Date.now());
    this.store.setWriteGap?.(STORE_WRITE_GAP_MS);
    injectedStartFault(this.c.server.serverName);
    // Rebuilt from the group's snapshot and log below; except on the seed of a stream scaled up
    // from R1 (stream-membership.ts): its R1 consumer's state is the state, replicated once it leads.
    const witnessCopy = this.witnessCopyPath;
    const role = prepareSeedRole(this.dir, this.c.id, this.ca, this.sg.seedConsumerStates?.get(this.name), witnessCopy);
    this.seeding = role?.kind === 'seed';
    this.awaitingSeed = role?.kind === 'join';
    if (role?.kind === 'seed') this.store.forceUpdate(role.state);
    else if (this.store.hasState()) this.store.forceUpdate(emptyConsumerState());
    const groups = this.sg.consumers;
    stream.ackDeferred = (cons) => groups.has(cons.name);
    if (stream.config.retention !== 'limits') {
      // A message this replica stores after it applied its ack (its stream copy lagged).
      this.unlisten = stream.addListener({
        msgStored: (seq, subject) => {
          // The leader delivers from its own copy, so only a follower can store a message after its ack.
          if (!this.stopped && !this.running && seq <= this.followerState().delivered.streamSeq) this.removeIfDone(seq, subject);
        },
      });
    }
    this.transport = new RouteRaftTransport(this.c.server.systemAccount, `nrg-${this.ca.group.name}`);
    const g = this.ca.group;
    this.node = new RaftNode({
      group: g.name, serverName: this.c.server.serverName, peers: [...g.peers], storeDir: this.dir, witnessCopy,
      transport: this.transport, managed: true, segmentMaxBytes: this.snaps.policy.segmentBytes,
      // Waiting for the seed's state: never campaign (only a replica holding the state may lead).
      observer: this.awaitingSeed,
      apply: (_i, entries) => this.applyEntries(entries),
      onLeaderChange: (isLeader) => this.onLeaderChange(isLeader),
      onProposalsCommitted: (seq) => this.proposalsCommitted(seq),
      onProposalsAbandoned: (from, to) => this.proposalsAbandoned(from, to),
      onError: (err) => this.sg.consumerStorageFailed(this, err),
      log: (level, msg) => (level === 'warn' ? this.c.server.log.warn(`JetStream consumer '${this.account} > ${this.ca.stream} > ${this.name}': ${msg}`) : undefined),
    });
    this.node.start();
    this.armSnapshotTimer();
    // The preferred peer placement chose (nats-server setPreferred) campaigns at once. Assignments
    // without one (written before consumers were placed with one, or re-proposed after a peer
    // change) fall back to the stream leader, so that such a group need not wait an election timeout.
    const preferred = g.preferred ?? this.sg.node.leaderId;
    if (g.peers.length === 1 || preferred === this.c.id) this.node.campaign();
    else {
      this.standIn = standInForPreferred(g.peers, preferred, this.c.id, () => {
        if (this.stopped || this.node.leaderId !== '' || this.node.isLeader) return;
        try {
          this.node.campaign();
        } catch { /* closed meanwhile */ }
      });
    }
  }

  async stop(deleting: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.deleting = deleting;
    this.setInfoSub(false);
    await this.stopConsumer(deleting);
    this.rejectCommitWaiters(() => true);
    // A clean stop leaves a snapshot, so the next start replays little (nats-server stopWithFlags).
    if (!deleting) this.installSnapshot(true);
    if (this.snapTimer !== undefined) clearTimeout(this.snapTimer);
    if (this.streamWait !== undefined) clearTimeout(this.streamWait);
    if (this.standIn !== undefined) clearTimeout(this.standIn);
    this.snapTimer = undefined;
    this.unlisten?.();
    this.unlisten = undefined;
    stopGroupNode(this.node, this.transport, deleting);
    // Unset when start() failed opening it (EMFILE, a blocked obs dir): the retry opens it again.
    const store = this.store as ConsumerStore | undefined;
    if (deleting) {
      rmSync(this.dir, { recursive: true, force: true });
      await store?.delete().catch(() => {});
    } else {
      await store?.stop().catch(() => {});
    }
  }

  /**
   * Stop for good on this server while the consumer's store stays (its stream scaled down to R1
   * here): the group directory and the group's witness copy in the store go, so that a later
   * scale-up starts the group here as its seed, not as a replica that lost its log.
   */
  async leaveKeepingStore(): Promise<void> {
    await this.stop(false);
    // Stopped already: this drops the witness copy and removes the group directory.
    if (this.node) this.node.delete();
    else rmSync(this.dir, { recursive: true, force: true });
  }

  private propose = (data: Buffer): void => {
    if (!this.running || this.stopped) return;
    try {
      this.lastProposed = this.node.propose(data);
    } catch { /* leadership lost: the new leader continues from the committed state */ }
  };

  /** propose() of `src[start, end)` (ReplicatingConsumerStore's OpSlab). */
  private proposeRange = (src: Buffer, start: number, end: number): void => {
    if (!this.running || this.stopped) return;
    try {
      this.lastProposed = this.node.proposeRange(src, start, end);
    } catch { /* leadership lost, as propose */ }
  };

  /**
   * Resolves once every change this leader proposed so far is committed: stored (fdatasync'ed) by
   * a quorum of the group, so it survives kill -9 of every server. The leader's Consumer sends an
   * ack confirmation (ack sync) only then (its store's flush, consumer-persistence.ts): its
   * state.dat is written at most once a second and does not count, the group's log does. Rejects
   * when leadership is lost first (no confirmation; the client's ack times out and is retried).
   */
  private readonly whenCommitted = (): Promise<void> => {
    const target = this.lastProposed;
    if (target <= this.committedSeq) return Promise.resolve();
    if (this.stopped || !this.running) return Promise.reject(new RaftError('not_leader'));
    return new Promise((resolve, reject) => this.commitWaiters.push({ seq: target, resolve, reject }));
  };

  private proposalsCommitted(seqUpTo: number): void {
    if (seqUpTo > this.committedSeq) this.committedSeq = seqUpTo;
    const w = this.commitWaiters;
    // Waiters are in proposal order.
    let i = 0;
    while (i < w.length && w[i]!.seq <= seqUpTo) w[i++]!.resolve();
    if (i > 0) w.splice(0, i);
  }

  /** Proposals fromSeq..toSeq lost their leader (they may still commit, but nothing confirms them here). */
  private proposalsAbandoned(fromSeq: number, toSeq: number): void {
    this.rejectCommitWaiters((seq) => seq >= fromSeq && seq <= toSeq);
  }

  private rejectCommitWaiters(which: (seq: number) => boolean): void {
    if (this.commitWaiters.length === 0) return;
    const keep: typeof this.commitWaiters = [];
    for (const w of this.commitWaiters) {
      if (which(w.seq)) w.reject(new RaftError('not_leader', 'consumer leadership lost before the change committed'));
      else keep.push(w);
    }
    this.commitWaiters = keep;
  }

  /** Stream.consumerStoreHook: the leader's Consumer gets the replicating store. */
  wrap(store: ConsumerStore): ConsumerStore {
    if (store !== this.store || !this.wrapper) return store;
    this.wrapper.handedOut = true;
    return this.wrapper;
  }

  // ------------------------------------------------------------------ applying (applyConsumerEntries)

  private applyEntries(entries: Entry[]): void {
    // One committed log entry (which may carry many ops), as NRG's Applied() counts them.
    let bytes = 0;
    // The leader has nothing left to do for its own ops on a limits stream (see applyOp) but the
    // pending pull requests: the others' sizes are counted, after a look at their op byte only.
    const countOnly = this.ownOps && this.sg.stream.config.retention === 'limits';
    for (const e of entries) {
      if (e.type === EntryType.Snapshot || e.type === EntryType.OldSnapshot) {
        this.seedDone();
        this.applySnapshot(e.data);
        continue;
      }
      if (e.type !== EntryType.Normal) continue;
      // An entry of a received append entry is decoded in place (no view per op).
      const wire = e instanceof WireEntry;
      bytes += wire ? e.end - e.start : e.data.length;
      if (countOnly && !isPendingRequestOp(wire ? e.src[e.start] : e.data[0])) continue;
      try {
        // The op is decoded here and not kept: no copy.
        if (wire) this.applyOp(asBuffer(e.src), e.start, e.end);
        else this.applyOp(asBuffer(e.data), 0, e.data.length);
      } catch (err) {
        this.c.server.log.debug(`JetStream consumer '${this.ca.stream} > ${this.name}': entry not applied: ${(err as Error).message}`);
      }
    }
    this.snaps.applied(1, bytes);
    if (this.snaps.thresholdMet()) this.snapshot(false);
  }

  /** One op, `buf[start, end)`. */
  private applyOp(buf: Buffer, start: number, end: number): void {
    // The leader already applied its own changes to its store when it made them; of its own ops
    // only an ack on an interest/workqueue stream (retention) and the pending pull requests (kept
    // on every replica) have work left, so the rest are not even decoded (two committed ops per
    // message on the consume path).
    const follower = !this.ownOps;
    const op = buf[start];
    if (!follower && !isPendingRequestOp(op) && (op !== EntryOp.updateAcksOp || this.sg.stream.config.retention === 'limits')) return;
    this.stateCache = undefined;
    // The two ops of every consumed message are decoded into reused objects (no allocation).
    if (op === EntryOp.updateDeliveredOp) {
      const u = decodeDeliveredMs(buf, this.deliveredOp, start, end);
      this.store.updateDelivered(u.dseq, u.sseq, u.dc, u.tsMs);
      return;
    }
    if (op === EntryOp.updateAcksOp) {
      const a = decodeAckUpdate(buf, this.ackOp, start, end);
      if (follower && this.ackPolicy !== 'none') {
        try {
          this.store.updateAcks(a.dseq, a.sseq);
        } catch { /* an ack of something already acknowledged: retention below still runs */ }
      }
      // nats-server processReplicatedAck: every replica (the leader too) applies retention.
      this.replicatedAck(a.sseq);
      return;
    }
    const d = decodeConsumerEntry(buf.subarray(start, end));
    switch (d.op) {
      case EntryOp.updateDeliveredOp:
      case EntryOp.updateAcksOp:
        // Decoded above.
        break;
      case EntryOp.updateSkipOp:
        if (follower) this.store.setStarting(d.sseq);
        break;
      case EntryOp.addPendingRequest:
        this.pendingRequests.add(d.reply);
        break;
      case EntryOp.removePendingRequest:
        this.pendingRequests.remove(d.reply);
        break;
      case EntryOp.resetSeqOp:
        // A newer servers' op (consumer reset); 2.9.10 has none to send.
        break;
    }
  }

  /**
   * A snapshot entry is applied: on the seed while it leads, the one it sent is committed; on a
   * new replica, it holds the state now and may lead.
   */
  private seedDone(): void {
    if (this.seeding && this.running) {
      this.seeding = false;
      clearSeedRole(this.dir, 'seed');
    } else if (this.awaitingSeed && !this.running) {
      this.awaitingSeed = false;
      clearSeedRole(this.dir, 'join');
      // Not from inside the node's apply callback.
      queueMicrotask(() => {
        if (!this.stopped) this.node.setObserver(false);
      });
    }
  }

  /** A snapshot entry: the replicated state as of its index (restart, or a leader's catch-up). */
  private applySnapshot(data: Uint8Array): void {
    if (this.ownOps) return;
    let st: ConsumerState;
    try {
      st = decodeConsumerSnapshot(Buffer.from(data));
    } catch (err) {
      this.c.server.log.error(`JetStream cluster could not decode consumer snapshot for '${this.account} > ${this.ca.stream} > ${this.name}' [${this.ca.group.name}]: ${(err as Error).message}`);
      return;
    }
    this.store.forceUpdate(st);
    this.stateCache = undefined;
    this.snaps.resetApplied();
    this.sweepAcked(st);
  }

  // ------------------------------------------------------------------ retention (processReplicatedAck)

  /** Does this consumer still need `seq`? From the live Consumer on the leader, else from the replicated state. */
  needsAck(seq: number, subject: string): boolean {
    if (this.stopped) return false;
    if (this.running) {
      const cons = lookupConsumer(this.sg.stream, this.name);
      if (cons) return cons.needsAck(seq, subject);
    }
    if (!this.filters.matches(subject)) return false;
    return stateNeedsAck(this.followerState(), this.ackPolicy, seq);
  }

  private followerState(): ConsumerState {
    if (this.running) return this.localStore().state();
    return (this.stateCache ??= this.store.state());
  }

  private removeIfDone(seq: number, subject?: string): boolean {
    return removeIfDone(this.sg.stream, this, this.filters, this.sg.consumers.values(), seq, subject);
  }

  private replicatedAck(sseq: number): void {
    const stream = this.sg.stream;
    if (stream.config.retention === 'limits') return;
    if (this.ackPolicy === 'all' && sseq > this.retentionFloor + 1) {
      // Everything up to sseq is acknowledged: what this replica holds of it may go.
      const from = Math.max(this.retentionFloor + 1, stream.store.fastState().firstSeq);
      for (let seq = from; seq <= sseq; seq++) this.removeIfDone(seq);
    } else {
      this.removeIfDone(sseq);
    }
    if (this.ackPolicy === 'all' && sseq > this.retentionFloor) this.retentionFloor = sseq;
  }

  /**
   * After a snapshot: the acks it covers are not in the log any more, so remove what this
   * replica's stream still holds of the acknowledged range (the stream may have been rebuilt
   * from its own log at start).
   */
  private sweepAcked(st: ConsumerState): void {
    const stream = this.sg.stream;
    if (stream.config.retention === 'limits') return;
    const ss = stream.store.fastState();
    const to = Math.min(st.delivered.streamSeq, ss.lastSeq);
    for (let seq = Math.max(ss.firstSeq, 1); seq <= to; seq++) this.removeIfDone(seq);
    this.retentionFloor = Math.max(this.retentionFloor, st.ackFloor.streamSeq);
  }

  // ------------------------------------------------------------------ snapshots (monitorConsumer doSnapshot)

  private armSnapshotTimer(): void {
    if (this.stopped) return;
    const delay = this.snaps.nextInterval();
    this.snapTimer = setTimeout(() => {
      this.snapTimer = undefined;
      this.snapshot(false);
      this.armSnapshotTimer();
    }, delay);
    this.snapTimer.unref?.();
  }

  /**
   * Install the encoded consumer state as the group's snapshot (the WAL behind it is
   * compacted). Skipped within 2 s of the last one unless forced, and when nothing changed
   * and no threshold is met.
   */
  snapshot(force: boolean): void {
    if (this.stopped) return;
    this.installSnapshot(force);
  }

  private installSnapshot(force: boolean): void {
    // A replica still waiting for the seed's state must not vouch for the empty one it has.
    if (!this.node || this.node.state === 'closed' || this.awaitingSeed) return;
    if (!force && !this.snaps.pastMinGap()) return;
    const need = force || this.snaps.thresholdMet();
    let data: Buffer;
    try {
      data = this.localStore().encodedState();
    } catch {
      return;
    }
    if (!need && this.lastSnap !== undefined && data.equals(this.lastSnap)) return;
    try {
      this.node.installSnapshot(data, force);
      this.lastSnap = data;
      this.snaps.taken();
    } catch (e) {
      // Nothing new applied, or a follower is being caught up from the current snapshot.
      if (!(e instanceof RaftError)) {
        this.c.server.log.warn(`Failed to install snapshot for '${this.account} > ${this.ca.stream} > ${this.name}' [${this.ca.group.name}]: ${(e as Error).message}`);
      }
    }
  }

  // ------------------------------------------------------------------ leadership (processConsumerLeaderChange)

  /**
   * The consumer leads but its stream's replica here is not current yet (it has not heard from
   * its leader since starting, is applying, or fetches missing messages with `$JSC`): a Consumer
   * run now would deliver from an incomplete store, so it starts once the replica is current (as
   * nats-server's consumer checks that its stream is current). Checked on a short timer: the
   * consumer's leadership and the stream's state change independently.
   */
  private waitForStream(): void {
    if (this.streamWait !== undefined) return;
    if (!this.waitLogged) {
      this.waitLogged = true;
      this.c.server.log.debug(`JetStream consumer '${this.account} > ${this.ca.stream} > ${this.name}': leader waits for its stream replica to be current`);
    }
    this.streamWait = setTimeout(() => {
      this.streamWait = undefined;
      if (!this.stopped && this.node.isLeader && !this.running) void this.c.enqueue(() => this.startConsumer());
    }, STREAM_WAIT_MS);
    this.streamWait.unref();
  }

  private onLeaderChange(isLeader: boolean): void {
    if (this.stopped) return;
    if (!isLeader && this.wasLeader && quorumLostApplies(this.node.hasQuorum(), this.startedMs, Date.now()) && this.lostQuorum.shouldSend(Date.now())) {
      this.sendQuorumLost();
    }
    this.wasLeader = isLeader;
    if (!isLeader && this.ownOps) {
      // The store takes the Consumer's state now, before the next leader's entries are applied over it.
      this.ownOps = false;
      this.wrapper?.unfollow(true);
    }
    this.setInfoSub(isLeader);
    if (isLeader) void this.c.enqueue(() => this.startConsumer());
    else void this.c.enqueue(() => this.stopConsumer(false));
  }

  /** While leading, answer a nats-server meta leader's `$JSC.CI` (leader-info.ts). */
  private setInfoSub(on: boolean): void {
    if (!on) {
      this.infoUnsub?.();
      this.infoUnsub = undefined;
    } else if (!this.infoUnsub) {
      this.infoUnsub = serveLeaderInfo(this.c, consumerInfoSubject(this.account, this.ca.stream, this.name), this.account,
        `$JS.API.CONSUMER.INFO.${this.ca.stream}.${this.name}`, () => this.isLeader, (b) => this.withCluster(b));
    }
  }

  /** Run the Consumer here, from the replicated state; the first leader answers the create. */
  private async startConsumer(): Promise<void> {
    if (this.stopped || !this.node.isLeader || this.running) return;
    if (!streamReplicaCurrent(this.sg)) {
      this.waitForStream();
      return;
    }
    // Ahead of the Consumer's own entries: new replicas restore this state first.
    if (this.seedsOthers()) this.sendSeed();
    const stream = this.sg.stream;
    this.wrapper = new ReplicatingConsumerStore(this.store, this.propose, this.proposeRange,
      () => this.ackPolicy === 'none' && stream.config.retention !== 'limits', this.whenCommitted);
    const resuming = this.store.hasState();
    this.wrapper.resuming = resuming;
    this.running = true;
    this.ownOps = true;
    // The requests that waited on earlier leaders; from here on the set holds this leader's own.
    const orphans = this.pendingRequests.takeAll();
    const reply = this.createReply;
    this.createReply = '';
    const subject = `$JS.API.CONSUMER.CREATE.${this.ca.stream}.${this.name}`;
    const payload = JSON.stringify({ stream_name: this.ca.stream, config: { ...this.ca.consumer, name: this.name } });
    const res = await this.c.runLocal(this.account, subject, reply, payload, (b) => this.withCluster(b));
    if (this.stopped) {
      // Stopped while the consumer was being created: stop() found nothing to stop then, and a
      // consumer left running keeps its timers (acks, heartbeats) and the process alive.
      await lookupConsumer(stream, this.name)?.shutdown(this.deleting ? StopReason.Deleted : StopReason.Shutdown, this.deleting);
      return;
    }
    if (this.wrapper) this.wrapper.resuming = false;
    if (res?.error) {
      this.pendingRequests.restore(orphans);
      this.running = false;
      this.ownOps = false;
      this.c.server.log.warn(`JetStream consumer '${this.account} > ${this.ca.stream} > ${this.name}': ${res.body}`);
      return;
    }
    // A consumer that removes itself (an ephemeral past its inactive threshold) leaves the meta
    // state too, or it would come back on the next leader or restart.
    const cons = lookupConsumer(stream, this.name);
    if (cons) {
      const prev = cons.onSelfDelete;
      cons.onSelfDelete = (gone) => {
        prev?.(gone);
        if (this.stopped) return;
        this.running = false;
        this.ownOps = false;
        try {
          this.c.node.forwardProposal(encodeMetaConsumerEntry(MetaOp.removeConsumer, { ...this.ca, subject: '', reply: '' }));
        } catch { /* no meta group: the assignment stays until the next removal */ }
      };
      this.watchPullRequests(cons);
      // Its deliveries and acks are only proposed from now on; the local store copies its state lazily.
      if (this.wrapper?.handedOut) this.wrapper.follow(cons);
    }
    this.releasePendingRequests(orphans, cons?.pullQueue);
    this.sendLeaderElected();
    this.snapshot(true);
  }

  /**
   * This replica holds the state new replicas wait for: the seed of a scale-up from R1, or the
   * single peer of a consumer whose group grew (consumer-seed.ts).
   */
  private seedsOthers(): boolean {
    return this.seeding || (scaledFromOne(this.ca) && this.ca.group.preferred === this.c.id);
  }

  private sendSeed(): void {
    try {
      this.node.sendSnapshot(this.localStore().encodedState());
    } catch { /* not leader any more: sent again when this replica leads next */ }
  }

  /**
   * A new assignment of this group (its peers changed): a leader that now has replicas to seed
   * seeds them; a leader whose group grew sends its state to the group as nats-server does on a
   * scale-up, so a new replica that waits for a seed (consumer-seed.ts: one that learns of the
   * scale-up from a meta snapshot) finds one in the log.
   */
  reassign(ca: ConsumerAssignment): void {
    const before = this.seedsOthers();
    const prev = this.ca;
    this.ca = ca;
    const grew = ca.group.peers.length > prev.group.peers.length;
    if (this.running && (grew || (!before && this.seedsOthers()))) this.sendSeed();
    // A config update keeps the group (and so the delivery and ack state), as nats-server's does:
    // the leader applies it to its running consumer and answers; followers take it when they lead.
    if (ca.subject !== '' && JSON.stringify(prev.consumer) !== JSON.stringify(ca.consumer)) void this.c.enqueue(() => this.applyUpdate(ca));
  }

  private async applyUpdate(ca: ConsumerAssignment): Promise<void> {
    if (this.stopped || !this.running || this.ca !== ca) return;
    const subject = `$JS.API.CONSUMER.CREATE.${ca.stream}.${this.name}`;
    const payload = JSON.stringify({ stream_name: ca.stream, config: { ...ca.consumer, name: this.name } });
    const res = await this.c.runLocal(this.account, subject, ca.reply, payload, (b) => this.withCluster(b));
    if (res?.error) this.c.publishConsumerResult(this.account, ca.stream, this.name, res.body);
  }

  /**
   * nats-server checkPendingRequests: the pull requests that waited on an earlier leader are gone
   * with its Consumer; tell each requester so it can ask again (once per reply subject, as
   * nats-server). The group forgets them too (a removePendingRequest each, which nats-server's
   * leader does not send): a replica that leads later must not answer them a second time. A reply
   * waiting on this leader's Consumer already (the client pulled again on the same inbox) keeps
   * the entries its new requests added.
   */
  private releasePendingRequests(orphans: Map<string, number>, wq: WaitQueue | undefined): void {
    if (orphans.size === 0) return;
    const client = this.c.js.jsAccount(this.account)?.client;
    const live = new Set(wq?.toArray().map((wr) => wr.reply));
    for (const [reply, n] of orphans) {
      client?.publish(reply, '', STATUS_LEADERSHIP_CHANGE, Buffer.alloc(0));
      if (live.has(reply)) continue;
      for (let i = 0; i < n; i++) this.propose(encodeRemovePendingRequest(reply));
    }
  }

  /**
   * The leader mirrors its waiting pull requests to the group (addPendingRequest /
   * removePendingRequest), those that came while its Consumer was being created too; num_waiting
   * counts those the group committed (pending-requests.ts knownWaiting).
   */
  private watchPullRequests(cons: Consumer): void {
    const wq = cons.pullQueue;
    if (!wq) return;
    wq.observer = {
      added: (reply) => this.propose(encodeAddPendingRequest(reply)),
      removed: (reply) => this.propose(encodeRemovePendingRequest(reply)),
      reported: (q) => (this.ca.group.peers.length > 1 ? knownWaiting(q, this.pendingRequests) : q.n),
    };
    for (const wr of wq.toArray()) this.propose(encodeAddPendingRequest(wr.reply));
  }

  private async stopConsumer(deleting: boolean): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.ownOps = false;
    this.stateCache = undefined;
    // The follower continues from the state the Consumer reached.
    this.wrapper?.unfollow(!deleting);
    const cons = lookupConsumer(this.sg.stream, this.name);
    if (cons) {
      const wq = cons.pullQueue;
      if (wq) wq.observer = undefined;
      await cons.shutdown(deleting ? StopReason.Deleted : StopReason.Shutdown, deleting);
    }
    this.stateCache = undefined;
    this.wrapper = undefined;
    this.rejectCommitWaiters(() => true);
  }

  /**
   * The consumer assignment was removed: every peer drops the consumer and its state; under
   * interest retention the messages only it still needed leave this replica's stream.
   */
  async remove(): Promise<void> {
    let floor = 0;
    try {
      floor = this.followerState().ackFloor.streamSeq;
    } catch { /* the store is already gone (a consumer that deleted itself): scan from the stream's first message */ }
    await this.stop(true);
    const stream = this.sg.stream;
    if (stream) removeUninterested(stream, floor + 1, [...this.sg.consumers.values()].filter((g) => g !== this));
  }

  private peerStatus(): RaftPeerStatus[] {
    const now = BigInt(Date.now()) * 1_000_000n;
    return this.node.status().peers.map((p) => ({
      id: p.id, current: p.current, lag: p.lag,
      lastNs: p.self ? now : p.lastSeenAgoMs === null ? undefined : now - BigInt(Math.round(p.lastSeenAgoMs * 1e6)),
    }));
  }

  /**
   * This replica's ConsumerInfo with the group's cluster block, as /jsz reports it on every server
   * that holds the consumer (nats-server: each replica's own consumer object): the running
   * Consumer's on the leader; on a follower one built from the replicated state, its stream replica
   * giving num_pending. Undefined once stopped.
   */
  localInfo(withConfig: boolean): Record<string, unknown> | undefined {
    if (this.stopped) return undefined;
    const stream = this.sg.stream;
    let info: Record<string, unknown> | undefined;
    const cons = this.running && stream ? lookupConsumer(stream, this.name) : undefined;
    if (cons) {
      info = cons.info({ refreshInterest: false });
    } else {
      let st: ConsumerState;
      try {
        st = this.followerState();
      } catch {
        return undefined; // the store is not open (yet, or any more)
      }
      const cfg = decodeConsumerConfig({ ...this.ca.consumer, name: this.name });
      const from = st.delivered.streamSeq + 1;
      const f = this.filters.filters as string[];
      const lps = cfg.deliver_policy === 'last_per_subject';
      const numPending = !stream ? 0
        : f.length > 1 ? stream.store.numPendingMulti(from, f, lps).total : stream.store.numPending(from, f[0] ?? '', lps).total;
      info = buildConsumerInfo({
        streamName: this.ca.stream, name: this.name, createdNs: parseGoTime(this.ca.created), cfg,
        dseq: st.delivered.consumerSeq + 1, deliveredSseq: st.delivered.streamSeq, lastDeliveredMs: 0,
        adflr: st.ackFloor.consumerSeq, asflr: st.ackFloor.streamSeq, lastAckMs: 0,
        numAckPending: st.pending.size, numRedelivered: st.redelivered.size, numWaiting: 0, numPending, pushBound: false,
      });
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(info)) {
      if (k === 'type' || (k === 'config' && !withConfig)) continue;
      // nats-server's field order: cluster after num_pending, before push_bound (and our ts).
      if ((k === 'push_bound' || k === 'ts') && out.cluster === undefined) out.cluster = this.sg.clusterInfoFor(this.node, this.ca.group.peers);
      out[k] = v;
    }
    if (out.cluster === undefined) out.cluster = this.sg.clusterInfoFor(this.node, this.ca.group.peers);
    return out;
  }

  /** ConsumerInfo answers carry the group's cluster block. */
  withCluster(body: string): string {
    if (body.includes('"error":')) return body;
    const ci = this.sg.clusterInfoFor(this.node, this.ca.group.peers);
    const block = `"cluster":${JSON.stringify(ci)}`;
    // nats-server's field order: cluster after num_pending, before push_bound (and our ts).
    const pb = body.lastIndexOf(',"push_bound":');
    const i = pb >= 0 ? pb : body.lastIndexOf(',"ts":"');
    if (i >= 0) return `${body.slice(0, i)},${block}${body.slice(i)}`;
    return body.endsWith('}') ? `${body.slice(0, -1)},${block}}` : body;
  }

  private sendQuorumLost(): void {
    this.advise((replicas, m) => consumerQuorumLost(this.ca.stream, this.name, replicas, m));
  }

  private sendLeaderElected(): void {
    this.advise((replicas, m) => consumerLeaderElected(this.ca.stream, this.name, this.c.server.serverName, replicas, m));
  }

  private advise(build: (replicas: PeerInfo[], m: AdvisoryMeta) => Advisory): void {
    const lookup = (id: string): { name: string; offline: boolean } | undefined => {
      const name = this.c.serverNameOf(id);
      return name === id ? undefined : { name, offline: !this.c.onlinePeers().has(id) };
    };
    const replicas = advisoryReplicas(this.peerStatus(), lookup, BigInt(Date.now()) * 1_000_000n);
    const copies = advisoryCopies((m) => build(replicas, m),
      this.account, this.account === this.c.server.systemAccount.name, this.c.js.domain ? { domain: this.c.js.domain } : {});
    if (copies.owner) this.c.js.jsAccount(this.account)?.client.publish(copies.owner.subject, '', undefined, copies.owner.payload);
    this.c.publishSystem(copies.system.subject, copies.system.payload);
  }

  /** A consumer-level API request (INFO, LEADER.STEPDOWN); true when handled here. */
  handleApi(req: import('../api/router.js').ApiRequest, handler: import('../api/router.js').ApiHandler | undefined): boolean {
    if (!this.isLeader || !this.running) return false;
    if (req.tokens[1] === 'LEADER') {
      this.c.respondRaw(req.accountName, req.subject, req.reply, consumerStepdownResponse(), false);
      try {
        this.node.stepDown(randomCurrentPeer(this.node));
      } catch { /* already stepping down */ }
      return true;
    }
    if (!handler) return true;
    req.onRespond = (b) => this.withCluster(b);
    void Promise.resolve(handler(req)).catch((e) => this.c.server.log.error(`JetStream API ${req.subject}: ${String(e)}`));
    return true;
  }
}
