// Consumer state stores. The state machine (what a delivery or an ack does to
// delivered / ack floor / pending / redelivered) follows nats-server's consumer
// stores; the memory variant only keeps it, the file variant also persists it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { copyConsumerState, decodeConsumerState, emptyConsumerState, encodeConsumerState } from './consumer-state-codec.js';
import { StoreError } from './errors.js';
import type { ConsumerState, ConsumerStore } from './types.js';

type AckPolicy = 'none' | 'all' | 'explicit';

function ackPolicyOf(cfg: unknown): AckPolicy {
  const c = cfg as { ack_policy?: string; ackPolicy?: string } | null | undefined;
  const p = c?.ack_policy ?? c?.ackPolicy;
  return p === 'none' || p === 'all' ? p : 'explicit';
}

function maxDeliverOf(cfg: unknown): number {
  const c = cfg as { max_deliver?: number; maxDeliver?: number } | null | undefined;
  return c?.max_deliver ?? c?.maxDeliver ?? -1;
}

function validate(state: ConsumerState): void {
  if (state.ackFloor.consumerSeq > state.delivered.consumerSeq) throw new Error('bad ack floor for consumer');
  if (state.ackFloor.streamSeq > state.delivered.streamSeq) throw new Error('bad ack floor for stream');
  for (const seq of state.pending.keys()) {
    if (seq <= state.ackFloor.streamSeq || seq > state.delivered.streamSeq) {
      throw new Error(`bad pending entry, sequence [${seq}] out of range`);
    }
  }
}

export class MemConsumerStore implements ConsumerStore {
  protected st: ConsumerState = emptyConsumerState();
  protected cfg: unknown;
  protected ackPolicy: AckPolicy;
  protected maxDeliver: number;
  protected closed = false;

  constructor(readonly name: string, cfg: unknown, readonly createdMs: number,
    private readonly onClose?: (name: string) => void) {
    this.cfg = cfg;
    this.ackPolicy = ackPolicyOf(cfg);
    this.maxDeliver = maxDeliverOf(cfg);
  }

  /** Hook: state changed (file store schedules a write). */
  protected changed(): void {}

  protected checkOpen(): void {
    if (this.closed) throw new StoreError('ErrStoreClosed');
  }

  setStarting(sseq: number): void {
    this.checkOpen();
    this.st.delivered.streamSeq = sseq;
    this.st.ackFloor.streamSeq = sseq;
    this.changed();
  }

  updateDelivered(dseq: number, sseq: number, dc: number, tsMs: number): void {
    this.checkOpen();
    const s = this.st;
    if (dc !== 1 && this.ackPolicy === 'none') throw new StoreError('ErrNoAckPolicy');
    // Replays of old deliveries (e.g. after a restart) are ignored.
    if (dseq <= s.ackFloor.consumerSeq) return;
    if (this.ackPolicy !== 'none') {
      if (sseq <= s.delivered.streamSeq) {
        const p = s.pending.get(sseq);
        // A redelivery keeps the original consumer sequence; only the time moves.
        if (p) p.tsMs = tsMs;
      } else {
        s.pending.set(sseq, { seq: dseq, tsMs });
      }
      if (dseq > s.delivered.consumerSeq) s.delivered.consumerSeq = dseq;
      if (sseq > s.delivered.streamSeq) s.delivered.streamSeq = sseq;
      if (dc > 1) {
        if (this.maxDeliver > 0 && dc > this.maxDeliver) s.pending.delete(sseq);
        if ((s.redelivered.get(sseq) ?? 0) < dc - 1) s.redelivered.set(sseq, dc - 1);
      }
    } else {
      if (dseq > s.delivered.consumerSeq) {
        s.delivered.consumerSeq = dseq;
        s.ackFloor.consumerSeq = dseq;
      }
      if (sseq > s.delivered.streamSeq) {
        s.delivered.streamSeq = sseq;
        s.ackFloor.streamSeq = sseq;
      }
    }
    this.changed();
  }

  updateAcks(dseq: number, sseq: number): void {
    this.checkOpen();
    const s = this.st;
    if (this.ackPolicy === 'none') throw new StoreError('ErrNoAckPolicy');
    s.redelivered.delete(sseq);
    if (dseq <= s.ackFloor.consumerSeq) {
      this.changed();
      return;
    }
    const p = s.pending.get(sseq);
    if (!p) throw new StoreError('ErrStoreMsgNotFound');
    if (this.ackPolicy === 'all') {
      s.ackFloor.consumerSeq = dseq;
      s.ackFloor.streamSeq = sseq;
      for (const seq of [...s.pending.keys()]) {
        if (seq <= sseq) {
          s.pending.delete(seq);
          s.redelivered.delete(seq);
        }
      }
      this.changed();
      return;
    }
    s.pending.delete(sseq);
    if (dseq > p.seq && p.seq > 0) dseq = p.seq;
    if (s.pending.size === 0) {
      s.ackFloor.consumerSeq = s.delivered.consumerSeq;
      s.ackFloor.streamSeq = s.delivered.streamSeq;
    } else if (dseq === s.ackFloor.consumerSeq + 1) {
      s.ackFloor.consumerSeq = dseq;
      s.ackFloor.streamSeq = sseq;
      // Move the floor up to just below the oldest still-pending delivery.
      // Walk up from the ack (cheap when acks come in order), or take the minimum pending key.
      let minSeq = 0;
      const limit = Math.min(s.delivered.streamSeq, sseq + s.pending.size + 1);
      for (let ss = sseq + 1; ss <= limit; ss++) {
        if (s.pending.has(ss)) {
          minSeq = ss;
          break;
        }
      }
      if (minSeq === 0) {
        minSeq = Infinity;
        for (const k of s.pending.keys()) if (k < minSeq) minSeq = k;
      }
      const oldest = s.pending.get(minSeq)!;
      if (oldest.seq > 0 && minSeq > sseq) {
        s.ackFloor.consumerSeq = oldest.seq - 1;
        s.ackFloor.streamSeq = minSeq - 1;
      }
    }
    this.changed();
  }

