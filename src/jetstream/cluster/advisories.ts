// Cluster advisories and cluster info of replicated streams and consumers, as pure builders
// (jetstream-cluster.md §5.5, §6, §8). Each builder returns the subject and the exact JSON text
// nats-server would publish; the caller publishes it in the owning account (without
// `account`) and again in the system account (with `account`), as processStreamLeaderChange
// does. Key order follows nats-server's structs: TypedEvent (type, id, timestamp), account?,
// then the struct's fields. `active` is a Go time.Duration in ns and is passed through as is:
// 2.9.10 was captured sending values above 2^53, so it may be a bigint and is never rounded.

import { nuid } from '@nats-io/nuid';
import { goJson } from '../api/json.js';
import { formatRfc3339Nano, nowNs } from '../consumer/go-format.js';

export const ClusterAdvisoryType = {
  streamLeaderElected: 'io.nats.jetstream.advisory.v1.stream_leader_elected',
  streamQuorumLost: 'io.nats.jetstream.advisory.v1.stream_quorum_lost',
  consumerLeaderElected: 'io.nats.jetstream.advisory.v1.consumer_leader_elected',
  consumerQuorumLost: 'io.nats.jetstream.advisory.v1.consumer_quorum_lost',
  serverRemoved: 'io.nats.jetstream.advisory.v1.server_removed',
  serverOutOfSpace: 'io.nats.jetstream.advisory.v1.server_out_of_space',
} as const;

export const STREAM_LEADER_ELECTED_PRE = '$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED';
export const STREAM_QUORUM_LOST_PRE = '$JS.EVENT.ADVISORY.STREAM.QUORUM_LOST';
export const CONSUMER_LEADER_ELECTED_PRE = '$JS.EVENT.ADVISORY.CONSUMER.LEADER_ELECTED';
export const CONSUMER_QUORUM_LOST_PRE = '$JS.EVENT.ADVISORY.CONSUMER.QUORUM_LOST';
export const SERVER_REMOVED_SUBJECT = '$JS.EVENT.ADVISORY.SERVER.REMOVED';
export const SERVER_OUT_OF_STORAGE_SUBJECT = '$JS.EVENT.ADVISORY.SERVER.OUT_OF_STORAGE';

/** nats-server's PeerInfo. Optional fields are omitted when false / 0, as Go's omitempty. */
export interface PeerInfo {
  name: string;
  current: boolean;
  offline?: boolean;
  /** ns since last heard from (Go time.Duration). */
  active: number | bigint;
  lag?: number;
  /** 8-character raft peer id. */
  peer: string;
  pending?: boolean;
}

export interface AdvisoryMeta {
  /** Defaults to a fresh NUID. */
  id?: string;
  /** ns since the epoch; defaults to now. */
  timestampNs?: bigint;
  /** Set for the system-account copy. */
  account?: string;
  domain?: string;
}

export interface Advisory {
  subject: string;
  payload: string;
}

const str = (s: string): string => goJson(s);

function num(v: number | bigint, what: string): string {
  if (typeof v === 'bigint') return v.toString();
  if (!Number.isInteger(v)) throw new TypeError(`${what} must be an integer`);
  return String(v);
}

export function peerInfoJson(p: PeerInfo): string {
  let s = `{"name":${str(p.name)},"current":${p.current ? 'true' : 'false'}`;
  if (p.offline) s += ',"offline":true';
  s += `,"active":${num(p.active, 'active')}`;
  if (p.lag) s += `,"lag":${num(p.lag, 'lag')}`;
  s += `,"peer":${str(p.peer)}`;
  if (p.pending) s += ',"pending":true';
  return s + '}';
}

const replicasJson = (r: PeerInfo[]): string => `[${r.map(peerInfoJson).join(',')}]`;

function head(type: string, m: AdvisoryMeta): string {
  const id = m.id ?? nuid.next();
  const ts = formatRfc3339Nano(m.timestampNs ?? nowNs());
  let s = `{"type":${str(type)},"id":${str(id)},"timestamp":${str(ts)}`;
  if (m.account) s += `,"account":${str(m.account)}`;
  return s;
}

const tail = (m: AdvisoryMeta): string => (m.domain ? `,"domain":${str(m.domain)}}` : '}');

export function streamLeaderElected(stream: string, leader: string, replicas: PeerInfo[], m: AdvisoryMeta = {}): Advisory {
  return {
    subject: `${STREAM_LEADER_ELECTED_PRE}.${stream}`,
    payload: `${head(ClusterAdvisoryType.streamLeaderElected, m)},"stream":${str(stream)},"leader":${str(leader)},` +
      `"replicas":${replicasJson(replicas)}${tail(m)}`,
  };
}

