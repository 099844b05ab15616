// /metrics: the monitoring data in Prometheus text format, with prometheus-nats-exporter's
// metric and label names (gnatsd_varz_*, gnatsd_connz_*, gnatsd_routez_*, jetstream_*) so
// dashboards built on the exporter work against tsnats directly. Every figure comes from the
// same builders as /varz /connz /routez /jsz (this file only reshapes their JSON), and all of
// it is computed when scraped: nothing here runs on the message path.
import type { Server } from '../server/server.js';
import { varz, type ProcessUsage } from './varz.js';
import { connz } from './connz.js';
import { routez } from './other.js';
import { jsz } from './jsz.js';
import { healthz } from './healthz.js';
import { residentBytes } from '../server/host-facts.js';
import { jetStreamSource, type RaftGroupSource } from './sources.js';
import { Exposition, type Labels, type MetricType } from './prom-text.js';

type Json = Record<string, unknown>;

/** Varz keys the exporter leaves out (its skip list, by flattened name). */
const VARZ_SKIP = new Set([
  'leaf', 'trusted_operators_claim', 'cluster_tls_timeout', 'cluster_cluster_port', 'cluster_auth_timeout',
  'gateway_port', 'gateway_auth_timeout', 'gateway_tls_timeout', 'gateway_connect_retries',
]);
/** String varz keys the exporter turns into series: times as epoch milliseconds, others as a `value` label. */
const VARZ_STRING_KEYS = new Set(['server_id', 'server_name', 'version', 'domain', 'leader', 'name', 'start', 'config_load_time']);
const VARZ_TIME_KEYS = new Set(['start', 'config_load_time']);
/** Flattened varz names that only ever grow (typed counter; the exporter calls everything a gauge). */
const VARZ_COUNTERS = /^(in_|out_|total_connections$|slow_consumers$|stale_connections$|http_req_stats_|jetstream_stats_api_|slow_consumer_stats_|stale_connection_stats_)/;
const VARZ_HELP: Record<string, string> = {
  connections: 'Client connections open now',
  total_connections: 'Client connections accepted since start',
  subscriptions: 'Subscriptions over all accounts',
  in_msgs: 'Messages received from clients',
  in_bytes: 'Payload bytes received from clients',
  out_msgs: 'Messages sent to clients',
  out_bytes: 'Payload bytes sent to clients',
  slow_consumers: 'Clients closed or stalled as slow consumers',
  mem: 'Resident set size of the server process in bytes',
  cpu: 'CPU use of the server process in percent, since the previous sample',
  routes: 'Routes connected',
  start: 'Server start time in epoch milliseconds',
  config_load_time: 'Configuration load time in epoch milliseconds',
};

