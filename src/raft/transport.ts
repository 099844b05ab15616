// How a Raft node talks to its peers. nats-server's NRG sends ordinary NATS
// messages in the system account over routes; the route layer implements
// RaftTransport on top of its internal client. InProcessHub implements it
// in memory for tests and the benchmark.
//
// Contract for implementations (what the node relies on):
// * publish() reaches the subscriptions of *other servers* only, never a
//   subscription of the publishing server itself (nats-server's internal
//   send queue has no internal callbacks for its own messages). NRG would
//   otherwise see its own append entries and votes.
// * Messages from one publisher to one subscriber arrive in publish order
//   (a route is one ordered stream); any message may be lost.
// * Handlers are called asynchronously, never from inside publish().
// * The payload handed to a handler is valid only during the call; the
//   node copies what it keeps. A payload given to publish() is not modified
//   by the node afterwards, so the transport may hold on to it.
// * reply '' means "no reply subject".
// * flush (optional): publishes may be batched until the end of the event-loop
//   turn; flush() sends them now (a leader announcing a commit before it applies).
// * onPeerGone (optional): the transport tells the node at once when it knows
//   a peer's server is unreachable (routes: the last route to that server
//   closed, as a kill -9 of it does). A hint only: the node then checks with
//   the other members before it acts (see RaftCore.peerGone), so a wrong or
//   early report costs nothing but a probe.

export type RaftMessageHandler = (subject: string, reply: string, payload: Uint8Array) => void;

export interface RaftSubscription {
  unsubscribe(): void;
}

export type PeerGoneListener = (peerId: string) => void;

export interface RaftTransport {
  publish(subject: string, reply: string, payload: Uint8Array): void;
  subscribe(subject: string, handler: RaftMessageHandler): RaftSubscription;
  /** Register for "that peer's server is gone" hints; returns the unregister function. */
  onPeerGone?(listener: PeerGoneListener): () => void;
  /**
   * Hand what was published so far to the network now rather than with the rest of the
   * event-loop turn's output (optional; a transport that sends at once needs none).
   */
  flush?(): void;
}

interface HubSub {
  server: string;
  subject: string;
  handler: RaftMessageHandler;
  active: boolean;
}

interface Queued {
  from: string;
  subject: string;
  reply: string;
  payload: Uint8Array;
}

/**
 * In-memory message hub: exact-subject routing between named servers,
 * delivered in publish order on a later event-loop turn. Links can be
 * blocked (one way or both) to simulate partitions in tests.
 */
export class InProcessHub {
  private readonly subs = new Map<string, HubSub[]>();
  private queue: Queued[] = [];
  private scheduled = false;
  private readonly blocked = new Set<string>();
  /** Messages delivered so far (all subscribers counted). */
  delivered = 0;
  /** Optional tap on every published message (tests). */
  onPublish?: (from: string, subject: string, reply: string, payload: Uint8Array) => void;
  private readonly goneListeners = new Map<string, Set<PeerGoneListener>>();

  transport(server: string): RaftTransport {
    return {
      publish: (subject, reply, payload) => this.publish(server, subject, reply, payload),
      subscribe: (subject, handler) => this.subscribe(server, subject, handler),
      onPeerGone: (listener) => {
        let set = this.goneListeners.get(server);
        if (!set) this.goneListeners.set(server, (set = new Set()));
        set.add(listener);
        return () => { set.delete(listener); };
      },
    };
  }

  /**
   * Tells every other server's nodes (asynchronously, as a route close would) that `server`
   * is gone; `peerId` is the id its nodes use. Tests call it with stop() or isolate().
   */
  reportGone(server: string, peerId: string, to?: string[]): void {
    setImmediate(() => {
      for (const [s, set] of this.goneListeners) {
        if (s === server || (to !== undefined && !to.includes(s))) continue;
        for (const l of [...set]) l(peerId);
      }
    });
  }

  /** Drops everything sent from `from` to `to` (and back, unless oneWay). */
  block(from: string, to: string, oneWay = false): void {
    this.blocked.add(`${from}\u0000${to}`);
    if (!oneWay) this.blocked.add(`${to}\u0000${from}`);
  }

  unblock(from: string, to: string): void {
    this.blocked.delete(`${from}\u0000${to}`);
    this.blocked.delete(`${to}\u0000${from}`);
  }

  /** Cuts `server` off from everyone in `others`. */
  isolate(server: string, others: string[]): void {
    for (const o of others) if (o !== server) this.block(server, o);
  }

  heal(): void {
    this.blocked.clear();
  }

  private subscribe(server: string, subject: string, handler: RaftMessageHandler): RaftSubscription {
    const sub: HubSub = { server, subject, handler, active: true };
    let list = this.subs.get(subject);
    if (!list) this.subs.set(subject, (list = []));
    list.push(sub);
    return {
      unsubscribe: () => {
        if (!sub.active) return;
        sub.active = false;
        const l = this.subs.get(subject);
        if (!l) return;
        const i = l.indexOf(sub);
        if (i >= 0) l.splice(i, 1);
        if (l.length === 0) this.subs.delete(subject);
      },
    };
  }

  private publish(from: string, subject: string, reply: string, payload: Uint8Array): void {
    this.onPublish?.(from, subject, reply, payload);
    this.queue.push({ from, subject, reply, payload });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const q = this.queue;
    this.queue = [];
    for (const m of q) {
      const list = this.subs.get(m.subject);
      if (!list) continue;
      // Copy: a handler may (un)subscribe while we iterate.
      for (const sub of list.length === 1 ? list : [...list]) {
        if (!sub.active || sub.server === m.from) continue;
        if (this.blocked.size > 0 && this.blocked.has(`${m.from}\u0000${sub.server}`)) continue;
        this.delivered++;
        sub.handler(m.subject, m.reply, m.payload);
      }
    }
  };
}
