// The seeded fault schedule. Everything random in a chaos run comes from one
// PRNG seeded by --seed: the fault kinds, their roles (leader or follower of
// the stream, resolved to a node when the fault fires), their timing and the
// byte offsets a corruption touches. The same seed and fault list give the same
// schedule, so a failing run can be replayed.
import { seededRandom } from '../../test/helpers/wait.js';

export type FaultKind = 'kill' | 'stop' | 'partition' | 'corrupt' | 'torn' | 'bitflip' | 'unsynced' | 'raft-damage' | 'peer-remove';
export type Role = 'leader' | 'follower';

export const ALL_FAULTS: FaultKind[] = ['kill', 'stop', 'partition', 'corrupt', 'torn', 'bitflip', 'unsynced', 'raft-damage', 'peer-remove'];

/** The default fault list: every kind once ('corrupt' already stands for its two halves, torn and bitflip). */
export const DEFAULT_FAULTS: FaultKind[] = ['kill', 'stop', 'partition', 'corrupt', 'unsynced', 'raft-damage', 'peer-remove'];

/**
 * What each fault does (printed by --help and documented in bench/chaos/README.md).
 */
export const FAULT_DOC: Record<FaultKind, string> = {
  kill: 'kill -9 the target (stream leader or a follower), keep it down for the fault duration, restart it on the same store',
  stop: 'SIGSTOP the stream leader for the fault duration (longer than an election timeout), then SIGCONT: a paused old leader comes back',
  partition: 'cut every route of the target (leader or follower) in the TCP proxies for the fault duration, then heal; its clients stay connected',
  corrupt: 'torn or bitflip, chosen by the seed',
  torn: 'kill -9 a follower (a minority replica), truncate a random tail (1-4096 B) of its newest stream message block (a torn write), restart it',
  bitflip: 'kill -9 a follower (a minority replica), flip 1-8 random bits anywhere in its stream message blocks, restart it',
  unsynced: 'kill -9 a follower and drop the tail of its newest stream message block and of its newest stream raft WAL block (writes not yet fsynced at power loss), then restart it',
  'raft-damage': 'kill -9 a follower (a minority replica), damage 1-4 of its raft files (meta, stream and consumer groups: WAL, snapshot, tav.idx, peers.idx; chosen by the seed and printed), each by a torn tail (1-4096 B dropped), a cut at a random length or 1-8 flipped bits, restart it; it must rejoin (stream and consumer replica current, a meta leader known) within 30 s',
  'peer-remove': 'STREAM.PEER.REMOVE of a follower under load; a 4th server is started for this fault so a replacement can be placed and caught up (with the stream\'s 3 servers only, nats-server 2.9.10 answers "peer remap failed" or leaves 2 peers)',
};

export interface PlannedFault {
  /** 1-based position in the schedule */
  n: number;
  kind: FaultKind;
  role: Role;
  /** which follower (0 or 1, of the followers sorted by name) when role is follower */
  pick: number;
  /** ms after the previous fault ended (or the start of the load) */
  gapMs: number;
  /** how long the fault lasts (down, stopped, partitioned) */
  durationMs: number;
  /**
   * for corrupt: torn tail or flipped bits, and bytes or bits touched; for unsynced: bytes dropped; for
   * raft-damage: how many raft files are damaged (which, and how, follows from subSeed)
   */
  mode?: 'torn' | 'flip';
  amount?: number;
  subSeed: number;
}

const ROLES: Record<FaultKind, Role[]> = {
  kill: ['leader', 'follower'],
  stop: ['leader'],
  partition: ['leader', 'follower'],
  corrupt: ['follower'],
  torn: ['follower'],
  bitflip: ['follower'],
  unsynced: ['follower'],
  'raft-damage': ['follower'],
  'peer-remove': ['follower'],
};

/** The faults that fill `durationMs` of load, one at a time with gaps between them. */
export function planSchedule(seed: number, durationMs: number, kinds: FaultKind[]): PlannedFault[] {
  const rnd = seededRandom(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const out: PlannedFault[] = [];
  if (kinds.length === 0) return out;
  let t = 0;
  // Bounded: at most one fault per 2.5 s of load, and never more than 200.
  while (out.length < 200) {
    const kind = kinds[int(0, kinds.length - 1)]!;
    const roles = ROLES[kind];
    const f: PlannedFault = {
      n: out.length + 1,
      kind,
      role: roles[int(0, roles.length - 1)]!,
      pick: int(0, 1),
      gapMs: int(500, 2000),
      durationMs: kind === 'stop' ? int(2500, 5000) : int(1000, 4000),
      subSeed: int(1, 0x7fffffff),
    };
    if (kind === 'corrupt' || kind === 'torn' || kind === 'bitflip') {
      f.mode = kind === 'torn' ? 'torn' : kind === 'bitflip' ? 'flip' : rnd() < 0.5 ? 'torn' : 'flip';
      f.amount = f.mode === 'torn' ? int(1, 4096) : int(1, 8);
    } else if (kind === 'unsynced') {
      f.amount = int(1, 8192);
    } else if (kind === 'raft-damage') {
      f.amount = int(1, 4);
    }
    if (kind === 'peer-remove') f.durationMs = 0;
    if (t + f.gapMs + f.durationMs > durationMs) break;
    t += f.gapMs + f.durationMs;
    out.push(f);
  }
  return out;
}

export function describeFault(f: PlannedFault): string {
  const extra = f.mode !== undefined ? ` ${f.mode} ${f.amount}${f.mode === 'torn' ? 'B' : ' bits'}`
    : f.kind === 'unsynced' ? ` drop ${f.amount}B`
      : f.kind === 'raft-damage' ? ` ${f.amount} raft file${f.amount === 1 ? '' : 's'}` : '';
  const who = f.role === 'leader' ? 'leader' : `follower#${f.pick}`;
  return `#${f.n} +${f.gapMs}ms ${f.kind} ${who} for ${f.durationMs}ms${extra}`;
}

export function parseFaults(s: string): FaultKind[] {
  const out: FaultKind[] = [];
  for (const part of s.split(',').map((x) => x.trim()).filter((x) => x !== '')) {
    if (!(ALL_FAULTS as string[]).includes(part)) throw new Error(`unknown fault '${part}' (known: ${ALL_FAULTS.join(', ')})`);
    out.push(part as FaultKind);
  }
  return out;
}
