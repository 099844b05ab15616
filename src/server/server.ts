// The server: client listener, accounts, INFO, subsystems, lifecycle (start,
// shutdown, lame duck, reload), ports and pid files.
//
// Nothing here is global: several Server instances can live in one process.
import net from 'node:net';
import type { Options } from '../config/options.js';
import { DEFAULT_MAX_PAYLOAD, GLOBAL_ACCOUNT } from '../config/options.js';
import { Account, type AccountHost } from '../core/account.js';
import type { ClientAuthenticator } from '../core/auth-hook.js';
import { Client, CloseReason, ServerStats, type ClientConn, type ClientHost } from '../core/client.js';
import type { ByteStream } from '../core/socket-writer.js';
import { Logger } from '../core/logger.js';
import { ClientKind, type Subscription } from '../core/types.js';
import { Err } from '../protocol/client-encode.js';
import { FlushQueue } from './flush-queue.js';
import { newServerId } from './server-id.js';
import { crypto } from '../core/lazy-modules.js';
import { tlsUnsupportedError } from '../config/tls-unsupported.js';
import { buildTlsSettings, type TlsSettings } from '../tls/settings.js';
import { authenticatorFromOptions } from './options-auth.js';
import { operatorAuthenticator } from './jwt-auth.js';
import { JwtResolverService } from './jwt-resolver-service.js';
import { ListenerRegistry, listenBacklog, type ListenerKind } from './listeners.js';
import { AcceptQueue } from './accept-queue.js';
import { CloseQueue } from './close-queue.js';
import { writePidFile, PortsFile } from './files.js';
import { AccountImports } from '../core/imports.js';
import { watchJwtImports } from '../auth/jwt-imports.js';
import { ClosedRing, type ClosedClientInfo } from './closed-ring.js';
import { unsupportedReload } from './reload-check.js';

/** The nats-server version whose client-visible features tsnats has (INFO version). */
export const SERVER_VERSION = '2.10.0';
/** Value of INFO `go` (informational only; clients do not read it). */
export const RUNTIME_VERSION = `node${process.versions.node}`;

export interface Subsystem {
  name: string;
  start(server: Server): Promise<void>;
  shutdown(): Promise<void>;
  /** Optional: the server entered lame duck mode (e.g. tell routes, hand over leadership). */
  lameDuck?(): void;
  /**
   * Optional: graceful shutdown begins; called on every subsystem before any of them stops (so
   * with the routes still up): clustered JetStream hands its raft leaderships over here.
   */
  beforeShutdown?(): void;
  /**
   * Start before the client listener opens (and so before the subsystems that start after
   * it, such as routes). JetStream sets this: nats-server recovers JetStream before it
   * accepts clients or routes, so no client sees a stream missing or loses a publish to one.
   */
  readonly startBeforeClients?: boolean;
  /**
   * Optional: called once every subsystem has started and the client and route listeners
   * are open. An early subsystem puts here what needs a later one running (clustered
   * JetStream's meta group needs the routes; nats-server also creates it before the routes
   * and lets it wait for them).
   */
  afterStart?(): Promise<void>;
}

/**
 * A subsystem that cannot start in this configuration: the message is nats-server's fatal log
 * text for it; the CLI logs it as [FTL] and exits 1 (nats-server's Fatalf).
 */
export class StartupError extends Error {}

/** Routes plug in here to be told about local interest changes (RS+/RS-). */
export interface RouteBridge {
  onLocalInterest(account: Account, subject: string, queue: string | undefined, delta: 1 | -1, queueWeight: number): void;
}

export interface ServerExtras {
  /** do not print log lines (tests, embedding) */
  quietLog?: boolean;
  /**
   * Enforce the users of the options' authorization/accounts blocks (the CLI
   * always does). Off by default for embedding until every in-process test
   * that configures users also connects with credentials.
   */
  configAuth?: boolean;
}

/** Told when a client's CONNECT is accepted and when the client has closed. */
export interface ClientWatcher {
  connected(client: Client): void;
  closed(client: Client): void;
}

