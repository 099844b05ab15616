// Membership of replicated stream and consumer groups, on the servers that hold them
// (nats-server: processClusterUpdateStream, checkPeers, removeStream, the scale-down to R1).
//
// The meta leader decides a group's peers (peer-changes.ts) and commits them in the stream's or
// consumer's assignment. On the group's servers:
// * the raft group's leader brings the raft membership in line with the assignment, one change
//   at a time (EntryRemovePeer for peers no longer assigned first, then EntryAddPeer for new
//   ones). Stream and consumer groups are `managed` raft groups: they never add a peer on their
//   own. A new peer started its replica from the assignment and catches up from the leader;
//   a removed peer stopped and deleted its replica when it applied the assignment;
// * a stream scaled down to one replica keeps its data on the remaining server, which stops the
//   raft group and serves the stream as a plain R1 stream (its consumers continue from their
//   replicated state);
// * a stream scaled up from one replica (nats-server keeps the R1 group's name and makes the old
//   server the preferred leader): the old server is the seed: its store is the data, it campaigns,
//   and once it leads it replicates a stream snapshot (EntrySnapshot, as nats-server's
//   SendSnapshot), from which the new replicas catch up with `$JSC` (stream-catchup.ts). New
//   replicas are raft observers until they applied a snapshot or stream entry from a leader
//   (scaleUpRole), so none of them can lead with an empty store, even if the seed dies before
//   its snapshot is committed; the seed keeps its marker (and so its store) until then.

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Stream } from '../stream.js';
import { RaftError, holdsWitnessCopy, type RaftNode } from '../../raft/index.js';
import { consumerHostFor, lookupConsumer, resumeConsumer } from '../consumer/manager.js';
import type { ConsumerState } from '../store/types.js';
import { atomicWriteSync, createDirWithFileSync } from '../store/durable-fs.js';
import type { ClusteredJetStream } from './js-cluster.js';
import type { StreamGroup } from './stream-group.js';

const T = 'io.nats.jetstream.api.v1.';
/** How often group leaders compare their raft membership with the assignment. */
const RECONCILE_MS = 250;

/**
 * One membership step for a group this server leads: true when the raft peers already equal
 * `wanted` (or nothing can be done now), false when a change was proposed or is pending.
 * The leader never removes itself here: its own server stops its replica when it applies the
 * assignment (handing leadership over first), and the next leader removes it.
 */
export function reconcileMembership(node: RaftNode, selfId: string, wanted: readonly string[]): boolean {
  if (!node.isLeader && wanted.length > 0) adoptSurvivors(node, selfId, wanted);
  if (!node.isLeader || wanted.length === 0) return true;
  const current = node.peers();
  const want = new Set(wanted);
  const extra = current.filter((p) => !want.has(p) && p !== selfId);
  const missing = wanted.filter((p) => !current.includes(p));
  if (extra.length === 0 && missing.length === 0) return true;
  try {
    // The peers that stay are fewer than a quorum of the membership (a consumer scaled from R3
    // to R1 keeps only its leader; the others stopped when they applied the assignment): no
    // removal could ever commit, so the leader adopts them as the membership, as nats-server's
    // UpdateKnownPeers, and goes on leading. Additions follow at the next step.
    const staying = current.filter((p) => want.has(p));
    if (extra.length > 0 && wanted.includes(selfId) && staying.length < node.quorumNeeded) {
      node.forceKnownPeers(staying);
      return false;
    }
    // Removals first: a replica that is gone then no longer counts towards the quorum the
    // additions need.
    if (extra.length > 0) node.proposeRemovePeer(extra[0]!);
    else node.proposeAddPeer(missing[0]!);
  } catch (e) {
    if (!(e instanceof RaftError)) throw e;
  }
  return false;
}

