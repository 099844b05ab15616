// STREAM.PEER.REMOVE (and SERVER.REMOVE, for each stream of the server) must never drop the
// replicas that hold a stream's data. nats-server 2.9.10 proposes the new group whatever the
// replicas hold: removing the R1 holder right after an R1 -> R3 update (its store is the only copy until its seed snapshot is committed), or the only current
// follower while the third replica is down or still catching up, leaves the group without any
// replica that has every acknowledged message. tsnats refuses such a removal.
//
// The meta leader does not know what replicas hold, so it asks each online replica of the group on
// `$JSC.RSTATE.<peer>.<group>` (system account, one subscription per server; tsnats only:
// nats-server peers never answer). Each replica reports whether its store holds what its log says
// (not a scale-up joiner awaiting the seed, not fetching messages with `$JSC`, not reset, not
// failed, not in raft's lost-state mode), whether it leads, and its applied and commit indexes. A peer may go when, counted against the
// leader's commit index at the first answer, at least a quorum of the new group (the peers that
// stay plus the replacement) holds everything up to it. The leader is asked again every
// RECHECK_MS until that holds or WAIT_MS passed: a seed that is about to finish or a follower a
// few entries behind only delays the answer.
import type { StreamAssignment } from './assignments.js';
import type { ClusteredJetStream } from './js-cluster.js';
import { collectLeaderInfos } from './list-collect.js';

export const replicaStateSubject = (peer: string, group: string): string => `$JSC.RSTATE.${peer}.${group}`;

/** What one replica reports about itself. */
export interface ReplicaState {
  /** Its store holds every message its applied log describes. */
  holds: boolean;
  leader: boolean;
  applied: number;
  commit: number;
}

/** How long the meta leader waits for the replicas to be safe before it refuses. */
export const WAIT_MS = 3000;
const RECHECK_MS = 150;
const ASK_TIMEOUT_MS = 1000;

/** Refusal text (10051): the peer holds data the others lack. */
export const PEER_REMOVE_REFUSED = 'peer remove refused: the remaining replicas do not hold every acknowledged message yet (a replica is being seeded, catching up or offline)';
/** How long the next removal of the same stream waits to see this one's group applied. */
export const PEER_REMOVE_APPLY_MS = 5000;

/** Resolve once `cond()` holds (checked every 25 ms) or after `ms`. */
export async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
}

/**
 * A server's side (one subscription for all its replicas): answer `$JSC.RSTATE.<us>.<group>` with
 * `state(group)`; a group not running here does not answer. Returns the unsubscribe.
 */
export function serveReplicaStates(c: ClusteredJetStream, state: (group: string) => ReplicaState | undefined): () => void {
  const prefix = replicaStateSubject(c.id, '');
  return c.subscribeSystem(`${prefix}*`, (subject, reply) => {
    const s = reply ? state(subject.slice(prefix.length)) : undefined;
    if (s) c.publishSystem(reply, JSON.stringify(s));
  });
}

/**
 * Whether `newPeers` (the group after the removal, a replacement included) keep a quorum of
 * replicas holding everything up to `target` (the leader's commit index).
 */
export function quorumHolds(states: ReadonlyMap<string, ReplicaState>, newPeers: readonly string[], target: number): boolean {
  let n = 0;
  for (const p of newPeers) {
    const s = states.get(p);
    if (s?.holds && s.applied >= target) n++;
  }
  return newPeers.length > 0 && n >= Math.floor(newPeers.length / 2) + 1;
}

/** Ask the group's online replicas for their state (those that do not answer are absent). */
async function askReplicas(c: ClusteredJetStream, sa: StreamAssignment, timeoutMs: number): Promise<Map<string, ReplicaState>> {
  const online = c.onlinePeers();
  const asks = sa.group.peers.filter((p) => p === c.id || online.has(p))
    .map((p) => ({ key: p, subject: replicaStateSubject(p, sa.group.name) }));
  const got = await collectLeaderInfos(c, asks, timeoutMs);
  const out = new Map<string, ReplicaState>();
  for (const [p, j] of got) {
    if (typeof j.applied !== 'number' || typeof j.commit !== 'number') continue;
    out.set(p, { holds: j.holds === true, leader: j.leader === true, applied: j.applied, commit: j.commit });
  }
  return out;
}

/**
 * Wait until removing `peer` from the stream is safe: `current()` gives the assignment as it is
 * now (undefined when the stream went away) and `newPeers(sa)` the group the removal would
 * propose. True once safe; false when still unsafe after WAIT_MS.
 */
export async function waitRemovalSafe(
  c: ClusteredJetStream, current: () => StreamAssignment | undefined, newPeers: (sa: StreamAssignment) => string[],
): Promise<boolean> {
  const deadline = Date.now() + WAIT_MS;
  let target: number | undefined;
  for (;;) {
    const sa = current();
    if (!sa) return true; // the caller answers for a stream that went away
    const states = await askReplicas(c, sa, Math.max(100, Math.min(ASK_TIMEOUT_MS, deadline - Date.now())));
    if (target === undefined) {
      for (const s of states.values()) if (s.leader) target = s.commit;
    }
    if (target !== undefined && quorumHolds(states, newPeers(current() ?? sa), target)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, RECHECK_MS));
  }
}
