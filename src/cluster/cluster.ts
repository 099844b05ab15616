// The cluster subsystem: the route listener, solicited (configured) and implicit
// (gossiped) routes, the handshake (CONNECT/INFO), duplicate resolution, reconnects,
// interest propagation (RS+/RS-) and the client connect_urls learned from peers.
// Behaviour follows nats-server 2.9.10 (server/route.go: connectToRoute, processRouteInfo,
// addRoute, forwardNewRouteInfoToKnownServers), one connection per remote server,
// account names in every protocol line.
import { encodeName } from '../protocol/names.js';
import { listenBacklog } from '../server/listeners.js';
import { passwordMatches } from '../server/options-auth.js';
import net from 'node:net';
import { buildTlsSettings, type TlsSettings } from '../tls/settings.js';
import { acceptRouteTls, dialRouteTls } from '../tls/route-tls.js';
import { interfaces } from '../server/host-facts.js';
import { dnsPromises } from '../core/lazy-modules.js';
import { randomBytes } from 'node:crypto';
import { nuid } from '@nats-io/nuid';
import type { ClusterOptions, Options, PermissionRule } from '../config/options.js';
import type { Account } from '../core/account.js';
import { permits } from '../core/subject.js';
import { countMsgIn, countMsgOut } from '../core/msg-counters.js';
import { FlushQueue } from '../server/flush-queue.js';
import type { LinkOutput } from './link-output.js';
import { ClientKind, type Subscription } from '../core/types.js';
import { SERVER_VERSION, RUNTIME_VERSION, type RouteBridge, type Server, type Subsystem } from '../server/server.js';
import { encodeConnectLine, encodeInfoLine, encodeRemoteSub, encodeRemoteUnsub } from '../protocol/route-encoder.js';
import {
  type RouteConnect, parseRouteConnect, parseRouteInfo, routeConnectJson, routeInfoJson,
  type RouteInfo, type SubjectPermission,
} from './route-info.js';
import {
  RouteConnection, RouteCloseReason, type RouteHost, type RouteLimits, type RouteType,
} from './route-conn.js';
import {
  RefCountedUrlSet, hostPortKey, parseRouteUrl, routeIpUrl, routeUrlKey, type RouteUrl,
} from './route-url.js';
import { goTime, natsUptime, rttString } from '../monitor/format.js';
import {
  type RoutezJson, type RoutezOptions, type RouteInfoJson, type RouteSubDetail, type VarzClusterJson,
} from './routez.js';

/** nats-server const.go route timings. */
const ROUTE_DIAL_TIMEOUT_MS = 1000;
const ROUTE_CONNECT_DELAY_MS = 1000;
const ROUTE_CONNECT_MAX_DELAY_MS = 30_000;
const ROUTE_RECONNECT_DELAY_MS = 1000;
/** Route protocol version 2: account names in every line (RouteProtoV2). */
const ROUTE_PROTO = 2;
const DEFAULT_ROUTE_AUTH_TIMEOUT_MS = 2000;

function toSubjectPermission(r: PermissionRule | undefined): SubjectPermission | undefined {
  if (r === undefined) return undefined;
  const out: SubjectPermission = {};
  if (r.allow && r.allow.length > 0) out.allow = [...r.allow];
  if (r.deny && r.deny.length > 0) out.deny = [...r.deny];
  return out.allow || out.deny ? out : undefined;
}

function ignoreError(): void {
  // handled by the dial promise or the route connection
}

function localInterfaceAddrs(): Set<string> {
  const out = new Set<string>(['127.0.0.1', '::1', '0.0.0.0', '::']);
  for (const list of Object.values(interfaces())) {
    for (const a of list ?? []) out.add(a.address.toLowerCase());
  }
  return out;
}

/** A server of the cluster we have a registered route to. */
export interface ClusterPeer {
  /** server_id */
  id: string;
  /** server_name (the raft peer id is a hash of it) */
  name: string;
  /** the peer's route INFO said jetstream:true */
  jetstream: boolean;
  cluster: string;
  domain?: string;
}

export type PeerListener = (event: 'added' | 'removed', peer: ClusterPeer) => void;

export class Cluster implements Subsystem, RouteBridge, RouteHost {
  readonly name = 'cluster';
  private server!: Server;
  private readonly opts: ClusterOptions;
  clusterName: string;
  /** no name configured: ours was generated and may be replaced by a peer's */
  dynamicName: boolean;
  /** actual route listen port */
  port = 0;
  /** routes cut as slow consumers (varz slow_consumer_stats.routes) */
  slowConsumers = 0;
  limits!: RouteLimits;

