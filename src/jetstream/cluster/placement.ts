// Placement of stream and consumer groups (jetstream-cluster.md §3; nats-server's
// selectPeerGroup, createGroupForStream, createGroupForConsumer, raftGroup.setPreferred).
//
// Pure: the caller passes what the meta leader knows about every meta peer (cluster, tags,
// online, limits and usage from statsz) and the current assignments; randomness comes from an
// injectable source so tests are deterministic.

import { ApiError, jsErr, jsErrText } from '../api/errors.js';
import type { StorageType } from '../api/types.js';
import type { ConsumerConfig } from '../consumer/config.js';
import { groupName as raftGroupName, peerIdForServerName, randomToken } from '../../raft/subjects.js';
import type { ClientInfo, RaftGroup, StreamAssignment } from './meta-codec.js';

export { peerIdForServerName };

/** Uniform random source in [0, 1). */
export type Rand = () => number;

/** The server tag that keeps a server out of all placements. */
export const EXCLUDE_PLACEMENT_TAG = '!jetstream';

/** What the meta leader knows about one meta peer. */
export interface PlacementPeer {
  /** 8-char peer id (peerIdForServerName of the server name). */
  id: string;
  /** Server name (for messages). */
  name: string;
  cluster: string;
  tags: string[];
  /** Currently unreachable (was seen before). */
  offline: boolean;
  /**
   * Limits and usage are known (nats-server: a statsz with JetStream config and stats has been
   * received). Peers without them are not placed on.
   */
  stats?: {
    /** Configured limits in bytes (resolved, > 0). */
    maxMemory: number;
    maxStore: number;
    usedMemory: number;
    reservedMemory: number;
    usedStore: number;
    reservedStore: number;
    /** HA assets the server reports (counts the meta group itself). */
    haAssets: number;
  };
}

/** The parts of a stream config placement reads. */
export interface PlacementStreamConfig {
  num_replicas: number;
  storage: StorageType;
  max_bytes: number;
  placement?: { cluster?: string; tags?: string[]; preferred?: string };
}

/** Streams per peer and replicated (HA) streams per peer. */
export interface PeerLoad {
  streams: Map<string, number>;
  ha: Map<string, number>;
}

export interface PlacementContext {
  /** The meta group's peers (every JetStream server known to the meta layer). */
  peers: PlacementPeer[];
  /** Current stream assignments (stream and HA counts per peer); unsupported ones are skipped. Not read when `load` is given. */
  assignments: Iterable<StreamAssignment>;
  /** The counts `assignments` gives, kept up to date by the caller (the meta state), so a placement does not scan every stream. */
  load?: PeerLoad;
  /** jetstream { unique_tag }: at most one replica per value of tags with this prefix. */
  uniqueTag?: string;
  /** jetstream { limits { max_ha_assets } }; 0 / undefined = no limit. */
  maxHaAssets?: number;
  random: Rand;
}

/** Count streams and HA streams per peer over `assignments` (unsupported ones skipped). */
export function peerLoadOf(assignments: Iterable<StreamAssignment>): PeerLoad {
  const load: PeerLoad = { streams: new Map(), ha: new Map() };
  for (const sa of assignments) {
    if (sa.unsupported) continue;
    const ha = sa.group.peers.length > 1;
    for (const p of sa.group.peers) {
      load.streams.set(p, (load.streams.get(p) ?? 0) + 1);
      if (ha) load.ha.set(p, (load.ha.get(p) ?? 0) + 1);
    }
  }
  return load;
}

/** Why a placement failed: the flags nats-server's selectPeerError collects. */
export class SelectPeerError {
  offline = false;
  excludeTag = false;
  noStorage = false;
  uniqueTag = false;
  misc = false;
  noJsCluster = false;
  readonly missingTags = new Set<string>();
  readonly excludedTags = new Set<string>();

  accumulate(o: SelectPeerError): void {
    this.offline ||= o.offline;
    this.excludeTag ||= o.excludeTag;
    this.noStorage ||= o.noStorage;
    this.uniqueTag ||= o.uniqueTag;
    this.misc ||= o.misc;
    this.noJsCluster ||= o.noJsCluster;
    for (const t of o.missingTags) this.missingTags.add(t);
    for (const t of o.excludedTags) this.excludedTags.add(t);
  }

