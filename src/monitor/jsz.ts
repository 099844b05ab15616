// /jsz and the JetStream parts of /varz (nats-server monitor.go Jsz, JSInfo,
// AccountDetail, StreamDetail), read from the JetStream subsystem when it runs.
import type { Server } from '../server/server.js';
import { goTime, nanos } from './format.js';
import { consumerInfo, jetStreamSource, type JetStreamSource, type JsAccountSource } from './sources.js';

export interface JszOptions {
  /** acc: one account only */
  account?: string;
  accounts?: boolean;
  streams?: boolean;
  consumers?: boolean;
  config?: boolean;
  offset?: number;
  limit?: number;
  leaderOnly?: boolean;
}

export function jetStreamConfigJson(server: Server, js: JetStreamSource): Record<string, unknown> {
  const o = server.options.jetstream;
  const cfg: Record<string, unknown> = {
    max_memory: js.maxMemoryBytes,
    max_storage: js.maxStoreBytes,
    store_dir: js.storeRoot,
  };
  if (o.syncIntervalMs === 'always') cfg.sync_always = true;
  else cfg.sync_interval = nanos(o.syncIntervalMs);
  if (js.domain) cfg.domain = js.domain;
  if (o.uniqueTag) cfg.unique_tag = o.uniqueTag;
  if (o.strict) cfg.strict = true;
  return cfg;
}

export function jetStreamLimitsJson(server: Server): Record<string, unknown> {
  const l = server.options.jetstream.limits ?? {};
  const out: Record<string, unknown> = {};
  if (l.maxRequestBatch) out.max_request_batch = l.maxRequestBatch;
  if (l.maxAckPending) out.max_ack_pending = l.maxAckPending;
  if (l.maxHaAssets) out.max_ha_assets = l.maxHaAssets;
  if (l.duplicateWindowMs) out.max_duplicate_window = nanos(l.duplicateWindowMs);
  return out;
}

function reserved(accounts: JsAccountSource[]): { memory: number; storage: number } {
  let memory = 0;
  let storage = 0;
  for (const a of accounts) {
    memory += a.reservedMemory?.() ?? 0;
    storage += a.reservedStore?.() ?? 0;
  }
  return { memory, storage };
}

/** JetStreamStats: server-wide usage. */
export function jetStreamStatsJson(js: JetStreamSource): Record<string, unknown> {
  const accounts = js.allJsAccounts();
  const r = reserved(accounts);
  return {
    memory: js.memoryUsed,
    storage: js.storeUsed,
    reserved_memory: r.memory,
    reserved_storage: r.storage,
    accounts: accounts.length,
    ha_assets: 0,
    api: { total: js.apiTotal, errors: js.apiErrors },
  };
}

function streamTotals(a: JsAccountSource): { streams: number; consumers: number; messages: number; bytes: number } {
  let consumers = 0;
  let messages = 0;
  let bytes = 0;
  for (const s of a.streams.values()) {
    const state = (s.info().info.state ?? {}) as { messages?: number; bytes?: number; consumer_count?: number };
    messages += state.messages ?? 0;
    bytes += state.bytes ?? 0;
    consumers += state.consumer_count ?? 0;
  }
  return { streams: a.streams.size, consumers, messages, bytes };
}

function accountDetail(js: JetStreamSource, a: JsAccountSource, opts: JszOptions): Record<string, unknown> {
  const d: Record<string, unknown> = {
    name: a.name,
    id: a.name,
    memory: a.memoryBytes,
    storage: a.storeBytes,
    reserved_memory: a.reservedMemory?.() ?? 0,
    reserved_storage: a.reservedStore?.() ?? 0,
    accounts: 0,
    ha_assets: 0,
    api: { total: a.apiTotal, errors: a.apiErrors },
  };
  if (opts.streams) {
    const details: Record<string, unknown>[] = [];
    for (const s of [...a.streams.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))) {
      const info = s.info().info;
      const sd: Record<string, unknown> = { name: s.name, created: info.created };
      if (info.cluster !== undefined) sd.cluster = info.cluster;
      if (opts.config) sd.config = info.config;
      sd.state = info.state;
      if (opts.consumers && s.consumerNames && s.getConsumer) {
        // A replicated stream's consumers are reported by every replica (followers too); others
        // (a single server, R1 assets) by the stream that runs them.
        const grouped = js.clustered?.consumerDetail?.(a.name, s.name, opts.config === true);
        const names = new Set([...s.consumerNames(), ...(grouped?.keys() ?? [])]);
        const consumers: Record<string, unknown>[] = [];
        for (const n of [...names].sort()) {
          const ci = grouped?.get(n) ?? consumerInfo(s.getConsumer(n), opts.config === true);
          if (ci) consumers.push(ci);
        }
        if (consumers.length > 0) sd.consumer_detail = consumers;
      }
      if (info.mirror !== undefined) sd.mirror = info.mirror;
      if (info.sources !== undefined) sd.sources = info.sources;
      details.push(sd);
    }
    if (details.length > 0) d.stream_detail = details;
  }
  return d;
}

/** leader-only: nats-server answers only from the meta leader (a single server is its own leader). */
export function jszFilteredOut(server: Server, opts: JszOptions): boolean {
  if (!opts.leaderOnly) return false;
  const js = jetStreamSource(server);
  if (!js) return true;
  return js.clustered !== undefined && !js.clustered.isLeader;
}

export function jsz(server: Server, optsIn: JszOptions): Record<string, unknown> {
  const opts: JszOptions = { ...optsIn };
  if ((opts.offset ?? 0) < 0) opts.offset = 0;
  if (!opts.limit) opts.limit = 1024;
  if (opts.consumers) opts.streams = true;
  if (opts.streams && !opts.account) opts.accounts = true;
  const out: Record<string, unknown> = { server_id: server.serverId, now: goTime(Date.now()) };
  const js = jetStreamSource(server);
  if (!js) {
    out.disabled = true;
    out.config = { max_memory: 0, max_storage: 0 };
    Object.assign(out, {
      memory: 0, storage: 0, reserved_memory: 0, reserved_storage: 0, accounts: 0, ha_assets: 0,
      api: { total: 0, errors: 0 }, streams: 0, consumers: 0, messages: 0, bytes: 0, total: 0,
    });
    return out;
  }
  out.config = jetStreamConfigJson(server, js);
  out.limits = jetStreamLimitsJson(server);
  Object.assign(out, jetStreamStatsJson(js));
  let accounts = js.allJsAccounts();
  let streams = 0;
  let consumers = 0;
  let messages = 0;
  let bytes = 0;
  for (const a of accounts) {
    const t = streamTotals(a);
    streams += t.streams;
    consumers += t.consumers;
    messages += t.messages;
    bytes += t.bytes;
  }
  Object.assign(out, { streams, consumers, messages, bytes });
  if (js.clustered) out.meta_cluster = js.clustered.metaClusterInfo();
  const total = accounts.length;
  const target = opts.account ? accounts.find((a) => a.name === opts.account) : undefined;
  if (target) {
    accounts = [target];
  } else if (opts.accounts) {
    accounts = [...accounts].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
    const offset = Math.min(opts.offset ?? 0, accounts.length);
    accounts = accounts.slice(offset, offset + Math.min(opts.limit!, accounts.length - offset));
  } else {
    accounts = [];
  }
  if (accounts.length > 0) out.account_details = accounts.map((a) => accountDetail(js, a, opts));
  out.total = total;
  return out;
}
