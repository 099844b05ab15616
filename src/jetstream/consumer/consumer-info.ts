// ConsumerInfo as nats-server reports it (fields in its order, Go time
// formats), built from a consumer's counters.

import { goTimeFromNanos } from '../api/json.js';
import { consumerConfigToJSON, type ConsumerConfig } from './config.js';
import { nowNs } from './go-format.js';

export interface ConsumerInfoOptions {
  /** Refresh push interest before reporting push_bound. */
  refreshInterest?: boolean;
}

/** What a ConsumerInfo is built from. */
export interface ConsumerInfoSource {
  streamName: string;
  name: string;
  createdNs: bigint;
  cfg: ConsumerConfig;
  /** next consumer sequence (dseq) and highest first-time delivered stream sequence */
  dseq: number;
  deliveredSseq: number;
  lastDeliveredMs: number;
  adflr: number;
  asflr: number;
  lastAckMs: number;
  numAckPending: number;
  numRedelivered: number;
  numWaiting: number;
  numPending: number;
  pushBound: boolean;
}

/** ConsumerInfo fields in nats-server's order (without the response `type`). */
export function buildConsumerInfo(s: ConsumerInfoSource): Record<string, unknown> {
  const delivered: Record<string, unknown> = { consumer_seq: Math.max(s.dseq, 1) - 1, stream_seq: s.deliveredSseq };
  if (s.lastDeliveredMs > 0) delivered.last_active = goTimeFromNanos(BigInt(s.lastDeliveredMs) * 1_000_000n);
  const ackFloor: Record<string, unknown> = { consumer_seq: s.adflr, stream_seq: s.asflr };
  if (s.lastAckMs > 0) ackFloor.last_active = goTimeFromNanos(BigInt(s.lastAckMs) * 1_000_000n);
  const info: Record<string, unknown> = {
    stream_name: s.streamName,
    name: s.name,
    created: goTimeFromNanos(s.createdNs),
    config: consumerConfigToJSON(s.cfg),
    delivered,
    ack_floor: ackFloor,
    num_ack_pending: s.numAckPending,
    num_redelivered: s.cfg.max_deliver === 1 ? 0 : s.numRedelivered,
    num_waiting: s.numWaiting,
    num_pending: s.numPending,
  };
  if (s.pushBound) info.push_bound = true;
  info.ts = goTimeFromNanos(nowNs());
  return info;
}
