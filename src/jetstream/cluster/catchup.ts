// Stream catch-up (jetstream-cluster.md §5.4), the pure parts:
//  - the sync request a lagging follower sends to the leader's `$JSC.SYNC.<rand>` subject,
//  - the `$JSC.SYNC.` / `$JSC.R.` / `$JSC.ACK.` subjects (8 base-62 characters),
//  - the flow-control ack subject `$JSC.ACK.<rand>.<size>`: the leader sends each catch-up
//    message with that reply, the follower acks with an empty message and the leader reads
//    the size back from the subject to release it from its window,
//  - the leader's per-catch-up window (≤ 64 MiB and ≤ 256 Ki messages outstanding) and an
//    optional server-wide byte budget shared by all catch-ups (64 MiB in nats-server).

export class CatchupError extends Error {
  constructor(message: string) {
    super(`catchup: ${message}`);
    this.name = 'CatchupError';
  }
}

/** nats-server's streamSyncRequest. `delete_ranges` and `min_applied` are newer than 2.9.10. */
export interface SyncRequest {
  peer?: string;
  first_seq: number;
  last_seq: number;
  /** The follower understands deleteRangeOp (op 15) for gaps. */
  delete_ranges: boolean;
  /** The raft index of the snapshot that triggered the request; the leader waits to have applied it. */
  min_applied: number;
}

const isSeq = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export function encodeSyncRequest(r: SyncRequest): Buffer {
  if (!isSeq(r.first_seq) || !isSeq(r.last_seq) || !isSeq(r.min_applied)) throw new CatchupError('sequences must be non-negative integers');
  const o: Record<string, unknown> = {};
  if (r.peer) o.peer = r.peer;
  o.first_seq = r.first_seq;
  o.last_seq = r.last_seq;
  o.delete_ranges = r.delete_ranges;
  o.min_applied = r.min_applied;
  return Buffer.from(JSON.stringify(o), 'utf8');
}