export function streamQuorumLost(stream: string, replicas: PeerInfo[], m: AdvisoryMeta = {}): Advisory {
  return {
    subject: `${STREAM_QUORUM_LOST_PRE}.${stream}`,
    payload: `${head(ClusterAdvisoryType.streamQuorumLost, m)},"stream":${str(stream)},"replicas":${replicasJson(replicas)}${tail(m)}`,
  };
}

export function consumerLeaderElected(stream: string, consumer: string, leader: string, replicas: PeerInfo[], m: AdvisoryMeta = {}): Advisory {
  return {
    subject: `${CONSUMER_LEADER_ELECTED_PRE}.${stream}.${consumer}`,
    payload: `${head(ClusterAdvisoryType.consumerLeaderElected, m)},"stream":${str(stream)},"consumer":${str(consumer)},` +
      `"leader":${str(leader)},"replicas":${replicasJson(replicas)}${tail(m)}`,
  };
}

export function consumerQuorumLost(stream: string, consumer: string, replicas: PeerInfo[], m: AdvisoryMeta = {}): Advisory {
  return {
    subject: `${CONSUMER_QUORUM_LOST_PRE}.${stream}.${consumer}`,
    payload: `${head(ClusterAdvisoryType.consumerQuorumLost, m)},"stream":${str(stream)},"consumer":${str(consumer)},` +
      `"replicas":${replicasJson(replicas)}${tail(m)}`,
  };
}

/** SERVER.REMOVED has no account field (system account only). */
export function serverRemoved(server: string, serverId: string, cluster: string, m: Omit<AdvisoryMeta, 'account'> = {}): Advisory {
  return {
    subject: SERVER_REMOVED_SUBJECT,
    payload: `${head(ClusterAdvisoryType.serverRemoved, m)},"server":${str(server)},"server_id":${str(serverId)},` +
      `"cluster":${str(cluster)}${tail(m)}`,
  };
}

/** SERVER.OUT_OF_STORAGE (system account): this server could not write its JetStream files; `stream` when one stream's store failed. */
export function serverOutOfSpace(server: string, serverId: string, cluster: string, stream = '', m: Omit<AdvisoryMeta, 'account'> = {}): Advisory {
  return {
    subject: SERVER_OUT_OF_STORAGE_SUBJECT,
    payload: `${head(ClusterAdvisoryType.serverOutOfSpace, m)},"server":${str(server)},"server_id":${str(serverId)},` +
      `${stream ? `"stream":${str(stream)},` : ''}"cluster":${str(cluster)}${tail(m)}`,
  };
}

/**
 * The copies to publish: one in the owner account (left out when the owner is the system
 * account) and one in the system account carrying `account`. Both share id and timestamp.
 * Usage: `advisoryCopies((m) => streamLeaderElected(name, leader, replicas, m), 'APP', false)`.
 */
export function advisoryCopies(
  build: (m: AdvisoryMeta) => Advisory, account: string, isSystemAccount: boolean, meta: Omit<AdvisoryMeta, 'account'> = {},
): { owner?: Advisory; system: Advisory } {
  const shared = { ...meta, id: meta.id ?? nuid.next(), timestampNs: meta.timestampNs ?? nowNs() };
  const system = build({ ...shared, account });
  return isSystemAccount ? { system } : { owner: build(shared), system };
}

// ---- quorum-lost throttle ----

export const LOST_QUORUM_ADV_INTERVAL_MS = 10_000;
/** A group younger than this does not report lost quorum (it may just be starting). */
export const LOST_QUORUM_MIN_AGE_MS = 5_000;

/**
 * One per stream or consumer: at most one QUORUM_LOST advisory per 10 s (nats-server's
 * lqsent / lostQuorumAdvInterval). Pure: the caller passes the clock.
 */
export class QuorumLostThrottle {
  private lastSentMs: number | undefined;
  constructor(readonly intervalMs = LOST_QUORUM_ADV_INTERVAL_MS) {}

  /** True (and records the send) when an advisory may go out now. */
  shouldSend(nowMs: number): boolean {
    if (this.lastSentMs !== undefined && nowMs - this.lastSentMs < this.intervalMs) return false;
    this.lastSentMs = nowMs;
    return true;
  }
}

/** processStreamLeaderChange's condition for QUORUM_LOST when leadership is lost. */
export function quorumLostApplies(hasQuorum: boolean, groupCreatedMs: number, nowMs: number): boolean {
  return !hasQuorum && nowMs - groupCreatedMs > LOST_QUORUM_MIN_AGE_MS;
}

// ---- cluster info ----

/** What the raft node knows about one peer (RaftNode.Peers()). */
export interface RaftPeerStatus {
  id: string;
  current: boolean;
  /** ns since the epoch of the last contact; 0 / undefined = never. */
  lastNs?: bigint;
  lag?: number;
}

