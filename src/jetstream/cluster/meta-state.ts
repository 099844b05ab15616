// The meta assignment map: account -> stream -> assignment (+ its consumers), the state every
// JetStream server of a cluster holds identically by applying the committed `_meta_` entries
// (jetstream-cluster.md §2.2). Pure data: no I/O, no timers. Each apply returns what changed,
// so the caller (the live meta layer) can create, update or delete local assets.
//
// Semantics follow nats-server's processStreamAssignment / processUpdateStreamAssignment /
// processStreamRemoval / processConsumerAssignment / processConsumerRemoval (map part only),
// applyMetaSnapshot (the diff) and the recoveryUpdates staging used while replaying the log.

import {
  assignmentAccount, createdNs, type ConsumerAssignment, type DecodedMetaEntry, type StreamAssignment,
  type StreamAssignmentWithConsumers,
} from './meta-codec.js';
import { encodeMetaSnapshot, decodeMetaSnapshot } from './meta-snapshot.js';
import { EntryOp } from './ops.js';

export type MetaChange =
  /** A new stream (or a re-assignment of an existing name; `previous` then holds the old one). */
  | { kind: 'stream_assigned'; account: string; sa: StreamAssignment; previous?: StreamAssignment }
  | { kind: 'stream_updated'; account: string; sa: StreamAssignment; previous: StreamAssignment }
  /** The stream and, with it, these consumers are gone. */
  | { kind: 'stream_removed'; account: string; sa: StreamAssignment; consumers: ConsumerAssignment[] }
  | { kind: 'consumer_assigned'; account: string; ca: ConsumerAssignment; previous?: ConsumerAssignment }
  | { kind: 'consumer_removed'; account: string; ca: ConsumerAssignment }
  /** Nothing changed (update of an unknown stream, consumer of an unknown stream, stale remove). */
  | { kind: 'ignored'; account: string; reason: string };

interface StreamEntry {
  sa: StreamAssignment;
  consumers: Map<string, ConsumerAssignment>;
}

/** What applyMetaSnapshot must do to bring the current state to a snapshot's. */
export interface MetaSnapshotDiff {
  /** Streams gone from the snapshot, or recreated there (different created time and group). */
  removeStreams: StreamAssignment[];
  /** Streams only in the snapshot (including recreated ones). Their consumers are in addConsumers. */
  addStreams: StreamAssignment[];
  /** Streams in both: the snapshot's version, to apply as an update. */
  updateStreams: StreamAssignment[];
  /** Consumers of kept streams that the snapshot no longer has, or has recreated. */
  removeConsumers: ConsumerAssignment[];
  /** Every consumer of added and kept streams, from the snapshot (create or update). */
  addConsumers: ConsumerAssignment[];
}

/** Same asset, or deleted and created again under the same name? (nats-server's test.) */
function recreated(a: { created: string; group: { name: string } }, b: { created: string; group: { name: string } }): boolean {
  return createdNs(a) !== createdNs(b) && a.group.name !== b.group.name;
}

const ksep = ':';
const streamKey = (account: string, stream: string): string => account + ksep + stream;

export class MetaState {
  private readonly accounts = new Map<string, Map<string, StreamEntry>>();

  // ---- queries ----

  stream(account: string, name: string): StreamAssignment | undefined {
    return this.accounts.get(account)?.get(name)?.sa;
  }

  consumer(account: string, stream: string, name: string): ConsumerAssignment | undefined {
    return this.accounts.get(account)?.get(stream)?.consumers.get(name);
  }

  /** Consumers of a stream, sorted by name. */
  consumers(account: string, stream: string): ConsumerAssignment[] {
    const e = this.accounts.get(account)?.get(stream);
    return e ? [...e.consumers.values()].sort((a, b) => cmp(a.name, b.name)) : [];
  }

  /** Streams of an account, sorted by name. */
  streams(account: string): StreamAssignment[] {
    const m = this.accounts.get(account);
    return m ? [...m.values()].map((e) => e.sa).sort((a, b) => cmp(a.config.name, b.config.name)) : [];
  }

  accountNames(): string[] {
    return [...this.accounts.keys()].sort(cmp);
  }

  get streamCount(): number {
    let n = 0;
    for (const m of this.accounts.values()) n += m.size;
    return n;
  }

  get consumerCount(): number {
    let n = 0;
    for (const m of this.accounts.values()) for (const e of m.values()) n += e.consumers.size;
    return n;
  }

