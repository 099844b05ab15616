// One seeded simulation of real RaftNodes: the node, its WAL and its meta
// files run unchanged on a simulated file system (sim-fs.ts) with virtual
// time, a lossy reordering network and faults: crashes that lose whatever
// was not fsync'ed (names included), power loss of several servers at once,
// bit rot in the durable WAL or snapshot of one server at a time, clock
// jumps, stepdowns, snapshots taken from inside apply(). Checks: one leader
// per term, every server's state machine identical at every index, applies
// in order with no gap or repeat (also across restarts), every proposal
// acknowledged to its client applied exactly once, and progress after the
// network heals.

import { RaftNode } from '../node.js';
import { forgetPendingWrites } from '../log/meta-files.js';
import type { RaftRuntime } from '../runtime.js';
import type { RaftTiming } from '../core-types.js';
import { decodeVoteRequest } from '../codec.js';
import { isProbeVoteInbox, peerIdForServerName } from '../subjects.js';
import type { RaftMessageHandler, RaftSubscription, RaftTransport } from '../transport.js';
import { type Entry, EntryType, RaftError } from '../types.js';
import { EventQueue } from './event-queue.js';
import { fnv32, mix53 } from './hash.js';
import { SimFailure } from './invariants.js';
import { CALM, SimLinks, type NetworkConditions } from './network.js';
import { Prng } from './prng.js';
import { SimFs } from './sim-fs.js';
import { ClientLedger, TAGGED_LEN, TraceRing, taggedId, taggedProposal } from './run-checks.js';
import { SIM_TIMING } from './cluster.js';

const GROUP = 'S-R3F-NODESIM1';
const DIR = '/data/S-R3F-NODESIM1';
/** The witness copy outside the group directory (as a stream group keeps it in its store's directory). */
const WITNESS_COPY = '/data/raft-witness.idx';
const CLIENT = 1;
const PROBE = 0xfe;

export interface NodeScenarioOptions {
  seed: number;
  nodes?: number;
  chaosMs?: number;
  livenessMs?: number;
  traceLimit?: number;
  timing?: Partial<RaftTiming>;
  /** Return the trace also for passing runs. */
  keepTrace?: boolean;
  /** Only end-to-end consequences, not the durable-before-send checks. */
  consequencesOnly?: boolean;
  /**
   * Also damage logs cleanly (off by default, so the default seeds stay as they are): a killed
   * server (page cache kept) has its newest WAL segment cut at a record boundary or removed.
   */
  cutTails?: boolean;
  /**
   * As `cutTails`, and half of the cuts remove the whole wal/ directory or the whole group directory
   * instead (the nodes keep a witness copy outside it). Separate, so the `cutTails` seeds stay as they are.
   */
  removeLogs?: boolean;
}

export interface NodeScenarioResult {
  seed: number;
  nodes: number;
  ok: boolean;
  error?: string;
  trace?: string[];
  stats: { events: number; messages: number; leaders: number; applied: number; acked: number; restarts: number; corruptions: number };
  fingerprint: number;
}

interface Sub {
  server: Server;
  subject: string;
  handler: RaftMessageHandler;
  active: boolean;
}

class Server {
  node: RaftNode | undefined;
  up = false;
  inc = 0;
  clockOffset = 0;
  clockRate = 1;
  smIndex = 0;
  smHash = 0;
  slowDisk = false;
  everBooted = false;
  /** Disk wiped: the next boot is told the state was lost. */
  wiped = false;
  readonly seqToId = new Map<number, number>();
  readonly subs = new Set<Sub>();
  fs!: SimFs;
  constructor(
    readonly idx: number,
    readonly name: string,
    readonly id: string,
    readonly rng: Prng,
  ) {}
}

class NodeSim {
  readonly q = new EventQueue();
  now = 0;
  readonly rng: Prng;
  readonly servers: Server[] = [];
  private readonly subs = new Map<string, Sub[]>();
  readonly links: SimLinks;
  net: NetworkConditions = { ...CALM };
  readonly leaderOfTerm = new Map<number, string>();
  readonly appliedHash: number[] = [];
  readonly clients = new ClientLedger();
  probed = new Set<string>();
  probeFrom = Infinity;
  events = 0;
  messages = 0;
  restarts = 0;
  corruptions = 0;
  snapshotChance = 0;
  /** Cuts may remove wal/ or the group directory; nodes keep a witness copy outside it (`removeLogs`). */
  removeLogs = false;
  private readonly traceRing: TraceRing;
  failure: string | undefined;

