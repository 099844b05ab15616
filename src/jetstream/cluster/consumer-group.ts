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
// Like the stream, the state is rebuilt from the group's log at start (the store is reset
// and the log replayed).

import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { EntryType, RaftNode, type Entry } from '../../raft/index.js';
import type { ConsumerState, ConsumerStore } from '../store/types.js';
import { emptyConsumerState } from '../store/consumer-state-codec.js';
import { lookupConsumer } from '../consumer/manager.js';
import { StopReason } from '../consumer/consumer.js';
import { RouteRaftTransport } from './route-transport.js';
import { MetaOp, accountOf, encodeConsumerEntry as encodeMetaConsumerEntry, type ConsumerAssignment } from './assignments.js';
import { EntryOp } from './ops.js';
import { decodeConsumerEntry, encodeAckUpdate, encodeDeliveredUpdate, encodeSkipUpdate } from './consumer-entry.js';
import {
  QuorumLostThrottle, advisoryCopies, advisoryReplicas, consumerLeaderElected, consumerQuorumLost, consumerStepdownResponse,
  quorumLostApplies, type Advisory, type AdvisoryMeta, type PeerInfo, type RaftPeerStatus,
} from './advisories.js';
import type { ClusteredJetStream } from './js-cluster.js';
import { randomCurrentPeer, stopGroupNode, type StreamGroup } from './stream-group.js';


/**
 * The store the leader's Consumer writes through: local first, then proposed. `resuming`
 * keeps the replicated state when the consumer is brought up on a new leader (the create
 * path would otherwise reset a store that already holds state).
 */
class ReplicatingConsumerStore implements ConsumerStore {
  resuming = false;
  constructor(readonly inner: ConsumerStore, private readonly propose: (data: Buffer) => void) {}
  get name(): string { return this.inner.name; }
  setStarting(sseq: number): void {
    this.inner.setStarting(sseq);
    this.propose(encodeSkipUpdate(sseq));
  }
  updateDelivered(dseq: number, sseq: number, dc: number, tsMs: number): void {
    this.inner.updateDelivered(dseq, sseq, dc, tsMs);
    this.propose(encodeDeliveredUpdate({ dseq, sseq, dc, ts: BigInt(Math.round(tsMs)) * 1_000_000n }));
  }
  updateAcks(dseq: number, sseq: number): void {
    this.inner.updateAcks(dseq, sseq);
    this.propose(encodeAckUpdate({ dseq, sseq }));
  }
  update(state: ConsumerState): void { this.inner.update(state); }
  forceUpdate(state: ConsumerState): void {
    if (this.resuming) return;
    this.inner.forceUpdate(state);
  }
  state(): ConsumerState { return this.inner.state(); }
  hasState(): boolean { return this.inner.hasState(); }
  config(): unknown { return this.inner.config(); }
  updateConfig(cfg: unknown): void { this.inner.updateConfig(cfg); }
  encodedState(): Buffer { return this.inner.encodedState(); }
  /** The Consumer stops on a leadership change: the state store stays open for the follower. */
  async stop(): Promise<void> {}
  async delete(): Promise<void> { await this.inner.delete(); }
}

export class ConsumerGroup {
  readonly account: string;
  readonly name: string;
  node!: RaftNode;
  private store!: ConsumerStore;
  private wrapper: ReplicatingConsumerStore | undefined;
  private transport!: RouteRaftTransport;
  private createReply: string;
  stopped = false;
  private wasLeader = false;
  private readonly startedMs = Date.now();
  private readonly lostQuorum = new QuorumLostThrottle();
  /** The Consumer runs here (this server leads the group). */
  private running = false;

  constructor(private readonly c: ClusteredJetStream, private readonly sg: StreamGroup, public ca: ConsumerAssignment) {
    this.account = accountOf(ca.client);
    this.name = ca.name;
    this.createReply = ca.reply;
  }

  get dir(): string {
    return join(this.c.js.storeRoot, this.c.server.systemAccount.name, '_js_', this.ca.group.name);
  }

  get isLeader(): boolean {
    return !this.stopped && this.node?.isLeader === true;
  }

  /** This replica's copy of the consumer state. */
  state(): ConsumerState {
    return this.store.state();
  }

  start(): void {
    const stream = this.sg.stream;
    this.store = stream.store.consumerStore(this.name, { ...this.ca.consumer, name: this.name }, Date.now());
    // Rebuilt from the group's log below.
    if (this.store.hasState()) this.store.forceUpdate(emptyConsumerState());
    this.transport = new RouteRaftTransport(this.c.server.systemAccount, `nrg-${this.ca.group.name}`);
    const g = this.ca.group;
    this.node = new RaftNode({
      group: g.name, serverName: this.c.server.serverName, peers: [...g.peers], storeDir: this.dir,
      transport: this.transport, managed: true,
      apply: (_i, entries) => this.applyEntries(entries),
      onLeaderChange: (isLeader) => this.onLeaderChange(isLeader),
      log: (level, msg) => (level === 'warn' ? this.c.server.log.warn(`JetStream consumer '${this.account} > ${this.ca.stream} > ${this.name}': ${msg}`) : undefined),
    });
    this.node.start();
    const preferred = g.preferred ?? this.sg.node.leaderId;
    if (g.peers.length === 1 || preferred === this.c.id) this.node.campaign();
  }

