// Record-by-record scan of a block file that survives damage.
//
// Every record carries its length and a crc32 of its bytes (record.ts), so a
// scan can tell a good record from a bad one. When a record fails, the scan
// looks for the next offset where a good record starts (resync) instead of
// giving up on the rest of the block: a flipped bit in the middle of a block
// then costs one record, not every record after it. What lies between is
// reported as a damaged range together with the sequences it must have held
// (the ones between the last good record before it and the first good one
// after it). A damaged range that reaches the end of the file is a torn or
// corrupt tail: the caller cuts it.
//
// A resync candidate must be a good record that moves the sequence forward
// (MSG, ERASED or SKIP above everything seen so far) and be followed by another
// good record or the end of the file, so bytes that happen to look like a
// record inside a payload are not taken for one.

import { parseRecord, RecordView, REC_ERASED, REC_MARK, REC_MSG, REC_SKIP } from './record.js';

export interface DamagedRange {
  /** Byte range [start, end) that holds no readable record; end === file size for a tail. */
  start: number;
  end: number;
  /** Highest sequence spoken for before the damage (0 when none in this block). */
  afterSeq: number;
  /** First sequence of the good record that follows, 0 when the damage runs to the end. */
  beforeSeq: number;
  /** For a tail: sequence of the torn MSG record when its head is still readable, else 0. */
  tornSeq: number;
}

/** Highest sequence a record speaks for (MARK: the stream's last sequence at that point). */
export function recordMaxSeq(rv: RecordView): number {
  if (rv.type === REC_MSG || rv.type === REC_ERASED) return rv.seq;
  if (rv.type === REC_SKIP) return rv.seq + rv.value - 1;
  if (rv.type === REC_MARK) return rv.value;
  return 0;
}

/** Visit every good record of buf in file order; returns the damaged ranges. onRecord sees rv filled.
 *  startSeq: the highest sequence of the blocks before this one. */
export function scanRecords(buf: Buffer, rv: RecordView, startSeq: number, onRecord: (off: number) => void): DamagedRange[] {
  const damaged: DamagedRange[] = [];
  const probe = new RecordView();
  let maxSeq = startSeq;
  let off = 0;
  while (off < buf.length) {
    if (parseRecord(buf, off, buf.length, rv, true)) {
      onRecord(off);
      const m = recordMaxSeq(rv);
      if (m > maxSeq) maxSeq = m;
      off += rv.len;
      continue;
    }
    const start = off;
    const next = resync(buf, start + 1, maxSeq, probe);
    if (next < 0) {
      damaged.push({ start, end: buf.length, afterSeq: maxSeq, beforeSeq: 0, tornSeq: tornSeqAt(buf, start, maxSeq) });
      break;
    }
    parseRecord(buf, next, buf.length, probe, true);
    damaged.push({ start, end: next, afterSeq: maxSeq, beforeSeq: probe.seq, tornSeq: 0 });
    off = next;
  }
  return damaged;
}

function resync(buf: Buffer, from: number, maxSeq: number, rv: RecordView): number {
  const follow = new RecordView();
  for (let p = from; p + 28 <= buf.length; p++) {
    // Cheap pre-checks before the crc (parseRecord repeats them): plausible length and type.
    const len = buf.readUInt32LE(p);
    if (len < 28 || len > buf.length - p) continue;
    const type = buf[p + 4];
    if (type !== REC_MSG && type !== REC_ERASED && type !== REC_SKIP) continue;
    if (!parseRecord(buf, p, buf.length, rv, true) || rv.seq <= maxSeq) continue;
    const end = p + rv.len;
    if (end === buf.length || parseRecord(buf, end, buf.length, follow, true)) return p;
  }
  return -1;
}

/** Sequence of a torn MSG record at off whose fixed head is intact and follows maxSeq, else 0. */
function tornSeqAt(buf: Buffer, off: number, maxSeq: number): number {
  if (buf.length - off < 16 || buf[off + 4] !== REC_MSG) return 0;
  const seq = buf.readUInt32LE(off + 8) + buf.readUInt32LE(off + 12) * 0x1_0000_0000;
  return seq === maxSeq + 1 ? seq : 0;
}

/** Sequences a damaged range lost: those between the good records around it (for a tail, up to the
 *  next block's first sequence, the torn record's, or what a stale index listed), except the ones
 *  `gone` says are accounted for (still stored, or removed by a later record). */
export function lostSeqsOfCut(d: DamagedRange, staleSeqs: number[], nextBlockFirst: number,
  gone: (seq: number) => boolean): number[] {
  let to = d.beforeSeq > 0 ? d.beforeSeq - 1 : d.tornSeq;
  if (d.beforeSeq === 0 && nextBlockFirst > 0) to = Math.max(to, nextBlockFirst - 1);
  const seqs: number[] = [];
  for (let s = d.afterSeq + 1; s <= to; s++) if (!gone(s)) seqs.push(s);
  for (const s of staleSeqs) if (s > Math.max(to, d.afterSeq) && !gone(s)) seqs.push(s);
  return seqs;
}

/** Log text of a recovery cut. */
export function describeCut(blockId: number, d: DamagedRange, seqs: number[]): string {
  const what = d.beforeSeq === 0 ? 'torn or corrupt tail cut' : 'damaged records skipped';
  const lost = seqs.length === 0 ? 'no stored message lost'
    : seqs.length === 1 ? `message ${seqs[0]} lost` : `messages ${seqs[0]}..${seqs[seqs.length - 1]} lost (${seqs.length})`;
  return `block ${blockId}: ${what} at offset ${d.start} (${d.end - d.start} bytes): ${lost}`;
}
