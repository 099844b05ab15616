// The one typed object every part of the server reads its settings from.
// The config-file parser and the command-line flags both produce an Options;
// embedding callers pass a Partial<Options> to startServer().
//
// Units are in the names where they are not obvious: *_ms are milliseconds,
// *_bytes are bytes. Defaults follow nats-server's const.go.

export interface PermissionRule {
  allow?: string[];
  deny?: string[];
}

export interface Permissions {
  publish?: PermissionRule;
  subscribe?: PermissionRule;
  /** allow_responses: publishing to reply subjects of received requests */
  allowResponses?: { max: number; expiresMs: number };
}

export interface UserEntry {
  user?: string;
  password?: string;
  nkey?: string;
  permissions?: Permissions;
  allowedConnectionTypes?: string[];
  /** account name the user belongs to ($G when configured under authorization) */
  account?: string;
}

/** one destination of a weighted subject mapping (`mappings { a: [{dest: b, weight: 50%}] }`) */
export interface MappingDestination {
  subject: string;
  /** percent, 0..100 */
  weight: number;
  cluster?: string;
}

/** per-account connection limits (`accounts { A { limits { ... } } }`) */
export interface AccountLimits {
  maxConnections?: number;
  maxSubscriptions?: number;
  maxPayload?: number;
  maxLeafnodes?: number;
}

export interface AccountJetStreamLimits {
  enabled: boolean;
  maxMemory?: number;
  maxFile?: number;
  maxStreams?: number;
  maxConsumers?: number;
  maxAckPending?: number;
  maxBytesRequired?: boolean;
  memoryMaxStreamBytes?: number;
  storeMaxStreamBytes?: number;
}

export interface ExportEntry {
  stream?: string;
  service?: string;
  accounts?: string[];
  responseType?: 'singleton' | 'stream' | 'chunked';
  responseThresholdMs?: number;
  accountTokenPosition?: number;
  latency?: { subject: string; sampling: number | 'headers' };
  allowTrace?: boolean;
  /** operator mode: importers need an activation token signed by this account */
  tokenReq?: boolean;
  /** operator mode: revoked activations (importer key -> revoked at, seconds) */
  revocations?: Record<string, number>;
}

export interface ImportEntry {
  stream?: { account: string; subject: string };
  service?: { account: string; subject: string };
  prefix?: string;
  to?: string;
  share?: boolean;
  allowTrace?: boolean;
  /** operator mode: listed but no longer authorized (not applied; /accountz shows `invalid`) */
  invalid?: boolean;
}

export interface AccountConfig {
  name: string;
  users: UserEntry[];
  jetstream?: AccountJetStreamLimits;
  exports: ExportEntry[];
  imports: ImportEntry[];
  mappings: Record<string, string>;
  defaultPermissions?: Permissions;
  /** account public nkey (A...) */
  nkey?: string;
  limits?: AccountLimits;
  weightedMappings?: Record<string, MappingDestination[]>;
}

/** One trusted operator, decoded (and its self-signature checked) when the config was loaded. */
export interface TrustedOperator {
  jwt: string;
  /** operator public key (O...) */
  subject: string;
  /** operator signing keys (O...) */
  signingKeys: string[];
  /** strict_signing_key_usage: the identity key itself may not sign accounts */
  strictSigningKeyUsage: boolean;
  systemAccount?: string;
}

/** `operator` + `resolver: MEMORY` + `resolver_preload` (nats-server's memory account resolver). */
export interface OperatorModeOptions {
  operators: TrustedOperator[];
  /**
   * 'memory': resolver_preload only; 'full': the directory resolver (account JWTs in `dir`,
   * updated at run time through $SYS.REQ.ACCOUNT.<acc>.CLAIMS.UPDATE); 'none': operator given
   * without a resolver (refused at start, as nats-server)
   */
  resolver: 'memory' | 'full' | 'none';
  /** directory of the full resolver */
  dir?: string;
  /** full resolver: how long a lookup in the cluster waits (`timeout`; nats-server's default 1.9 s) */
  fetchTimeoutMs?: number;
  /** full resolver: how often the store is compared with the cluster's (`interval`; default 1 min) */
  syncIntervalMs?: number;
  /** account public key -> account JWT */
  preload: Record<string, string>;
}

