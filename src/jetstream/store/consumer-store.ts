// Consumer state stores. The state machine (what a delivery or an ack does to
// delivered / ack floor / pending / redelivered) follows nats-server's consumer
// stores; the memory variant only keeps it, the file variant also persists it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  copyConsumerState, decodeConsumerStateLenient, emptyConsumerState, encodeConsumerState, type LenientDecode,
} from './consumer-state-codec.js';
import { readCheckedFileSync, writeCheckedFile, writeCheckedFileSync, type CheckedRead } from './checked-file.js';
import { crc32 } from './crc32.js';
import { atomicWrite, atomicWriteSync, fsyncDir, fsyncDirSync } from './durable-fs.js';
import { StoreError } from './errors.js';
import type { ConsumerState, ConsumerStore } from './types.js';

// The file store takes these from here (they live in durable-fs.ts).
export { atomicWrite, atomicWriteSync, fsyncDir, fsyncDirSync };

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
  // forEach: no iterator result per entry where this runs unoptimised (a replicated consumer's
  // leader hands its whole state over every second).
  state.pending.forEach((_, seq) => {
    if (seq <= state.ackFloor.streamSeq || seq > state.delivered.streamSeq) {
      throw new Error(`bad pending entry, sequence [${seq}] out of range`);
    }
  });
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

  replaceState(state: ConsumerState): void {
    this.checkOpen();
    validate(state);
    this.st = state;
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

// Consumer directory <stream>/obs/<consumer>/:
//   meta.json + meta.sum       name, config and creation time; meta.sum is its checksum
//                              (HighwayHash-64 keyed by the consumer name, checked-file.ts)
//   meta.bak + meta.bak.sum    a second copy, so one damaged file never loses a durable
//   state.dat                  nats-server's consumer state encoding + an 8-byte trailer
//                              (CRC-32 of the encoding, then "TSCK"), replaced atomically
//   state.dat.damaged          a state file that failed its checks, kept for inspection
//   raft-witness.idx           a replicated consumer's raft witness copy (written by its raft
//                              group, consumer-group.ts; not read here)
// nats-server keeps meta.inf + meta.sum + o.dat; it drops a consumer whose meta or
// state does not decode. Here the durable survives one damaged meta copy, and a damaged
// state restarts it from what can be trusted (see readConsumerDirs).
const META_FILE = 'meta.json';
const META_SUM = 'meta.sum';
const META_BAK = 'meta.bak';
const META_BAK_SUM = 'meta.bak.sum';
const STATE_FILE = 'state.dat';
const DAMAGED_STATE_FILE = 'state.dat.damaged';
/** Beside obs/ in the stream directory: consumer directories set aside, never loaded. */
const DAMAGED_DIR = 'obs-damaged';
const TRAILER_MAGIC = Buffer.from('TSCK', 'latin1');
/**
 * Least time between two state writes by default: at most ten a second per consumer, as
 * nats-server 2.9.10's consumer file store (its flush loop's 100 ms minimum). Writing after every
 * turn with a delivery or ack (open, write, rename) cost several percent of the consume path; an
 * ack confirmation (ack sync) still waits for its own write (flush), so what a client was told is
 * kept stays kept, and a crash loses at most the last 100 ms of plain acks (redelivered).
 */
const STATE_WRITE_GAP_MS = 100;
const TRAILER_LEN = 8;

/** What recovery had to report or give up for one consumer (see consumerRecoveryNote). */
export interface ConsumerRecoveryNote {
  /** Log lines: what was damaged and what was done about it. */
  messages: string[];
  /** The state could only be partly trusted: resume after the ack floor, or from the consumer's beginning. */
  restart?: 'floor' | 'beginning';
  /** Neither meta copy could be read: there is no config to start the durable with. */
  metaUnreadable?: boolean;
}

// Keyed by the recovered state object, which the file store hands on unchanged to
// recoveredConsumers() and consumerStore(), so the note travels with it.
const recoveryNotes = new WeakMap<ConsumerState, ConsumerRecoveryNote>();

/** The damage found while recovering the consumer whose recovered state this is, if any. */
export function consumerRecoveryNote(state: ConsumerState): ConsumerRecoveryNote | undefined {
  return recoveryNotes.get(state);
}

/** state.dat content: the nats-server encoding followed by the checksum trailer. */
export function encodeStateFile(st: ConsumerState): Buffer {
  const body = encodeConsumerState(st);
  const out = Buffer.allocUnsafe(body.length + TRAILER_LEN);
  body.copy(out, 0);
  out.writeUInt32LE(crc32(body, 0, body.length), body.length);
  TRAILER_MAGIC.copy(out, body.length + 4);
  return out;
}

/** Decode state.dat: verified when it has a trailer, leniently otherwise (older files, torn tails). */
export function decodeStateFile(buf: Buffer): LenientDecode {
  const n = buf.length;
  if (n >= TRAILER_LEN + 2 && buf.subarray(n - 4).equals(TRAILER_MAGIC)) {
    const body = buf.subarray(0, n - TRAILER_LEN);
    if (crc32(body, 0, body.length) !== buf.readUInt32LE(n - TRAILER_LEN)) {
      // A flipped bit may have moved the ack floor forward: none of it can be trusted.
      return { state: emptyConsumerState(), damage: { reason: 'checksum mismatch', kept: 'nothing' } };
    }
    return decodeConsumerStateLenient(body);
  }
  return decodeConsumerStateLenient(buf);
}

/** Consumer state persisted under <dir> (layout above).
 *  Changes are coalesced: at most one write in flight, the next one starts after it with the latest state. */
export class FileConsumerStore extends MemConsumerStore {
  private dirty = false;
  private writing: Promise<void> | undefined;
  private scheduled = false;
  private writeError: Error | undefined;
  /** Bumped by every state change; durableGen is the highest generation known to be on disk. */
  private changeGen = 0;
  private durableGen = 0;
  /** Latest meta not yet written to the second copy, and the loop writing it. */
  private backupData: Buffer | undefined;
  private backupWriting: Promise<void> | undefined;
  /** setWriteGap: least time between the starts of two state writes, and when the last one started. */
  private writeGapMs = STATE_WRITE_GAP_MS;
  private lastWriteAt = 0;

  constructor(name: string, cfg: unknown, createdMs: number, readonly dir: string,
    private readonly syncAlways: boolean, onClose?: (name: string) => void, recovered?: ConsumerState) {
    super(name, cfg, createdMs, onClose);
    if (recovered && consumerRecoveryNote(recovered)?.metaUnreadable) {
      // The files left by an unreadable durable of this name are evidence, not this consumer's state.
      moveAside(dir);
      recovered = undefined;
    }
    const firstCreated = fs.mkdirSync(dir, { recursive: true });
    if (firstCreated !== undefined && syncAlways) {
      // The new directory entries must survive a machine crash too, not only the files in them.
      for (let d = dir; d.length >= firstCreated.length; d = path.dirname(d)) fsyncDirSync(path.dirname(d));
    }
    if (recovered) this.st = copyConsumerState(recovered);
    this.writeMeta();
  }

  private writeMeta(): void {
    const data = Buffer.from(JSON.stringify({ name: this.name, config: this.cfg, createdMs: this.createdMs }));
    // The primary is durable before the caller answers (consumer create/update). The copy follows
    // off the event loop: until it lands the primary alone holds the config (as in nats-server),
    // and at any crash point at least one of the two verifies.
    writeCheckedFileSync(this.dir, META_FILE, META_SUM, this.name, data, this.syncAlways);
    this.backupData = data;
    if (this.backupWriting) return;
    this.backupWriting = (async () => {
      while (this.backupData !== undefined && !this.closed) {
        const d = this.backupData;
        this.backupData = undefined;
        await writeCheckedFile(this.dir, META_BAK, META_BAK_SUM, this.name, d, this.syncAlways).catch(() => {
          // The primary is intact; the copy is written again with the next config change.
        });
      }
    })().finally(() => {
      this.backupWriting = undefined;
    });
  }
  override updateConfig(cfg: unknown): void {
    super.updateConfig(cfg);
    this.writeMeta();
  }

  setWriteGap(ms: number): void {
    this.writeGapMs = ms;
  }

  protected override changed(): void {
    this.changeGen++;
    this.dirty = true;
    if (this.scheduled || this.writing) return;
    this.schedule();
  }

  /** The next write: after this turn, or once the write gap since the last one has passed. */
  private schedule(): void {
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.startWrite();
    };
    const wait = this.writeGapMs > 0 ? this.lastWriteAt + this.writeGapMs - Date.now() : 0;
    if (wait <= 0) setImmediate(run);
    else setTimeout(run, wait).unref();
  }

  private startWrite(): void {
    if (this.writing || !this.dirty) return;
    this.dirty = false;
    this.lastWriteAt = Date.now();
    const gen = this.changeGen;
    const data = encodeStateFile(this.st);
    this.writing = atomicWrite(path.join(this.dir, STATE_FILE), data, this.syncAlways)
      .then(() => {
        // A later good write supersedes an earlier failure: flush() reports the current state.
        this.writeError = undefined;
        if (gen > this.durableGen) this.durableGen = gen;
      }, (err: Error) => {
        this.writeError = err;
      })
      .finally(() => {
        this.writing = undefined;
        if (!this.dirty || this.closed || this.scheduled) return;
        if (this.writeGapMs > 0) this.schedule();
        else this.startWrite();
      });
  }

  /**
   * Resolves when the state as of this call is on disk (later changes are not waited for, so a
   * caller is not held up by a steady stream of new changes). Rejects if the write failed.
   */
  async flush(): Promise<void> {
    const target = this.changeGen;
    while (this.durableGen < target) {
      // Closed (deleted): there is nothing left to write to.
      if (this.closed && !this.writing) return;
      if (!this.writing) {
        // Nothing in flight for our change (a failed write is retried once per flush call).
        this.dirty = true;
        this.startWrite();
      }
      await this.writing;
      if (this.durableGen < target && this.writeError) throw this.writeError;
    }
  }

  override async stop(): Promise<void> {
    if (this.closed) return;
    await this.flush().catch(() => undefined);
    if (this.backupWriting) await this.backupWriting;
    await super.stop();
  }

  override async delete(): Promise<void> {
    // Close first (pending writes are dropped, the owner releases the name), then remove the files
    // once any write already in flight has finished, so nothing re-creates the directory.
    if (!this.closed) this.markClosed();
    this.dirty = false;
    if (this.writing) await this.writing;
    if (this.backupWriting) await this.backupWriting;
    await fs.promises.rm(this.dir, { recursive: true, force: true });
  }
}