export class Server implements ClientHost, AccountHost {
  options: Options;
  readonly serverId: string;
  serverName: string;
  readonly log: Logger;
  readonly stats = new ServerStats();
  readonly globalAccount: Account;
  readonly systemAccount: Account;
  /** open client connections by cid */
  readonly clients = new Map<number, Client>();
  /** recently closed client connections (connz state=closed) */
  readonly closedClients: ClosedRing;
  readonly startTime = new Date();
  configLoadTime = new Date();
  authenticator: ClientAuthenticator | null = null;
  /** TLS of the client port, built at start from the `tls` block (null: plaintext) */
  clientTls: { settings: TlsSettings; allowNonTls: boolean } | null = null;
  /** actual client port once listening */
  port = 0;
  running = false;
  lameDuck = false;
  shuttingDown = false;
  readonly listeners = new ListenerRegistry();
  /** who hears about clients connecting and closing (the system account's connect/disconnect events) */
  readonly clientWatchers = new Set<ClientWatcher>();
  /** called with each account created after start-up (config reload, JWT resolver, JetStream) */
  readonly accountWatchers = new Set<(acc: Account) => void>();
  /** the configured accounts' exports and imports, applied (src/core/imports.ts) */
  readonly imports = new AccountImports(this);
  /** operator mode: the account JWTs' exports and imports (src/auth/jwt-imports.ts) */
  jwtImports: ReturnType<typeof watchJwtImports> | null = null;

  private readonly accounts = new Map<string, Account>();
  private readonly infoExtra = new Map<string, unknown>();
  private infoBase = '';
  /** infoBase with auth_required, for clients of a listener with its own authenticator */
  private infoBaseAuth = '';
  private listener: net.Server | null = null;
  private readonly sockets = new Set<ByteStream>();
  /** client-port sockets accepted but not yet started (a burst is started in batches) */
  private readonly acceptQueue = new AcceptQueue((socket) => this.acceptClient(socket));
  /** closed clients whose bookkeeping is spread over turns (see close-queue.ts) */
  readonly closeQueue = new CloseQueue((client) => this.finishClose(client));
  private readonly subsystems: Subsystem[] = [];
  private readonly startedSubsystems: Subsystem[] = [];
  private routeBridge: RouteBridge | null = null;
  private leafBridge: ((account: Account, sub: Subscription, delta: 1 | -1) => void) | null = null;
  private readonly flushQueue = new FlushQueue();
  private cidCounter = 0;
  private portsFile: PortsFile | null = null;
  private shutdownPromise: Promise<void> | null = null;
  private lameDuckTimer: NodeJS.Timeout | null = null;
  private readonly exitWaiters: (() => void)[] = [];
  /** the authenticator was built from the options (rebuilt on reload) */
  private authFromOptions = false;
  private configAuth = false;

  constructor(options: Options, extras: ServerExtras = {}) {
    this.options = options = withBaseline(options);
    this.serverId = newServerId();
    this.serverName = options.serverName ?? this.serverId;
    this.log = new Logger({
      debug: options.debug, trace: options.trace, logtime: options.logtime,
      logtimeUtc: options.logtimeUtc, logFile: options.logFile, quiet: extras.quietLog,
    });
    this.closedClients = new ClosedRing(options.maxClosedClients);
    this.globalAccount = this.registerAccount(GLOBAL_ACCOUNT);
    this.systemAccount = this.registerAccount(options.systemAccount || '$SYS');
    for (const a of options.accounts) this.registerAccount(a.name);
    this.imports.configure(options.accounts);
    if (options.operatorMode !== undefined) {
      // Operator mode always authenticates (JWT users only: no users in the options).
      const auth = operatorAuthenticator(options, this, this.log);
      this.authenticator = auth;
      this.jwtImports = watchJwtImports(auth.resolver, this);
      if (options.operatorMode.resolver === 'full') this.addSubsystem(new JwtResolverService(auth));
    } else if (extras.configAuth) {
      this.authenticator = authenticatorFromOptions(options, this, (m) => this.log.warn(m));
      this.authFromOptions = this.authenticator !== null;
      this.configAuth = true;
    }
    this.rebuildInfo();
  }

  // ---- accounts ----

  lookupAccount(name: string): Account | undefined {
    return this.accounts.get(name);
  }

