// The decision logic of a replicated stream's apply path (nats-server applyStreamMsgOp +
// the clustered part of processJetStreamMsg) and of the leader's proposal sequencing
// (clseq), against a small store interface so it can be tested without raft or disks.
//
// Sequence arithmetic (jetstream-cluster.md §5.2): a proposal carries `lseq`, the number of
// proposals before it that the leader believed would land (clseq). Proposals rejected at apply
// (duplicate Nats-Msg-Id, failed Nats-Expected-* checks, store limits) use up a proposal number
// without using a stream sequence; `clfs` counts them. Every replica keeps the invariant
//     next expected lseq == store.lastSeq + clfs
// so an entry with lseq below that was already applied (replay: ignore), one equal is applied
// (stored at lseq + 1 - clfs, or counted as failed), and one above is a gap (fatal mismatch
// unless the store is empty, then the store is moved forward).
//
// Everything that decides the outcome is a function of the log and the replica's state only
// (the dedupe window is measured with the leader's timestamps in the entries, never the local
// clock), so replicas that apply the same log reach identical stores and clfs.

import type { JsPubHeaders } from '../headers.js';
import { parsePubHeaders } from '../headers.js';
import { jsErr, type ApiError } from '../api/errors.js';
import { goJson } from '../api/json.js';
import { encodeStreamMsg, isSkipEntry, type StreamMsgEntry } from './stream-entry.js';
import { isStoreError, type StoreErrorCode } from '../store/errors.js';
import { InflightProposals } from './inflight-proposals.js';
import type { StreamStore } from '../store/types.js';

/** Store limit refusals that are not fatal at apply (nats-server: ErrMaxMsgs & co). */
export type LimitRefusal = 'max_msgs' | 'max_bytes' | 'max_msgs_per_subject' | 'msg_too_large';

/** The part of a stream store the apply path needs. */
export interface ApplyStore {
  state(): { msgs: number; firstSeq: number; lastSeq: number };
  /** state().lastSeq without building the object (read for every entry proposed and applied). */
  lastSeq(): number;
  /** Store at exactly `seq` (= lastSeq + 1) with the leader's timestamp. Returns a refusal for
   *  limits (discard new); any thrown error is fatal for the stream. */
  storeRaw(subject: string, hdr: Buffer | null, msg: Buffer | null, seq: number, tsNs: bigint): LimitRefusal | undefined;
  /** Use sequence `seq` (= lastSeq + 1) without a message. */
  skipMsg(seq: number): void;
  /** Empty store only: make `nextSeq` the next sequence (lastSeq becomes nextSeq - 1). */
  compact(nextSeq: number): void;
  /** Last sequence stored for `subject`, 0 when none. */
  lastSeqForSubject(subject: string): number;
}

export type ApplyResult =
  /** Already applied (replay after restart / snapshot overlap): nothing to do, no PubAck. */
  | { kind: 'replayed' }
  /** A skip entry consumed `seq`. */
  | { kind: 'skip'; seq: number }
  | { kind: 'stored'; seq: number; msgId?: string }
  /** Duplicate Nats-Msg-Id: the PubAck carries the original's sequence and duplicate:true. */
  | { kind: 'duplicate'; seq: number }
  /** A Nats-Expected-* check failed, or the store refused on limits. */
  | { kind: 'rejected'; error: ApiError };

/** Thrown for a gap (lseq ahead of this replica): the replica must be reset / caught up. */
export class ApplyMismatchError extends Error {
  constructor(readonly lseq: number, readonly expected: number) {
    super(`last sequence mismatch: entry lseq ${lseq}, replica expects ${expected}`);
    this.name = 'ApplyMismatchError';
  }
}

export interface ApplierOptions {
  stream: string;
  /** Dedupe window in ns (stream duplicate_window). */
  duplicateWindowNs: bigint;
}

const LIMIT_TEXT: Record<LimitRefusal, string> = {
  max_msgs: 'maximum messages exceeded',
  max_bytes: 'maximum bytes exceeded',
  max_msgs_per_subject: 'maximum messages per subject exceeded',
  msg_too_large: 'message size exceeds maximum allowed',
};