export interface AuthorizationConfig {
  user?: string;
  password?: string;
  token?: string;
  timeoutSec?: number;
  users?: UserEntry[];
  defaultPermissions?: Permissions;
}

export interface TlsConfig {
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  verify?: boolean;
  timeoutSec?: number;
  handshakeFirst?: boolean;
  insecure?: boolean;
  /** handshake_first: "auto" / a duration: fall back to INFO-first after this delay */
  handshakeFirstFallbackMs?: number;
  verifyAndMap?: boolean;
  cipherSuites?: string[];
  curvePreferences?: string[];
  /** hex sha256 of the DER SubjectPublicKeyInfo of allowed peer certificates */
  pinnedCerts?: string[];
  /** e.g. "1.2", "1.3" */
  minVersion?: string;
  connectionRateLimit?: number;
  certificates?: { certFile: string; keyFile: string }[];
  allowInsecureCipherSuites?: boolean;
  /** keys tsnats parses but cannot act on (cert_store, ocsp_peer, ...): refused at start */
  unsupported?: string[];
}

/** The `websocket {}` block (nats-server WebsocketOpts). */
export interface WebsocketOptions {
  host: string;
  /** 0 = random (config -1), undefined = no websocket listener (config 0 or absent) */
  port?: number;
  advertise?: string;
  noTls: boolean;
  tls?: TlsConfig;
  sameOrigin: boolean;
  allowedOrigins: string[];
  /** 0 = none */
  handshakeTimeoutMs: number;
  compression: boolean;
  /** the block's own authorization (overrides the client port's single user/token) */
  username?: string;
  password?: string;
  token?: string;
  authTimeoutSec?: number;
  noAuthUser?: string;
  jwtCookie?: string;
}

export interface ClusterOptions {
  name?: string;
  host: string;
  /** 0 = random (config/flag -1), undefined = no cluster listener */
  port?: number;
  routes: string[];
  noAdvertise: boolean;
  advertise?: string;
  connectRetries: number;
  authorization?: { user?: string; password?: string; token?: string; timeoutSec?: number };
  poolSize?: number;
  pingIntervalMs?: number;
  pingMax?: number;
  writeDeadlineMs?: number;
  tls?: TlsConfig;
  /** route permissions: import = what may be received (publish), export = what may be sent (subscribe) */
  permissions?: { import?: PermissionRule; export?: PermissionRule };
  /** accounts that get a dedicated route connection (`accounts` in the cluster block) */
  pinnedAccounts?: string[];
  /** compression mode as written ("off", "accept", "s2_fast", ...) */
  compression?: string;
  connectBackoff?: boolean;
  writeTimeoutPolicy?: 'default' | 'close' | 'retry';
}

export interface JetStreamOptions {
  enabled: boolean;
  /** directory given by the user; the server stores under <storeDir>/jetstream */
  storeDir: string;
  maxMemoryBytes: number;
  maxFileBytes: number;
  domain?: string;
  /** fsync policy: 'always' = fsync before every PubAck (group-committed), or an interval in ms */
  syncIntervalMs: number | 'always';
  /** was a sync policy set explicitly by the user (config or flag)? */
  syncIntervalSet?: boolean;
  strict: boolean;
  uniqueTag?: string;
  maxOutstandingCatchupBytes?: number;
  limits?: {
    maxRequestBatch?: number;
    maxAckPending?: number;
    duplicateWindowMs?: number;
    maxHaAssets?: number;
  };
  requestQueueLimit?: number;
  maxBufferedMsgs?: number;
  maxBufferedSizeBytes?: number;
  /** How often long work (store recovery, catch-up, restore) logs its progress; default 5000 ms (tests set it low). */
  progressIntervalMs?: number;
}

export interface Options {
  // identity
  serverName?: string;
  serverTags: string[];
  serverMetadata: Record<string, string>;

  // client listener
  host: string;
  /** 0 = random port (config/flag -1) */
  port: number;
  clientAdvertise?: string;
  noHeaderSupport: boolean;

  // monitoring; undefined = off. 0 = random port.
  httpHost?: string;
  httpPort?: number;
  httpsPort?: number;
  httpBasePath: string;

  // files
  configFile?: string;
  portsFileDir?: string;
  pidFile?: string;

