// Planning the compaction of a sealed block: the new content keeps, in their
// original order, the records the log still needs and drops the rest.
//
// Kept: MSG records of live messages, every SKIP and MARK (they carry first/last
// sequence state), and DEL records that may still hide a message some block
// holds on disk. Dropped: MSG records of removed messages, ERASED records, and
// DEL records whose messages are in no block any more. When the block's highest
// sequence was a dropped record, a one-sequence SKIP at the end keeps the
// stream's last sequence right when the log is replayed without index files.
//
// nats-server (filestore.go, msgBlock.compactWithFloor) rewrites a block the
// same way, keeping only live messages and still-needed tombstones.

import { encodeControl, CONTROL_LEN, parseRecord, RecordView, REC_DEL, REC_MARK, REC_MSG, REC_SKIP } from './record.js';
import { recordMaxSeq } from './block-scan.js';

export interface CompactCtl {
  type: number;
  seq: number;
  ts: bigint;
  value: number;
  off: number;
}

export interface CompactPlan {
  buf: Buffer;
  /** Kept MSG records: [seq, old offset, new offset]. */
  moves: Array<[number, number, number]>;
  ctl: CompactCtl[];
  msgMin: number;
  msgMax: number;
  tombs: number[];
  hasMark: boolean;
  /** A MARK record was kept. */
  marks: boolean;
}

export interface CompactInput {
  /** Is the MSG record of seq at offset off the live copy of that message? */
  isLive(seq: number, off: number): boolean;
  /** May a DEL of [first, first+count) still hide a message that is on disk somewhere? */
  delNeeded(first: number, count: number): boolean;
  /** Highest sequence the block speaks for, and its timestamp. */
  maxInfo: number;
  maxInfoTs: bigint;
}

/** undefined when the block has a record that does not parse (it is left alone). */
export function planCompaction(buf: Buffer, input: CompactInput): CompactPlan | undefined {
  const rv = new RecordView();
  const keep: Array<[number, number]> = [];
  const plan: CompactPlan = { buf: Buffer.alloc(0), moves: [], ctl: [], msgMin: 0, msgMax: 0, tombs: [], hasMark: false, marks: false };
  let total = 0;
  let keptMax = 0;
  let off = 0;
  while (off < buf.length) {
    if (!parseRecord(buf, off, buf.length, rv, true)) return undefined;
    const len = rv.len;
    let kept = false;
    if (rv.type === REC_MSG) {
      kept = input.isLive(rv.seq, off);
      if (kept) {
        plan.moves.push([rv.seq, off, total]);
        if (plan.msgMin === 0) plan.msgMin = rv.seq;
        plan.msgMax = rv.seq;
      }
    } else if (rv.type === REC_DEL) {
      kept = input.delNeeded(rv.seq, rv.value);
      if (kept) plan.tombs.push(rv.seq, rv.value);
    } else if (rv.type !== REC_MSG && rv.type !== 5 /* ERASED */) {
      kept = true;
      plan.hasMark = true;
      if (rv.type === REC_MARK) plan.marks = true;
    }
    if (kept) {
      if (rv.type !== REC_MSG) plan.ctl.push({ type: rv.type, seq: rv.seq, ts: rv.ts, value: rv.value, off: total });
      const m = recordMaxSeq(rv);
      if (m > keptMax) keptMax = m;
      keep.push([off, len]);
      total += len;
    }
    off += len;
  }
  const needSkip = input.maxInfo > keptMax;
  const out = Buffer.allocUnsafe(total + (needSkip ? CONTROL_LEN : 0));
  let at = 0;
  for (const [o, l] of keep) {
    buf.copy(out, at, o, o + l);
    at += l;
  }
  if (needSkip) {
    encodeControl(out, at, REC_SKIP, input.maxInfo, input.maxInfoTs, 1);
    plan.ctl.push({ type: REC_SKIP, seq: input.maxInfo, ts: input.maxInfoTs, value: 1, off: at });
    plan.hasMark = true;
  }
  plan.buf = out;
  return plan;
}