/** One replica's apply state machine for stream message entries (op 4 / 14 after decode). */
export class StreamApplier {
  /** Proposals that failed at apply (snapshotted as the stream state's `failed`). */
  clfs = 0;
  /** Nats-Msg-Id of the last stored message that had one (Nats-Expected-Last-Msg-Id). */
  lastMsgId = '';
  // Insertion order is apply order, so the oldest id is always first (cheap pruning).
  private readonly ids = new Map<string, { seq: number; tsNs: bigint }>();

  constructor(readonly store: ApplyStore, readonly opts: ApplierOptions) {}

  /** The lseq the next entry must carry. */
  expectedLseq(): number {
    return this.store.lastSeq() + this.clfs;
  }

  /** Known msg id still inside the window as of `tsNs` (the deciding entry's timestamp). */
  lookupMsgId(id: string, tsNs: bigint): number | undefined {
    const rec = this.ids.get(id);
    if (rec === undefined || tsNs - rec.tsNs >= this.opts.duplicateWindowNs) return undefined;
    return rec.seq;
  }

  /** Record an id (apply path, or rebuilding the window from stored messages after restart). */
  rememberMsgId(id: string, seq: number, tsNs: bigint): void {
    this.ids.delete(id);
    this.ids.set(id, { seq, tsNs });
  }

  private pruneIds(nowNs: bigint): void {
    for (const [id, rec] of this.ids) {
      if (nowNs - rec.tsNs < this.opts.duplicateWindowNs) break;
      this.ids.delete(id);
    }
  }

  /** Forget every tracked id (before rebuilding the window from a restored store). */
  clearMsgIds(): void {
    this.ids.clear();
    this.lastMsgId = '';
  }

  /** Size of the dedupe map (for tests and metrics). */
  get trackedIds(): number {
    return this.ids.size;
  }

  apply(e: StreamMsgEntry): ApplyResult {
    let lastSeq = this.store.lastSeq();
    // Already have it: replayed from the log after a restart or a snapshot.
    if (e.lseq < lastSeq + this.clfs) return { kind: 'replayed' };
    if (e.lseq > lastSeq + this.clfs) {
      // An empty replica (e.g. installed a snapshot of a purged stream) can move forward.
      if (this.store.state().msgs === 0) {
        this.store.compact(e.lseq + 1 - this.clfs);
        lastSeq = this.store.lastSeq();
        if (e.lseq !== lastSeq + this.clfs) throw new ApplyMismatchError(e.lseq, lastSeq + this.clfs);
      } else {
        throw new ApplyMismatchError(e.lseq, lastSeq + this.clfs);
      }
    }
    if (isSkipEntry(e)) {
      this.store.skipMsg(lastSeq + 1);
      return { kind: 'skip', seq: lastSeq + 1 };
    }
    const seq = e.lseq + 1 - this.clfs;
    const hdrs: JsPubHeaders | undefined = e.hdr && e.hdr.length ? parsePubHeaders(e.hdr) : undefined;
    if (hdrs) {
      const fail = this.check(hdrs, e, lastSeq);
      if (fail) {
        this.clfs++;
        return fail;
      }
    }
    const refused = this.store.storeRaw(e.subject, e.hdr, e.msg, seq, e.ts);
    if (refused) {
      this.clfs++;
      return { kind: 'rejected', error: jsErr('StreamStoreFailed', { err: LIMIT_TEXT[refused] }) };
    }
    if (hdrs?.msgId) {
      this.pruneIds(e.ts);
      this.rememberMsgId(hdrs.msgId, seq, e.ts);
      this.lastMsgId = hdrs.msgId;
      return { kind: 'stored', seq, msgId: hdrs.msgId };
    }
    return { kind: 'stored', seq };
  }