/** The exporter's flattened name: path joined by '_', '/' as '_', no doubled or edge '_'. */
function flatName(path: string[]): string {
  let n = path.join('_').replace(/\//g, '_').replace(/^_+|_+$/g, '');
  while (n.includes('__')) n = n.replace(/__/g, '_');
  return n;
}

function varzMetrics(e: Exposition, v: Json, sid: Labels): void {
  const walk = (o: Json, prefix: string[]): void => {
    for (const [k, val] of Object.entries(o)) {
      const path = [...prefix, k];
      const fqn = flatName(path);
      if (VARZ_SKIP.has(fqn)) continue;
      const name = `gnatsd_varz_${fqn}`;
      const help = VARZ_HELP[fqn] ?? fqn;
      if (typeof val === 'number') {
        e.add(name, VARZ_COUNTERS.test(fqn) ? 'counter' : 'gauge', help, sid, val);
      } else if (typeof val === 'string' && VARZ_STRING_KEYS.has(k)) {
        if (VARZ_TIME_KEYS.has(k)) {
          const ms = Date.parse(val);
          e.add(name, 'gauge', help, sid, Number.isNaN(ms) ? -1 : ms);
        } else {
          e.add(name, 'gauge', help, { ...sid, value: val }, 1);
        }
      } else if (val !== null && typeof val === 'object' && !Array.isArray(val)) {
        walk(val as Json, path);
      }
    }
  };
  walk(v, []);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : 0;
}

function connzMetrics(e: Exposition, server: Server, sid: Labels): void {
  // Every open connection, so the sums cover the whole server (the exporter sums one page).
  const c = connz(server, { limit: server.clients.size + 1 });
  const g = (n: string, help: string, v: number, type: MetricType = 'gauge'): void => e.add(`gnatsd_connz_${n}`, type, help, sid, v);
  g('num_connections', 'Connections in this listing', num(c.num_connections));
  g('total', 'Open client connections', num(c.total));
  g('offset', 'Listing offset', num(c.offset));
  g('limit', 'Listing limit', num(c.limit));
  const sum = { pending_bytes: 0, subscriptions: 0, in_msgs: 0, out_msgs: 0, in_bytes: 0, out_bytes: 0 };
  for (const conn of (c.connections as Json[] | undefined) ?? []) {
    for (const k of Object.keys(sum) as (keyof typeof sum)[]) sum[k] += num(conn[k]);
  }
  g('pending_bytes', 'Bytes queued to clients, summed over connections', sum.pending_bytes);
  g('subscriptions', 'Subscriptions, summed over connections', sum.subscriptions);
  g('in_msgs', 'Messages received, summed over open connections', sum.in_msgs);
  g('out_msgs', 'Messages sent, summed over open connections', sum.out_msgs);
  g('in_bytes', 'Bytes received, summed over open connections', sum.in_bytes);
  g('out_bytes', 'Bytes sent, summed over open connections', sum.out_bytes);
}

function routezMetrics(e: Exposition, server: Server, sid: Labels): void {
  const r = routez(server, {});
  e.add('gnatsd_routez_num_routes', 'gauge', 'Routes connected', sid, num(r.num_routes));
  for (const rt of (r.routes as Json[] | undefined) ?? []) {
    const l: Labels = { ...sid, rid: String(rt.rid ?? ''), remote_id: String(rt.remote_id ?? ''), remote_name: String(rt.remote_name ?? '') };
    e.add('gnatsd_routez_route_in_msgs', 'counter', 'Messages received over this route', l, num(rt.in_msgs));
    e.add('gnatsd_routez_route_out_msgs', 'counter', 'Messages sent over this route', l, num(rt.out_msgs));
    e.add('gnatsd_routez_route_in_bytes', 'counter', 'Bytes received over this route', l, num(rt.in_bytes));
    e.add('gnatsd_routez_route_out_bytes', 'counter', 'Bytes sent over this route', l, num(rt.out_bytes));
    e.add('gnatsd_routez_route_pending_bytes', 'gauge', 'Bytes queued to this route', l, num(rt.pending_size));
    e.add('gnatsd_routez_route_subscriptions', 'gauge', 'Remote subscriptions known over this route', l, num(rt.subscriptions));
  }
}

function healthzMetrics(e: Exposition, server: Server, sid: Labels): void {
  const h = healthz(server, {});
  // The exporter's two forms: 0 = ok (older dashboards), and 1 = ok with the status text as a label.
  e.add('gnatsd_healthz_status', 'gauge', 'Health: 0 ok, 1 not ok (/healthz)', sid, h.status === 'ok' ? 0 : 1);
  e.add('gnatsd_healthz_status_value', 'gauge', 'Health: 1 ok, 0 not ok, status text as label (/healthz)', { ...sid, value: h.status }, h.status === 'ok' ? 1 : 0);
}

const tf = (b: boolean): string => (b ? 'true' : 'false');

function jszMetrics(e: Exposition, server: Server): void {
  const js = jetStreamSource(server);
  const j = jsz(server, { accounts: true, streams: true, consumers: true, config: true, limit: 1 << 30 });
  const meta = j.meta_cluster as Json | undefined;
  const serverName = server.serverName;
  const metaLeader = String(meta?.leader ?? '');
  const sl: Labels = {
    server_id: server.serverId,
    server_name: serverName,
    cluster: String(meta?.name ?? ''),
    domain: String((j.config as Json | undefined)?.domain ?? ''),
    meta_leader: metaLeader,
    is_meta_leader: tf(meta === undefined || metaLeader === serverName),
  };
  const cfg = (j.config as Json | undefined) ?? {};
  e.add('jetstream_server_jetstream_disabled', 'gauge', 'JetStream disabled (1) or enabled (0)', sl, j.disabled === true ? 1 : 0);
  e.add('jetstream_server_total_streams', 'gauge', 'Streams on this server', sl, num(j.streams));
  e.add('jetstream_server_total_consumers', 'gauge', 'Consumers on this server', sl, num(j.consumers));
  e.add('jetstream_server_total_messages', 'gauge', 'Messages stored on this server', sl, num(j.messages));
  e.add('jetstream_server_total_message_bytes', 'gauge', 'Message bytes stored on this server', sl, num(j.bytes));
  e.add('jetstream_server_max_memory', 'gauge', 'JetStream memory limit in bytes', sl, num(cfg.max_memory));
  e.add('jetstream_server_max_storage', 'gauge', 'JetStream storage limit in bytes', sl, num(cfg.max_storage));
  if (!js) return;
  const raft = js.clustered?.raftGroups?.() ?? [];
  const streamGroup = new Map<string, string>();
  for (const g of raft) if (g.kind === 'stream') streamGroup.set(`${g.account}\u0000${g.stream}`, g.group);
  for (const a of (j.account_details as Json[] | undefined) ?? []) {
    const account = String(a.name ?? '');
    const al: Labels = { ...sl, account, account_name: account, account_id: String(a.id ?? account) };
    e.add('jetstream_account_max_memory', 'gauge', 'Memory reserved by the account in bytes', al, num(a.reserved_memory));
    e.add('jetstream_account_max_storage', 'gauge', 'Storage reserved by the account in bytes', al, num(a.reserved_storage));
    e.add('jetstream_account_storage_used', 'gauge', 'Storage used by the account in bytes', al, num(a.storage));
    e.add('jetstream_account_memory_used', 'gauge', 'Memory used by the account in bytes', al, num(a.memory));
    for (const s of (a.stream_detail as Json[] | undefined) ?? []) streamMetrics(e, al, s, streamGroup, serverName);
  }
  raftMetrics(e, sl, raft);
}

function streamMetrics(e: Exposition, al: Labels, s: Json, groups: Map<string, string>, serverName: string): void {
  const name = String(s.name ?? '');
  const leader = String((s.cluster as Json | undefined)?.leader ?? '');
  const l: Labels = {
    ...al,
    stream_name: name,
    stream_leader: leader,
    is_stream_leader: tf(s.cluster === undefined || leader === serverName),
    stream_raft_group: groups.get(`${al.account}\u0000${name}`) ?? '',
  };
  const st = (s.state as Json | undefined) ?? {};
  const cfg = (s.config as Json | undefined) ?? {};
  e.add('jetstream_stream_total_messages', 'gauge', 'Messages in the stream', l, num(st.messages));
  e.add('jetstream_stream_total_bytes', 'gauge', 'Bytes in the stream', l, num(st.bytes));
  e.add('jetstream_stream_first_seq', 'gauge', 'First sequence in the stream', l, num(st.first_seq));
  e.add('jetstream_stream_last_seq', 'gauge', 'Last sequence in the stream', l, num(st.last_seq));
  e.add('jetstream_stream_consumer_count', 'gauge', 'Consumers of the stream', l, num(st.consumer_count));
  e.add('jetstream_stream_subject_count', 'gauge', 'Distinct subjects in the stream', l, num(st.num_subjects));
  e.add('jetstream_stream_limit_messages', 'gauge', 'Stream max_msgs (-1: unlimited)', l, typeof cfg.max_msgs === 'number' ? cfg.max_msgs : -1);
  e.add('jetstream_stream_limit_bytes', 'gauge', 'Stream max_bytes (-1: unlimited)', l, typeof cfg.max_bytes === 'number' ? cfg.max_bytes : -1);
  for (const c of (s.consumer_detail as Json[] | undefined) ?? []) {
    const cl = String((c.cluster as Json | undefined)?.leader ?? '');
    const ccfg = (c.config as Json | undefined) ?? {};
    const ll: Labels = {
      ...l,
      consumer_name: String(c.name ?? ''),
      consumer_leader: cl,
      is_consumer_leader: tf(c.cluster === undefined || cl === serverName),
      consumer_desc: String(ccfg.description ?? ''),
    };
    const delivered = (c.delivered as Json | undefined) ?? {};
    const ackFloor = (c.ack_floor as Json | undefined) ?? {};
    e.add('jetstream_consumer_delivered_consumer_seq', 'gauge', 'Last consumer sequence delivered', ll, num(delivered.consumer_seq));
    e.add('jetstream_consumer_delivered_stream_seq', 'gauge', 'Last stream sequence delivered', ll, num(delivered.stream_seq));
    e.add('jetstream_consumer_num_ack_pending', 'gauge', 'Messages delivered and not yet acknowledged', ll, num(c.num_ack_pending));
    e.add('jetstream_consumer_num_redelivered', 'gauge', 'Messages redelivered and not yet acknowledged', ll, num(c.num_redelivered));
    e.add('jetstream_consumer_num_waiting', 'gauge', 'Pull requests waiting', ll, num(c.num_waiting));
    e.add('jetstream_consumer_num_pending', 'gauge', 'Messages matching the consumer not yet delivered', ll, num(c.num_pending));
    e.add('jetstream_consumer_ack_floor_stream_seq', 'gauge', 'Stream sequence of the ack floor', ll, num(ackFloor.stream_seq));
    e.add('jetstream_consumer_ack_floor_consumer_seq', 'gauge', 'Consumer sequence of the ack floor', ll, num(ackFloor.consumer_seq));
  }
}

function raftMetrics(e: Exposition, sl: Labels, groups: RaftGroupSource[]): void {
  for (const g of groups) {
    const l: Labels = {
      server_id: sl.server_id,
      server_name: sl.server_name,
      cluster: sl.cluster,
      kind: g.kind,
      raft_group: g.group,
      account: g.account ?? '',
      stream_name: g.stream ?? '',
      consumer_name: g.consumer ?? '',
    };
    e.add('jetstream_raft_group_leader', 'gauge', 'This server leads the Raft group (1) or not (0)', l, g.leader ? 1 : 0);
    e.add('jetstream_raft_group_term', 'gauge', 'Current Raft term', l, g.term);
    e.add('jetstream_raft_group_commit', 'gauge', 'Highest log index known committed', l, g.commit);
    e.add('jetstream_raft_group_applied', 'gauge', 'Highest log index applied here', l, g.applied);
    e.add('jetstream_raft_group_lag', 'gauge', 'Committed entries not yet applied here', l, g.lag);
    for (const p of g.peerLag) {
      e.add('jetstream_raft_group_peer_lag', 'gauge', 'Leader only: entries a follower log is behind the leader', { ...l, peer: p.peer }, p.lag);
    }
  }
}

function processMetrics(e: Exposition): void {
  const u = process.cpuUsage();
  e.add('process_cpu_seconds_total', 'counter', 'User and system CPU time spent in seconds', {}, (u.user + u.system) / 1e6);
  e.add('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes', {}, residentBytes());
  e.add('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds', {}, Math.round(Date.now() / 1000 - process.uptime()));
}

/** The /metrics page. */
export function metrics(server: Server, usage: ProcessUsage, httpReqStats: Record<string, number>): string {
  const e = new Exposition();
  const sid: Labels = { server_id: server.serverId };
  varzMetrics(e, varz(server, usage, httpReqStats), sid);
  connzMetrics(e, server, sid);
  routezMetrics(e, server, sid);
  healthzMetrics(e, server, sid);
  jszMetrics(e, server);
  processMetrics(e);
  return e.render();
}