  // limits
  maxPayloadBytes: number;
  maxPendingBytes: number;
  maxControlLineBytes: number;
  maxConnections: number;
  /** 0 = unlimited */
  maxSubscriptions: number;
  /** 0 = unlimited */
  maxSubTokens: number;
  pingIntervalMs: number;
  pingMax: number;
  writeDeadlineMs: number;
  authTimeoutMs: number;
  lameDuckDurationMs: number;
  lameDuckGracePeriodMs: number;
  maxClosedClients: number;

  // logging
  debug: boolean;
  trace: boolean;
  traceVerbose: boolean;
  logtime: boolean;
  logtimeUtc: boolean;
  logFile?: string;
  logSizeLimitBytes: number;
  logMaxNum: number;
  syslog: boolean;
  remoteSyslog?: string;
  maxTracedMsgLen: number;

  // auth and accounts
  authorization?: AuthorizationConfig;
  accounts: AccountConfig[];
  noAuthUser?: string;
  systemAccount: string;
  noSystemAccount: boolean;
  tls?: TlsConfig;
  allowNonTls: boolean;
  /** subject mappings of the global account */
  mappings: Record<string, string>;

  // subsystems
  jetstream: JetStreamOptions;
  cluster?: ClusterOptions;
  websocket?: WebsocketOptions;
  /** the `leafnodes {}` block (undefined when absent: the leaf module is never loaded) */
  leafnodes?: LeafnodeOptions;

  /** config blocks that were accepted but whose feature tsnats does not have yet */
  unsupported: string[];
  /** operator (JWT) mode: trusted operators and the account resolver (src/auth/jwt-auth.ts) */
  operatorMode?: OperatorModeOptions;

  // less common settings (all optional)
  /** trace_headers: trace message headers (implies trace) */
  traceHeaders?: boolean;
  noSublistCache?: boolean;
  /** pprof-style profiling port (--profile, prof_port) */
  profPort?: number;
  featureFlags?: Record<string, boolean>;
  writeTimeoutPolicy?: 'default' | 'close' | 'retry';
  /** weighted subject mappings of the global account */
  weightedMappings?: Record<string, MappingDestination[]>;
  connectErrorReports?: number;
  reconnectErrorReports?: number;
  noFastProducerStall?: boolean;
}

export const DEFAULT_PORT = 4222;
export const DEFAULT_HTTP_PORT = 8222;
export const DEFAULT_CLUSTER_PORT = 6222;
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
export const DEFAULT_MAX_PENDING = 64 * 1024 * 1024;
export const DEFAULT_MAX_CONTROL_LINE = 4096;
export const DEFAULT_MAX_CONNECTIONS = 64 * 1024;
export const DEFAULT_PING_INTERVAL_MS = 2 * 60 * 1000;
export const DEFAULT_PING_MAX = 2;
export const DEFAULT_WRITE_DEADLINE_MS = 10 * 1000;
/** allow_responses defaults (nats-server DEFAULT_ALLOW_RESPONSE_MAX_MSGS / _EXPIRATION) */
export const DEFAULT_ALLOW_RESPONSE_MAX_MSGS = 1;
export const DEFAULT_ALLOW_RESPONSE_EXPIRATION_MS = 2 * 60 * 1000;

/** A response permission with nats-server's defaults for zero values (negative: no limit). */
export function responsePermission(max = 0, expiresMs = 0): { max: number; expiresMs: number } {
  return {
    max: max === 0 ? DEFAULT_ALLOW_RESPONSE_MAX_MSGS : max,
    expiresMs: expiresMs === 0 ? DEFAULT_ALLOW_RESPONSE_EXPIRATION_MS : expiresMs,
  };
}
export const DEFAULT_AUTH_TIMEOUT_MS = 2 * 1000;
export const DEFAULT_LAME_DUCK_DURATION_MS = 2 * 60 * 1000;
export const DEFAULT_LAME_DUCK_GRACE_PERIOD_MS = 10 * 1000;
export const DEFAULT_MAX_CLOSED_CLIENTS = 10000;
export const DEFAULT_SYSTEM_ACCOUNT = '$SYS';
export const GLOBAL_ACCOUNT = '$G';
export const DEFAULT_JS_SYNC_INTERVAL_MS = 2 * 60 * 1000;