  /** The checks processJetStreamMsg makes, in its order. */
  private check(h: JsPubHeaders, e: StreamMsgEntry, lastSeq: number): ApplyResult | undefined {
    if (h.expectedStream !== undefined && h.expectedStream !== this.opts.stream) {
      return { kind: 'rejected', error: jsErr('StreamNotMatch') };
    }
    if (h.msgId) {
      const dup = this.lookupMsgId(h.msgId, e.ts);
      if (dup !== undefined) return { kind: 'duplicate', seq: dup };
    }
    // 2.9.10 checks a non-zero expected subject sequence only at the leader, before proposing
    // (ProposalSequencer.propose); its replicas check only "no message yet" (0) at apply. Doing the
    // same keeps tsnats and nats-server replicas of one stream identical (docs/interop.md).
    if (h.expectedLastSubjSeq === 0) {
      const subj = h.expectedLastSubjSeqSubject ?? e.subject;
      const have = this.store.lastSeqForSubject(subj);
      if (have !== h.expectedLastSubjSeq) return { kind: 'rejected', error: jsErr('StreamWrongLastSequence', { seq: have }) };
    }
    if (h.expectedLastSeq !== undefined && h.expectedLastSeq !== lastSeq) {
      return { kind: 'rejected', error: jsErr('StreamWrongLastSequence', { seq: lastSeq }) };
    }
    if (h.expectedLastMsgId !== undefined && h.expectedLastMsgId !== this.lastMsgId) {
      return { kind: 'rejected', error: jsErr('StreamWrongLastMsgID', { id: this.lastMsgId }) };
    }
    return undefined;
  }

  /** State to carry in a snapshot / restore after one (the store itself is separate). */
  exportState(): { clfs: number; lastMsgId: string } {
    return { clfs: this.clfs, lastMsgId: this.lastMsgId };
  }

  importState(s: { clfs: number; lastMsgId?: string }): void {
    this.clfs = s.clfs;
    this.lastMsgId = s.lastMsgId ?? '';
  }
}

/**
 * The PubAck text nats-server 2.9.10 sends for an apply result. Success and duplicate acks are
 * hand-formatted from a prefix (`{"stream":"T3", "seq":` or `{"stream":"T3", "domain":"D", "seq":`,
 * with those spaces); error acks are a marshalled JSPubAckResponse (error, stream, seq, domain).
 */
export function pubAckFor(stream: string, r: ApplyResult, domain?: string): string | undefined {
  switch (r.kind) {
    case 'stored': return `${pubAckPrefix(stream, domain)}${r.seq}}`;
    case 'duplicate': return `${pubAckPrefix(stream, domain)}${r.seq},"duplicate": true}`;
    case 'rejected': {
      const dom = domain ? `,"domain":${goJson(domain)}` : '';
      return `{"error":${goJson(r.error.toJSON())},"stream":${goJson(stream)},"seq":0${dom}}`;
    }
    default: return undefined;
  }
}

/**
 * pubAckFor as the bytes sent. A stored message's PubAck (one per replicated message, on the
 * leader) is written straight into its buffer: the prefix's bytes are kept and the sequence's
 * digits written one by one, instead of building a string and encoding it (half the cost).
 */
export function pubAckBytes(stream: string, r: ApplyResult, domain?: string): Buffer | undefined {
  if (r.kind !== 'stored' || !Number.isSafeInteger(r.seq) || r.seq < 0) {
    const text = pubAckFor(stream, r, domain);
    return text === undefined ? undefined : Buffer.from(text);
  }
  const text = pubAckPrefix(stream, domain);
  if (lastPrefixBytes.text !== text) lastPrefixBytes = { text, bytes: Buffer.from(text) };
  const pb = lastPrefixBytes.bytes;
  const seq = r.seq;
  let digits = 1;
  for (let v = seq; v >= 10; v = Math.floor(v / 10)) digits++;
  const n = pb.length;
  const out = Buffer.allocUnsafe(n + digits + 1);
  for (let k = 0; k < n; k++) out[k] = pb[k];
  let v = seq;
  for (let k = n + digits - 1; k >= n; k--) {
    out[k] = 48 + (v % 10);
    v = Math.floor(v / 10);
  }
  out[n + digits] = 0x7d; // }
  return out;
}

