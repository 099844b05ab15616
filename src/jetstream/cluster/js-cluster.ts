// Clustered JetStream, meta layer: the `_meta_` Raft group of every JetStream server of
// the cluster, the assignment state it replicates, and what each server does with the
// committed entries (nats-server's jetstream_cluster.go: setupMetaGroup, applyMetaEntries,
// processStreamAssignment, processClusterCreateStream, checkForOrphans...).
//
// Who does what:
// * every server applies every committed meta entry to its MetaAssignments (one state,
//   identical everywhere);
// * the server named in an R1 assignment (its "holder") creates, updates and removes the
//   stream / consumer locally by running the ordinary (single-server) API handler with the
//   assignment's request, so it also answers the client exactly as a single server does;
// * the meta leader validates and proposes (cluster-api.ts) and forwards repeated creates
//   to the holder;
// * local work runs in one queue, in commit order, so a create and a later delete of the
//   same stream can never overtake each other.
//
// R>1 assignments are recorded and placed; their replication is the stream-group layer's
// job (not here): the meta leader answers their create from the assignment.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from '../../server/server.js';
import type { Cluster, ClusterPeer } from '../../cluster/cluster.js';
import { getCluster } from '../../cluster/index.js';
import type { InternalClient } from '../../core/internal-client.js';
import { ClientKind } from '../../core/types.js';
import { EntryType, META_GROUP, RAFT_WITNESS_COPY, RaftError, RaftNode, makeNewGroupDirs, peerIdForServerName, writeBootstrapPeerState, type Entry } from '../../raft/index.js';
import type { JetStreamService } from '../index.js';
import type { JsAccount } from '../js-account.js';
import type { Stream } from '../stream.js';
import type { ApiHandler, ApiRequest } from '../api/router.js';
import { nuid } from '@nats-io/nuid';
import { goJson, goTimeFromNanos } from '../api/json.js';
import { encodeStreamConfig } from '../api/types.js';
import { consumerHostFor, lookupConsumer, publicConsumers, wakeStandbyConsumers } from '../consumer/manager.js';
import { RouteRaftTransport, watchRoutePeersGone } from './route-transport.js';
import {
  MetaAssignments, MetaOp, accountOf, decodeMetaEntry, encodeConsumerEntry, isReplicated,
  type ConsumerAssignment, type MetaSnapshotDiff, type StreamAssignment, type StreamEntry,
} from './assignments.js';
import { ClusterApi } from './cluster-api.js';
import { PEER_INFO_SUBJECT, PeerInfoTable, type PeerInfoMsg } from './peer-info.js';
import { randomCurrentPeer, StreamGroups } from './stream-group.js';
import { GroupMembership, dissolveToSingle } from './stream-membership.js';
import { serverOutOfSpace, serverRemoved } from './advisories.js';
import { UnappliedCreates, probeWritable } from './meta-outage.js';
import { StartRetries } from './start-retry.js';
import { followStatsz } from './statsz-peers.js';
import { ImportReplyRelay, isImportedCopy, isServiceImportReply, requestInfoHeader, routesAccountApi } from './go-import.js';
import { assetHealth, type AssetFilter, type AssetHealth } from './health.js';
import { raftGroupReports, type RaftGroupReport } from './raft-report.js';
import { META_SNAPSHOT_POLICY, SnapshotSchedule } from './raft-snapshot-policy.js';
import { MetaPredecode } from './meta-predecode.js';

export const STREAM_RESULT_SUBJECT = '$SYS.JSC.STREAM.ASSIGNMENT.RESULT';
export const CONSUMER_RESULT_SUBJECT = '$SYS.JSC.CONSUMER.ASSIGNMENT.RESULT';
/** Requests the meta leader hands to the server holding an asset (ours; not a nats-server subject). */
const forwardSubject = (peer: string): string => `$JSC.FWD.${peer}`;

/** Campaign timeout of the agreed first candidate of a fresh meta group (NRG's minimum campaign timeout). */
const FIRST_CAMPAIGN_MS = 100;
/**
 * The agreed first candidate's campaign once a peer announced itself for the first time: its meta
 * group runs by then (it announces after starting it), so a vote request reaches it.
 */
const ANNOUNCED_CAMPAIGN_MS = 0;
/** Earliest campaign of the other members of a fresh meta group (plus up to 500 ms at random). */
const OTHERS_FIRST_CAMPAIGN_MS = 1000;
/** nats-server answers 10008 once the meta group has been leaderless this long (since it started). */
const LEADERLESS_GRACE_MS = 10_000;

export interface ForwardedRequest {
  account: string;
  subject: string;
  reply: string;
  payload: string; // base64
  /** Idempotent create: answered as STREAM.INFO with the create response type (nats-server). */
  as_create?: boolean;
}

/** The server that holds (creates and answers for) an asset of this group. */
export function holderOf(group: { peers: string[]; preferred?: string }): string {
  if (group.preferred && group.peers.includes(group.preferred)) return group.preferred;
  return group.peers[0] ?? '';
}

/**
 * Whether this server's meta state is known to hold everything committed: its log ends with an
 * entry of the current leader's own term (a new leader's first entry follows everything committed
 * before it) and all of it is committed and applied here. Being "current" is not enough: a
 * restarted server whose WAL lost its tail took entries back from the leader up to 16 while it knew
 * the commit only up to 14 (applied 14: "current"), and removed the stream assigned at 15 as an
 * orphan (bench/attack/meta-corrupt.ts, case truncate-one).
 */
export function metaStateComplete(s: { term: number; pterm: number; pindex: number; commit: number; applied: number }): boolean {
  return s.pindex > 0 && s.pterm === s.term && s.commit >= s.pindex && s.applied >= s.pindex;
}

// isReplicated lives with the meta state (assignments.ts), which counts replicated streams per peer.
export { isReplicated };

export class ClusteredJetStream {
  readonly js: JetStreamService;
  readonly server: Server;
  readonly id: string;
  readonly state = new MetaAssignments();
  /** Meta entries decoded while their append is being fsync'ed (meta-predecode.ts). */
  private readonly predecode = new MetaPredecode();
  /** R>1 streams this server is a peer of (stream-group.ts). */
  readonly streamGroups = new StreamGroups(this);
  /** Raft membership of the groups this server leads follows their assignments. */
  private readonly membership = new GroupMembership(this);
  cluster!: Cluster;
  node!: RaftNode;
  /** Replaying snapshot + WAL at start: local actions wait for the end of recovery. */
  recovering = true;
  /** Snapshot + log replayed and local assets reconciled: JetStream may be served. */
  ready = false;
  /** This server was removed from the meta group: it answers no API request (the others do). */
  private removed = false;
  /**
   * The meta node stopped at a failed write (a full disk): set until it runs again from its files
   * (restartMeta). Meanwhile this server takes no placements and leaves the API to the others.
   */
  private metaOutage: Error | undefined;
  /** Backoff of the meta node's restarts after a storage failure. */
  private readonly metaRestarts = new StartRetries();
  /** Leader: R1 creates not yet known to be applied by their holder (for a holder whose meta node stops). */
  private readonly unapplied = new UnappliedCreates();
  private transport!: RouteRaftTransport;
  peerInfo!: PeerInfoTable;
  private sys!: InternalClient;
  private readonly api: ClusterApi;
  private work: Promise<void> = Promise.resolve();
  private snapshotTimer: NodeJS.Timeout | undefined;
  private orphanTimer: NodeJS.Timeout | undefined;
  private orphansChecked = false;
  private startedAt = 0;
  private stopped = false;
  private offPeer: (() => void) | undefined;
  /** Stops reporting closed routes to this server's Raft nodes (watchRoutePeersGone). */
  private offPeerGone: (() => void) | undefined;
  private offPeerInfoInterest: (() => void) | undefined;
  private offStatsz: (() => void) | undefined;
  private relay: ImportReplyRelay | undefined;
  private readonly accountClients = new Map<string, InternalClient>();
  /** Peer id -> server name, for every server seen (self, routes, assignments). */
  private readonly names = new Map<string, string>();

