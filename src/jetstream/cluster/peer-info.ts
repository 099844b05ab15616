// What the meta leader needs to know about every JetStream server for placement: its
// cluster, server tags, configured limits and usage. nats-server learns this from the
// servers' statsz heartbeats; here each server announces it on a system-account subject
// when it joins, when a new server appears, and periodically, and everyone keeps the
// latest announcement per peer.

import type { InternalClient } from '../../core/internal-client.js';
import { peerIdForServerName } from '../../raft/index.js';
import type { PlacementPeer } from './placement.js';

export const PEER_INFO_SUBJECT = '$JSC.PEER.INFO';
const ANNOUNCE_INTERVAL_MS = 5_000;

export interface PeerInfoMsg {
  name: string;
  cluster: string;
  tags: string[];
  maxMemory: number;
  maxStore: number;
  usedMemory: number;
  usedStore: number;
  reservedMemory: number;
  reservedStore: number;
  haAssets: number;
  /** tsnats: this server cannot write its meta log (a full disk) and takes no new assets. */
  unavailable?: boolean;
  /** With `unavailable`: the last meta log index it applied (meta-outage.ts UnappliedCreates). */
  metaApplied?: number;
}

export class PeerInfoTable {
  private readonly peers = new Map<string, PeerInfoMsg>();
  /** Peers that announce themselves on PEER_INFO_SUBJECT (tsnats): their statsz is not used. */
  private readonly announcing = new Set<string>();
  /** Peers known only from their statsz: nats-server (go-import.ts says what that changes). */
  private readonly statszOnly = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sid = 0;

  constructor(private readonly client: InternalClient, private readonly self: () => PeerInfoMsg,
    private readonly onAnnounce?: (peerId: string) => void) {}

  start(): void {
    this.sid = this.client.subscribe(PEER_INFO_SUBJECT, (_s, _r, _h, payload, origin) => {
      if (origin.kind !== 'route') return;
      try {
        const m = JSON.parse(payload.toString()) as PeerInfoMsg;
        if (typeof m.name !== 'string' || m.name === '' || !Array.isArray(m.tags)) return;
        this.record(peerIdForServerName(m.name), m, 'announce');
      } catch { /* a malformed announcement is ignored */ }
    });
    this.announce();
    this.timer = setInterval(() => this.announce(), ANNOUNCE_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.sid) this.client.unsubscribe(this.sid);
  }

  /** Keep the latest info of a peer: from its announcement, or (nats-server peers) from its statsz. */
  record(id: string, m: PeerInfoMsg, source: 'announce' | 'statsz'): void {
    if (source === 'announce') {
      this.announcing.add(id);
      this.statszOnly.delete(id);
    } else if (this.announcing.has(id)) {
      return;
    } else {
      this.statszOnly.add(id);
    }
    this.peers.set(id, m);
    this.onAnnounce?.(id);
  }

  /** The latest info of a peer (undefined when none was heard). */
  info(id: string): PeerInfoMsg | undefined {
    return this.peers.get(id);
  }

  /** A peer that sends statsz but no announcement: a nats-server. */
  isGoPeer(id: string): boolean {
    return this.statszOnly.has(id);
  }

  hasGoPeers(): boolean {
    return this.statszOnly.size > 0;
  }

  announce(): void {
    this.client.publish(PEER_INFO_SUBJECT, '', undefined, JSON.stringify(this.self()));
  }

  /** Placement view of the meta peers: `online` decides offline; unknown stats mean "not placeable". */
  placementPeers(selfId: string, memberIds: Iterable<string>, online: Set<string>, nameOf: (id: string) => string = (id) => id): PlacementPeer[] {
    const out: PlacementPeer[] = [];
    for (const id of memberIds) {
      const m = id === selfId ? this.self() : this.peers.get(id);
      const p: PlacementPeer = { id, name: m?.name ?? nameOf(id), cluster: m?.cluster ?? '', tags: m?.tags ?? [], offline: !online.has(id) || m?.unavailable === true };
      if (m) {
        p.stats = {
          maxMemory: m.maxMemory, maxStore: m.maxStore, usedMemory: m.usedMemory, reservedMemory: m.reservedMemory,
          usedStore: m.usedStore, reservedStore: m.reservedStore, haAssets: m.haAssets,
        };
      }
      out.push(p);
    }
    return out;
  }
}
