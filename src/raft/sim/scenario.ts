// One seeded simulation run: a chaos phase (faulty network, crashes, slow
// disks, drifting clocks, stepdowns, snapshots, client load), then the
// network heals and every server restarts; within a bound there must be a
// leader and a proposal made after the heal must be applied everywhere.

import { CLIENT_TAG, SimCluster, type SimServer } from './cluster.js';
import { TAGGED_LEN, taggedId, taggedProposal } from './run-checks.js';
import { SimFailure } from './invariants.js';
import { Prng } from './prng.js';
import { mix53 } from './hash.js';

export interface ScenarioOptions {
  seed: number;
  nodes?: number;
  /** Simulated milliseconds of chaos. */
  chaosMs?: number;
  /** Bound (simulated ms) for a leader and progress after the heal. */
  livenessMs?: number;
  /** Route every message through the NRG codec (default: every 8th seed). */
  codec?: boolean;
  /** Keep the last N trace lines (0 = off; failures are re-run with tracing). */
  traceLimit?: number;
  /**
   * Check only consequences (election safety, log matching, commit durability,
   * state machine safety, acknowledged proposals applied once), not the
   * direct rules (durable-before-send, commitment rule).
   */
  consequencesOnly?: boolean;
}

export interface ScenarioResult {
  seed: number;
  nodes: number;
  ok: boolean;
  error?: string;
  trace?: string[];
  stats: { events: number; messages: number; leaders: number; committed: number; proposals: number; acked: number; simMs: number };
  /** Hash of the run's outcome (event count, messages, every server's final state): equal runs, equal fingerprints. */
  fingerprint: number;
}

const PROBE_TAG = 0xfe;

export function runScenario(opts: ScenarioOptions): ScenarioResult {
  const seed = opts.seed;
  const plan = new Prng(seed ^ 0x5bd1e995);
  const nodes = opts.nodes ?? (plan.chance(0.5) ? 3 : 5);
  const chaosMs = opts.chaosMs ?? 6000;
  const livenessMs = opts.livenessMs ?? 20_000;
  const sim = new SimCluster({ seed, nodes, codec: opts.codec ?? seed % 8 === 0, traceLimit: opts.traceLimit ?? 0, checkSends: !opts.consequencesOnly });
  if (opts.consequencesOnly) sim.inv.checkCommitRule = false;
  const stats = { events: 0, messages: 0, leaders: 0, committed: 0, proposals: 0, acked: 0, simMs: 0 };
  let probeFrom = Infinity;
  const probed = new Set<string>();
  sim.onApplied = (s, _index, data) => {
    if (data.length === TAGGED_LEN && data[0] === PROBE_TAG) {
      if (taggedId(data) >= probeFrom) probed.add(s.name);
    }
  };
  try {
    scheduleChaos(sim, plan, chaosMs, stats);
    sim.runUntil(chaosMs);
    // Heal: reliable network, every server up, disks fast.
    sim.healNetwork();
    sim.calm();
    for (const s of sim.servers) {
      s.slowDisk = false;
      // A node that closed itself (removed from the group) is recreated by its upper layer.
      if (s.up && s.core.state === 'closed') sim.crash(s);
      sim.restart(s);
    }
    let probeSeq = 1_000_000;
    probeFrom = probeSeq;
    const deadline = chaosMs + livenessMs;
    const step = 50;
    for (let t = chaosMs + step; t <= deadline; t += step) {
      sim.runUntil(t);
      if (probed.size === sim.servers.length) break;
      for (const s of sim.servers) {
        if (s.up && s.core.state === 'closed') {
          sim.crash(s);
          sim.restart(s);
        }
      }
      const l = sim.readyLeader();
      if (l && (t / step) % 4 === 0) {
        sim.propose(l, taggedProposal(PROBE_TAG, probeSeq++));
      }
    }
    if (probed.size !== sim.servers.length) {
      const st = sim.servers.map((s) => `${s.name}:${s.core.state}/t${s.core.term}/i${s.core.lastIndex}/c${s.core.commit}/l=${s.core.leader || '-'}`).join(' ');
      throw new SimFailure(`no progress within ${livenessMs}ms after heal (applied probe on ${[...probed].join(',') || 'none'}) [${st}]`);
    }
    // End to end: every proposal acknowledged to its client was applied, at
    // one index (duplicates fail as they happen), before the probe that
    // every server has applied.
    const unapplied = sim.clients.unapplied();
    if (unapplied !== undefined) throw new SimFailure(unapplied);
    stats.acked = sim.clients.acked.size;
    fill(stats, sim);
    return { seed, nodes, ok: true, stats, fingerprint: fingerprint(sim) };
  } catch (e) {
    fill(stats, sim);
    if (e instanceof SimFailure) return { seed, nodes, ok: false, error: e.message, trace: sim.traceTail(), stats, fingerprint: fingerprint(sim) };
    const msg = e instanceof Error ? `${e.message}\n${e.stack}` : String(e);
    return { seed, nodes, ok: false, error: `exception: ${msg}`, trace: sim.traceTail(), stats, fingerprint: fingerprint(sim) };
  }
}