  /** Every assignment whose group names this peer (for reassignment after a peer removal, health). */
  assignmentsOnPeer(peer: string): { streams: StreamAssignment[]; consumers: ConsumerAssignment[] } {
    const streams: StreamAssignment[] = [];
    const consumers: ConsumerAssignment[] = [];
    for (const acc of this.accountNames()) {
      for (const sa of this.streams(acc)) {
        if (sa.group.peers.includes(peer)) streams.push(sa);
        for (const ca of this.consumers(acc, sa.config.name)) if (ca.group.peers.includes(peer)) consumers.push(ca);
      }
    }
    return { streams, consumers };
  }

  // ---- applying entries ----

  /** Apply one decoded meta entry. */
  applyEntry(e: DecodedMetaEntry): MetaChange {
    switch (e.op) {
      case EntryOp.assignStreamOp: return this.assignStream(e.stream!);
      case EntryOp.updateStreamOp: return this.updateStream(e.stream!);
      case EntryOp.removeStreamOp: return this.removeStream(e.stream!);
      case EntryOp.assignConsumerOp:
      case EntryOp.assignCompressedConsumerOp: return this.assignConsumer(e.consumer!);
      case EntryOp.removeConsumerOp: return this.removeConsumer(e.consumer!);
    }
  }

  /** assignStreamOp: record (or replace) the assignment; a replaced one keeps its consumers. */
  assignStream(sa: StreamAssignment): MetaChange {
    const account = assignmentAccount(sa);
    let m = this.accounts.get(account);
    if (!m) {
      m = new Map();
      this.accounts.set(account, m);
    }
    const old = m.get(sa.config.name);
    m.set(sa.config.name, { sa, consumers: old?.consumers ?? new Map() });
    return old ? { kind: 'stream_assigned', account, sa, previous: old.sa } : { kind: 'stream_assigned', account, sa };
  }

  /** updateStreamOp: replace an existing assignment, keeping its consumers; unknown stream is ignored. */
  updateStream(sa: StreamAssignment): MetaChange {
    const account = assignmentAccount(sa);
    const old = this.accounts.get(account)?.get(sa.config.name);
    if (!old) return { kind: 'ignored', account, reason: `update for unknown stream '${account} > ${sa.config.name}'` };
    const previous = old.sa;
    old.sa = sa;
    return { kind: 'stream_updated', account, sa, previous };
  }

  /** removeStreamOp: drop the assignment and its consumers. */
  removeStream(sa: StreamAssignment): MetaChange {
    const account = assignmentAccount(sa);
    const m = this.accounts.get(account);
    const old = m?.get(sa.config.name);
    if (!m || !old) return { kind: 'ignored', account, reason: `remove of unknown stream '${account} > ${sa.config.name}'` };
    m.delete(sa.config.name);
    if (m.size === 0) this.accounts.delete(account);
    return { kind: 'stream_removed', account, sa: old.sa, consumers: [...old.consumers.values()] };
  }

  /** assignConsumerOp / assignCompressedConsumerOp: record under its stream; unknown stream is ignored. */
  assignConsumer(ca: ConsumerAssignment): MetaChange {
    const account = assignmentAccount(ca);
    const e = this.accounts.get(account)?.get(ca.stream);
    if (!e) return { kind: 'ignored', account, reason: `consumer '${ca.name}' for unknown stream '${account} > ${ca.stream}'` };
    const previous = e.consumers.get(ca.name);
    e.consumers.set(ca.name, ca);
    return previous ? { kind: 'consumer_assigned', account, ca, previous } : { kind: 'consumer_assigned', account, ca };
  }

  /**
   * removeConsumerOp: drop the consumer only if it is the same one (same group name), so a
   * stale remove cannot delete a consumer recreated under the same name.
   */
  removeConsumer(ca: ConsumerAssignment): MetaChange {
    const account = assignmentAccount(ca);
    const e = this.accounts.get(account)?.get(ca.stream);
    const old = e?.consumers.get(ca.name);
    if (!e || !old) return { kind: 'ignored', account, reason: `remove of unknown consumer '${account} > ${ca.stream} > ${ca.name}'` };
    if (old.group.name !== ca.group.name) {
      return { kind: 'ignored', account, reason: `remove of consumer '${ca.name}' with group ${ca.group.name}, current is ${old.group.name}` };
    }
    e.consumers.delete(ca.name);
    return { kind: 'consumer_removed', account, ca: old };
  }

  // ---- snapshots ----

  /** The whole state, sorted by account then stream name (deterministic snapshots). */
  snapshot(): StreamAssignmentWithConsumers[] {
    const out: StreamAssignmentWithConsumers[] = [];
    for (const acc of this.accountNames()) {
      for (const sa of this.streams(acc)) out.push({ ...sa, consumers: this.consumers(acc, sa.config.name) });
    }
    return out;
  }

  encodeSnapshot(): Buffer {
    return encodeMetaSnapshot(this.snapshot());
  }

