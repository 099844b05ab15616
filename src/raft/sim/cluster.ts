// Deterministic simulation of one NRG group on N servers in one process.
// Drives the pure core (no timers, no I/O) with a seeded schedule of
// message delay, loss, duplication, reordering, partitions, crashes that
// lose unsynced writes, slow disks and drifting clocks. Invariants are
// checked after every event (see invariants.ts).

import {
  decodeAppendEntry,
  decodeAppendEntryResponse,
  decodePeerState,
  decodeVoteRequest,
  decodeVoteResponse,
  encodeAppendEntry,
  encodeAppendEntryResponse,
  encodePeerState,
  encodeVoteRequest,
  encodeVoteResponse,
} from '../codec.js';
import { RaftCore } from '../core.js';
import type { RaftHost, RaftTiming, SnapshotRecord, SubscriptionKind } from '../core-types.js';
import { isProbeVoteInbox, peerIdForServerName } from '../subjects.js';
import {
  type AppendEntry,
  type AppendEntryResponse,
  type Entry,
  EntryType,
  type PeerState,
  RaftError,
  type VoteRequest,
  type VoteResponse,
} from '../types.js';
import { EventQueue } from './event-queue.js';
import { fnv32, mix53 } from './hash.js';
import { SimDisk } from './disk.js';
import { Invariants, SimFailure } from './invariants.js';
import { CALM, SimLinks, type NetworkConditions } from './network.js';
import { Prng } from './prng.js';
import { ClientLedger, TAGGED_LEN, TraceRing, taggedId } from './run-checks.js';
import { injectedFaults } from '../test-faults.js';

export const SIM_GROUP = 'S-R3F-SIMGROUP';
/** First byte of a client proposal (then its id, u32 LE). */
export const CLIENT_TAG = 1;

/** NRG timings divided by 10: same ratios, ten times more elections per simulated second. */
export const SIM_TIMING: Partial<RaftTiming> = {
  electionTimeoutMinMs: 400,
  electionTimeoutMaxMs: 900,
  campaignTimeoutMinMs: 10,
  campaignTimeoutMaxMs: 80,
  heartbeatMs: 100,
  lostQuorumMs: 1000,
  lostQuorumSignalMs: 2000,
  catchupStallMs: 200,
  leaderCatchupStallMs: 200,
  leaderCatchupMaxBytes: 8 * 1024,
  leaderCatchupMaxEntries: 32,
  transferCampaignMs: 1,
  peerRejoinMs: 30_000,
  healthyPeerMs: 300,
  maxBatchEntries: 64,
  goneLeaderDelayMinMs: 2,
  goneLeaderDelayMaxMs: 25,
};

type Payload =
  | { k: 'vreq'; v: VoteRequest }
  | { k: 'vresp'; v: VoteResponse }
  | { k: 'ae'; v: AppendEntry }
  | { k: 'aer'; v: AppendEntryResponse }
  | { k: 'raw'; v: Uint8Array }
  | { k: 'bytes'; kind: 'vreq' | 'vresp' | 'ae' | 'aer'; v: Uint8Array };

export type { NetworkConditions };

/** One server: its disk survives crashes, everything else is per incarnation. */
export class SimServer {
  disk = new SimDisk();
  up = true;
  incarnation = 0;
  core!: RaftCore;
  host!: SimHost;
  /** Upper-layer state machine: last applied index and running hash. */
  smIndex = 0;
  smHash = 0;
  commitChecked = 0;
  /** Leader commit tracking for the commitment-rule check (term and index last seen as leader). */
  leaderCommitTerm = -1;
  leaderCommitSeen = 0;
  clockRate = 1;
  clockOffset = 0;
  wakeGen = 0;
  wakeAt = Infinity;
  slowDisk = false;
  // Term/vote written asynchronously, as RaftNode does: messages sent while
  // a write is wanted or in flight are held until it is durable.
  tavPending: { term: number; vote: string } | null = null;
  tavWriting = false;
  held: { subject: string; reply: string; p: Payload }[] = [];
  /** Local proposal sequence (this incarnation) -> client proposal id. */
  readonly proposalIds = new Map<number, number>();
  readonly subs = new Map<string, SubscriptionKind>();
  rng: Prng;

