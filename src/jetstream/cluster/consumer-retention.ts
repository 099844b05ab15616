// Interest and workqueue retention of a replicated stream, driven by its replicated consumers
// (nats-server's processReplicatedAck → stream ackMsg / checkInterest / needAck).
//
// A clustered consumer's ack does not remove the message where the leader's Consumer
// processed it: it is proposed to the consumer's group, and every replica removes the message
// from its own copy of the stream when it applies the ack (the leader included). So every
// replica removes the same messages. Two cases nats-server 2.9.10 handles loosely are covered
// here: a replica that applies the ack before its copy of the stream holds the message
// removes it once it is stored, and a replica that loads a consumer snapshot (restart,
// catch-up of a compacted log) sweeps the messages that the snapshot says were acknowledged.

import type { Stream } from '../stream.js';
import type { ConsumerState } from '../store/types.js';
import { FilterSet } from '../consumer/filters.js';
import { gatherFilters } from '../consumer/config.js';

export type AckPolicyName = 'none' | 'all' | 'explicit';

/**
 * nats-server needAck from a replica's stored state (a follower has no live Consumer): does a
 * consumer with this state still have to acknowledge `seq`?
 */
export function stateNeedsAck(state: ConsumerState, ackPolicy: AckPolicyName, seq: number): boolean {
  const asflr = state.ackFloor.streamSeq;
  if (seq <= asflr) return false;
  if (ackPolicy !== 'explicit') return true;
  // Past what was delivered: not yet seen, so still needed.
  if (seq > state.delivered.streamSeq) return true;
  return state.pending.has(seq);
}

/** The consumer configuration fields retention needs, from an assignment's JSON config. */
export function retentionConfig(cfg: Record<string, unknown>): { ackPolicy: AckPolicyName; filters: FilterSet } {
  const ap = cfg['ack_policy'];
  const ackPolicy: AckPolicyName = ap === 'all' || ap === 'explicit' ? ap : 'none';
  const fs = cfg['filter_subject'];
  const fss = cfg['filter_subjects'];
  const filters = new FilterSet(gatherFilters({
    filter_subject: typeof fs === 'string' ? fs : '',
    filter_subjects: Array.isArray(fss) ? fss.filter((x): x is string => typeof x === 'string') : null,
  }));
  return { ackPolicy, filters };
}

/** One consumer as retention sees it on this replica. */
export interface RetentionMember {
  readonly name: string;
  /** Does this consumer (as this replica knows it) still need `seq` (subject `subject`)? */
  needsAck(seq: number, subject: string): boolean;
}

/**
 * Remove `seq` from this replica's stream when `acker` (whose filter matches) no longer needs
 * it and, under interest retention, neither does any other consumer held here. Returns true
 * when removed. Messages this replica does not hold yet are left to `onStored`.
 */
export function removeIfDone(stream: Stream, acker: RetentionMember, filters: FilterSet, others: Iterable<RetentionMember>,
  seq: number, subjectIn?: string): boolean {
  const retention = stream.config.retention;
  if (retention === 'limits' || stream.isClosed) return false;
  if (seq < stream.store.firstSeq || seq > stream.store.lastSeq) return false;
  const subject = subjectIn ?? stream.store.subjectForSeq(seq);
  if (subject === undefined) return false;
  if (!filters.matches(subject)) return false;
  if (acker.needsAck(seq, subject)) return false;
  if (retention === 'interest') {
    for (const o of others) if (o !== acker && o.needsAck(seq, subject)) return false;
  }
  return stream.store.removeMsg(seq);
}

/** Past this many sequences the clean-up after a consumer delete is left to later acks (as the single-server path). */
export const DELETE_SCAN_LIMIT = 100_000;

/**
 * A consumer of an interest stream was deleted (nats-server consumer stopWithFlags, on every
 * replica): messages from its ack floor on that no remaining consumer held here needs go.
 */
export function removeUninterested(stream: Stream, fromSeq: number, others: Iterable<RetentionMember>): void {
  if (stream.isClosed || stream.config.retention !== 'interest') return;
  const st = stream.store.fastState();
  const start = Math.max(fromSeq, st.firstSeq);
  if (st.lastSeq - start > DELETE_SCAN_LIMIT) return;
  const rest = [...others];
  for (let seq = start; seq <= st.lastSeq; seq++) {
    const subject = stream.store.subjectForSeq(seq);
    if (subject === undefined) continue;
    if (!rest.some((o) => o.needsAck(seq, subject))) stream.store.removeMsg(seq);
  }
}