/** Decode a sync request; a 2.9.10 request (peer, first_seq, last_seq only) gets the defaults. */
export function decodeSyncRequest(buf: Buffer | string): SyncRequest {
  let v: unknown;
  try {
    v = JSON.parse(typeof buf === 'string' ? buf : buf.toString('utf8'));
  } catch (err) {
    throw new CatchupError(`bad sync request JSON (${(err as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new CatchupError('sync request is not an object');
  const o = v as Record<string, unknown>;
  const seq = (k: string): number => {
    const x = o[k];
    if (x === undefined || x === null) return 0;
    if (!isSeq(x)) throw new CatchupError(`${k} is not a sequence`);
    return x;
  };
  const out: SyncRequest = {
    first_seq: seq('first_seq'), last_seq: seq('last_seq'), delete_ranges: false, min_applied: seq('min_applied'),
  };
  if (o.peer !== undefined && o.peer !== null) {
    if (typeof o.peer !== 'string') throw new CatchupError('peer is not a string');
    if (o.peer) out.peer = o.peer;
  }
  if (o.delete_ranges !== undefined && o.delete_ranges !== null) {
    if (typeof o.delete_ranges !== 'boolean') throw new CatchupError('delete_ranges is not a boolean');
    out.delete_ranges = o.delete_ranges;
  }
  if (out.last_seq < out.first_seq) throw new CatchupError(`last_seq ${out.last_seq} below first_seq ${out.first_seq}`);
  return out;
}

/**
 * The request a follower sends after installing a snapshot whose last sequence is ahead of
 * its store, or undefined when it already has everything (nats-server calculateSyncRequest).
 */
export function syncRequestFor(ownLastSeq: number, snapLastSeq: number, peer: string, snapIndex: number): SyncRequest | undefined {
  if (ownLastSeq >= snapLastSeq) return undefined;
  return { peer, first_seq: ownLastSeq + 1, last_seq: snapLastSeq, delete_ranges: true, min_applied: snapIndex };
}

// ---- subjects ----

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const SYNC_SUFFIX_LEN = 8;

/** 8 base-62 characters, as nats-server's syncSubject suffix. `rand` is injectable for tests. */
export function syncSuffix(rand: () => number = Math.random): string {
  let s = '';
  for (let i = 0; i < SYNC_SUFFIX_LEN; i++) s += DIGITS[Math.floor(rand() * 62) % 62];
  return s;
}

export const syncSubject = (rand?: () => number): string => `$JSC.SYNC.${syncSuffix(rand)}`;
export const syncReplySubject = (rand?: () => number): string => `$JSC.R.${syncSuffix(rand)}`;
/** The wildcard the leader subscribes to for one catch-up run: `$JSC.ACK.<rand>.*`. */
export const catchupAckWildcard = (rand?: () => number): string => `$JSC.ACK.${syncSuffix(rand)}.*`;

/** The reply subject for one catch-up message of `size` bytes, from the run's wildcard. */
export function formatCatchupAck(wildcard: string, size: number): string {
  if (!wildcard.endsWith('.*')) throw new CatchupError(`ack wildcard ${wildcard} does not end in .*`);
  if (!Number.isSafeInteger(size) || size < 0) throw new CatchupError(`bad size ${size}`);
  return `${wildcard.slice(0, -1)}${size}`;
}

/**
 * The size carried by an ack subject (its last token, decimal digits only), or -1 when the
 * token is not a number, or 0 when the subject has no token to read (as nats-server).
 */
export function parseCatchupAckSize(subject: string): number {
  const li = subject.lastIndexOf('.');
  if (li <= 0 || li >= subject.length) return 0;
  const d = subject.slice(li + 1);
  if (d.length === 0 || d.length > 15 || !/^[0-9]+$/.test(d)) return -1;
  return Number(d);
}

// ---- flow control ----

export const CATCHUP_MAX_OUT_BYTES = 64 * 1024 * 1024;
export const CATCHUP_MAX_OUT_MSGS = 256 * 1024;
export const CATCHUP_MAX_TOTAL_OUT_BYTES = 64 * 1024 * 1024;

/** Bytes outstanding over every catch-up a server runs (shared by CatchupWindow instances). */
export class CatchupBudget {
  outBytes = 0;
  constructor(readonly maxBytes = CATCHUP_MAX_TOTAL_OUT_BYTES) {}
  belowMax(): boolean {
    return this.outBytes <= this.maxBytes;
  }
}

/**
 * One catch-up run's flow-control window. The leader asks canSend() before each message; like
 * nats-server it checks the outstanding totals *before* adding the next message, so a single
 * message larger than the window still goes out (it cannot deadlock) and the window is
 * exceeded by at most one message. An ack whose size does not parse releases the message
 * count only, so a bad subject cannot inflate the window.
 */
export class CatchupWindow {
  outBytes = 0;
  outMsgs = 0;
  constructor(
    readonly maxBytes = CATCHUP_MAX_OUT_BYTES,
    readonly maxMsgs = CATCHUP_MAX_OUT_MSGS,
    readonly budget?: CatchupBudget,
  ) {}

  canSend(): boolean {
    return this.outBytes <= this.maxBytes && this.outMsgs <= this.maxMsgs && (this.budget?.belowMax() ?? true);
  }

  /** Record a message of `size` bytes sent (the size put in its ack subject). */
  sent(size: number): void {
    this.outBytes += size;
    this.outMsgs++;
    if (this.budget) this.budget.outBytes += size;
  }

  /** Release an acked message (size from parseCatchupAckSize). Never goes below zero. */
  acked(size: number): void {
    const sz = size > 0 ? Math.min(size, this.outBytes) : 0;
    this.outBytes -= sz;
    if (this.outMsgs > 0) this.outMsgs--;
    if (this.budget) this.budget.outBytes = Math.max(0, this.budget.outBytes - sz);
  }

  /** The run ended (done, aborted or timed out): hand back whatever is still outstanding. */
  close(): void {
    if (this.budget) this.budget.outBytes = Math.max(0, this.budget.outBytes - this.outBytes);
    this.outBytes = 0;
    this.outMsgs = 0;
  }
}