  constructor(js: JetStreamService, server: Server) {
    this.js = js;
    this.server = server;
    if (server.options.serverName === undefined || server.options.serverName === '') {
      throw new Error('jetstream cluster requires `server_name` to be set');
    }
    this.id = peerIdForServerName(server.serverName);
    this.names.set(this.id, server.serverName);
    this.api = new ClusterApi(this);
  }

  get clusterName(): string {
    return this.cluster?.clusterName ?? this.server.options.cluster?.name ?? '';
  }

  get metaDir(): string {
    return join(this.js.storeRoot, this.server.systemAccount.name, '_js_', META_GROUP);
  }

  serverNameOf(peer: string): string {
    return this.names.get(peer) ?? peer;
  }

  /** JetStream servers reachable now (self included), by peer id. */
  /** Peer ids by server name: a sha256 each, and every placement asks for all of them (onlinePeers). */
  private readonly idsByName = new Map<string, string>();

  private peerIdOf(name: string): string {
    let id = this.idsByName.get(name);
    if (id === undefined) this.idsByName.set(name, (id = peerIdForServerName(name)));
    return id;
  }

  onlinePeers(): Set<string> {
    const out = new Set<string>([this.id]);
    for (const p of this.cluster.peers()) if (p.jetstream) out.add(this.peerIdOf(p.name));
    return out;
  }

  /** Meta leader's server name ('' when none is known). */
  leaderName(): string {
    const l = this.node?.leaderId ?? '';
    return l ? this.serverNameOf(l) : '';
  }

  hasLeader(): boolean {
    return !!this.node && this.node.leaderId !== '' && this.node.state !== 'closed';
  }

  /** nats-server isLeaderless: no leader and the group is past its start-up grace. */
  isLeaderless(): boolean {
    if (this.hasLeader() || this.removed || this.metaOutage) return false;
    return performance.now() - this.startedAt > LEADERLESS_GRACE_MS || this.node?.hadPreviousLeader === true;
  }

  get isLeader(): boolean {
    return this.ready && this.node.isLeader;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    const cluster = getCluster(this.server);
    if (!cluster) throw new Error('jetstream cluster: the cluster subsystem is not running');
    this.cluster = cluster;
    this.startedAt = performance.now();
    for (const p of cluster.peers()) this.notePeer(p);
    this.transport = new RouteRaftTransport(this.server.systemAccount, 'nrg-meta', () => cluster.flushRoutes());
    this.sys = this.server.systemAccount.createInternalClient('jsc', ClientKind.SYSTEM);
    this.sys.subscribe(forwardSubject(this.id), (_s, _r, _h, payload) => this.onForward(payload));
    this.sys.subscribe(STREAM_RESULT_SUBJECT, (_s, _r, _h, p) => this.api.onStreamResult(p));
    this.sys.subscribe(CONSUMER_RESULT_SUBJECT, (_s, _r, _h, p) => this.api.onConsumerResult(p));
    this.api.subscribeSystemApi(this.sys);
    this.peerInfo = new PeerInfoTable(this.sys, () => this.selfInfo(), (id) => this.peerAnnounced(id));
    this.peerInfo.start();
    this.relay = new ImportReplyRelay(this.sys, (acc, subject, payload) => this.publishIn(acc, subject, payload));
    this.relay.start();
    this.offStatsz = followStatsz(this.sys, this.peerInfo, this.server.serverName, this.js.domain ?? '');
    this.offPeer = cluster.onPeerChange((ev, peer) => this.onPeerChange(ev, peer));
    this.offPeerGone = watchRoutePeersGone(cluster, this.server.systemAccount);
    // A new server's interest in announcements reaches us over its route some time after the route
    // itself (when we announced on meeting it, nobody there listened yet): announce again as soon as
    // that interest arrives, so the meta leader can place assets on a new server at once, not only
    // after the next periodic announcement.
    let announcePending = false;
    this.offPeerInfoInterest = this.server.systemAccount.watchInterest(PEER_INFO_SUBJECT, () => {
      if (announcePending || this.stopped) return;
      announcePending = true;
      setImmediate(() => {
        announcePending = false;
        // A meta group still being built announces once it runs (doStartMeta).
        if (!this.stopped && (this.node !== undefined || this.metaStarting === undefined)) this.peerInfo.announce();
      });
    });
    // A server that was part of the group replays its snapshot + log before serving
    // JetStream. A new one waits until it has met another JetStream server (NRG waits for a
    // route): the peers it knows then are the group's bootstrap peers, so a leader can
    // count their acknowledgements from its first entry on; later servers are added by the
    // leader as it hears them.
    // A server with no meta group directory yet makes it now, before its ports file and off the event
    // loop (nats-server creates its meta group before it listens); its peers.idx waits for the peers.
    if (!existsSync(this.metaDir)) {
      try {
        await makeNewGroupDirs(this.metaDir);
        this.newMetaDir = true;
      } catch {
        // The RaftNode makes them when it is built, and reports what fails there.
      }
    }
    if (existsSync(join(this.metaDir, 'peers.idx')) || this.jsPeerIds().length > 0) await this.startMeta();
  }

  private jsPeerIds(): string[] {
    return this.cluster.peers().filter((p) => p.jetstream).map((p) => this.peerIdOf(p.name));
  }

  private metaStarting: Promise<void> | undefined;
  /** The meta group started with no state and has not had a leader yet (retryFirstCampaign). */
  private bootstrapping = false;
  /** Peers heard announcing themselves while bootstrapping (retryFirstCampaign). */
  private readonly bootstrapAnnounced = new Set<string>();
  /** The meta group directory did not exist when this server started (makeNewGroupDirs made it). */
  private newMetaDir = false;
  /** Peers heard announcing themselves while the meta group was being built (replayed once it runs). */
  private readonly announcedBeforeNode = new Set<string>();

  private startMeta(): Promise<void> {
    this.metaStarting ??= this.doStartMeta();
    return this.metaStarting;
  }

  private async doStartMeta(): Promise<void> {
    if (this.stopped) return;
    const known = [...new Set([this.id, ...this.jsPeerIds()])];
    const clusterSize = Math.max(2, known.length);
    const fresh = !existsSync(join(this.metaDir, 'peers.idx'));
    if (fresh && this.newMetaDir) {
      // The new group's durable peers.idx is written off the event loop: the route handshakes and
      // announcements that the first election and the leader's view of this server wait on go on
      // meanwhile. The RaftNode then finds it (same content) and does not write it again.
      try {
        await writeBootstrapPeerState(this.metaDir, { peers: known, clusterSize });
      } catch {
        // The RaftNode writes it, synchronously, and reports what fails there.
      }
      if (this.stopped) return;
    }
    this.node = this.newMetaNode(known, clusterSize);
    this.server.log.info('Creating JetStream metadata controller');
    this.recovering = true;
    this.node.start(); // replays snapshot + log through applyEntries before returning
    this.recovering = false;
    // A group bootstrapped with no state campaigns early (nats-server setupMetaGroup), after a
    // random campaign timeout of 100-800 ms. The member with the lowest peer id among those known
    // takes the shortest timeout of that range instead of a random draw (the others keep theirs),
    // so the first election does not wait ~450 ms on average. Not sooner: a vote request sent
    // before the peer has its own group running is lost, and the candidate then waits a whole
    // election timeout.
    // The others campaign only after a later window (1-1.5 s): with both at NRG's 100-800 ms, one of
    // them could start a candidacy at the same term as the agreed one on a loaded machine, split the
    // vote, and leave both waiting a whole election timeout (4-9 s).
    if (fresh) this.node.campaign(known.every((p) => this.id <= p) ? FIRST_CAMPAIGN_MS : OTHERS_FIRST_CAMPAIGN_MS + Math.floor(Math.random() * 500));
    this.bootstrapping = fresh;
    // Peers learn from an announcement that our group runs (a first candidate campaigns on it): now.
    this.peerInfo.announce();
    for (const p of this.announcedBeforeNode) this.retryFirstCampaign(p);
    this.announcedBeforeNode.clear();
    await this.enqueue(() => this.reconcile(undefined));
    if (this.stopped) return;
    this.ready = true;
    this.snapshotTimer = setInterval(() => this.snapshotCheck(), META_SNAPSHOT_POLICY.checkMs);
    this.snapshotTimer.unref();
    this.orphanTimer = setInterval(() => this.maybeCheckOrphans(), 250);
    this.orphanTimer.unref();
    this.membership.start();
  }

