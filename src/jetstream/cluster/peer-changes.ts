// The meta leader's side of changing a stream's peers (nats-server 2.9.10:
// remapStreamAssignment, removePeerFromStreamLocked, processRemovePeer, processAddPeer and the
// replica-change part of jsClusteredStreamUpdateRequest).
//
// Pure decisions over assignments: which peers a group gets and which consumer assignments
// follow. The caller proposes the results; the servers of the group then change the raft
// membership (stream-membership.ts).

import type { ApiError } from '../api/errors.js';
import type { StorageType } from '../api/types.js';
import type { ConsumerAssignment, RaftGroupJson, StreamAssignment, StreamEntry } from './assignments.js';
import { selectPeerGroup, type PlacementContext, type PlacementStreamConfig } from './placement.js';

/** The parts of a stream's assignment config placement reads. */
export function placementConfigOf(sa: StreamAssignment): PlacementStreamConfig {
  const s = sa.stream as Record<string, unknown>;
  const placement = s.placement as PlacementStreamConfig['placement'] | null | undefined;
  return {
    num_replicas: Number(s.num_replicas ?? 1) || 1,
    storage: (s.storage === 'memory' ? 'memory' : 'file') as StorageType,
    max_bytes: typeof s.max_bytes === 'number' ? s.max_bytes : -1,
    placement: placement ?? undefined,
  };
}

function copyGroup(g: RaftGroupJson): RaftGroupJson {
  return { ...g, peers: [...g.peers] };
}

/**
 * Replace `removePeer` in the stream's group by a peer placement chooses (the others stay);
 * without a suitable peer the group only loses `removePeer` (`replaced` false). The preferred
 * leader is cleared either way (nats-server does not influence the next leader).
 */
export function remapGroup(sa: StreamAssignment, removePeer: string, clusterName: string, ctx: PlacementContext): { group: RaftGroupJson; replaced: boolean } {
  const g = copyGroup(sa.group);
  const retain = g.peers.filter((p) => p !== removePeer);
  const sel = selectPeerGroup(g.peers.length, g.cluster || clusterName, placementConfigOf(sa), ctx, retain, 0, [removePeer]);
  delete g.preferred;
  if (sel.ok) {
    g.peers = sel.peers;
    return { group: g, replaced: true };
  }
  g.peers = retain;
  return { group: g, replaced: false };
}

/**
 * The consumer assignments that follow a stream's new peers: durables and replicated ephemerals
 * take them (ephemerals on one server stay where they run). A consumer that had a single peer
 * still among the new ones names it the preferred leader: it holds the state and seeds the others
 * (consumer-seed.ts); otherwise the next leader is left to the group.
 */
export function consumersFollowing(entry: StreamEntry, peers: readonly string[], skip: (ca: ConsumerAssignment) => boolean = () => false): ConsumerAssignment[] {
  const out: ConsumerAssignment[] = [];
  for (const ca of entry.consumers.values()) {
    const was = ca.group.peers;
    if ((!ca.consumer.durable_name && was.length <= 1) || skip(ca)) continue;
    const g = copyGroup(ca.group);
    g.peers = [...peers];
    if (was.length === 1 && peers.length > 1 && peers.includes(was[0]!)) g.preferred = was[0];
    else delete g.preferred;
    out.push({ ...ca, group: g, subject: '', reply: '' });
  }
  return out;
}

/**
 * Consumer assignments after a stream's peer was removed: ephemerals running on the removed peer
 * are removed, the others follow the stream's peers.
 */
export function consumersAfterPeerRemoval(entry: StreamEntry, removedPeer: string, peers: string[]): { assign: ConsumerAssignment[]; remove: ConsumerAssignment[] } {
  const onRemoved = (ca: ConsumerAssignment): boolean => !ca.consumer.durable_name && ca.group.peers.includes(removedPeer);
  const remove = [...entry.consumers.values()].filter(onRemoved).map((ca) => ({ ...ca, subject: '', reply: '' }));
  return { assign: consumersFollowing(entry, peers, onRemoved), remove };
}

