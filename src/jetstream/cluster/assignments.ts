// The meta group's replicated state as the clustered JetStream layer runs on it: accounts ->
// stream assignments -> consumer assignments, with the configs kept as the JSON objects the
// API handlers take. The one owner of the meta assignment state: every server applies the
// committed `_meta_` entries here (apply(), nats-server's processStreamAssignment /
// processUpdateStreamAssignment / processStreamRemoval / processConsumerAssignment /
// processConsumerRemoval, map part) and installs snapshots here (applySnapshot(),
// applyMetaSnapshot's diff); js-cluster.ts acts on what each call reports changed.
// The bytes in the log and in snapshots are nats-server's, produced and read by
// meta-codec.ts / meta-snapshot.ts (S2); this module converts between the two forms.
// Decoding never throws on bad input: it returns an error string so the caller can log and
// skip the entry.

import { goJson } from '../api/json.js';
import {
  decodeMetaEntry as decodeLibEntry, encodeMetaEntry as encodeLibEntry,
  type ClientInfo, type ConsumerAssignment as LibConsumer, type StreamAssignment as LibStream,
  type StreamAssignmentWithConsumers,
} from './meta-codec.js';
import { decodeMetaSnapshot, encodeMetaSnapshot } from './meta-snapshot.js';
import type { MetaOp as LibMetaOp } from './ops.js';
import type { PeerLoad } from './placement.js';
import { SubjectTrie } from '../subject-trie.js';

export const MetaOp = {
  assignStream: 0,
  assignConsumer: 1,
  removeStream: 2,
  removeConsumer: 3,
  assignCompressedConsumer: 9,
  updateStream: 11,
} as const;

export interface RaftGroupJson {
  name: string;
  peers: string[];
  store: 'file' | 'memory';
  cluster?: string;
  preferred?: string;
}

export interface ClientInfoJson {
  acc?: string;
  svc?: string;
  cluster?: string;
  server?: string;
  [k: string]: unknown;
}

export interface StreamAssignment {
  client: ClientInfoJson;
  created: string;
  stream: Record<string, unknown> & { name: string };
  group: RaftGroupJson;
  sync: string;
  subject: string;
  reply: string;
  restore_state?: unknown;
}

export interface ConsumerAssignment {
  client: ClientInfoJson;
  created: string;
  name: string;
  stream: string;
  consumer: Record<string, unknown>;
  group: RaftGroupJson;
  subject: string;
  reply: string;
  state?: unknown;
}

/** A stream assignment with its consumers, as held in the meta state. */
export interface StreamEntry {
  sa: StreamAssignment;
  consumers: Map<string, ConsumerAssignment>;
}

export type DecodedEntry =
  | { op: typeof MetaOp.assignStream | typeof MetaOp.updateStream | typeof MetaOp.removeStream; sa: StreamAssignment }
  | { op: typeof MetaOp.assignConsumer | typeof MetaOp.removeConsumer; ca: ConsumerAssignment };

/** The owning account of an assignment: `svc` when set, else `acc` (nats-server). */
export function accountOf(client: ClientInfoJson | undefined): string {
  return (client?.svc || client?.acc || '') as string;
}

function toLibStream(sa: StreamAssignment, withRequest: boolean): LibStream {
  const out: LibStream = {
    client: sa.client as ClientInfo, created: sa.created, config: undefined as unknown as LibStream['config'],
    configJson: goJson(sa.stream), group: sa.group, sync: sa.sync,
  };
  if (withRequest) {
    out.subject = sa.subject;
    out.reply = sa.reply;
  }
  if (sa.restore_state !== undefined) out.restoreStateJson = goJson(sa.restore_state);
  return out;
}

function toLibConsumer(ca: ConsumerAssignment, withRequest: boolean): LibConsumer {
  const out: LibConsumer = {
    client: ca.client as ClientInfo, created: ca.created, name: ca.name, stream: ca.stream,
    config: undefined as unknown as LibConsumer['config'], configJson: goJson(ca.consumer), group: ca.group,
  };
  if (withRequest) {
    out.subject = ca.subject;
    out.reply = ca.reply;
  }
  if (ca.state !== undefined) out.stateJson = goJson(ca.state);
  return out;
}