  static fromSnapshot(list: StreamAssignmentWithConsumers[]): MetaState {
    const st = new MetaState();
    for (const s of list) {
      const { consumers, ...sa } = s;
      st.assignStream(sa);
      const e = st.accounts.get(assignmentAccount(sa))!.get(sa.config.name)!;
      e.consumers = new Map(consumers.map((c) => [c.name, c]));
    }
    return st;
  }

  static decodeSnapshot(buf: Uint8Array): MetaState {
    return MetaState.fromSnapshot(decodeMetaSnapshot(buf));
  }

  /**
   * Bring this state to the snapshot's (outside recovery): returns the diff the caller acts on
   * (delete, create, update local assets), after applying it to the map.
   */
  applySnapshot(list: StreamAssignmentWithConsumers[]): MetaSnapshotDiff {
    const d = diff(this, list);
    for (const sa of d.removeStreams) this.removeStream(sa);
    for (const sa of d.addStreams) this.assignStream(sa);
    for (const sa of d.updateStreams) this.updateStream(sa);
    for (const ca of d.removeConsumers) {
      this.accounts.get(assignmentAccount(ca))?.get(ca.stream)?.consumers.delete(ca.name);
    }
    for (const ca of d.addConsumers) this.assignConsumer(ca);
    return d;
  }

  /**
   * End of recovery: apply the staged updates in nats-server's order (consumer removals,
   * stream removals, stream adds, stream updates, consumer adds/updates). Returns the changes.
   */
  applyRecovery(ru: RecoveryUpdates): MetaChange[] {
    const out: MetaChange[] = [];
    for (const ca of ru.removeConsumers()) out.push(this.removeConsumer(ca));
    for (const sa of ru.removeStreams()) out.push(this.removeStream(sa));
    for (const sa of ru.addStreams()) out.push(this.assignStream(sa));
    for (const sa of ru.updateStreams()) out.push(this.updateStream(sa));
    for (const ca of ru.updateConsumers()) out.push(this.assignConsumer(ca));
    return out;
  }
}

/**
 * applyMetaSnapshot's diff of `current` against a snapshot (jetstream-cluster.md §2.2):
 * removed streams, recreated streams (removed then added), kept streams (updated), and for
 * kept streams the consumers to remove (gone or recreated) and to add or update.
 */
export function diff(current: MetaState, snapshot: StreamAssignmentWithConsumers[]): MetaSnapshotDiff {
  const next = new Map<string, StreamAssignmentWithConsumers>();
  for (const s of snapshot) next.set(streamKey(assignmentAccount(s), s.config.name), s);
  const d: MetaSnapshotDiff = { removeStreams: [], addStreams: [], updateStreams: [], removeConsumers: [], addConsumers: [] };
  const strip = (s: StreamAssignmentWithConsumers): StreamAssignment => {
    const { consumers: _consumers, ...sa } = s;
    return sa;
  };
  const kept: StreamAssignmentWithConsumers[] = [];
  for (const acc of current.accountNames()) {
    for (const sa of current.streams(acc)) {
      const nsa = next.get(streamKey(acc, sa.config.name));
      if (!nsa) {
        d.removeStreams.push(sa);
      } else if (recreated(nsa, sa)) {
        d.removeStreams.push(sa);
        d.addStreams.push(strip(nsa));
        d.addConsumers.push(...nsa.consumers);
      } else {
        d.updateStreams.push(strip(nsa));
        kept.push(nsa);
      }
    }
  }
  for (const s of snapshot) {
    const acc = assignmentAccount(s);
    if (!current.stream(acc, s.config.name)) {
      d.addStreams.push(strip(s));
      d.addConsumers.push(...s.consumers);
    }
  }
  for (const nsa of kept) {
    const acc = assignmentAccount(nsa);
    const byName = new Map(nsa.consumers.map((c) => [c.name, c]));
    for (const ca of current.consumers(acc, nsa.config.name)) {
      const nca = byName.get(ca.name);
      if (!nca || recreated(nca, ca)) d.removeConsumers.push(ca);
    }
    d.addConsumers.push(...nsa.consumers);
  }
  return d;
}

/**
 * Stream and consumer operations collected while the meta log is replayed at startup, applied
 * once at the end (nats-server's recoveryUpdates). Later operations supersede earlier ones
 * for the same key, so a stream created and deleted during the replayed history is never
 * created locally.
 */
export class RecoveryUpdates {
  private readonly rmStreams = new Map<string, StreamAssignment>();
  private readonly addStreamsM = new Map<string, StreamAssignment>();
  private readonly updStreams = new Map<string, StreamAssignment>();
  private readonly rmConsumers = new Map<string, Map<string, ConsumerAssignment>>();
  private readonly updConsumers = new Map<string, Map<string, ConsumerAssignment>>();

