// The stream raft group's snapshot: a description of the stream's *state* (counts, first/last
// sequence, the clustered failure count `clfs` and the interior deletes), not its messages.
// Two encodings exist (jetstream-cluster.md §5.3):
//
//  * binary (nats-server store.go EncodedStreamState / DecodeStreamState), uvarints:
//      u8 42 | u8 version (1, or 2 = with sources) | msgs | bytes | first | last | failed
//      | [v2: #sources, per source: len+name, seq, len+ident] | numDeleted | delete blocks…
//    A delete block is either a run (u8 33 | uvarint first | uvarint num) or an AVL sequence
//    set (u8 22 | u8 version 1|2 | u32 LE #nodes | u32 LE size | per node: u64 base,
//    buckets×u64 bitmap (v2: 32, v1: 64), u16 height). Blocks run to the end of the buffer.
//  * JSON (2.9.10 and older): {"messages","bytes","first_seq","last_seq","clfs","deleted":[…]}
//
// decodeStreamSnapshot accepts both; malformed input throws StreamSnapshotError.
// (src/jetstream/store/stream-state-codec.ts writes the same v1 layout with runs only; this
// module also reads sequence-set blocks, v2 sources and the JSON form that peers may send.)

import { uvarintLen } from '../store/varint.js';

export class StreamSnapshotError extends Error {
  constructor(message: string) {
    super(`stream snapshot: ${message}`);
    this.name = 'StreamSnapshotError';
  }
}

export const STREAM_STATE_MAGIC = 42;
export const STREAM_STATE_VERSION = 1;
export const STREAM_STATE_VERSION_SOURCES = 2;
export const RUN_LENGTH_MAGIC = 33;
export const SEQSET_MAGIC = 22;

const SEQSET_HDR = 10;
const V2_BUCKETS = 32;
const V1_BUCKETS = 64;
const BITS = 64;

export type DeleteBlock =
  /** A run of `num` deleted sequences from `first`. */
  | { kind: 'range'; first: number; num: number }
  /** Sorted, distinct deleted sequences (AVL set in binary, the `deleted` array in JSON). */
  | { kind: 'set'; seqs: number[] };

export interface SourceState { seq: number; ident: string }

export interface StreamSnapshotState {
  msgs: number;
  bytes: number;
  firstSeq: number;
  lastSeq: number;
  /** clfs: proposals that failed at apply (dedupe, expected-* checks, limits). */
  failed: number;
  deleted: DeleteBlock[];
  /** Only in binary version 2. */
  sources?: Map<string, SourceState>;
}

export function numDeleted(blocks: DeleteBlock[]): number {
  let n = 0;
  for (const b of blocks) n += b.kind === 'range' ? b.num : b.seqs.length;
  return n;
}

/** Every deleted sequence, in block order. */
export function* deletedSequences(blocks: DeleteBlock[]): Generator<number> {
  for (const b of blocks) {
    if (b.kind === 'range') for (let s = b.first; s < b.first + b.num; s++) yield s;
    else yield* b.seqs;
  }
}

/**
 * Turn a sorted list of deleted sequences into blocks: long runs as ranges (3 bytes each),
 * the scattered rest as one sequence set.
 */
export function deleteBlocksFrom(sortedSeqs: number[], minRun = 16): DeleteBlock[] {
  const out: DeleteBlock[] = [];
  let scattered: number[] = [];
  let i = 0;
  while (i < sortedSeqs.length) {
    let j = i + 1;
    while (j < sortedSeqs.length && sortedSeqs[j] === sortedSeqs[j - 1]! + 1) j++;
    if (j - i >= minRun) {
      if (scattered.length) out.push({ kind: 'set', seqs: scattered }), (scattered = []);
      out.push({ kind: 'range', first: sortedSeqs[i]!, num: j - i });
    } else {
      for (let k = i; k < j; k++) scattered.push(sortedSeqs[k]!);
    }
    i = j;
  }
  if (scattered.length) out.push({ kind: 'set', seqs: scattered });
  return out;
}

// ---- varints ----

class Writer {
  buf: Buffer;
  off = 0;
  constructor(size: number) {
    this.buf = Buffer.alloc(size);
  }
  u8(v: number): void {
    this.buf[this.off++] = v;
  }
  uv(v: number): void {
    while (v >= 0x80) {
      this.buf[this.off++] = (v % 128) | 0x80;
      v = Math.floor(v / 128);
    }
    this.buf[this.off++] = v;
  }
  str(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.uv(n);
    this.off += this.buf.write(s, this.off, n, 'utf8');
  }
}

