// /varz: server identity, configuration, counters (nats-server monitor.go Varz,
// newest field set and order).
import { cpuCount, residentBytes } from '../server/host-facts.js';
import type { Server } from '../server/server.js';
import { SERVER_VERSION, RUNTIME_VERSION } from '../server/server.js';
import { goTime, nanos, natsUptime } from './format.js';
import { clusterSource, jetStreamSource } from './sources.js';
import { jetStreamConfigJson, jetStreamStatsJson, jetStreamLimitsJson } from './jsz.js';

/** %CPU and RSS of this process, sampled between calls (what nats-server reads from ps). */
export class ProcessUsage {
  private lastCpuMicros: number;
  private lastWallMs: number;
  private lastPercent = 0;

  constructor() {
    const u = process.cpuUsage();
    this.lastCpuMicros = u.user + u.system;
    // process.uptime(), not performance.now(): the latter loads perf_hooks (~2 ms) at start-up.
    this.lastWallMs = process.uptime() * 1000;
  }

  sample(): { cpuPercent: number; rssBytes: number } {
    const u = process.cpuUsage();
    const cpu = u.user + u.system;
    const wall = process.uptime() * 1000;
    const elapsedMs = wall - this.lastWallMs;
    // Too short an interval gives noise: keep the previous figure.
    if (elapsedMs >= 100) {
      this.lastPercent = Math.round(((cpu - this.lastCpuMicros) / 1000 / elapsedMs) * 10000) / 100;
      this.lastCpuMicros = cpu;
      this.lastWallMs = wall;
    }
    return { cpuPercent: this.lastPercent, rssBytes: residentBytes() };
  }
}

/** Total subscriptions over all accounts (what nats-server reports as `subscriptions`). */
export function totalSubscriptions(server: Server): number {
  let n = 0;
  for (const a of server.allAccounts()) n += a.sublist.size;
  return n;
}

export function authRequired(server: Server): boolean {
  const auth = server.authenticator;
  return auth !== null && auth.authRequired && !auth.noAuthUser;
}

