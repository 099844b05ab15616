// Replicated (R>1) streams: one Raft group per stream on each of its assigned peers
// (nats-server's createRaftGroup + monitorStream + applyStreamEntries + processClusteredInboundMsg).
//
// Who does what:
// * every peer of the assignment runs a RaftNode for the group (WAL under
//   `<store_dir>/jetstream/$SYS/_js_/<group>/`) and holds a local Stream;
// * the local Stream gets a `replicator` hook: publishes that reach it are handed here. Only the
//   group leader subscribes to the stream's subjects (setIngest, as nats-server's setLeader), so
//   publishes reach it alone; one that still reaches a follower (in the moment of a leader
//   change) is dropped;
// * the leader checks, numbers (ProposalSequencer) and proposes a streamMsgOp; every replica
//   applies committed entries in log order through StreamApplier (exactly once, replays
//   ignored), and the leader sends the PubAck once it applied the entry. A committed entry is
//   in the fsync'ed WAL of a quorum, so an acknowledged message survives the loss of any
//   minority of replicas;
// * purge and message delete are proposed as their JSON ops and run on every replica at
//   apply through the single-server handler; only the leader answers the client.
//
// Snapshots, restart and catch-up (nats-server monitorStream / processSnapshot / runCatchup):
// * every replica installs a stream snapshot (the binary stream state of stream-snapshot.ts:
//   counts, first/last sequence, clfs, interior deletes) at its applied index periodically,
//   when its WAL grew past a threshold (raft-snapshot-policy.ts) and on shutdown, after
//   flushing its store; raft then compacts the group's WAL behind it;
// * at start the store on disk is kept and trusted up to the snapshot (stream-restore.ts):
//   whatever it holds beyond is cut and re-applied from the log, a store recovery found damaged
//   is cut below the damage, and a group without a snapshot rebuilds its store from the log;
// * a replica whose store ends before a snapshot it installed (its own at start, or the
//   leader's, sent by raft because the replica lagged behind the leader's compacted log) fetches
//   the missing messages from the leader with the `$JSC` catch-up protocol (stream-catchup.ts).
//   Meanwhile it is a raft observer (never campaigns, so it never leads with missing data),
//   buffers the entries raft commits, and the leader reports it as not current; once caught up
//   it applies the buffered entries and may lead again.

import { join } from 'node:path';
import { existsSync, rmSync } from 'node:fs';
import { checkStreamConfig, sameStreamConfig } from '../stream-config.js';
import { decodeStreamSnapshot, encodeStreamSnapshotJson } from './stream-snapshot.js';
import { lastTrustedSeq, restoreFromSnapshot, truncateStore } from './stream-restore.js';
import { CatchupClient, CatchupServer } from './stream-catchup.js';
import { SnapshotSchedule, streamSnapshotPolicy } from './raft-snapshot-policy.js';
import { EntryType, RAFT_WITNESS_COPY, RaftError, RaftNode, WireEntry, resetNodeStorage, type Entry } from '../../raft/index.js';
import type { Stream } from '../stream.js';
import type { ApiHandler, ApiRequest } from '../api/router.js';
import { jsErr, jsErrText } from '../api/errors.js';
import { parsePubHeaders } from '../headers.js';
import { goJson } from '../api/json.js';
import { isStorageFailure, isStoreError } from '../store/errors.js';
import { RouteRaftTransport } from './route-transport.js';
import { accountOf, type StreamEntry } from './assignments.js';
import { EntryOp } from './ops.js';
import { parseGoTime } from '../api/json.js';
import {
  MAX_DECOMPRESSED_BODY, asBuffer, decodeStreamGroupEntry, decodeStreamMsgAt, encodeMsgDelete, encodePurge,
  encodeSkipEntry, encodeStreamMsg,
  type DecodedStreamMsg, type StreamGroupEntry,
} from './stream-entry.js';
import { ApplyMismatchError, ProposalSequencer, StreamApplier, pubAckBytes, pubAckFor, type ApplyStore, type LimitRefusal } from './stream-apply.js';
import {
  QuorumLostThrottle, advisoryCopies, advisoryReplicas, clusterInfo, quorumLostApplies, streamLeaderElected, streamQuorumLost,
  streamStepdownResponse, type RaftPeerStatus,
} from './advisories.js';
import type { ClusteredJetStream } from './js-cluster.js';
import { ConsumerGroup } from './consumer-group.js';
import { serveLeaderInfo, streamInfoSubject } from './leader-info.js';
import { serveReplicaStates, type ReplicaState } from './peer-remove-guard.js';
import { answerUpdate, clearSeedMark, consumerStates, handOver, markAwaitingSeed, markSeed, scaleUpRole, type ScaleUpRole } from './stream-membership.js';
import type { ConsumerState } from '../store/types.js';
import type { ConsumerAssignment } from './assignments.js';
import { injectedStartFault, standInForPreferred, StartRetries } from './start-retry.js';

const T = 'io.nats.jetstream.api.v1.';
/** A memory replica behind its snapshot waits this long for a leader before accepting the loss. */
const MEMORY_CATCHUP_GIVE_UP_MS = 20_000;
/** How often a follower that answers no direct gets checks whether its replica is current. */
const DIRECT_CHECK_MS = 250;
const MAX_HEADER_BYTES = 65535;
/**
 * Fault injection for tests only (read once at start; never set in production): the seed of a
 * scale-up from R1 waits this long after it became leader before it sends its stream snapshot,
 * holding open the window in which the new replicas have its first entry but not its data
 * (test/cluster/js-repl-scale-seed-*-kill.test.ts). Publishes reaching it meanwhile would be
 * proposed ahead of the snapshot (and end the new replicas' wait), so tests publish nothing while
 * it is open.
 */
const SEED_SNAPSHOT_DELAY_MS = Math.max(0, Number(process.env.TSNATS_FAULT_DELAY_SEED_SNAPSHOT_MS ?? 0) || 0);

function refusalOf(e: unknown): LimitRefusal | undefined {
  if (!isStoreError(e)) return undefined;
  switch (e.code) {
    case 'ErrMaxMsgs': return 'max_msgs';
    case 'ErrMaxBytes': return 'max_bytes';
    case 'ErrMaxMsgsPerSubject': return 'max_msgs_per_subject';
    case 'ErrMsgTooLarge': return 'msg_too_large';
    default: return undefined;
  }
}

/**
 * A random current peer to hand leadership to (nats-server's StepDown takes the first of a Go
 * map, i.e. a random one; the raft library's own choice is the first in its peer order).
 */
export function randomCurrentPeer(node: RaftNode): string | undefined {
  const peers = node.status().peers.filter((p) => !p.self && p.current);
  return peers.length ? peers[Math.floor(Math.random() * peers.length)]!.id : undefined;
}

/**
 * Stop (or, when deleting, delete) a stream's or consumer's raft node and close its transport. A
 * leader that stops without deleting hands leadership over first (no election timeout for the others).
 */
export function stopGroupNode(node: RaftNode | undefined, transport: RouteRaftTransport | undefined, deleting: boolean): void {
  if (node && !deleting && node.state === 'leader') {
    try {
      node.stepDown(randomCurrentPeer(node));
    } catch { /* not leader any more */ }
  }
  if (node) {
    if (deleting) node.delete();
    else node.stop();
  }
  transport?.close();
}