  /** nats-server's text ("no suitable peers for placement, ..."); tag lists sorted. */
  get message(): string {
    let s = 'no suitable peers for placement';
    if (this.offline) s += ', peer offline';
    if (this.excludeTag) s += ', exclude tag set';
    if (this.noStorage) s += ', insufficient storage';
    if (this.uniqueTag) s += ', server tag not unique';
    if (this.misc) s += ', miscellaneous issue';
    if (this.noJsCluster) s += ', jetstream not enabled in cluster';
    const list = (set: Set<string>): string => [...set].sort().map((t) => `'${t}'`).join(', ');
    if (this.missingTags.size) s += `, tags not matched [${list(this.missingTags)}]`;
    if (this.excludedTags.size) s += `, tags excluded [${list(this.excludedTags)}]`;
    return s;
  }

  /** The API error a stream create/update answers with: 10005 and the text above. */
  toApiError(): ApiError {
    return jsErrText('ClusterNoPeers', this.message);
  }
}

export type PeerSelection = { ok: true; peers: string[] } | { ok: false; error: SelectPeerError };

/** Go's rand.Shuffle (Fisher-Yates from the end). */
function shuffle<T>(list: T[], random: Rand): void {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
}

/**
 * Choose `r` peers in `cluster` for a stream group. `existing` peers are kept (first), peers
 * in `ignore` are never chosen; the first `replaceFirstExisting` existing peers do not claim
 * their unique tag (they are being replaced).
 */
export function selectPeerGroup(
  r: number, cluster: string, cfg: PlacementStreamConfig, ctx: PlacementContext,
  existing: string[] = [], replaceFirstExisting = 0, ignore: string[] = [],
): PeerSelection {
  const fail = (e: SelectPeerError): PeerSelection => ({ ok: false, error: e });
  if (!cluster) {
    const e = new SelectPeerError();
    e.misc = true;
    return fail(e);
  }
  const maxBytes = cfg.max_bytes > 0 ? cfg.max_bytes : 0;
  const tags = (cfg.placement?.tags ?? []).map((t) => ({ tag: t.startsWith('!') ? t.slice(1) : t, exclude: t.startsWith('!') }));

  let uniquePrefix = ctx.uniqueTag ?? '';
  if (uniquePrefix && tags.some((t) => t.tag.startsWith(uniquePrefix))) uniquePrefix = ''; // listed explicitly: no uniqueness
  const uniqueOwners = new Map<string, PlacementPeer>();
  /** Claim the peer's unique-tag value; false (and the owner) if taken or the peer has none. */
  const claimUnique = (p: PlacementPeer): { ok: boolean; owner?: PlacementPeer } => {
    for (const t of p.tags) {
      if (!t.startsWith(uniquePrefix)) continue;
      const owner = uniqueOwners.get(t);
      if (!owner) {
        uniqueOwners.set(t, p);
        return { ok: true };
      }
      return { ok: false, owner };
    }
    return { ok: false };
  };

  const byId = new Map(ctx.peers.map((p) => [p.id, p]));
  if (existing.length >= r) return { ok: true, peers: existing.slice(0, r) };
  const existingSet = new Set(existing);
  if (uniquePrefix) {
    existing.forEach((id, i) => {
      const p = byId.get(id);
      if (p && i >= replaceFirstExisting) claimUnique(p); // already members: collect, do not require
    });
  }
  const ignored = new Set(ignore);

  const { streams: streamsOn, ha: haOn } = ctx.load ?? peerLoadOf(ctx.assignments);

  const err = new SelectPeerError();
  interface Candidate { id: string; avail: number; off: boolean; ha: number; ns: number }
  const nodes: Candidate[] = [];
  let online = 0;
  const peers = [...ctx.peers];
  shuffle(peers, ctx.random);
  for (const p of peers) {
    if (p.cluster !== cluster) continue;
    if (!p.stats) {
      err.offline = true; // never heard from: nothing known to place on
      continue;
    }
    if (ignored.has(p.id) || existingSet.has(p.id)) continue;
    if (p.tags.includes(EXCLUDE_PLACEMENT_TAG)) {
      err.excludeTag = true;
      continue;
    }
    let matched = true;
    for (const t of tags) {
      const has = p.tags.includes(t.tag);
      if (t.exclude && has) {
        err.excludedTags.add(t.tag);
        matched = false;
        break;
      }
      if (!t.exclude && !has) {
        err.missingTags.add(t.tag);
        matched = false;
        break;
      }
    }
    if (!matched) continue;
    const s = p.stats;
    const used = cfg.storage === 'memory' ? Math.max(s.usedMemory, s.reservedMemory) : Math.max(s.usedStore, s.reservedStore);
    const max = cfg.storage === 'memory' ? s.maxMemory : s.maxStore;
    const avail = max > used ? max - used : 0;
    if (maxBytes > 0 && maxBytes > avail) {
      err.noStorage = true;
      continue;
    }
    // The reported count includes the meta group, hence ">" rather than ">=".
    if (ctx.maxHaAssets && ctx.maxHaAssets > 0 && s.haAssets > ctx.maxHaAssets) {
      err.misc = true;
      continue;
    }
    if (uniquePrefix && !claimUnique(p).ok) {
      err.uniqueTag = true;
      continue;
    }
    nodes.push({ id: p.id, avail, off: p.offline, ha: haOn.get(p.id) ?? 0, ns: streamsOn.get(p.id) ?? 0 });
    if (!p.offline) online++;
  }

  const quorum = Math.floor(r / 2) + 1;
  const missingQuorum = online + existing.length < quorum;
  const missingNodes = nodes.length < r - existing.length;
  if (missingNodes || missingQuorum) {
    if (ctx.peers.length === 0) err.noJsCluster = true;
    else if (!missingNodes && missingQuorum) err.offline = true;
    return fail(err);
  }
  // Online first, then most available space, then fewest streams.
  nodes.sort((a, b) => {
    if (a.off !== b.off) return a.off ? 1 : -1;
    if (a.avail === b.avail) return a.ns - b.ns;
    return b.avail - a.avail;
  });
  // Replicated streams: balance HA assets first (stable, keeps the order above for ties).
  if (cfg.num_replicas > 1) {
    nodes.sort((a, b) => {
      if (a.off !== b.off) return a.off ? 1 : -1;
      return a.ha - b.ha;
    });
  }
  return { ok: true, peers: [...existing, ...nodes.slice(0, r - existing.length).map((n) => n.id)] };
}