  constructor(
    seed: number,
    nodes: number,
    readonly timing: Partial<RaftTiming>,
    private readonly traceLimit: number,
  ) {
    this.rng = new Prng(seed);
    this.traceRing = new TraceRing(traceLimit);
    this.links = new SimLinks(nodes);
    for (let i = 0; i < nodes; i++) {
      const name = `n${i + 1}`;
      const s = new Server(i, name, peerIdForServerName(name), this.rng.fork());
      s.fs = this.newFs(s);
      this.servers.push(s);
    }
  }

  private newFs(s: Server): SimFs {
    return new SimFs(
      (delay, fn) => this.q.push(this.now + delay, fn),
      () => (s.slowDisk ? this.rng.range(5, 60) : this.rng.range(0.1, 1.5)),
    );
  }

  trace(line: string): void {
    this.traceRing.add(this.now, line);
  }
  traceTail(): string[] {
    return this.traceRing.tail();
  }

  fail(msg: string): never {
    // Thrown inside node callbacks the node may catch it (apply errors are
    // logged there): remember the first failure so the run still ends.
    const full = `t=${this.now.toFixed(3)}ms ${msg}`;
    this.failure ??= full;
    throw new SimFailure(full);
  }

  // ------------------------------------------------------------ runtime and transport of one incarnation

  private runtime(s: Server): RaftRuntime {
    const inc = s.inc;
    const alive = (): boolean => s.up && s.inc === inc;
    return {
      now: () => s.clockOffset + s.clockRate * this.now,
      random: () => s.rng.next(),
      setTimer: (fn, ms) => {
        const h = { cancelled: false };
        this.q.push(this.now + ms / s.clockRate, () => {
          if (!h.cancelled && alive()) this.guard(fn);
        });
        return h;
      },
      clearTimer: (h) => {
        (h as { cancelled: boolean }).cancelled = true;
      },
      defer: (fn) => {
        this.q.push(this.now, () => {
          if (alive()) this.guard(fn);
        });
      },
      fs: s.fs.raftFs,
      // An acknowledgement is checked when it is made: one held back behind a
      // term/vote write may leave after a truncation, like any delayed message.
      onProduce: (subject, payload) => {
        if (this.checkSends && alive() && subject.startsWith('$NRG.R.') && payload.length === 25) this.checkDurableBeforeSend(s, payload);
      },
    };
  }

  /** Runs node code; a SimFailure thrown by a callback (apply, state change) ends the run. */
  private guard(fn: () => void): void {
    fn();
  }

  private transport(s: Server): RaftTransport {
    const inc = s.inc;
    return {
      publish: (subject, reply, payload) => {
        if (!s.up || s.inc !== inc) return;
        if (this.traceLimit > 0) this.trace(`${s.name} pub ${subject} ${reply} ${payload.length}B`);
        // A vote is checked when it leaves (the node holds it until the term/vote write is durable);
        // an answer to a probe is a pre-vote, which promises nothing.
        if (subject.startsWith('$NRG.V.') && reply) {
          const vr = decodeVoteRequest(payload);
          if (vr && isProbeVoteInbox(reply, GROUP, vr.candidate, vr.term)) this.probeInboxes.add(reply);
        }
        if (this.checkSends && subject.startsWith('$NRG.R.') && payload.length === 17 && !this.probeInboxes.has(subject)) this.checkDurableBeforeSend(s, payload);
        const list = this.subs.get(subject);
        if (!list) return;
        for (const sub of list) {
          if (sub.server === s || !sub.active) continue;
          this.transmit(s, sub, subject, reply, payload);
        }
      },
      subscribe: (subject, handler): RaftSubscription => {
        const sub: Sub = { server: s, subject, handler, active: true };
        let list = this.subs.get(subject);
        if (!list) this.subs.set(subject, (list = []));
        list.push(sub);
        s.subs.add(sub);
        return {
          unsubscribe: () => this.dropSub(sub),
        };
      },
    };
  }