/** What the server knows about a peer id (nodeToInfo); absent when unknown. */
export interface PeerServerInfo { name: string; offline: boolean }

export interface ClusterInfoInput {
  cluster: string;
  /** Leader's server name, '' when the group has none. */
  leader: string;
  /** This server's peer id (excluded from replicas when the group has a leader). */
  selfId: string;
  /** The assignment's peers; raft peers outside it are not reported. */
  groupPeers: string[];
  peers: RaftPeerStatus[];
  lookup: (peerId: string) => PeerServerInfo | undefined;
  nowNs: bigint;
  raftGroup?: string;
  /** A peer silent for longer than this (ns) is not current (raft lostQuorumInterval, 10 s). */
  lostQuorumNs?: bigint;
}

export interface ClusterInfo {
  name?: string;
  raft_group?: string;
  leader?: string;
  replicas?: PeerInfo[];
}

/** nats-server's clusterInfo(rg) for an R>1 group. */
export function clusterInfo(inp: ClusterInfoInput): ClusterInfo {
  const lostQuorumNs = inp.lostQuorumNs ?? 10_000_000_000n;
  const excluded = inp.leader === '' ? '' : inp.selfId;
  const members = new Set(inp.groupPeers);
  const replicas: PeerInfo[] = [];
  for (const rp of inp.peers) {
    if (rp.id === excluded || !members.has(rp.id)) continue;
    const seen = rp.lastNs && inp.nowNs > rp.lastNs ? inp.nowNs - rp.lastNs : 0n;
    const pi: PeerInfo = {
      name: '', current: rp.current && seen <= lostQuorumNs, offline: true, active: seen, lag: rp.lag ?? 0, peer: rp.id,
    };
    const si = inp.lookup(rp.id);
    if (si) {
      pi.name = si.name;
      pi.offline = si.offline;
    } else {
      // nats-server's wording, and it clears a lag that would be misleading.
      pi.name = `Server name unknown at this time (peerID: ${rp.id})`;
      pi.lag = 0;
    }
    replicas.push(pi);
  }
  const ci: ClusterInfo = { name: inp.cluster };
  if (inp.raftGroup) ci.raft_group = inp.raftGroup;
  if (inp.leader) ci.leader = inp.leader;
  if (replicas.length) ci.replicas = replicas;
  return ci;
}

/** R1 assets: `{"name":<cluster>,"leader":<this server>}`. */
export function clusterInfoR1(cluster: string, serverName: string): ClusterInfo {
  return { name: cluster, leader: serverName };
}

export function clusterInfoJson(ci: ClusterInfo): string {
  const parts: string[] = [];
  if (ci.name) parts.push(`"name":${str(ci.name)}`);
  if (ci.raft_group) parts.push(`"raft_group":${str(ci.raft_group)}`);
  if (ci.leader) parts.push(`"leader":${str(ci.leader)}`);
  if (ci.replicas && ci.replicas.length) parts.push(`"replicas":${replicasJson(ci.replicas)}`);
  return `{${parts.join(',')}}`;
}

/** Replicas for LEADER_ELECTED / QUORUM_LOST (nats-server's s.replicas): every known peer, leader included. */
export function advisoryReplicas(peers: RaftPeerStatus[], lookup: (peerId: string) => PeerServerInfo | undefined, nowNs: bigint): PeerInfo[] {
  const out: PeerInfo[] = [];
  for (const rp of peers) {
    const si = lookup(rp.id);
    if (!si) continue; // nats-server skips peers it cannot name
    out.push({
      name: si.name, current: rp.current, offline: si.offline,
      // time.Since(last), not clamped: nats-server reports negative values for clock skew.
      active: rp.lastNs ? nowNs - rp.lastNs : 0, lag: rp.lag ?? 0, peer: rp.id,
    });
  }
  return out;
}

// ---- stepdown responses ----

export const STREAM_STEPDOWN_TYPE = 'io.nats.jetstream.api.v1.stream_leader_stepdown_response';
export const CONSUMER_STEPDOWN_TYPE = 'io.nats.jetstream.api.v1.consumer_leader_stepdown_response';

export interface ApiErrorJson { code: number; err_code: number; description: string }

function stepdown(type: string, err?: ApiErrorJson): string {
  if (!err) return `{"type":${str(type)},"success":true}`;
  // success is omitempty (false is left out), error comes right after type.
  return `{"type":${str(type)},"error":{"code":${err.code},"err_code":${err.err_code},"description":${str(err.description)}}}`;
}

export const streamStepdownResponse = (err?: ApiErrorJson): string => stepdown(STREAM_STEPDOWN_TYPE, err);
export const consumerStepdownResponse = (err?: ApiErrorJson): string => stepdown(CONSUMER_STEPDOWN_TYPE, err);