/** One replicated stream on this server. */
export class StreamGroup {
  readonly account: string;
  readonly name: string;
  node!: RaftNode;
  stream!: Stream;
  private applier!: StreamApplier;
  private sequencer!: ProposalSequencer;
  private transport!: RouteRaftTransport;
  /** The client's create request is answered by the first leader (once). */
  private createReply: string;
  private lastTs = 0n;
  private tsMs = -1;
  private tsMsNs = 0n;
  stopped = false;
  /** stop() was called (stopped is set later, once its snapshot is taken); a start in progress gives up. */
  private stopping: Promise<void> | undefined;
  private wasLeader = false;
  private readonly startedMs = Date.now();
  private readonly lostQuorum = new QuorumLostThrottle();
  /** Replicated consumers of this stream, by name. */
  readonly consumers = new Map<string, ConsumerGroup>();
  /**
   * Consumer groups being deleted here (by consumer name): the deletion removes the group's
   * directory once its node stopped, so a group of the same name and directory (a consumer scaled
   * off this server and straight back on) starts only after it.
   */
  private readonly deletingConsumers = new Map<string, Promise<void>>();
  /** The `$JSC.SI` subscription while this server leads (setInfoSub). */
  private infoUnsub: (() => void) | undefined;
  /** Next lseq a mirrored message would be proposed with (0: from the applied store). */
  private mirrorNext = 0;
  /** Publishes held while a new leader applies the log of earlier terms. */
  private held: Array<[string, string, Buffer | undefined, Buffer]> = [];
  /** Whether the store on disk was matched against a snapshot (or found untrusted) yet. */
  private decided = false;
  /** At start: the last sequence store recovery found intact (undefined: nothing lost). */
  private trusted: number | undefined;
  /** The `$JSC` catch-up in progress (this replica's store is behind its snapshot). */
  private catchup: CatchupClient | undefined;
  /** Entries committed while catching up, applied once caught up. */
  private buffered: Buffer[] = [];
  private catchupServer!: CatchupServer;
  private readonly snaps = new SnapshotSchedule(streamSnapshotPolicy());
  private snapTimer: NodeJS.Timeout | undefined;
  /** Polls, while this follower answers no direct gets, for its replica to become current (watchDirect). */
  private directTimer: NodeJS.Timeout | undefined;
  /** Campaigns if the preferred first leader has not led in time (start-retry.ts standInForPreferred). */
  private standIn: NodeJS.Timeout | undefined;
  private snapshotting = false;
  /** A write failed (storageFailed): the group is being stopped, to start again later. */
  failedStorage = false;
  /** resetReplica() is under way: entries are ignored until the node restarts. */
  private resetting = false;
  /** Stream snapshots installed by this replica since start (tests, monitoring). */
  snapshotsTaken = 0;
  /** `$JSC` catch-ups this replica completed since start (tests, monitoring). */
  catchupsDone = 0;
  /** Times this replica reset itself from the leader (resetReplica) since start. */
  resets = 0;

  /** Scale-up from one replica (stream-membership.ts scaleUpRole), decided before start. */
  scaleUp: ScaleUpRole;
  /** This replica started as the seed of a scale-up from R1 (its consumers keep their state). */
  seeded = false;
  /**
   * A new replica that has not applied a snapshot or stream entry from a leader: an observer that
   * vouches for nothing (stream-membership.ts scaleUpRole).
   */
  private awaitingSeed = false;
  /** The seed's R1 consumers' states, taken before the group starts (consumer-group.ts seeds from them). */
  seedConsumerStates: Map<string, ConsumerState> | undefined;

  constructor(private readonly c: ClusteredJetStream, public entry: StreamEntry) {
    this.account = accountOf(entry.sa.client);
    this.name = entry.sa.stream.name;
    // A replica joining through an update (scale-up) has no create to answer.
    this.createReply = entry.sa.subject.includes('.STREAM.UPDATE.') ? '' : entry.sa.reply;
  }

  get groupName(): string {
    return this.entry.sa.group.name;
  }

  get dir(): string {
    return join(this.c.js.storeRoot, this.c.server.systemAccount.name, '_js_', this.groupName);
  }

  /**
   * The copy of the group's durable WAL witness, in the stream's store directory: a group
   * directory removed while the store is left is then lost state, not a new replica (memory
   * streams have no directory for it).
   */
  get witnessCopyPath(): string | undefined {
    if ((this.entry.sa.stream as { storage?: string }).storage === 'memory') return undefined;
    return join(this.c.js.stores.streamDir(this.account, this.name), RAFT_WITNESS_COPY);
  }

  get isLeader(): boolean {
    return !this.stopped && this.node?.isLeader === true;
  }

  /**
   * Create and start the group's raft node (replaying its snapshot and log into the store).
   * `stateLost`: its log was dropped on purpose (resetReplica): vote as an empty log, never campaign.
   */
  private startNode(stateLost: boolean): void {
    const g = this.entry.sa.group;
    this.node = new RaftNode({
      group: g.name,
      serverName: this.c.server.serverName,
      peers: [...g.peers],
      storeDir: this.dir,
      witnessCopy: this.witnessCopyPath,
      transport: this.transport,
      managed: true,
      stateLost,
      observer: this.awaitingSeed,
      segmentMaxBytes: this.snaps.policy.segmentBytes,
      // The commit goes to the followers (routes flushed) before the leader applies it, as NRG's
      // heartbeat on quorum: a follower that is also the publisher's server applies the batch while
      // the leader does, instead of after it (the leader's PubAcks and the commit used to leave in
      // one write, and that server applied the batch before it could forward them).
      announceCommitFirst: true,
      apply: (index, entries) => this.applyEntries(index, entries),
      onLeaderChange: (isLeader) => this.onLeaderChange(isLeader),
      onProposalsAbandoned: () => this.abandon(),
      onError: (err) => this.storageFailed(err),
      log: (level, msg) => (level === 'warn' ? this.c.server.log.warn(`JetStream stream '${this.account} > ${this.name}': ${msg}`) : undefined),
    });
    this.node.start();
    // No snapshot and no entry on disk: nothing vouches for a store left on disk.
    if (!this.decided) this.untrustStore();
  }

  /**
   * This replica's store no longer lines up with the log (a sequence mismatch, or the store
   * failed while applying): it can neither apply nor lead safely. Drop its log and snapshots
   * (term and vote stay), distrust the whole store and start over as a replica that lost its
   * state: the leader sends its snapshot (or its log) and the messages follow by catch-up
   * (nats-server resetClusteredState).
   */
  private resetReplica(why: string): void {
    if (this.resetting || this.stopped || this.failedStorage) return;
    this.resetting = true;
    this.resets++;
    this.log('warn', `${why}; resetting this replica from the leader`);
    this.catchup?.stop();
    this.catchup = undefined;
    this.stopDirect();
    this.buffered = [];
    // Not from inside the node's apply callback; a short pause also keeps a repeated failure from spinning.
    const t = setTimeout(() => {
      if (this.stopped) return;
      this.abandon();
      this.catchupServer.setActive(false);
      stopGroupNode(this.node, undefined, false);
      resetNodeStorage(this.dir);
      this.decided = false;
      this.trusted = 0;
      this.applier.importState({ clfs: 0 });
      this.applier.clearMsgIds();
      this.resetting = false;
      this.startNode(true);
    }, 250);
    t.unref();
  }

  /**
   * A write of this replica failed (its raft log, which stops the node, or its store): a full
   * disk, EIO. Resetting would throw away good files and fail the same way. The replica stops and
   * StreamGroups starts it again later from its files, backing off while the disk keeps failing;
   * once it can write again it catches up from the leader like any restarted replica.
   */
  private storageFailed(err: Error): void {
    if (this.stopped || this.failedStorage) return;
    this.failedStorage = true;
    this.c.server.log.error(`JetStream stream '${this.account} > ${this.name}': storage failure (${err.message}); this replica stops and starts again from its files later`);
    this.c.streamGroups.restartAfterFailure(this);
  }

  /** True while this replica fetches missing messages from the leader. */
  get catchingUp(): boolean {
    return this.catchup !== undefined;
  }

