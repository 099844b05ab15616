// The meta leader's side of 2.9.10's clustered STREAM.LIST / CONSUMER.LIST: it does not hold live
// state for replicated assets, so it asks each asset's group leader on `$JSC.SI.<acc>.<stream>` /
// `$JSC.CI.<acc>.<stream>.<consumer>` (system account, leader-info.ts is the answering side),
// waits up to 4 s (upstream's timeout) and lists the assets that did not answer under "missing".
// An asset none of whose peers is online is not asked: its assignment is listed, and it is missing.
import { randomBytes } from 'node:crypto';
import type { ApiRequest } from '../api/router.js';
import { API_LIST_LIMIT } from '../api/types.js';
import { decodeBody, guarded, isEmptyBody, requireAccount, sendOk, type JsApiContext } from '../api/context.js';
import type { Schema } from '../api/json.js';
import type { ClusteredJetStream } from './js-cluster.js';
import type { ConsumerAssignment, StreamEntry } from './assignments.js';
import { consumerInfoSubject, streamInfoSubject } from './leader-info.js';

const CONSUMER_LIST = 'io.nats.jetstream.api.v1.consumer_list_response';
const PAGED: Schema = { offset: 'int' };
/** How long the meta leader waits for group leaders (jsClusteredStreamListRequest's timeout). */
export const LIST_COLLECT_TIMEOUT_MS = 4000;

export interface InfoAsk { key: string; subject: string }

/**
 * Send every ask with its own reply subject in the system account and gather the JSON answers by
 * key, until all answered or `timeoutMs` passed. Unparsable or error answers count as missing.
 */
export function collectLeaderInfos(c: ClusteredJetStream, asks: InfoAsk[],
  timeoutMs = LIST_COLLECT_TIMEOUT_MS): Promise<Map<string, Record<string, unknown>>> {
  const got = new Map<string, Record<string, unknown>>();
  if (!asks.length) return Promise.resolve(got);
  const inbox = `_INBOX.JSC.${randomBytes(6).toString('hex')}`;
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      unsub();
      resolve(got);
    };
    const unsub = c.subscribeSystem(`${inbox}.*`, (subject, _reply, payload) => {
      const ask = asks[Number(subject.slice(inbox.length + 1))];
      if (!ask || got.has(ask.key)) return;
      try {
        const j = JSON.parse(payload.toString()) as Record<string, unknown>;
        if (j.error || typeof j !== 'object') return;
        got.set(ask.key, j);
      } catch {
        return;
      }
      if (got.size === asks.length) finish();
    });
    timer = setTimeout(finish, timeoutMs);
    asks.forEach((a, i) => c.publishSystem(a.subject, '', `${inbox}.${i}`));
  });
}

/** Replica list of a group none of whose peers is online (upstream's offlineClusterInfo). */
export function offlineCluster(c: ClusteredJetStream, peers: string[]): Record<string, unknown> {
  return {
    name: c.clusterName,
    replicas: peers.map((p) => ({ name: c.serverNameOf(p), current: false, offline: true, active: 0, peer: p })),
  };
}

const allOffline = (c: ClusteredJetStream, peers: string[]): boolean => {
  const online = c.onlinePeers();
  return !peers.some((p) => online.has(p));
};

/**
 * StreamInfo of replicated streams (and streams a nats-server holds) from their leaders. Returns
 * infos by stream name and the names that did not answer (offline ones with assignment info).
 */
export async function collectStreamInfos(c: ClusteredJetStream, account: string, entries: StreamEntry[]):
  Promise<{ infos: Map<string, Record<string, unknown>>; missing: Set<string> }> {
  const infos = new Map<string, Record<string, unknown>>();
  const missing = new Set<string>();
  const asks: InfoAsk[] = [];
  for (const e of entries) {
    const name = e.sa.stream.name;
    if (allOffline(c, e.sa.group.peers)) {
      infos.set(name, { config: e.sa.stream, created: e.sa.created, cluster: offlineCluster(c, e.sa.group.peers) });
      missing.add(name);
    } else {
      asks.push({ key: name, subject: streamInfoSubject(account, name) });
    }
  }
  const got = await collectLeaderInfos(c, asks);
  for (const e of entries) {
    const name = e.sa.stream.name;
    if (infos.has(name)) continue;
    const si = got.get(name);
    if (!si) {
      missing.add(name);
      continue;
    }
    // The assignment's consumer count, as upstream: a leader's own count can lag the meta layer.
    const state = si.state as Record<string, unknown> | undefined;
    if (state && e.consumers.size > 0) state.consumer_count = e.consumers.size;
    infos.set(name, si);
  }
  return { infos, missing };
}

/** CONSUMER.LIST answered by the meta leader from the consumer leaders' `$JSC.CI` answers. */
export function answerConsumerList(c: ClusteredJetStream, ctx: JsApiContext, req: ApiRequest,
  stream: string, assigned: Iterable<ConsumerAssignment>): Promise<void> {
  return guarded(ctx, req, CONSUMER_LIST, async () => {
    requireAccount(ctx, req);
    let offset = 0;
    if (!isEmptyBody(req.payload)) offset = Math.max(decodeBody<{ offset?: number }>(ctx, req, PAGED, 'JSApiConsumersRequest').offset ?? 0, 0);
    const all = [...assigned].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    offset = Math.min(offset, all.length);
    const page = all.slice(offset, offset + API_LIST_LIMIT);
    const consumers: Record<string, unknown>[] = [];
    const missing: string[] = [];
    const asks: InfoAsk[] = [];
    for (const ca of page) {
      if (allOffline(c, ca.group.peers)) {
        consumers.push({ stream_name: stream, name: ca.name, created: ca.created, config: ca.consumer,
          cluster: offlineCluster(c, ca.group.peers) });
        missing.push(ca.name);
      } else {
        asks.push({ key: ca.name, subject: consumerInfoSubject(req.accountName, stream, ca.name) });
      }
    }
    const got = await collectLeaderInfos(c, asks);
    for (const a of asks) {
      const ci = got.get(a.key);
      if (ci) consumers.push(ci);
      else missing.push(a.key);
    }
    consumers.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
    // Upstream's total is the number of infos listed, not of consumers.
    const fields: Record<string, unknown> = { total: consumers.length, offset, limit: API_LIST_LIMIT, consumers };
    if (missing.length) fields.missing = missing;
    sendOk(ctx, req, CONSUMER_LIST, fields);
  }, { total: 0, offset: 0, limit: 0, consumers: [] });
}
