// The JetStream subsystem: enabled by options.jetstream, registered with
// Server.addSubsystem. It owns the JetStream-enabled accounts (JsAccount), the
// $JS.API request subscriptions in every account, server-wide storage limits and
// usage, recovery of streams from the store directory, and the INFO flag.
//
// Layout on disk (as nats-server): <store_dir>/jetstream/<account>/streams/<stream>/

import { mkdirSync, statfsSync } from 'node:fs';
import { totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Options } from '../config/options.js';
import { StartupError, type Server, type Subsystem } from '../server/server.js';
import type { Account } from '../core/account.js';
import type { InternalClient } from '../core/internal-client.js';
import { ClientKind, type MsgOrigin } from '../core/types.js';
import { ApiRouter, API_PREFIX, type ApiHandler, type ApiRequest } from './api/router.js';
import type { JsApiContext } from './api/context.js';
import { registerStreamApi, registerStandaloneClusterApi } from './api/stream-api.js';
import { operatorJetStreamAccounts, type JwtAccount } from '../auth/jwt-accounts.js';
import type { OperatorAuthenticator } from '../server/jwt-auth.js';
import { JsAccount, UNLIMITED_ACCOUNT, type JsAccountHost, type JsAccountLimits } from './js-account.js';
import type { Stream } from './stream.js';
import type { StreamConfig } from './api/types.js';
import { StoreFactory, type RecoveredStream } from './store-factory.js';
import { DEFAULT_PROGRESS_INTERVAL_MS, ProgressBoard, type ProgressReport } from './progress.js';
import { registerSnapshotApi } from './snapshot.js';
import { Sourcing } from './sourcing.js';
import { publishApiAudit } from './advisories.js';
import type { ClusteredJetStream } from './cluster/js-cluster.js';

/** Something that plugs more API handlers or stream hooks into JetStream (e.g. consumers). */
export interface JetStreamExtension {
  /** Called once at start, before streams are recovered. */
  attach(js: JetStreamService): void;
  /** A stream came to life (created or recovered): recover/attach its consumers. */
  streamAdded?(acc: JsAccount, stream: Stream): void | Promise<void>;
  /** A stream is about to stop or be deleted. */
  streamRemoved?(acc: JsAccount, stream: Stream): void;
}

const extensions: JetStreamExtension[] = [];

/** Sync interval of replicated streams' stores under the default policy (nats-server's default sync interval). */
const REPLICA_SYNC_INTERVAL_MS = 120_000;

/** Register an extension for every JetStream service created afterwards (one line in the extension's module). */
export function addJetStreamExtension(ext: JetStreamExtension): void {
  if (!extensions.includes(ext)) extensions.push(ext);
}

/** nats-server's JetStreamMaxStoreDefault: the cap when the store's file system cannot be asked (1 TiB). */
const FALLBACK_MAX_STORE_BYTES = 1024 ** 4;

/**
 * The store cap when none is configured: 75% of the space available to us on the store's file
 * system, computed as nats-server's diskAvailable (blocks available x block size, / 4 x 3, in
 * integers). Placement ranks servers by this figure minus what they use, so with equal caps
 * every R1 stream of a fresh cluster goes to the server that measured the most free space, as
 * with nats-server, rather than being spread by a tie-break.
 */
export function diskAvailable(dir: string): number {
  try {
    const st = statfsSync(dir, { bigint: true });
    return Number((st.bavail * st.bsize) / 4n * 3n);
  } catch {
    return FALLBACK_MAX_STORE_BYTES;
  }
}

export class JetStreamService implements Subsystem {
  readonly name = 'jetstream';
  /** Streams are recovered before the client (and route) listeners open, as nats-server does. */
  readonly startBeforeClients = true;
  readonly options: Options;
  readonly router = new ApiRouter();
  server!: Server;
  /** <store_dir>/jetstream */
  storeRoot = '';
  maxMemoryBytes = 0;
  maxStoreBytes = 0;
  memoryUsed = 0;
  storeUsed = 0;
  apiTotal = 0;
  apiErrors = 0;