  /** Stage a decoded meta entry. */
  stage(e: DecodedMetaEntry): void {
    switch (e.op) {
      case EntryOp.assignStreamOp: this.addStream(e.stream!); break;
      case EntryOp.updateStreamOp: this.updateStream(e.stream!); break;
      case EntryOp.removeStreamOp: this.removeStream(e.stream!); break;
      case EntryOp.assignConsumerOp:
      case EntryOp.assignCompressedConsumerOp: this.addOrUpdateConsumer(e.consumer!); break;
      case EntryOp.removeConsumerOp: this.removeConsumer(e.consumer!); break;
    }
  }

  removeStream(sa: StreamAssignment): void {
    const key = streamKey(assignmentAccount(sa), sa.config.name);
    this.rmStreams.set(key, sa);
    this.addStreamsM.delete(key);
    this.updStreams.delete(key);
    this.updConsumers.delete(key);
    this.rmConsumers.delete(key);
  }

  addStream(sa: StreamAssignment): void {
    const key = streamKey(assignmentAccount(sa), sa.config.name);
    this.addStreamsM.set(key, sa);
    this.updStreams.delete(key); // a fresh add supersedes an earlier staged update
  }

  updateStream(sa: StreamAssignment): void {
    this.updStreams.set(streamKey(assignmentAccount(sa), sa.config.name), sa);
  }

  removeConsumer(ca: ConsumerAssignment): void {
    const skey = streamKey(assignmentAccount(ca), ca.stream);
    let m = this.rmConsumers.get(skey);
    if (!m) {
      m = new Map();
      this.rmConsumers.set(skey, m);
    }
    m.set(ca.name, ca);
    this.updConsumers.get(skey)?.delete(ca.name);
  }

  addOrUpdateConsumer(ca: ConsumerAssignment): void {
    const skey = streamKey(assignmentAccount(ca), ca.stream);
    let m = this.updConsumers.get(skey);
    if (!m) {
      m = new Map();
      this.updConsumers.set(skey, m);
    }
    m.set(ca.name, ca);
  }

  /**
   * A snapshot was applied during recovery: drop staged operations for streams and consumers
   * the snapshot does not contain, so deleted assets are not revived.
   */
  reconcileWithSnapshot(snapshot: StreamAssignmentWithConsumers[]): void {
    const streams = new Map<string, StreamAssignmentWithConsumers>();
    for (const s of snapshot) streams.set(streamKey(assignmentAccount(s), s.config.name), s);
    for (const [key] of this.addStreamsM) {
      if (!streams.has(key)) {
        this.addStreamsM.delete(key);
        this.updStreams.delete(key);
        this.updConsumers.delete(key);
        this.rmConsumers.delete(key);
      }
    }
    for (const [key] of this.updStreams) {
      if (!streams.has(key)) {
        this.updStreams.delete(key);
        this.updConsumers.delete(key);
        this.rmConsumers.delete(key);
      }
    }
    for (const [skey, m] of this.updConsumers) {
      const s = streams.get(skey);
      for (const name of [...m.keys()]) if (!s || !s.consumers.some((c) => c.name === name)) m.delete(name);
      if (m.size === 0) this.updConsumers.delete(skey);
    }
  }

  /**
   * Stage a snapshot applied during recovery: reconcile, then stage its diff against the
   * state as it stands (removes, adds with consumers, updates, consumer deltas).
   */
  stageSnapshot(current: MetaState, snapshot: StreamAssignmentWithConsumers[]): MetaSnapshotDiff {
    const d = diff(current, snapshot);
    this.reconcileWithSnapshot(snapshot);
    for (const sa of d.removeStreams) this.removeStream(sa);
    for (const sa of d.addStreams) this.addStream(sa);
    for (const sa of d.updateStreams) this.updateStream(sa);
    for (const ca of d.removeConsumers) this.removeConsumer(ca);
    for (const ca of d.addConsumers) this.addOrUpdateConsumer(ca);
    return d;
  }

  get empty(): boolean {
    return this.rmStreams.size === 0 && this.addStreamsM.size === 0 && this.updStreams.size === 0 &&
      this.rmConsumers.size === 0 && this.updConsumers.size === 0;
  }

  removeStreams(): StreamAssignment[] {
    return [...this.rmStreams.values()];
  }
  addStreams(): StreamAssignment[] {
    return [...this.addStreamsM.values()];
  }
  updateStreams(): StreamAssignment[] {
    return [...this.updStreams.values()];
  }
  removeConsumers(): ConsumerAssignment[] {
    return [...this.rmConsumers.values()].flatMap((m) => [...m.values()]);
  }
  updateConsumers(): ConsumerAssignment[] {
    return [...this.updConsumers.values()].flatMap((m) => [...m.values()]);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