  /** The meta group's raft node on this server's files (fresh, or replaying them). */
  private newMetaNode(known: string[], clusterSize = Math.max(2, known.length)): RaftNode {
    return new RaftNode({
      group: META_GROUP,
      serverName: this.server.serverName,
      peers: known,
      clusterSize,
      storeDir: this.metaDir,
      // In the JetStream root, outside the system account's directory: a removed meta group
      // directory is lost state, not a new member.
      witnessCopy: join(this.js.storeRoot, `${META_GROUP}-${RAFT_WITNESS_COPY}`),
      // Below the snapshot threshold, so a snapshot can shrink the WAL (compaction drops whole segments).
      segmentMaxBytes: META_SNAPSHOT_POLICY.segmentBytes,
      transport: this.transport,
      // A follower may hold the asset being created: it learns the commit before our own apply.
      announceCommitFirst: true,
      apply: (index, entries) => this.applyEntries(index, entries),
      onAppend: (index, entries, asLeader) => this.predecode.appended(index, entries, asLeader),
      onLeaderChange: (isLeader) => this.onLeaderChange(isLeader),
      log: (level, msg) => (level === 'warn' ? this.server.log.warn(`JetStream cluster: ${msg}`) : this.server.log.debug(`JetStream cluster: ${msg}`)),
      onError: (err) => this.metaStorageFailed(err),
    });
  }

  /** Whether this server's meta node is stopped by a storage failure (until restartMeta). */
  get metaDown(): boolean {
    return this.metaOutage !== undefined;
  }

  /**
   * The meta node stopped at a failed write (RaftNode.fatal). Said once, as nats-server's
   * handleOutOfSpace does (error log, SERVER.OUT_OF_STORAGE advisory); then this server announces
   * itself unavailable for placement (selfInfo) and restarts the node from its files once it can
   * write, with a backoff (restartMeta).
   */
  private metaStorageFailed(err: Error): void {
    if (this.stopped || this.removed || this.metaOutage) return;
    this.metaOutage = err;
    this.server.log.error(`JetStream out of resources: meta log write failed (${err.message}); ` +
      'this server takes no new assets and restarts its meta layer once it can write');
    const adv = serverOutOfSpace(this.server.serverName, this.server.serverId, this.clusterName, '', this.js.domain ? { domain: this.js.domain } : {});
    this.publishSystem(adv.subject, adv.payload);
    // A leader that stopped leads no more: forget its in-flight proposals (the next leader answers).
    this.api.leaderChanged(false);
    this.peerInfo.announce();
    this.metaRestarts.schedule(META_GROUP, () => this.restartMeta());
  }

  /**
   * Meta leader: `peer` announced that its meta node stopped (a full disk). The R1 creates placed
   * on it that it had not applied will not be answered by it: answer them here with the error its
   * store would have given (10049) and undo them, as a create its holder refused.
   */
  private failUnappliedCreates(peer: string): void {
    const applied = this.peerInfo.info(peer)?.metaApplied ?? Number.MAX_SAFE_INTEGER;
    for (const r of this.unapplied.takeUnapplied(peer, applied)) {
      const e = this.state.stream(r.account, r.stream);
      if (!e || isReplicated(e.sa) || holderOf(e.sa.group) !== peer) continue;
      this.server.log.warn(`JetStream cluster: stream '${r.account} > ${r.stream}' was placed on ${this.serverNameOf(peer)}, ` +
        'whose meta layer stopped before applying it: create refused');
      const response = { type: 'io.nats.jetstream.api.v1.stream_create_response', error: { code: 500, err_code: 10049, description: 'error creating store for stream' } };
      if (r.reply) {
        if (this.answersInSystem(r.reply)) this.sys.publish(r.reply, '', undefined, goJson(response));
        else this.publishIn(r.account, r.reply, Buffer.from(goJson(response)));
      }
      this.api.onStreamResult(Buffer.from(JSON.stringify({ account: r.account, stream: r.stream, create_response: response, is_update: false })), true);
    }
  }

  /**
   * Restart the meta node from what its files durably hold, once a test write succeeds. The state
   * is rebuilt by that replay (not replayed over the live one: entries applied here but lost with
   * the failed write come again from the leader); what the rebuilt state no longer has is removed
   * locally, what it assigns is reconciled, as after a snapshot.
   */
  private restartMeta(): void {
    void this.enqueue(async () => {
      if (this.stopped || this.removed || !this.metaOutage) return;
      try {
        probeWritable(this.metaDir);
      } catch (e) {
        this.server.log.debug(`JetStream cluster: meta layer still cannot write: ${(e as Error).message}`);
        this.metaRestarts.schedule(META_GROUP, () => this.restartMeta());
        return;
      }
      this.node.stop();
      const before = new MetaAssignments();
      before.applySnapshot(this.state); // takes the current entries; the state starts empty
      this.state.clear();
      this.recovering = true;
      try {
        this.node = this.newMetaNode([...new Set([this.id, ...this.jsPeerIds()])]);
        this.node.start();
      } catch (e) {
        this.node.stop();
        this.state.applySnapshot(before);
        this.server.log.warn(`JetStream cluster: restarting the meta layer failed: ${(e as Error).message}`);
        this.metaRestarts.schedule(META_GROUP, () => this.restartMeta());
        return;
      } finally {
        this.recovering = false;
      }
      const gone = before.applySnapshot(this.state);
      this.metaOutage = undefined;
      this.metaRestarts.succeeded(META_GROUP);
      this.server.log.info('JetStream cluster: meta layer restarted from its files after a storage failure');
      this.peerInfo.announce();
      await this.dropAndReconcile(gone, 'not in the meta log replayed after a storage failure');
    });
  }

  /**
   * Graceful shutdown, before anything closes (nats-server's stepdownRaftNodes, first in its
   * Shutdown): every group led here hands leadership to a caught-up peer while the routes still
   * carry the EntryLeaderTransfer, so the others elect at once instead of after an election timeout
   * (nats-server followers have no other hint that we left). stop() then finds followers.
   */
  handOverLeadership(): void {
    if (this.stopped) return;
    const nodes: (RaftNode | undefined)[] = [this.node];
    for (const sg of this.streamGroups.all()) {
      nodes.push(sg.node);
      for (const cg of sg.consumers.values()) nodes.push(cg.node);
    }
    for (const n of nodes) {
      if (n?.state !== 'leader') continue;
      try {
        n.stepDown(randomCurrentPeer(n));
      } catch { /* not leader any more */ }
    }
    this.cluster?.flushRoutes();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.offPeer?.();
    this.offPeerGone?.();
    this.offPeerInfoInterest?.();
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    this.metaRestarts.close();
    this.membership.stop();
    await this.metaStarting?.catch(() => {});
    await this.work.catch(() => {});
    await this.streamGroups.stopAll();
    if (this.node) {
      this.snapshot(true);
      this.node.stop();
    }
    this.api.stop();
    this.offStatsz?.();
    this.relay?.stop();
    for (const cl of this.accountClients.values()) cl.close();
    this.peerInfo?.stop();
    this.sys?.close();
    this.transport?.close();
  }