function fromLibStream(l: LibStream): StreamAssignment {
  const sa: StreamAssignment = {
    client: (l.client ?? {}) as ClientInfoJson, created: l.created,
    stream: JSON.parse(l.configJson) as StreamAssignment['stream'], group: l.group as RaftGroupJson, sync: l.sync,
    subject: l.subject ?? '', reply: l.reply ?? '',
  };
  if (l.restoreStateJson !== undefined) sa.restore_state = JSON.parse(l.restoreStateJson) as unknown;
  return sa;
}

function fromLibConsumer(l: LibConsumer): ConsumerAssignment {
  const ca: ConsumerAssignment = {
    client: (l.client ?? {}) as ClientInfoJson, created: l.created, name: l.name, stream: l.stream,
    consumer: JSON.parse(l.configJson) as Record<string, unknown>, group: l.group as RaftGroupJson,
    subject: l.subject ?? '', reply: l.reply ?? '',
  };
  if (l.stateJson !== undefined) ca.state = JSON.parse(l.stateJson) as unknown;
  return ca;
}

/** nats-server's bytes for a stream op (op byte + Go-encoded JSON, `\n` after assignments). */
export function encodeStreamEntry(op: number, sa: StreamAssignment): Buffer {
  return encodeLibEntry(op as LibMetaOp, toLibStream(sa, true));
}