  constructor(
    readonly idx: number,
    readonly name: string,
    readonly id: string,
    rng: Prng,
  ) {
    this.rng = rng;
  }
}

/** RaftHost of one server incarnation: effects go to the sim, applies are buffered. */
class SimHost implements RaftHost {
  readonly applies: { index: number; entries: Entry[] }[] = [];

  constructor(
    private readonly sim: SimCluster,
    private readonly s: SimServer,
  ) {}

  firstIndex(): number {
    return this.s.disk.firstIndex();
  }
  lastIndex(): number {
    return this.s.disk.lastIndex();
  }
  termAt(index: number): number {
    return this.s.disk.termAt(index);
  }
  read(index: number): AppendEntry | undefined {
    return this.s.disk.rec(index)?.ae;
  }
  appendLog(index: number, ae: AppendEntry): void {
    const r = this.s.disk.append(index, ae);
    this.sim.inv.onAppend(this.s, r.index, r.term, r.chain);
  }
  truncateLog(lastKept: number): void {
    this.sim.inv.onTruncate(this.s, lastKept);
    this.s.disk.truncate(lastKept);
  }
  persistTermVote(term: number, vote: string): boolean {
    this.s.tavPending = { term, vote };
    if (!this.s.tavWriting) this.sim.startTavWrite(this.s);
    return true;
  }
  private send(subject: string, reply: string, p: Payload): void {
    const s = this.s;
    // An acknowledgement is checked when it is made (one held behind a
    // term/vote write may leave after a truncation, like any delayed message).
    if (this.sim.checkSends && p.k === 'aer') this.sim.checkDurableBeforeSend(s, p);
    if ((s.tavPending || s.tavWriting) && !injectedFaults.voteBeforeDurable) s.held.push({ subject, reply, p });
    else this.sim.publish(s, subject, reply, p);
  }
  persistPeerState(ps: PeerState): void {
    this.s.disk.peerState = { ...ps, knownPeers: [...ps.knownPeers] };
  }
  installSnapshot(snap: SnapshotRecord): boolean {
    const st = decodeSmSnapshot(snap.data);
    this.s.disk.installSnapshot({ ...snap, chain: st.chain });
    this.sim.inv.onSnapshotInstalled(this.s, snap.lastIndex, st.chain);
    return true;
  }
  loadSnapshot(): SnapshotRecord | undefined {
    return this.s.disk.snapshot;
  }
  sendVoteRequest(subject: string, reply: string, vr: VoteRequest): void {
    if (isProbeVoteInbox(reply, SIM_GROUP, vr.candidate, vr.term)) this.sim.probeInboxes.add(reply);
    this.send(subject, reply, { k: 'vreq', v: vr });
  }
  sendVoteResponse(subject: string, vr: VoteResponse): void {
    this.send(subject, '', { k: 'vresp', v: vr });
  }
  sendAppendEntry(subject: string, reply: string, ae: AppendEntry): void {
    this.send(subject, reply, { k: 'ae', v: ae });
  }
  sendAppendEntryResponse(subject: string, reply: string, ar: AppendEntryResponse): void {
    this.send(subject, reply, { k: 'aer', v: ar });
  }
  sendRaw(subject: string, reply: string, data: Uint8Array): void {
    this.send(subject, reply, { k: 'raw', v: data });
  }
  subscribe(subject: string, kind: SubscriptionKind): void {
    this.s.subs.set(subject, kind);
    this.sim.registerInbox(subject, this.s);
  }
  unsubscribe(subject: string): void {
    this.s.subs.delete(subject);
  }
  apply(index: number, entries: Entry[]): void {
    this.applies.push({ index, entries });
  }
  leaderSignal(): void {}
  stateChanged(): void {
    const core = this.s.core;
    if (core && core.state === 'leader' && this.leaderTerm !== core.term) {
      this.leaderTerm = core.term;
      this.sim.inv.onLeader(this.s, core.term);
    }
  }
  private leaderTerm = -1;
  proposalsCommitted(seqUpTo: number): void {
    for (const [seq, id] of this.s.proposalIds) {
      if (seq > seqUpTo) continue;
      this.s.proposalIds.delete(seq);
      this.sim.clients.acked.add(id);
    }
  }
  proposalsAbandoned(from: number, to: number): void {
    for (let q = from; q <= to; q++) this.s.proposalIds.delete(q);
  }
  writeFailed(what: string): void {
    throw new SimFailure(`unexpected write failure (${what}) on ${this.s.name}`);
  }
  log(level: 'debug' | 'warn', msg: string): void {
    if (this.sim.tracing) this.sim.trace(`${this.s.name} ${level} ${msg}`);
  }
}