  private dropSub(sub: Sub): void {
    if (!sub.active) return;
    sub.active = false;
    sub.server.subs.delete(sub);
    const l = this.subs.get(sub.subject);
    if (!l) return;
    const i = l.indexOf(sub);
    if (i >= 0) l.splice(i, 1);
    if (l.length === 0) this.subs.delete(sub.subject);
  }

  private transmit(from: Server, sub: Sub, subject: string, reply: string, payload: Uint8Array): void {
    const to = sub.server;
    this.links.send(from.idx, to.idx, this.now, this.net, this.rng, (at) => this.q.push(at, () => {
      if (!sub.active || !to.up) return;
      this.messages++;
      sub.handler(subject, reply, payload);
    }));
  }

  /** Check that promises leaving a server are on its disk (what a crash now would keep). */
  checkSends = true;
  /** Inboxes of probes (their grants are pre-votes: nothing to be durable). */
  private readonly probeInboxes = new Set<string>();

  private checkDurableBeforeSend(s: Server, payload: Uint8Array): void {
    const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (b.length === 17 && (b[16] & 1) === 1) {
      // Granted vote: term and vote durable in tav.idx.
      const term = Number(b.readBigUInt64LE(0));
      const tav = s.fs.durableContent(`${DIR}/tav.idx`);
      const dTerm = tav && tav.length >= 8 ? Number(tav.readBigUInt64LE(0)) : 0;
      const dVote = tav && tav.length >= 16 ? tav.toString('latin1', 8, 16) : '';
      if (dTerm < term || (dTerm === term && dVote === '')) this.fail(`${s.name} granted a vote in term ${term} before it was durable (disk: term ${dTerm} vote '${dVote}')`);
    } else if (b.length === 25 && b[24] === 1) {
      // Successful append response: the acknowledged index is durable.
      const index = Number(b.readBigUInt64LE(8));
      const durable = this.durableLastIndex(s);
      if (index > durable) this.fail(`${s.name} acknowledged index ${index} but only ${durable} is durable`);
    }
  }

  /** Highest index a crash right now would keep: end of the durable WAL or the durable snapshot. */
  private durableLastIndex(s: Server): number {
    let last = 0;
    for (const p of s.fs.durableList(DIR)) {
      const m = /snap\.(\d+)\.(\d+)$/.exec(p);
      if (m && Number(m[2]) > last) last = Number(m[2]);
      if (!p.endsWith('.wal')) continue;
      const d = s.fs.durableContent(p)!;
      let off = 0;
      while (off + 24 <= d.length) {
        const len = d.readUInt32LE(off);
        if (off + 24 + len > d.length) break;
        const idx = Number(d.readBigUInt64LE(off + 8));
        if (idx > last) last = idx;
        off += 24 + len;
      }
    }
    return last;
  }

  // ------------------------------------------------------------ servers

  boot(s: Server): void {
    const stateLost = s.wiped;
    s.wiped = false;
    s.inc++;
    s.up = true;
    s.smIndex = 0;
    s.smHash = 0;
    s.seqToId.clear();
    this.restarts++;
    const peers = this.servers.map((x) => x.id);
    const node = new RaftNode({
      group: GROUP,
      serverName: s.name,
      peers,
      storeDir: DIR,
      witnessCopy: this.removeLogs ? WITNESS_COPY : undefined,
      transport: this.transport(s),
      timing: this.timing,
      runtime: this.runtime(s),
      recovering: s.everBooted,
      stateLost,
      apply: (index, entries) => this.apply(s, index, entries),
      onStateChange: (state, _leader, term) => {
        if (state !== 'leader') return;
        const prev = this.leaderOfTerm.get(term);
        if (prev === undefined) this.leaderOfTerm.set(term, s.name);
        else if (prev !== s.name) this.fail(`two leaders in term ${term}: ${prev} and ${s.name}`);
      },
      onProposalsCommitted: (seqUpTo) => {
        for (const [seq, id] of s.seqToId) {
          if (seq > seqUpTo) continue;
          s.seqToId.delete(seq);
          this.clients.acked.add(id);
        }
      },
      onProposalsAbandoned: (from, to) => {
        for (let q = from; q <= to; q++) s.seqToId.delete(q);
      },
      onError: (err) => this.fail(`${s.name}: storage error ${err.message}`),
      log: (level, msg) => {
        if (this.traceLimit > 0) this.trace(`${s.name} ${level} ${msg}`);
      },
    });
    s.node = node;
    s.everBooted = true;
    this.trace(`${s.name} boot inc=${s.inc}${stateLost ? ' (disk wiped: state lost)' : ''}`);
    node.start();
  }