/**
 * No leader, and the peers still assigned cannot reach a quorum of the raft membership (the
 * others were removed for good, e.g. two stopped servers of an R3 stream with nothing to replace
 * them): no entry can remove them, so the survivors adopt the assigned peers as the membership and
 * the group runs on them (a one-server group stays a raft group, as nats-server's). With a leader,
 * or enough survivors to elect one, the leader's one-at-a-time changes above do it instead.
 */
function adoptSurvivors(node: RaftNode, selfId: string, wanted: readonly string[]): void {
  if (node.leaderId !== '' || !wanted.includes(selfId)) return;
  const current = node.peers();
  const staying = wanted.filter((p) => current.includes(p));
  if (staying.length === current.length || staying.length >= node.quorumNeeded) return;
  try {
    node.forceKnownPeers(staying);
  } catch (e) {
    if (!(e instanceof RaftError)) throw e;
  }
}

/**
 * A server dropped from a group it leads hands leadership to a current peer that stays (no
 * election timeout for the others), as nats-server's removeStream steps down first.
 */
export function handOver(node: RaftNode | undefined, staying: readonly string[]): void {
  if (!node || node.state !== 'leader') return;
  const keep = new Set(staying);
  const current = node.status().peers.filter((p) => !p.self && p.current && keep.has(p.id));
  const to = current.length ? current[Math.floor(Math.random() * current.length)]!.id : undefined;
  try {
    node.stepDown(to);
  } catch (e) {
    if (!(e instanceof RaftError)) throw e;
  }
}