export interface SimConfig {
  seed: number;
  nodes: number;
  /** Encode and decode every message through the NRG codec. */
  codec?: boolean;
  /** Check durability promises of messages as they are sent (default true). */
  checkSends?: boolean;
  timing?: Partial<RaftTiming>;
  traceLimit?: number;
}

/** Snapshot payload of the sim state machine: applied index, state hash, log chain. */
export function encodeSmSnapshot(index: number, hash: number, chain: number): Uint8Array {
  const b = Buffer.alloc(24);
  b.writeDoubleLE(index, 0);
  b.writeDoubleLE(hash, 8);
  b.writeDoubleLE(chain, 16);
  return b;
}
export function decodeSmSnapshot(data: Uint8Array): { index: number; hash: number; chain: number } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { index: b.readDoubleLE(0), hash: b.readDoubleLE(8), chain: b.readDoubleLE(16) };
}

export class SimCluster {
  readonly rng: Prng;
  readonly q = new EventQueue();
  readonly servers: SimServer[] = [];
  readonly inv: Invariants;
  readonly timing: Partial<RaftTiming>;
  now = 0;
  net: NetworkConditions = { ...CALM };
  readonly links: SimLinks;
  /** Inboxes of probes: their "grants" are pre-votes, which promise nothing (no durability check). */
  readonly probeInboxes = new Set<string>();
  /**
   * When a server crashes, the others are told it is gone (RaftCore.peerGone, as a closed route
   * tells a real server), each after a small random delay, with this probability.
   */
  goneReports = 0;
  private readonly inboxOwner = new Map<string, SimServer>();
  private readonly codec: boolean;
  private readonly traceRing: TraceRing;
  events = 0;
  messages = 0;
  readonly clients = new ClientLedger();
  /** Called for every applied normal entry (liveness probes). */
  onApplied?: (s: SimServer, index: number, data: Uint8Array) => void;

  constructor(cfg: SimConfig) {
    this.rng = new Prng(cfg.seed);
    this.codec = cfg.codec ?? false;
    this.checkSends = cfg.checkSends ?? true;
    this.timing = { ...SIM_TIMING, ...cfg.timing };
    this.traceRing = new TraceRing(cfg.traceLimit ?? 0);
    this.inv = new Invariants(this);
    this.links = new SimLinks(cfg.nodes);
    for (let i = 0; i < cfg.nodes; i++) {
      const name = `n${i + 1}`;
      this.servers.push(new SimServer(i, name, peerIdForServerName(name), this.rng.fork()));
    }
    const peers = this.servers.map((s) => s.id);
    for (const s of this.servers) {
      s.disk.peerState = { knownPeers: peers, clusterSize: peers.length, domainExt: 0 };
      this.boot(s, false);
    }
  }

  get tracing(): boolean {
    return this.traceRing.enabled;
  }
  trace(line: string): void {
    this.traceRing.add(this.now, line);
  }
  traceTail(): string[] {
    return this.traceRing.tail();
  }

  localNow(s: SimServer): number {
    return s.clockOffset + s.clockRate * this.now;
  }