  private readonly accounts = new Map<string, JsAccount>();
  private readonly apiClients = new Map<string, InternalClient>();
  private storeFactory!: StoreFactory;
  private sourcing!: Sourcing;
  private readonly exts: JetStreamExtension[];
  private started = false;
  /** Clustered mode (jetstream and cluster both configured): the meta layer. */
  clustered: ClusteredJetStream | undefined;
  /** Long work in progress (store recovery, catch-up, restore): logged and shown in /healthz details. */
  progress: ProgressBoard | undefined;

  constructor(options: Options) {
    this.options = options;
    this.exts = [...extensions];
  }

  get domain(): string | undefined {
    return this.options.jetstream.domain || undefined;
  }

  /** JetStream state of an account (undefined when not enabled for it). */
  jsAccount(name: string): JsAccount | undefined {
    return this.accounts.get(name);
  }

  /** Long work running now, for /healthz?details=true. */
  progressReports(): ProgressReport[] {
    return this.progress?.list() ?? [];
  }

  allJsAccounts(): JsAccount[] {
    return [...this.accounts.values()];
  }

  /** Add an API handler for "$JS.API.<pattern>" (extensions: consumers, cluster). */
  registerApi(pattern: string, handler: ApiHandler): void {
    this.router.add(pattern, handler);
  }

  readonly api: JsApiContext = {
    strict: true,
    serverName: '',
    jsAccount: (n) => this.accounts.get(n),
    respond: (req, body, isError) => this.respond(req, body, isError),
    publishRaw: (acc, subject, reply, headers, payload) => {
      this.apiClients.get(acc)?.publish(subject, reply, headers, payload);
    },
    subscribe: (acc, subject, handler) => {
      const c = this.apiClients.get(acc);
      if (!c) return () => {};
      const sid = c.subscribe(subject, (s, r, h, p, _o, m) => handler(s, r, h, p, m));
      return () => c.unsubscribe(sid);
    },
  };

  async start(server: Server): Promise<void> {
    this.server = server;
    const o = this.options.jetstream;
    const base = o.storeDir || join(tmpdir(), 'nats');
    this.storeRoot = join(base, 'jetstream');
    mkdirSync(this.storeRoot, { recursive: true });
    this.maxMemoryBytes = o.maxMemoryBytes > 0 ? o.maxMemoryBytes : Math.floor(totalmem() * 0.75);
    this.maxStoreBytes = o.maxFileBytes > 0 ? o.maxFileBytes : diskAvailable(this.storeRoot);
    Object.assign(this.api, { strict: o.strict, serverName: server.serverName, domain: this.domain });
    this.progress = new ProgressBoard((m) => server.log.info(m), o.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS);
    this.storeFactory = new StoreFactory(this.storeRoot, o.syncIntervalMs, (m) => server.log.warn(m), this.progress);
    this.sourcing = new Sourcing(this);
    if (this.options.cluster?.port !== undefined) {
      // nats-server 2.9.10 (enableJetStreamClustering) refuses to start clustered JetStream
      // without configured routes (tsnats has no leafnodes, the other way to reach a meta group).
      if ((this.options.cluster.routes?.length ?? 0) === 0) {
        throw new StartupError("Can't start JetStream: JetStream cluster requires configured routes or solicited leafnode for the system account");
      }
      // Created before the API subscriptions so no request is answered single-server style.
      this.clustered = (await import('./cluster/js-cluster.js')).createClusteredJetStream(this, server);
      // The meta log records each stream: its files become durable with its first write (store-factory.ts).
      this.storeFactory.deferCreateDurability();
      // Replicated streams are made durable by their raft WAL (store-factory.ts replicaSync).
      if (!o.syncIntervalSet) this.storeFactory.lazyReplicaSync(REPLICA_SYNC_INTERVAL_MS);
    }

    registerStreamApi(this.router, this.api);
    registerStandaloneClusterApi(this.router, this.api);
    registerSnapshotApi(this.router, this.api, this);
    for (const e of this.exts) e.attach(this);

    // API subscriptions in every account: JetStream-enabled ones are served, the others get 10039.
    for (const acc of this.candidateAccounts()) this.subscribeApi(acc);
    for (const [name, limits] of this.enabledAccounts()) {
      const acc = server.lookupAccount(name) ?? server.registerAccount(name);
      const jsa = new JsAccount(acc, limits, this.accountHost());
      this.accounts.set(name, jsa);
    }
    await Promise.all([...this.accounts.values()].map((jsa) => this.recoverStreams(jsa)));
    (server.authenticator as Partial<OperatorAuthenticator> | null)?.resolver?.onChange((a) => this.jwtAccountChanged(a));
    this.started = true;
    server.setInfoField('jetstream', true);
    if (this.domain) server.setInfoField('domain', this.domain);
    server.log.info(`Starting JetStream (store: ${this.storeRoot}, max memory ${this.maxMemoryBytes}, max store ${this.maxStoreBytes})`);
  }