class Reader {
  off: number;
  constructor(readonly buf: Buffer, off: number) {
    this.off = off;
  }
  uv(what: string): number {
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.off >= this.buf.length) throw new StreamSnapshotError(`truncated ${what}`);
      const b = this.buf[this.off++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (!Number.isSafeInteger(v)) throw new StreamSnapshotError(`${what} beyond 2^53`);
        return v;
      }
      mul *= 128;
    }
    throw new StreamSnapshotError(`${what}: varint too long`);
  }
  str(what: string): string {
    const n = this.uv(`${what} length`);
    if (this.buf.length - this.off < n) throw new StreamSnapshotError(`truncated ${what}`);
    const s = this.buf.toString('utf8', this.off, this.off + n);
    this.off += n;
    return s;
  }
}

// ---- AVL sequence-set block ----

function checkSet(seqs: number[]): void {
  for (let i = 0; i < seqs.length; i++) {
    const s = seqs[i]!;
    if (!Number.isSafeInteger(s) || s < 0 || (i > 0 && s <= seqs[i - 1]!)) {
      throw new StreamSnapshotError('set block sequences must be sorted, distinct and non-negative');
    }
  }
}

/** Nodes of an AVL seqset v2 encoding: base aligned to 2048 as nats-server's insert does. */
function seqsetNodes(seqs: number[]): Array<{ base: number; bits: BigUint64Array }> {
  const entries = V2_BUCKETS * BITS;
  const nodes: Array<{ base: number; bits: BigUint64Array }> = [];
  let cur: { base: number; bits: BigUint64Array } | undefined;
  for (const s of seqs) {
    const base = Math.floor(s / entries) * entries;
    if (!cur || cur.base !== base) {
      cur = { base, bits: new BigUint64Array(V2_BUCKETS) };
      nodes.push(cur);
    }
    const idx = s - base;
    cur.bits[Math.floor(idx / BITS)]! |= 1n << BigInt(idx % BITS);
  }
  return nodes;
}

function seqsetLen(nodes: number): number {
  return SEQSET_HDR + nodes * ((V2_BUCKETS + 1) * 8 + 2);
}

function writeSeqset(w: Writer, seqs: number[], nodes: Array<{ base: number; bits: BigUint64Array }>): void {
  const b = w.buf;
  b[w.off] = SEQSET_MAGIC;
  b[w.off + 1] = 2;
  b.writeUInt32LE(nodes.length, w.off + 2);
  b.writeUInt32LE(seqs.length, w.off + 6);
  w.off += SEQSET_HDR;
  // Heights only matter to Go's tree shape, which its decoder rebuilds by re-inserting; 1 is valid.
  for (const n of nodes) {
    b.writeBigUInt64LE(BigInt(n.base), w.off);
    w.off += 8;
    for (let i = 0; i < V2_BUCKETS; i++, w.off += 8) b.writeBigUInt64LE(n.bits[i]!, w.off);
    b.writeUInt16LE(1, w.off);
    w.off += 2;
  }
}

function readSeqset(buf: Buffer, off: number): { seqs: number[]; next: number } {
  if (buf.length - off < SEQSET_HDR) throw new StreamSnapshotError('truncated sequence set header');
  const version = buf[off + 1];
  const buckets = version === 2 ? V2_BUCKETS : version === 1 ? V1_BUCKETS : 0;
  if (!buckets) throw new StreamSnapshotError(`sequence set version ${version}`);
  const nn = buf.readUInt32LE(off + 2);
  const size = buf.readUInt32LE(off + 6);
  const perNode = (buckets + 1) * 8 + 2;
  if (nn > Math.floor((buf.length - off - SEQSET_HDR) / perNode)) throw new StreamSnapshotError('sequence set node count exceeds the buffer');
  let at = off + SEQSET_HDR;
  const seen = new Set<number>();
  for (let i = 0; i < nn; i++) {
    const base = buf.readBigUInt64LE(at);
    at += 8;
    for (let bk = 0; bk < buckets; bk++, at += 8) {
      let word = buf.readBigUInt64LE(at);
      let bit = 0;
      while (word !== 0n) {
        if (word & 1n) {
          const s = base + BigInt(bk * BITS + bit);
          if (s > BigInt(Number.MAX_SAFE_INTEGER)) throw new StreamSnapshotError('sequence set entry beyond 2^53');
          seen.add(Number(s));
        }
        word >>= 1n;
        bit++;
      }
    }
    at += 2; // height
  }
  if (seen.size !== size) throw new StreamSnapshotError(`sequence set size ${size} but ${seen.size} sequences`);
  return { seqs: [...seen].sort((a, b) => a - b), next: at };
}

