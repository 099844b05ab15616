// /subsz (alias /subscriptionsz): sublist statistics over all accounts and,
// on request, the local subscriptions (nats-server monitor.go Subsz).
import type { Server } from '../server/server.js';
import type { Account } from '../core/account.js';
import { ClientKind, type Subscription } from '../core/types.js';
import { isValidLiteralSubject, subjectMatchesFilter } from '../core/subject.js';
import { goTime } from './format.js';
import { BadRequest } from './query.js';
import { DEFAULT_LIST_SIZE } from './connz.js';

export interface SubszOptions {
  subscriptions?: boolean;
  offset?: number;
  limit?: number;
  /** only this account */
  account?: string;
  /** only subscriptions a message published on this literal subject would reach */
  test?: string;
}

/** Aggregated SublistStats in nats-server's JSON field names. */
export function sublistStats(accounts: Account[]): Record<string, number> {
  let numSubs = 0;
  let numCache = 0;
  let inserts = 0;
  let removes = 0;
  let matches = 0;
  let hits = 0;
  let maxFanout = 0;
  let totFanout = 0;
  for (const a of accounts) {
    const s = a.sublist.stats();
    numSubs += s.numSubs;
    numCache += s.numCache;
    inserts += s.numInserts;
    removes += s.numRemoves;
    matches += s.numMatches;
    hits += Math.round(s.cacheHitRate * s.numMatches);
    maxFanout = Math.max(maxFanout, s.maxFanout);
    totFanout += s.avgFanout * s.numCache;
  }
  return {
    num_subscriptions: numSubs,
    num_cache: numCache,
    num_inserts: inserts,
    num_removes: removes,
    num_matches: matches,
    cache_hit_rate: matches > 0 ? hits / matches : 0,
    max_fanout: maxFanout,
    avg_fanout: numCache > 0 ? totFanout / numCache : 0,
  };
}

/** Subscriptions of this server's own connections (not those standing for routes or leafnodes). */
export function isLocalSubscription(s: Subscription): boolean {
  const k = s.owner.kind;
  return k !== ClientKind.ROUTE && k !== ClientKind.LEAF && !s.closed;
}

export function subDetail(s: Subscription, accountName: string): Record<string, unknown> {
  const d: Record<string, unknown> = { account: accountName, subject: s.subject };
  if (s.queue !== undefined) d.qgroup = s.queue;
  d.sid = s.sid;
  d.msgs = s.nmsgs;
  if (s.max > 0) d.max = s.max;
  d.cid = s.owner.cid;
  return d;
}

export function subsz(server: Server, opts: SubszOptions): Record<string, unknown> {
  const offset = Math.max(0, opts.offset ?? 0);
  const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : DEFAULT_LIST_SIZE;
  const test = opts.test ?? '';
  if (test !== '' && !isValidLiteralSubject(test)) {
    throw new BadRequest(`invalid test subject, must be valid publish subject: ${test}`);
  }
  const accounts = server.allAccounts().filter((a) => !opts.account || a.name === opts.account);
  const out: Record<string, unknown> = { server_id: server.serverId, now: goTime(Date.now()), ...sublistStats(accounts) };
  let total = 0;
  let list: Record<string, unknown>[] | undefined;
  if (opts.subscriptions) {
    const details: Record<string, unknown>[] = [];
    for (const a of accounts) {
      for (const s of a.sublist.all()) {
        if (!isLocalSubscription(s)) continue;
        if (test !== '' && !subjectMatchesFilter(test, s.subject)) continue;
        details.push(subDetail(s, a.name));
      }
    }
    total = details.length;
    const minoff = Math.min(offset, total);
    list = details.slice(minoff, minoff + Math.min(limit, total - minoff));
  }
  out.total = total;
  out.offset = offset;
  out.limit = limit;
  if (list && list.length > 0) out.subscriptions_list = list;
  return out;
}