  /**
   * The meta group needs the routes, which start after the client listener (nats-server's
   * order): the clustered layer starts once every subsystem is up.
   */
  async afterStart(): Promise<void> {
    await this.clustered?.start();
  }

  /** Graceful shutdown, routes still up: raft leaderships are handed over first (ClusteredJetStream.handOverLeadership). */
  beforeShutdown(): void {
    if (this.started) this.clustered?.handOverLeadership();
  }

  async shutdown(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.clustered?.stop();
    this.sourcing.stop();
    for (const c of this.apiClients.values()) c.close();
    this.apiClients.clear();
    await Promise.all([...this.accounts.values()].map((a) => a.stopAll()));
    this.accounts.clear();
    await this.storeFactory.stop();
  }

  /** Accounts whose JetStream is enabled, with their limits (nats-server: only $G when no accounts are configured). */
  private enabledAccounts(): Array<[string, JsAccountLimits]> {
    const out: Array<[string, JsAccountLimits]> = [];
    // Operator mode: the account JWTs say which accounts have JetStream and with which limits.
    const resolver = (this.server.authenticator as Partial<OperatorAuthenticator> | null)?.resolver;
    if (this.options.operatorMode !== undefined) return resolver !== undefined ? operatorJetStreamAccounts(resolver) : [];
    const accounts = this.options.accounts ?? [];
    if (accounts.length === 0) return [['$G', { ...UNLIMITED_ACCOUNT }]];
    for (const a of accounts) {
      const j = a.jetstream;
      if (!j?.enabled || a.name === this.options.systemAccount) continue;
      out.push([a.name, {
        ...UNLIMITED_ACCOUNT,
        maxMemory: j.maxMemory ?? -1,
        maxStore: j.maxFile ?? -1,
        maxStreams: j.maxStreams ?? -1,
        maxConsumers: j.maxConsumers ?? -1,
        maxAckPending: j.maxAckPending ?? -1,
        maxBytesRequired: j.maxBytesRequired ?? false,
      }]);
    }
    return out;
  }

  /**
   * An account JWT was pushed (full resolver): an account that gains JetStream gets it at
   * once, one that has it takes the new limits (nats-server configJetStream on update).
   */
  private jwtAccountChanged(a: JwtAccount): void {
    if (!this.started || a.jetstream === null) return;
    const jsa = this.accounts.get(a.subject);
    if (jsa !== undefined) {
      Object.assign(jsa.limits, a.jetstream);
      if (a.jetstream.tiers === undefined) delete jsa.limits.tiers;
      return;
    }
    const acc = this.server.registerAccount(a.subject);
    if (!this.apiClients.has(acc.name)) this.subscribeApi(acc);
    this.accounts.set(acc.name, new JsAccount(acc, { ...a.jetstream }, this.accountHost()));
  }

