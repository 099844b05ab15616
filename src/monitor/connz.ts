// /connz: open and recently closed client connections (nats-server monitor.go
// Connz, ConnInfo, monitor_sort_opts.go).
import type { Server } from '../server/server.js';
import type { Client } from '../core/client.js';
import { clientKindName } from '../core/types.js';
import type { ClosedClientInfo } from '../server/closed-ring.js';
import { GLOBAL_ACCOUNT } from '../config/options.js';
import { goTime, natsUptime, rttString } from './format.js';
import { BadRequest, type ConnState } from './query.js';

export const DEFAULT_LIST_SIZE = 1024;

export const SORT_KEYS = [
  'cid', 'start', 'subs', 'pending', 'msgs_to', 'msgs_from', 'bytes_to', 'bytes_from',
  'last', 'idle', 'uptime', 'stop', 'reason', 'rtt',
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ConnzOptions {
  sort?: string;
  /** auth=true: include authorized_user and account */
  auth?: boolean;
  subscriptions?: boolean;
  subscriptionsDetail?: boolean;
  offset?: number;
  limit?: number;
  cid?: number;
  state?: ConnState;
  user?: string;
  account?: string;
}

/** One connection in the common shape of open and closed ones. */
interface ConnRow {
  cid: number;
  kind: string;
  /** nats-server clientTypeString: "nats" or "websocket" */
  type: string;
  ip: string;
  port: number;
  startMs: number;
  lastMs: number;
  stopMs?: number;
  reason?: string;
  rttMs: number;
  pending: number;
  inMsgs: number;
  outMsgs: number;
  inBytes: number;
  outBytes: number;
  subs: { subject: string; queue?: string; sid: string; msgs: number; max: number }[];
  name: string;
  lang: string;
  version: string;
  account: string;
  user: string;
  /** TLS version / cipher suite (TLS connections) */
  tlsVersion?: string;
  tlsCipher?: string;
}

/** connz `type` from the connection type the client came with (STANDARD, WEBSOCKET). */
function connType(t: string | undefined): string {
  return t === 'WEBSOCKET' ? 'websocket' : 'nats';
}

function openRow(c: Client): ConnRow {
  const subs: ConnRow['subs'] = [];
  for (const s of c.subs.values()) subs.push({ subject: s.subject, queue: s.queue, sid: s.sid, msgs: s.nmsgs, max: s.max });
  return {
    cid: c.cid,
    kind: clientKindName(c.kind),
    type: connType(c.conn.type),
    ip: c.ip,
    port: c.port,
    startMs: c.startMs,
    lastMs: c.lastActivityMs,
    rttMs: c.rttMs,
    pending: c.pendingBytes,
    inMsgs: c.inMsgs,
    outMsgs: c.outMsgs,
    inBytes: c.inBytes,
    outBytes: c.outBytes,
    subs,
    name: c.opts.name ?? '',
    lang: c.opts.lang ?? '',
    version: c.opts.version ?? '',
    account: c.account.name,
    user: c.authorizedUser,
    tlsVersion: c.tlsVersion,
    tlsCipher: c.tlsCipher,
  };
}

function closedRow(c: ClosedClientInfo): ConnRow {
  return {
    cid: c.cid,
    kind: clientKindName(c.kind),
    type: connType(c.connectionType),
    ip: c.ip,
    port: c.port,
    startMs: c.startMs,
    lastMs: c.lastActivityMs,
    stopMs: c.stopMs,
    reason: c.reason,
    rttMs: c.rttMs,
    pending: 0,
    inMsgs: c.inMsgs,
    outMsgs: c.outMsgs,
    inBytes: c.inBytes,
    outBytes: c.outBytes,
    subs: c.subscriptions,
    name: c.name,
    lang: c.lang,
    version: c.version,
    account: c.account,
    user: c.authorizedUser,
  };
}

function connInfo(r: ConnRow, nowMs: number, opts: ConnzOptions): Record<string, unknown> {
  // A closed connection's figures are frozen at close time.
  const at = r.stopMs ?? nowMs;
  const ci: Record<string, unknown> = {
    cid: r.cid,
    kind: r.kind,
    type: r.type,
    ip: r.ip,
    port: r.port,
    start: goTime(r.startMs),
    last_activity: goTime(r.lastMs),
  };
  if (r.stopMs !== undefined) ci.stop = goTime(r.stopMs);
  if (r.reason) ci.reason = r.reason;
  ci.rtt = rttString(r.rttMs);
  ci.uptime = natsUptime(at - r.startMs);
  ci.idle = natsUptime(at - r.lastMs);
  ci.pending_bytes = r.pending;
  ci.in_msgs = r.inMsgs;
  ci.out_msgs = r.outMsgs;
  ci.in_bytes = r.inBytes;
  ci.out_bytes = r.outBytes;
  ci.subscriptions = r.subs.length;
  if (r.name) ci.name = r.name;
  if (r.lang) ci.lang = r.lang;
  if (r.version) ci.version = r.version;
  if (r.tlsVersion) ci.tls_version = r.tlsVersion;
  if (r.tlsCipher) ci.tls_cipher_suite = r.tlsCipher;
  if (opts.auth) {
    if (r.user) ci.authorized_user = r.user;
    if (r.account && r.account !== GLOBAL_ACCOUNT) ci.account = r.account;
  }
  if (r.subs.length > 0) {
    if (opts.subscriptionsDetail) {
      ci.subscriptions_list_detail = r.subs.map((s) => {
        const d: Record<string, unknown> = { subject: s.subject };
        if (s.queue !== undefined) d.qgroup = s.queue;
        d.sid = s.sid;
        d.msgs = s.msgs;
        if (s.max > 0) d.max = s.max;
        d.cid = r.cid;
        return d;
      });
    } else if (opts.subscriptions) {
      ci.subscriptions_list = r.subs.map((s) => s.subject);
    }
  }
  return ci;
}

type Cmp = (a: ConnRow, b: ConnRow) => number;

function comparator(sort: SortKey, nowMs: number): Cmp {
  const desc = (f: (r: ConnRow) => number): Cmp => (a, b) => f(b) - f(a);
  switch (sort) {
    case 'cid':
    case 'start':
      return (a, b) => a.cid - b.cid;
    case 'subs': return desc((r) => r.subs.length);
    case 'pending': return desc((r) => r.pending);
    case 'msgs_to': return desc((r) => r.outMsgs);
    case 'msgs_from': return desc((r) => r.inMsgs);
    case 'bytes_to': return desc((r) => r.outBytes);
    case 'bytes_from': return desc((r) => r.inBytes);
    case 'last': return desc((r) => r.lastMs);
    case 'idle': return desc((r) => nowMs - r.lastMs);
    // nats-server sorts uptime ascending
    case 'uptime': return (a, b) => ((a.stopMs ?? nowMs) - a.startMs) - ((b.stopMs ?? nowMs) - b.startMs);
    case 'stop': return desc((r) => r.stopMs ?? 0);
    case 'reason': return (a, b) => ((a.reason ?? '') < (b.reason ?? '') ? -1 : (a.reason ?? '') > (b.reason ?? '') ? 1 : 0);
    case 'rtt': return desc((r) => r.rttMs);
  }
}

export function connz(server: Server, opts: ConnzOptions): Record<string, unknown> {
  let sort: SortKey = 'cid';
  if (opts.sort) {
    if (!(SORT_KEYS as readonly string[]).includes(opts.sort)) throw new BadRequest(`invalid sorting option: ${opts.sort}`);
    sort = opts.sort as SortKey;
  }
  const state = opts.state ?? 'open';
  if (sort === 'stop' && state !== 'closed') throw new BadRequest('sort by stop only valid on closed connections');
  if (sort === 'reason' && state !== 'closed') throw new BadRequest('sort by reason only valid on closed connections');
  const offset = Math.max(0, opts.offset ?? 0);
  let limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : DEFAULT_LIST_SIZE;
  const cid = opts.cid ?? 0;
  if (cid > 0) limit = 1;
  const now = Date.now();
  const acc = opts.account ?? '';
  const user = opts.user ?? '';

  // Closes of this turn still queued (close-queue.ts) are finished first: the lists are exact.
  server.closeQueue.drainAll();
  let open: Client[] = [];
  let closed: ClosedClientInfo[] = [];
  if (state !== 'closed') open = [...server.clients.values()].filter((c) => acc === '' || c.account.name === acc);
  if (state !== 'open') closed = server.closedClients.list().filter((c) => acc === '' || c.account === acc);
  // `total` counts every candidate, before the user filter and paging (as nats-server does).
  const total = open.length + closed.length;

  if (cid > 0) {
    const o = open.find((c) => c.cid === cid);
    open = o ? [o] : [];
    closed = o === undefined ? closed.filter((c) => c.cid === cid).slice(0, 1) : [];
  }
  let rows = [...open.map(openRow), ...closed.map(closedRow)];
  if (user !== '') rows = rows.filter((r) => r.user === user);
  rows.sort(comparator(sort, now));
  const minoff = Math.min(offset, rows.length);
  const maxoff = minoff + Math.min(limit, rows.length - minoff);
  const page = rows.slice(minoff, maxoff);
  return {
    server_id: server.serverId,
    now: goTime(now),
    num_connections: page.length,
    total,
    offset,
    limit,
    connections: page.map((r) => connInfo(r, now, opts)),
  };
}
