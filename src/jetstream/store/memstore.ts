// In-memory stream store. Messages are copied into one buffer each (the caller's
// buffers are usually views of a socket read buffer) and kept in the index's
// per-chunk object column.

import { BaseStore, type RemoveKind } from './base-store.js';
import { MemConsumerStore } from './consumer-store.js';
import type { Chunk } from './msg-index.js';
import type { ConsumerStore, NowNs, RecoveredConsumer, StoreConfig, StoredMsg } from './types.js';
import { randomFillSync } from 'node:crypto';

export class MemStore extends BaseStore {
  readonly type = 'memory' as const;
  readonly ackWaitsForSync = false;
  private consumers = new Map<string, MemConsumerStore>();

  constructor(cfg: StoreConfig, opts?: { now?: NowNs }) {
    super({ ...cfg, storage: 'memory' }, 'memory', opts?.now);
  }

  protected msgSize(subjectBytes: number, hdrLen: number, dataLen: number): number {
    return subjectBytes + hdrLen + dataLen + 16;
  }

  protected writeMsg(seq: number, subject: string, _subjectBytes: number, hdr: Buffer | undefined, data: Buffer,
    ts: bigint, _ttlSec: number, chunk: Chunk, slot: number): void {
    // One copy per part: the caller's buffers are usually views of a socket read buffer.
    const copy = Buffer.allocUnsafe(data.length);
    data.copy(copy, 0);
    chunk.refs![slot] = { subject, seq, ts, headers: hdr ? Buffer.from(hdr) : undefined, data: copy };
  }

  protected readMsg(_seq: number, chunk: Chunk, slot: number): StoredMsg {
    return chunk.refs![slot]!;
  }

  protected beforeRemove(_seq: number, chunk: Chunk, slot: number, kind: RemoveKind): void {
    if (kind === 'erase') {
      // Overwrite in place: anyone still holding the message sees random bytes, not the payload.
      const m = chunk.refs![slot];
      if (m) {
        if (m.headers) randomFillSync(m.headers);
        randomFillSync(m.data);
      }
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
  }
}