  /** Get or create an account. */
  registerAccount(name: string): Account {
    let acc = this.accounts.get(name);
    if (acc === undefined) {
      acc = new Account(name, this);
      this.accounts.set(name, acc);
      for (const w of this.accountWatchers) w(acc);
    }
    return acc;
  }

  allAccounts(): Account[] {
    return [...this.accounts.values()];
  }

  // ---- AccountHost ----

  nextCid(): number {
    return ++this.cidCounter;
  }

  localInterestChanged(account: Account, subject: string, queue: string | undefined, delta: 1 | -1, queueWeight: number): void {
    const b = this.routeBridge;
    if (b !== null) b.onLocalInterest(account, subject, queue, delta, queueWeight);
  }

  reportError(text: string): void {
    this.log.error(text);
  }

  subscriptionChanged(account: Account, sub: Subscription, delta: 1 | -1): void {
    const b = this.leafBridge;
    if (b !== null) b(account, sub, delta);
  }

  /** The leaf-node subsystem watches every subscription change (null: no leafnodes block). */
  setLeafBridge(bridge: ((account: Account, sub: Subscription, delta: 1 | -1) => void) | null): void {
    this.leafBridge = bridge;
  }

  // ---- extension points ----

  addSubsystem(s: Subsystem): void {
    this.subsystems.push(s);
  }

  /** A registered subsystem by name ('cluster', 'jetstream', ...): monitoring reads their state. */
  getSubsystem(name: string): Subsystem | undefined {
    return this.subsystems.find((s) => s.name === name);
  }

  setRouteBridge(bridge: RouteBridge | null): void {
    this.routeBridge = bridge;
  }

  setAuthenticator(a: ClientAuthenticator | null): void {
    this.authenticator = a;
    this.authFromOptions = false;
    this.rebuildInfo();
  }

  /** when INFO connect_urls last changed (ClientHost): clients that connected since then and
   *  have not sent their first PING get it with their first PONG */
  connectUrlsChangedMs = 0;

  /**
   * Extra INFO fields for clients (jetstream, domain, connect_urls, cluster...).
   * `undefined` removes the field. With `resend`, protocol>=1 clients get an async INFO.
   */
  setInfoField(key: string, value: unknown, resend = false): void {
    if (key === 'connect_urls') this.connectUrlsChangedMs = Date.now();
    if (value === undefined) this.infoExtra.delete(key);
    else this.infoExtra.set(key, value);
    this.rebuildInfo();
    if (resend) this.sendAsyncInfoToClients();
  }

  getInfoField(key: string): unknown {
    return this.infoExtra.get(key);
  }

  /** Record a listener of a subsystem (monitoring, cluster...) for the ports file and logs. */
  registerListener(kind: ListenerKind, scheme: string, host: string, port: number): void {
    this.listeners.add(kind, scheme, host, port);
    if (this.portsFile !== null) this.portsFile.write(this.listeners.portsJson());
  }

  /** host:port URLs clients can use to reach this server (INFO connect_urls of peers). */
  clientConnectUrls(): string[] {
    const adv = this.options.clientAdvertise;
    if (adv) return [adv.includes(':') ? adv : `${adv}:${this.port}`];
    return this.listeners.hostPorts('nats');
  }

  // ---- INFO ----

  private rebuildInfo(): void {
    const o = this.options;
    const auth = this.authenticator;
    const info: Record<string, unknown> = {
      server_id: this.serverId,
      server_name: this.serverName,
      version: SERVER_VERSION,
      proto: 1,
      go: RUNTIME_VERSION,
      host: o.host,
      port: this.port || o.port,
      headers: !o.noHeaderSupport,
    };
    if (o.clientAdvertise) {
      // INFO host/port carry the advertised address (nats-server setInfoHostPort).
      const adv = o.clientAdvertise;
      const i = adv.lastIndexOf(':');
      if (i > 0 && !adv.endsWith(']')) {
        info.host = adv.slice(0, i).replace(/^\[|\]$/g, '');
        info.port = Number(adv.slice(i + 1));
      } else {
        info.host = adv.replace(/^\[|\]$/g, '');
      }
    }
    // Field order as nats-server: auth_required (when set), then the TLS flags, then max_payload.
    const head = { ...info };
    const tail: Record<string, unknown> = {};
    if (o.tls) {
      // nats-server: TLS is required unless allow_non_tls (then only available);
      // handshake_first always requires it.
      const required = o.tls.handshakeFirst === true || !o.allowNonTls;
      if (required) tail.tls_required = true;
      if (o.tls.verify || o.tls.verifyAndMap) tail.tls_verify = true;
      if (!required) tail.tls_available = true;
    }
    tail.max_payload = o.maxPayloadBytes;
    for (const k of ['jetstream', 'ip']) if (this.infoExtra.has(k)) tail[k] = this.infoExtra.get(k);
    const authRequired = auth !== null && auth.authRequired && !auth.noAuthUser;
    // The per-client fields are appended after this prefix (see infoJsonFor).
    this.infoBase = JSON.stringify(authRequired ? { ...head, auth_required: true, ...tail } : { ...head, ...tail }).slice(0, -1);
    this.infoBaseAuth = JSON.stringify({ ...head, auth_required: true, ...tail }).slice(0, -1);
  }

