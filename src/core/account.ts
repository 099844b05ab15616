// An account: its own subject space (sublist), local-interest bookkeeping for
// routes, and the entry points to publish into it.
import { Sublist } from './sublist.js';
import { deliverResult } from './deliver.js';
import { InternalClient } from './internal-client.js';
import { ClientKind, InboundMsg, type MsgSink, type MsgOrigin, type Subscription } from './types.js';
import { subjectMatchesFilter } from './subject.js';

/** Called after a subscription that can match a watched subject was added or removed. */
export type InterestWatcher = () => void;

/** What an account needs from the server it lives in. */
export interface AccountHost {
  /** allocate a connection id (internal clients get cids too) */
  nextCid(): number;
  /** local interest changed: first/last plain sub on a subject, or any change of a
   *  queue group's local member count (routes propagate this as RS+/RS-) */
  localInterestChanged(account: Account, subject: string, queue: string | undefined, delta: 1 | -1, queueWeight: number): void;
  /** report an error raised by an internal handler (logged, never thrown to the publisher) */
  reportError(text: string): void;
  /** any subscription (any owner) was added (+1) or removed (-1): leaf nodes propagate all interest */
  subscriptionChanged(account: Account, sub: Subscription, delta: 1 | -1): void;
}

/** Told about every subscription added to / removed from an account (its stream imports' shadows). */
export interface SubscriptionObserver {
  added(sub: Subscription): void;
  removed(sub: Subscription): void;
}

/** Per-account message counters (monitoring). */
export class AccountStats {
  inMsgs = 0;
  inBytes = 0;
  outMsgs = 0;
  outBytes = 0;
}

export class Account {
  readonly sublist = new Sublist();
  readonly stats = new AccountStats();
  /** number of socket client connections bound to this account */
  numClients = 0;
  /**
   * number of leaf connections bound to this account, accepted and dialled (owned by
   * src/leaf): nats-server keeps them with the clients, so they count toward the account's
   * connection limit as well as its leaf limit
   */
  numLeafs = 0;
  /** refcount of local (non-route) interest per "subject" or "subject queue" key */
  private readonly localInterest = new Map<string, number>();

  /** the stream imports of this account (src/core/imports.ts); null without any: one null check per sub change */
  importObserver: SubscriptionObserver | null = null;

  /** literal subject -> watchers; null while nobody watches (one null check per sub change) */
  private interestWatchers: Map<string, Set<InterestWatcher>> | null = null;

  constructor(readonly name: string, private readonly host: AccountHost) {}

  /**
   * Call `cb` whenever a subscription that matches the literal `subject` (plain or queue,
   * wildcards included) is added to or removed from this account: local clients, internal
   * clients and route (remote) interest alike. It runs synchronously after the sublist
   * changed and may fire for changes that leave `sublist.hasInterest(subject)` as it was;
   * it must not throw. Returns the function that stops watching.
   */
  watchInterest(subject: string, cb: InterestWatcher): () => void {
    const all = this.interestWatchers ??= new Map();
    let set = all.get(subject);
    if (set === undefined) all.set(subject, set = new Set());
    set.add(cb);
    return () => {
      const cur = this.interestWatchers?.get(subject);
      if (cur === undefined || !cur.delete(cb) || cur.size > 0) return;
      this.interestWatchers!.delete(subject);
      if (this.interestWatchers!.size === 0) this.interestWatchers = null;
    };
  }

  private notifyInterest(subject: string): void {
    const all = this.interestWatchers!;
    const exact = all.get(subject);
    if (exact !== undefined) for (const cb of [...exact]) cb();
    if (subject.includes('*') || subject.includes('>')) {
      for (const [watched, set] of [...all]) {
        if (watched !== subject && subjectMatchesFilter(watched, subject)) for (const cb of [...set]) cb();
      }
    }
  }

  /** Insert a subscription into the sublist; tracks local interest for routes.
   *  Returns false for an invalid subject. */
  addSubscription(sub: Subscription): boolean {
    if (!this.sublist.insert(sub)) return false;
    sub.account = this;
    sub.closed = false;
    // Leaf-node interest is local interest for the routes (the cluster forwards to us for the leaf).
    // Local-only subscriptions (the per-account $SYS imports) are never announced to routes or leaf links.
    if (!sub.localOnly) {
      if (sub.owner.kind !== ClientKind.ROUTE) this.trackInterest(sub, 1);
      this.host.subscriptionChanged(this, sub, 1);
    }
    if (this.interestWatchers !== null) this.notifyInterest(sub.subject);
    if (this.importObserver !== null) this.importObserver.added(sub);
    return true;
  }