/** Move a consumer directory to <stream>/obs-damaged/<dir name>.<time>; nothing is deleted. */
function moveAside(dir: string): string | undefined {
  if (!fs.existsSync(dir)) return undefined;
  const parent = path.join(path.dirname(path.dirname(dir)), DAMAGED_DIR);
  fs.mkdirSync(parent, { recursive: true });
  const dest = path.join(parent, `${path.basename(dir)}.${new Date().toISOString().replace(/[:.]/g, '-')}`);
  fs.renameSync(dir, dest);
  fsyncDirSync(parent);
  fsyncDirSync(path.dirname(dir));
  return dest;
}

interface ConsumerMeta {
  name: string;
  config: unknown;
  createdMs: number;
}

function parseMeta(r: CheckedRead, name: string): { meta?: ConsumerMeta; problem?: string } {
  if (r.status === 'missing') return { problem: 'missing' };
  if (r.status === 'damaged') return { problem: r.reason };
  try {
    const m = JSON.parse(r.data.toString('utf8')) as ConsumerMeta;
    if (m === null || typeof m !== 'object' || m.name !== name || typeof m.config !== 'object' || m.config === null) {
      return { problem: `does not describe consumer ${JSON.stringify(name)}` };
    }
    return { meta: { name: m.name, config: m.config, createdMs: Number(m.createdMs) || 0 } };
  } catch (e) {
    return { problem: `not valid JSON (${String(e)})` };
  }
}

