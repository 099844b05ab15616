// Placement data from nats-server's statsz heartbeats. A nats-server peer never sends our
// `$JSC.PEER.INFO` announcement; like any nats-server it publishes a ServerStatsMsg on
// `$SYS.SERVER.<id>.STATSZ` (server name, cluster, tags, and under statsz.jetstream its
// JetStream config and usage), which is what nats-server's own meta leader places by
// (events.go remoteServerUpdate → nodeToInfo; selectPeerGroup skips peers without config or
// stats). Here the same message feeds the PeerInfoTable, so a tsnats meta leader can place on
// nats-server peers.

import type { InternalClient } from '../../core/internal-client.js';
import { peerIdForServerName } from '../../raft/index.js';
import type { PeerInfoMsg, PeerInfoTable } from './peer-info.js';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** A statsz message as placement data; undefined when it does not describe a JetStream server of `domain`. */
export function peerInfoFromStatsz(payload: Buffer | string, domain: string): PeerInfoMsg | undefined {
  let m: unknown;
  try {
    m = JSON.parse(payload.toString());
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const server = (m as { server?: Record<string, unknown> }).server;
  const js = (m as { statsz?: { jetstream?: { config?: Record<string, unknown>; stats?: Record<string, unknown> } } }).statsz?.jetstream;
  if (typeof server !== 'object' || server === null || typeof server.name !== 'string' || server.name === '') return undefined;
  if ((typeof server.domain === 'string' ? server.domain : '') !== domain) return undefined; // nats-server sameDomain
  // nats-server considers a peer for placement only once it knows its JetStream config and stats.
  if (typeof js?.config !== 'object' || js.config === null || typeof js.stats !== 'object' || js.stats === null) return undefined;
  const tags = Array.isArray(server.tags) ? server.tags.filter((t): t is string => typeof t === 'string') : [];
  return {
    name: server.name,
    cluster: typeof server.cluster === 'string' ? server.cluster : '',
    tags,
    maxMemory: num(js.config.max_memory),
    maxStore: num(js.config.max_storage),
    usedMemory: num(js.stats.memory),
    usedStore: num(js.stats.storage),
    reservedMemory: num(js.stats.reserved_memory),
    reservedStore: num(js.stats.reserved_storage),
    haAssets: num(js.stats.ha_assets),
  };
}

/** Subscribe to every server's statsz and record the JetStream ones; returns the unsubscribe. */
export function followStatsz(client: InternalClient, table: PeerInfoTable, selfName: string, domain: string): () => void {
  const sid = client.subscribe('$SYS.SERVER.*.STATSZ', (_s, _r, _h, payload) => {
    const info = peerInfoFromStatsz(payload, domain);
    if (info === undefined || info.name === selfName) return;
    table.record(peerIdForServerName(info.name), info, 'statsz');
  });
  return () => client.unsubscribe(sid);
}