export function defaultJetStreamOptions(): JetStreamOptions {
  return {
    enabled: false,
    storeDir: '',
    maxMemoryBytes: -1,
    maxFileBytes: -1,
    // tsnats default: durable PubAcks (fsync before ack, group-committed).
    syncIntervalMs: 'always',
    strict: true,
  };
}

export function defaultOptions(): Options {
  return {
    serverTags: [],
    serverMetadata: {},
    host: '0.0.0.0',
    port: DEFAULT_PORT,
    noHeaderSupport: false,
    httpBasePath: '',
    maxPayloadBytes: DEFAULT_MAX_PAYLOAD,
    maxPendingBytes: DEFAULT_MAX_PENDING,
    maxControlLineBytes: DEFAULT_MAX_CONTROL_LINE,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    maxSubscriptions: 0,
    maxSubTokens: 0,
    pingIntervalMs: DEFAULT_PING_INTERVAL_MS,
    pingMax: DEFAULT_PING_MAX,
    writeDeadlineMs: DEFAULT_WRITE_DEADLINE_MS,
    authTimeoutMs: DEFAULT_AUTH_TIMEOUT_MS,
    lameDuckDurationMs: DEFAULT_LAME_DUCK_DURATION_MS,
    lameDuckGracePeriodMs: DEFAULT_LAME_DUCK_GRACE_PERIOD_MS,
    maxClosedClients: DEFAULT_MAX_CLOSED_CLIENTS,
    debug: false,
    trace: false,
    traceVerbose: false,
    logtime: true,
    logtimeUtc: false,
    logSizeLimitBytes: 0,
    logMaxNum: 0,
    syslog: false,
    maxTracedMsgLen: 0,
    accounts: [],
    systemAccount: DEFAULT_SYSTEM_ACCOUNT,
    noSystemAccount: false,
    allowNonTls: false,
    mappings: {},
    jetstream: defaultJetStreamOptions(),
    unsupported: [],
  };
}

/** Overlay a partial Options (embedding callers, flags) on a full one. Nested
 *  jetstream/cluster objects are merged one level deep. */
export function mergeOptions(base: Options, over: Partial<Options>): Options {
  const out: Options = { ...base };
  for (const [k, v] of Object.entries(over) as [keyof Options, unknown][]) {
    if (v === undefined) continue;
    if (k === 'jetstream') {
      out.jetstream = { ...base.jetstream, ...(v as Partial<JetStreamOptions>) };
    } else if (k === 'cluster') {
      const c = v as Partial<ClusterOptions>;
      out.cluster = {
        host: '0.0.0.0', routes: [], noAdvertise: false, connectRetries: 0,
        ...(base.cluster ?? {}), ...c,
      };
    } else {
      (out as unknown as Record<string, unknown>)[k] = v;
    }
  }
  return out;
}

/** A user of `leafnodes { authorization { users [...] } }`. */
export interface LeafUser { user: string; password: string; account?: string }

/** One entry of `leafnodes { remotes [...] }`: a hub this server dials. */
export interface LeafRemoteOptions {
  urls: string[];
  /** local account bound to this connection (default $G) */
  account?: string;
  credentials?: string;
  hub?: boolean;
  /** TLS of the link (also used when the url is tls:// or the hub's INFO requires TLS) */
  tls?: TlsConfig;
  /** subjects whose messages never come in from the hub (nor is our interest in them sent) */
  denyImports?: string[];
  /** subjects whose messages never go out to the hub (the hub's interest in them is ignored) */
  denyExports?: string[];
  /** ws:// and wss:// urls: offer permessage-deflate (`ws_compression`) */
  wsCompression?: boolean;
  /** ws:// and wss:// urls: ask the hub to take unmasked frames (`ws_no_masking`) */
  wsNoMasking?: boolean;
}

/** The `leafnodes {}` block (nats-server LeafNodeOpts, the parts tsnats implements). */
export interface LeafnodeOptions {
  host: string;
  /** 0 = random, undefined = no leafnode listener */
  port?: number;
  advertise?: string;
  user?: string;
  password?: string;
  /** account that leaf connections authenticating with user/password (or none) bind to */
  account?: string;
  users: LeafUser[];
  authTimeoutMs?: number;
  /** `leafnodes { tls {} }`: accepted leaf connections upgrade to TLS after the INFO */
  tls?: TlsConfig;
  remotes: LeafRemoteOptions[];
  /** delay between dial attempts of a remote */
  reconnectMs: number;
}