export function varz(server: Server, usage: ProcessUsage, httpReqStats: Record<string, number>): Record<string, unknown> {
  const o = server.options;
  const now = Date.now();
  const { cpuPercent, rssBytes } = usage.sample();
  const v: Record<string, unknown> = {
    server_id: server.serverId,
    server_name: server.serverName,
    version: SERVER_VERSION,
    proto: 1,
    go: RUNTIME_VERSION,
    host: o.host,
    port: server.port || o.port,
  };
  if (authRequired(server)) v.auth_required = true;
  for (const k of ['tls_required', 'tls_verify', 'ip', 'connect_urls'] as const) {
    const val = server.getInfoField(k);
    if (val !== undefined && val !== false && !(Array.isArray(val) && val.length === 0)) v[k] = val;
  }
  v.max_connections = o.maxConnections;
  if (o.maxSubscriptions > 0) v.max_subscriptions = o.maxSubscriptions;
  v.ping_interval = nanos(o.pingIntervalMs);
  v.ping_max = o.pingMax;
  v.http_host = o.httpHost ?? o.host;
  // The port the monitor listens on goes under its scheme (http_port or https_port).
  const httpsMonitor = o.httpPort === undefined && o.httpsPort !== undefined;
  const monPort = server.listeners.port('monitoring');
  v.http_port = httpsMonitor ? 0 : monPort ?? o.httpPort ?? 0;
  v.http_base_path = o.httpBasePath;
  v.https_port = httpsMonitor ? monPort ?? o.httpsPort ?? 0 : 0;
  v.auth_timeout = o.authTimeoutMs / 1000;
  v.max_control_line = o.maxControlLineBytes;
  v.max_payload = o.maxPayloadBytes;
  v.max_pending = o.maxPendingBytes;
  v.cluster = clusterSource(server)?.varzCluster() ?? clusterFromOptions(server);
  v.gateway = {};
  v.leaf = {};
  v.mqtt = {};
  v.websocket = websocketVarz(server);
  const js = jetStreamSource(server);
  v.jetstream = js ? { config: jetStreamConfigJson(server, js), stats: jetStreamStatsJson(js), limits: jetStreamLimitsJson(server) } : {};
  v.tls_timeout = o.tls?.timeoutSec ?? 2;
  v.write_deadline = nanos(o.writeDeadlineMs);
  if (o.writeTimeoutPolicy) v.write_timeout = o.writeTimeoutPolicy;
  v.start = goTime(server.startTime.getTime());
  v.now = goTime(now);
  v.uptime = natsUptime(now - server.startTime.getTime());
  v.mem = rssBytes;
  v.cores = cpuCount();
  v.gomaxprocs = cpuCount();
  v.cpu = cpuPercent;
  server.closeQueue.drainAll(); // closes still queued are counted as closed
  v.connections = server.clients.size;
  v.total_connections = server.stats.totalConnections;
  const peers = clusterSource(server)?.remoteServerIds?.() ?? [];
  v.routes = peers.length;
  v.remotes = peers.length;
  const leafSrc = server.getSubsystem('leafnodes') as { leafz?(subs: boolean): unknown[] } | undefined;
  v.leafnodes = typeof leafSrc?.leafz === 'function' ? leafSrc.leafz(false).length : 0;
  const st = server.stats;
  v.in_msgs = st.inMsgs;
  v.in_bytes = st.inBytes;
  v.in_client_msgs = st.inMsgs;
  v.in_client_bytes = st.inBytes;
  v.out_msgs = st.outMsgs;
  v.out_bytes = st.outBytes;
  v.out_client_msgs = st.outMsgs;
  v.out_client_bytes = st.outBytes;
  v.slow_consumers = st.slowConsumers;
  v.stale_connections = st.staleConnections;
  v.stalled_clients = 0;
  v.subscriptions = totalSubscriptions(server);
  v.http_req_stats = { ...httpReqStats };
  v.config_load_time = goTime(server.configLoadTime.getTime());
  v.config_digest = '';
  if (o.serverTags.length > 0) v.tags = [...o.serverTags];
  if (Object.keys(o.serverMetadata).length > 0) v.metadata = { ...o.serverMetadata };
  if (o.featureFlags && Object.keys(o.featureFlags).length > 0) v.feature_flags = { ...o.featureFlags };
  if (!o.noSystemAccount) v.system_account = server.systemAccount.name;
  v.slow_consumer_stats = { clients: st.slowConsumers, routes: 0, gateways: 0, leafs: 0 };
  v.stale_connection_stats = { clients: st.staleConnections, routes: 0, gateways: 0, leafs: 0 };
  return v;
}

/** The /varz cluster object from options when no route subsystem runs (e.g. a name but no port). */
function clusterFromOptions(server: Server): Record<string, unknown> {
  const c = server.options.cluster;
  if (!c) return {};
  const out: Record<string, unknown> = {};
  if (c.name) out.name = c.name;
  if (c.port !== undefined) {
    out.addr = c.host;
    out.cluster_port = c.port;
  }
  if (c.routes.length > 0) out.urls = c.routes.map((r) => r.replace(/^[a-z-]+:\/\/(.*@)?/, ''));
  return out;
}

/** varz `websocket` (nats-server WebsocketOptsVarz: empty fields are left out). */
function websocketVarz(server: Server): Record<string, unknown> {
  const w = server.options.websocket;
  const v: Record<string, unknown> = {};
  if (w === undefined || w.port === undefined) return v;
  if (w.host) v.host = w.host;
  const port = server.listeners.port('websocket') ?? w.port;
  if (port) v.port = port;
  if (w.advertise) v.advertise = w.advertise;
  if (w.noAuthUser) v.no_auth_user = w.noAuthUser;
  if (w.jwtCookie) v.jwt_cookie = w.jwtCookie;
  if (w.handshakeTimeoutMs > 0) v.handshake_timeout = nanos(w.handshakeTimeoutMs);
  if (w.authTimeoutSec) v.auth_timeout = w.authTimeoutSec;
  if (w.noTls) v.no_tls = true;
  if (w.sameOrigin) v.same_origin = true;
  if (w.allowedOrigins.length > 0) v.allowed_origins = [...w.allowedOrigins];
  if (w.compression) v.compression = true;
  return v;
}