  /** The local stream as an earlier run left it on disk (recovered at start), or a new one. */
  private async openStream(): Promise<Stream> {
    const jsa = this.c.js.jsAccount(this.account);
    if (!jsa) throw new Error(`jetstream not enabled for account ${this.account}`);
    const cfg = { ...(this.entry.sa.stream as Record<string, unknown>) } as never;
    const old = jsa.streams.get(this.name);
    if (old) {
      // Consumers the single-server recovery brought back run as replicated consumer groups
      // (consumer-group.ts), which rebuild their state from their own logs: stop the local ones.
      for (const name of old.consumerNames()) await old.getConsumer(name)?.stop(false);
      try {
        const raw = this.entry.sa.stream as { storage?: string };
        const want = checkStreamConfig(cfg, { ...jsa.configContext(raw.storage === 'memory' ? 'memory' : 'file'), clustered: true }, false);
        if (sameStreamConfig(old.config, want)) return old;
        await jsa.updateStream(old, cfg, false, true);
        return old;
      } catch (e) {
        // The assignment changed in a way the store cannot follow: rebuild it from the group.
        this.c.server.log.warn(`JetStream stream '${this.account} > ${this.name}': recovered store does not match the assignment (${(e as Error).message}); rebuilding it`);
        await jsa.deleteStream(old);
      }
    }
    return jsa.createStream(cfg, false, true);
  }

  /**
   * Open the local stream (the store an earlier run left, if any) and start the raft node, which
   * replays the group's snapshot and log through applyEntries before returning.
   */
  async start(): Promise<void> {
    const stream = await this.openStream();
    this.stream = stream;
    // Stopped while the store opened (the server shutting down): no node, nothing to stop later.
    if (this.stopping !== undefined) throw new Error('stream group stopped while starting');
    injectedStartFault(this.c.server.serverName);
    this.trusted = lastTrustedSeq(stream.store);
    if (this.trusted !== undefined) {
      this.c.server.log.warn(`JetStream stream '${this.account} > ${this.name}': store recovery lost messages; trusting it only through sequence ${this.trusted}`);
    }
    stream.clusterInfo = () => this.clusterInfo();
    stream.assignedConsumerCount = () => this.entry.consumers.size;
    stream.assignedConsumerCreatedNs = (consumer) => {
      const created = this.entry.consumers.get(consumer)?.created;
      try {
        return created ? parseGoTime(created) : undefined;
      } catch {
        return undefined; // an assignment from elsewhere with an unreadable time: the local clock
      }
    };
    const dupNs = BigInt(stream.config.duplicate_window);
    const store: ApplyStore = {
      state: () => ({ msgs: stream.store.msgs, firstSeq: stream.store.firstSeq, lastSeq: stream.store.lastSeq }),
      lastSeq: () => stream.store.lastSeq,
      storeRaw: (subject, hdr, msg, seq, tsNs) => {
        try {
          stream.storeRaw(subject, hdr ?? undefined, msg ?? Buffer.alloc(0), seq, tsNs);
          // Rollups (KV purge) run at apply, identically on every replica.
          const rollup = hdr && hdr.length ? parsePubHeaders(hdr)?.rollup : undefined;
          if (rollup === 'sub') stream.purge({ filter: subject, keep: 1 }, true);
          else if (rollup === 'all') stream.purge({ keep: 1 }, true);
          return undefined;
        } catch (e) {
          const r = refusalOf(e);
          if (r) return r;
          throw e;
        }
      },
      skipMsg: (seq) => { stream.store.skipMsg(seq); },
      compact: (nextSeq) => { stream.store.compact(nextSeq); },
      lastSeqForSubject: (subject) => stream.store.loadLastMsg(subject)?.seq ?? 0,
    };
    this.applier = new StreamApplier(store, { stream: this.name, duplicateWindowNs: dupNs > 0n ? dupNs : 0n });
    this.sequencer = new ProposalSequencer(this.applier);
    stream.replicator = (s, r, h, p) => this.onPublish(s, r, h, p);
    stream.mirrorReplicator = (s, h, p, seq, ts) => this.proposeMirrored(s, h, p, seq, ts);
    stream.leaderCheck = () => this.isLeader;
    // Until elected here, followers of this stream's origins stop (sourcing.ts).
    stream.notifyLeaderChanged();
    // Publishes are taken on the leader only (onLeaderChange): a scale-up's seed stops taking them here.
    this.setIngest(false);
    stream.consumerStoreHook = (name, st) => this.consumers.get(name)?.wrap(st) ?? st;
    // flushRoutes: announceCommitFirst writes the commit out at once (see the node's options).
    this.transport = new RouteRaftTransport(this.c.server.systemAccount, `nrg-${this.groupName}`, () => this.c.cluster.flushRoutes());
    this.catchupServer = new CatchupServer(this.transport, this.entry.sa.sync, () => this.catchupSource(),
      (m) => this.c.server.log.warn(`JetStream stream '${this.account} > ${this.name}': ${m}`));
    const g = this.entry.sa.group;
    // Scale-up from R1: the seed's store is the data (trusted, no log vouches for it yet). A new
    // replica waits as an observer (and in raft's lost-state mode) until a leader gave it the data.
    let fresh = false;
    if (this.scaleUp === 'seed') {
      this.seeded = true;
      markSeed(this.dir);
      this.decided = true;
    } else if (this.scaleUp === 'join') {
      this.awaitingSeed = true;
      fresh = markAwaitingSeed(this.dir);
    }
    this.startNode(fresh);
    this.snapTimer = setInterval(() => void this.snapshotCheck(), this.snaps.policy.checkMs);
    this.snapTimer.unref();
    this.watchDirect();
    // The preferred peer (nats-server: the placement's first choice) campaigns at once.
    const preferred = g.preferred || g.peers[0] || '';
    if (!this.catchup && preferred === this.c.id) this.node.campaign();
    else {
      this.standIn = standInForPreferred(g.peers, preferred, this.c.id, () => {
        if (this.stopped || this.stopping !== undefined || this.catchup || this.node.leaderId !== '' || this.node.isLeader) return;
        try {
          this.node.campaign();
        } catch { /* closed meanwhile */ }
      });
    }
  }

  /** Stop the group (once: a second call waits for the first). */
  stop(deleting: boolean): Promise<void> {
    this.stopping ??= this.doStop(deleting);
    return this.stopping;
  }

  private async doStop(deleting: boolean): Promise<void> {
    if (this.snapTimer) clearInterval(this.snapTimer);
    if (this.directTimer) clearTimeout(this.directTimer);
    this.directTimer = undefined;
    if (this.standIn) clearTimeout(this.standIn);
    // A clean shutdown leaves a snapshot of the flushed store: the next start replays no log.
    if (!deleting) await this.snapshot(true);
    this.stopped = true;
    this.setInfoSub(false);
    this.catchup?.stop();
    this.catchup = undefined;
    this.catchupServer?.setActive(false);
    this.abandon();
    for (const cg of this.consumers.values()) await cg.stop(deleting);
    this.consumers.clear();
    stopGroupNode(this.node, this.transport, deleting);
    if (deleting) rmSync(this.dir, { recursive: true, force: true });
  }

  // ------------------------------------------------------------------ publish path

  private nextTs(): bigint {
    // The ns value of the current millisecond is converted once per millisecond, not per message.
    const ms = Date.now();
    if (ms !== this.tsMs) {
      this.tsMs = ms;
      this.tsMsNs = BigInt(ms) * 1_000_000n;
    }
    let ts = this.tsMsNs;
    if (ts <= this.lastTs) ts = this.lastTs + 1n;
    this.lastTs = ts;
    return ts;
  }

