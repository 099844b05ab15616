// /healthz for clustered JetStream (nats-server 2.9.10 healthz → isStreamCurrent /
// isConsumerCurrent): every stream and consumer assigned to this server must be here and,
// when replicated, its raft group current (leader, or a follower that hears its leader and
// applied everything committed).

import { lookupConsumer } from '../consumer/manager.js';
import type { ClusteredJetStream } from './js-cluster.js';

export interface AssetHealthError {
  type: 'STREAM' | 'CONSUMER';
  account: string;
  stream: string;
  consumer?: string;
  error: string;
}

export interface AssetFilter {
  account?: string;
  stream?: string;
  consumer?: string;
}

export interface AssetHealth {
  errors: AssetHealthError[];
  /** The filter's consumer is assigned to this server (followers of a replicated consumer run no Consumer object). */
  consumerAssigned: boolean;
}

/**
 * Streams and consumers of this server that are not current, in assignment order (the first
 * one only when `firstOnly`).
 */
export function assetHealth(c: ClusteredJetStream, filter: AssetFilter, firstOnly: boolean): AssetHealth {
  const out: AssetHealthError[] = [];
  let consumerAssigned = false;
  const done = (): AssetHealth => ({ errors: out, consumerAssigned });
  for (const [account, e] of c.state.all()) {
    const stream = e.sa.stream.name;
    if ((filter.account && account !== filter.account) || (filter.stream && stream !== filter.stream)) continue;
    if (!e.sa.group.peers.includes(c.id)) continue;
    const sg = c.streamGroups.get(account, stream);
    const local = c.js.jsAccount(account)?.streams.get(stream);
    const streamCurrent = local !== undefined && (e.sa.group.peers.length === 1 || (sg !== undefined && !sg.stopped && sg.node.isCurrent()));
    if (!streamCurrent) {
      out.push({ type: 'STREAM', account, stream, error: `JetStream stream '${account} > ${stream}' is not current` });
      if (firstOnly) return done();
      continue;
    }
    for (const ca of e.consumers.values()) {
      if (filter.consumer && ca.name !== filter.consumer) continue;
      if (!ca.group.peers.includes(c.id)) continue;
      if (filter.consumer) consumerAssigned = true;
      const cg = sg?.consumers.get(ca.name);
      const current = cg !== undefined
        ? !cg.stopped && cg.node.isCurrent() && (ca.group.peers.length > 1 || lookupConsumer(local, ca.name) !== undefined)
        : lookupConsumer(local, ca.name) !== undefined;
      if (!current) {
        out.push({ type: 'CONSUMER', account, stream, consumer: ca.name, error: `JetStream consumer '${account} > ${stream} > ${ca.name}' is not current` });
        if (firstOnly) return done();
      }
    }
  }
  return done();
}