/**
 * A peer joined the meta group: a stream of that peer's cluster with fewer peers than replicas
 * (one whose removed peer could not be replaced) takes it, and so do its durable and replicated
 * consumers. Undefined when the stream needs nothing.
 */
export function fillMissingPeer(entry: StreamEntry, peer: string, peerCluster: string, clusterName: string): { sa: StreamAssignment; consumers: ConsumerAssignment[] } | undefined {
  const sa = entry.sa;
  const want = placementConfigOf(sa).num_replicas;
  if (sa.group.peers.length >= want || sa.group.peers.includes(peer)) return undefined;
  if (peerCluster !== (sa.group.cluster || sa.client.cluster || clusterName)) return undefined;
  const g = copyGroup(sa.group);
  g.peers.push(peer);
  return { sa: { ...sa, group: g, subject: '', reply: '' }, consumers: consumersFollowing(entry, g.peers) };
}

export type ScaleResult = { ok: true; group: RaftGroupJson; consumers: ConsumerAssignment[] } | { ok: false; error: ApiError };

/**
 * The group of a stream whose replica count changes from the assignment's to `replicas`:
 * up: the current peers stay and placement adds the rest (from one peer: that peer is the
 * preferred leader, it holds the data); down: the current stream leader stays (when known),
 * then the other online peers in order. Durable and replicated consumers take the new peers.
 */
export function scaleGroup(
  entry: StreamEntry, replicas: number, cfg: PlacementStreamConfig, clusterName: string, ctx: PlacementContext,
  leader: string, isOnline: (peer: string) => boolean,
): ScaleResult {
  const g = copyGroup(entry.sa.group);
  if (replicas > g.peers.length) {
    const sel = selectPeerGroup(replicas, g.cluster || clusterName, cfg, ctx, g.peers, 0, []);
    if (!sel.ok) return { ok: false, error: sel.error.toApiError() };
    if (g.peers.length === 1 && sel.peers.length > 1) g.preferred = g.peers[0];
    g.peers = sel.peers;
  } else {
    const selected: string[] = leader && g.peers.includes(leader) ? [leader] : [];
    for (const p of g.peers) {
      if (selected.length === replicas) break;
      if (p === leader || !isOnline(p)) continue;
      selected.push(p);
    }
    g.peers = selected;
  }
  return { ok: true, group: g, consumers: consumersFollowing(entry, g.peers) };
}

/**
 * The group of an existing consumer whose replica count changes (nats-server 2.9.10: the branch of
 * jsClusteredConsumerRequest for an existing consumer). The group and its name are kept, so the
 * raft log, and with it the delivery and ack state, stays; only the peers change:
 * up: the current peers stay and peers of the stream not in the group yet are added, in random
 * order (online ones first: an offline one could not catch up now);
 * down: the current leader stays (`leader`, '' when unknown), then online peers, then the rest.
 * The current leader is the preferred peer when it stays, as 2.9.10 sets it; else none.
 * Undefined: a scale-down to one replica without a known leader (which other replica holds
 * every committed ack is unknown; the stream scale-down refuses the same, cluster-api.ts).
 */
export function scaleConsumerGroup(
  group: RaftGroupJson, streamPeers: readonly string[], replicas: number, leader: string,
  isOnline: (peer: string) => boolean, random: () => number = Math.random,
): RaftGroupJson | undefined {
  const g = copyGroup(group);
  const known = leader !== '' && g.peers.includes(leader) ? leader : '';
  if (replicas > g.peers.length) {
    const candidates = streamPeers.filter((p) => !g.peers.includes(p));
    for (let i = candidates.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
    }
    const ordered = [...candidates.filter(isOnline), ...candidates.filter((p) => !isOnline(p))];
    g.peers = [...g.peers, ...ordered.slice(0, replicas - g.peers.length)];
  } else {
    if (replicas === 1 && known === '') return undefined;
    const rest = g.peers.filter((p) => p !== known);
    const ordered = [...(known ? [known] : []), ...rest.filter(isOnline), ...rest.filter((p) => !isOnline(p))];
    g.peers = ordered.slice(0, replicas);
  }
  if (known) g.preferred = known;
  else delete g.preferred;
  return g;
}