  /** A publish on the stream's subjects reached this replica. */
  private onPublish(subject: string, reply: string, headers: Buffer | undefined, payload: Buffer): void {
    if (this.stopped || this.node.state !== 'leader') return;
    if (!this.node.isLeader) {
      // Leader elected but still applying earlier terms: keep it for a moment.
      this.held.push([subject, reply, headers ? Buffer.from(headers) : undefined, Buffer.from(payload)]);
      return;
    }
    const cfg = this.stream.config;
    const respond = reply !== '' && cfg.no_ack !== true;
    if (cfg.sealed) return this.rejectPublish(respond, reply, jsErr('StreamSealed'));
    const hdrLen = headers?.length ?? 0;
    if (cfg.max_msg_size >= 0 && (hdrLen > cfg.max_msg_size || payload.length > cfg.max_msg_size - hdrLen)) return this.rejectPublish(respond, reply, jsErr('StreamMessageExceedsMaximum'));
    if (hdrLen > MAX_HEADER_BYTES) return this.rejectPublish(respond, reply, jsErr('StreamHeaderExceedsMaximum'));
    if (hdrLen > 0) {
      const h = parsePubHeaders(headers!);
      if (h?.rollup !== undefined) {
        if (!cfg.allow_rollup_hdrs || cfg.deny_purge) return this.rejectPublish(respond, reply, jsErrText('StreamRollupFailed', 'rollup not permitted'));
        if (h.rollup !== 'sub' && h.rollup !== 'all') return this.rejectPublish(respond, reply, jsErrText('StreamRollupFailed', `rollup value invalid: ${JSON.stringify(h.rollup)}`));
      }
      if (h?.expectedLastSubjSeqSubject !== undefined && h.expectedLastSubjSeq === undefined) return this.rejectPublish(respond, reply, jsErr('StreamExpectedLastSeqPerSubjectInvalid'));
    }
    // Views are enough: the sequencer keeps neither, and the entry it encodes is a copy.
    const d = this.sequencer.propose(subject, reply, headers && headers.length ? headers : null,
      payload.length ? payload : null, this.nextTs(), true, respond ? reply : '');
    if (d.kind === 'answer') {
      const body = pubAckFor(this.name, d.result, this.c.js.domain);
      if (respond && body) this.c.js.jsAccount(this.account)?.client.answer(reply, body);
      return;
    }
    if (d.kind === 'not_ready') return;
    try {
      this.node.propose(d.entry);
    } catch (e) {
      this.sequencer.applied(d.lseq);
      this.sequencer.reset();
      if (!(e instanceof RaftError)) throw e;
    }
  }

  /**
   * A message of the origin of a mirror (sourcing): proposed with the origin's sequence and
   * time, the origin's gaps as skip entries before it (nats-server: mirrored messages are
   * proposed with lseq = origin sequence - 1, and skipMsgs proposes one skip per sequence).
   * An empty mirror starts at the first sequence it receives (apply moves it forward).
   */
  private proposeMirrored(subject: string, hdr: Buffer | undefined, msg: Buffer, seq: number, ts: bigint): void {
    if (this.stopped || !this.node.isLeader) return;
    const expected = this.applier.expectedLseq();
    let next = Math.max(this.mirrorNext, expected);
    if (seq - 1 < next) return;
    if (this.mirrorNext === 0 && this.stream.store.msgs === 0 && this.sequencer.inFlight === 0) next = seq - 1;
    try {
      for (; next < seq - 1; next++) this.node.propose(encodeSkipEntry(next));
      this.node.propose(encodeStreamMsg({ lseq: seq - 1, ts, subject, reply: '', hdr: hdr && hdr.length ? hdr : null, msg: msg.length ? msg : null }));
      this.mirrorNext = seq;
    } catch (e) {
      this.mirrorNext = 0;
      if (!(e instanceof RaftError)) throw e;
    }
  }

  /** A publish refused before proposing (a method, not a closure allocated for every publish). */
  private rejectPublish(respond: boolean, reply: string, err: ReturnType<typeof jsErr>): void {
    if (respond) this.c.js.jsAccount(this.account)?.client.answer(reply, pubAckFor(this.name, { kind: 'rejected', error: err })!);
  }

  /** Lost leadership: outcomes of in-flight proposals are unknown to us now. */
  private abandon(): void {
    this.sequencer?.reset();
    this.mirrorNext = 0;
    this.held = [];
  }

  // ------------------------------------------------------------------ apply

  private applyEntries(index: number, entries: Entry[]): void {
    for (const e of entries) {
      // After a failed write nothing more is applied: the restart re-applies from the log.
      if (this.resetting || this.failedStorage) return;
      if (e.type === EntryType.Snapshot) {
        this.applySnapshot(index, e.data);
        continue;
      }
      if (e.type !== EntryType.Normal) continue;
      // The log starts without a snapshot: the store is rebuilt from it.
      if (!this.decided) this.untrustStore();
      // A committed stream entry: a seed's snapshot would have come first, so the data is in the log.
      if (this.awaitingSeed) this.endAwaiting();
      if (this.catchup) {
        this.buffered.push(Buffer.from(e.data));
        continue;
      }
      // An entry of a received append entry (followers: every message) is decoded straight from
      // the AE's bytes, without a view of its own.
      if (e instanceof WireEntry) this.applyNormalAt(asBuffer(e.src), e.start, e.end);
      else this.applyNormal(e.data);
    }
  }

  private applyNormal(data: Uint8Array): void {
    this.applyNormalAt(asBuffer(data), 0, data.length);
  }

  /** Apply the entry `buf[start, end)`. */
  private applyNormalAt(buf: Buffer, start: number, end: number): void {
    if (this.failedStorage) return;
    {
      let d: StreamGroupEntry | undefined;
      let m: DecodedStreamMsg | undefined;
      try {
        // In place, not a copy: what the store and the dedupe map keep they copy or turn into strings.
        // Messages (nearly every entry) are decoded without the op wrapper object.
        const op = end > start ? buf[start] : -1;
        if (op === EntryOp.streamMsgOp || op === EntryOp.compressedStreamMsgOp) m = decodeStreamMsgAt(buf, start, end, MAX_DECOMPRESSED_BODY, false);
        else d = decodeStreamGroupEntry(buf.subarray(start, end), false);
      } catch (err) {
        this.c.server.log.warn(`JetStream stream '${this.account} > ${this.name}': skipping malformed entry: ${(err as Error).message}`);
        return;
      }
      try {
        if (m !== undefined) this.applyMsg(m);
        else if (d === undefined) return;
        else if (d.op === EntryOp.purgeStreamOp) this.applyApi(d.purge.subject, d.purge.reply, JSON.stringify(d.purge.request ?? {}));
        else if (d.op === EntryOp.deleteMsgOp) {
          this.applyApi(d.del.subject, d.del.reply, JSON.stringify({ seq: d.del.seq, ...(d.del.no_erase ? { no_erase: true } : {}) }));
        }
      } catch (err) {
        if (err instanceof ApplyMismatchError) {
          this.c.server.log.error(`JetStream stream '${this.account} > ${this.name}': ${err.message}`);
        } else {
          this.c.server.log.error(`JetStream stream '${this.account} > ${this.name}': apply failed: ${(err as Error)?.stack ?? err}`);
        }
        if (isStorageFailure(err)) this.storageFailed(err as Error);
        else this.resetReplica(err instanceof ApplyMismatchError ? 'the store does not line up with the log' : 'the store failed at apply');
      }
    }
  }

  private applyMsg(m: DecodedStreamMsg): void {
    const r = this.applier.apply(m);
    // The PubAck's reply was recorded with the proposal ('' when none is wanted; undefined: not ours).
    const reply = this.sequencer.settle(m.lseq);
    if (!reply || !this.node.isLeader) return;
    const body = pubAckBytes(this.name, r, this.c.js.domain);
    if (body) this.c.js.jsAccount(this.account)?.client.answer(reply, body);
  }

  // ------------------------------------------------------------------ snapshots and catch-up

  private log(level: 'info' | 'warn', msg: string): void {
    this.c.server.log[level](`JetStream stream '${this.account} > ${this.name}': ${msg}`);
  }

  private get dupWindowNs(): bigint {
    const ns = BigInt(this.stream.config.duplicate_window);
    return ns > 0n ? ns : 0n;
  }