  /**
   * Run local work in commit order; errors are logged, never thrown to the caller. Once stop() has
   * begun nothing more is queued: stop() waits only for the work queued before it, so later work
   * (a meta entry applied while the groups stop, a consumer leader elected by a peer's stepdown)
   * would run alongside the groups' stop and could start a stream, consumer or raft node that
   * nothing stops any more, keeping the process alive after the server shut down.
   */
  enqueue(fn: () => void | Promise<void>): Promise<void> {
    if (this.stopped) return this.work;
    this.work = this.work.then(fn).catch((e) => this.server.log.error(`JetStream cluster: ${(e as Error)?.stack ?? e}`));
    return this.work;
  }

  private notePeer(p: ClusterPeer): void {
    if (p.name) this.names.set(this.peerIdOf(p.name), p.name);
  }

  private onPeerChange(ev: 'added' | 'removed', peer: ClusterPeer): void {
    this.notePeer(peer);
    if (ev !== 'added' || !peer.jetstream || this.stopped) return;
    // Meta subscriptions first: the announcement then reaches the leader after them. A group still
    // being built announces once it runs (doStartMeta).
    if (!this.node) {
      void this.startMeta();
      return;
    }
    this.peerInfo.announce();
  }

  /**
   * nats-server checkClusterSize: the leader grows the expected size when it meets more
   * JetStream servers. The peer-state entry this sends also tells the newcomer at once who
   * leads; it then catches up and the leader adds it as a peer.
   */
  private peerAnnounced(id: string): void {
    this.retryFirstCampaign(id);
    if (this.peerInfo.info(id)?.unavailable && this.node?.isLeader) this.failUnappliedCreates(id);
    if (!this.node || !this.node.isLeader || this.node.peers().includes(id)) return;
    try {
      this.node.adjustClusterSize(Math.max(this.node.clusterSize, this.node.peers().length + 1));
    } catch { /* lost leadership meanwhile */ }
  }

  /**
   * A fresh group's first vote requests are lost when they reach a peer whose group is not running
   * yet (a loaded machine starts servers slowly); the candidate would then wait a whole election
   * timeout (4-9 s). A peer announces itself only once its meta subscriptions exist, so until the
   * group has had a leader the agreed first candidate campaigns again, at once, on each peer's first
   * announcement (not on later ones: a new candidacy would discard the votes already on their way).
   */
  private retryFirstCampaign(peer: string): void {
    if (!this.node && this.metaStarting !== undefined) this.announcedBeforeNode.add(peer);
    if (!this.bootstrapping || !this.node || this.stopped) return;
    if (this.node.leaderId !== '') {
      this.bootstrapping = false;
      return;
    }
    if (this.bootstrapAnnounced.has(peer)) return;
    this.bootstrapAnnounced.add(peer);
    if (![this.id, ...this.jsPeerIds()].every((p) => this.id <= p)) return;
    try {
      this.node.campaign(ANNOUNCED_CAMPAIGN_MS);
    } catch {
      // leader or closed meanwhile
    }
  }

  private onLeaderChange(isLeader: boolean): void {
    this.bootstrapping = false;
    this.unapplied.clear();
    if (isLeader) {
      this.server.log.info(`JetStream cluster new metadata leader: ${this.server.serverName}/${this.clusterName}`);
      this.sendLeaderElectedAdvisory();
      // A new leader knows every committed assignment: take a snapshot now (nats-server does).
      queueMicrotask(() => this.snapshot(false));
    } else {
      const l = this.leaderName();
      if (l) this.server.log.info(`JetStream cluster new metadata leader: ${l}/${this.clusterName}`);
    }
    this.api.leaderChanged(isLeader);
  }

  /**
   * `$JS.EVENT.ADVISORY.DOMAIN.LEADER_ELECTED` in the system account (newer nats-server; 2.9.10
   * sends none). `leader` is the leader's peer id, as nats-server's GroupLeader().
   */
  private sendLeaderElectedAdvisory(): void {
    const subject = '$JS.EVENT.ADVISORY.DOMAIN.LEADER_ELECTED';
    if (!this.server.systemAccount.sublist.hasInterest(subject)) return;
    const st = this.node.status();
    const online = this.onlinePeers();
    const replicas = st.peers.map((p) => {
      const r: Record<string, unknown> = { name: this.serverNameOf(p.id), current: p.current };
      if (!online.has(p.id)) r.offline = true;
      r.active = p.lastSeenAgoMs === null ? 0 : Math.round(p.lastSeenAgoMs * 1e6);
      if (p.lag) r.lag = p.lag;
      r.peer = p.id;
      return r;
    });
    const adv: Record<string, unknown> = {
      type: 'io.nats.jetstream.advisory.v1.domain_leader_elected', id: nuid.next(),
      timestamp: goTimeFromNanos(BigInt(Date.now()) * 1_000_000n), leader: this.id, replicas, cluster: this.clusterName,
    };
    if (this.js.domain) adv.domain = this.js.domain;
    this.sys.publish(subject, '', undefined, goJson(adv));
  }

  // ------------------------------------------------------------------ proposals

  /** Propose a meta entry (leader only). Returns false when this server is not the leader. */
  propose(data: Buffer): boolean {
    try {
      this.node.propose(data);
      return true;
    } catch (e) {
      if (e instanceof RaftError) return false;
      throw e;
    }
  }

  // ------------------------------------------------------------------ applying

  private applyEntries(index: number, entries: Entry[]): void {
    let nth = 0;
    for (const e of entries) {
      try {
        if (e.type === EntryType.Normal) this.applyEntry(e.data, this.predecode.take(index, nth++, e.data), index);
        else if (e.type === EntryType.Snapshot || e.type === EntryType.OldSnapshot) this.applySnapshot(e.data);
        else if (e.type === EntryType.RemovePeer) this.api.peerRemoved(Buffer.from(e.data).toString('latin1'), !this.recovering);
        else if (e.type === EntryType.AddPeer) this.api.peerAdded(Buffer.from(e.data).toString('latin1'), !this.recovering);
      } catch (err) {
        this.server.log.error(`JetStream cluster: applying meta entry failed: ${(err as Error)?.stack ?? err}`);
      }
    }
    this.predecode.appliedThrough(index);
  }

  private applyEntry(data: Uint8Array, predecoded: ReturnType<typeof decodeMetaEntry> | undefined, index: number): void {
    const d = predecoded ?? decodeMetaEntry(data);
    if ('error' in d) {
      this.server.log.warn(`JetStream cluster: skipping malformed meta entry: ${d.error}`);
      return;
    }
    const live = !this.recovering;
    const ch = this.state.apply(d);
    switch (ch.kind) {
      case 'stream_assigned':
        this.api.streamAssigned(ch.entry, ch.replaced);
        if (live && !ch.replaced && this.node.isLeader && !isReplicated(ch.entry.sa)) {
          const sa = ch.entry.sa;
          const holder = holderOf(sa.group);
          this.unapplied.record(holder, index, accountOf(sa.client), sa.stream.name, sa.reply);
          // Placed just before its holder said it stopped: handled now, not at its next announcement.
          if (this.peerInfo.info(holder)?.unavailable) queueMicrotask(() => this.failUnappliedCreates(holder));
        }
        if (live) void this.enqueue(() => this.localAssignStream(ch.entry, false));
        break;
      case 'stream_updated':
        if (live) void this.enqueue(() => this.localAssignStream(ch.entry, true));
        break;
      case 'stream_removed':
        if (live) void this.enqueue(() => this.localRemoveStream(ch.account, ch.sa, ch.removed));
        break;
      case 'consumer_assigned':
        this.api.consumerApplied(ch.account, ch.ca.stream, ch.ca.name, true);
        if (live) void this.enqueue(() => this.localAssignConsumer(ch.ca));
        break;
      case 'consumer_removed':
        if (live) void this.enqueue(() => this.localRemoveConsumer(ch.ca));
        break;
      case 'ignored':
        // A consumer for a stream we do not have is worth a warning (nats-server logs it too).
        if (d.op === MetaOp.assignConsumer) {
          this.server.log.warn(`JetStream cluster: ${ch.reason}, skipped`);
          this.api.consumerApplied(ch.account, d.ca.stream, d.ca.name, false);
        }
        break;
    }
  }