  private candidateAccounts(): Account[] {
    const names = new Set<string>(['$G', ...(this.options.accounts ?? []).map((a) => a.name)]);
    const resolver = (this.server.authenticator as Partial<OperatorAuthenticator> | null)?.resolver;
    if (resolver !== undefined) for (const a of resolver.all()) names.add(a.subject);
    const out: Account[] = [];
    for (const n of names) {
      const a = this.server.lookupAccount(n);
      if (a) out.push(a);
    }
    return out;
  }

  private subscribeApi(acc: Account): void {
    const client = acc.createInternalClient('jsapi', ClientKind.JETSTREAM);
    this.apiClients.set(acc.name, client);
    const onRequest = (subject: string, reply: string, headers: Buffer | undefined, payload: Buffer, origin: MsgOrigin): void => {
      this.dispatch(acc.name, subject, reply, headers, payload, origin);
    };
    client.subscribe('$JS.API.>', onRequest);
    if (this.domain) client.subscribe(`$JS.${this.domain}.API.>`, onRequest);
  }

  private dispatch(accountName: string, subjectIn: string, reply: string, headers: Buffer | undefined,
    payload: Buffer, origin: MsgOrigin): void {
    const subject = subjectIn.startsWith(API_PREFIX) ? subjectIn : API_PREFIX + subjectIn.slice(subjectIn.indexOf('.API.') + 5);
    const handler = this.router.find(subject);
    // unknown API subjects are swallowed silently, like nats-server
    if (!handler && !this.clustered) return;
    const req: ApiRequest = {
      accountName, subject, tokens: subject.slice(API_PREFIX.length).split('.'), reply,
      headers: headers ? Buffer.from(headers) : undefined, payload: Buffer.from(payload), origin,
    };
    const run = (): void => {
      if (this.clustered) {
        this.clustered.route(req, handler);
        return;
      }
      if (!handler) return;
      try {
        const r = handler(req);
        if (r instanceof Promise) r.catch((e) => this.server.log.error(`JetStream API ${subject}: ${String(e)}`));
      } catch (e) {
        this.server.log.error(`JetStream API ${subject}: ${String(e)}`);
      }
    };
    // Visibility follows durability: a request waits for what was stored before it (visibility.ts).
    const gate = this.accounts.get(accountName)?.requestGate;
    if (gate !== undefined) gate.submit(run);
    else run();
  }

  private respond(req: ApiRequest, bodyIn: string, isError: boolean): void {
    const body = req.onRespond ? req.onRespond(bodyIn, isError) : bodyIn;
    if (body === null) return;
    const jsa = this.accounts.get(req.accountName);
    this.apiTotal++;
    if (isError) this.apiErrors++;
    if (jsa) {
      jsa.apiTotal++;
      if (isError) jsa.apiErrors++;
    }
    const client = this.apiClients.get(req.accountName);
    if (req.reply) client?.publish(req.reply, '', undefined, body);
    const acc = this.server.lookupAccount(req.accountName);
    if (client && acc) {
      publishApiAudit(acc, (subj, b) => { client.publish(subj, '', undefined, b); }, {
        server: this.server.serverName, subject: req.subject, request: req.payload.toString(), response: body, domain: this.domain,
      });
    }
  }