  /** The group's log starts without a snapshot: the store cannot be matched to it, rebuild it. */
  private untrustStore(): void {
    this.decided = true;
    this.trusted = undefined;
    const st = this.stream.store.fastState();
    if (st.lastSeq === 0 && st.msgs === 0) return;
    this.log('warn', `no stream snapshot vouches for the ${st.msgs} stored messages; rebuilding the store from the log`);
    truncateStore(this.stream.store, 0);
    this.applier.importState({ clfs: 0 });
    this.applier.clearMsgIds();
  }

  /** A stream snapshot: our own at start, or the leader's (we lagged behind its compacted log). */
  private applySnapshot(index: number, data: Uint8Array): void {
    this.decided = true;
    // The seed's own snapshot is in its log: a restart replays it instead of seeding again.
    if (this.scaleUp === 'seed') {
      this.scaleUp = undefined;
      clearSeedMark(this.dir);
    }
    let snap;
    try {
      snap = decodeStreamSnapshot(Buffer.from(data));
    } catch (e) {
      // Keep the state we have; raft's lost-state handling covers a snapshot it could not load.
      this.log('warn', `ignoring unreadable stream snapshot at index ${index}: ${(e as Error).message}`);
      return;
    }
    // A joiner never installs a snapshot of its own: this one came from a leader, and it is
    // committed (the seed's data is in a quorum's log now). The catch-up below keeps the replica
    // an observer until its store holds what the snapshot describes.
    if (this.awaitingSeed) this.endAwaiting();
    // A newer snapshot covers whatever an earlier catch-up was fetching and every buffered entry.
    this.catchup?.stop();
    this.catchup = undefined;
    this.buffered = [];
    const trusted = this.trusted;
    this.trusted = undefined;
    const r = restoreFromSnapshot(this.stream.store, this.applier, snap, trusted, this.dupWindowNs);
    if (r.cut > 0 || r.deleted > 0) this.log('info', `matched the store to the snapshot at index ${index}: ${r.cut} sequences cut, ${r.deleted} deleted`);
    if (r.catchupTo !== undefined) this.startCatchup(r.catchupTo, index);
  }

  /**
   * What this replica holds, for the meta leader deciding a STREAM.PEER.REMOVE: its store has what
   * its applied log describes unless it awaits a seed, fetches messages, was reset or failed.
   */
  replicaState(): ReplicaState | undefined {
    if (this.stopped || !this.node || this.node.state === 'closed') return undefined;
    const st = this.node.status();
    const holds = !this.resetting && !this.failedStorage && !this.awaitingSeed && !this.catchup && !st.observer && !st.stateLost;
    return { holds, leader: this.node.isLeader, applied: st.applied, commit: st.commit };
  }

  /** A joiner has the group's data from the log: it may lead once its store holds it (no catch-up running). */
  private endAwaiting(): void {
    this.awaitingSeed = false;
    clearSeedMark(this.dir, 'join');
    // Not from inside the node's apply callback.
    queueMicrotask(() => {
      if (!this.stopped && !this.catchup && !this.resetting) this.node.setObserver(false);
    });
  }

  private startCatchup(lastSeq: number, index: number): void {
    this.log('info', `store ends at ${this.stream.store.fastState().lastSeq}, snapshot at ${lastSeq}: catching up from the leader`);
    const store = this.stream.store;
    const client = new CatchupClient({
      transport: this.transport, syncSubject: this.entry.sa.sync, peer: this.c.id, lastSeq, snapIndex: index,
      sink: {
        lastSeq: () => store.fastState().lastSeq,
        storeRaw: (subject, hdr, msg, seq, ts) => this.stream.storeRaw(subject, hdr ?? undefined, msg ?? Buffer.alloc(0), seq, ts),
        skipMsg: (seq) => { store.skipMsg(seq); },
        skipMsgs: (first, num) => { store.skipMsgs(first, num); },
      },
      onDone: () => this.finishCatchup(client),
      log: (m) => this.log('warn', m),
      progress: this.c.js.progress?.begin(`JetStream: catching up stream '${this.account} > ${this.name}' from its leader`, 'last seq', lastSeq, store.fastState().lastSeq),
    });
    this.catchup = client;
    this.stopDirect();
    // Never lead with missing messages. Deferred: we may be inside the node's apply callback.
    queueMicrotask(() => {
      if (this.catchup === client && !this.stopped) this.node.setObserver(true);
    });
    client.start();
    if (this.stream.config.storage === 'memory') this.giveUpWithoutLeader(client, lastSeq);
  }

  /**
   * A memory stream keeps no messages across a restart; when every replica restarted, no leader
   * holds them either and every replica would wait as an observer for good. After a while without
   * any leader, accept the loss (the sequences stay used) and take part again.
   */
  private giveUpWithoutLeader(client: CatchupClient, lastSeq: number): void {
    const t = setTimeout(() => {
      if (this.catchup !== client || this.stopped) return;
      if (this.node.leaderId) {
        this.giveUpWithoutLeader(client, lastSeq);
        return;
      }
      const own = this.stream.store.fastState().lastSeq;
      this.log('warn', `memory stream: no leader to catch up from; messages ${own + 1}..${lastSeq} are lost`);
      client.stop();
      if (lastSeq > own) this.stream.store.skipMsgs(own + 1, lastSeq - own);
      this.finishCatchup(client, true);
    }, MEMORY_CATCHUP_GIVE_UP_MS);
    t.unref();
  }

  private finishCatchup(client: CatchupClient, gaveUp = false): void {
    if (this.catchup !== client || this.stopped) return;
    this.catchup = undefined;
    if (!gaveUp) {
      this.catchupsDone++;
      this.log('info', `caught up to ${this.stream.store.fastState().lastSeq} in ${client.attempts} run(s)`);
    }
    // Resume the log where the snapshot left it.
    const pending = this.buffered;
    this.buffered = [];
    for (let i = 0; i < pending.length; i++) {
      if (this.catchup) {
        this.buffered.push(...pending.slice(i));
        return;
      }
      this.applyNormal(pending[i]!);
    }
    if (!this.catchup && !this.stopped && !this.awaitingSeed) this.node.setObserver(false);
  }

  /** The leader's store as the catch-up sender reads it. */
  private catchupSource() {
    if (!this.isLeader) return undefined;
    const store = this.stream.store;
    return {
      lastSeq: () => store.fastState().lastSeq,
      loadMsg: (seq: number) => {
        const m = store.loadMsg(seq);
        return m ? { subject: m.subject, hdr: m.headers ?? null, msg: m.data, ts: m.ts } : undefined;
      },
    };
  }

  private async snapshotCheck(): Promise<void> {
    if (this.stopped || this.catchup || this.snapshotting || !this.node) return;
    if (!this.snaps.due(this.node.status().walBytes)) return;
    await this.snapshot(false);
  }

