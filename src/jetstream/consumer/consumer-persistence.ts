// Persistence of a consumer's delivery state through the store's consumer
// store: incremental updates (delivered, acks), whole-state writes after bulk
// changes, and ack confirmations sent only once the state is on disk.

import type { ConsumerState, PendingInfo } from '../store/types.js';
import { isStoreError } from '../store/errors.js';
import { ConsumerBase, EMPTY } from './consumer-base.js';

export abstract class ConsumerPersistence extends ConsumerBase {
  /** The delivery state as the store keeps it. */
  state(): ConsumerState {
    // A replicated consumer's leader copies this into its group's store every second (one entry
    // per unacknowledged delivery). Code that runs this seldom is not optimised: forEach makes no
    // iterator result and entry array per element, as for-of does there.
    const pending = new Map<number, PendingInfo>();
    this.pending.forEach((v, k) => pending.set(k, { seq: v.seq, tsMs: v.tsMs }));
    return {
      delivered: { consumerSeq: this.dseq - 1, streamSeq: this.sseq - 1 },
      ackFloor: { consumerSeq: this.adflr, streamSeq: this.asflr },
      pending,
      redelivered: new Map(this.rdc),
    };
  }

  protected storeUpdateDelivered(dseq: number, sseq: number, dc: number, tsMs: number): void {
    const s = this.store;
    if (s === undefined) return;
    try {
      s.updateDelivered(dseq, sseq, dc, tsMs);
    } catch (e) {
      this.storeError('update delivered', e);
    }
  }

  protected storeUpdateAcks(dseq: number, sseq: number): void {
    const s = this.store;
    if (s === undefined || this.cfg.ack_policy === 'none') return;
    try {
      s.updateAcks(dseq, sseq);
    } catch (e) {
      this.storeError('update acks', e);
    }
  }

  /** Store complaints about acks of unknown messages are expected (duplicate acks); others are logged. */
  protected storeError(what: string, e: unknown): void {
    if (isStoreError(e, 'ErrStoreMsgNotFound') || isStoreError(e, 'ErrNoAckPolicy')) return;
    this.host.warn(`JetStream consumer '${this.streamName} > ${this.name}' ${what}: ${String(e)}`);
  }

  /** Write the whole state (after bulk changes such as purges). */
  protected writeState(): void {
    const s = this.store;
    if (s === undefined) return;
    try {
      s.forceUpdate(this.state());
    } catch (e) {
      this.storeError('write state', e);
    }
  }

  /**
   * An ack confirmation (ack sync / double ack) promises the ack is kept: send it only once the
   * consumer state that records it is on disk (the file store's flush), so a crash right after
   * the confirmation cannot lose the ack. Stores without a flush (memory) answer at once.
   */
  protected replyOnceStored(reply: string): void {
    const flush = (this.store as { flush?: () => Promise<void> } | undefined)?.flush;
    if (flush === undefined) {
      this.host.publish(reply, '', undefined, EMPTY);
      return;
    }
    flush.call(this.store).then(
      () => { this.host.publish(reply, '', undefined, EMPTY); },
      // No confirmation: the client's ack times out and it retries, rather than believing a lost ack.
      (e: unknown) => this.storeError('write state before ack reply', e),
    );
  }
}