let lastPrefixBytes = { text: '', bytes: Buffer.alloc(0) };

/** The last success-ack prefix built: a PubAck per replicated message need not re-escape the
 *  same stream and domain names each time (several streams just rebuild it when they alternate). */
let lastPrefix = { stream: '', domain: undefined as string | undefined, text: '' };

function pubAckPrefix(stream: string, domain: string | undefined): string {
  const l = lastPrefix;
  if (l.stream === stream && l.domain === domain && l.text !== '') return l.text;
  const name = goJson(stream);
  const text = domain ? `{"stream":${name}, "domain":${goJson(domain)}, "seq":` : `{"stream":${name}, "seq":`;
  lastPrefix = { stream, domain, text };
  return text;
}

// ---- leader side ----

export type ProposeDecision =
  /** Propose `entry` (already encoded); its PubAck is decided when it is applied. */
  | { kind: 'propose'; lseq: number; entry: Buffer }
  /** Answer now without proposing (no sequence is used). */
  | { kind: 'answer'; result: ApplyResult }
  /** Leader still applying entries of earlier terms: hold the publish and retry. */
  | { kind: 'not_ready' };

/**
 * The stream leader's clustered sequence (nats-server mset.clseq) and in-flight bookkeeping.
 *
 * A new leader must not propose until it has applied every entry its log held when it was
 * elected (`ready`): proposals are numbered from the applied state, and a number taken from a
 * stale state would make the entry look like a replay on every replica, silently dropping the
 * message. Until then propose() answers `not_ready` and the caller holds the publish.
 *
 * Checks that depend on state are only made before proposing when no proposal of ours is in
 * flight (then the applied store is exactly what apply will see); otherwise the message is
 * proposed and the deterministic apply decides, exactly as on every replica (2.9.10 always
 * does the latter). A duplicate of an id that is already applied is answered at once: apply
 * would reach the same answer because it measures the window with the timestamp we put in
 * the entry, and leader timestamps do not go backwards.
 */
export class ProposalSequencer {
  private clseq = 0;
  /** Each proposal in flight: lseq, subject (for the CAS pre-check), msg id, PubAck reply. */
  private readonly pending = new InflightProposals();
  /** msg id -> number of proposals in flight carrying it (only publishes with an id touch it). */
  private readonly inflightIds = new Map<string, number>();

  constructor(readonly applier: StreamApplier) {}

  /** Proposals made and not yet applied. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** A msg id with a proposal in flight (its outcome is decided at apply). */
  isInFlight(msgId: string): boolean {
    return this.inflightIds.has(msgId);
  }

