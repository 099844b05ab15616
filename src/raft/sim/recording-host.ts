// A RaftHost that records every effect, with an in-memory log and a manual
// clock: lets tests drive one core by hand with crafted messages, the way
// nats-server's single-node NRG tests do.

import { RaftCore } from '../core.js';
import type { CoreConfig, RaftHost, RaftTiming, RestoredState, SnapshotRecord, SubscriptionKind } from '../core-types.js';
import { encodePeerId } from '../codec.js';
import { peerIdForServerName } from '../subjects.js';
import { type AppendEntry, type AppendEntryResponse, type Entry, makeAppendEntry, type PeerState, type VoteRequest, type VoteResponse } from '../types.js';
import { Prng } from './prng.js';

export type Sent =
  | { kind: 'vreq'; subject: string; reply: string; msg: VoteRequest }
  | { kind: 'vresp'; subject: string; reply: string; msg: VoteResponse }
  | { kind: 'ae'; subject: string; reply: string; msg: AppendEntry }
  | { kind: 'aer'; subject: string; reply: string; msg: AppendEntryResponse }
  | { kind: 'raw'; subject: string; reply: string; msg: Uint8Array };

export class RecordingHost implements RaftHost {
  entries: AppendEntry[] = [];
  base = 0;
  term = 0;
  vote = '';
  peerState?: PeerState;
  snapshot?: SnapshotRecord;
  sent: Sent[] = [];
  /** Ordered record of effects, for checking "persist before send". */
  events: string[] = [];
  subs = new Map<string, SubscriptionKind>();
  applied: { index: number; entries: Entry[] }[] = [];
  signals: { isLeader: boolean; term: number }[] = [];
  committedSeqs: number[] = [];
  abandoned: [number, number][] = [];
  writeFailures: string[] = [];
  failTermVote = false;
  /** Diagnostics sink (tests set it to collect warnings). */
  log?: (level: 'debug' | 'warn', msg: string) => void;
  failTruncate = false;

  firstIndex(): number {
    return this.base + 1;
  }
  lastIndex(): number {
    return this.base + this.entries.length;
  }
  termAt(index: number): number {
    const ae = this.read(index);
    return ae ? ae.term : -1;
  }
  read(index: number): AppendEntry | undefined {
    return this.entries[index - this.base - 1];
  }
  appendLog(index: number, ae: AppendEntry): void {
    if (index !== this.lastIndex() + 1) throw new Error(`append at ${index} after ${this.lastIndex()}`);
    this.entries.push(ae);
    this.events.push(`append ${index}`);
  }
  truncateLog(lastKept: number): void {
    this.entries.length = Math.max(0, lastKept - this.base);
    this.events.push(`truncate ${lastKept}`);
  }
  persistTermVote(term: number, vote: string): boolean {
    if (this.failTermVote) return false;
    this.term = term;
    this.vote = vote;
    this.events.push(`tav ${term} ${vote}`);
    return true;
  }
  persistPeerState(ps: PeerState): void {
    this.peerState = { ...ps, knownPeers: [...ps.knownPeers] };
  }
  installSnapshot(snap: SnapshotRecord): boolean {
    this.snapshot = snap;
    this.base = snap.lastIndex;
    this.entries = [];
    this.events.push(`snapshot ${snap.lastIndex}`);
    return true;
  }
  loadSnapshot(): SnapshotRecord | undefined {
    return this.snapshot;
  }
  sendVoteRequest(subject: string, reply: string, msg: VoteRequest): void {
    this.sent.push({ kind: 'vreq', subject, reply, msg });
    this.events.push('send vreq');
  }
  sendVoteResponse(subject: string, msg: VoteResponse): void {
    this.sent.push({ kind: 'vresp', subject, reply: '', msg });
    this.events.push('send vresp');
  }
  sendAppendEntry(subject: string, reply: string, msg: AppendEntry): void {
    this.sent.push({ kind: 'ae', subject, reply, msg });
  }
  sendAppendEntryResponse(subject: string, reply: string, msg: AppendEntryResponse): void {
    this.sent.push({ kind: 'aer', subject, reply, msg });
  }
  sendRaw(subject: string, reply: string, msg: Uint8Array): void {
    this.sent.push({ kind: 'raw', subject, reply, msg });
  }
  subscribe(subject: string, kind: SubscriptionKind): void {
    this.subs.set(subject, kind);
  }
  unsubscribe(subject: string): void {
    this.subs.delete(subject);
  }
  apply(index: number, entries: Entry[]): void {
    this.applied.push({ index, entries });
  }
  leaderSignal(isLeader: boolean, term: number): void {
    this.signals.push({ isLeader, term });
  }
  stateChanged(): void {}
  proposalsCommitted(seq: number): void {
    this.committedSeqs.push(seq);
  }
  proposalsAbandoned(from: number, to: number): void {
    this.abandoned.push([from, to]);
  }
  writeFailed(what: string): void {
    this.writeFailures.push(what);
  }