  /**
   * Install a stream snapshot: capture the store's state together with the applied index (the
   * apply path is synchronous, so they match), wait until the store has made that state durable,
   * then install it at that index. The snapshot lets raft drop the log that could rebuild the
   * state, so it must never describe messages the store could still lose (a kill -9 loses what
   * the file store has not written yet); entries applied meanwhile stay in the WAL.
   */
  async snapshot(force: boolean): Promise<boolean> {
    if (this.stopped || this.catchup || this.resetting || this.snapshotting || !this.node || this.node.state === 'closed') return false;
    if (!this.decided || this.node.applied <= 0 || this.node.applied <= this.node.status().snapshotIndex) return false;
    // A joiner's empty store is not the stream: a snapshot of it would vouch for it at restart.
    if (this.awaitingSeed) return false;
    // Nor a seed's before its seed snapshot is applied: restarting from that snapshot would end the
    // seeding (applySnapshot), and the new replicas would never get the data (a clean restart did).
    if (this.scaleUp === 'seed') return false;
    const node = this.node;
    const index = node.applied;
    const bin = this.stream.store.encodedStreamState(this.applier.clfs);
    this.snapshotting = true;
    try {
      await this.stream.store.flush();
    } catch (e) {
      this.log('warn', `stream snapshot skipped: store flush failed: ${(e as Error).message}`);
      return false;
    } finally {
      this.snapshotting = false;
    }
    // A reset, a catch-up or a leader's snapshot meanwhile makes the captured state stale.
    if (this.stopped || this.catchup || this.resetting || this.node !== node || (node.state as string) === 'closed') return false;
    this.snaps.taken();
    try {
      // A nats-server 2.9.10 peer reads only the JSON form (raft sends it our snapshot when it lags).
      const goPeer = this.entry.sa.group.peers.some((id) => id !== this.c.id && this.c.peerInfo.isGoPeer(id));
      node.installSnapshotAt(index, goPeer ? encodeStreamSnapshotJson(decodeStreamSnapshot(bin)) : bin, force);
      this.snapshotsTaken++;
      return true;
    } catch (e) {
      if (!(e instanceof RaftError)) this.log('warn', `stream snapshot failed: ${(e as Error).message}`);
      return false;
    }
  }

  /** Purge / message delete: the single-server handler on every replica; the leader answers. */
  private applyApi(subject: string, reply: string, payload: string): void {
    const answer = this.node.isLeader ? reply : '';
    void this.c.runLocal(this.account, subject, answer, payload);
  }

  // ------------------------------------------------------------------ leadership

  /** While leading, answer a nats-server meta leader's `$JSC.SI` (leader-info.ts). */
  private setInfoSub(on: boolean): void {
    if (!on) {
      this.infoUnsub?.();
      this.infoUnsub = undefined;
    } else if (!this.infoUnsub) {
      this.infoUnsub = serveLeaderInfo(this.c, streamInfoSubject(this.account, this.name), this.account,
        `$JS.API.STREAM.INFO.${this.name}`, () => this.isLeader);
    }
  }

  /**
   * Direct gets (allow_direct, mirror_direct) are answered here while this server leads the stream
   * or once its replica is current, and not while its store is behind (a catch-up, a reset): it
   * would answer "not found" for acknowledged messages. nats-server subscribes a follower to direct
   * gets only once it is (nearly) caught up. Polled while off, as nats-server checks on a ticker.
   */
  private watchDirect(): void {
    // Whatever the config says now: an update may turn allow_direct on later, and it subscribes
    // only where direct gets are on.
    if (this.directTimer !== undefined) clearTimeout(this.directTimer);
    this.directTimer = undefined;
    if (this.stopped) return;
    const current = this.isLeader || (this.node?.isCurrent() === true && !this.catchup && !this.resetting && !this.awaitingSeed && !this.failedStorage);
    if (current) {
      this.c.js.jsAccount(this.account)?.setStreamDirect(this.name, true);
      return;
    }
    this.directTimer = setTimeout(() => this.watchDirect(), DIRECT_CHECK_MS);
    this.directTimer.unref();
  }

  /** No direct gets from this replica until it is current again. */
  private stopDirect(): void {
    this.c.js.jsAccount(this.account)?.setStreamDirect(this.name, false);
    this.watchDirect();
  }

  /** Subscribe the stream's subjects here (this server leads the stream) or not. */
  private setIngest(on: boolean): void {
    this.c.js.jsAccount(this.account)?.setStreamIngest(this.name, on);
  }