/** Runs the membership steps of every group this server leads, until each matches its assignment. */
export class GroupMembership {
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly c: ClusteredJetStream) {}

  start(): void {
    this.timer ??= setInterval(() => this.tick(), RECONCILE_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  tick(): void {
    for (const sg of this.c.streamGroups.all()) {
      if (sg.stopped || !sg.node) continue;
      try {
        reconcileMembership(sg.node, this.c.id, sg.entry.sa.group.peers);
        for (const cg of sg.consumers.values()) {
          if (!cg.stopped && cg.node) reconcileMembership(cg.node, this.c.id, cg.ca.group.peers);
        }
      } catch (e) {
        this.c.server.log.warn(`JetStream cluster: membership of '${sg.account} > ${sg.name}': ${(e as Error).message}`);
      }
    }
  }
}

/** Marks a seed whose snapshot is not in its log yet (a restart then seeds again). */
const SEED_MARKER = 'scale-up-seed';
/** Marks a new replica that has not applied a snapshot or stream entry from a leader yet. */
const AWAITING_MARKER = 'awaiting-seed';

/**
 * 'seed': this server holds the stream's data and seeds the group; 'join': a new replica that
 * may only lead once a leader gave it the group's data.
 */
export type ScaleUpRole = 'seed' | 'join' | undefined;

/**
 * This server's part when it starts a replica of a group it has no directory for, outside a
 * create (undefined for creates and restarts; a restart finds 'seed' and 'join' from their
 * markers). The group's first peer (its preferred leader, else the first listed) holding the
 * stream locally is the 'seed' (a scale-up from one replica: the old holder is the preferred
 * leader; or peers added back to a stream left on this one server). Any other new replica is a
 * 'join'; the first peer without the stream starts as a plain new member (undefined).
 *
 * Why a new replica needs more than raft's lost-state mode: after a scale-up from R1 the data is
 * in the seed's store, not in any log, until the seed's snapshot entry is committed. Lost-state
 * mode ends with the seed's first entry, which comes before that; were the seed killed then, the
 * new replicas could elect one of themselves with an empty store, and the seed's acknowledged
 * messages would be overwritten when it returned. So a joiner is a raft observer (it votes, never
 * campaigns) and vouches for nothing (no snapshot of its own) until a leader gave it the data,
 * and keeps a durable marker saying so across restarts.
 *
 * Why every new replica but the first, not only those that saw the R1 assignment replaced: a
 * server that was down during the scale-up learns of it from the meta log or a meta snapshot,
 * which has no previous assignment to compare with (a snapshot does not even keep the API
 * subject); a second update (R3 -> R5) may come before the seed's snapshot is committed; from the
 * assignment alone a seeded group cannot be told from any other. Waiting is cheap where nothing
 * is seeded: a joiner's wait ends at the first snapshot or stream entry it applies from the log
 * (stream-group.ts), since a seed proposes its snapshot before anything else and nobody else can
 * lead before it is committed; so a committed stream entry proves the data is in the log. A young
 * group without a single message keeps its joiners observers until the first message: it still
 * elects through its old replicas, or its first peer.
 *
 * Why the first peer is exempt: liveness. A fresh R3 create whose servers all crashed before
 * creating their group directories has only new replicas; recovered from the meta log it is
 * seen as a create (undefined for all), but from a meta snapshot (no API subject) it is not, and
 * the first peer must still campaign, as the create's preferred peer does. Neither raft's
 * lost-state mode (it never campaigns before a leader caught it up) nor waiting would let it. As
 * a plain empty member it cannot win against a replica holding entries (raft's log comparison)
 * and joiners that have not heard from a leader vote only as empty logs, which count only when
 * every member votes. It is never a
 * non-seed new replica of a group in its seeding window: a scale-up names the seed the preferred
 * leader, and placement lists existing peers first, so it is the seed there even once an update
 * cleared the preference.
 */
export function scaleUpRole(selfId: string, entry: { sa: { subject: string; group: { name: string; peers: string[]; preferred?: string } } },
  dir: string, local: Stream | undefined, witnessCopy?: string): ScaleUpRole {
  const g = entry.sa.group;
  if (existsSync(join(dir, SEED_MARKER))) return 'seed';
  if (existsSync(join(dir, AWAITING_MARKER))) return 'join';
  if (existsSync(dir) || g.peers.length < 2 || entry.sa.subject.includes('.STREAM.CREATE.')) return undefined;
  // The group's log was here and its directory was removed: not a scale-up (a seed would lead
  // with its store as it is); the group starts as a replica that lost its state (raft/node.ts).
  if (witnessCopy !== undefined && holdsWitnessCopy(witnessCopy, g.name)) return undefined;
  const first = g.preferred !== undefined && g.peers.includes(g.preferred) ? g.preferred : g.peers[0];
  if (first !== selfId) return 'join';
  return local !== undefined ? 'seed' : undefined;
}

/** The delivery state of each consumer running on a stream (the seed's R1 consumers). */
export function consumerStates(stream: Stream): Map<string, ConsumerState> {
  const out = new Map<string, ConsumerState>();
  for (const name of stream.consumerNames()) {
    const cons = lookupConsumer(stream, name);
    if (cons) out.set(name, cons.state());
  }
  return out;
}

/**
 * The seed's marker, written durably before its raft group starts: a new group directory is
 * created with the marker in it (after a crash there is no directory without it).
 */
export function markSeed(dir: string): void {
  const text = Buffer.from('scale-up from R1: this store seeds the group until its snapshot is in the log\n');
  if (existsSync(dir)) atomicWriteSync(join(dir, SEED_MARKER), text, true);
  else createDirWithFileSync(dir, SEED_MARKER, text);
}

/**
 * A joiner's marker, written durably before its raft group starts (the group directory is created
 * with the marker in it). True when it was created now (false: a restart found it).
 */
export function markAwaitingSeed(dir: string): boolean {
  if (existsSync(join(dir, AWAITING_MARKER))) return false;
  createDirWithFileSync(dir, AWAITING_MARKER, Buffer.from('new replica of a scale-up from R1: waiting for a snapshot from the leader\n'));
  return true;
}

/**
 * A seed's or joiner's part is over. Not fsync'ed: a marker that comes back after a crash only
 * repeats a step (the seed sends its snapshot again; a joiner waits for the snapshot its own log
 * or snapshot replays at start).
 */
export function clearSeedMark(dir: string, role: 'seed' | 'join' = 'seed'): void {
  rmSync(join(dir, role === 'seed' ? SEED_MARKER : AWAITING_MARKER), { force: true });
}

/** nats-server answers a clustered update with the stream leader's info, typed as an update. */
export function asUpdateResponse(body: string, isError: boolean): string {
  if (isError) return body.replace(`"type":"${T}stream_info_response"`, `"type":"${T}stream_update_response"`);
  return body.replace(`"type":"${T}stream_info_response","total":0,"offset":0,"limit":0,`, `"type":"${T}stream_update_response",`);
}

/**
 * The stream leader answers a STREAM.UPDATE of a replicated stream once it applied the new config;
 * a seed answers the update that scaled it up before any leader exists (nats-server: "a single
 * node being promoted assumes leadership role for purpose of responding").
 */
export function answerUpdate(c: ClusteredJetStream, sg: StreamGroup, reply: string, promoted = false): void {
  if (!reply || (!sg.isLeader && !promoted)) return;
  void c.runLocal(sg.account, `$JS.API.STREAM.INFO.${sg.name}`, reply, '', asUpdateResponse);
}

/**
 * Scale-down to one replica, on the server that keeps it: the consumers' replicated state is
 * captured, every raft group of the stream is stopped and deleted, and the stream and its
 * consumers continue here as plain local assets from that state.
 */
export async function dissolveToSingle(c: ClusteredJetStream, sg: StreamGroup): Promise<void> {
  // The server that stays must hold every committed entry: the meta leader keeps the stream
  // leader (cluster-api.ts refuses a scale-down to R1 when it does not know it). Leadership may
  // have moved since; say so, as entries committed after this replica's commit index would be
  // missing (the others are dropping their replicas at the same time, so there is nobody to ask).
  if (!sg.node.isLeader) {
    c.server.log.warn(`JetStream cluster: '${sg.account} > ${sg.name}' scaled down to R1 on a server that is not its leader (applied index ${sg.node.applied})`);
  }
  const stream = sg.stream;
  const kept: Array<{ name: string; config: Record<string, unknown>; state: ConsumerState; createdMs: number }> = [];
  for (const cg of sg.consumers.values()) {
    // Ephemerals of the stream are R1 already and run on one server: they follow nats-server
    // and stay only where they run.
    const running = lookupConsumer(stream, cg.name);
    const state = cg.state();
    const createdMs = running ? Number(running.createdNs / 1_000_000n) : Date.now();
    kept.push({ name: cg.name, config: { ...cg.ca.consumer, name: cg.name }, state, createdMs });
  }
  // Consumer groups stop without deleting their state store; the raft groups' directories and
  // witness copies go.
  for (const cg of [...sg.consumers.values()]) await cg.leaveKeepingStore();
  sg.consumers.clear();
  await sg.stop(true);
  stream.replicator = undefined;
  stream.mirrorReplicator = undefined;
  stream.leaderCheck = undefined;
  // Its followers of origins (sourcing.ts) run here now, the only replica.
  stream.notifyLeaderChanged();
  // An R1 stream takes publishes wherever it is (its group subscribed its subjects only when leading).
  c.js.jsAccount(sg.account)?.setStreamIngest(stream.name, true);
  stream.consumerStoreHook = undefined;
  stream.clusterInfo = () => c.clusterBlock();
  const jsa = c.js.jsAccount(sg.account);
  if (!jsa) return;
  const host = consumerHostFor(jsa, c.js.domain, (m) => c.server.log.warn(m));
  for (const k of kept) {
    if (lookupConsumer(stream, k.name)) continue;
    try {
      resumeConsumer(stream, host, k.name, k.config, k.createdMs, k.state);
    } catch (e) {
      c.server.log.warn(`JetStream cluster: consumer '${sg.account} > ${sg.name} > ${k.name}' after scale-down: ${(e as Error).message}`);
    }
  }
}