  /** A snapshot replaces the state: assets that disappear (or were recreated) are removed, the rest reconciled. */
  private applySnapshot(data: Uint8Array): void {
    let next: MetaAssignments;
    try {
      next = MetaAssignments.fromSnapshot(data, (m) => this.server.log.warn(`JetStream cluster: ${m}`));
    } catch {
      return; // an unreadable snapshot leaves the state as it was (nats-server returns the error)
    }
    const d = this.state.applySnapshot(next);
    if (this.recovering) return; // reconciled once at the end of recovery
    void this.enqueue(() => this.dropAndReconcile(d, 'removed by meta snapshot'));
  }

  /** After the state was replaced: remove locally what went away, then reconcile what it assigns. */
  private async dropAndReconcile(d: MetaSnapshotDiff, why: string): Promise<void> {
    for (const [acc, e] of d.removedStreams) {
      await this.streamGroups.remove(acc, e.sa.stream.name);
      await this.removeLocalStream(acc, e.sa.stream.name, why);
    }
    for (const ca of d.removedConsumers) await this.localRemoveConsumer(ca);
    await this.reconcile(undefined);
  }

  // ------------------------------------------------------------------ local assets

  private isLocalHolder(sa: StreamAssignment): boolean {
    return !isReplicated(sa) && holderOf(sa.group) === this.id;
  }

  /** The cluster block of STREAM.INFO / create answers for a stream held here. */
  clusterBlock(): Record<string, unknown> {
    return { name: this.clusterName, leader: this.server.serverName };
  }

  /** Called for every stream that comes to life on this server. */
  streamAdded(_acc: JsAccount, stream: Stream): void {
    stream.clusterInfo = () => this.clusterBlock();
    // A replica recovered from disk takes no publishes until its group has rebuilt it.
    if (stream.config.num_replicas > 1) {
      stream.replicator = () => {};
      stream.consumersStandby = true;
    }
  }

  /** Run the single-server handler for `subject` with a request made from an assignment. */
  async runLocal(account: string, subject: string, reply: string, payload: Buffer | string,
    onRespond?: ApiRequest['onRespond']): Promise<{ error: boolean; body: string } | undefined> {
    const handler = this.js.router.find(subject);
    if (!handler) return undefined;
    let out: { error: boolean; body: string } | undefined;
    const req: ApiRequest = {
      accountName: account, subject, tokens: subject.slice('$JS.API.'.length).split('.'), reply,
      headers: undefined, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
      origin: { cid: 0, account, kind: 'internal' },
      onRespond: (body, isError) => {
        out = { error: isError, body };
        const b = onRespond ? onRespond(body, isError) : body;
        // An answer with no one to receive it (recovery, reconcile) is not sent or counted.
        if (!reply || b === null) return null;
        // A Go meta leader's assignment carries its service-import reply: answer in the system account.
        if (this.answersInSystem(reply)) {
          this.sys.publish(reply, '', undefined, b);
          return null;
        }
        return b;
      },
    };
    await handler(req);
    return out;
  }

  private async localAssignStream(entry: StreamEntry, isUpdate: boolean): Promise<void> {
    const sa = entry.sa;
    const account = accountOf(sa.client);
    const name = sa.stream.name;
    const jsa = this.js.jsAccount(account);
    if (isReplicated(sa)) {
      // Replicated: the group's first leader answers a create, its current leader an update.
      await this.streamGroups.assign(entry);
      return;
    }
    const sg = this.streamGroups.get(account, name);
    if (sg) {
      // Scaled down to one replica: the remaining server keeps the data and serves it as R1
      // (and answers the update below); the others drop their replica.
      if (this.isLocalHolder(sa)) {
        this.streamGroups.detach(account, name);
        await dissolveToSingle(this, sg);
      } else {
        await this.streamGroups.remove(account, name);
      }
    }
    if (!this.isLocalHolder(sa)) {
      if (jsa?.streams.has(name)) await this.removeLocalStream(account, name, 'assigned to another server');
      return;
    }
    if (!jsa) {
      this.publishStreamResult(account, name, isUpdate, goJson({
        type: 'io.nats.jetstream.api.v1.stream_create_response',
        error: { code: 503, err_code: 10039, description: 'jetstream not enabled for account' },
      }));
      return;
    }
    const subject = `$JS.API.STREAM.${isUpdate ? 'UPDATE' : 'CREATE'}.${name}`;
    const res = await this.runLocal(account, subject, sa.reply, JSON.stringify(sa.stream));
    if (res?.error) this.publishStreamResult(account, name, isUpdate, res.body);
  }

  private async localRemoveStream(account: string, sa: StreamAssignment, prev: StreamEntry | undefined): Promise<void> {
    const name = sa.stream.name;
    const group = prev?.sa.group ?? sa.group;
    const holder = holderOf(group);
    const jsa = this.js.jsAccount(account);
    const sg = this.streamGroups.get(account, name);
    // As nats-server's processClusterDeleteStream: a replicated stream's group leader answers the
    // delete; the meta leader only when the group has no leader (or no peer is online), so a
    // mixed cluster (docs/interop.md) gives one answer whichever kind leads which group.
    const wasGroupLeader = sg?.isLeader ?? false;
    const groupLeaderless = sg !== undefined ? !sg.node?.leaderId : !group.peers.some((p) => this.onlinePeers().has(p));
    if (sg) await this.streamGroups.remove(account, name);
    const local = jsa?.streams.has(name) ?? false;
    if (holder === this.id && group.peers.length === 1 && local) {
      const res = await this.runLocal(account, `$JS.API.STREAM.DELETE.${name}`, sa.reply, '');
      if (res?.error) this.server.log.warn(`JetStream cluster: deleting stream '${account} > ${name}': ${res.body}`);
      return;
    }
    if (local) await this.removeLocalStream(account, name, 'stream removed');
    // The holder answers; when it has nothing to delete, or is not reachable (nats-server:
    // meta leader when all peers are offline), answer here so the client gets one reply.
    const holderAnswers = holder !== this.id && group.peers.length === 1 && this.onlinePeers().has(holder);
    const iAnswer = group.peers.length > 1 ? wasGroupLeader || (groupLeaderless && this.node.isLeader)
      : holder === this.id || (!holderAnswers && this.node.isLeader);
    if (iAnswer && sa.reply) {
      this.respondRaw(account, `$JS.API.STREAM.DELETE.${name}`, sa.reply,
        goJson({ type: 'io.nats.jetstream.api.v1.stream_delete_response', success: true }), false);
    }
  }

  private async localAssignConsumer(ca: ConsumerAssignment): Promise<void> {
    const account = accountOf(ca.client);
    const entry = this.state.stream(account, ca.stream);
    if (entry && isReplicated(entry.sa)) {
      this.streamGroups.get(account, ca.stream)?.assignConsumer(ca);
      return;
    }
    if (!entry || !this.isLocalHolder(entry.sa)) return;
    const subject = `$JS.API.CONSUMER.CREATE.${ca.stream}.${ca.name}`;
    const payload = JSON.stringify({ stream_name: ca.stream, config: { ...ca.consumer, name: ca.name } });
    const res = await this.runLocal(account, subject, ca.reply, payload, (b) => this.withConsumerCluster(b));
    if (res?.error) this.publishConsumerResult(account, ca.stream, ca.name, res.body);
  }

