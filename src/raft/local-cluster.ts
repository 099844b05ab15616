// A group of real RaftNodes in one process over an InProcessHub, each with
// its own directory (real WAL, fsync). Used by the scenario tests and the
// benchmark; each member keeps a trivial state machine: the list of applied
// payloads (snapshotted as a length-prefixed concatenation).

import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RaftTiming } from './core-types.js';
import { RaftNode, type RaftNodeOptions } from './node.js';
import { peerIdForServerName } from './subjects.js';
import { InProcessHub } from './transport.js';
import { type Entry, EntryType } from './types.js';

/** NRG timings scaled down for tests (same ratios, ~20x faster). */
export const FAST_TIMING: Partial<RaftTiming> = {
  electionTimeoutMinMs: 200,
  electionTimeoutMaxMs: 450,
  campaignTimeoutMinMs: 10,
  campaignTimeoutMaxMs: 40,
  heartbeatMs: 50,
  lostQuorumMs: 600,
  lostQuorumSignalMs: 1000,
  catchupStallMs: 200,
  leaderCatchupStallMs: 200,
  healthyPeerMs: 300,
  transferCampaignMs: 10,
  goneLeaderDelayMinMs: 5,
  goneLeaderDelayMaxMs: 40,
};

export interface LocalClusterOptions {
  size: number;
  group?: string;
  /** Base directory (a temp dir is created when absent and removed on destroy). */
  dir?: string;
  timing?: Partial<RaftTiming>;
  fsync?: boolean;
  segmentMaxBytes?: number;
  /** Extra options per member (observer, managed, ...). */
  memberOptions?: (name: string) => Partial<RaftNodeOptions>;
  log?: (level: 'debug' | 'warn', msg: string) => void;
}

export class LocalMember {
  node: RaftNode | undefined;
  /** Applied payloads in order (the state machine). */
  state: Buffer[] = [];
  appliedIndex = 0;
  leaderChanges: { isLeader: boolean; term: number }[] = [];
  snapshotsApplied = 0;

  constructor(
    readonly name: string,
    readonly id: string,
    readonly dir: string,
  ) {}

  get running(): boolean {
    return this.node !== undefined;
  }

  /** The running node (throws if stopped). */
  get n(): RaftNode {
    if (!this.node) throw new Error(`${this.name} is not running`);
    return this.node;
  }

  applyEntries(index: number, entries: Entry[]): void {
    for (const e of entries) {
      if (e.type === EntryType.Snapshot) {
        this.state = decodeState(e.data);
        this.snapshotsApplied++;
      } else if (e.type === EntryType.Normal) {
        this.state.push(Buffer.from(e.data));
      }
    }
    this.appliedIndex = index;
  }

  snapshotData(): Uint8Array {
    return encodeState(this.state);
  }

  stateStrings(): string[] {
    return this.state.map((b) => b.toString());
  }
}

export function encodeState(state: Buffer[]): Uint8Array {
  let n = 4;
  for (const b of state) n += 4 + b.length;
  const out = Buffer.allocUnsafe(n);
  out.writeUInt32LE(state.length, 0);
  let off = 4;
  for (const b of state) {
    out.writeUInt32LE(b.length, off);
    b.copy(out, off + 4);
    off += 4 + b.length;
  }
  return out;
}

export function decodeState(data: Uint8Array): Buffer[] {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const count = b.readUInt32LE(0);
  const out: Buffer[] = [];
  let off = 4;
  for (let i = 0; i < count; i++) {
    const len = b.readUInt32LE(off);
    out.push(Buffer.from(b.subarray(off + 4, off + 4 + len)));
    off += 4 + len;
  }
  return out;
}

export class LocalCluster {
  readonly hub = new InProcessHub();
  readonly members: LocalMember[] = [];
  readonly group: string;
  readonly dir: string;
  private readonly ownDir: boolean;
  private readonly opts: LocalClusterOptions;

  constructor(opts: LocalClusterOptions) {
    this.opts = opts;
    this.group = opts.group ?? 'S-R3F-TESTGRP1';
    this.ownDir = !opts.dir;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'tsnats-raft-'));
    for (let i = 0; i < opts.size; i++) this.addMember();
  }

  /** Adds a (not yet started) member named n<k>. */
  addMember(): LocalMember {
    const name = `n${this.members.length + 1}`;
    const m = new LocalMember(name, peerIdForServerName(name), join(this.dir, name, this.group));
    this.members.push(m);
    return m;
  }

  peerIds(): string[] {
    return this.members.map((m) => m.id);
  }

  startAll(peers = this.peerIds()): this {
    for (const m of this.members) if (!m.running) this.start(m, peers);
    return this;
  }

  start(m: LocalMember, peers = this.peerIds()): RaftNode {
    if (m.node) return m.node;
    m.state = [];
    m.appliedIndex = 0;
    const node = new RaftNode({
      group: this.group,
      serverName: m.name,
      peers,
      storeDir: m.dir,
      transport: this.hub.transport(m.name),
      timing: { ...FAST_TIMING, ...this.opts.timing },
      fsync: this.opts.fsync,
      segmentMaxBytes: this.opts.segmentMaxBytes,
      apply: (index, entries) => m.applyEntries(index, entries),
      onLeaderChange: (isLeader, term) => m.leaderChanges.push({ isLeader, term }),
      log: this.opts.log,
      ...this.opts.memberOptions?.(m.name),
    });
    m.node = node;
    node.start();
    return node;
  }

  /** Stops a member (its directory stays: a restart recovers from it). */
  stop(m: LocalMember): void {
    m.node?.stop();
    m.node = undefined;
  }

  restart(m: LocalMember): RaftNode {
    this.stop(m);
    return this.start(m);
  }

  running(): LocalMember[] {
    return this.members.filter((m) => m.running);
  }

  /** The member whose node is leader and ready, if any. */
  leader(): LocalMember | undefined {
    return this.members.find((m) => m.node?.isLeader);
  }

  async waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async waitForLeader(timeoutMs = 10_000): Promise<LocalMember> {
    await this.waitFor(() => this.leader() !== undefined, timeoutMs, 'a leader');
    return this.leader()!;
  }

  /** Waits until every running member has applied `count` entries. */
  async waitForStateSize(count: number, timeoutMs = 10_000): Promise<void> {
    await this.waitFor(() => this.running().every((m) => m.state.length >= count), timeoutMs, `${count} applied entries everywhere`);
  }

  async destroy(): Promise<void> {
    for (const m of this.members) this.stop(m);
    // A stopped node's last asynchronous term/vote or peer-state write (a temp file, its fsync, the
    // rename) may still land a file while the directory is removed (ENOTEMPTY). On a busy disk that
    // fsync can take seconds (CI saw 10 synchronous retries over 1.1 s fail), so the removal retries
    // without blocking, for up to ~10 s, letting those writes finish.
    if (this.ownDir) await rm(this.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 50 });
  }
}