  private boot(s: SimServer, recovering: boolean): void {
    s.incarnation++;
    s.up = true;
    s.subs.clear();
    s.host = new SimHost(this, s);
    const d = s.disk;
    const snap = d.snapshot;
    s.smIndex = 0;
    s.smHash = 0;
    if (snap) {
      const st = decodeSmSnapshot(snap.data);
      s.smIndex = st.index;
      s.smHash = st.hash;
    }
    s.commitChecked = snap ? snap.lastIndex : 0;
    const env = { now: () => this.localNow(s), random: () => s.rng.next() };
    s.tavPending = null;
    s.tavWriting = false;
    s.held = [];
    s.proposalIds.clear();
    s.core = new RaftCore(
      { id: s.id, group: SIM_GROUP, peers: this.servers.map((x) => x.id), recovering, stateLost: d.lost, timing: this.timing },
      env,
      s.host,
      {
        term: d.term,
        vote: d.vote,
        peerState: d.peerState,
        snapshot: snap
          ? { lastTerm: snap.lastTerm, lastIndex: snap.lastIndex, peerState: decodePeerStateOrThrow(snap.peerState) }
          : undefined,
      },
    );
    if (snap) s.core.appliedTo(snap.lastIndex);
    this.trace(`${s.name} boot inc=${s.incarnation} term=${d.term} vote=${d.vote} base=${d.base} last=${d.lastIndex()}`);
    this.afterCall(s);
  }

  crash(s: SimServer): void {
    if (!s.up) return;
    this.trace(`${s.name} CRASH (synced to ${s.disk.stableLen + s.disk.base}, last ${s.disk.lastIndex()})`);
    s.up = false;
    s.incarnation++;
    s.disk.crash(s.rng);
    s.subs.clear();
    s.tavPending = null;
    s.tavWriting = false;
    s.held = [];
    this.inv.onCrash(s);
    if (this.goneReports > 0) {
      for (const o of this.servers) if (o !== s && this.rng.chance(this.goneReports)) this.reportGone(s, o);
    }
  }

  /** Tell `to` (after 0-5 ms) that `gone`'s server is gone: after a crash, or spuriously (a route flap). */
  reportGone(gone: SimServer, to: SimServer): void {
    const inc = to.incarnation;
    this.q.push(this.now + this.rng.range(0, 5), () => {
      if (!to.up || to.incarnation !== inc) return;
      this.trace(`${to.name} told ${gone.name} is gone`);
      to.core.peerGone(gone.id);
      this.afterCall(to);
    });
  }

  /** The disk is replaced by an empty one (the server knows it should hold the group: it recovers as lost). */
  wipe(s: SimServer): void {
    this.crash(s);
    const peers = this.servers.map((x) => x.id);
    s.disk = new SimDisk();
    s.disk.peerState = { knownPeers: peers, clusterSize: peers.length, domainExt: 0 };
    s.disk.lost = true;
    this.trace(`${s.name} WIPED`);
  }

  /** Bit rot in the newest `k` durable log records: recovery cuts them and reports lost state. */
  corrupt(s: SimServer, k: number): void {
    this.crash(s);
    const n = s.disk.dropTail(k);
    if (n > 0) s.disk.lost = true;
    this.trace(`${s.name} CORRUPTED: ${n} durable records cut`);
  }

  /**
   * Promises a message makes must already be on disk when it leaves: a
   * granted vote (term and vote durable), a successful append response (the
   * acknowledged entries durable). Off, only their consequences are checked
   * (two leaders in a term, lost committed entries, unapplied acks).
   */
  checkSends = true;

  checkDurableBeforeSend(from: SimServer, p: Payload): void {
    const d = from.disk;
    if (p.k === 'vresp' && p.v.granted) {
      if (d.term < p.v.term || (d.term === p.v.term && d.vote === '')) {
        throw new SimFailure(`t=${this.now.toFixed(3)}ms ${from.name} granted a vote in term ${p.v.term} before it was durable (disk: term ${d.term} vote '${d.vote}')`);
      }
    } else if (p.k === 'aer' && p.v.success) {
      const i = p.v.index;
      if (i > d.durableBase + d.durable.length && !(d.snapshot && i <= d.snapshot.lastIndex)) {
        throw new SimFailure(`t=${this.now.toFixed(3)}ms ${from.name} acknowledged index ${i} but only ${d.durableBase + d.durable.length} is durable`);
      }
    }
  }

  /** Probability that a server crashes while one of its fsyncs is in flight (power loss mid-write). */
  crashDuringFsync = 0;

  /** The same for term/vote writes (rarer than log fsyncs, so they get their own rate). */
  crashDuringTavWrite = 0;