export function encodeConsumerEntry(op: number, ca: ConsumerAssignment): Buffer {
  return encodeLibEntry(op as LibMetaOp, toLibConsumer(ca, true));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkGroup(g: unknown): string | undefined {
  if (!isObj(g)) return 'missing group';
  if (typeof g.name !== 'string' || !Array.isArray(g.peers) || !g.peers.every((p) => typeof p === 'string')) return 'bad group';
  return undefined;
}

function checkStream(v: unknown): string | undefined {
  if (!isObj(v)) return 'not an object';
  if (!isObj(v.stream) || typeof v.stream.name !== 'string' || v.stream.name === '') return 'missing stream config';
  if (!isObj(v.client) || accountOf(v.client as ClientInfoJson) === '') return 'missing client account';
  return checkGroup(v.group);
}

function checkConsumer(v: unknown): string | undefined {
  if (!isObj(v)) return 'not an object';
  if (typeof v.name !== 'string' || v.name === '' || typeof v.stream !== 'string' || v.stream === '') return 'missing names';
  if (!isObj(v.consumer)) return 'missing consumer config';
  if (!isObj(v.client) || accountOf(v.client as ClientInfoJson) === '') return 'missing client account';
  return checkGroup(v.group);
}

/** Decode one EntryNormal payload of the meta group, or say why it is unusable. */
export function decodeMetaEntry(data: Uint8Array): DecodedEntry | { error: string } {
  let d;
  try {
    d = decodeLibEntry(data);
  } catch (e) {
    return { error: (e as Error).message };
  }
  const op = d.op as number;
  try {
    if (d.stream) {
      const v = fromLibStream(d.stream);
      const err = checkStream(v);
      return err ? { error: `op ${op}: ${err}` } : { op: op as 0 | 2 | 11, sa: v };
    }
    if (d.consumer) {
      const v = fromLibConsumer(d.consumer);
      const err = checkConsumer(v);
      // The compressed form (op 9) is an ordinary consumer assignment once decoded.
      return err ? { error: `op ${op}: ${err}` } : { op: op === MetaOp.assignCompressedConsumer ? MetaOp.assignConsumer : op as 1 | 3, ca: v };
    }
  } catch (e) {
    return { error: `op ${op}: ${(e as Error).message}` };
  }
  return { error: `op ${op}: no assignment` };
}

/** What applying one meta entry changed (MetaAssignments.apply). */
export type MetaChange =
  /** A new stream, or a re-assignment of an assigned name (`replaced`; its consumers stay). */
  | { kind: 'stream_assigned'; account: string; entry: StreamEntry; replaced: boolean }
  | { kind: 'stream_updated'; account: string; entry: StreamEntry }
  /** `removed` is undefined when the name was not assigned (a local copy may still need removing). */
  | { kind: 'stream_removed'; account: string; sa: StreamAssignment; removed: StreamEntry | undefined }
  | { kind: 'consumer_assigned'; account: string; ca: ConsumerAssignment }
  /** Also reported when the consumer was not assigned (a local copy may still need removing). */
  | { kind: 'consumer_removed'; account: string; ca: ConsumerAssignment }
  /** The map is unchanged: update of an unknown stream, consumer of an unknown stream, stale removal. */
  | { kind: 'ignored'; account: string; reason: string };

/** What installing a snapshot removed (MetaAssignments.applySnapshot); adds and updates are reconciled from the new state. */
export interface MetaSnapshotDiff {
  /** Streams the snapshot no longer has, or has recreated (same name, different created time and group). */
  removedStreams: Array<[string, StreamEntry]>;
  /** Consumers of streams kept by the snapshot that it no longer has, or has recreated. */
  removedConsumers: ConsumerAssignment[];
}

/** Deleted and created again under the same name? (different created time and group, as nats-server tells them apart) */
function recreated(a: { created: string; group: { name: string } }, b: { created: string; group: { name: string } }): boolean {
  return a.created !== b.created && a.group.name !== b.group.name;
}

/**
 * A stream runs as a raft group when its config asks for more than one replica, whatever the
 * number of peers it has now: an R3 stream left on one server (peers removed with nothing to
 * replace them) is a raft group of one, as in nats-server, not a plain local stream. Only a
 * stream configured R1 (created so, or scaled down) is served as a local stream by its holder.
 */
export function isReplicated(sa: { stream: Record<string, unknown>; group: { peers: string[] } }): boolean {
  return (Number(sa.stream.num_replicas ?? 1) || 1) > 1 || sa.group.peers.length > 1;
}

function subjectsOf(sa: StreamAssignment): string[] {
  return (sa.stream.subjects as string[] | undefined) ?? [];
}

/** The whole assignment map (one per server, identical everywhere once applied). */
export class MetaAssignments {
  readonly accounts = new Map<string, Map<string, StreamEntry>>();
  // Derived from `accounts` so that the meta leader's per-create checks do not scan every stream:
  // per account, a trie of its streams' subjects (the overlap check; insert-only, so dropped when
  // a stream is removed or replaced and rebuilt at the next check), and how many streams each
  // peer carries (placement) and how many replicated streams (a server's announced HA assets),
  // kept in step by setStream / removeStream, the only writers.
  private readonly subjectTries = new Map<string, SubjectTrie>();
  private readonly load: PeerLoad = { streams: new Map(), ha: new Map() };
  private readonly replicated = new Map<string, number>();

  stream(account: string, name: string): StreamEntry | undefined {
    return this.accounts.get(account)?.get(name);
  }

  streamCount(account: string): number {
    return this.accounts.get(account)?.size ?? 0;
  }

  streamsOf(account: string): StreamEntry[] {
    return [...(this.accounts.get(account)?.values() ?? [])];
  }

  *all(): Generator<[string, StreamEntry]> {
    for (const [acc, m] of this.accounts) for (const e of m.values()) yield [acc, e];
  }

  /** Record (or replace, keeping its consumers) a stream assignment. */
  setStream(sa: StreamAssignment): StreamEntry {
    const acc = accountOf(sa.client);
    let m = this.accounts.get(acc);
    if (!m) this.accounts.set(acc, (m = new Map()));
    const prev = m.get(sa.stream.name);
    if (prev) this.unindex(acc, prev.sa);
    const e: StreamEntry = { sa, consumers: prev?.consumers ?? new Map() };
    m.set(sa.stream.name, e);
    this.index(acc, sa, prev === undefined);
    return e;
  }

  /** Does `subject` overlap a subject of an assigned stream of the account? */
  subjectOverlaps(account: string, subject: string): boolean {
    let trie = this.subjectTries.get(account);
    if (!trie) {
      const m = this.accounts.get(account);
      if (!m) return false;
      trie = new SubjectTrie(Infinity); // lives as long as the state: no per-request budget
      for (const e of m.values()) for (const s of subjectsOf(e.sa)) trie.insert(s, 0);
      this.subjectTries.set(account, trie);
    }
    return trie.collides(subject);
  }

  /** Streams and streams placed on several peers (HA), per peer, for placement. */
  peerLoad(): PeerLoad {
    return this.load;
  }

  /** Replicated streams (isReplicated) that have `peer` in their group. */
  replicatedOn(peer: string): number {
    return this.replicated.get(peer) ?? 0;
  }

  private index(acc: string, sa: StreamAssignment, added: boolean): void {
    const trie = this.subjectTries.get(acc);
    if (trie && added) for (const s of subjectsOf(sa)) trie.insert(s, 0);
    else this.subjectTries.delete(acc);
    this.count(sa, 1);
  }

  private unindex(acc: string, sa: StreamAssignment): void {
    this.subjectTries.delete(acc);
    this.count(sa, -1);
  }

  private count(sa: StreamAssignment, by: 1 | -1): void {
    const ha = sa.group.peers.length > 1;
    const repl = isReplicated(sa);
    const bump = (m: Map<string, number>, p: string): void => {
      const v = (m.get(p) ?? 0) + by;
      if (v === 0) m.delete(p);
      else m.set(p, v);
    };
    for (const p of sa.group.peers) {
      bump(this.load.streams, p);
      if (ha) bump(this.load.ha, p);
      if (repl) bump(this.replicated, p);
    }
  }

  /**
   * Drop a stream assignment. With `sa`, a removal for an older incarnation of the name (a
   * different created time and group: deleted and created again) is ignored, as nats-server does.
   */
  removeStream(account: string, name: string, sa?: StreamAssignment): StreamEntry | undefined {
    const m = this.accounts.get(account);
    const e = m?.get(name);
    if (!m || !e) return undefined;
    if (sa && recreated(sa, e.sa)) return undefined;
    m.delete(name);
    this.unindex(account, e.sa);
    if (m.size === 0) this.accounts.delete(account);
    return e;
  }

  /** Returns false when the stream is not assigned (nats-server logs and ignores it). */
  setConsumer(ca: ConsumerAssignment): boolean {
    const e = this.stream(accountOf(ca.client), ca.stream);
    if (!e) return false;
    e.consumers.set(ca.name, ca);
    return true;
  }

  removeConsumer(ca: ConsumerAssignment): ConsumerAssignment | undefined {
    const e = this.stream(accountOf(ca.client), ca.stream);
    const cur = e?.consumers.get(ca.name);
    if (!e || !cur) return undefined;
    if (recreated(ca, cur)) return undefined; // a newer consumer of that name
    e.consumers.delete(ca.name);
    return cur;
  }

  clear(): void {
    this.accounts.clear();
    this.subjectTries.clear();
    this.load.streams.clear();
    this.load.ha.clear();
    this.replicated.clear();
  }

  /** Apply one decoded meta entry to the map and say what changed. */
  apply(d: DecodedEntry): MetaChange {
    switch (d.op) {
      case MetaOp.assignStream: {
        const account = accountOf(d.sa.client);
        const replaced = this.stream(account, d.sa.stream.name) !== undefined;
        return { kind: 'stream_assigned', account, entry: this.setStream(d.sa), replaced };
      }
      case MetaOp.updateStream: {
        const account = accountOf(d.sa.client);
        if (!this.stream(account, d.sa.stream.name)) return { kind: 'ignored', account, reason: `update of unknown stream '${account} > ${d.sa.stream.name}'` };
        return { kind: 'stream_updated', account, entry: this.setStream(d.sa) };
      }
      case MetaOp.removeStream: {
        const account = accountOf(d.sa.client);
        if (!this.stream(account, d.sa.stream.name)) return { kind: 'stream_removed', account, sa: d.sa, removed: undefined };
        const removed = this.removeStream(account, d.sa.stream.name, d.sa);
        if (!removed) return { kind: 'ignored', account, reason: `removal of an older incarnation of stream '${account} > ${d.sa.stream.name}'` };
        return { kind: 'stream_removed', account, sa: d.sa, removed };
      }
      case MetaOp.assignConsumer: {
        const account = accountOf(d.ca.client);
        if (!this.setConsumer(d.ca)) {
          return { kind: 'ignored', account, reason: `consumer assignment '${account} > ${d.ca.stream} > ${d.ca.name}' for an unknown stream` };
        }
        return { kind: 'consumer_assigned', account, ca: d.ca };
      }
      case MetaOp.removeConsumer: {
        const account = accountOf(d.ca.client);
        const cur = this.stream(account, d.ca.stream)?.consumers.get(d.ca.name);
        if (cur && !this.removeConsumer(d.ca)) {
          return { kind: 'ignored', account, reason: `removal of an older incarnation of consumer '${account} > ${d.ca.stream} > ${d.ca.name}'` };
        }
        return { kind: 'consumer_removed', account, ca: d.ca };
      }
    }
  }

  /**
   * Install a snapshot's state (nats-server applyMetaSnapshot): this map becomes `next`'s, and
   * the result names the streams and consumers that went away or were recreated, which the
   * caller removes locally before it reconciles what the new state assigns.
   */
  applySnapshot(next: MetaAssignments): MetaSnapshotDiff {
    const d: MetaSnapshotDiff = { removedStreams: [], removedConsumers: [] };
    for (const [acc, e] of this.all()) {
      const n = next.stream(acc, e.sa.stream.name);
      if (!n || recreated(n.sa, e.sa)) {
        d.removedStreams.push([acc, e]);
        continue;
      }
      for (const ca of e.consumers.values()) {
        const nca = n.consumers.get(ca.name);
        if (!nca || recreated(nca, ca)) d.removedConsumers.push(ca);
      }
    }
    this.clear();
    for (const [acc, m] of next.accounts) {
      this.accounts.set(acc, m);
      for (const e of m.values()) this.count(e.sa, 1);
    }
    return d;
  }

  /** nats-server's meta snapshot (S2 block of the JSON array; empty state = empty buffer). */
  toSnapshot(): Buffer {
    const list: StreamAssignmentWithConsumers[] = [];
    for (const [, e] of this.all()) {
      list.push({ ...toLibStream(e.sa, false), consumers: [...e.consumers.values()].map((c) => toLibConsumer(c, false)) });
    }
    return encodeMetaSnapshot(list);
  }

  /** Parse a snapshot into a fresh map; malformed items are reported and skipped. */
  static fromSnapshot(data: Uint8Array, warn: (m: string) => void): MetaAssignments {
    const m = new MetaAssignments();
    let list: StreamAssignmentWithConsumers[];
    try {
      list = decodeMetaSnapshot(data);
    } catch (e) {
      warn(`meta snapshot: ${(e as Error).message}`);
      throw e;
    }
    for (const item of list) {
      let sa: StreamAssignment;
      try {
        sa = fromLibStream(item);
      } catch (e) {
        warn(`meta snapshot: stream skipped: ${(e as Error).message}`);
        continue;
      }
      const err = checkStream(sa);
      if (err) {
        warn(`meta snapshot: stream skipped: ${err}`);
        continue;
      }
      m.setStream(sa);
      for (const c of item.consumers) {
        try {
          const ca = fromLibConsumer(c);
          const cerr = checkConsumer(ca);
          if (cerr) warn(`meta snapshot: consumer skipped: ${cerr}`);
          else m.setConsumer(ca);
        } catch (e) {
          warn(`meta snapshot: consumer skipped: ${(e as Error).message}`);
        }
      }
    }
    return m;
  }
}
