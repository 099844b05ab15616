// Where a consumer starts (nats-server selectStartingSeqNo) and how restored
// state is pulled back when the stream lost data behind it
// (reconcileStateWithStream). Pure functions over the store and the state.

import type { PendingInfo, StreamStore } from '../store/types.js';
import type { ConsumerConfig } from './config.js';

/** deliver_policy last_per_subject: the last message of every subject, delivered first. */
export interface LastPerSubjectList {
  /** stream's last sequence when the list was taken: normal delivery resumes after it */
  resume: number;
  seqs: number[];
  idx: number;
}

export interface StartPosition {
  /** first stream sequence to look at */
  sseq: number;
  lss?: LastPerSubjectList;
}

/** nats-server selectStartingSeqNo. */
export function selectStartingSeq(
  store: StreamStore, cfg: ConsumerConfig, filters: readonly string[], maxMsgsPerSubject: number,
): StartPosition {
  const st = store.fastState();
  let sseq = 0;
  let lss: LastPerSubjectList | undefined;
  if (cfg.opt_start_seq === 0) {
    switch (cfg.deliver_policy) {
      case 'all':
        sseq = st.firstSeq;
        break;
      case 'last':
        if (filters.length === 0) {
          sseq = st.lastSeq;
        } else {
          for (const f of filters) sseq = Math.max(sseq, store.filteredState(1, f).last);
        }
        break;
      case 'last_per_subject': {
        // With one message per subject this is just "all".
        if (maxMsgsPerSubject === 1) {
          sseq = st.firstSeq;
        } else {
          const seqs = store.multiLastSeqs(filters.length > 0 ? [...filters] : [cfg.filter_subject], 0, 0);
          if (seqs.length === 0) {
            sseq = st.lastSeq;
          } else {
            sseq = seqs[0]!;
            lss = { resume: st.lastSeq, seqs, idx: 0 };
          }
        }
        break;
      }
      case 'by_start_time': {
        sseq = store.getSeqFromTime(cfg.opt_start_time!.ns);
        if (filters.length > 0) {
          // Skip ahead to the first matching message when it is later.
          let nseq = st.lastSeq;
          for (const f of filters) {
            const fs = store.filteredState(st.firstSeq, f);
            if (fs.first >= sseq && fs.first < nseq) nseq = fs.first;
          }
          if (nseq > sseq && nseq < st.lastSeq) sseq = nseq;
        }
        break;
      }
      default: // new
        sseq = st.lastSeq + 1;
    }
  } else {
    sseq = cfg.opt_start_seq;
  }
  if (st.firstSeq === 0 && cfg.opt_start_seq === 0) {
    sseq = 1;
  } else if (sseq > st.lastSeq && cfg.opt_start_seq === 0) {
    sseq = st.lastSeq + 1;
  } else if (sseq < st.firstSeq) {
    sseq = st.firstSeq;
  }
  if (sseq < 1) sseq = 1;
  return lss === undefined ? { sseq } : { sseq, lss };
}

/** The delivery state a consumer restores. */
export interface DeliveryState {
  sseq: number;
  dseq: number;
  adflr: number;
  asflr: number;
  pending: Map<number, PendingInfo>;
  rdc: Map<number, number>;
}

/**
 * nats-server reconcileStateWithStream: the stream's last sequence is behind what the
 * consumer delivered (data lost in a crash). Drop what no longer exists and restart
 * right after the highest state still valid. Mutates `s`.
 */
export function reconcileWithStream(s: DeliveryState, last: number): void {
  if (s.asflr > last) {
    s.asflr = last;
    s.adflr = Math.max(s.dseq - 1, 0);
    s.pending.clear();
    s.rdc.clear();
  }
  for (const seq of [...s.pending.keys()]) if (seq > last) s.pending.delete(seq);
  for (const seq of [...s.rdc.keys()]) if (seq > last) s.rdc.delete(seq);
  if (s.pending.size === 0) {
    s.sseq = s.asflr + 1;
    s.dseq = s.adflr + 1;
  } else {
    let ms = 0;
    let mc = 0;
    for (const [seq, p] of s.pending) {
      if (seq > ms) ms = seq;
      if (p.seq > mc) mc = p.seq;
    }
    s.sseq = ms + 1;
    s.dseq = mc + 1;
  }
}