  update(state: ConsumerState): void {
    this.checkOpen();
    validate(state);
    if (state.delivered.consumerSeq < this.st.delivered.consumerSeq ||
      state.ackFloor.streamSeq < this.st.ackFloor.streamSeq) {
      throw new StoreError('ErrStoreOldUpdate');
    }
    this.st = copyConsumerState(state);
    this.changed();
  }

  forceUpdate(state: ConsumerState): void {
    this.checkOpen();
    validate(state);
    this.st = copyConsumerState(state);
    this.changed();
  }

  state(): ConsumerState {
    this.checkOpen();
    return copyConsumerState(this.st);
  }

  hasState(): boolean {
    return this.st.delivered.consumerSeq !== 0 || this.st.delivered.streamSeq !== 0;
  }

  config(): unknown {
    return this.cfg;
  }

  updateConfig(cfg: unknown): void {
    this.cfg = cfg;
    this.ackPolicy = ackPolicyOf(cfg);
    this.maxDeliver = maxDeliverOf(cfg);
  }

  encodedState(): Buffer {
    this.checkOpen();
    return encodeConsumerState(this.st);
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.markClosed();
  }

  /** Closed for good: no more updates, and the owner forgets this store (so the name can be reused). */
  protected markClosed(): void {
    this.closed = true;
    this.onClose?.(this.name);
  }

  async delete(): Promise<void> {
    await this.stop();
  }
}

const META_FILE = 'meta.json';
const STATE_FILE = 'state.dat';

/** Write a file atomically: temp file, fsync (optional), rename, fsync of the directory (optional). */
export async function atomicWrite(file: string, data: Buffer | string, doSync: boolean): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await fs.promises.open(tmp, 'w');
  try {
    await fh.writeFile(data);
    if (doSync) await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  if (doSync) await fsyncDir(path.dirname(file));
}

export function atomicWriteSync(file: string, data: Buffer | string, doSync: boolean): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    if (doSync) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  if (doSync) fsyncDirSync(path.dirname(file));
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some platforms cannot fsync directories; the rename is still atomic.
  } finally {
    await fh?.close();
  }
}

export function fsyncDirSync(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // See fsyncDir.
  }
}

/** Consumer state persisted under <dir>: meta.json (name, config, created) and state.dat.
 *  Changes are coalesced: at most one write in flight, the next one starts after it with the latest state. */
export class FileConsumerStore extends MemConsumerStore {
  private dirty = false;
  private writing: Promise<void> | undefined;
  private scheduled = false;
  private writeError: Error | undefined;

  constructor(name: string, cfg: unknown, createdMs: number, private readonly dir: string,
    private readonly syncAlways: boolean, onClose?: (name: string) => void, recovered?: ConsumerState) {
    super(name, cfg, createdMs, onClose);
    fs.mkdirSync(dir, { recursive: true });
    if (recovered) this.st = copyConsumerState(recovered);
    this.writeMeta();
  }

  private writeMeta(): void {
    atomicWriteSync(path.join(this.dir, META_FILE),
      JSON.stringify({ name: this.name, config: this.cfg, createdMs: this.createdMs }), this.syncAlways);
  }

  override updateConfig(cfg: unknown): void {
    super.updateConfig(cfg);
    this.writeMeta();
  }

  protected override changed(): void {
    this.dirty = true;
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startWrite();
    });
  }

  private startWrite(): void {
    if (this.writing || !this.dirty) return;
    this.dirty = false;
    const data = encodeConsumerState(this.st);
    this.writing = atomicWrite(path.join(this.dir, STATE_FILE), data, this.syncAlways)
      .catch((err: Error) => {
        this.writeError = err;
      })
      .finally(() => {
        this.writing = undefined;
        if (this.dirty && !this.closed) this.startWrite();
      });
  }

  /** Resolves when the latest state is on disk. */
  async flush(): Promise<void> {
    while (this.writing || this.dirty) {
      if (!this.writing) this.startWrite();
      await this.writing;
    }
    if (this.writeError) throw this.writeError;
  }

  override async stop(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => undefined);
    await super.stop();
  }

  override async delete(): Promise<void> {
    // Close first (pending writes are dropped, the owner releases the name), then remove the files
    // once any write already in flight has finished, so nothing re-creates the directory.
    if (!this.closed) this.markClosed();
    this.dirty = false;
    if (this.writing) await this.writing;
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}

/** Read consumers persisted under obsDir (one directory per consumer). Unreadable ones are skipped. */
export function readConsumerDirs(obsDir: string): Array<{ name: string; config: unknown; createdMs: number; state: ConsumerState; dir: string }> {
  const out: Array<{ name: string; config: unknown; createdMs: number; state: ConsumerState; dir: string }> = [];
  let names: string[];
  try {
    names = fs.readdirSync(obsDir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    const dir = path.join(obsDir, n);
    try {
      const meta = JSON.parse(fs.readFileSync(path.join(dir, META_FILE), 'utf8')) as { name: string; config: unknown; createdMs: number };
      let state = emptyConsumerState();
      try {
        state = decodeConsumerState(fs.readFileSync(path.join(dir, STATE_FILE)));
      } catch {
        // No state written yet (or unreadable): start from the config.
      }
      out.push({ name: meta.name, config: meta.config, createdMs: meta.createdMs, state, dir });
    } catch {
      continue;
    }
  }
  return out;
}