  private maybeCrashDuringFsync(s: SimServer, lat: number, p = this.crashDuringFsync): void {
    if (p <= 0 || !this.rng.chance(p)) return;
    const at = this.now + this.rng.range(0, lat);
    const down = this.rng.chance(0.5) ? this.rng.range(0.5, 20) : this.rng.range(20, 600);
    const inc = s.incarnation;
    this.q.push(at, () => {
      if (!s.up || s.incarnation !== inc) return;
      this.trace(`${s.name} crash during fsync`);
      this.crash(s);
      this.q.push(this.now + down, () => this.restart(s));
    });
  }

  /** Power loss of several servers at the same instant; each comes back after its own delay. */
  powerLoss(victims: SimServer[], downMs: () => number): void {
    this.trace(`POWER LOSS ${victims.map((v) => v.name).join(',')}`);
    for (const v of victims) {
      if (!v.up) continue;
      this.crash(v);
      this.q.push(this.now + downMs(), () => this.restart(v));
    }
  }

  /** Term/vote write of `s`, completing after a disk latency; then held messages go out. */
  startTavWrite(s: SimServer): void {
    const want = s.tavPending;
    if (!want) return;
    s.tavPending = null;
    s.tavWriting = true;
    const inc = s.incarnation;
    const lat = s.slowDisk ? this.rng.range(5, 60) : this.rng.range(0.1, 1.5);
    this.maybeCrashDuringFsync(s, lat, this.crashDuringTavWrite);
    this.q.push(this.now + lat, () => {
      if (!s.up || s.incarnation !== inc) return;
      s.disk.term = want.term;
      s.disk.vote = want.vote;
      s.tavWriting = false;
      if (s.tavPending) {
        this.startTavWrite(s);
        return;
      }
      const held = s.held;
      s.held = [];
      for (const m of held) this.publish(s, m.subject, m.reply, m.p);
    });
  }

  restart(s: SimServer): void {
    if (s.up) return;
    this.boot(s, true);
  }

  // ---------------------------------------------------------------- network

  registerInbox(subject: string, s: SimServer): void {
    if (subject.startsWith('$NRG.R.') || subject.startsWith('$NRG.CR.')) this.inboxOwner.set(subject, s);
  }

  publish(from: SimServer, subject: string, reply: string, p: Payload): void {
    // A vote is checked when it leaves (it is held until the term/vote write is durable).
    if (this.checkSends && p.k === 'vresp' && !this.probeInboxes.has(subject)) this.checkDurableBeforeSend(from, p);
    if (this.codec) p = encodePayload(p);
    if (subject.startsWith('$NRG.R.') || subject.startsWith('$NRG.CR.')) {
      const to = this.inboxOwner.get(subject);
      if (to && to !== from) this.transmit(from, to, subject, reply, p);
      return;
    }
    for (const to of this.servers) if (to !== from) this.transmit(from, to, subject, reply, p);
  }

  private transmit(from: SimServer, to: SimServer, subject: string, reply: string, p: Payload): void {
    const inc = to.incarnation;
    this.links.send(from.idx, to.idx, this.now, this.net, this.rng, (at) => this.q.push(at, () => this.deliver(to, inc, subject, reply, p)));
  }

  private deliver(s: SimServer, inc: number, subject: string, reply: string, p: Payload): void {
    if (!s.up || s.incarnation !== inc) return;
    const kind = s.subs.get(subject);
    if (!kind) return;
    this.messages++;
    const core = s.core;
    if (p.k === 'bytes') p = decodePayload(p);
    switch (kind) {
      case 'vote-request':
        if (p.k === 'vreq') core.handleVoteRequest(p.v, reply);
        break;
      case 'vote-response':
        if (p.k === 'vresp') core.handleVoteResponse(p.v, subject);
        break;
      case 'append-entry':
      case 'catchup':
        if (p.k === 'ae') core.handleAppendEntry(p.v, reply, subject);
        break;
      case 'append-response':
        if (p.k === 'aer') core.handleAppendEntryResponse(p.v, reply);
        break;
      case 'proposal':
        if (p.k === 'raw') core.handleForwardedProposal(p.v, reply);
        break;
      case 'remove-peer':
        if (p.k === 'raw') core.handleForwardedRemovePeer(p.v, reply);
        break;
    }
    this.afterCall(s);
  }