  private listener: net.Server | null = null;
  /** registered routes by remote server_id */
  private readonly remotes = new Map<string, RouteConnection>();
  /** every open route connection, registered or not */
  private readonly conns = new Set<RouteConnection>();
  private readonly configured: RouteUrl[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly dialSockets = new Set<net.Socket>();
  /** accepted route sockets still in the TLS handshake */
  private readonly handshaking = new Set<net.Socket>();
  /** cluster `tls` block: every route is TLS (null: plain TCP) */
  private tls: TlsSettings | null = null;
  private readonly peerClientUrls = new RefCountedUrlSet();
  private readonly selfAddrs = localInterfaceAddrs();
  private stopped = false;
  private readonly peerListeners: PeerListener[] = [];
  private readonly flushList = new FlushQueue<LinkOutput>();

  constructor(options: Options) {
    if (options.cluster === undefined) throw new Error('cluster options missing');
    this.opts = options.cluster;
    this.dynamicName = this.opts.name === undefined || this.opts.name === '';
    this.clusterName = this.dynamicName ? nuid.next() : this.opts.name!;
  }

  get serverId(): string {
    return this.server.serverId;
  }

  // ---- Subsystem ----

  async start(server: Server): Promise<void> {
    this.server = server;
    const o = server.options;
    const c = this.opts;
    this.limits = {
      pingIntervalMs: c.pingIntervalMs ?? o.pingIntervalMs,
      pingMax: c.pingMax ?? o.pingMax,
      writeDeadlineMs: c.writeDeadlineMs ?? o.writeDeadlineMs,
      maxPendingBytes: o.maxPendingBytes,
      maxControlLineBytes: o.maxControlLineBytes,
      maxPayloadBytes: o.maxPayloadBytes,
    };
    for (const raw of c.routes) {
      try {
        this.configured.push(parseRouteUrl(raw));
      } catch (e) {
        server.log.error(`Error parsing route URL: ${(e as Error).message}`);
      }
    }
    this.tls = c.tls !== undefined ? buildTlsSettings(c.tls) : null;
    if (c.poolSize !== undefined && c.poolSize > 1) {
      server.log.debug('Route pooling is not used: one connection per remote server (nats-server 2.9 behaviour)');
    }

    server.log.info(`Cluster name is ${this.clusterName}`);
    if (this.dynamicName) server.log.warn('Cluster name was dynamically generated, consider setting one');
    const host = c.host || '0.0.0.0';
    const listener = net.createServer({ noDelay: true });
    listener.on('connection', (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error) => reject(new Error(`Error listening on router port: ${c.port} - ${err.message}`));
      listener.once('error', onErr);
      listener.listen({ host, port: c.port === undefined || c.port < 0 ? 0 : c.port, exclusive: true, backlog: listenBacklog() }, () => {
        listener.off('error', onErr);
        resolve();
      });
    });
    listener.on('error', (err) => server.log.error(`Error accepting route connection: ${err.message}`));
    this.listener = listener;
    this.port = (listener.address() as net.AddressInfo).port;
    server.log.info(`Listening for route connections on ${hostPortKey(host, this.port)}`);
    server.registerListener('cluster', 'nats', host, this.port);
    // Clients of a clustered server see the cluster name in INFO (nats-server s.info.Cluster).
    server.setInfoField('cluster', this.clusterName);
    server.setRouteBridge(this);

    for (const u of this.configured) void this.connectToRoute(u, 'explicit', true);
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.server.setRouteBridge(null);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.dialSockets) s.destroy();
    this.dialSockets.clear();
    for (const s of this.handshaking) s.destroy();
    this.handshaking.clear();
    const listener = this.listener;
    this.listener = null;
    const closed = listener !== null ? new Promise<void>((r) => listener.close(() => r())) : Promise.resolve();
    for (const conn of [...this.conns]) {
      conn.noReconnect = true;
      conn.close(RouteCloseReason.SERVER_SHUTDOWN, true);
    }
    await closed;
  }

  // ---- RouteHost ----

  log(level: 'info' | 'warn' | 'error' | 'debug' | 'trace', text: string): void {
    const l = this.server.log;
    switch (level) {
      case 'info': l.info(text); break;
      case 'warn': l.warn(text); break;
      case 'error': l.error(text); break;
      case 'debug': l.debug(text); break;
      case 'trace': l.trace(text); break;
    }
  }

  lookupAccount(name: string): Account | undefined {
    return this.server.lookupAccount(name);
  }

  canImport(subject: string): boolean {
    return permits(this.opts.permissions?.import, subject);
  }

  canExport(subject: string): boolean {
    return permits(this.opts.permissions?.export, subject);
  }

  scheduleFlush(out: LinkOutput): void {
    this.flushList.add(out);
  }

  /** Write every route's queued output now instead of at the end of the turn. */
  flushRoutes(): void {
    this.flushList.flushNow();
  }

  countIn(bytes: number): void {
    countMsgIn(this.server.stats, bytes);
  }

  countOut(bytes: number): void {
    countMsgOut(this.server.stats, bytes);
  }

  countSlowConsumer(): void {
    this.server.stats.slowConsumers++;
    this.slowConsumers++;
  }

  // ---- INFO / CONNECT we send ----

  private localRouteInfo(): RouteInfo {
    const s = this.server;
    const o = s.options;
    const c = this.opts;
    const info: RouteInfo = {
      server_id: s.serverId,
      server_name: s.serverName,
      version: SERVER_VERSION,
      proto: ROUTE_PROTO,
      go: RUNTIME_VERSION,
      host: c.host || '0.0.0.0',
      port: this.port,
      headers: !o.noHeaderSupport,
      max_payload: o.maxPayloadBytes,
      lnoc: true,
    };
    if (c.authorization?.user) info.auth_required = true;
    // nats-server: a cluster tls block makes routes both require and verify TLS (in INFO).
    if (c.tls !== undefined) info.tls_required = info.tls_verify = true;
    if (o.jetstream.enabled) info.jetstream = true;
    if (c.advertise) {
      const adv = parseRouteUrl(c.advertise.includes(':') ? c.advertise : `${c.advertise}:${this.port}`);
      info.host = adv.host;
      info.port = adv.port;
      info.ip = routeIpUrl(adv.host, adv.port);
    }
    info.cluster = this.clusterName;
    if (this.dynamicName) info.cluster_dynamic = true;
    if (o.jetstream.domain) info.domain = o.jetstream.domain;
    if (!c.noAdvertise) {
      const urls = s.clientConnectUrls();
      if (urls.length > 0) info.connect_urls = urls;
    }
    const imp = toSubjectPermission(c.permissions?.import);
    if (imp) info.import = imp;
    const exp = toSubjectPermission(c.permissions?.export);
    if (exp) info.export = exp;
    return info;
  }

  /** The first INFO of a connection (with a fresh nonce; `INFO {..} \r\n`). */
  private initialInfoLine(): string {
    const info = this.localRouteInfo();
    info.nonce = randomBytes(11).toString('base64url');
    return encodeInfoLine(routeInfoJson(info), true);
  }

  private connectLine(url: RouteUrl): string {
    return encodeConnectLine(routeConnectJson({
      echo: true,
      verbose: false,
      pedantic: false,
      user: url.user,
      pass: url.pass,
      tls_required: this.tls !== null,
      headers: !this.server.options.noHeaderSupport,
      name: this.server.serverId,
      cluster: this.clusterName,
      cluster_dynamic: this.dynamicName,
      lnoc: true,
    }));
  }

  // ---- connections ----

  private accept(socket: net.Socket): void {
    if (this.stopped || !this.server.running || this.server.shuttingDown) {
      socket.destroy();
      return;
    }
    const settings = this.tls;
    if (settings === null) {
      this.createRoute(socket, undefined);
      return;
    }
    this.handshaking.add(socket);
    socket.on('error', ignoreError);
    acceptRouteTls(socket, settings).then((secure) => {
      this.handshaking.delete(socket);
      if (this.stopped) secure.destroy();
      else this.createRoute(secure, undefined);
    }, (e: Error) => {
      this.handshaking.delete(socket);
      const who = `${(socket.remoteAddress ?? '').replace(/^::ffff:/, '')}:${socket.remotePort ?? 0}`;
      this.log('error', `${who} - TLS route handshake error: ${e.message}`);
    });
  }

  private createRoute(socket: net.Socket, solicit: { url: RouteUrl; routeType: RouteType } | undefined): RouteConnection {
    const conn = new RouteConnection(this.server.nextCid(), socket, this, solicit);
    this.conns.add(conn);
    const opening = solicit !== undefined ? this.connectLine(solicit.url) + this.initialInfoLine() : this.initialInfoLine();
    const auth = this.opts.authorization;
    // timeout 0 (or unset) means the default, as nats-server: authorization is never switched off by it.
    const timeoutSec = auth?.timeoutSec ? auth.timeoutSec : DEFAULT_ROUTE_AUTH_TIMEOUT_MS / 1000;
    conn.start(opening, auth?.user ? Math.round(timeoutSec * 1000) : 0);
    this.log('info', `${conn.label()} - Route connection created`);
    return conn;
  }

  /** Is `url` one of the configured routes (by host:port)? */
  private isConfigured(hostPort: string): boolean {
    return this.configured.some((u) => routeUrlKey(u) === hostPort);
  }

  /**
   * Dial a route until connected (explicit routes: forever; implicit: 1 + connect_retries
   * attempts). Addresses that are this server's own route listener are skipped.
   */
  private async connectToRoute(url: RouteUrl, routeType: RouteType, firstConnect: boolean): Promise<void> {
    const explicit = routeType === 'explicit';
    let attempts = 0;
    let delayMs = ROUTE_CONNECT_DELAY_MS;
    while (!this.stopped) {
      let address: string | null;
      let error: Error | null = null;
      try {
        address = await this.pickAddress(url);
      } catch (e) {
        address = '';
        error = e as Error;
      }
      if (address === null) return; // only our own addresses: nothing to dial
      let socket: net.Socket | null = null;
      if (error === null) {
        try {
          socket = await this.dial(address, url.port);
          if (this.tls !== null) {
            const raw = socket;
            socket = null;
            this.dialSockets.add(raw);
            try {
              socket = await dialRouteTls(raw, this.tls, url.host);
            } catch (e) {
              throw new Error(`TLS route handshake error: ${(e as Error).message}`);
            } finally {
              this.dialSockets.delete(raw);
            }
          }
        } catch (e) {
          error = e as Error;
        }
      }
      if (this.stopped) {
        socket?.destroy();
        return;
      }
      if (socket !== null) {
        this.createRoute(socket, { url, routeType });
        return;
      }
      attempts++;
      const text = `Error trying to connect to route (attempt ${attempts}): ${error?.message ?? 'unknown error'}`;
      // nats-server reports the first failure of an initial connect (then every 3600th) and every
      // failure of a reconnect.
      if (!firstConnect || attempts === 1 || attempts % 3600 === 0) this.log('error', text);
      else this.log('debug', text);
      if (!explicit) {
        const retries = this.opts.connectRetries;
        if (retries <= 0 || attempts > retries) return;
      }
      await this.sleep(delayMs);
      if (this.opts.connectBackoff) delayMs = Math.min(delayMs * 2, ROUTE_CONNECT_MAX_DELAY_MS);
    }
  }

  private async pickAddress(url: RouteUrl): Promise<string | null> {
    let addrs: string[];
    if (net.isIP(url.host) !== 0) addrs = [url.host];
    else addrs = (await dnsPromises().lookup(url.host, { all: true })).map((a) => a.address);
    const candidates = addrs.filter((a) => !(url.port === this.port && this.selfAddrs.has(a.toLowerCase())));
    if (candidates.length === 0) return null;
    return candidates[Math.floor(Math.random() * candidates.length)]!;
  }

  private dial(host: string, port: number): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      // Errors after the dial settled (a reset before the route takes the socket over, a late
      // error after a timeout) must never go unhandled; the route adds its own handler.
      socket.on('error', ignoreError);
      this.dialSockets.add(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        done(new Error(`dial tcp ${hostPortKey(host, port)}: i/o timeout`));
      }, ROUTE_DIAL_TIMEOUT_MS);
      const done = (err: Error | null): void => {
        clearTimeout(timer);
        this.dialSockets.delete(socket);
        socket.off('connect', onConnect);
        socket.off('error', onError);
        if (err !== null) reject(err);
        else resolve(socket);
      };
      const onConnect = (): void => done(null);
      const onError = (err: Error): void => {
        socket.destroy();
        const code = (err as NodeJS.ErrnoException).code;
        done(new Error(`dial tcp ${hostPortKey(host, port)}: ${code === 'ECONNREFUSED' ? 'connect: connection refused' : err.message}`));
      };
      socket.once('connect', onConnect);
      socket.once('error', onError);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private reconnectToRoute(url: RouteUrl, routeType: RouteType): void {
    // Random delay so two servers that closed each other's duplicate do not collide again.
    let delay = Math.floor(Math.random() * 100);
    if (routeType === 'explicit') delay += ROUTE_RECONNECT_DELAY_MS;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) void this.connectToRoute(url, routeType, false);
    }, delay);
    this.timers.add(t);
  }

  // ---- handshake ----

  routeConnect(conn: RouteConnection, json: string): void {
    let c: RouteConnect;
    try {
      c = parseRouteConnect(json);
    } catch (e) {
      this.log('error', `${conn.label()} - Router parser ERROR: invalid CONNECT: ${(e as Error).message}`);
      conn.close(RouteCloseReason.PROTOCOL_VIOLATION, true);
      return;
    }
    // nats-server checks the credentials before anything else of the CONNECT (processConnect),
    // then what kind of peer it is (processRouteConnect).
    const auth = this.opts.authorization;
    if (conn.didSolicit || !auth?.user) return this.routeConnectAuthorized(conn, c, true);
    // isRouterAuthorized: the user by name, the password by comparePasswords
    // (a bcrypt hash checked off the loop, a plain one in constant time)
    const ok = c.user === auth.user && passwordMatches(c.pass ?? '', auth.password ?? '');
    if (!(ok instanceof Promise)) return this.routeConnectAuthorized(conn, c, ok);
    conn.holdInput();
    void ok.then((yes) => {
      if (conn.closed) return;
      this.routeConnectAuthorized(conn, c, yes);
      conn.releaseInput();
    });
  }

  /** The rest of a route CONNECT once its credentials are known to be right (or wrong). */
  private routeConnectAuthorized(conn: RouteConnection, c: RouteConnect, authorized: boolean): void {
    if (!authorized) {
      this.log('error', `${conn.label()} - authentication error - User "${c.user ?? ''}"`);
      conn.sendErrAndClose('Authorization Violation', RouteCloseReason.AUTH_VIOLATION);
      return;
    }
    if (c.lang !== undefined && c.lang !== '') {
      this.log('error', `${conn.label()} - attempted to connect to route port`);
      conn.sendErrAndClose('attempted to connect to route port', RouteCloseReason.WRONG_PORT);
      return;
    }
    if (c.gateway !== undefined && c.gateway !== '') {
      const text = `Rejecting connection from gateway "${c.gateway}" on the Route port`;
      this.log('error', `${conn.label()} - ${text}`);
      conn.sendErrAndClose(text, RouteCloseReason.WRONG_GATEWAY);
      return;
    }
    if (c.cluster !== this.clusterName) {
      let reject = true;
      if (this.dynamicName && (!c.cluster_dynamic || this.clusterName < c.cluster)) {
        if (!c.cluster_dynamic) this.dynamicName = false;
        this.setClusterName(c.cluster);
        this.removeAllRoutesExcept(conn);
        reject = false;
      }
      if (reject) {
        const text = `Rejecting connection, cluster name "${c.cluster}" does not match "${this.clusterName}"`;
        this.log('error', `${conn.label()} - ${text}`);
        conn.sendErrAndClose(text, RouteCloseReason.CLUSTER_NAME_CONFLICT);
        return;
      }
    }
    conn.connectReceived = true;
    if (conn.remoteId === '') conn.remoteId = c.name;
    conn.headers = !this.server.options.noHeaderSupport && c.headers;
  }

  routeInfo(conn: RouteConnection, json: string): void {
    if (conn.closed) return;
    let info: RouteInfo;
    try {
      info = parseRouteInfo(json);
    } catch (e) {
      this.log('error', `${conn.label()} - Router parser ERROR: invalid INFO: ${(e as Error).message}`);
      conn.close(RouteCloseReason.PROTOCOL_VIOLATION, true);
      return;
    }
    const server = this.server;
    if (info.server_id === server.serverId) {
      // We dialled ourselves (e.g. through an advertised address).
      conn.remoteId = info.server_id;
      conn.noReconnect = true;
      conn.close(RouteCloseReason.DUPLICATE_ROUTE, true);
      return;
    }
    if (info.cluster !== undefined && info.cluster !== this.clusterName) {
      if (this.dynamicName && (!info.cluster_dynamic || this.clusterName < info.cluster)) {
        this.setClusterName(info.cluster);
        this.removeAllRoutesExcept(conn);
      } else {
        this.log('error', `${conn.label()} - Cluster name "${info.cluster}" does not match "${this.clusterName}"`);
        conn.close(RouteCloseReason.CLUSTER_NAME_CONFLICT, true);
        return;
      }
    }

    if (conn.infoReceived) {
      if (conn.remoteId !== '' && conn.remoteId !== info.server_id) {
        // A peer tells us about another server of the cluster (gossip).
        this.processImplicitRoute(info);
        return;
      }
      if (info.ldm && conn.registered) {
        // The peer entered lame duck mode: stop advertising its client URLs.
        this.removeConnectUrls(conn.connectUrls);
        conn.connectUrls = [];
      }
      if (conn.remoteInfo !== null) {
        conn.remoteInfo.import = info.import;
        conn.remoteInfo.export = info.export;
      }
      return;
    }

    if (!conn.didSolicit && info.server_name === server.serverName) {
      this.log('error', `${conn.label()} - Remote server has a duplicate name: "${info.server_name}"`);
      conn.close(RouteCloseReason.DUPLICATE_SERVER_NAME, true);
      return;
    }

    conn.infoReceived = true;
    conn.remoteInfo = info;
    conn.remoteId = info.server_id;
    conn.remoteName = info.server_name;
    conn.headers = !server.options.noHeaderSupport && info.headers;
    if (conn.url === undefined) {
      try {
        conn.url = parseRouteUrl(`nats-route://${hostPortKey(info.host, info.port)}/`);
      } catch {
        this.log('error', `${conn.label()} - Error parsing URL from INFO`);
        conn.close(RouteCloseReason.PARSE_ERROR, true);
        return;
      }
    }
    if (info.ip === undefined || info.ip === '') info.ip = routeIpUrl(conn.ip || info.host, info.port);
    this.addRoute(conn, info);
  }

  /** Register a route whose INFO arrived, or resolve it as a duplicate. */
  private addRoute(conn: RouteConnection, info: RouteInfo): void {
    if (this.stopped) {
      conn.noReconnect = true;
      conn.close(RouteCloseReason.SERVER_SHUTDOWN, true);
      return;
    }
    const existing = this.remotes.get(info.server_id);
    if (existing !== undefined && existing !== conn) {
      // Both servers dialled each other: keep the registered connection. If the duplicate was
      // ours, the survivor takes over its URL so a configured route keeps being re-dialled.
      if (conn.didSolicit && !existing.didSolicit) {
        existing.didSolicit = true;
        existing.url = conn.url;
      }
      if (conn.routeType === 'explicit') existing.routeType = 'explicit';
      existing.retry = true;
      this.log('debug', `${conn.label()} - Detected duplicate remote route "${info.server_id}"`);
      conn.close(RouteCloseReason.DUPLICATE_ROUTE, true);
      return;
    }
    this.remotes.set(info.server_id, conn);
    conn.registered = true;
    this.log('debug', `${conn.label()} - Registering remote route "${info.server_id}"`);
    this.sendSubsToRoute(conn);
    if (this.remotes.size > 1) this.forwardNewRouteInfo(info);
    if (!this.opts.noAdvertise && info.connect_urls !== undefined && info.connect_urls.length > 0) {
      conn.connectUrls = [...info.connect_urls];
      this.addConnectUrls(conn.connectUrls);
    }
    this.notifyPeer('added', conn);
  }

  private peerOf(conn: RouteConnection): ClusterPeer {
    const info = conn.remoteInfo;
    const p: ClusterPeer = { id: conn.remoteId, name: conn.remoteName, jetstream: info?.jetstream === true, cluster: info?.cluster ?? this.clusterName };
    if (info?.domain) p.domain = info.domain;
    return p;
  }

  private notifyPeer(event: 'added' | 'removed', conn: RouteConnection): void {
    if (this.peerListeners.length === 0) return;
    const peer = this.peerOf(conn);
    for (const l of [...this.peerListeners]) {
      try {
        l(event, peer);
      } catch (e) {
        this.log('error', `cluster peer listener failed: ${(e as Error).stack ?? e}`);
      }
    }
  }

  /** Be told when a server joins (route registered) or leaves (its last route closed). */
  onPeerChange(listener: PeerListener): () => void {
    this.peerListeners.push(listener);
    return () => {
      const i = this.peerListeners.indexOf(listener);
      if (i >= 0) this.peerListeners.splice(i, 1);
    };
  }

  /** Tell every other route about a new peer so they connect to it (full mesh from one seed). */
  private forwardNewRouteInfo(info: RouteInfo): void {
    const fwd: RouteInfo = { ...info };
    delete fwd.nonce;
    const line = Buffer.from(encodeInfoLine(routeInfoJson(fwd), false));
    for (const [id, r] of this.remotes) {
      if (id !== info.server_id) r.enqueue(line);
    }
  }

  private processImplicitRoute(info: RouteInfo): void {
    if (this.stopped || info.server_id === this.server.serverId) return;
    if (this.remotes.has(info.server_id)) return;
    if (this.isConfigured(hostPortKey(info.host, info.port))) return;
    let url: RouteUrl;
    try {
      url = parseRouteUrl(info.ip ?? `nats-route://${hostPortKey(info.host, info.port)}/`);
    } catch {
      this.log('error', `Error parsing URL from INFO: ${info.ip}`);
      return;
    }
    if (this.isConfigured(routeUrlKey(url))) return;
    const auth = this.opts.authorization;
    if (info.auth_required && auth?.user) url = { ...url, user: auth.user, pass: auth.password };
    void this.connectToRoute(url, 'implicit', true);
  }

  /** Send every account's local interest to a freshly registered route (one RS+ per key). */
  private sendSubsToRoute(conn: RouteConnection): void {
    let lines = '';
    for (const acc of this.server.allAccounts()) {
      for (const e of acc.localInterestSnapshot()) {
        if (!this.canImport(e.subject)) continue;
        lines += encodeRemoteSub(acc.name, e.subject, e.queue, e.weight);
      }
    }
    if (lines.length > 0) conn.enqueueString(lines);
  }

  private setClusterName(name: string): void {
    this.log('info', `Cluster name updated to ${name}`);
    this.clusterName = name;
    this.server.setInfoField('cluster', name, true);
  }

  private removeAllRoutesExcept(keep: RouteConnection): void {
    for (const r of [...this.conns]) {
      if (r !== keep) r.close(RouteCloseReason.CLUSTER_NAME_CONFLICT, true);
    }
  }

  routeClosed(conn: RouteConnection): void {
    this.conns.delete(conn);
    const wasRegistered = conn.registered && this.remotes.get(conn.remoteId) === conn;
    if (wasRegistered) {
      this.remotes.delete(conn.remoteId);
      conn.registered = false;
      if (conn.connectUrls.length > 0) this.removeConnectUrls(conn.connectUrls);
      this.notifyPeer('removed', conn);
    }
    this.log('info', `${conn.label()} - Router connection closed: ${conn.closeReason}`);
    if (this.stopped || conn.noReconnect) return;
    const retryImplicit = conn.retry || (conn.didSolicit && conn.routeType === 'implicit');
    if (!conn.didSolicit && !retryImplicit) return;
    const rid = conn.remoteId;
    if (rid !== '' && this.remotes.has(rid)) {
      // Still connected to that server through another connection: make sure that one keeps
      // re-dialling a configured route.
      const other = this.remotes.get(rid)!;
      if (conn.didSolicit && !other.didSolicit) {
        other.didSolicit = true;
        other.url = conn.url;
        if (conn.routeType === 'explicit') other.routeType = 'explicit';
      }
      this.log('debug', `Not attempting reconnect for solicited route, already connected to "${rid}"`);
      return;
    }
    if (rid === this.server.serverId) return;
    if ((conn.routeType !== 'implicit' || retryImplicit) && conn.url !== undefined) {
      this.log('debug', `Attempting reconnect for solicited route "${conn.url.raw}"`);
      this.reconnectToRoute(conn.url, conn.routeType);
    }
  }

  // ---- client connect_urls ----

  private addConnectUrls(urls: string[]): void {
    let changed = false;
    for (const u of urls) if (this.peerClientUrls.add(u)) changed = true;
    if (changed) this.publishConnectUrls();
  }

  private removeConnectUrls(urls: string[]): void {
    let changed = false;
    for (const u of urls) if (this.peerClientUrls.remove(u)) changed = true;
    if (changed) this.publishConnectUrls();
  }

  private publishConnectUrls(): void {
    // Our own client URLs first, then the peers' (nats-server updateServerINFOAndSendINFOToClients).
    const own = this.server.clientConnectUrls();
    const all = [...own];
    for (const u of this.peerClientUrls.values()) if (!all.includes(u)) all.push(u);
    this.server.setInfoField('connect_urls', all, true);
  }

  // ---- RouteBridge: local interest -> RS+/RS- ----

  onLocalInterest(account: Account, subject: string, queue: string | undefined, delta: 1 | -1, queueWeight: number): void {
    if (this.remotes.size === 0 || !this.canImport(subject)) return;
    let line: string;
    if (queue === undefined) {
      line = delta > 0 ? encodeRemoteSub(account.name, subject) : encodeRemoteUnsub(account.name, subject);
    } else {
      line = queueWeight > 0 ? encodeRemoteSub(account.name, subject, queue, queueWeight) : encodeRemoteUnsub(account.name, subject, queue);
    }
    const buf = encodeName(line);
    for (const r of this.remotes.values()) r.enqueue(buf);
  }

  // ---- introspection (monitoring, tests, other subsystems) ----

  /** Number of registered routes (varz `routes`). */
  get numRoutes(): number {
    return this.remotes.size;
  }

  /** server_ids of the servers we have a registered route to. */
  remoteServerIds(): string[] {
    return [...this.remotes.keys()];
  }

  /** The servers we have a registered route to. */
  peers(): ClusterPeer[] {
    return [...this.remotes.values()].map((r) => this.peerOf(r));
  }

  /** Does any route carry interest from a peer for `subject` in `account`? */
  hasRemoteInterest(account: string, subject: string): boolean {
    const acc = this.server.lookupAccount(account);
    if (acc === undefined) return false;
    const r = acc.sublist.match(subject);
    const isRoute = (s: Subscription): boolean => s.owner.kind === ClientKind.ROUTE && !s.closed;
    return r.psubs.some(isRoute) || r.qsubs.some((g) => g.some(isRoute));
  }

  /** /routez in nats-server's shape. */
  routez(opts: RoutezOptions = {}): RoutezJson {
    const now = Date.now();
    const routes: RouteInfoJson[] = [];
    for (const r of this.remotes.values()) {
      const ri: RouteInfoJson = {
        rid: r.cid,
        remote_id: r.remoteId,
        remote_name: r.remoteName,
        did_solicit: r.didSolicit,
        is_configured: r.routeType === 'explicit',
        ip: r.ip,
        port: r.port,
        start: goTime(r.startMs),
        last_activity: goTime(r.lastActivityMs),
        rtt: rttString(r.rttMs),
        uptime: natsUptime(now - r.startMs),
        idle: natsUptime(now - r.lastActivityMs),
        pending_size: r.pendingBytes,
        in_msgs: r.inMsgs,
        out_msgs: r.outMsgs,
        in_bytes: r.inBytes,
        out_bytes: r.outBytes,
        subscriptions: r.subs.size,
      };
      if (r.remoteInfo?.import) ri.import = r.remoteInfo.import;
      if (r.remoteInfo?.export) ri.export = r.remoteInfo.export;
      if (r.subs.size > 0) {
        if (opts.subscriptionsDetail) {
          ri.subscriptions_list_detail = [...r.subs.entries()].map(([key, s]) => {
            const d: RouteSubDetail = {
              account: key.slice(0, key.indexOf(' ')), subject: s.subject, sid: key, msgs: s.nmsgs, cid: r.cid,
            };
            if (s.queue !== undefined) d.qgroup = s.queue;
            return d;
          });
        } else if (opts.subscriptions) {
          ri.subscriptions_list = [...r.subs.values()].map((s) => s.subject);
        }
      }
      routes.push(ri);
    }
    const out: RoutezJson = {
      server_id: this.server.serverId,
      server_name: this.server.serverName,
      now: goTime(now),
      num_routes: routes.length,
      routes,
    };
    const imp = toSubjectPermission(this.opts.permissions?.import);
    const exp = toSubjectPermission(this.opts.permissions?.export);
    if (imp || exp) {
      // Keep nats-server's key order: import/export before num_routes.
      return { server_id: out.server_id, server_name: out.server_name, now: out.now, ...(imp ? { import: imp } : {}), ...(exp ? { export: exp } : {}), num_routes: out.num_routes, routes };
    }
    return out;
  }

  /** The `cluster` object of /varz. */
  varzCluster(): VarzClusterJson {
    const c = this.opts;
    const out: VarzClusterJson = {};
    if (this.clusterName) out.name = this.clusterName;
    out.addr = c.host || '0.0.0.0';
    out.cluster_port = this.port;
    out.auth_timeout = c.authorization?.timeoutSec ?? DEFAULT_ROUTE_AUTH_TIMEOUT_MS / 1000;
    if (this.configured.length > 0) out.urls = this.configured.map((u) => hostPortKey(u.host, u.port));
    out.tls_timeout = c.tls?.timeoutSec ?? 2;
    return out;
  }
}
