// The delivery loop: one matched message to its subscribers.
//
// Rules (nats-server processMsgResults):
// - every plain subscriber gets the message, except the publisher's own
//   subscriptions when it connected with echo:false;
// - each queue group gets it once: a random local member is preferred; only
//   when the group has no usable local member is a route member picked, and
//   that queue name is added to the route's forward list;
// - subscriptions owned by routes are collected and each route gets ONE
//   forwardMsg call (with the queue names it was picked for). Messages that came
//   from a route are never sent to another route, and for them only the queue
//   groups the sending server picked for us (`routeQueues`) are served.
import type { Account } from './account.js';
import { ClientKind, type InboundMsg, type MsgSink, type RouteSink, type SublistResult, type Subscription } from './types.js';

interface RouteTarget {
  route: RouteSink;
  queues: string[] | null;
}

/** Deliver `msg` to the subscribers in `r`. Returns how many sinks accepted it
 *  (each route counts once). */
export function deliverResult(
  account: Account, r: SublistResult, msg: InboundMsg,
  publisher: MsgSink | null, noEcho: boolean, fromRoute: boolean, routeQueues: readonly string[] | null,
  /** the leaf connection the message came from (never sent back to it; queues as routeQueues) */
  fromLeaf: MsgSink | null = null,
): number {
  let delivered = 0;
  let routes: RouteTarget[] | null = null;

  const psubs = r.psubs;
  for (let i = 0; i < psubs.length; i++) {
    const sub = psubs[i];
    if (sub.closed) continue;
    const owner = sub.owner;
    if (owner.kind === ClientKind.ROUTE) {
      if (fromRoute) continue;
      routes = addRoute(routes, owner as RouteSink, null);
      continue;
    }
    if (owner.kind === ClientKind.LEAF) {
      // Leaf connections forward like routes (one LMSG per message), also for routed
      // messages; never back to the leaf the message came from.
      if (owner !== fromLeaf) routes = addRoute(routes, owner as RouteSink, null);
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
    let routeSub: Subscription | null = null;
    let done = false;
    const startIdx = glen === 1 ? 0 : Math.floor(Math.random() * glen);
    for (let k = 0; k < glen; k++) {
      const sub = group[(startIdx + k) % glen];
      if (sub.closed) continue;
      const owner = sub.owner;
      if (owner.kind === ClientKind.ROUTE) {
        if (!fromRoute && routeSub === null) routeSub = sub;
        continue;
      }
      if (owner.kind === ClientKind.LEAF) {
        // A remote member: used only when no local member takes the message.
        if (owner !== fromLeaf && routeSub === null) routeSub = sub;
        continue;
      }
      if (noEcho && owner === publisher) continue;
      if (owner.deliverMsg(sub, msg)) {
        delivered++;
        done = true;
        break;
      }
    }
    if (!done && routeSub !== null) {
      routes = addRoute(routes, routeSub.owner as RouteSink, routeSub.queue!);
    }
  }

  if (routes !== null) {
    for (let i = 0; i < routes.length; i++) {
      const t = routes[i];
      if (t.route.forwardMsg(account, msg, t.queues)) delivered++;
    }
  }
  return delivered;
}

function addRoute(routes: RouteTarget[] | null, route: RouteSink, queue: string | null): RouteTarget[] {
  if (routes === null) routes = [];
  for (let i = 0; i < routes.length; i++) {
    const t = routes[i];
    if (t.route === route) {
      if (queue !== null) (t.queues ??= []).push(queue);
      return routes;
    }
  }
  routes.push({ route, queues: queue === null ? null : [queue] });
  return routes;
}