  /** A consumer create or update failed here: the meta leader undoes its assignment (ClusterApi.onConsumerResult). */
  publishConsumerResult(account: string, stream: string, consumer: string, body: string): void {
    this.sys.publish(CONSUMER_RESULT_SUBJECT, '', undefined, JSON.stringify({ account, stream, consumer, response: JSON.parse(body) as unknown }));
  }

  private async localRemoveConsumer(ca: ConsumerAssignment): Promise<void> {
    const account = accountOf(ca.client);
    const entry = this.state.stream(account, ca.stream);
    if (entry && isReplicated(entry.sa)) {
      // Replicated stream: its peers drop the consumer's group. The consumer group's leader
      // answers, as nats-server's processClusterDeleteConsumer; the meta leader only when that
      // group has no leader (its peers may be down), so a mixed cluster answers once.
      const cg = this.streamGroups.get(account, ca.stream)?.consumers.get(ca.name);
      const wasGroupLeader = cg?.isLeader ?? false;
      const leaderless = cg !== undefined ? !cg.node?.leaderId : !ca.group.peers.some((p) => this.onlinePeers().has(p));
      await this.streamGroups.get(account, ca.stream)?.removeConsumer(ca);
      if ((wasGroupLeader || (leaderless && this.node.isLeader)) && ca.reply) {
        this.respondRaw(account, `$JS.API.CONSUMER.DELETE.${ca.stream}.${ca.name}`, ca.reply,
          goJson({ type: 'io.nats.jetstream.api.v1.consumer_delete_response', success: true }), false);
      }
      return;
    }
    if (!entry || !this.isLocalHolder(entry.sa)) return;
    const subject = `$JS.API.CONSUMER.DELETE.${ca.stream}.${ca.name}`;
    const stream = this.js.jsAccount(account)?.streams.get(ca.stream);
    if (stream && lookupConsumer(stream, ca.name)) {
      await this.runLocal(account, subject, ca.reply, '');
    } else if (ca.reply) {
      this.respondRaw(account, subject, ca.reply, goJson({ type: 'io.nats.jetstream.api.v1.consumer_delete_response', success: true }), false);
    }
  }

  /** Add the consumer's cluster block to a ConsumerInfo answer (before `ts`, as newer servers order it). */
  withConsumerCluster(body: string, list = false): string {
    if (body.includes('"error":')) return body;
    const block = `"cluster":${JSON.stringify(this.clusterBlock())}`;
    // A CONSUMER.LIST body: every info in it (each ends with its "ts"; a quote in a string value is escaped).
    if (list) return body.replaceAll(',"ts":"', `,${block},"ts":"`);
    const i = body.lastIndexOf(',"ts":"');
    if (i >= 0) return `${body.slice(0, i)},${block}${body.slice(i)}`;
    return body.endsWith('}') ? `${body.slice(0, -1)},${block}}` : body;
  }

  async removeLocalStream(account: string, name: string, why: string): Promise<void> {
    const jsa = this.js.jsAccount(account);
    const s = jsa?.streams.get(name);
    if (!jsa || !s) return;
    this.server.log.warn(`JetStream cluster: removing local stream '${account} > ${name}' (${why})`);
    await jsa.deleteStream(s);
  }

  /**
   * Bring the local assets in line with the state after recovery or a snapshot: create
   * or update what this server holds; nothing is removed here (see checkOrphans).
   */
  private async reconcile(only: string | undefined): Promise<void> {
    for (const [account, e] of [...this.state.all()]) {
      if (only !== undefined && only !== account) continue;
      if (isReplicated(e.sa)) {
        await this.streamGroups.assign(e);
        const sg = this.streamGroups.get(account, e.sa.stream.name);
        if (sg) for (const ca of e.consumers.values()) sg.assignConsumer(ca);
        continue;
      }
      if (!this.isLocalHolder(e.sa)) continue;
      const jsa = this.js.jsAccount(account);
      if (!jsa) continue;
      const name = e.sa.stream.name;
      const local = jsa.streams.get(name);
      if (!local) {
        const r = await this.runLocal(account, `$JS.API.STREAM.CREATE.${name}`, '', JSON.stringify(e.sa.stream));
        if (r?.error) this.server.log.warn(`JetStream cluster: restoring stream '${account} > ${name}': ${r.body}`);
      } else if (JSON.stringify(encodeStreamConfig(local.config)) !== JSON.stringify(e.sa.stream)) {
        const r = await this.runLocal(account, `$JS.API.STREAM.UPDATE.${name}`, '', JSON.stringify(e.sa.stream));
        if (r?.error) this.server.log.warn(`JetStream cluster: updating stream '${account} > ${name}': ${r.body}`);
      }
      const stream = jsa.streams.get(name);
      if (!stream) continue;
      stream.clusterInfo = () => this.clusterBlock();
      // Recovered as a replica of a replicated stream, now served here alone: its consumers run here.
      await wakeStandbyConsumers(stream, consumerHostFor(jsa, this.js.domain, (m) => this.server.log.warn(m)));
      for (const ca of e.consumers.values()) {
        // Ephemeral consumers do not come back after a restart (as on a single server).
        if (lookupConsumer(stream, ca.name) || !ca.consumer.durable_name) continue;
        const payload = JSON.stringify({ stream_name: name, config: { ...ca.consumer, name: ca.name } });
        const r = await this.runLocal(account, `$JS.API.CONSUMER.CREATE.${name}.${ca.name}`, '', payload);
        if (r?.error) this.server.log.warn(`JetStream cluster: restoring consumer '${account} > ${name} > ${ca.name}': ${r.body}`);
      }
    }
  }

  /**
   * nats-server checkForOrphans: once the meta state is known complete (a leader exists and
   * everything committed is applied), local streams and consumers it does not assign to this
   * server are removed. Runs once after start.
   */
  private maybeCheckOrphans(): void {
    if (this.orphansChecked || this.stopped || !this.ready) return;
    if (!this.node.leaderId || !this.node.isCurrent() || !metaStateComplete(this.node.status())) return;
    this.orphansChecked = true;
    if (this.orphanTimer) clearInterval(this.orphanTimer);
    void this.enqueue(() => this.checkOrphans());
  }

  private async checkOrphans(): Promise<void> {
    for (const jsa of this.js.allJsAccounts()) {
      for (const s of [...jsa.streams.values()]) {
        const e = this.state.stream(jsa.name, s.name);
        if (e && this.streamGroups.get(jsa.name, s.name)) continue;
        // A replica assigned here whose group is not running (yet): its start failed and is retried
        // (start-retry.ts). A scale-up seed's store is then the only copy of the stream: never an orphan.
        if (e && isReplicated(e.sa) && e.sa.group.peers.includes(this.id)) continue;
        if (!e || !this.isLocalHolder(e.sa)) {
          await this.removeLocalStream(jsa.name, s.name, 'orphaned: not in the meta state');
          continue;
        }
        for (const name of publicConsumers(s).map((c) => c.name)) {
          if (e.consumers.has(name)) continue;
          this.server.log.warn(`JetStream cluster: removing orphaned consumer '${jsa.name} > ${s.name} > ${name}'`);
          await this.runLocal(jsa.name, `$JS.API.CONSUMER.DELETE.${s.name}.${name}`, '', '');
        }
      }
    }
  }

  // ------------------------------------------------------------------ messaging

  /**
   * Our own removal from the meta group committed (nats-server processRemovePeer "isUs"): the
   * SERVER.REMOVED advisory, then this server stops its JetStream cluster work: stream and
   * consumer groups stop (their data stays on disk), the meta node stops and the API is no
   * longer served here.
   */
  removedFromCluster(): void {
    if (this.stopped || !this.ready) return;
    this.server.log.error('JetStream being DISABLED, our server was removed from the cluster');
    const adv = serverRemoved(this.server.serverName, this.server.serverId, this.clusterName, this.js.domain ? { domain: this.js.domain } : {});
    this.publishSystem(adv.subject, adv.payload);
    this.ready = false;
    this.removed = true;
    this.membership.stop();
    void this.enqueue(async () => {
      await this.streamGroups.stopAll();
      this.node.stop();
    });
  }