  private infoSuffix(): string {
    let s = '';
    for (const [k, v] of this.infoExtra) {
      if (k === 'jetstream' || k === 'ip') continue;
      s += `,${JSON.stringify(k)}:${JSON.stringify(v)}`;
    }
    if (this.lameDuck) s += ',"ldm":true';
    return s;
  }

  /** The INFO fields before the per-client ones. */
  private infoPrefix(client: Client): string {
    const auth = client.authenticator;
    // A listener with its own authorization (websocket) announces it as nats-server does.
    if (auth !== this.authenticator && auth !== null && auth.authRequired && !auth.noAuthUser) return this.infoBaseAuth;
    return this.infoBase;
  }

  infoJsonFor(client: Client): string {
    let s = this.infoPrefix(client);
    const auth = client.authenticator;
    if (auth !== null && auth.needsNonce) {
      client.nonce = crypto().randomBytes(11).toString('base64url');
      s += `,"nonce":${JSON.stringify(client.nonce)}`;
    }
    s += `,"client_id":${client.cid},"client_ip":${JSON.stringify(client.ip)}`;
    return s + this.infoSuffix() + '}';
  }

  asyncInfoJsonFor(client: Client): string {
    let s = this.infoPrefix(client);
    const own = client.payloadLimit;
    if (own !== this.options.maxPayloadBytes) s = s.replace(`"max_payload":${this.options.maxPayloadBytes}`, `"max_payload":${own}`);
    s += `,"client_id":${client.cid},"client_ip":${JSON.stringify(client.ip)}`;
    return s + this.infoSuffix() + '}';
  }

  private sendAsyncInfoToClients(): void {
    for (const c of this.clients.values()) c.sendAsyncInfo(this.asyncInfoJsonFor(c));
  }

  // ---- ClientHost ----

  scheduleFlush(client: Client): void {
    this.flushQueue.add(client);
  }

  flushPending(): void {
    this.flushQueue.flushNow();
  }

  afterRead(reader: Client, bytes: number, msgs: number): void {
    this.flushQueue.afterRead(reader, bytes, msgs);
  }

  clientClosed(client: Client): void {
    this.closeQueue.push(client);
  }

  private finishClose(client: Client): void {
    for (const sub of client.subs.values()) client.account.removeSubscription(sub);
    if (this.clients.get(client.cid) !== client) return;
    this.clients.delete(client.cid);
    this.closedClients.push(snapshotClosed(client));
    // Guarded: the label would be built for every close, debug or not.
    if (this.log.debugEnabled) this.log.debug(`${client.label()} - Client connection closed: ${client.closeReason}`);
    for (const w of this.clientWatchers) w.closed(client);
  }