// ---- binary ----

function checkNum(v: number, what: string): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new StreamSnapshotError(`${what} ${v} is not a non-negative integer`);
}

/** Binary encoding (version 1, or 2 when `sources` is present). */
export function encodeStreamSnapshot(s: StreamSnapshotState): Buffer {
  for (const k of ['msgs', 'bytes', 'firstSeq', 'lastSeq', 'failed'] as const) checkNum(s[k], k);
  const nd = numDeleted(s.deleted);
  let size = 2 + uvarintLen(s.msgs) + uvarintLen(s.bytes) + uvarintLen(s.firstSeq) + uvarintLen(s.lastSeq) +
    uvarintLen(s.failed) + uvarintLen(nd);
  if (s.sources) {
    size += 10;
    for (const [name, src] of s.sources) {
      checkNum(src.seq, 'source seq');
      size += 30 + Buffer.byteLength(name, 'utf8') + Buffer.byteLength(src.ident, 'utf8');
    }
  }
  const sets = new Map<DeleteBlock, Array<{ base: number; bits: BigUint64Array }>>();
  for (const b of s.deleted) {
    if (b.kind === 'range') {
      checkNum(b.first, 'range first');
      checkNum(b.num, 'range num');
      size += 1 + uvarintLen(b.first) + uvarintLen(b.num);
    } else {
      checkSet(b.seqs);
      const nodes = seqsetNodes(b.seqs);
      sets.set(b, nodes);
      size += seqsetLen(nodes.length);
    }
  }
  const w = new Writer(size);
  w.u8(STREAM_STATE_MAGIC);
  w.u8(s.sources ? STREAM_STATE_VERSION_SOURCES : STREAM_STATE_VERSION);
  w.uv(s.msgs);
  w.uv(s.bytes);
  w.uv(s.firstSeq);
  w.uv(s.lastSeq);
  w.uv(s.failed);
  if (s.sources) {
    w.uv(s.sources.size);
    for (const [name, src] of s.sources) {
      w.str(name);
      w.uv(src.seq);
      w.str(src.ident);
    }
  }
  w.uv(nd);
  if (nd > 0) {
    for (const b of s.deleted) {
      if (b.kind === 'range') {
        if (b.num === 0) continue;
        w.u8(RUN_LENGTH_MAGIC);
        w.uv(b.first);
        w.uv(b.num);
      } else if (b.seqs.length) {
        writeSeqset(w, b.seqs, sets.get(b)!);
      }
    }
  }
  return w.buf.subarray(0, w.off);
}

export function isBinaryStreamSnapshot(buf: Buffer): boolean {
  return buf.length >= 2 && buf[0] === STREAM_STATE_MAGIC &&
    (buf[1] === STREAM_STATE_VERSION || buf[1] === STREAM_STATE_VERSION_SOURCES);
}

function decodeBinary(buf: Buffer): StreamSnapshotState {
  const r = new Reader(buf, 2);
  const s: StreamSnapshotState = {
    msgs: r.uv('msgs'), bytes: r.uv('bytes'), firstSeq: r.uv('first seq'), lastSeq: r.uv('last seq'),
    failed: r.uv('failed'), deleted: [],
  };
  if (buf[1] === STREAM_STATE_VERSION_SOURCES) {
    const n = r.uv('#sources');
    s.sources = new Map();
    for (let i = 0; i < n; i++) {
      const name = r.str('source name');
      const seq = r.uv('source seq');
      s.sources.set(name, { seq, ident: r.str('source ident') });
    }
  }
  const nd = r.uv('#deleted');
  if (nd > 0) {
    // Go does not compare the count with the blocks (its own count is derived from first/last
    // and msgs), so neither do we; but a count with no block at all is a truncated buffer.
    if (r.off >= buf.length) throw new StreamSnapshotError(`${nd} deleted but no delete block`);
    while (r.off < buf.length) {
      const magic = buf[r.off];
      if (magic === RUN_LENGTH_MAGIC) {
        r.off++;
        const first = r.uv('range first');
        const num = r.uv('range num');
        if (first + num > Number.MAX_SAFE_INTEGER) throw new StreamSnapshotError('range beyond 2^53');
        s.deleted.push({ kind: 'range', first, num });
      } else if (magic === SEQSET_MAGIC) {
        const { seqs, next } = readSeqset(buf, r.off);
        r.off = next;
        s.deleted.push({ kind: 'set', seqs });
      } else {
        throw new StreamSnapshotError(`unknown delete block magic ${magic}`);
      }
    }
  } else if (r.off !== buf.length) {
    throw new StreamSnapshotError(`${buf.length - r.off} bytes after a state with no deletes`);
  }
  return s;
}

