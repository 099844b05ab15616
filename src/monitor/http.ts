// The monitoring HTTP(S) listener: routes nats-server's endpoint paths (under
// http_base_path) to the JSON builders, counts requests per endpoint
// (/varz http_req_stats), answers bad query values with 400 and nats-server's
// text, unknown paths with Go's "404 page not found".
import type http from 'node:http';
import { secureContextOptions } from '../tls/settings.js';
import type { AddressInfo } from 'node:net';
import type { Server } from '../server/server.js';
import { goJson } from './format.js';
import { BadRequest, Query } from './query.js';
import { varz, type ProcessUsage } from './varz.js';
import { connz } from './connz.js';
import { subsz } from './subsz.js';
import { jsz, jszFilteredOut } from './jsz.js';
import { healthz } from './healthz.js';
import { metrics } from './metrics.js';
import { PROMETHEUS_CONTENT_TYPE } from './prom-text.js';
import { accountz, accstatz } from './accountz.js';
import { expvarz, gatewayz, joinPath, leafz, normalizeBasePath, rootPage, routez } from './other.js';

type Handler = (q: Query) => { status?: number; body: string; contentType?: string };

export class MonitorHttp {
  /** requests served per endpoint path, e.g. {"/varz": 3} */
  readonly httpReqStats: Record<string, number> = {};
  port = 0;
  private srv: http.Server | null = null;
  private readonly routes = new Map<string, Handler>();

  constructor(private readonly server: Server, private readonly usage: ProcessUsage) {
    this.defineRoutes();
  }

  private count(path: string): void {
    this.httpReqStats[path] = (this.httpReqStats[path] ?? 0) + 1;
  }

  private json(v: unknown): { body: string } {
    return { body: goJson(v) };
  }