  clientConnected(client: Client): void {
    for (const w of this.clientWatchers) w.connected(client);
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    const o = this.options;
    const tStart = Date.now();
    // TLS settings tsnats cannot honour are refused, never silently dropped.
    const noTls = tlsUnsupportedError(o);
    if (noTls !== undefined) throw new Error(noTls);
    if (o.tls) this.clientTls = { settings: buildTlsSettings(o.tls), allowNonTls: o.allowNonTls };
    this.log.info('Starting nats-server');
    this.log.info(`  Version:  ${SERVER_VERSION}`);
    this.log.info('  Git:      [not set]');
    this.log.info(`  Name:     ${this.serverName}`);
    this.log.info(`  ID:       ${this.serverId}`);
    if (o.configFile) this.log.info(`Using configuration file: ${o.configFile}`);

    // Subsystems whose state clients must see from their first message start first,
    // in registration order; the others (routes, monitoring) once clients are accepted.
    const early = this.subsystems.filter((s) => s.startBeforeClients === true);
    for (const s of early) {
      await s.start(this);
      this.startedSubsystems.push(s);
    }

    // Paused until the accept queue starts the client (see accept-queue.ts).
    const listener = net.createServer({ noDelay: true, pauseOnConnect: true });
    listener.on('connection', (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error) => reject(err);
      listener.once('error', onErr);
      listener.listen({ host: o.host, port: o.port < 0 ? 0 : o.port, exclusive: true, backlog: listenBacklog() }, () => {
        listener.off('error', onErr);
        resolve();
      });
    });
    listener.on('error', (err) => this.log.error(`Error accepting client connection: ${err.message}`));
    this.listener = listener;
    const addr = listener.address() as net.AddressInfo;
    this.port = addr.port;
    this.listeners.add('nats', 'nats', o.host, this.port);
    this.rebuildInfo();
    this.running = true;
    this.log.info(`Listening for client connections on ${hostPort(o.host, this.port)}`);
    if (o.tls) {
      const firstOnly = o.tls.handshakeFirst === true && !o.tls.handshakeFirstFallbackMs;
      this.log.info(`TLS ${o.allowNonTls && !firstOnly ? 'available' : 'required'} for client connections`);
      if (firstOnly) this.log.warn('Clients that are not using "TLS Handshake First" option will fail to connect');
    }
    this.log.debug(`Accepting clients ${Math.round(process.uptime() * 1000)}ms after process start`);