/** `S-R3F-xxxxxxxx` / `C-R1M-xxxxxxxx` (raft.md §1): the hash of a fresh random unique name. */
export function groupName(kind: 'S' | 'C', replicas: number, storage: StorageType, random: Rand): string {
  const unique = randomToken(random) + randomToken(random) + randomToken(random);
  return raftGroupName(kind, replicas, storage === 'memory' ? 'M' : 'F', unique);
}

/** `$JSC.SYNC.<8 base62>`: a stream's catchup subject. */
export function syncSubject(random: Rand): string {
  return `$JSC.SYNC.${randomToken(random)}`;
}

/**
 * Preferred leader of a new group: the only peer, else a random online peer, else (none
 * online) a random peer. That peer campaigns as soon as it creates the group.
 */
export function choosePreferred(peers: string[], isOnline: (peer: string) => boolean, random: Rand): string | undefined {
  if (peers.length === 0) return undefined;
  if (peers.length === 1) return peers[0];
  const online = peers.filter(isOnline);
  const from = online.length > 0 ? online : peers;
  return from[Math.floor(random() * from.length)];
}

export function setPreferred(group: RaftGroup, isOnline: (peer: string) => boolean, random: Rand): void {
  const p = choosePreferred(group.peers, isOnline, random);
  if (p) group.preferred = p;
}

export type GroupResult = { ok: true; group: RaftGroup } | { ok: false; error: ApiError };

/**
 * Place a new stream: the placement cluster if given, else the requester's cluster and then
 * its alternates; the first cluster that can hold it wins. Failure is 10005 with every
 * cluster's reasons combined. The group gets a name, storage, cluster and preferred leader.
 */
export function createGroupForStream(
  client: Pick<ClientInfo, 'cluster' | 'alts'>, cfg: PlacementStreamConfig, ctx: PlacementContext,
): GroupResult {
  const replicas = cfg.num_replicas || 1;
  const pinned = cfg.placement?.cluster;
  const clusters = pinned ? [pinned] : [client.cluster ?? '', ...(client.alts ?? [])];
  const errs = new SelectPeerError();
  for (const cn of clusters) {
    const sel = selectPeerGroup(replicas, cn, cfg, ctx);
    if (!sel.ok) {
      errs.accumulate(sel.error);
      continue;
    }
    const group: RaftGroup = { name: groupName('S', sel.peers.length, cfg.storage, ctx.random), peers: sel.peers, store: cfg.storage, cluster: cn };
    setPreferred(group, onlineCheck(ctx), ctx.random);
    return { ok: true, group };
  }
  return { ok: false, error: errs.toApiError() };
}

/** How many peers a consumer's group has for `cfg` (nats-server 2.9.10 ConsumerConfig.replicas). */
export function consumerReplicaCount(cfg: Pick<ConsumerConfig, 'num_replicas' | 'durable_name'>, streamReplicas: number, retention: string): number {
  if (cfg.num_replicas > 0) return cfg.num_replicas;
  return !cfg.durable_name && retention === 'limits' ? 1 : streamReplicas;
}

