// One stream catch-up run, both ends, without I/O (jetstream-cluster.md §5.4; nats-server
// runCatchup / processCatchupMsg):
//  - CatchupSender (leader) walks the requested sequences and produces the messages to send:
//    stored messages as op 4/14 entries carrying their own sequence, gaps as a deleteRangeOp
//    (op 15, when the follower said delete_ranges) or as skip entries, and an empty message at
//    the end. It stops when the flow-control window is full; acks reopen it.
//  - applyCatchupEntry (follower) applies one received message to its store.

import { CatchupError, CatchupWindow, type SyncRequest } from './catchup.js';
import { EntryOp } from './ops.js';
import {
  StreamEntryError, decodeDeleteRange, decodeStreamMsg, encodeDeleteRange, encodeSkipEntry, encodeStreamMsg,
  isSkipEntry,
} from './stream-entry.js';

export interface CatchupSourceMsg { subject: string; hdr: Buffer | null; msg: Buffer | null; ts: bigint }

/** The leader's store as the sender reads it. */
export interface CatchupSource {
  /** The message at `seq`, or undefined when it was deleted (or is below the first sequence). */
  loadMsg(seq: number): CatchupSourceMsg | undefined;
  lastSeq(): number;
}

export type CatchupOut =
  /** Send with a `$JSC.ACK.<rand>.<size>` reply (size = payload.length); counts in the window. */
  | { kind: 'msg'; payload: Buffer }
  /** Send without a reply (delete ranges are not flow controlled in nats-server). */
  | { kind: 'range'; payload: Buffer }
  /** The empty message that ends the run. */
  | { kind: 'eof'; payload: Buffer };

export class CatchupSender {
  private seq: number;
  private readonly last: number;
  private drFirst = 0;
  private drNum = 0;
  private finished = false;

  constructor(readonly req: SyncRequest, readonly source: CatchupSource, readonly window: CatchupWindow = new CatchupWindow()) {
    this.seq = Math.max(1, req.first_seq);
    this.last = req.last_seq;
  }

  get done(): boolean {
    return this.finished;
  }

  private flushRange(out: CatchupOut[]): void {
    if (this.drNum === 0) return;
    if (this.drNum === 1) {
      // A single gap is cheaper as a skip entry (and is flow controlled like a message).
      const payload = encodeSkipEntry(this.drFirst);
      this.window.sent(payload.length);
      out.push({ kind: 'msg', payload });
    } else {
      out.push({ kind: 'range', payload: encodeDeleteRange({ first: this.drFirst, num: this.drNum }) });
    }
    this.drFirst = 0;
    this.drNum = 0;
  }

  private finish(out: CatchupOut[]): CatchupOut[] {
    if (this.req.delete_ranges) this.flushRange(out);
    out.push({ kind: 'eof', payload: Buffer.alloc(0) });
    this.finished = true;
    return out;
  }

  /**
   * The next messages to send, as many as the window allows (at least one when it is open).
   * Returns [] when the window is full; call again after acks. The last item of the run is
   * `eof`; after it `done` is true.
   */
  next(): CatchupOut[] {
    const out: CatchupOut[] = [];
    if (this.finished) return out;
    if (this.seq > this.last) return this.finish(out);
    const storeLast = this.source.lastSeq();
    while (this.seq <= this.last && this.window.canSend()) {
      if (this.seq > storeLast) {
        // Asked for more than we have (we lost a tail, or the follower is ahead of us): send
        // what we have and end; the follower retries or resets.
        return this.finish(out);
      }
      const m = this.source.loadMsg(this.seq);
      if (m) {
        if (this.req.delete_ranges) this.flushRange(out);
        const payload = encodeStreamMsg({ lseq: this.seq, ts: m.ts, subject: m.subject, reply: '', hdr: m.hdr, msg: m.msg });
        this.window.sent(payload.length);
        out.push({ kind: 'msg', payload });
      } else if (this.req.delete_ranges) {
        if (this.drNum === 0) this.drFirst = this.seq;
        this.drNum++;
      } else {
        const payload = encodeSkipEntry(this.seq);
        this.window.sent(payload.length);
        out.push({ kind: 'msg', payload });
      }
      if (this.seq === this.last) {
        this.seq++;
        return this.finish(out);
      }
      this.seq++;
    }
    if (this.req.delete_ranges) this.flushRange(out);
    return out;
  }
}

/** The follower's store as catch-up writes it. */
export interface CatchupSink {
  lastSeq(): number;
  storeRaw(subject: string, hdr: Buffer | null, msg: Buffer | null, seq: number, tsNs: bigint): void;
  skipMsg(seq: number): void;
  skipMsgs(first: number, num: number): void;
}

export type CatchupApplied =
  | { kind: 'stored' | 'skip' | 'range'; lastSeq: number }
  /** A message at or below our last sequence (a resend): nothing written. */
  | { kind: 'have'; lastSeq: number };

/** True for the empty message that ends a catch-up run. */
export function isCatchupEof(payload: Buffer): boolean {
  return payload.length === 0;
}

/** After EOF: caught up when our last sequence reached what the request asked for. */
export function catchupComplete(ownLastSeq: number, req: SyncRequest): boolean {
  return ownLastSeq >= req.last_seq;
}

/**
 * Apply one catch-up message (op 4/14 with the message's own sequence, or op 15). A gap
 * (sequence beyond last + 1) is an error: writing it would leave a hole no one filled.
 */
export function applyCatchupEntry(sink: CatchupSink, payload: Buffer): CatchupApplied {
  if (payload.length === 0) throw new CatchupError('empty message is the end of the run, not an entry');
  const op = payload[0];
  const last = sink.lastSeq();
  try {
    if (op === EntryOp.deleteRangeOp) {
      const dr = decodeDeleteRange(payload);
      if (dr.num === 0) throw new CatchupError('empty delete range');
      const end = dr.first + dr.num - 1;
      if (end <= last) return { kind: 'have', lastSeq: last };
      if (dr.first > last + 1) throw new CatchupError(`delete range from ${dr.first} leaves a gap after ${last}`);
      // Only the part we do not have yet.
      const from = Math.max(dr.first, last + 1);
      sink.skipMsgs(from, end - from + 1);
      return { kind: 'range', lastSeq: end };
    }
    if (op !== EntryOp.streamMsgOp && op !== EntryOp.compressedStreamMsgOp) throw new CatchupError(`op ${op} in catch-up`);
    const m = decodeStreamMsg(payload);
    const seq = m.lseq;
    if (seq <= last) return { kind: 'have', lastSeq: last };
    if (seq !== last + 1) throw new CatchupError(`message ${seq} leaves a gap after ${last}`);
    if (isSkipEntry(m)) {
      sink.skipMsg(seq);
      return { kind: 'skip', lastSeq: seq };
    }
    sink.storeRaw(m.subject, m.hdr, m.msg, seq, m.ts);
    return { kind: 'stored', lastSeq: seq };
  } catch (err) {
    if (err instanceof StreamEntryError) throw new CatchupError(err.message);
    throw err;
  }
}
