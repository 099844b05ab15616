// JSON shapes of the route INFO and CONNECT protocols (nats-server: the Info struct in
// server/server.go, serialized by generateInfoJSON; the route connectInfo struct sent by
// sendRouteConnect in server/route.go).
// Field names and their order follow nats-server's Info / connectInfo structs so a 2.9.10 peer
// (and anyone diffing captures) sees the same bytes; empty optional fields are left out like Go's
// `omitempty`.

export interface SubjectPermission {
  allow?: string[];
  deny?: string[];
}

/** Route INFO as sent and received between servers. */
export interface RouteInfo {
  server_id: string;
  server_name: string;
  version: string;
  proto: number;
  git_commit?: string;
  go: string;
  host: string;
  port: number;
  headers: boolean;
  auth_required?: boolean;
  tls_required?: boolean;
  tls_verify?: boolean;
  tls_available?: boolean;
  max_payload: number;
  jetstream?: boolean;
  /** nats-route://host:port/ — set with cluster.advertise, or filled in when gossiping a peer */
  ip?: string;
  nonce?: string;
  cluster?: string;
  cluster_dynamic?: boolean;
  domain?: string;
  connect_urls?: string[];
  ws_connect_urls?: string[];
  ldm?: boolean;
  import?: SubjectPermission;
  export?: SubjectPermission;
  lnoc?: boolean;
  /** gateway/leafnode fields a peer may send; kept so a forwarded INFO loses nothing */
  gateway?: string;
  gateway_url?: string;
  leafnode_urls?: string[];
  /** newer servers: pooling and compression; their presence tells us the peer is newer */
  route_pool_size?: number;
  route_pool_idx?: number;
  route_account?: string;
  compression?: string;
  gossip_mode?: number;
  lnocu?: boolean;
}

/** Field order of nats-server's Info struct (the parts routes use). */
const INFO_FIELDS: (keyof RouteInfo)[] = [
  'server_id', 'server_name', 'version', 'proto', 'git_commit', 'go', 'host', 'port', 'headers',
  'auth_required', 'tls_required', 'tls_verify', 'tls_available', 'max_payload', 'jetstream', 'ip',
  'nonce', 'cluster', 'cluster_dynamic', 'domain', 'connect_urls', 'ws_connect_urls', 'ldm',
  'import', 'export', 'lnoc', 'lnocu', 'gateway', 'gateway_url', 'leafnode_urls',
  'route_pool_size', 'route_pool_idx', 'route_account', 'compression', 'gossip_mode',
];

/** Fields Go always writes (no omitempty). */
const ALWAYS: ReadonlySet<string> = new Set([
  'server_id', 'server_name', 'version', 'proto', 'go', 'host', 'port', 'headers', 'max_payload',
]);

function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '' || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  return false;
}

/** Serialize a route INFO the way nats-server does (Go field order, omitempty). */
export function routeInfoJson(info: RouteInfo): string {
  const out: Record<string, unknown> = {};
  for (const k of INFO_FIELDS) {
    const v = info[k];
    if (ALWAYS.has(k)) out[k] = v ?? (k === 'headers' ? false : k === 'proto' || k === 'port' || k === 'max_payload' ? 0 : '');
    else if (!isEmpty(v)) out[k] = v;
  }
  return JSON.stringify(out);
}

/** Parse a route INFO; throws on invalid JSON or a missing server_id. */
export function parseRouteInfo(json: string): RouteInfo {
  const v = JSON.parse(json) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('route INFO is not a JSON object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string => (typeof o[k] === 'string' ? (o[k] as string) : '');
  const num = (k: string): number => (typeof o[k] === 'number' ? (o[k] as number) : 0);
  const bool = (k: string): boolean => o[k] === true;
  const strs = (k: string): string[] | undefined =>
    Array.isArray(o[k]) ? (o[k] as unknown[]).filter((x): x is string => typeof x === 'string') : undefined;
  const perm = (k: string): SubjectPermission | undefined => {
    const p = o[k];
    if (typeof p !== 'object' || p === null) return undefined;
    const pp = p as Record<string, unknown>;
    const list = (x: unknown): string[] | undefined =>
      Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : undefined;
    return { allow: list(pp.allow), deny: list(pp.deny) };
  };
  const info: RouteInfo = {
    server_id: str('server_id'),
    server_name: str('server_name'),
    version: str('version'),
    proto: num('proto'),
    go: str('go'),
    host: str('host'),
    port: num('port'),
    headers: bool('headers'),
    max_payload: num('max_payload'),
  };
  const opt = info as unknown as Record<string, unknown>;
  for (const k of ['git_commit', 'ip', 'nonce', 'cluster', 'domain', 'gateway', 'gateway_url', 'route_account', 'compression']) {
    if (typeof o[k] === 'string' && o[k] !== '') opt[k] = o[k];
  }
  for (const k of ['auth_required', 'tls_required', 'tls_verify', 'tls_available', 'jetstream', 'cluster_dynamic', 'ldm', 'lnoc', 'lnocu']) {
    if (bool(k)) opt[k] = true;
  }
  for (const k of ['connect_urls', 'ws_connect_urls', 'leafnode_urls']) {
    const a = strs(k);
    if (a !== undefined) opt[k] = a;
  }
  for (const k of ['route_pool_size', 'route_pool_idx', 'gossip_mode']) {
    if (typeof o[k] === 'number') opt[k] = o[k];
  }
  const imp = perm('import');
  if (imp) info.import = imp;
  const exp = perm('export');
  if (exp) info.export = exp;
  if (info.server_id === '') throw new Error('route INFO without server_id');
  return info;
}

/** Route CONNECT (sent by the dialling side). */
export interface RouteConnect {
  echo: boolean;
  verbose: boolean;
  pedantic: boolean;
  user?: string;
  pass?: string;
  tls_required: boolean;
  headers: boolean;
  /** the dialler's server_id (not its name) */
  name: string;
  cluster: string;
  cluster_dynamic?: boolean;
  lnoc?: boolean;
  gateway?: string;
  /** present only when a client connects to the route port by mistake */
  lang?: string;
}

/** Serialize a route CONNECT in nats-server's field order. */
export function routeConnectJson(c: RouteConnect): string {
  const out: Record<string, unknown> = {
    echo: c.echo,
    verbose: c.verbose,
    pedantic: c.pedantic,
  };
  if (c.user) out.user = c.user;
  if (c.pass) out.pass = c.pass;
  out.tls_required = c.tls_required;
  out.headers = c.headers;
  out.name = c.name;
  out.cluster = c.cluster;
  if (c.cluster_dynamic) out.cluster_dynamic = true;
  if (c.lnoc) out.lnoc = true;
  if (c.gateway) out.gateway = c.gateway;
  return JSON.stringify(out);
}

export function parseRouteConnect(json: string): RouteConnect {
  const v = JSON.parse(json) as unknown;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('route CONNECT is not a JSON object');
  const o = v as Record<string, unknown>;
  const str = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  return {
    echo: o.echo !== false,
    verbose: o.verbose === true,
    pedantic: o.pedantic === true,
    user: str('user'),
    pass: str('pass'),
    tls_required: o.tls_required === true,
    headers: o.headers === true,
    name: str('name') ?? '',
    cluster: str('cluster') ?? '',
    cluster_dynamic: o.cluster_dynamic === true,
    lnoc: o.lnoc === true,
    gateway: str('gateway'),
    lang: str('lang'),
  };
}