  /** Publish in the system account (advisories of the asset layer). */
  publishSystem(subject: string, payload: string, reply = ''): void {
    this.sys.publish(subject, reply, undefined, payload);
  }

  /** Subscribe in the system account (a stream leader's `$JSC.SI`); returns the unsubscribe. */
  subscribeSystem(subject: string, handler: (subject: string, reply: string, payload: Buffer) => void): () => void {
    const sid = this.sys.subscribe(subject, (subj, reply, _h, payload) => handler(subj, reply, payload));
    return () => this.sys.unsubscribe(sid);
  }

  /** A `_R_` reply made by nats-server's service import lives in the system account; one made by an
   *  account's import of another's $JS.API (src/core/imports.ts) lives in the exporting account. */
  private answersInSystem(reply: string): boolean {
    return isServiceImportReply(reply) && this.sys.account.sublist.hasInterest(reply);
  }

  /** Answer a client in its account, counted like any API answer. */
  respondRaw(account: string, subject: string, reply: string, body: string, isError: boolean): void {
    const req: ApiRequest = {
      accountName: account, subject, tokens: subject.slice('$JS.API.'.length).split('.'), reply,
      headers: undefined, payload: Buffer.alloc(0), origin: { cid: 0, account, kind: 'internal' },
    };
    // A reply copied from a Go meta leader's assignment is a service-import reply: system account.
    if (this.answersInSystem(reply)) {
      req.onRespond = (b) => {
        this.sys.publish(reply, '', undefined, b);
        return null;
      };
    }
    this.js.api.respond(req, body, isError);
  }

  private publishStreamResult(account: string, stream: string, isUpdate: boolean, body: string): void {
    let response: unknown;
    try {
      response = JSON.parse(body);
    } catch {
      response = { error: { code: 500, description: body } };
    }
    this.sys.publish(STREAM_RESULT_SUBJECT, '', undefined,
      JSON.stringify({ account, stream, create_response: response, is_update: isUpdate }));
    // The result also reaches this server's own leader logic when it is the meta leader.
    if (this.node.isLeader) this.api.onStreamResult(Buffer.from(JSON.stringify({ account, stream, create_response: response, is_update: isUpdate })), true);
  }

  /** Hand a client request to the server holding the asset (the leader does this for repeated creates). */
  forward(peer: string, req: ApiRequest, asCreate = false): void {
    if (asCreate && this.relay && this.isGoPeer(peer, req.accountName)) {
      this.askGoHolderAsCreate(req);
      return;
    }
    if (peer === this.id) {
      void this.enqueue(() => this.runForwarded(req.accountName, req.subject, req.reply, req.payload, 0, asCreate));
      return;
    }
    const fr: ForwardedRequest = { account: req.accountName, subject: req.subject, reply: req.reply, payload: req.payload.toString('base64') };
    if (asCreate) fr.as_create = true;
    this.sys.publish(forwardSubject(peer), '', undefined, JSON.stringify(fr));
  }

  private onForward(payload: Buffer): void {
    let fr: ForwardedRequest;
    try {
      fr = JSON.parse(payload.toString()) as ForwardedRequest;
      if (typeof fr.account !== 'string' || typeof fr.subject !== 'string' || !fr.subject.startsWith('$JS.API.')) return;
    } catch {
      return;
    }
    void this.enqueue(() => this.runForwarded(fr.account, fr.subject, fr.reply ?? '', Buffer.from(fr.payload ?? '', 'base64'), 0, fr.as_create === true));
  }

  /** The holder may apply the assignment a moment after the leader: wait for the local stream. */
  private async runForwarded(account: string, subject: string, reply: string, payload: Buffer, attempt: number, asCreate: boolean): Promise<void> {
    const t = subject.split('.');
    if (t[2] === 'CONSUMER') {
      // A repeated create of a replicated consumer: only its leader answers (idempotent create).
      const [stream, cname] = t[3] === 'DURABLE' ? [t[5] ?? '', t[6] ?? ''] : [t[4] ?? '', t[5] ?? ''];
      const sg = this.streamGroups.get(account, stream);
      if (sg) {
        let n = cname;
        if (!n) {
          try {
            n = String((JSON.parse(payload.toString()) as { config?: { name?: string } }).config?.name ?? '');
          } catch { /* not ours to answer */ }
        }
        if (sg.consumers.get(n)?.isLeader) await this.runLocal(account, subject, reply, payload, (b) => sg.consumers.get(n)?.withCluster(b) ?? b);
        return;
      }
    }
    const name = subject.split('.')[4] ?? '';
    const e = this.state.stream(account, name);
    if ((!e || !this.js.jsAccount(account)?.streams.has(name)) && attempt < 40) {
      setTimeout(() => void this.enqueue(() => this.runForwarded(account, subject, reply, payload, attempt + 1, asCreate)), 50).unref();
      return;
    }
    if (asCreate) {
      await this.runLocal(account, `$JS.API.STREAM.INFO.${name}`, reply, '', (b, isError) => {
        if (isError) return b.replace('"type":"io.nats.jetstream.api.v1.stream_info_response"', '"type":"io.nats.jetstream.api.v1.stream_create_response"');
        return b.replace('"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,',
          '"type":"io.nats.jetstream.api.v1.stream_create_response",');
      });
      return;
    }
    await this.runLocal(account, subject, reply, payload, subject.includes('.CONSUMER.') ? (b) => this.withConsumerCluster(b) : undefined);
  }

  // ------------------------------------------------------------------ API entry

  private publishIn(account: string, subject: string, payload: Buffer): void {
    let cl = this.accountClients.get(account);
    if (cl === undefined) {
      const acc = this.server.lookupAccount(account);
      if (acc === undefined) return;
      cl = acc.createInternalClient('jsc-relay', ClientKind.SYSTEM);
      this.accountClients.set(account, cl);
    }
    cl.publish(subject, '', undefined, payload);
  }

  /**
   * A nats-server peer, as far as requests of `account` go: known from its statsz only (no
   * `$JSC.PEER.INFO`), and no route interest from it in the account's JetStream API.
   */
  /**
   * Idempotent STREAM.CREATE of a stream a nats-server holds: it serves no `$JSC.FWD`, so ask it
   * for STREAM.INFO as nats-server's import would and answer with the create response type.
   */
  private askGoHolderAsCreate(req: ApiRequest): void {
    const name = req.subject.split('.')[4] ?? '';
    const reply = this.relay!.openWith((payload) => {
      let body = payload.toString();
      body = body.includes('"error"')
        ? body.replace('"type":"io.nats.jetstream.api.v1.stream_info_response"', '"type":"io.nats.jetstream.api.v1.stream_create_response"')
        : body.replace('"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,',
          '"type":"io.nats.jetstream.api.v1.stream_create_response",');
      if (!req.reply) return;
      if (this.answersInSystem(req.reply)) this.sys.publish(req.reply, '', undefined, body);
      else this.publishIn(req.accountName, req.reply, Buffer.from(body));
    });
    this.sys.publish(`$JS.API.STREAM.INFO.${name}`, reply, requestInfoHeader(req.accountName, this.server.serverName, this.clusterName), '');
  }

  isGoPeer(id: string, account: string): boolean {
    if (id === '' || id === this.id || !this.peerInfo.isGoPeer(id)) return false;
    return !routesAccountApi(this.server.lookupAccount(account), this.serverNameOf(id));
  }