  async stop(deleting: boolean): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.stopConsumer(deleting);
    stopGroupNode(this.node, this.transport, deleting);
    if (deleting) {
      rmSync(this.dir, { recursive: true, force: true });
      await this.store.delete().catch(() => {});
    } else {
      await this.store.stop().catch(() => {});
    }
  }

  private propose = (data: Buffer): void => {
    if (!this.running || this.stopped) return;
    try {
      this.node.propose(data);
    } catch { /* leadership lost: the new leader continues from the committed state */ }
  };

  /** Stream.consumerStoreHook: the leader's Consumer gets the replicating store. */
  wrap(store: ConsumerStore): ConsumerStore {
    if (store !== this.store || !this.wrapper) return store;
    return this.wrapper;
  }

  private applyEntries(entries: Entry[]): void {
    for (const e of entries) {
      if (e.type !== EntryType.Normal) continue;
      // The leader already applied its own changes when it made them.
      if (this.running) continue;
      try {
        const d = decodeConsumerEntry(Buffer.from(e.data));
        if (d.op === EntryOp.updateDeliveredOp) this.store.updateDelivered(d.dseq, d.sseq, d.dc, Number(d.ts / 1_000_000n));
        else if (d.op === EntryOp.updateAcksOp) {
          this.store.updateAcks(d.dseq, d.sseq);
          // Work queues: an acknowledged message leaves the stream on every replica.
          if (this.sg.stream.config.retention === 'workqueue') this.sg.stream.store.removeMsg(d.sseq);
        } else if (d.op === EntryOp.updateSkipOp) this.store.setStarting(d.sseq);
      } catch (err) {
        this.c.server.log.debug(`JetStream consumer '${this.ca.stream} > ${this.name}': entry not applied: ${(err as Error).message}`);
      }
    }
  }

  private onLeaderChange(isLeader: boolean): void {
    if (this.stopped) return;
    if (!isLeader && this.wasLeader && quorumLostApplies(this.node.hasQuorum(), this.startedMs, Date.now()) && this.lostQuorum.shouldSend(Date.now())) {
      this.sendQuorumLost();
    }
    this.wasLeader = isLeader;
    if (isLeader) void this.c.enqueue(() => this.startConsumer());
    else void this.c.enqueue(() => this.stopConsumer(false));
  }

  /** Run the Consumer here, from the replicated state; the first leader answers the create. */
  private async startConsumer(): Promise<void> {
    if (this.stopped || !this.node.isLeader || this.running) return;
    const stream = this.sg.stream;
    this.wrapper = new ReplicatingConsumerStore(this.store, this.propose);
    const resuming = this.store.hasState();
    this.wrapper.resuming = resuming;
    this.running = true;
    const reply = this.createReply;
    this.createReply = '';
    const subject = `$JS.API.CONSUMER.CREATE.${this.ca.stream}.${this.name}`;
    const payload = JSON.stringify({ stream_name: this.ca.stream, config: { ...this.ca.consumer, name: this.name } });
    const res = await this.c.runLocal(this.account, subject, reply, payload, (b) => this.withCluster(b));
    this.wrapper.resuming = false;
    if (res?.error) {
      this.running = false;
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
        try {
          this.c.node.forwardProposal(encodeMetaConsumerEntry(MetaOp.removeConsumer, { ...this.ca, subject: '', reply: '' }));
        } catch { /* no meta group: the assignment stays until the next removal */ }
      };
    }
    this.sendLeaderElected();
  }

  private async stopConsumer(deleting: boolean): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const cons = lookupConsumer(this.sg.stream, this.name);
    if (cons) await cons.shutdown(deleting ? StopReason.Deleted : StopReason.Shutdown, deleting);
    this.wrapper = undefined;
  }

  /** The consumer assignment was removed: every peer drops the consumer and its state. */
  async remove(): Promise<void> {
    await this.stop(true);
  }

  private peerStatus(): RaftPeerStatus[] {
    const now = BigInt(Date.now()) * 1_000_000n;
    return this.node.status().peers.map((p) => ({
      id: p.id, current: p.current, lag: p.lag,
      lastNs: p.self ? now : p.lastSeenAgoMs === null ? undefined : now - BigInt(Math.round(p.lastSeenAgoMs * 1e6)),
    }));
  }

  /** ConsumerInfo answers carry the group's cluster block. */
  withCluster(body: string): string {
    if (body.includes('"error":')) return body;
    const ci = this.sg.clusterInfoFor(this.node, this.ca.group.peers);
    const block = `"cluster":${JSON.stringify(ci)}`;
    const i = body.lastIndexOf(',"ts":"');
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
