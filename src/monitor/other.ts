// The smaller endpoints: /routez (from the cluster subsystem when it runs),
// /gatewayz and /leafz (tsnats has neither yet: the empty shapes), the HTML
// index, and the debug endpoints.
import type { Server } from '../server/server.js';
import { SERVER_VERSION } from '../server/server.js';
import { goTime } from './format.js';
import { memoryUsage } from '../server/host-facts.js';
import { clusterSource } from './sources.js';
import { liveSection } from './live-page.js';

export function routez(server: Server, opts: { subscriptions?: boolean; subscriptionsDetail?: boolean }): Record<string, unknown> {
  const c = clusterSource(server);
  if (c) return c.routez(opts);
  return {
    server_id: server.serverId,
    server_name: server.serverName,
    now: goTime(Date.now()),
    num_routes: 0,
    routes: [],
  };
}

export function gatewayz(server: Server): Record<string, unknown> {
  return {
    server_id: server.serverId,
    now: goTime(Date.now()),
    outbound_gateways: {},
    inbound_gateways: {},
  };
}

/** What /leafz reads from the leaf-node subsystem (src/leaf), without importing it. */
interface LeafzSource {
  leafz(subs: boolean): Record<string, unknown>[];
}

export function leafz(server: Server, subs = false): Record<string, unknown> {
  const src = server.getSubsystem('leafnodes') as (LeafzSource & object) | undefined;
  const leafs = src !== undefined && typeof src.leafz === 'function' ? src.leafz(subs) : [];
  return {
    server_id: server.serverId,
    now: goTime(Date.now()),
    leafnodes: leafs.length,
    leafs,
  };
}

/** /debug/vars (Go expvar): command line and memory figures. */
export function expvarz(): Record<string, unknown> {
  const m = memoryUsage();
  return {
    cmdline: process.argv,
    memstats: {
      Alloc: m.heapUsed,
      TotalAlloc: m.heapUsed,
      Sys: m.rss,
      HeapAlloc: m.heapUsed,
      HeapSys: m.heapTotal,
      ExternalAlloc: m.external,
    },
  };
}

const LINKS: [string, string][] = [
  ['General', '/varz'],
  ['JetStream', '/jsz'],
  ['Connections', '/connz'],
  ['Accounts', '/accountz'],
  ['Account Stats', '/accstatz'],
  ['Subscriptions', '/subsz'],
  ['Routes', '/routez'],
  ['LeafNodes', '/leafz'],
  ['Gateways', '/gatewayz'],
  ['Raft Groups', '/raftz'],
  ['Health Probe', '/healthz'],
  ['Expvar', '/debug/vars'],
];

/** The HTML index page at the base path: nats-server's links (relative to it), then the live cluster view. */
export function rootPage(basePath: string): string {
  const link = (p: string): string => '.' + joinPath(basePath, p);
  const items = LINKS.map(([label, p], i) =>
    `\t<a href=${link(p)}${i === LINKS.length - 1 ? ' class=last' : ''}>${label}<span class="endpoint"> ${p}</span></a>`).join('\n');
  return `<html lang="en">
	<head>
	<link rel="shortcut icon" href="https://nats.io/favicon.ico">
	<style type="text/css">
		body { font-family: ui-sans-serif,system-ui,-apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif; font-size: 18; font-weight: light-bold; margin-left: 32px }
		a { display:block; margin-left: 7px; padding-bottom: 6px; color: rgb(72 72 92); text-decoration: none }
		a:hover { font-weight: 600; color: rgb(59 50 202) }
		a.help { display:inline; font-weight: 600; color: rgb(59 50 202); font-size: 20}
		a.last { padding-bottom: 16px }
		a.version { font-size: 14; font-weight: 400; width: 312px; text-align: right; margin-top: -2rem }
		.endpoint { font-size: 12px; color: #999; font-family: monospace; display: none }
		a:hover .endpoint { display: inline }
	</style>
	</head>
	<body>
	<h1>NATS</h1>
	<a href=https://github.com/nats-io/nats-server class='version'>v${SERVER_VERSION}</a>
	<br/>
${items}
	<a href=https://docs.nats.io/running-a-nats-service/nats_admin/monitoring class="help">Help</a>
	${liveSection(link)}
	</body>
</html>`;
}

/** Go path.Join of the base path and an endpoint ("/" base: the endpoint itself). */
export function joinPath(base: string, p: string): string {
  const joined = `${base}/${p}`.replace(/\/+/g, '/');
  return joined.length > 1 ? joined.replace(/\/$/, '') : joined;
}

/** nats-server normalizeBasePath: leading slash, cleaned, "" -> "/". */
export function normalizeBasePath(p: string): string {
  if (p === '') return '/';
  const withSlash = p.startsWith('/') ? p : '/' + p;
  const parts: string[] = [];
  for (const seg of withSlash.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') parts.pop();
    else parts.push(seg);
  }
  return '/' + parts.join('/');
}