  private onLeaderChange(isLeader: boolean): void {
    if (this.stopped) return;
    this.setIngest(isLeader);
    this.watchDirect();
    this.abandon();
    this.stream.notifyLeaderChanged();
    this.setInfoSub(isLeader);
    this.catchupServer.setActive(isLeader);
    if (!isLeader) {
      // Stepping down because the peers went silent: say so (throttled), as nats-server does.
      if (this.wasLeader && quorumLostApplies(this.node.hasQuorum(), this.startedMs, Date.now()) && this.lostQuorum.shouldSend(Date.now())) {
        this.sendQuorumLost();
      }
      this.wasLeader = false;
      return;
    }
    this.wasLeader = true;
    this.c.server.log.info(`JetStream cluster new stream leader for '${this.account} > ${this.name}'`);
    this.sendLeaderElected();
    if (this.scaleUp === 'seed') {
      if (SEED_SNAPSHOT_DELAY_MS > 0) setTimeout(() => this.sendSeedSnapshot(), SEED_SNAPSHOT_DELAY_MS).unref();
      else this.sendSeedSnapshot();
    }
    if (this.createReply) {
      const reply = this.createReply;
      this.createReply = '';
      void this.c.runLocal(this.account, `$JS.API.STREAM.INFO.${this.name}`, reply, '', (b, isError) => {
        if (isError) return b.replace(`"type":"${T}stream_info_response"`, `"type":"${T}stream_create_response"`);
        return b.replace(`"type":"${T}stream_info_response","total":0,"offset":0,"limit":0,`, `"type":"${T}stream_create_response",`)
          .replace(/}$/, ',"did_create":true}');
      });
    }
    const held = this.held;
    this.held = [];
    for (const [s, r, h, p] of held) this.onPublish(s, r, h, p);
  }

  /** The seed of a scale-up from R1, leading: its store's state as a snapshot entry, ahead of any message entry. */
  private sendSeedSnapshot(): void {
    if (this.stopped || this.scaleUp !== 'seed' || this.node.state !== 'leader') return;
    try {
      this.node.sendSnapshot(this.stream.store.encodedStreamState(this.applier.clfs));
    } catch (e) {
      this.log('warn', `scale-up snapshot not sent: ${(e as Error).message}`);
    }
  }

  private peerStatus(): RaftPeerStatus[] {
    const now = BigInt(Date.now()) * 1_000_000n;
    return this.node.status().peers.map((p) => ({
      id: p.id, current: p.current, lag: p.lag,
      lastNs: p.self ? now : p.lastSeenAgoMs === null ? undefined : now - BigInt(Math.round(p.lastSeenAgoMs * 1e6)),
    }));
  }

  private lookup = (id: string): { name: string; offline: boolean } | undefined => {
    const name = this.c.serverNameOf(id);
    if (name === id) return undefined;
    return { name, offline: !this.c.onlinePeers().has(id) };
  };

  clusterInfo(): Record<string, unknown> {
    // A replica fetching messages from us is not current, whatever its raft log says.
    return this.clusterInfoFor(this.node, this.entry.sa.group.peers, this.catchupServer?.peersCatchingUp());
  }

  /** The cluster block for a group of this stream (the stream's own or one of its consumers'). */
  clusterInfoFor(node: RaftNode | undefined, groupPeers: string[], notCurrent?: Set<string>): Record<string, unknown> {
    const leaderId = node?.leaderId ?? '';
    const now = BigInt(Date.now()) * 1_000_000n;
    const peers: RaftPeerStatus[] = (node?.status().peers ?? []).map((p) => ({
      id: p.id, current: p.current && !notCurrent?.has(p.id), lag: p.lag,
      lastNs: p.self ? now : p.lastSeenAgoMs === null ? undefined : now - BigInt(Math.round(p.lastSeenAgoMs * 1e6)),
    }));
    const ci = clusterInfo({
      cluster: this.c.clusterName, leader: leaderId ? this.c.serverNameOf(leaderId) : '', selfId: this.c.id,
      groupPeers, peers, lookup: this.lookup, nowNs: now,
    });
    // The info body is encoded with JSON: durations as plain numbers; omitempty as Go.
    const replicas = ci.replicas?.map((p) => {
      const r: Record<string, unknown> = { name: p.name, current: p.current };
      if (p.offline) r.offline = true;
      r.active = Number(p.active);
      if (p.lag) r.lag = p.lag;
      r.peer = p.peer;
      return r;
    });
    const out: Record<string, unknown> = { name: ci.name };
    if (ci.leader) out.leader = ci.leader;
    if (replicas?.length) out.replicas = replicas;
    return out;
  }

  private sendQuorumLost(): void {
    const replicas = advisoryReplicas(this.peerStatus(), this.lookup, BigInt(Date.now()) * 1_000_000n);
    const copies = advisoryCopies((m) => streamQuorumLost(this.name, replicas, m),
      this.account, this.account === this.c.server.systemAccount.name, this.c.js.domain ? { domain: this.c.js.domain } : {});
    if (copies.owner) this.c.js.jsAccount(this.account)?.client.publish(copies.owner.subject, '', undefined, copies.owner.payload);
    this.c.publishSystem(copies.system.subject, copies.system.payload);
  }

  private sendLeaderElected(): void {
    const replicas = advisoryReplicas(this.peerStatus(), this.lookup, BigInt(Date.now()) * 1_000_000n);
    const copies = advisoryCopies((m) => streamLeaderElected(this.name, this.c.server.serverName, replicas, m),
      this.account, this.account === this.c.server.systemAccount.name, this.c.js.domain ? { domain: this.c.js.domain } : {});
    if (copies.owner) this.c.js.jsAccount(this.account)?.client.publish(copies.owner.subject, '', undefined, copies.owner.payload);
    this.c.publishSystem(copies.system.subject, copies.system.payload);
  }

  // ------------------------------------------------------------------ consumers

  /** A consumer assignment of this stream was applied (or recovered). */
  assignConsumer(ca: ConsumerAssignment): void {
    if (this.stopped) return;
    const cur = this.consumers.get(ca.name);
    if (!ca.group.peers.includes(this.c.id)) {
      // Placed on other peers of the stream (an R1 consumer): nothing runs here.
      if (cur) this.deleteConsumerGroup(cur);
      return;
    }
    if (cur && cur.ca.group.name === ca.group.name) {
      cur.reassign(ca);
      return;
    }
    if (cur) this.deleteConsumerGroup(cur);
    const deleting = this.deletingConsumers.get(ca.name);
    if (deleting) {
      // Started again, in commit order, from the assignment as it is then.
      void deleting.then(() => this.c.enqueue(() => {
        const now = this.c.state.stream(this.account, this.name)?.consumers.get(ca.name);
        if (!this.stopped && now && !this.consumers.has(ca.name) && !this.deletingConsumers.has(ca.name)) this.assignConsumer(now);
      }));
      return;
    }
    const cg = new ConsumerGroup(this.c, this, ca);
    this.consumers.set(ca.name, cg);
    try {
      cg.start();
      this.c.streamGroups.retries.succeeded(this.consumerRetryKey(ca.name));
    } catch (e) {
      this.consumers.delete(ca.name);
      void cg.stop(false);
      this.c.server.log.error(`JetStream cluster: starting consumer group '${this.account} > ${this.name} > ${ca.name}' (will retry): ${(e as Error)?.stack ?? e}`);
      this.retryConsumer(ca, this.consumerRetryKey(ca.name));
    }
  }

  /** Stop `cg` and delete its files; tracked until done (deletingConsumers). */
  private deleteConsumerGroup(cg: ConsumerGroup): void {
    if (this.consumers.get(cg.name) === cg) this.consumers.delete(cg.name);
    const done: Promise<void> = cg.stop(true)
      .catch((e) => this.c.server.log.error(`JetStream cluster: deleting consumer group '${this.account} > ${this.name} > ${cg.name}': ${(e as Error)?.message ?? e}`))
      .finally(() => { if (this.deletingConsumers.get(cg.name) === done) this.deletingConsumers.delete(cg.name); });
    this.deletingConsumers.set(cg.name, done);
  }

  private consumerRetryKey(consumer: string): string {
    return `${this.account}\u0000${this.name}\u0000${consumer}`;
  }

  /** Assign `ca` again later, in commit order, while the assignment still names this server (start-retry.ts). */
  private retryConsumer(ca: ConsumerAssignment, retryKey: string): void {
    this.c.streamGroups.retries.schedule(retryKey, () => void this.c.enqueue(() => {
      const now = this.c.state.stream(this.account, this.name)?.consumers.get(ca.name);
      const sg = this.c.streamGroups.get(this.account, this.name);
      if (sg !== this || this.stopped || !now || now.group.name !== ca.group.name || this.consumers.has(ca.name)) {
        this.c.streamGroups.retries.succeeded(retryKey);
        return;
      }
      this.assignConsumer(now);
    }));
  }

  /**
   * A consumer group's raft log could not be written (a full disk): it stops, and starts again
   * later from its files, backing off under a key of its own while writes keep failing.
   */
  consumerStorageFailed(cg: ConsumerGroup, err: Error): void {
    if (this.stopped || this.consumers.get(cg.name) !== cg) return;
    this.c.server.log.error(`JetStream consumer '${this.account} > ${this.name} > ${cg.name}': storage failure (${err.message}); this replica stops and starts again from its files later`);
    this.consumers.delete(cg.name);
    void cg.stop(false);
    this.retryConsumer(cg.ca, `${this.consumerRetryKey(cg.name)}\u0000storage`);
  }

  async removeConsumer(ca: ConsumerAssignment): Promise<void> {
    const cg = this.consumers.get(ca.name);
    if (!cg) return;
    this.consumers.delete(ca.name);
    await cg.remove();
  }

  // ------------------------------------------------------------------ API (leader)

  /** A stream-level API request for this stream; true when this server handled it. */
  handleApi(req: ApiRequest, type: string, handler: ApiHandler | undefined): boolean {
    if (!this.isLeader) return false;
    const sub = req.tokens.slice(1, 3).join('.');
    if (sub === 'LEADER.STEPDOWN') {
      this.c.respondRaw(req.accountName, req.subject, req.reply, streamStepdownResponse(), false);
      try {
        this.node.stepDown(randomCurrentPeer(this.node));
      } catch { /* already stepping down */ }
      return true;
    }
    if (sub.startsWith('PURGE.') || sub === 'MSG.DELETE') {
      this.proposeApi(req, type);
      return true;
    }
    if (!handler) return true;
    void Promise.resolve(handler(req)).catch((e) => this.c.server.log.error(`JetStream API ${req.subject}: ${String(e)}`));
    return true;
  }

  private proposeApi(req: ApiRequest, type: string): void {
    let body: Record<string, unknown> = {};
    const text = req.payload.toString().trim();
    if (text.startsWith('{')) {
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        this.c.respondRaw(req.accountName, req.subject, req.reply, goJson({ type, error: jsErr('InvalidJSON', { err: 'invalid JSON' }).toJSON() }), true);
        return;
      }
    }
    const isPurge = req.tokens[1] === 'PURGE';
    let entry: Buffer;
    if (isPurge) {
      try {
        entry = encodePurge({ stream: this.name, last_seq: this.stream.store.fastState().lastSeq, subject: req.subject, reply: req.reply, request: body });
      } catch {
        // A body JSON.parse takes but the entry cannot carry (thousands of nested levels overflow
        // the encoder's stack): refused here, never proposed, and answered once.
        this.c.respondRaw(req.accountName, req.subject, req.reply, goJson({ type, error: jsErr('InvalidJSON', { err: 'invalid JSON' }).toJSON() }), true);
        return;
      }
    } else {
      const seq = typeof body.seq === 'number' && Number.isSafeInteger(body.seq) && body.seq >= 0 ? body.seq : -1;
      if (seq < 0 || text === '') {
        this.c.respondRaw(req.accountName, req.subject, req.reply, goJson({ type, error: jsErr('BadRequest').toJSON() }), true);
        return;
      }
      entry = encodeMsgDelete({ stream: this.name, seq, no_erase: body.no_erase === true, subject: req.subject, reply: req.reply });
    }
    try {
      this.node.propose(entry);
    } catch {
      this.c.respondRaw(req.accountName, req.subject, req.reply, goJson({ type, error: jsErr('ClusterNotLeader').toJSON() }), true);
    }
  }
}