  private accountHost(): JsAccountHost {
    return {
      domain: this.domain,
      serverName: this.server.serverName,
      duplicateWindowLimitNs: (this.options.jetstream.limits?.duplicateWindowMs ?? 0) * 1_000_000,
      maxPendingBytes: this.options.maxPendingBytes,
      openStore: (acc, cfg, createdNs) => this.storeFactory.create(acc, cfg, createdNs),
      saveStreamMeta: (acc, cfg, createdNs) => this.storeFactory.saveMeta(acc, cfg, createdNs),
      removeStreamDir: (acc, name) => this.storeFactory.removeDir(acc, name),
      serverUsage: (storage, _msgs, bytes) => {
        if (storage === 'memory') this.memoryUsed += bytes;
        else this.storeUsed += bytes;
      },
      serverHasRoom: (storage, bytes) => storage === 'memory'
        ? this.memoryUsed + bytes <= this.maxMemoryBytes
        : this.storeUsed + bytes <= this.maxStoreBytes,
      serverCanReserve: (storage, bytes) => {
        const reserved = this.reservedBytes(storage);
        const max = storage === 'memory' ? this.maxMemoryBytes : this.maxStoreBytes;
        return !(reserved > max || bytes > max - reserved);
      },
      warn: (m) => this.server.log.warn(m),
      ingestsAtStart: (cfg) => this.clustered === undefined || cfg.num_replicas <= 1,
      streamAdded: (acc, stream) => this.onStreamAdded(acc, stream),
      streamRemoved: (acc, stream) => this.onStreamRemoved(acc, stream),
    };
  }

  private reservedBytes(storage: StreamConfig['storage']): number {
    let r = 0;
    for (const a of this.accounts.values()) r += storage === 'memory' ? a.reservedMemory() : a.reservedStore();
    return r;
  }

  private onStreamAdded(acc: JsAccount, stream: Stream): void {
    this.clustered?.streamAdded(acc, stream);
    this.sourcing.streamAdded(acc, stream);
    for (const e of this.exts) {
      try {
        const r = e.streamAdded?.(acc, stream);
        if (r instanceof Promise) r.catch((err) => this.server.log.error(`JetStream extension: ${String(err)}`));
      } catch (err) {
        this.server.log.error(`JetStream extension: ${String(err)}`);
      }
    }
  }

  private onStreamRemoved(acc: JsAccount, stream: Stream): void {
    this.sourcing.streamRemoved(acc, stream);
    for (const e of this.exts) {
      try {
        e.streamRemoved?.(acc, stream);
      } catch (err) {
        this.server.log.error(`JetStream extension: ${String(err)}`);
      }
    }
  }

  private async recoverStreams(jsa: JsAccount): Promise<void> {
    const recovered = await this.storeFactory.recover(jsa.name);
    for (const r of recovered) await this.addRecovered(jsa, r);
  }

  private async addRecovered(jsa: JsAccount, r: RecoveredStream): Promise<Stream | undefined> {
    try {
      const s = jsa.addStream(r.config, r.store, r.createdNs);
      this.server.log.info(`  Restored stream '${jsa.name} > ${r.config.name}'`);
      return s;
    } catch (e) {
      this.server.log.error(`Error recovering stream '${jsa.name} > ${r.config.name}': ${String(e)}`);
      await r.store.stop().catch(() => {});
      return undefined;
    }
  }

  /**
   * Load file stream `name` again from its directory, as recovery at start does: a replica whose
   * store failed (a full disk) was unloaded, and its restart must find its files, not create the
   * stream anew (which would move them aside). Undefined when it is loaded already or cannot be.
   */
  async reloadStream(jsa: JsAccount, name: string): Promise<Stream | undefined> {
    if (jsa.streams.has(name)) return undefined;
    const r = await this.storeFactory.recoverOne(jsa.name, name);
    return r && !jsa.streams.has(name) ? this.addRecovered(jsa, r) : undefined;
  }

  /** Used by snapshot restore: adopt a store that was filled from a snapshot. */
  adoptRestoredStream(jsa: JsAccount, cfg: StreamConfig, store: import('./store/types.js').StreamStore, createdNs: bigint): Stream {
    return jsa.addStream(cfg, store, createdNs);
  }

  get stores(): StoreFactory {
    return this.storeFactory;
  }
}

/** Create the JetStream subsystem for these options (caller checks options.jetstream.enabled). */
export function createJetStream(options: Options): JetStreamService {
  return new JetStreamService(options);
}