  private defineRoutes(): void {
    const s = this.server;
    const r = this.routes;
    r.set('/varz', () => {
      this.count('/varz');
      return this.json(varz(s, this.usage, this.httpReqStats));
    });
    r.set('/connz', (q) => {
      const sort = q.get('sort');
      const auth = q.bool('auth');
      const { subs, detail } = q.subs();
      const offset = q.int('offset');
      const limit = q.int('limit');
      const cid = q.uint('cid');
      const state = q.state();
      this.count('/connz');
      return this.json(connz(s, {
        sort, auth, subscriptions: subs, subscriptionsDetail: detail, offset, limit, cid, state,
        user: q.get('user'), account: q.get('acc'),
      }));
    });
    const subszHandler: Handler = (q) => {
      this.count('/subsz');
      const subscriptions = q.bool('subs');
      const offset = q.int('offset');
      const limit = q.int('limit');
      return this.json(subsz(s, { subscriptions, offset, limit, test: q.get('test'), account: q.get('acc') }));
    };
    r.set('/subsz', subszHandler);
    r.set('/subscriptionsz', subszHandler);
    r.set('/routez', (q) => {
      this.count('/routez');
      const { subs, detail } = q.subs();
      return this.json(routez(s, { subscriptions: subs, subscriptionsDetail: detail }));
    });
    r.set('/gatewayz', (q) => {
      this.count('/gatewayz');
      q.bool('accs');
      q.bool('subs');
      return this.json(gatewayz(s));
    });
    r.set('/leafz', (q) => {
      this.count('/leafz');
      const sq = q.subs();
      return this.json(leafz(s, sq.subs || sq.detail));
    });
    r.set('/accountz', (q) => {
      this.count('/accountz');
      return this.json(accountz(s, q.get('acc')));
    });
    r.set('/accstatz', (q) => {
      this.count('/accstatz');
      return this.json(accstatz(s, { includeUnused: q.bool('unused') }));
    });
    r.set('/jsz', (q) => {
      this.count('/jsz');
      const accounts = q.bool('accounts');
      const streams = q.bool('streams');
      const consumers = q.bool('consumers');
      q.bool('direct-consumers');
      const config = q.bool('config');
      const offset = q.int('offset');
      const limit = q.int('limit');
      const leaderOnly = q.bool('leader-only');
      q.bool('raft');
      q.bool('stream-leader-only');
      const jo = { account: q.get('acc'), accounts, streams, consumers, config, offset, limit, leaderOnly };
      // nats-server: a non-leader asked for leader-only data answers 400 with the error text.
      if (jszFilteredOut(s, jo)) return { status: 400, body: 'filtered response: not leader', contentType: 'text/plain' };
      return this.json(jsz(s, jo));
    });
    r.set('/healthz', (q) => {
      this.count('/healthz');
      const opts = {
        jsEnabled: q.bool('js-enabled'),
        jsEnabledOnly: q.bool('js-enabled-only'),
        jsServerOnly: q.bool('js-server-only'),
        jsMetaOnly: q.bool('js-meta-only'),
        details: q.bool('details'),
        account: q.get('account'),
        stream: q.get('stream'),
        consumer: q.get('consumer'),
      };
      if (opts.jsEnabled) s.log.warn('Healthcheck: js-enabled deprecated, use js-enabled-only instead');
      const h = healthz(s, opts);
      if (h.error) s.log.warn(`Healthcheck failed: ${JSON.stringify(h.error)}`);
      else if (h.errors?.length) s.log.warn(`Healthcheck failed: ${h.errors.length} errors`);
      // The HTTP status carries the code; the JSON leaves it out.
      const { status_code, ...body } = h;
      return { status: status_code, body: goJson(body, false) };
    });
    r.set('/metrics', () => {
      this.count('/metrics');
      return { body: metrics(s, this.usage, this.httpReqStats), contentType: PROMETHEUS_CONTENT_TYPE };
    });
    r.set('/raftz', () => {
      this.count('/raftz');
      return this.json({});
    });
    r.set('/ipqueuesz', () => {
      this.count('/ipqueuesz');
      return this.json({});
    });
    r.set('/debug/vars', () => {
      this.count('/debug/vars');
      return this.json(expvarz());
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://monitor');
    } catch {
      this.send(res, 400, 'text/plain; charset=utf-8', '400 Bad Request');
      return;
    }
    const base = normalizeBasePath(this.server.options.httpBasePath);
    const path = url.pathname;
    if (path === base) {
      this.count('/');
      this.send(res, 200, 'text/html; charset=utf-8', rootPage(base === '/' ? '' : base));
      return;
    }
    let handler: Handler | undefined;
    for (const [endpoint, h] of this.routes) {
      if (joinPath(base, endpoint) === path) {
        handler = h;
        break;
      }
    }
    if (!handler) {
      this.send(res, 404, 'text/plain; charset=utf-8', '404 page not found\n');
      return;
    }
    try {
      const out = handler(new Query(url.searchParams));
      this.send(res, out.status ?? 200, out.contentType ?? 'application/json', out.body);
    } catch (e) {
      if (e instanceof BadRequest) {
        this.send(res, 400, 'text/plain; charset=utf-8', e.message);
        return;
      }
      this.server.log.error(`Error answering monitoring request ${path}: ${(e as Error).stack ?? e}`);
      this.send(res, 500, 'text/plain; charset=utf-8', 'internal error');
    }
  }

  private send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
    res.writeHead(status, {
      'Content-Type': contentType,
      'Access-Control-Allow-Origin': '*',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  }

  /** Listen on http_port, or https_port with the server's TLS certificate. */
  async start(): Promise<void> {
    const o = this.server.options;
    const secure = o.httpPort === undefined && o.httpsPort !== undefined;
    const port = secure ? o.httpsPort! : o.httpPort!;
    const host = o.httpHost ?? o.host;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => this.handle(req, res);
    // Imported here rather than at the top: a server without monitoring ports never loads node:http(s).
    const srv = secure
      // The client port's certificate and ciphers; no client certificate is asked for (as nats-server).
      ? (await import('node:https')).createServer(secureContextOptions(o.tls!), handler)
      : (await import('node:http')).createServer(handler);
    // A slow client must not hold a request open forever.
    srv.headersTimeout = 5000;
    srv.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen({ host, port: port < 0 ? 0 : port }, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    srv.on('error', (e) => this.server.log.error(`Monitoring listener error: ${e.message}`));
    this.srv = srv;
    this.port = (srv.address() as AddressInfo).port;
    const scheme = secure ? 'https' : 'http';
    this.server.registerListener('monitoring', scheme, host, this.port);
    this.server.log.info(`Starting ${scheme} monitor on ${host.includes(':') ? `[${host}]` : host}:${this.port}`);
  }

  async stop(): Promise<void> {
    const srv = this.srv;
    if (!srv) return;
    this.srv = null;
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });
  }
}
