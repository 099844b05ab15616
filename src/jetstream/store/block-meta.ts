// Per-block record metadata, saved as <id>.idx when a block is sealed so a
// restart can rebuild the index without reading payloads. It lists the block's
// live messages at seal time and all its control records, plus the block's
// full MSG sequence range and the highest sequence it speaks for (so deleted
// messages may be left out without losing last_seq or tombstone bookkeeping). The index file describes the block at a
// given size; it is trusted only when that size matches the block file and its
// own crc matches.

import * as fs from 'node:fs';
import { decodeName, encodeName } from '../../protocol/names.js';
import { crc32 } from './crc32.js';

const IDX_MAGIC = 0x58495354; // "TSIX"
const IDX_VERSION = 3;
const HEAD = 64;
const CRC_SLICE_BYTES = 256 * 1024;

let scratch: Buffer | null = null;

/** The file's bytes in the shared scratch buffer (grown as needed; 8-byte aligned at offset 0). */
function readIntoScratch(file: string): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    if (scratch === null || scratch.length < size) {
      let cap = 64 * 1024;
      while (cap < size) cap *= 2;
      scratch = Buffer.allocUnsafeSlow(cap);
    }
    let got = 0;
    while (got < size) {
      const n = fs.readSync(fd, scratch, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return scratch.subarray(0, got);
  } finally {
    fs.closeSync(fd);
  }
}

/** Let go of the transient load buffer (after recovery). */
export function releaseLoadScratch(): void {
  scratch = null;
}

export class BlockMeta {
  n = 0;
  cap: number;
  type: Uint8Array;
  seq: Float64Array;
  ts: BigInt64Array;
  aux: Float64Array; // MSG: ttl seconds; DEL/SKIP: count; MARK: last seq
  off: Uint32Array;
  len: Uint32Array;
  size: Uint32Array; // MSG: accounted bytes
  subj: Int32Array; // MSG: index into subjects
  subjects: string[] = [];
  /** MSG sequence range of every record ever written to the block (0 when none). */
  msgMin = 0;
  msgMax = 0;
  /** Highest sequence any record of the block speaks for, and its timestamp. */
  maxInfo = 0;
  maxInfoTs = 0n;
  private subjIds = new Map<string, number>();
  /** The subject of the last add() and its id: consecutive messages mostly share a subject. */
  private lastSubject: string | null = null;
  private lastSubjectId = -1;

  constructor(cap = 4096) {
    this.cap = cap;
    this.type = new Uint8Array(cap);
    this.seq = new Float64Array(cap);
    this.ts = new BigInt64Array(cap);
    this.aux = new Float64Array(cap);
    this.off = new Uint32Array(cap);
    this.len = new Uint32Array(cap);
    this.size = new Uint32Array(cap);
    this.subj = new Int32Array(cap);
  }

  private grow(): void {
    const cap = Math.max(16, this.cap * 2);
    const g = <T extends { set(a: T): void }>(a: T, b: T): T => {
      b.set(a);
      return b;
    };
    this.type = g(this.type, new Uint8Array(cap));
    this.seq = g(this.seq, new Float64Array(cap));
    this.ts = g(this.ts, new BigInt64Array(cap));
    this.aux = g(this.aux, new Float64Array(cap));
    this.off = g(this.off, new Uint32Array(cap));
    this.len = g(this.len, new Uint32Array(cap));
    this.size = g(this.size, new Uint32Array(cap));
    this.subj = g(this.subj, new Int32Array(cap));
    this.cap = cap;
  }

  add(type: number, seq: number, ts: bigint, aux: number, off: number, len: number, size: number, subject: string | null): void {
    if (this.n === this.cap) this.grow();
    const i = this.n++;
    this.type[i] = type;
    this.seq[i] = seq;
    this.ts[i] = ts;
    this.aux[i] = aux;
    this.off[i] = off;
    this.len[i] = len;
    this.size[i] = size;
    if (subject === null) this.subj[i] = -1;
    else if (subject === this.lastSubject) this.subj[i] = this.lastSubjectId;
    else {
      let id = this.subjIds.get(subject);
      if (id === undefined) {
        id = this.subjects.length;
        this.subjects.push(subject);
        this.subjIds.set(subject, id);
      }
      this.subj[i] = id;
      this.lastSubject = subject;
      this.lastSubjectId = id;
    }
  }

  /** Serialise for a block file of blockSize bytes. */
  encode(blockSize: number): Buffer {
    const buf = this.encodeBody(blockSize);
    buf.writeUInt32LE(crc32(buf, 0, buf.length - 4), buf.length - 4);
    return buf;
  }