/** The consumer's config from meta.json, else from meta.bak; notes say what was wrong. */
function readConsumerMeta(dir: string, name: string, notes: string[]): ConsumerMeta | undefined {
  const primary = readCheckedFileSync(dir, META_FILE, META_SUM, name);
  const p = parseMeta(primary, name);
  if (p.meta && primary.status === 'no-sum') {
    notes.push(`${META_FILE} has no checksum (written by an older version); loaded as is`);
  }
  if (p.meta) return p.meta;
  const backup = readCheckedFileSync(dir, META_BAK, META_BAK_SUM, name);
  const b = backup.status === 'no-sum' ? { problem: 'has no checksum' } : parseMeta(backup, name);
  if (b.meta) {
    notes.push(`${META_FILE} damaged (${p.problem}; checksum ${META_SUM}); config recovered from ${META_BAK}`);
    return b.meta;
  }
  notes.push(`config unreadable: ${META_FILE}: ${p.problem}; ${META_BAK}: ${b.problem}. ` +
    `The durable is NOT started; its files are left in ${dir} (fix ${META_FILE} and remove ${META_SUM} to load it, ` +
    'or create the consumer again: these files are then moved aside)');
  return undefined;
}

/** The consumer's state from state.dat: what can be trusted of it, and notes on what was not. */
function readConsumerStateFile(dir: string, note: ConsumerRecoveryNote): ConsumerState {
  const file = path.join(dir, STATE_FILE);
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    // No state written yet: the consumer starts from its config.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyConsumerState();
    note.restart = 'beginning';
    note.messages.push(`cannot read ${STATE_FILE} (${String(e)}); delivery restarts from the consumer's beginning`);
    return emptyConsumerState();
  }
  const d = decodeStateFile(buf);
  if (!d.damage) return d.state;
  // Keep a copy for inspection (the next state write replaces state.dat). Until then state.dat
  // stays, so a restart before that write reaches the same decision again.
  try {
    fs.copyFileSync(file, path.join(dir, DAMAGED_STATE_FILE));
  } catch {
    // Best effort: the decision below does not depend on it.
  }
  if (d.damage.kept === 'floor' && d.state.ackFloor.streamSeq > 0) {
    note.restart = 'floor';
    note.messages.push(`${STATE_FILE} damaged (${d.damage.reason}, ${buf.length} bytes): ack floor kept, ` +
      `messages after stream sequence ${d.state.ackFloor.streamSeq} will be redelivered; ` +
      `damaged file kept as ${DAMAGED_STATE_FILE}`);
    return d.state;
  }
  note.restart = 'beginning';
  note.messages.push(`${STATE_FILE} damaged (${d.damage.reason}, ${buf.length} bytes): nothing in it can be trusted, ` +
    `delivery restarts from the consumer's beginning (redelivery rather than skipping); damaged file kept as ${DAMAGED_STATE_FILE}`);
  return emptyConsumerState();
}