  private hasGoPeers(account: string): boolean {
    if (!this.peerInfo.hasGoPeers()) return false;
    for (const p of this.cluster.peers()) if (p.jetstream && this.isGoPeer(this.peerIdOf(p.name), account)) return true;
    return false;
  }

  /**
   * A local client's request that a nats-server must answer (meta leader or holder): send it the
   * way nats-server's service import does, in the system account (go-import.ts).
   */
  forwardAsImport(req: ApiRequest): void {
    if (req.origin.kind === 'route' || req.accountName === this.server.systemAccount.name || !this.relay) return;
    const reply = req.reply ? this.relay.open(req.accountName, req.reply) : '';
    this.sys.publish(req.subject, reply, requestInfoHeader(req.accountName, this.server.serverName, this.clusterName), req.payload);
  }

  /**
   * Meta leader with nats-server peers: the request's reply (copied into assignments) becomes a
   * system-account `_R_` reply relayed to the client, since a nats-server holder answers there.
   */
  relayReply(req: ApiRequest): void {
    if (!req.reply || !this.relay || !this.hasGoPeers(req.accountName) || req.accountName === this.server.systemAccount.name) return;
    const relayed = this.relay.open(req.accountName, req.reply);
    req.reply = relayed;
    const prev = req.onRespond;
    req.onRespond = (body, isError) => {
      const out = prev ? prev(body, isError) : body;
      if (out !== null) this.sys.publish(relayed, '', undefined, out);
      return null;
    };
  }

  /** Every $JS.API request of every account arrives here in clustered mode. */
  route(req: ApiRequest, handler: ApiHandler | undefined): void {
    if (isImportedCopy(req, this.server.systemAccount.name) || this.removed) return; // go-import.ts
    if (!this.ready) {
      // No meta group yet (alone, or still replaying its log): the API is not served; past
      // the start-up grace the client's own server says so (10008).
      if (req.origin.kind !== 'route' && performance.now() - this.startedAt > LEADERLESS_GRACE_MS) this.api.unavailableFor(req);
      return;
    }
    this.api.route(req, handler);
  }

  // ------------------------------------------------------------------ snapshots

  private readonly snaps = new SnapshotSchedule(META_SNAPSHOT_POLICY);
  /** Assigned consumers found missing locally on the previous sweep. */
  private missingConsumers = new Set<string>();

  /**
   * A consumer the holder removed on its own (an ephemeral past its inactive threshold) is
   * still assigned: once it has been missing on two sweeps in a row, the holder proposes its
   * removal (nats-server forwards a removeConsumerOp proposal when it deletes one).
   */
  private sweepVanishedConsumers(): void {
    if (!this.ready || this.stopped) return;
    const now = new Set<string>();
    for (const [account, e] of this.state.all()) {
      if (!this.isLocalHolder(e.sa)) continue;
      const stream = this.js.jsAccount(account)?.streams.get(e.sa.stream.name);
      if (!stream) continue;
      for (const ca of e.consumers.values()) {
        if (lookupConsumer(stream, ca.name)) continue;
        const k = `${account}\u0000${e.sa.stream.name}\u0000${ca.name}`;
        now.add(k);
        if (this.missingConsumers.has(k)) {
          this.node.forwardProposal(encodeConsumerEntry(MetaOp.removeConsumer, { ...ca, subject: '', reply: '' }));
        }
      }
    }
    this.missingConsumers = now;
  }

  /** Every minute, or sooner when the WAL has grown past the compaction threshold. */
  private snapshotCheck(): void {
    if (!this.node) return;
    void this.enqueue(() => this.sweepVanishedConsumers());
    if (this.snaps.due(this.node.status().walBytes)) this.snapshot(false);
  }

  /** Install a meta snapshot (nats-server: periodic, on compaction, on leadership, on shutdown). */
  snapshot(force: boolean): void {
    if (!this.node || this.node.state === 'closed') return;
    if (this.node.applied <= 0) return;
    this.snaps.taken();
    try {
      this.node.installSnapshot(this.state.toSnapshot(), force);
    } catch (e) {
      if (!(e instanceof RaftError)) this.server.log.warn(`JetStream cluster: meta snapshot failed: ${(e as Error).message}`);
    }
  }

  /** This server as placement sees it (nats-server: its statsz). */
  private selfInfo(): PeerInfoMsg {
    let reservedMemory = 0;
    let reservedStore = 0;
    for (const a of this.js.allJsAccounts()) {
      reservedMemory += a.reservedMemory();
      reservedStore += a.reservedStore();
    }
    const haAssets = 1 + this.state.replicatedOn(this.id); // the meta group itself, and the replicated streams here
    return {
      name: this.server.serverName, cluster: this.clusterName, tags: [...(this.server.options.serverTags ?? [])],
      maxMemory: this.js.maxMemoryBytes, maxStore: this.js.maxStoreBytes, usedMemory: this.js.memoryUsed,
      usedStore: this.js.storeUsed, reservedMemory, reservedStore, haAssets,
      ...(this.metaOutage ? { unavailable: true, metaApplied: this.node.applied } : {}),
    };
  }

  /** nats-server's healthz meta checks, in its order. */
  healthError(): string | undefined {
    if (!this.node) return 'JetStream has not established contact with a meta leader';
    if (this.node.state === 'closed') return 'JetStream meta layer is not running';
    if (!this.ready) return 'JetStream is still recovering meta layer';
    if (!this.node.leaderId) return 'JetStream has not established contact with a meta leader';
    if (!this.node.isCurrent()) return 'JetStream is not current with the meta leader';
    return undefined;
  }

  /** /healthz: streams and consumers assigned here that are not current. */
  /**
   * /jsz consumer_detail entries of the replicated consumers of `account` > `stream` held on this
   * server, by name (every replica reports its own, leader or not), or undefined when this server
   * runs no group of that stream.
   */
  consumerDetail(account: string, stream: string, withConfig: boolean): Map<string, Record<string, unknown>> | undefined {
    const sg = this.streamGroups.get(account, stream);
    if (!sg) return undefined;
    const out = new Map<string, Record<string, unknown>>();
    for (const [name, g] of sg.consumers) {
      const info = g.localInfo(withConfig);
      if (info) out.set(name, info);
    }
    return out;
  }

  assetHealth(filter: AssetFilter, firstOnly: boolean): AssetHealth {
    return assetHealth(this, filter, firstOnly);
  }

  /** /metrics: every Raft group running here (meta, streams, consumers). */
  raftGroups(): RaftGroupReport[] {
    return raftGroupReports(this);
  }

  /** For /jsz meta_cluster (2.9.10 fields: name, leader, peer = the leader's id, replicas, cluster_size). */
  metaClusterInfo(): Record<string, unknown> {
    const out: Record<string, unknown> = { name: this.clusterName };
    if (!this.node) return { ...out, cluster_size: 0 };
    const st = this.node.status();
    const leader = this.leaderName();
    if (leader) {
      out.leader = leader;
      out.peer = st.leader;
    }
    const replicas: Array<Record<string, unknown>> = [];
    const online = this.onlinePeers();
    for (const p of st.state === 'leader' ? st.peers : []) {
      if (p.id === this.id) continue;
      const r: Record<string, unknown> = { name: this.serverNameOf(p.id), current: p.current && online.has(p.id) };
      if (!online.has(p.id)) r.offline = true;
      r.active = p.lastSeenAgoMs === null ? 0 : Math.round(p.lastSeenAgoMs * 1e6);
      if (p.lag) r.lag = p.lag;
      r.peer = p.id;
      replicas.push(r);
    }
    if (replicas.length) out.replicas = replicas;
    out.cluster_size = this.node.clusterSize;
    return out;
  }
}

/** Created by JetStreamService when `jetstream` and `cluster` are both configured. */
export function createClusteredJetStream(js: JetStreamService, server: Server): ClusteredJetStream {
  return new ClusteredJetStream(js, server);
}