// ---- JSON (2.9.10) ----

/** 2.9.10's legacy JSON form; `deleted` is omitted when empty, as Go's omitempty. */
export function encodeStreamSnapshotJson(s: StreamSnapshotState): Buffer {
  for (const k of ['msgs', 'bytes', 'firstSeq', 'lastSeq', 'failed'] as const) checkNum(s[k], k);
  let text = `{"messages":${s.msgs},"bytes":${s.bytes},"first_seq":${s.firstSeq},"last_seq":${s.lastSeq},"clfs":${s.failed}`;
  const del = [...deletedSequences(s.deleted)].sort((a, b) => a - b);
  if (del.length) text += `,"deleted":[${del.join(',')}]`;
  return Buffer.from(text + '}', 'utf8');
}

function decodeJson(buf: Buffer): StreamSnapshotState {
  let v: unknown;
  try {
    v = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new StreamSnapshotError(`neither binary nor JSON (${(err as Error).message})`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new StreamSnapshotError('JSON snapshot is not an object');
  const o = v as Record<string, unknown>;
  // Go's decoder matches keys case-insensitively.
  const get = (k: string): unknown => {
    if (k in o) return o[k];
    for (const key of Object.keys(o)) if (key.toLowerCase() === k) return o[key];
    return undefined;
  };
  const num = (k: string): number => {
    const x = get(k);
    if (x === undefined || x === null) return 0;
    if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new StreamSnapshotError(`${k} is not a non-negative integer`);
    return x;
  };
  const s: StreamSnapshotState = {
    msgs: num('messages'), bytes: num('bytes'), firstSeq: num('first_seq'), lastSeq: num('last_seq'),
    failed: num('clfs'), deleted: [],
  };
  const d = get('deleted');
  if (d !== undefined && d !== null) {
    if (!Array.isArray(d)) throw new StreamSnapshotError('deleted is not an array');
    const seqs = d.map((x) => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new StreamSnapshotError('deleted holds a non-sequence');
      return x;
    });
    // 2.9.10 writes them sorted; keep a defensive normalisation so the set invariant holds.
    const sorted = [...new Set(seqs)].sort((a, b) => a - b);
    if (sorted.length) s.deleted.push({ kind: 'set', seqs: sorted });
  }
  return s;
}

/** Decode either encoding (binary when it starts with magic 42 and a known version). */
export function decodeStreamSnapshot(buf: Buffer): StreamSnapshotState {
  if (isBinaryStreamSnapshot(buf)) return decodeBinary(buf);
  if (buf.length > 0 && buf[0] === STREAM_STATE_MAGIC) throw new StreamSnapshotError(`unknown binary version ${buf[1]}`);
  return decodeJson(buf);
}

// ---- installing a snapshot on a replica (processSnapshot / processSnapshotDeletes) ----

export interface SnapshotApplyPlan {
  /** Purge everything below this sequence first (the snapshot's first sequence moved past ours). */
  compactTo?: number;
  /** Sequences we still hold that the snapshot says are deleted (only up to our last sequence). */
  deletes: number[];
  /** The clustered failure count to adopt. */
  clfs: number;
  /** When the snapshot is ahead of us: the range to fetch with a $JSC catch-up. */
  catchup?: { firstSeq: number; lastSeq: number };
}

/**
 * What a replica must do to match a stream snapshot, given its own store state and a way to
 * ask whether it still holds a sequence. Pure: the caller applies the plan, then (if
 * `catchup`) sends the sync request for that range.
 */
export function planSnapshotApply(
  own: { firstSeq: number; lastSeq: number }, snap: StreamSnapshotState, holds: (seq: number) => boolean,
): SnapshotApplyPlan {
  const plan: SnapshotApplyPlan = { deletes: [], clfs: snap.failed };
  let first = own.firstSeq;
  if (snap.firstSeq > own.firstSeq) {
    plan.compactTo = snap.firstSeq;
    first = snap.firstSeq;
  }
  const upTo = Math.min(own.lastSeq, snap.lastSeq);
  for (const seq of deletedSequences(snap.deleted)) {
    if (seq >= first && seq <= upTo && holds(seq)) plan.deletes.push(seq);
  }
  plan.deletes.sort((a, b) => a - b);
  if (snap.lastSeq > own.lastSeq) plan.catchup = { firstSeq: Math.max(own.lastSeq + 1, plan.compactTo ?? 0), lastSeq: snap.lastSeq };
  return plan;
}