  // ---------------------------------------------------------------- per-call bookkeeping

  /** After any input to a core: flush, apply, sync, reschedule, check. */
  afterCall(s: SimServer): void {
    if (!s.up) return;
    const core = s.core;
    core.flush();
    const applies = s.host.applies;
    while (applies.length > 0) {
      const a = applies.shift()!;
      this.applyToSm(s, a.index, a.entries);
      core.appliedTo(a.index);
    }
    this.inv.onCommit(s);
    if (s.disk.lost && !core.hasLostState && core.state !== 'closed') s.disk.lost = false;
    if (injectedFaults.ackBeforeFsync && core.lastIndex > core.durableIndex) core.persisted(core.lastIndex);
    if (s.disk.dirty && !s.disk.syncing) this.startSync(s);
    this.scheduleWake(s);
  }

  private applyToSm(s: SimServer, index: number, entries: Entry[]): void {
    if (entries.length === 1 && entries[0].type === EntryType.Snapshot) {
      const st = decodeSmSnapshot(entries[0].data);
      if (st.index !== index) throw new SimFailure(`${s.name}: snapshot entry for ${index} carries index ${st.index}`);
      s.smIndex = st.index;
      s.smHash = st.hash;
      this.inv.onApplied(s, index, s.smHash);
      return;
    }
    if (index !== s.smIndex + 1) throw new SimFailure(`${s.name}: applied ${index} after ${s.smIndex} (gap or repeat)`);
    let h = mix53(s.smHash, index);
    for (const e of entries) {
      h = mix53(h, fnv32(e.data, e.type));
      if (e.type === EntryType.Normal) {
        if (e.data.length === TAGGED_LEN && e.data[0] === CLIENT_TAG) {
          const dup = this.clients.applied(taggedId(e.data), index);
          if (dup !== undefined) throw new SimFailure(`t=${this.now.toFixed(3)}ms ${dup}`);
        }
        this.onApplied?.(s, index, e.data);
      }
    }
    s.smIndex = index;
    s.smHash = h;
    this.inv.onApplied(s, index, h);
  }

  private startSync(s: SimServer): void {
    s.disk.startSync();
    const lat = s.slowDisk ? this.rng.range(5, 60) : this.rng.range(0.1, 1.5);
    this.maybeCrashDuringFsync(s, lat);
    const inc = s.incarnation;
    this.q.push(this.now + lat, () => {
      if (!s.up || s.incarnation !== inc) return;
      const d = s.disk.finishSync();
      s.core.persisted(d);
      this.afterCall(s);
    });
  }

  private scheduleWake(s: SimServer): void {
    const d = s.core.nextDeadline();
    if (d === Infinity) return;
    let at = (d - s.clockOffset) / s.clockRate + 0.0005;
    if (at <= this.now) at = this.now + 0.0005;
    if (at === s.wakeAt) return;
    s.wakeAt = at;
    const gen = ++s.wakeGen;
    const inc = s.incarnation;
    this.q.push(at, () => {
      if (!s.up || s.incarnation !== inc || s.wakeGen !== gen) return;
      s.wakeAt = Infinity;
      s.core.tick();
      this.afterCall(s);
    });
  }

  // ---------------------------------------------------------------- driving

  /** Run events until simulated time `until` (ms). */
  runUntil(until: number): void {
    while (this.q.peekTime() <= until) {
      const ev = this.q.pop()!;
      this.now = ev.at;
      this.events++;
      ev.run();
    }
    this.now = until;
  }

  at(time: number, fn: () => void): void {
    this.q.push(time, fn);
  }

  /** Leader whose first entry is applied, if exactly one such server is up. */
  readyLeader(): SimServer | undefined {
    let best: SimServer | undefined;
    for (const s of this.servers) {
      if (s.up && s.core.isLeader && (!best || s.core.term > best.core.term)) best = s;
    }
    return best;
  }