  /** Messages of one kind sent since the last take(). */
  take<K extends Sent['kind']>(kind: K): Extract<Sent, { kind: K }>[] {
    const out = this.sent.filter((s) => s.kind === kind) as Extract<Sent, { kind: K }>[];
    this.sent = this.sent.filter((s) => s.kind !== kind);
    return out;
  }
}

export class ManualClock {
  t = 1_000_000;
  now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export interface SingleNodeOptions {
  id?: string;
  peers?: string[];
  clusterSize?: number;
  observer?: boolean;
  managed?: boolean;
  recovering?: boolean;
  stateLost?: boolean;
  timing?: Partial<RaftTiming>;
  restored?: RestoredState;
  host?: RecordingHost;
  clock?: ManualClock;
  seed?: number;
}

export interface SingleNode {
  core: RaftCore;
  host: RecordingHost;
  clock: ManualClock;
  id: string;
  /** Advance the clock and tick. */
  advance(ms: number): void;
  /**
   * Fire the election timer now. If the core probes for a quorum first (it
   * heard from nobody recently), the other peers answer the probe (refusing,
   * at the node's term) so the real candidacy follows; the probe request is
   * removed from host.sent. Use expireElectionAlone() to see the probe.
   */
  expireElection(): void;
  /** Fire the election timer with nobody answering. */
  expireElectionAlone(): void;
  /** Mark everything stored as durable. */
  persistAll(): void;
  /** Apply every pending committed index (as the driver would). */
  applyAll(): void;
}

export const SINGLE_ID = peerIdForServerName('single');
export const NATS0 = peerIdForServerName('nats-0');
export const NATS1 = peerIdForServerName('nats-1');

/** One core with a recording host and a manual clock (upstream initSingleMemRaftNode). */
export function singleNode(o: SingleNodeOptions = {}): SingleNode {
  const id = o.id ?? SINGLE_ID;
  const host = o.host ?? new RecordingHost();
  const clock = o.clock ?? new ManualClock();
  const rng = new Prng(o.seed ?? 7);
  const cfg: CoreConfig = {
    id,
    group: 'TEST',
    peers: o.peers ?? [id],
    clusterSize: o.clusterSize,
    observer: o.observer,
    managed: o.managed,
    recovering: o.recovering,
    stateLost: o.stateLost,
    timing: o.timing,
  };
  const core = new RaftCore(cfg, { now: clock.now, random: () => rng.next() }, host, o.restored ?? { term: host.term, vote: host.vote, peerState: host.peerState });
  let appliedUpTo = core.applied;
  const self: SingleNode = {
    core,
    host,
    clock,
    id,
    advance(ms) {
      clock.advance(ms);
      core.tick();
    },
    expireElection() {
      clock.advance(Math.max(0, core.electionTimerRemainingMs()) + 1);
      core.tick();
      if (!core.isProbing) return;
      const inbox = core.currentVoteInbox;
      host.sent = host.sent.filter((m) => !(m.kind === 'vreq' && m.reply === inbox));
      host.events = host.events.filter((e) => e !== 'send vreq');
      for (const p of core.peerIds()) {
        if (p === id || !core.isProbing) continue;
        core.handleVoteResponse({ term: core.term, peer: p, granted: false, empty: false }, inbox);
      }
    },
    expireElectionAlone() {
      clock.advance(Math.max(0, core.electionTimerRemainingMs()) + 1);
      core.tick();
    },
    persistAll() {
      core.persisted(core.lastIndex);
    },
    applyAll() {
      for (const a of host.applied) if (a.index > appliedUpTo) appliedUpTo = a.index;
      core.appliedTo(appliedUpTo);
      core.flush();
    },
  };
  return self;
}

/** Crafts an append entry (fields default to an empty heartbeat from nats-0). */
export function ae(p: Partial<AppendEntry>): AppendEntry {
  return makeAppendEntry(p.leader ?? NATS0, p.term ?? 1, p.commit ?? 0, p.pterm ?? 0, p.pindex ?? 0, p.entries ?? [], p.lterm ?? 0);
}

export function normal(text: string): Entry {
  return { type: 0, data: Buffer.from(text) };
}

export function peerEntry(type: number, peer: string): Entry {
  return { type, data: encodePeerId(peer) };
}
