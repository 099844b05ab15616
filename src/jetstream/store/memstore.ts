// In-memory stream store. Message bytes ([headers][payload]) are copied into
// large slabs, located by the index's loc column, so a stream of millions of
// messages is a few big buffers plus typed-array columns rather than millions
// of small objects for the garbage collector to trace. StoredMsg objects are
// made on read (views into the slab). A slab is dropped once its last message
// is gone; a slab that is mostly dead is compacted (its live messages moved to
// the current slab) so long-lived stragglers cannot pin lots of dead bytes.

import { randomFillSync } from 'node:crypto';
import { BaseStore, type RemoveKind } from './base-store.js';
import { MemConsumerStore } from './consumer-store.js';
import type { Chunk } from './msg-index.js';
import type { ConsumerStore, NowNs, RecoveredConsumer, StoreConfig, StoredMsg } from './types.js';

const TWO32 = 0x1_0000_0000;
const SLAB_BYTES = 1024 * 1024;
/** Messages larger than this get a slab of their own. */
const BIG_MSG_BYTES = SLAB_BYTES / 4;

interface Slab {
  id: number;
  buf: Buffer;
  used: number;
  live: number;
  liveBytes: number;
  /** Sequences placed in this slab (some may be gone or moved since). */
  seqs: number[];
}

export class MemStore extends BaseStore {
  readonly type = 'memory' as const;
  readonly ackWaitsForSync = false;
  private consumers = new Map<string, MemConsumerStore>();
  private slabs = new Map<number, Slab>();
  private cur: Slab | undefined;
  private nextSlabId = 1;
  private compactQueue = new Set<Slab>();
  private compactScheduled = false;

  constructor(cfg: StoreConfig, opts?: { now?: NowNs }) {
    super({ ...cfg, storage: 'memory' }, 'memory', opts?.now);
  }

  protected msgSize(subjectBytes: number, hdrLen: number, dataLen: number): number {
    return subjectBytes + hdrLen + dataLen + 16;
  }

  private newSlab(size: number): Slab {
    const slab: Slab = { id: this.nextSlabId++, buf: Buffer.allocUnsafe(size), used: 0, live: 0, liveBytes: 0, seqs: [] };
    this.slabs.set(slab.id, slab);
    return slab;
  }

  /** Reserve len bytes; returns the slab (offset = slab.used before the call, advanced here). */
  private place(len: number): Slab {
    if (len > BIG_MSG_BYTES) return this.newSlab(len);
    let s = this.cur;
    if (s === undefined || s.used + len > s.buf.length) {
      if (s !== undefined && s.live === 0) this.dropSlab(s);
      s = this.cur = this.newSlab(SLAB_BYTES);
    }
    return s;
  }

  private dropSlab(s: Slab): void {
    this.slabs.delete(s.id);
    this.compactQueue.delete(s);
    if (this.cur === s) this.cur = undefined;
  }

  protected writeMsg(seq: number, _subject: string, _subjectBytes: number, hdr: Buffer | undefined, data: Buffer,
    _ts: bigint, _ttlSec: number, chunk: Chunk, slot: number): void {
    const hl = hdr ? hdr.length : 0;
    const len = hl + data.length;
    const slab = this.place(len);
    const off = slab.used;
    if (hdr) slab.buf.set(hdr, off);
    slab.buf.set(data, off + hl);
    slab.used += len;
    slab.live++;
    slab.liveBytes += len;
    slab.seqs.push(seq);
    chunk.loc[slot] = slab.id * TWO32 + off;
    chunk.rlen[slot] = len;
    chunk.hlen![slot] = hdr ? hl : -1;
  }

  protected readMsg(seq: number, chunk: Chunk, slot: number): StoredMsg {
    const loc = chunk.loc[slot];
    const slab = this.slabs.get(Math.floor(loc / TWO32))!;
    const off = loc % TWO32;
    const hl = chunk.hlen![slot];
    const end = off + chunk.rlen[slot];
    const dataStart = hl > 0 ? off + hl : off;
    return {
      subject: this.index.subjectById(chunk.subj[slot])!.subject,
      seq,
      ts: chunk.ts[slot],
      headers: hl >= 0 ? slab.buf.subarray(off, off + hl) : undefined,
      data: slab.buf.subarray(dataStart, end),
    };
  }

  protected beforeRemove(_seq: number, chunk: Chunk, slot: number, kind: RemoveKind): void {
    const loc = chunk.loc[slot];
    const slab = this.slabs.get(Math.floor(loc / TWO32))!;
    const len = chunk.rlen[slot];
    // Erase overwrites in place: anyone still holding the message sees random bytes, not the payload.
    if (kind === 'erase' && len > 0) randomFillSync(slab.buf, loc % TWO32, len);
    slab.live--;
    slab.liveBytes -= len;
    if (slab === this.cur) return;
    if (slab.live === 0) this.dropSlab(slab);
    else if (slab.liveBytes * 4 < slab.used && slab.used >= SLAB_BYTES / 2) this.scheduleCompaction(slab);
  }

  private scheduleCompaction(slab: Slab): void {
    this.compactQueue.add(slab);
    if (this.compactScheduled) return;
    this.compactScheduled = true;
    setImmediate(() => {
      this.compactScheduled = false;
      if (!this.closed) this.compactNow();
    });
  }

  /** Move the live messages of mostly-dead slabs into the current slab. */
  compactNow(): void {
    const ix = this.index;
    for (const slab of [...this.compactQueue]) {
      this.compactQueue.delete(slab);
      if (!this.slabs.has(slab.id) || slab === this.cur) continue;
      const base = slab.id * TWO32;
      for (const seq of slab.seqs) {
        const c = ix.lookup(seq);
        if (c === undefined) continue;
        const i = ix.slot;
        const loc = c.loc[i];
        if (loc < base || loc >= base + TWO32) continue;
        const len = c.rlen[i];
        const to = this.place(len);
        const off = to.used;
        slab.buf.copy(to.buf, off, loc - base, loc - base + len);
        to.used += len;
        to.live++;
        to.liveBytes += len;
        to.seqs.push(seq);
        c.loc[i] = to.id * TWO32 + off;
      }
      this.dropSlab(slab);
    }
  }

  protected writeSkip(): void {}
  protected afterBulkRemove(): void {}
  protected afterTruncate(): void {}

  durableSeq(): number {
    return this.index.lastSeq;
  }

  async flush(): Promise<void> {}

  consumerStore(name: string, cfg: unknown, createdMs: number): ConsumerStore {
    this.checkOpen();
    const existing = this.consumers.get(name);
    if (existing) {
      existing.updateConfig(cfg);
      return existing;
    }
    const cs = new MemConsumerStore(name, cfg, createdMs, (n) => this.consumers.delete(n));
    this.consumers.set(name, cs);
    return cs;
  }

  recoveredConsumers(): RecoveredConsumer[] {
    return [];
  }

  protected consumersForSnapshot(): Array<{ name: string; store: ConsumerStore; createdMs: number }> {
    return [...this.consumers.values()].map((c) => ({ name: c.name, store: c, createdMs: c.createdMs }));
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.stopExpiry();
    for (const c of [...this.consumers.values()]) await c.stop();
    this.closed = true;
  }

  async delete(): Promise<void> {
    await this.stop();
    this.index.reset(this.index.lastSeq + 1);
    this.slabs.clear();
    this.cur = undefined;
  }
}