  /** Power loss (only what was fsync'ed stays), or with `kill` a process death (every write stays). */
  crash(s: Server, kill = false): void {
    if (!s.up) return;
    this.trace(`${s.name} ${kill ? 'KILL' : 'CRASH'}`);
    s.up = false;
    s.inc++;
    for (const sub of [...s.subs]) this.dropSub(sub);
    s.node = undefined;
    if (kill) s.fs.kill(s.rng);
    else s.fs.crash(s.rng);
    forgetPendingWrites(s.fs.raftFs);
  }

  restart(s: Server): void {
    if (s.up) return;
    this.boot(s);
  }

  /** A node that closed itself (removed from the group) is stopped and recreated by its upper layer. */
  recreateClosed(): void {
    for (const s of this.servers) {
      if (!s.up || s.node?.state !== 'closed') continue;
      this.trace(`${s.name} closed: recreated`);
      s.node.stop();
      s.up = false;
      s.inc++;
      for (const sub of [...s.subs]) this.dropSub(sub);
      s.node = undefined;
      this.boot(s);
    }
  }

  /** The disk is replaced by an empty one; the upper layer knows the server held the group. */
  wipe(s: Server): void {
    this.crash(s);
    s.fs = this.newFs(s);
    s.wiped = true;
    this.corruptions++;
    this.trace(`${s.name} WIPED`);
  }

  /** Bit rot in a crashed server's durable WAL (one byte in a record) or its snapshot. */
  corrupt(s: Server): void {
    const files = s.fs.list(DIR).filter((p) => p.endsWith('.wal') || /snap\.\d+\.\d+$/.test(p));
    if (files.length === 0) return;
    const f = this.rng.pick(files);
    const size = s.fs.size(f);
    if (size <= 0) return;
    // Anywhere but the very end (that would look like a torn write).
    const off = this.rng.int(0, Math.max(0, size - 40));
    if (s.fs.corrupt(f, off)) {
      this.corruptions++;
      this.trace(`${s.name} CORRUPT ${f} at ${off}`);
    }
  }

  /**
   * Kill -9 (what was written stays), then a clean cut of the WAL: the newest segment cut at a record
   * boundary (at least one record dropped) or removed, or the whole wal/ directory or group directory
   * removed (the witness copy outside it stays). It looks like a log that never went further, or a
   * new member; only the durable witness, the group's other files or the copy tell the difference.
   */
  cutTail(s: Server): void {
    if (!s.up) return;
    this.crash(s, true);
    const removed = this.removeLogs && this.rng.chance(0.5) ? this.rng.pick([`${DIR}/wal`, DIR]) : undefined;
    if (removed !== undefined) {
      s.fs.api.rmSync(removed, { recursive: true, force: true });
      this.corruptions++;
      this.trace(`${s.name} CUT: ${removed}/ removed`);
      return;
    }
    const segs = s.fs.list(`${DIR}/wal`).filter((p) => p.endsWith('.wal'));
    const newest = segs[segs.length - 1];
    if (!newest) return;
    if (this.rng.chance(0.3)) {
      if (s.fs.remove(newest)) this.trace(`${s.name} CUT: ${newest} removed`);
      this.corruptions++;
      return;
    }
    const d = s.fs.durableContent(newest)!;
    const starts: number[] = [];
    for (let off = 0; off + 24 <= d.length; off += 24 + d.readUInt32LE(off)) starts.push(off);
    if (starts.length === 0) return;
    const at = starts[this.rng.int(0, starts.length - 1)];
    if (s.fs.cut(newest, at)) {
      this.corruptions++;
      this.trace(`${s.name} CUT: ${newest} at ${at} (record ${starts.indexOf(at) + 1} of ${starts.length})`);
    }
  }

