// What monitoring reads from subsystems that sit above it in the layering
// (cluster routes, JetStream). The monitor may not import them, so it looks
// them up by name on the server and checks, at run time, that they offer
// these members; anything missing simply reads as "not there".
import type { Server } from '../server/server.js';

/** The cluster subsystem's monitoring surface (src/cluster/cluster.ts). */
export interface ClusterSource {
  routez(opts: { subscriptions?: boolean; subscriptionsDetail?: boolean }): Record<string, unknown>;
  varzCluster(): Record<string, unknown>;
  remoteServerIds?(): string[];
}

/** A stream as JetStream exposes it (src/jetstream/stream.ts). */
export interface StreamSource {
  readonly name: string;
  info(opts?: Record<string, unknown>): { info: Record<string, unknown> };
  consumerNames?(): string[];
  getConsumer?(name: string): unknown;
}

/** A JetStream-enabled account (src/jetstream/js-account.ts). */
export interface JsAccountSource {
  readonly name: string;
  readonly streams: Map<string, StreamSource>;
  memoryBytes: number;
  storeBytes: number;
  apiTotal: number;
  apiErrors: number;
  reservedMemory?(): number;
  reservedStore?(): number;
}

/** One Raft group's figures on this server (src/jetstream/cluster/raft-report.ts). */
export interface RaftGroupSource {
  kind: 'meta' | 'stream' | 'consumer';
  /** Raft group name (e.g. _meta_, S-R3F-abc). */
  group: string;
  account?: string;
  stream?: string;
  consumer?: string;
  leader: boolean;
  term: number;
  commit: number;
  applied: number;
  /** Committed entries this server has not applied yet. */
  lag: number;
  /** Leader only: how far each follower's log is behind ours, by peer id. */
  peerLag: { peer: string; lag: number }[];
}

/** The JetStream subsystem (src/jetstream/index.ts). */
export interface JetStreamSource {
  storeRoot: string;
  maxMemoryBytes: number;
  maxStoreBytes: number;
  memoryUsed: number;
  storeUsed: number;
  apiTotal: number;
  apiErrors: number;
  readonly domain?: string;
  allJsAccounts(): JsAccountSource[];
  /** Long work in progress (src/jetstream/progress.ts ProgressReport), for /healthz details. */
  progressReports?(): Record<string, unknown>[];
  /** Clustered JetStream (meta group), absent on a single server. */
  readonly clustered?: {
    readonly ready: boolean;
    readonly isLeader: boolean;
    metaClusterInfo(): Record<string, unknown>;
    /** Why the meta layer is not healthy (nats-server's healthz texts), or undefined. */
    healthError(): string | undefined;
    /** Streams and consumers assigned here that are not current (cluster/health.ts). */
    assetHealth(filter: { account?: string; stream?: string; consumer?: string }, firstOnly: boolean): {
      errors: { type: 'STREAM' | 'CONSUMER'; account: string; stream: string; consumer?: string; error: string }[];
      consumerAssigned: boolean;
    };
    /** consumer_detail of a replicated stream's consumers held here, by name (undefined: no group here). */
    consumerDetail?(account: string, stream: string, withConfig: boolean): Map<string, Record<string, unknown>> | undefined;
    /** Raft groups running here (cluster/raft-report.ts), for /metrics. */
    raftGroups?(): RaftGroupSource[];
  };
}

function subsystem(server: Server, name: string): Record<string, unknown> | undefined {
  const s = server.getSubsystem?.(name);
  return s as unknown as Record<string, unknown> | undefined;
}

export function clusterSource(server: Server): ClusterSource | undefined {
  const s = subsystem(server, 'cluster');
  if (s && typeof s.routez === 'function' && typeof s.varzCluster === 'function') return s as unknown as ClusterSource;
  return undefined;
}

export function jetStreamSource(server: Server): JetStreamSource | undefined {
  const s = subsystem(server, 'jetstream');
  if (s && typeof s.allJsAccounts === 'function' && typeof s.maxMemoryBytes === 'number') {
    return s as unknown as JetStreamSource;
  }
  return undefined;
}

/** A consumer's ConsumerInfo JSON, when the consumer offers it (direct/internal consumers excluded). */
export function consumerInfo(c: unknown, withConfig: boolean): Record<string, unknown> | undefined {
  const o = c as { info?: (opts?: unknown) => Record<string, unknown>; isDirect?: boolean } | undefined;
  if (!o || typeof o.info !== 'function' || o.isDirect === true) return undefined;
  const info = { ...o.info() };
  delete info.type;
  if (!withConfig) delete info.config;
  return info;
}
