// Where a durable restarts when its persisted state could not be trusted at all
// (state file unreadable: see store/consumer-store.ts). nats-server drops such a
// consumer; we keep it and restart it from its own beginning, so that messages it
// may not have delivered are delivered (again) rather than skipped.

import { emptyConsumerState } from '../store/consumer-state-codec.js';
import type { ConsumerState, StreamStore } from '../store/types.js';
import type { ConsumerConfig } from './config.js';
import { gatherFilters } from './config.js';
import { selectStartingSeq } from './start-position.js';

/**
 * The state to start from: nothing delivered, nothing acked, positioned before the first
 * message the consumer was ever meant to see.
 *  - all / by_start_sequence / by_start_time: that start, as at creation.
 *  - new: the first message stored at or after the consumer's creation time (the
 *    creation time is kept in ms, so this may include messages of that same ms: more, never fewer).
 *  - last / last_per_subject: their start was at or before creation and depends on what the
 *    stream held then; the stream's first message is the earliest it can have been.
 */
export function stateAfterLostState(store: StreamStore, cfg: ConsumerConfig, createdMs: number,
  maxMsgsPerSubject: number): ConsumerState {
  let seq: number;
  if (cfg.opt_start_seq === 0 && cfg.deliver_policy === 'new') {
    seq = store.getSeqFromTime(BigInt(createdMs) * 1_000_000n);
  } else if (cfg.opt_start_seq === 0 && (cfg.deliver_policy === 'last' || cfg.deliver_policy === 'last_per_subject')) {
    seq = store.fastState().firstSeq;
  } else {
    seq = selectStartingSeq(store, cfg, gatherFilters(cfg), maxMsgsPerSubject).sseq;
  }
  const st = emptyConsumerState();
  const before = Math.max(0, seq - 1);
  st.delivered.streamSeq = before;
  st.ackFloor.streamSeq = before;
  return st;
}