  /** Remove a subscription (idempotent). */
  removeSubscription(sub: Subscription): void {
    sub.closed = true;
    if (!this.sublist.remove(sub)) return;
    if (!sub.localOnly) {
      if (sub.owner.kind !== ClientKind.ROUTE) this.trackInterest(sub, -1);
      this.host.subscriptionChanged(this, sub, -1);
    }
    if (this.interestWatchers !== null) this.notifyInterest(sub.subject);
    if (this.importObserver !== null) this.importObserver.removed(sub);
  }

  private trackInterest(sub: Subscription, delta: 1 | -1): void {
    const key = sub.queue === undefined ? sub.subject : `${sub.subject} ${sub.queue}`;
    const before = this.localInterest.get(key) ?? 0;
    const after = before + delta;
    if (after <= 0) this.localInterest.delete(key);
    else this.localInterest.set(key, after);
    if (sub.queue === undefined) {
      if ((before === 0 && after === 1) || (before === 1 && after === 0)) {
        this.host.localInterestChanged(this, sub.subject, undefined, delta, 0);
      }
    } else {
      this.host.localInterestChanged(this, sub.subject, sub.queue, delta, after < 0 ? 0 : after);
    }
  }

  /** Current local interest: one entry per subject (weight 0) or subject+queue
   *  (weight = local member count). Used for the initial RS+ flood of a new route. */
  localInterestSnapshot(): { subject: string; queue: string | undefined; weight: number }[] {
    const out: { subject: string; queue: string | undefined; weight: number }[] = [];
    for (const [key, count] of this.localInterest) {
      const sp = key.indexOf(' ');
      if (sp < 0) out.push({ subject: key, queue: undefined, weight: 0 });
      else out.push({ subject: key.slice(0, sp), queue: key.slice(sp + 1), weight: count });
    }
    return out;
  }

  reportError(text: string): void {
    this.host.reportError(text);
  }

  /** A client living inside the server (no socket). */
  createInternalClient(name: string, kind: ClientKind = ClientKind.ACCOUNT): InternalClient {
    return new InternalClient(this, name, kind, this.host.nextCid());
  }

  /**
   * Route a message published locally (client or internal client) to local
   * subscribers and to routes with matching interest. Returns the number of
   * sinks that accepted it (each route counts once).
   */
  processMsg(msg: InboundMsg, publisher: MsgSink | null, noEcho: boolean, subjectUsedOnce = false): number {
    const r = subjectUsedOnce ? this.sublist.matchOnce(msg.subject) : this.sublist.match(msg.subject);
    if (r.psubs.length === 0 && r.qsubs.length === 0) return 0;
    return deliverResult(this, r, msg, publisher, noEcho, false, null);
  }

  /**
   * Deliver a message that arrived from a route to local subscribers only
   * (never back to routes). `queues` are the queue groups the origin server
   * picked for us; undefined/empty means plain subscribers only.
   */
  deliverRouted(msg: InboundMsg, queues: readonly string[] | null | undefined): number {
    const r = this.sublist.match(msg.subject);
    if (r.psubs.length === 0 && r.qsubs.length === 0) return 0;
    return deliverResult(this, r, msg, null, false, true, queues && queues.length > 0 ? queues : null);
  }

  /**
   * Deliver a message that arrived from leaf connection `leaf`: local subscribers, routes and
   * other leaf connections, never back to `leaf`. Like a routed message, queue groups are
   * served only when the sender picked them (`queues`).
   */
  deliverFromLeaf(msg: InboundMsg, leaf: MsgSink, queues: readonly string[] | null | undefined): number {
    const r = this.sublist.match(msg.subject);
    if (r.psubs.length === 0 && r.qsubs.length === 0) return 0;
    return deliverResult(this, r, msg, null, false, false, queues && queues.length > 0 ? queues : null, leaf);
  }

  /** Convenience form of deliverRouted (contract name). Copies nothing: the
   *  buffers must stay valid for the duration of the call. */
  deliverFromRoute(
    subject: string, reply: string, headers: Buffer | undefined, payload: Buffer,
    queues: string[] | undefined, origin?: MsgOrigin,
  ): number {
    const msg = InboundMsg.create(origin ?? { cid: 0, account: this.name, kind: 'route' }, subject, reply, headers, payload);
    return this.deliverRouted(msg, queues);
  }
}