  /** Client proposal through server `s` (leader: propose; follower: forward). */
  propose(s: SimServer, data: Uint8Array): boolean {
    if (!s.up) return false;
    const core = s.core;
    try {
      if (core.state === 'leader') {
        const seq = core.propose(data);
        if (data.length === TAGGED_LEN && data[0] === CLIENT_TAG) {
          const id = taggedId(data);
          s.proposalIds.set(seq, id);
          this.clients.directIds.add(id);
        }
      } else if (core.leader) core.forwardProposal(data);
      else return false;
    } catch (e) {
      if (e instanceof RaftError) return false;
      throw e;
    }
    this.afterCall(s);
    return true;
  }

  /** Snapshot on `s` at its applied index, as the upper layer would. */
  snapshot(s: SimServer): boolean {
    if (!s.up) return false;
    const meta = s.core.prepareSnapshot();
    if (meta instanceof RaftError) return false;
    const chain = s.disk.chainAt(meta.lastIndex);
    if (chain === undefined || s.smIndex !== meta.lastIndex) throw new SimFailure(`${s.name}: snapshot at ${meta.lastIndex} but sm at ${s.smIndex}`);
    const data = encodeSmSnapshot(meta.lastIndex, s.smHash, chain);
    s.disk.snapshot = { lastTerm: meta.lastTerm, lastIndex: meta.lastIndex, peerState: encodePeerStateBytes(meta.peerState), data, chain };
    s.disk.compact(meta.lastIndex, chain, meta.lastTerm);
    s.core.snapshotInstalled(meta.lastIndex, meta.lastTerm);
    this.trace(`${s.name} snapshot at ${meta.lastIndex}`);
    this.afterCall(s);
    return true;
  }

  /** Membership change through the ready leader `s`; false when refused. */
  changeMembership(s: SimServer, add: boolean, peer: string): boolean {
    if (!s.up || !s.core.isLeader) return false;
    try {
      if (add) s.core.proposeAddPeer(peer);
      else s.core.proposeRemovePeer(peer);
    } catch (e) {
      if (e instanceof RaftError) return false;
      throw e;
    }
    this.trace(`${s.name} ${add ? 'add' : 'remove'} peer ${peer}`);
    this.afterCall(s);
    return true;
  }

  stepDown(s: SimServer, preferred?: string): boolean {
    if (!s.up || s.core.state !== 'leader') return false;
    s.core.stepDown(preferred);
    this.afterCall(s);
    return true;
  }

  /** Cut every link between the two sides (symmetric partition). */
  partition(sideA: SimServer[]): void {
    this.links.partition(new Set(sideA.map((s) => s.idx)));
  }
  blockLink(from: SimServer, to: SimServer): void {
    this.links.blocked[from.idx][to.idx] = true;
  }
  healNetwork(): void {
    this.links.heal();
  }
  calm(): void {
    this.net = { ...CALM };
  }
}

function decodePeerStateOrThrow(b: Uint8Array): PeerState {
  const ps = decodePeerState(b);
  if (ps instanceof RaftError) throw new SimFailure('corrupt peer state in snapshot');
  return ps;
}
function encodePeerStateBytes(ps: PeerState): Uint8Array {
  return encodePeerState(ps);
}

function encodePayload(p: Payload): Payload {
  switch (p.k) {
    case 'vreq':
      return { k: 'bytes', kind: 'vreq', v: encodeVoteRequest(p.v) };
    case 'vresp':
      return { k: 'bytes', kind: 'vresp', v: encodeVoteResponse(p.v) };
    case 'ae':
      return { k: 'bytes', kind: 'ae', v: encodeAppendEntry(p.v) };
    case 'aer':
      return { k: 'bytes', kind: 'aer', v: encodeAppendEntryResponse(p.v) };
    default:
      return p;
  }
}

function decodePayload(p: Payload & { k: 'bytes' }): Payload {
  switch (p.kind) {
    case 'vreq':
      return { k: 'vreq', v: decodeVoteRequest(p.v)! };
    case 'vresp':
      return { k: 'vresp', v: decodeVoteResponse(p.v)! };
    case 'ae': {
      const ae = decodeAppendEntry(p.v);
      if (ae instanceof RaftError) throw new SimFailure('codec: AE did not decode');
      return { k: 'ae', v: ae };
    }
    case 'aer':
      return { k: 'aer', v: decodeAppendEntryResponse(p.v)! };
  }
}