  /** A server that lost state and has not been caught up yet. */
  lostState(s: Server): boolean {
    return s.wiped || s.fs.api.existsSync(`${DIR}/state-lost`) || (s.node?.status().stateLost ?? false);
  }

  // ------------------------------------------------------------ state machine

  private apply(s: Server, index: number, entries: Entry[]): void {
    if (entries.length === 1 && entries[0].type === EntryType.Snapshot) {
      const b = Buffer.from(entries[0].data);
      if (b.length !== 16) this.fail(`${s.name}: snapshot at ${index} has ${b.length} bytes`);
      const si = b.readDoubleLE(0);
      if (si !== index) this.fail(`${s.name}: snapshot for ${index} holds state of ${si}`);
      s.smIndex = si;
      s.smHash = b.readDoubleLE(8);
      this.checkHash(s, index, '[snapshot]');
      return;
    }
    if (index !== s.smIndex + 1) this.fail(`${s.name}: applied ${index} after ${s.smIndex} (gap or repeat)`);
    let h = mix53(s.smHash, index);
    for (const e of entries) {
      h = mix53(h, fnv32(e.data, e.type));
      if (e.type !== EntryType.Normal || e.data.length !== TAGGED_LEN) continue;
      const id = taggedId(e.data);
      if (e.data[0] === CLIENT) {
        const dup = this.clients.applied(id, index);
        if (dup !== undefined) this.fail(dup);
      } else if (e.data[0] === PROBE && id >= this.probeFrom) this.probed.add(s.name);
    }
    s.smIndex = index;
    s.smHash = h;
    this.checkHash(s, index, `[${entries.map((e) => `${e.type}:${Buffer.from(e.data).toString('hex')}`).join(',')}]`);
    // The upper layer sometimes snapshots right inside apply().
    if (this.snapshotChance > 0 && s.node && s.rng.chance(this.snapshotChance)) {
      const b = Buffer.alloc(16);
      b.writeDoubleLE(index, 0);
      b.writeDoubleLE(h, 8);
      try {
        s.node.installSnapshot(b);
        this.trace(`${s.name} snapshot in apply at ${index}`);
      } catch (e) {
        if (!(e instanceof RaftError)) throw e;
      }
    }
  }

  private readonly appliedBy: string[] = [];
  private checkHash(s: Server, index: number, what = ''): void {
    const h = this.appliedHash[index];
    if (h === undefined) {
      this.appliedHash[index] = s.smHash;
      this.appliedBy[index] = `${s.name}${what}`;
    } else if (h !== s.smHash) this.fail(`${s.name} state after applying ${index}${what} differs from ${this.appliedBy[index]}'s`);
  }

  // ------------------------------------------------------------ clients

  readyLeader(): Server | undefined {
    let best: Server | undefined;
    for (const s of this.servers) if (s.up && s.node?.isLeader && (!best || s.node.term > best.node!.term)) best = s;
    return best;
  }

  propose(s: Server, tag: number, id: number): boolean {
    const node = s.node;
    if (!s.up || !node) return false;
    const b = taggedProposal(tag, id);
    try {
      if (node.state === 'leader') {
        const seq = node.propose(b);
        if (tag === CLIENT) {
          s.seqToId.set(seq, id);
          this.clients.directIds.add(id);
        }
      } else if (node.leaderId) node.forwardProposal(b);
      else return false;
    } catch (e) {
      if (e instanceof RaftError) return false;
      throw e;
    }
    return true;
  }

  runUntil(t: number): void {
    while (this.q.peekTime() <= t) {
      const ev = this.q.pop()!;
      this.now = ev.at;
      this.events++;
      ev.run();
      if (this.failure) throw new SimFailure(this.failure);
    }
    this.now = t;
  }
}