  /** Everything but the trailing crc (left as zero). */
  private encodeBody(blockSize: number): Buffer {
    const n = this.n;
    const subjBufs = this.subjects.map(encodeName);
    const subjBytes = subjBufs.reduce((a, b) => a + 2 + b.length, 0);
    const pad8 = (x: number): number => (x + 7) & ~7;
    const head = HEAD;
    const total = head + n * 8 * 3 + pad8(n * 4 * 4 + n) + subjBytes + 4;
    const buf = Buffer.alloc(total);
    buf.writeUInt32LE(IDX_MAGIC, 0);
    buf.writeUInt32LE(IDX_VERSION, 4);
    buf.writeDoubleLE(blockSize, 8);
    buf.writeUInt32LE(n, 16);
    buf.writeUInt32LE(this.subjects.length, 20);
    // Bytes 24-27 held a crc32 of the whole block file. Recovery never compared it with the file
    // (every record carries its own crc, checked when it is read), and computing it was a second
    // pass over every byte written: it is written as 0 now and ignored on load.
    buf.writeUInt32LE(0, 24);
    buf.writeDoubleLE(this.msgMin, 32);
    buf.writeDoubleLE(this.msgMax, 40);
    buf.writeDoubleLE(this.maxInfo, 48);
    buf.writeBigInt64LE(this.maxInfoTs, 56);
    let off = head;
    const put = (a: ArrayBufferView, bytes: number): void => {
      buf.set(new Uint8Array(a.buffer, a.byteOffset, bytes), off);
      off += bytes;
    };
    put(this.seq, n * 8);
    put(this.ts, n * 8);
    put(this.aux, n * 8);
    put(this.off, n * 4);
    put(this.len, n * 4);
    put(this.size, n * 4);
    put(this.subj, n * 4);
    put(this.type, n);
    off = head + n * 8 * 3 + pad8(n * 4 * 4 + n);
    for (const b of subjBufs) {
      buf.writeUInt16LE(b.length, off);
      off += 2;
      off += b.copy(buf, off);
    }
    return buf.subarray(0, off + 4);
  }

  /** encode() spread over event-loop turns: the crc of a large index is computed in slices. */
  async encodeAsync(blockSize: number): Promise<Buffer> {
    const buf = this.encodeBody(blockSize);
    const end = buf.length - 4;
    let c = 0;
    for (let at = 0; at < end; at += CRC_SLICE_BYTES) {
      c = crc32(buf, at, Math.min(end, at + CRC_SLICE_BYTES), c);
      if (at + CRC_SLICE_BYTES < end) await new Promise((r) => setImmediate(r));
    }
    buf.writeUInt32LE(c, end);
    return buf;
  }

  /** Load an index file; undefined when missing, corrupt or not describing a block of blockSize bytes
   *  (without blockSize: any size, for hints about a block that no longer matches its index).
   *  With `transient` the columns are views of a buffer the next transient load reuses: recovery
   *  replays one index at a time, and a fresh ~2 MB buffer per block left the process holding the
   *  freed memory of all of them (the allocator does not give it back to the OS). */
  static load(file: string, blockSize?: number, transient = false): BlockMeta | undefined {
    let buf: Buffer;
    try {
      buf = transient ? readIntoScratch(file) : fs.readFileSync(file);
    } catch {
      return undefined;
    }
    if (buf.length < HEAD + 4 || buf.readUInt32LE(0) !== IDX_MAGIC || buf.readUInt32LE(4) !== IDX_VERSION) return undefined;
    if (crc32(buf, 0, buf.length - 4) !== buf.readUInt32LE(buf.length - 4)) return undefined;
    if (blockSize !== undefined && buf.readDoubleLE(8) !== blockSize) return undefined;
    const n = buf.readUInt32LE(16);
    const ns = buf.readUInt32LE(20);
    if (HEAD + n * 8 * 3 + n * 4 * 4 + n > buf.length) return undefined;
    const m = new BlockMeta(0);
    m.n = n;
    m.cap = n;
    m.msgMin = buf.readDoubleLE(32);
    m.msgMax = buf.readDoubleLE(40);
    m.maxInfo = buf.readDoubleLE(48);
    m.maxInfoTs = buf.readBigInt64LE(56);
    // Column views straight onto the file buffer when it is 8-byte aligned (large reads are), else copies.
    const ab = buf.buffer;
    const aligned = buf.byteOffset % 8 === 0;
    let off = HEAD;
    const col = <T>(ctor: new (b: ArrayBuffer, o: number, l: number) => T, bytesPer: number): T => {
      const bytes = n * bytesPer;
      let v: T;
      if (aligned) v = new ctor(ab as ArrayBuffer, buf.byteOffset + off, n);
      else {
        const copy = new Uint8Array(bytes);
        copy.set(buf.subarray(off, off + bytes));
        v = new ctor(copy.buffer, 0, n);
      }
      off += bytes;
      return v;
    };
    m.seq = col(Float64Array, 8);
    m.ts = col(BigInt64Array, 8);
    m.aux = col(Float64Array, 8);
    m.off = col(Uint32Array, 4);
    m.len = col(Uint32Array, 4);
    m.size = col(Uint32Array, 4);
    m.subj = col(Int32Array, 4);
    m.type = col(Uint8Array, 1);
    off = HEAD + n * 8 * 3 + ((n * 4 * 4 + n + 7) & ~7);
    for (let i = 0; i < ns; i++) {
      if (off + 2 > buf.length - 4) return undefined;
      const l = buf.readUInt16LE(off);
      off += 2;
      if (off + l > buf.length - 4) return undefined;
      const s = decodeName(buf, off, off + l);
      off += l;
      m.subjects.push(s);
      m.subjIds.set(s, i);
    }
    return m;
  }
}
