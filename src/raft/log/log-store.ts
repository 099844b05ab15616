// The storage a RaftNode writes its log to: the file WAL (wal.ts) or, for
// memory-storage groups (NRG's `M` groups), the in-memory log below.

import type { WalRecovery } from './wal.js';

export interface LogStore {
  readonly recovery: WalRecovery;
  /** Called with the durable index after sync() (or with an error). */
  onDurable: (index: number, err?: Error) => void;
  firstIndex(): number;
  lastIndex(): number;
  termAt(index: number): number;
  read(index: number): Uint8Array | undefined;
  append(index: number, term: number, payload: Uint8Array): void;
  truncateAfter(lastKept: number): void;
  compactThrough(index: number, term: number): void;
  resetTo(floor: number, term: number): void;
  sync(): void;
  close(): void;
  sizeBytes(): number;
  /** The loss recovery found is on record (state-lost marker): the durable witness may follow the log down. */
  settleWitness(): void;
  /** The group leaves this server: remove the witness copy kept outside its directory. */
  dropWitnessCopy(): void;
}

/**
 * Log kept in memory only: "durable" as soon as it is written, gone on
 * restart (the group then catches up from its leader, as NRG memory WALs do).
 */
export class MemoryLog implements LogStore {
  readonly recovery: WalRecovery = { droppedRecords: 0 };
  onDurable: (index: number, err?: Error) => void = () => {};
  private floor = 0;
  private floorTerm = 0;
  private payloads: Uint8Array[] = [];
  private terms: number[] = [];
  private bytes = 0;
  private pendingSync = false;
  private closed = false;

  firstIndex(): number {
    return this.floor + 1;
  }
  lastIndex(): number {
    return this.floor + this.payloads.length;
  }
  termAt(index: number): number {
    if (index === this.floor && this.floorTerm > 0) return this.floorTerm;
    const k = index - this.floor - 1;
    return k >= 0 && k < this.terms.length ? this.terms[k] : -1;
  }
  read(index: number): Uint8Array | undefined {
    const k = index - this.floor - 1;
    return k >= 0 && k < this.payloads.length ? this.payloads[k] : undefined;
  }
  append(index: number, term: number, payload: Uint8Array): void {
    if (this.closed) throw new Error('log: closed');
    if (index !== this.lastIndex() + 1) throw new Error(`log: append at ${index}, expected ${this.lastIndex() + 1}`);
    this.payloads.push(payload);
    this.terms.push(term);
    this.bytes += payload.length;
  }
  truncateAfter(lastKept: number): void {
    const keep = Math.max(0, lastKept - this.floor);
    for (let i = keep; i < this.payloads.length; i++) this.bytes -= this.payloads[i].length;
    this.payloads.length = Math.min(this.payloads.length, keep);
    this.terms.length = this.payloads.length;
  }
  compactThrough(index: number, term: number): void {
    const k = index - this.floor;
    if (k <= 0) return;
    for (let i = 0; i < Math.min(k, this.payloads.length); i++) this.bytes -= this.payloads[i].length;
    this.payloads.splice(0, k);
    this.terms.splice(0, k);
    this.floor = index;
    this.floorTerm = term;
  }
  resetTo(floor: number, term: number): void {
    this.payloads = [];
    this.terms = [];
    this.bytes = 0;
    this.floor = floor;
    this.floorTerm = term;
  }
  sync(): void {
    if (this.pendingSync || this.closed) return;
    this.pendingSync = true;
    process.nextTick(() => {
      this.pendingSync = false;
      if (!this.closed) this.onDurable(this.lastIndex());
    });
  }
  close(): void {
    this.closed = true;
  }
  dropWitnessCopy(): void {
    // no witness
  }

  settleWitness(): void {
    // Nothing survives a restart, so there is nothing to witness.
  }
  sizeBytes(): number {
    return this.bytes;
  }
}