/** Every replicated stream this server is a peer of. */
export class StreamGroups {
  private readonly groups = new Map<string, StreamGroup>();
  /** Group starts that failed and are tried again (stream and consumer groups). */
  readonly retries = new StartRetries();
  /** stopAll() was called: no group starts any more. */
  private closed = false;

  /** The meta leader's `$JSC.RSTATE` asks to this server's replicas (peer-remove-guard.ts), once the first group starts. */
  private stateUnsub: (() => void) | undefined;

  constructor(private readonly c: ClusteredJetStream) {}

  private static key(account: string, name: string): string {
    return `${account}\u0000${name}`;
  }

  /** Failed starts of this stream's group since it last started (tests, diagnostics). */
  startFailures(account: string, name: string): number {
    return this.retries.failures(StreamGroups.key(account, name));
  }

  get(account: string, name: string): StreamGroup | undefined {
    return this.groups.get(StreamGroups.key(account, name));
  }

  all(): StreamGroup[] {
    return [...this.groups.values()];
  }

  /**
   * An R>1 assignment was applied (or recovered): start the group if this server is a peer.
   * `seedAgain`: a retry of a seed's failed start, with the R1 consumers' states it had taken.
   */
  async assign(entry: StreamEntry, seedAgain?: Map<string, ConsumerState>): Promise<void> {
    if (this.closed) return;
    const account = accountOf(entry.sa.client);
    const k = StreamGroups.key(account, entry.sa.stream.name);
    const cur = this.groups.get(k);
    const member = entry.sa.group.peers.includes(this.c.id);
    if (cur && (cur.groupName !== entry.sa.group.name || !member)) {
      this.groups.delete(k);
      if (!member) handOver(cur.node, entry.sa.group.peers);
      await cur.stop(!member);
      if (!member) await this.c.removeLocalStream(account, entry.sa.stream.name, 'no longer a peer');
    }
    if (!member) return;
    this.stateUnsub ??= serveReplicaStates(this.c, (group) => this.all().find((g) => g.groupName === group && !g.stopped)?.replicaState());
    const existing = this.groups.get(k);
    if (existing) {
      const changed = JSON.stringify(existing.entry.sa.stream) !== JSON.stringify(entry.sa.stream);
      existing.entry = entry;
      if (changed && existing.stream && !existing.stopped) {
        // An update (meta updateStreamOp): every replica applies the new config.
        try {
          await this.c.js.jsAccount(account)?.updateStream(existing.stream, entry.sa.stream as never, false);
        } catch (e) {
          this.c.server.log.warn(`JetStream cluster: updating stream '${account} > ${entry.sa.stream.name}': ${(e as Error).message}`);
        }
      }
      // Peer changes are carried out by the group's leader (stream-membership.ts).
      if (entry.sa.subject.includes('.STREAM.UPDATE.')) answerUpdate(this.c, existing, entry.sa.reply);
      return;
    }
    // Checked again after the awaits above: a group added once stopAll() has gone through the
    // groups would never be stopped.
    if (this.closed) return;
    const g = new StreamGroup(this.c, entry);
    const local = this.c.js.jsAccount(account)?.streams.get(entry.sa.stream.name);
    // A seed keeps its part across a failed start: its R1 consumers were stopped when the start
    // opened its stream, so their states come from the failed attempt.
    g.scaleUp = seedAgain ? 'seed' : scaleUpRole(this.c.id, entry, g.dir, local, g.witnessCopyPath);
    if (seedAgain) g.seedConsumerStates = seedAgain;
    else if (g.scaleUp === 'seed' && local) g.seedConsumerStates = consumerStates(local);
    this.groups.set(k, g);
    try {
      await g.start();
      this.retries.succeeded(k);
      if (g.scaleUp === 'seed' && entry.sa.subject.includes('.STREAM.UPDATE.')) answerUpdate(this.c, g, entry.sa.reply, true);
    } catch (e) {
      this.groups.delete(k);
      await g.stop(false).catch(() => {});
      if (this.closed) return; // stopAll() stopped it while it started: nothing to retry
      // Its local stream, opened before the failure, must not take publishes on its own (no
      // replicator): unloaded until the retry opens it again from its files. Except a seed's: it
      // is the only copy of the data, and opening it again would create the stream anew (its
      // files moved aside); it stays loaded and drops what reaches it until the retry.
      if (g.stream && g.scaleUp === 'seed') g.stream.replicator = () => {};
      else if (g.stream) await this.c.js.jsAccount(account)?.unloadStream(g.stream);
      this.c.server.log.error(`JetStream cluster: starting stream group '${account} > ${entry.sa.stream.name}' (will retry): ${(e as Error)?.stack ?? e}`);
      this.retryAssign(k, account, entry, g.scaleUp === 'seed' ? g.seedConsumerStates ?? new Map() : undefined);
    }
  }

  /**
   * A running group's writes failed (StreamGroup.storageFailed): stop it, unload its local stream
   * (files kept, so that nothing here takes publishes on its own) and start it again later, as a
   * failed start is. Its own retry key keeps backing off while the disk stays full, even though
   * each start succeeds (the first write fails again).
   */
  restartAfterFailure(g: StreamGroup): void {
    const k = StreamGroups.key(g.account, g.name);
    void this.c.enqueue(async () => {
      if (this.groups.get(k) !== g) return;
      this.groups.delete(k);
      await g.stop(false).catch(() => {});
      if (g.stream) await this.c.js.jsAccount(g.account)?.unloadStream(g.stream);
      this.retryAssign(k, g.account, g.entry, undefined, `${k}\u0000storage`);
    });
  }

  /**
   * Start a group whose start failed again later (start-retry.ts), in commit order, with the
   * assignment as it is then; its consumers are assigned as a recovery assigns them.
   */
  private retryAssign(k: string, account: string, failed: StreamEntry, seedAgain: Map<string, ConsumerState> | undefined, retryKey = k): void {
    this.retries.schedule(retryKey, () => void this.c.enqueue(async () => {
      const now = this.c.state.stream(account, failed.sa.stream.name);
      if (!now || now.sa.group.name !== failed.sa.group.name || !now.sa.group.peers.includes(this.c.id) || this.groups.has(k)) {
        this.retries.succeeded(retryKey);
        return;
      }
      // Its local stream was unloaded after the failure: open its files again, so that the
      // group starts from them (a create would move them aside and fetch everything anew).
      const jsa = this.c.js.jsAccount(account);
      const name = failed.sa.stream.name;
      if (jsa && !seedAgain && (now.sa.stream as { storage?: string }).storage !== 'memory' && existsSync(this.c.js.stores.streamDir(account, name))) {
        await this.c.js.reloadStream(jsa, name);
      }
      await this.assign(now, seedAgain);
      const sg = this.groups.get(k);
      if (sg) for (const ca of now.consumers.values()) sg.assignConsumer(ca);
    }));
  }

  /** Forget a group without stopping it (its stream is scaled down to R1 here: stream-membership.ts). */
  detach(account: string, name: string): void {
    this.groups.delete(StreamGroups.key(account, name));
  }

  async remove(account: string, name: string): Promise<void> {
    const k = StreamGroups.key(account, name);
    const g = this.groups.get(k);
    if (!g) return;
    this.groups.delete(k);
    await g.stop(true);
    await this.c.removeLocalStream(account, name, 'stream removed');
  }

  async stopAll(): Promise<void> {
    this.closed = true;
    this.retries.close();
    this.stateUnsub?.();
    this.stateUnsub = undefined;
    for (const g of this.groups.values()) await g.stop(false);
    this.groups.clear();
  }
}