function fingerprint(sim: SimCluster): number {
  let h = mix53(mix53(0, sim.events), sim.messages);
  h = mix53(h, Math.round(sim.now * 1000));
  for (const s of sim.servers) {
    h = mix53(h, s.smIndex);
    h = mix53(h, s.smHash);
    h = mix53(h, s.core.term);
  }
  return h;
}

function fill(stats: ScenarioResult['stats'], sim: SimCluster): void {
  stats.events = sim.events;
  stats.messages = sim.messages;
  stats.leaders = sim.inv.leadersElected;
  stats.committed = sim.inv.maxCommitted;
  stats.simMs = sim.now;
}

/** Lays out the random fault schedule of the chaos phase. */
function scheduleChaos(sim: SimCluster, plan: Prng, chaosMs: number, stats: ScenarioResult['stats']): void {
  const servers = sim.servers;
  for (const s of servers) {
    s.clockRate = plan.chance(0.3) ? plan.range(0.9, 1.1) : plan.range(0.995, 1.005);
    s.clockOffset = plan.range(0, 100_000);
  }
  // Network conditions change in phases.
  for (let t = 0; t < chaosMs; t += plan.range(300, 1500)) {
    const loss = plan.pick([0, 0, 0.01, 0.05, 0.2]);
    const dup = plan.pick([0, 0, 0.01, 0.05]);
    const slowProb = plan.pick([0, 0.01, 0.05, 0.2]);
    const slowMaxMs = plan.range(5, 400);
    const maxDelayMs = plan.pick([0.5, 2, 10]);
    sim.at(t, () => {
      sim.net = { loss, dup, minDelayMs: 0.05, maxDelayMs, slowProb, slowMaxMs };
    });
  }
  // Partitions.
  for (let t = plan.range(200, 1000); t < chaosMs; t += plan.range(400, 2500)) {
    const kind: number = plan.int(0, 3);
    const dur = plan.range(100, 2500);
    const side = servers.filter(() => plan.chance(0.5));
    const links: [SimServer, SimServer][] = [];
    for (let k = plan.int(1, servers.length); k > 0; k--) links.push([plan.pick(servers), plan.pick(servers)]);
    sim.at(t, () => {
      if (kind === 0) {
        sim.partition(side);
      } else if (kind === 1) {
        for (const [a, b] of links) if (a !== b) sim.blockLink(a, b);
      } else if (kind === 2) {
        const l = sim.readyLeader();
        if (l) sim.partition([l]);
      } else {
        sim.partition(side.slice(0, 1));
      }
      sim.trace(`partition kind=${kind}`);
    });
    sim.at(Math.min(t + dur, chaosMs), () => {
      sim.healNetwork();
      sim.trace('network healed');
    });
  }
  // Crashes and restarts.
  for (let t = plan.range(300, 1500); t < chaosMs; t += plan.range(300, 2000)) {
    const target = plan.int(0, servers.length - 1);
    const leaderBias = plan.chance(0.4);
    const down = plan.range(20, 2000);
    sim.at(t, () => {
      const l = leaderBias ? sim.readyLeader() : undefined;
      const s = l ?? servers[target];
      sim.crash(s);
      sim.at(sim.now + down, () => sim.restart(s));
    });
  }
  // Slow disks.
  for (let t = plan.range(0, 2000); t < chaosMs; t += plan.range(500, 3000)) {
    const s = plan.pick(servers);
    const on = plan.chance(0.6);
    sim.at(t, () => {
      s.slowDisk = on;
    });
  }
  // Stepdowns / leader transfers.
  for (let t = plan.range(500, 3000); t < chaosMs; t += plan.range(700, 3000)) {
    const pref = plan.chance(0.5) ? plan.pick(servers).id : undefined;
    sim.at(t, () => {
      const l = sim.readyLeader();
      if (l) sim.stepDown(l, pref);
    });
  }
  // Membership (5-node groups): remove a follower, later add it back. The
  // removed server keeps running and listening, like a real one would.
  if (servers.length === 5) {
    let removed: string | undefined;
    for (let t = plan.range(300, 1500); t < chaosMs; t += plan.range(250, 1200)) {
      const pickIdx = plan.int(0, servers.length - 1);
      const removeLeader = plan.chance(0.25);
      sim.at(t, () => {
        const l = sim.readyLeader();
        if (!l || l.core.membershipChangeInProgress) return;
        if (removed === undefined) {
          // Sometimes the leader removes itself (it transfers leadership and closes).
          const victim = removeLeader ? l : servers[pickIdx];
          if (!l.core.peerIds().includes(victim.id)) return;
          if (sim.changeMembership(l, false, victim.id)) removed = victim.id;
        } else if (sim.changeMembership(l, true, removed)) {
          removed = undefined;
        }
      });
    }
  }
  // Disk faults on a minority: a wiped disk or bit rot in the newest durable
  // records. One server at a time, and only once earlier damage has been
  // repaired (its leader caught it up): Raft cannot survive losing the data
  // of a majority.
  for (let t = plan.range(500, 3000); t < chaosMs; t += plan.range(800, 4000)) {
    const target = plan.int(0, servers.length - 1);
    const wipe = plan.chance(0.4);
    const k = plan.int(1, 30);
    const down = plan.range(20, 1500);
    sim.at(t, () => {
      if (servers.some((x) => x.disk.lost)) return;
      const s = servers[target];
      if (wipe) sim.wipe(s);
      else sim.corrupt(s, k);
      sim.at(sim.now + down, () => sim.restart(s));
    });
  }
  // Crashes while an fsync is in flight, and power losses of a majority or of
  // everyone at once: what was not durable is gone on all of them together.
  sim.crashDuringFsync = plan.pick([0, 0.002, 0.01, 0.03]);
  sim.crashDuringTavWrite = plan.pick([0, 0.05, 0.2]);
  for (let t = plan.range(400, 3000); t < chaosMs; t += plan.range(800, 4000)) {
    const all = plan.chance(0.5);
    const shortDown = plan.chance(0.5);
    sim.at(t, () => {
      const victims = all ? servers : servers.filter(() => sim.rng.chance(0.6));
      sim.powerLoss(victims, () => (shortDown ? sim.rng.range(1, 50) : sim.rng.range(50, 1500)));
    });
  }
  // Clock jumps (NTP steps, VM pauses): forward and backward.
  for (let t = plan.range(300, 3000); t < chaosMs; t += plan.range(500, 3000)) {
    const s = plan.pick(servers);
    const jump = plan.pick([-5000, -800, -100, 100, 800, 5000]);
    sim.at(t, () => {
      s.clockOffset += jump;
      sim.trace(`${s.name} clock jumps ${jump}ms`);
      if (s.up) sim.afterCall(s);
    });
  }
  // A node that closed itself (removed from the group) is recreated by its upper layer.
  for (let t = 250; t < chaosMs; t += 250) {
    sim.at(t, () => {
      for (const s of servers) {
        if (s.up && s.core.state === 'closed') {
          sim.crash(s);
          sim.restart(s);
        }
      }
    });
  }
  // Snapshots.
  for (let t = plan.range(200, 1000); t < chaosMs; t += plan.range(150, 1200)) {
    const s = plan.pick(servers);
    sim.at(t, () => {
      sim.snapshot(s);
    });
  }
  // Client load: bursts of proposals through random servers.
  let seq = 0;
  const meanGap = plan.range(5, 40);
  for (let t = plan.range(0, 50); t < chaosMs; t += plan.range(0, 2 * meanGap)) {
    const burst = plan.chance(0.1) ? plan.int(2, 40) : 1;
    const via = plan.int(0, servers.length - 1);
    const toLeader = plan.chance(0.7);
    sim.at(t, () => {
      const s = toLeader ? (sim.readyLeader() ?? servers[via]) : servers[via];
      for (let k = 0; k < burst; k++) {
        if (sim.propose(s, taggedProposal(CLIENT_TAG, seq++))) stats.proposals++;
      }
    });
  }
  // Closed routes (drawn last, so the plans above stay as they were): a crashed server is
  // reported gone to the others (RaftCore.peerGone), and live servers, usually the leader, are
  // reported gone spuriously, to everyone or to some (a route that flapped).
  sim.goneReports = plan.pick([0, 0.5, 1]);
  const flaps = plan.chance(0.7);
  for (let t = plan.range(300, 2000); flaps && t < chaosMs; t += plan.range(300, 2500)) {
    const toAll = plan.chance(0.5);
    sim.at(t, () => {
      const gone = sim.readyLeader() ?? sim.rng.pick(servers);
      for (const o of servers) if (o !== gone && (toAll || sim.rng.chance(0.5))) sim.reportGone(gone, o);
    });
  }
}