export function runNodeScenario(opts: NodeScenarioOptions): NodeScenarioResult {
  const seed = opts.seed;
  const plan = new Prng(seed ^ 0x2545f491);
  const nodes = opts.nodes ?? (plan.chance(0.5) ? 3 : 5);
  const chaosMs = opts.chaosMs ?? 4000;
  const livenessMs = opts.livenessMs ?? 20_000;
  const sim = new NodeSim(seed, nodes, { ...SIM_TIMING, ...opts.timing }, opts.traceLimit ?? 0);
  sim.checkSends = !opts.consequencesOnly;
  const result = (ok: boolean, error?: string): NodeScenarioResult => {
    let fp = mix53(mix53(0, sim.events), sim.messages);
    for (const s of sim.servers) fp = mix53(mix53(fp, s.smIndex), s.smHash);
    return {
      seed,
      nodes,
      ok,
      error,
      trace: ok && !opts.keepTrace ? undefined : sim.traceTail(),
      stats: {
        events: sim.events,
        messages: sim.messages,
        leaders: sim.leaderOfTerm.size,
        applied: sim.appliedHash.length,
        acked: sim.clients.acked.size,
        restarts: sim.restarts,
        corruptions: sim.corruptions,
      },
      fingerprint: fp,
    };
  };
  sim.removeLogs = opts.removeLogs === true;
  try {
    for (const s of sim.servers) {
      s.clockRate = plan.chance(0.3) ? plan.range(0.9, 1.1) : plan.range(0.995, 1.005);
      s.clockOffset = plan.range(0, 100_000);
      sim.boot(s);
    }
    sim.snapshotChance = plan.pick([0, 0.01, 0.05]);
    schedule(sim, plan, chaosMs, opts.cutTails === true || sim.removeLogs);
    sim.runUntil(chaosMs);
    // Heal: reliable network, everyone up.
    sim.links.heal();
    sim.net = { ...CALM };
    for (const s of sim.servers) {
      s.slowDisk = false;
      sim.restart(s);
    }
    let probe = 1_000_000;
    sim.probeFrom = probe;
    for (let t = chaosMs + 50; t <= chaosMs + livenessMs; t += 50) {
      sim.runUntil(t);
      if (sim.probed.size === sim.servers.length) break;
      sim.recreateClosed();
      const l = sim.readyLeader();
      if (l && (t / 50) % 4 === 0) sim.propose(l, PROBE, probe++);
    }
    if (sim.probed.size !== sim.servers.length) {
      const st = sim.servers
        .map((s) => {
          const x = s.node?.status();
          return `${s.name}:${x?.state}/t${x?.term}/i${x?.pindex}/c${x?.commit}/d${x?.durableIndex}/lost=${sim.lostState(s)}/cu=${x?.catchingUp}/l=${x?.leader || '-'}`;
        })
        .join(' ');
      sim.fail(`no progress within ${livenessMs}ms after heal (probe applied on ${[...sim.probed].join(',') || 'none'}) [${st}]`);
    }
    const unapplied = sim.clients.unapplied();
    if (unapplied !== undefined) sim.fail(unapplied);
    for (const s of sim.servers) s.node?.stop();
    return result(true);
  } catch (e) {
    if (e instanceof SimFailure) return result(false, e.message);
    return result(false, `exception: ${e instanceof Error ? `${e.message}\n${e.stack}` : String(e)}`);
  }
}

