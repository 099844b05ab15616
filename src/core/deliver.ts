// The delivery loop: one matched message to its subscribers.
//
// Rules (nats-server 2.9.10 processMsgResults):
// - every plain subscriber gets the message, except the publisher's own
//   subscriptions when it connected with echo:false;
// - each queue group gets it once. A message from a client or a leaf picks
//   uniformly among ALL members: the match result holds a route's queue
//   subscription `weight` times, so a member behind a route is as likely as a
//   local one; picking it adds the queue name to that route's forward list. A
//   leaf member is skipped in favour of the others and only serves when nothing
//   else takes the message;
// - a message that came from a route was meant for our members: local ones are
//   picked; a leaf member, else a route member, is the last resort (the member
//   the sender picked may have just gone away);
// - subscriptions owned by routes are collected and each route gets ONE
//   forwardMsg call (with the queue names it was picked for). Plain
//   subscriptions of routes never get a routed message, and for it only the
//   queue groups the sending server picked for us (`routeQueues`) are served.
import type { Account } from './account.js';
import { ClientKind, type InboundMsg, type MsgSink, type RouteSink, type SublistResult, type Subscription } from './types.js';

interface RouteTarget {
  route: RouteSink | null;
  queues: string[] | null;
}

/**
 * The route targets of a delivery, reused from message to message (a routed message used to
 * allocate a list and a target each time). Deliveries nest (an internal subscriber's handler may
 * publish), so each nesting depth has its own list.
 */
const targetLists: RouteTarget[][] = [];
let depth = 0;

/** Deliver `msg` to the subscribers in `r`. Returns how many sinks accepted it
 *  (each route counts once). */
export function deliverResult(
  account: Account, r: SublistResult, msg: InboundMsg,
  publisher: MsgSink | null, noEcho: boolean, fromRoute: boolean, routeQueues: readonly string[] | null,
  /** the leaf connection the message came from (never sent back to it; queues as routeQueues) */
  fromLeaf: MsgSink | null = null,
): number {
  const routes = targetLists[depth] ?? (targetLists[depth] = []);
  depth++;
  try {
    return deliverTo(routes, account, r, msg, publisher, noEcho, fromRoute, routeQueues, fromLeaf);
  } finally {
    depth--;
  }
}

function deliverTo(
  routes: RouteTarget[], account: Account, r: SublistResult, msg: InboundMsg,
  publisher: MsgSink | null, noEcho: boolean, fromRoute: boolean, routeQueues: readonly string[] | null,
  fromLeaf: MsgSink | null,
): number {
  let delivered = 0;
  /** targets in use at the start of `routes` */
  let nt = 0;

  const psubs = r.psubs;
  for (let i = 0; i < psubs.length; i++) {
    const sub = psubs[i];
    if (sub.closed) continue;
    const owner = sub.owner;
    if (owner.kind === ClientKind.ROUTE) {
      if (fromRoute) continue;
      nt = addRoute(routes, nt, owner as RouteSink, null);
      continue;
    }
    if (owner.kind === ClientKind.LEAF) {
      // Leaf connections forward like routes (one LMSG per message), also for routed
      // messages; never back to the leaf the message came from.
      if (owner !== fromLeaf) nt = addRoute(routes, nt, owner as RouteSink, null);
      continue;
    }
    if (noEcho && owner === publisher) continue;
    if (owner.deliverMsg(sub, msg)) delivered++;
  }

  const qsubs = r.qsubs;
  for (let g = 0; g < qsubs.length; g++) {
    const group = qsubs[g];
    const glen = group.length;
    if (glen === 0) continue;
    if (fromRoute || fromLeaf !== null) {
      if (routeQueues === null || !routeQueues.includes(group[0].queue!)) continue;
    }
    // A remote member held back in case no other member takes the message.
    let fallback: Subscription | null = null;
    let done = false;
    const startIdx = glen === 1 ? 0 : fromRoute ? randomLocalIndex(group) : Math.floor(Math.random() * glen);
    for (let k = 0; k < glen; k++) {
      const sub = group[(startIdx + k) % glen];
      if (sub.closed) continue;
      const owner = sub.owner;
      if (owner.kind === ClientKind.ROUTE) {
        if (fromRoute) {
          // Local members first; a leaf member beats a route one as the fallback.
          if (fallback === null) fallback = sub;
          continue;
        }
        nt = addRoute(routes, nt, owner as RouteSink, sub.queue!);
        done = true;
        break;
      }
      if (owner.kind === ClientKind.LEAF) {
        if (owner !== fromLeaf && (fallback === null || fromRoute)) fallback = sub;
        continue;
      }
      if (noEcho && owner === publisher) continue;
      if (owner.deliverMsg(sub, msg)) {
        delivered++;
        done = true;
        break;
      }
    }
    if (!done && fallback !== null) {
      nt = addRoute(routes, nt, fallback.owner as RouteSink, fallback.queue!);
    }
  }

  for (let i = 0; i < nt; i++) {
    const t = routes[i];
    const route = t.route!;
    const queues = t.queues;
    // Nothing of this message stays referenced from the reused list.
    t.route = null;
    t.queues = null;
    if (route.forwardMsg(account, msg, queues)) delivered++;
  }
  return delivered;
}

/**
 * Index of a uniformly chosen local member (not a route's or a leaf's) of `group`, or 0
 * when it has none. A routed message draws among local members only: starting at a
 * random slot of the whole group and skipping remote ones would favour the local member
 * that follows a remote one.
 */
function randomLocalIndex(group: readonly Subscription[]): number {
  let locals = 0;
  for (let i = 0; i < group.length; i++) if (isLocal(group[i])) locals++;
  if (locals === 0) return 0;
  let n = Math.floor(Math.random() * locals);
  for (let i = 0; i < group.length; i++) {
    if (isLocal(group[i]) && n-- === 0) return i;
  }
  return 0;
}

function isLocal(sub: Subscription): boolean {
  const kind = sub.owner.kind;
  return kind !== ClientKind.ROUTE && kind !== ClientKind.LEAF;
}

/** Add `route` (and the queue it was picked for) to the first `nt` targets; returns the new count. */
function addRoute(routes: RouteTarget[], nt: number, route: RouteSink, queue: string | null): number {
  for (let i = 0; i < nt; i++) {
    const t = routes[i];
    if (t.route === route) {
      if (queue !== null) (t.queues ??= []).push(queue);
      return nt;
    }
  }
  const queues = queue === null ? null : [queue];
  if (nt < routes.length) {
    const t = routes[nt];
    t.route = route;
    t.queues = queues;
  } else {
    routes.push({ route, queues });
  }
  return nt + 1;
}