    for (const s of this.subsystems) {
      if (s.startBeforeClients === true) continue;
      await s.start(this);
      this.startedSubsystems.push(s);
    }
    for (const s of this.startedSubsystems) await s.afterStart?.();
    if (o.pidFile) writePidFile(o.pidFile);
    if (o.portsFileDir) {
      this.portsFile = new PortsFile(o.portsFileDir);
      this.portsFile.write(this.listeners.portsJson());
    }
    this.log.info('Server is ready');
    this.log.debug(`Server started in ${Date.now() - tStart}ms (${Math.round(process.uptime() * 1000)}ms after process start)`);
  }

  private accept(socket: net.Socket): void {
    this.acceptQueue.push(socket);
  }

  /**
   * A client connection on the client port or on another listener whose transport feeds the
   * same protocol bytes (`conn` says which: websocket). False when it was not taken.
   */
  acceptClient(socket: ByteStream, conn?: ClientConn): boolean {
    if (!this.running || this.lameDuck || this.shuttingDown) {
      socket.destroy();
      return false;
    }
    this.stats.totalConnections++;
    const client = new Client(this.nextCid(), socket, this, conn);
    const max = this.options.maxConnections;
    if (max > 0 && this.clients.size >= max) {
      this.log.error(`${client.label()} - Maximum Connections Exceeded (${max})`);
      this.clients.set(client.cid, client);
      client.start(Err.MAX_CONNECTIONS);
      return true;
    }
    this.clients.set(client.cid, client);
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    client.start();
    return true;
  }

  /** Resolves when the server has shut down (by shutdown(), signal, or lame duck). */
  waitForShutdown(): Promise<void> {
    if (!this.running && this.shuttingDown && this.shutdownPromise === null) return Promise.resolve();
    return new Promise((resolve) => this.exitWaiters.push(resolve));
  }

  /** Graceful shutdown: stop accepting, stop subsystems (reverse order), close clients. */
  shutdown(): Promise<void> {
    if (this.shutdownPromise !== null) return this.shutdownPromise;
    this.shutdownPromise = this.doShutdown();
    return this.shutdownPromise;
  }

  private async doShutdown(): Promise<void> {
    this.shuttingDown = true;
    this.log.info('Initiating Shutdown...');
    if (this.lameDuckTimer !== null) clearTimeout(this.lameDuckTimer);
    const listener = this.listener;
    this.listener = null;
    const closed = listener !== null ? new Promise<void>((r) => listener.close(() => r())) : Promise.resolve();
    for (const s of this.startedSubsystems) {
      try {
        s.beforeShutdown?.();
      } catch (e) {
        this.log.error(`Error preparing ${s.name} for shutdown: ${(e as Error).message}`);
      }
    }
    for (const s of [...this.startedSubsystems].reverse()) {
      try {
        await s.shutdown();
      } catch (e) {
        this.log.error(`Error shutting down ${s.name}: ${(e as Error).message}`);
      }
    }
    this.startedSubsystems.length = 0;
    this.acceptQueue.clear();
    for (const c of [...this.clients.values()]) c.close(CloseReason.SERVER_SHUTDOWN, true);
    this.jwtImports?.stop();
    this.closeQueue.drainAll();
    this.imports.close();
    // Sockets still draining an -ERR are cut so the listener can close.
    for (const s of this.sockets) s.destroy();
    await closed;
    if (this.portsFile !== null) {
      this.portsFile.remove();
      this.portsFile = null;
    }
    // Like nats-server, the pid file is left in place.
    this.running = false;
    this.log.info('Server Exiting..');
    for (const w of this.exitWaiters.splice(0)) w();
  }

  /**
   * Lame duck mode: stop accepting, tell protocol>=1 clients (INFO ldm:true),
   * wait the grace period, then close clients spread over the rest of
   * lame_duck_duration and shut down.
   */
  enterLameDuckMode(): Promise<void> {
    if (this.lameDuck || this.shuttingDown || !this.running) return this.waitForShutdown();
    this.lameDuck = true;
    this.log.info('Entering lame duck mode, stop accepting new clients');
    const listener = this.listener;
    this.listener = null;
    if (listener !== null) listener.close();
    const done = this.waitForShutdown();
    if (this.clients.size === 0) {
      void this.shutdown();
      return done;
    }
    this.sendAsyncInfoToClients();
    for (const s of this.startedSubsystems) {
      try {
        s.lameDuck?.();
      } catch (e) {
        this.log.error(`Error entering lame duck mode in ${s.name}: ${(e as Error).message}`);
      }
    }
    const o = this.options;
    const grace = Math.abs(o.lameDuckGracePeriodMs);
    let durMs = o.lameDuckDurationMs - grace;
    if (durMs <= 0) durMs = 1000;
    this.lameDuckTimer = setTimeout(() => {
      this.lameDuckTimer = null;
      this.log.info('Closing existing clients');
      const clients = [...this.clients.values()];
      const intervalMs = Math.min(1000, Math.max(1, durMs / Math.max(1, clients.length)));
      let i = 0;
      const closeNext = (): void => {
        if (this.shuttingDown) return;
        const c = clients[i++];
        if (c !== undefined) c.close(CloseReason.SERVER_SHUTDOWN, true);
        if (i < clients.length) {
          this.lameDuckTimer = setTimeout(closeNext, intervalMs * (0.5 + Math.random() / 2));
        } else {
          this.lameDuckTimer = null;
          void this.shutdown();
        }
      };
      closeNext();
    }, grace);
    return done;
  }

  /**
   * Apply what nats-server reloads on SIGHUP: logging, limits, tls and users (connected
   * clients are re-checked against the new users and permissions). Returns the names of
   * the options that changed. Throws, applying nothing, when `next` changes what cannot be
   * reloaded (src/server/reload-check.ts).
   */
  reload(next: Options): string[] {
    next = withBaseline(next);
    const prev = this.options;
    // nats-server applies nothing of a reload that changes what it cannot reload
    const refused = unsupportedReload(prev, next);
    if (refused !== null) throw new Error(refused);
    const keys: (keyof Options)[] = [
      'debug', 'trace', 'traceVerbose', 'logtime', 'logtimeUtc', 'logFile',
      'maxPayloadBytes', 'maxPendingBytes', 'maxControlLineBytes', 'maxConnections', 'maxSubscriptions',
      'maxSubTokens', 'pingIntervalMs', 'pingMax', 'writeDeadlineMs', 'authTimeoutMs',
      'lameDuckDurationMs', 'lameDuckGracePeriodMs', 'noHeaderSupport',
      'authorization', 'accounts', 'noAuthUser', 'tls',
    ];
    const changed: string[] = [];
    const merged: Options = { ...prev };
    for (const k of keys) {
      if (JSON.stringify(prev[k]) !== JSON.stringify(next[k])) {
        changed.push(k);
        (merged as unknown as Record<string, unknown>)[k] = next[k];
      }
    }
    if (changed.includes('tls') && !this.reloadTls(merged)) {
      merged.tls = prev.tls;
      changed.splice(changed.indexOf('tls'), 1);
    }
    this.options = merged;
    this.configLoadTime = new Date();
    this.log.configure({
      debug: merged.debug, trace: merged.trace, logtime: merged.logtime,
      logtimeUtc: merged.logtimeUtc, logFile: merged.logFile,
    });
    const authKeys = ['authorization', 'accounts', 'noAuthUser', 'tls'];
    let usersReloaded = false;
    if (this.configAuth && (this.authFromOptions || this.authenticator === null) && changed.some((k) => authKeys.includes(k))) {
      for (const a of merged.accounts) this.registerAccount(a.name);
      if (changed.includes('accounts')) this.imports.configure(merged.accounts);
      this.authenticator = authenticatorFromOptions(merged, this, (m) => this.log.warn(m));
      this.authFromOptions = this.authenticator !== null;
      usersReloaded = changed.some((k) => k !== 'tls' && authKeys.includes(k));
    }
    if (changed.length > 0) {
      this.rebuildInfo();
      for (const c of this.clients.values()) c.applyLimits(merged);
    }
    // nats-server reloadAuthorization: connected clients are checked against the new users.
    if (usersReloaded) for (const c of [...this.clients.values()]) c.authorizationReloaded();
    // One line per changed option, then the summary line, in nats-server's order (tls logged its own).
    for (const k of changed) if (k !== 'tls') this.log.info(`Reloaded: ${k}`);
    this.log.info('Reloaded server configuration');
    return changed;
  }

  /** New client TLS settings for connections accepted from now on (nats-server's tls reload); false: kept the old ones. */
  private reloadTls(next: Options): boolean {
    const refused = tlsUnsupportedError(next);
    try {
      if (refused !== undefined) throw new Error(refused);
      this.clientTls = next.tls ? { settings: buildTlsSettings(next.tls), allowNonTls: next.allowNonTls } : null;
    } catch (e) {
      this.log.error(`Failed to reload the tls configuration, keeping the previous one: ${(e as Error).message}`);
      return false;
    }
    this.log.info(`Reloaded: tls = ${next.tls ? 'enabled' : 'disabled'}`);
    return true;
  }

  /** Number of client connections (kind CLIENT) currently open. */
  get numClients(): number {
    return this.clients.size;
  }

  /** Internal-client convenience for subsystems of the system account. */
  createSystemClient(name: string) {
    return this.systemAccount.createInternalClient(name, ClientKind.SYSTEM);
  }
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function snapshotClosed(c: Client): ClosedClientInfo {
  const subs: { subject: string; queue?: string; sid: string; msgs: number; max: number }[] = [];
  for (const s of c.subs.values()) subs.push({ subject: s.subject, queue: s.queue, sid: s.sid, msgs: s.nmsgs, max: s.max });
  return {
    cid: c.cid,
    kind: c.kind,
    connectionType: c.conn.type,
    ip: c.ip,
    port: c.port,
    startMs: c.startMs,
    stopMs: c.stopMs,
    lastActivityMs: c.lastActivityMs,
    rttMs: c.rttMs,
    inMsgs: c.inMsgs,
    outMsgs: c.outMsgs,
    inBytes: c.inBytes,
    outBytes: c.outBytes,
    subscriptions: subs,
    name: c.opts.name ?? '',
    lang: c.opts.lang ?? '',
    version: c.opts.version ?? '',
    account: c.account.name,
    authorizedUser: c.authorizedUser,
    reason: c.closeReason,
  };
}

/** nats-server's setBaselineOptions: `max_payload: 0` means the default (1 MB), never "unlimited". */
function withBaseline(o: Options): Options {
  return o.maxPayloadBytes === 0 ? { ...o, maxPayloadBytes: DEFAULT_MAX_PAYLOAD } : o;
}