export interface RecoveredConsumerDir {
  name: string;
  config: unknown;
  createdMs: number;
  state: ConsumerState;
  dir: string;
}

/**
 * Read the consumers persisted under obsDir (one directory per consumer). Nothing is skipped
 * silently: a consumer whose files are damaged is still returned, with a ConsumerRecoveryNote
 * (consumerRecoveryNote(entry.state)) saying what was found and what to do.
 */
export function readConsumerDirs(obsDir: string): RecoveredConsumerDir[] {
  const out: RecoveredConsumerDir[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(obsDir);
  } catch {
    return out;
  }
  for (const n of names.sort()) {
    const dir = path.join(obsDir, n);
    try {
      if (!fs.statSync(dir).isDirectory()) continue;
    } catch {
      continue;
    }
    let name = n;
    try {
      name = decodeURIComponent(n);
    } catch {
      // Not written by us; use the directory name as is.
    }
    const note: ConsumerRecoveryNote = { messages: [] };
    let meta: ConsumerMeta | undefined;
    let state: ConsumerState;
    try {
      meta = readConsumerMeta(dir, name, note.messages);
      if (!meta) note.metaUnreadable = true;
      state = readConsumerStateFile(dir, note);
    } catch (e) {
      // One consumer's files must not stop the stream from loading.
      meta = undefined;
      note.metaUnreadable = true;
      note.messages.push(`files unreadable (${String(e)}); the durable is NOT started, its files are left in ${dir}`);
      state = emptyConsumerState();
    }
    if (note.messages.length > 0) recoveryNotes.set(state, note);
    out.push({ name, config: meta?.config, createdMs: meta?.createdMs ?? 0, state, dir });
  }
  return out;
}