  /**
   * Decide what to do with a publish. `tsNs` becomes the message's timestamp on every replica
   * and must not go backwards on one leader. `ready`: this leader has applied every entry its
   * log held when it was elected. `ackTo`: where the PubAck goes once applied ('' for none), returned by settle().
   */
  propose(subject: string, reply: string, hdr: Buffer | null, msg: Buffer | null, tsNs: bigint, ready: boolean, ackTo = ''): ProposeDecision {
    if (!ready) return { kind: 'not_ready' };
    const a = this.applier;
    const base = a.expectedLseq();
    if (this.clseq === 0 || this.clseq < base) this.clseq = base;
    const h = hdr && hdr.length ? parsePubHeaders(hdr) : undefined;
    if (h?.msgId) {
      const dup = a.lookupMsgId(h.msgId, tsNs);
      if (dup !== undefined) return { kind: 'answer', result: { kind: 'duplicate', seq: dup } };
    }
    if (h && this.pending.size === 0 && this.clseq === base) {
      // Nothing of ours is in flight and everything before is applied: the store is what
      // apply will see, so failing checks can be answered without using a sequence.
      const lastSeq = a.store.lastSeq();
      if (h.expectedStream !== undefined && h.expectedStream !== a.opts.stream) {
        return { kind: 'answer', result: { kind: 'rejected', error: jsErr('StreamNotMatch') } };
      }
      if (h.expectedLastSeq !== undefined && h.expectedLastSeq !== lastSeq) {
        return { kind: 'answer', result: { kind: 'rejected', error: jsErr('StreamWrongLastSequence', { seq: lastSeq }) } };
      }
    }
    if (h?.expectedLastSubjSeq !== undefined && h.expectedLastSubjSeq > 0) {
      // A CAS on a subject is decided here, as 2.9.10's leader does (apply does not check it):
      // against the applied store, which is exact while nothing on that subject is in flight. A
      // proposal in flight on it means the client cannot have seen the sequence it will get.
      const subj = h.expectedLastSubjSeqSubject ?? subject;
      const have = a.store.lastSeqForSubject(subj);
      const busy = /[*>]/.test(subj) ? this.pending.size > 0 : this.pending.hasSubject(subj);
      if (busy || have !== h.expectedLastSubjSeq) {
        return { kind: 'answer', result: { kind: 'rejected', error: jsErr('StreamWrongLastSequence', { seq: have }) } };
      }
    }
    const lseq = this.clseq++;
    const id = h?.msgId ?? '';
    this.pending.push(lseq, subject, id, ackTo);
    if (id) this.inflightIds.set(id, (this.inflightIds.get(id) ?? 0) + 1);
    const entry = encodeStreamMsg({ lseq, ts: tsNs, subject, reply, hdr, msg });
    return { kind: 'propose', lseq, entry };
  }

  /** The leader applied the entry with this lseq (whatever the result). True if it was ours. */
  applied(lseq: number): boolean {
    return this.settle(lseq) !== undefined;
  }

  /** applied(), returning the proposal's `ackTo` ('' for none), or undefined when it was not ours. */
  settle(lseq: number): string | undefined {
    if (!this.pending.take(lseq)) return undefined;
    const id = this.pending.takenId;
    if (id) {
      const n = this.inflightIds.get(id) ?? 0;
      if (n <= 1) this.inflightIds.delete(id);
      else this.inflightIds.set(id, n - 1);
    }
    return this.pending.takenReply;
  }

  /** Leadership changed or proposals were dropped: forget everything in flight. */
  reset(): void {
    this.clseq = 0;
    this.pending.clear();
    this.inflightIds.clear();
  }
}

// ---- adapter for the stream stores ----

const REFUSALS: Partial<Record<StoreErrorCode, LimitRefusal>> = {
  ErrMaxMsgs: 'max_msgs',
  ErrMaxBytes: 'max_bytes',
  ErrMaxMsgsPerSubject: 'max_msgs_per_subject',
  ErrMsgTooLarge: 'msg_too_large',
};

/**
 * The apply view of a memory or file stream store. Discard-new limits are checked at apply
 * (every replica holds the same store at the same log position, so the refusal is the same
 * everywhere and is counted in clfs, as 2.9.10 did).
 */
export function applyStoreFor(store: StreamStore): ApplyStore {
  const empty = Buffer.alloc(0);
  return {
    state() {
      return { msgs: store.msgs, firstSeq: store.firstSeq, lastSeq: store.lastSeq };
    },
    lastSeq() {
      return store.lastSeq;
    },
    storeRaw(subject, hdr, msg, seq, tsNs) {
      try {
        store.storeRawMsg(subject, hdr ?? undefined, msg ?? empty, seq, tsNs, undefined, true);
        return undefined;
      } catch (err) {
        const r = isStoreError(err) ? REFUSALS[err.code] : undefined;
        if (r) return r;
        throw err;
      }
    },
    skipMsg(seq) {
      store.skipMsg(seq);
    },
    compact(nextSeq) {
      // Only called on an empty store: move it so that nextSeq is the next sequence.
      const last = store.lastSeq;
      if (nextSeq - 1 > last) store.skipMsgs(last + 1, nextSeq - 1 - last);
      store.compact(nextSeq);
    },
    lastSeqForSubject(subject) {
      return store.loadLastMsg(subject)?.seq ?? 0;
    },
  };
}