function schedule(sim: NodeSim, plan: Prng, chaosMs: number, cutTails: boolean): void {
  const servers = sim.servers;
  for (let t = 0; t < chaosMs; t += plan.range(300, 1500)) {
    const net = { loss: plan.pick([0, 0, 0.01, 0.05, 0.2]), dup: plan.pick([0, 0, 0.01, 0.05]), minDelayMs: 0.05, maxDelayMs: plan.pick([0.5, 2, 10]), slowProb: plan.pick([0, 0.01, 0.05]), slowMaxMs: plan.range(5, 300) };
    sim.q.push(t, () => {
      sim.net = net;
    });
  }
  for (let t = plan.range(200, 1000); t < chaosMs; t += plan.range(400, 2000)) {
    const side = servers.filter(() => plan.chance(0.5));
    const dur = plan.range(100, 2000);
    sim.q.push(t, () => {
      sim.links.partition(new Set(side.map((s) => s.idx)));
      sim.trace('partition');
    });
    sim.q.push(Math.min(t + dur, chaosMs), () => {
      sim.links.heal();
    });
  }
  // Crashes (often the leader), power loss of several servers at once.
  for (let t = plan.range(300, 1500); t < chaosMs; t += plan.range(300, 1500)) {
    const target = plan.int(0, servers.length - 1);
    const leader = plan.chance(0.4);
    const power = plan.chance(0.25);
    const down = plan.chance(0.5) ? plan.range(1, 50) : plan.range(50, 1500);
    sim.q.push(t, () => {
      const victims = power ? servers.filter(() => sim.rng.chance(0.7)) : [(leader ? sim.readyLeader() : undefined) ?? servers[target]];
      for (const v of victims) {
        if (!v.up) continue;
        sim.crash(v);
        sim.q.push(sim.now + down, () => sim.restart(v));
      }
    });
  }
  // Bit rot on one server at a time (never while another one is still repairing).
  for (let t = plan.range(500, 2500); t < chaosMs; t += plan.range(800, 3000)) {
    const target = plan.int(0, servers.length - 1);
    const down = plan.range(5, 500);
    const wipe = plan.chance(0.3);
    // Drawn only when enabled: the default seeds keep their plans.
    const cut = cutTails && plan.chance(0.7);
    sim.q.push(t, () => {
      if (servers.some((s) => sim.lostState(s))) return;
      const s = servers[target];
      if (cut) sim.cutTail(s);
      else if (wipe) sim.wipe(s);
      else {
        sim.crash(s);
        sim.corrupt(s);
      }
      sim.q.push(sim.now + down, () => sim.restart(s));
    });
  }
  for (let t = plan.range(0, 2000); t < chaosMs; t += plan.range(500, 3000)) {
    const s = plan.pick(servers);
    const on = plan.chance(0.6);
    sim.q.push(t, () => {
      s.slowDisk = on;
    });
  }
  for (let t = plan.range(300, 3000); t < chaosMs; t += plan.range(500, 3000)) {
    const s = plan.pick(servers);
    const jump = plan.pick([-5000, -800, 800, 5000]);
    sim.q.push(t, () => {
      s.clockOffset += jump;
      sim.trace(`${s.name} clock jumps ${jump}ms`);
    });
  }
  for (let t = plan.range(500, 3000); t < chaosMs; t += plan.range(700, 3000)) {
    const pref = plan.chance(0.5) ? plan.pick(servers).id : undefined;
    sim.q.push(t, () => {
      const l = sim.readyLeader();
      if (l?.node && l.node.state === 'leader') l.node.stepDown(pref);
    });
  }
  // Membership (5 nodes): remove a server (sometimes the leader itself, which
  // hands over and closes), later add it back.
  if (servers.length === 5) {
    let removed: string | undefined;
    for (let t = plan.range(300, 1500); t < chaosMs; t += plan.range(250, 1200)) {
      const idx = plan.int(0, servers.length - 1);
      const self = plan.chance(0.3);
      sim.q.push(t, () => {
        const l = sim.readyLeader();
        if (!l?.node || l.node.membershipChangeInProgress) return;
        try {
          if (removed === undefined) {
            const victim = self ? l : servers[idx];
            if (!l.node.peers().includes(victim.id)) return;
            l.node.proposeRemovePeer(victim.id);
            removed = victim.id;
            sim.trace(`${l.name} removes ${victim.name}`);
          } else {
            l.node.proposeAddPeer(removed);
            sim.trace(`${l.name} adds ${removed}`);
            removed = undefined;
          }
        } catch (e) {
          if (!(e instanceof RaftError)) throw e;
        }
      });
    }
  }
  for (let t = 250; t < chaosMs; t += 250) sim.q.push(t, () => sim.recreateClosed());
  let id = 0;
  const gap = plan.range(5, 40);
  for (let t = plan.range(0, 50); t < chaosMs; t += plan.range(0, 2 * gap)) {
    const burst = plan.chance(0.1) ? plan.int(2, 20) : 1;
    const via = plan.int(0, servers.length - 1);
    const toLeader = plan.chance(0.7);
    sim.q.push(t, () => {
      const s = toLeader ? (sim.readyLeader() ?? servers[via]) : servers[via];
      for (let k = 0; k < burst; k++) sim.propose(s, CLIENT, id++);
    });
  }
}