/** What a consumer's placement reads from its stream's assignment. */
export interface ConsumerPlacementStream {
  group: Pick<RaftGroup, 'peers' | 'cluster'>;
  config: { retention: string; storage: StorageType };
}

/**
 * Place a new consumer (nats-server 2.9.10 jsClusteredConsumerRequest with createGroupForConsumer
 * and setPreferred): the stream's peers, or a random subset of them when the config asks for
 * another replica count; a random preferred leader among them, which campaigns as soon as it
 * creates the group. Ephemerals on a limits stream without more than one replica asked for run
 * on the preferred peer alone. The group inherits the stream group's cluster. Where 2.9.10 drew
 * the subset and the preferred peer from all peers, offline ones are passed over while online
 * ones remain (as later nats-server releases do): an R1 ephemeral placed on a server that is
 * down would never answer. Nothing is refused for peers being offline: 2.9.10 proposes the
 * assignment and answers once the group elects a leader. Failure (no stream peers, more
 * replicas than the stream has) is 10023 insufficient resources.
 */
export function createGroupForConsumer(
  cfg: Pick<ConsumerConfig, 'num_replicas' | 'durable_name' | 'mem_storage'>, stream: ConsumerPlacementStream, ctx: Pick<PlacementContext, 'peers' | 'random'>,
): GroupResult {
  const streamPeers = stream.group.peers;
  if (streamPeers.length === 0 || cfg.num_replicas > streamPeers.length) return { ok: false, error: jsErr('InsufficientResources') };
  const isOnline = onlineCheck(ctx);
  let peers = [...streamPeers];
  if (cfg.num_replicas > 0 && cfg.num_replicas !== streamPeers.length) {
    const online = streamPeers.filter(isOnline);
    const pool = online.length >= cfg.num_replicas ? online : [...streamPeers];
    shuffle(pool, ctx.random);
    peers = pool.slice(0, cfg.num_replicas);
  }
  const store: StorageType = cfg.mem_storage ? 'memory' : stream.config.storage;
  const group: RaftGroup = { name: groupName('C', peers.length, store, ctx.random), peers, store };
  if (stream.group.cluster) group.cluster = stream.group.cluster;
  setPreferred(group, isOnline, ctx.random);
  if (!cfg.durable_name && stream.config.retention === 'limits' && cfg.num_replicas <= 1 && group.preferred !== undefined) {
    group.peers = [group.preferred];
    group.name = groupName('C', 1, store, ctx.random);
  }
  return { ok: true, group };
}

/** Known (statsz seen) and not offline. Unknown peer ids count as offline. */
function onlineCheck(ctx: Pick<PlacementContext, 'peers'>): (peer: string) => boolean {
  const byId = new Map(ctx.peers.map((p) => [p.id, p]));
  return (id) => {
    const p = byId.get(id);
    return p !== undefined && !p.offline;
  };
}

export type StepDownChoice = { ok: true; preferred: string } | { ok: false; error: ApiError };

/**
 * Leader stepdown with a placement (META / STREAM / CONSUMER .LEADER.STEPDOWN, nats-server's
 * getStepDownPreferredPlacement). A named `preferred` server wins (it must be a member and not
 * the current leader); otherwise a random online member other than the leader that is in
 * `placement.cluster` (if given) and has every tag in `placement.tags`. No placement: ''
 * (any peer may take over). Errors are 10005 with nats-server's texts.
 */
export function stepDownPreferredPeer(
  groupPeers: string[], leaderId: string, placement: { cluster?: string; tags?: string[]; preferred?: string } | undefined,
  peers: PlacementPeer[], random: Rand,
): StepDownChoice {
  if (!placement) return { ok: true, preferred: '' };
  const byId = new Map(peers.map((p) => [p.id, p]));
  if (placement.preferred) {
    const id = groupPeers.find((p) => byId.get(p)?.name === placement.preferred);
    if (id !== undefined && id === leaderId) {
      return { ok: false, error: jsErrText('ClusterNoPeers', `preferred server "${placement.preferred}" is already leader`) };
    }
    if (id === undefined) return { ok: false, error: jsErrText('ClusterNoPeers', `preferred server "${placement.preferred}" not known`) };
    return { ok: true, preferred: id };
  }
  const candidates = groupPeers.filter((id) => {
    const p = byId.get(id);
    if (!p || p.offline || id === leaderId) return false;
    if (placement.cluster && p.cluster !== placement.cluster) return false;
    return (placement.tags ?? []).every((t) => p.tags.includes(t));
  });
  if (candidates.length === 0) return { ok: false, error: jsErrText('ClusterNoPeers', 'no replacement peer connected') };
  return { ok: true, preferred: candidates[Math.floor(random() * candidates.length)]! };
}
