// RaftTransport over routes: NRG traffic is ordinary NATS messages in the system
// account, carried to the other servers by the route layer (RS+/RMSG $SYS ...).
//
// The transport contract (src/raft/transport.ts) says a publish reaches the
// subscriptions of *other* servers only. An internal client's publish is also
// matched against this server's own sublist, so every handler here drops what did
// not arrive from a route: a node never sees its own votes or append entries, and
// two groups on one server never talk to each other through the local sublist.
// Route deliveries come from socket reads, so handlers never run inside publish().

import type { Cluster } from '../../cluster/cluster.js';
import type { Account } from '../../core/account.js';
import type { InternalClient } from '../../core/internal-client.js';
import { ClientKind } from '../../core/types.js';
import { peerIdForServerName, type PeerGoneListener, type RaftMessageHandler, type RaftSubscription, type RaftTransport } from '../../raft/index.js';

/**
 * "Server gone" listeners per server (keyed by its system account, which every transport of the
 * server is built on): the JetStream cluster layer reports a peer whose last route closed
 * (routePeerGone) and every Raft node of this server hears it at once.
 */
const goneListeners = new WeakMap<Account, Set<PeerGoneListener>>();

/** The last route to the server with raft peer id `peerId` closed: tell this server's Raft nodes. */
export function routePeerGone(systemAccount: Account, peerId: string): void {
  const set = goneListeners.get(systemAccount);
  if (set === undefined) return;
  for (const l of [...set]) l(peerId);
}

/**
 * Report every server whose last route closes (a kill -9 closes it at once) to this server's Raft
 * nodes, so a follower of a leader there does not wait out its election timeout
 * (RaftCore.peerGone). Returns the function that stops watching.
 */
export function watchRoutePeersGone(cluster: Cluster, systemAccount: Account): () => void {
  return cluster.onPeerChange((ev, peer) => {
    if (ev === 'removed' && peer.name) routePeerGone(systemAccount, peerIdForServerName(peer.name));
  });
}

export class RouteRaftTransport implements RaftTransport {
  private readonly client: InternalClient;
  /** Messages handed to routes / received from routes (monitoring, tests). */
  sent = 0;
  received = 0;

  /**
   * `flushRoutes`, when given, writes the routes' queued output at once (Cluster.flushRoutes);
   * without it a publish goes out with the rest of the event-loop turn's route output.
   */
  constructor(private readonly systemAccount: Account, name = 'nrg', private readonly flushRoutes?: () => void) {
    this.client = systemAccount.createInternalClient(name, ClientKind.SYSTEM);
  }

  flush(): void {
    this.flushRoutes?.();
  }

  onPeerGone(listener: PeerGoneListener): () => void {
    let set = goneListeners.get(this.systemAccount);
    if (set === undefined) goneListeners.set(this.systemAccount, (set = new Set()));
    set.add(listener);
    const own = set;
    return () => { own.delete(listener); };
  }

  publish(subject: string, reply: string, payload: Uint8Array): void {
    const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    this.sent++;
    this.client.publish(subject, reply, undefined, buf);
  }

  subscribe(subject: string, handler: RaftMessageHandler): RaftSubscription {
    const sid = this.client.subscribe(subject, (subj, reply, _hdr, payload, origin) => {
      if (origin.kind !== 'route') return;
      this.received++;
      handler(subj, reply, payload);
    });
    let active = true;
    return {
      unsubscribe: () => {
        if (!active) return;
        active = false;
        this.client.unsubscribe(sid);
      },
    };
  }

  close(): void {
    this.client.close();
  }
}
