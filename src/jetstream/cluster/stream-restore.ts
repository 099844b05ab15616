// A replica's stream store against a stream snapshot (nats-server processSnapshot /
// processSnapshotDeletes, plus what tsnats adds to trust the store across restarts).
//
// A replica's store is trusted only up to the stream snapshot its raft group last installed:
// the snapshot records the clustered failure count (clfs) that goes with that store position,
// and the sequence arithmetic of the apply path (stream-apply.ts) needs exactly that pair.
// Anything the store holds beyond the snapshot is cut and applied again from the group's log
// (the WAL keeps every entry after the snapshot), so a failed proposal between the snapshot and
// a crash can never shift a sequence. A store that recovery found damaged (StreamState.lost) is
// cut below its first lost message; a store that ends before the snapshot's last sequence (it
// lost its unsynced tail, or its files were truncated) fetches the rest from the leader with a
// `$JSC` catch-up (stream-catchup.ts).

import type { StreamStore } from '../store/types.js';
import { parsePubHeaders } from '../headers.js';
import { LOST_LIST_MAX } from '../store/lost-data.js';
import type { StreamApplier } from './stream-apply.js';
import { planSnapshotApply, type StreamSnapshotState } from './stream-snapshot.js';

/**
 * The last sequence of `store` that recovery found intact, or undefined when nothing was
 * reported lost. Lost bytes without a known sequence (or a list that overflowed) trust nothing.
 */
export function lastTrustedSeq(store: StreamStore): number | undefined {
  const lost = store.fastState().lost;
  if (!lost || (lost.msgs.length === 0 && lost.bytes === 0)) return undefined;
  if (lost.msgs.length === 0 || lost.msgs.length >= LOST_LIST_MAX) return 0;
  return Math.max(0, Math.min(...lost.msgs) - 1);
}

/** Cut `store` so that nothing above `seq` remains and its last sequence is `seq`. */
export function truncateStore(store: StreamStore, seq: number): void {
  const st = store.fastState();
  if (seq >= st.lastSeq) return;
  if (st.msgs > 0 && seq >= st.firstSeq) {
    store.truncate(seq);
    return;
  }
  // Nothing at or below `seq` is left: empty the store, then make `seq` its last sequence.
  store.truncate(0);
  if (seq > 0) store.compact(seq + 1);
}

export interface RestoreResult {
  /** The store ends before the snapshot: catch up through this sequence. */
  catchupTo?: number;
  /** Sequences cut from the store (beyond the snapshot or damaged). */
  cut: number;
  /** Messages deleted because the snapshot says they are gone. */
  deleted: number;
}

/**
 * Bring `store` in line with `snap` and set the applier's state to the snapshot's.
 * `trusted`: lastTrustedSeq() of the store when it was opened (undefined: undamaged).
 */
export function restoreFromSnapshot(
  store: StreamStore, applier: StreamApplier, snap: StreamSnapshotState, trusted: number | undefined, dupWindowNs: bigint,
): RestoreResult {
  const before = store.fastState().lastSeq;
  truncateStore(store, trusted === undefined ? snap.lastSeq : Math.min(trusted, snap.lastSeq));
  const st = store.fastState();
  const plan = planSnapshotApply({ firstSeq: st.firstSeq, lastSeq: st.lastSeq }, snap, (seq) => store.loadMsg(seq) !== undefined);
  if (plan.compactTo !== undefined) store.compact(plan.compactTo);
  let deleted = 0;
  for (const seq of plan.deletes) if (store.removeMsg(seq)) deleted++;
  applier.importState({ clfs: plan.clfs });
  rebuildDedupe(store, applier, dupWindowNs);
  const out: RestoreResult = { cut: Math.max(0, before - st.lastSeq), deleted };
  if (store.fastState().lastSeq < snap.lastSeq) out.catchupTo = snap.lastSeq;
  return out;
}

/**
 * Rebuild the applier's Nats-Msg-Id window from the stored messages (nats-server rebuildDedupe):
 * every message with an id whose timestamp (the leader's) is inside the window as of the last
 * message. The last id found becomes Nats-Expected-Last-Msg-Id's reference.
 */
export function rebuildDedupe(store: StreamStore, applier: StreamApplier, dupWindowNs: bigint): void {
  applier.clearMsgIds();
  const st = store.fastState();
  if (st.msgs === 0 || dupWindowNs <= 0n) return;
  const from = st.lastTs - dupWindowNs;
  let last = '';
  for (let seq = Math.max(st.firstSeq, store.getSeqFromTime(from)); seq <= st.lastSeq; seq++) {
    const m = store.loadMsg(seq);
    if (!m?.headers || m.headers.length === 0) continue;
    const id = parsePubHeaders(m.headers)?.msgId;
    if (!id) continue;
    applier.rememberMsgId(id, seq, m.ts);
    last = id;
  }
  applier.importState({ clfs: applier.clfs, lastMsgId: last });
}
