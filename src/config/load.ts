// Load a nats-server configuration file into Options.
//
// Every top-level key nats-server knows is accepted (case-insensitively, with
// its aliases); keys of features tsnats does not have yet (gateway,
// mqtt, operator/JWT mode, ...) are accepted, listed in
// options.unsupported and reported as notices, never rejected. An unknown key
// is an error, unless it was used as a $variable (nats-server accepts those).
// All errors of a file are collected and thrown together as one ConfigError
// whose `errors` lists each of them.

import { ConfigError, parseConfigFile, parseConfigText, type ConfMap, type ConfNode } from './parser.js';
import { formatGoDuration, goQuote } from './duration.js';
import {
  Collector, bool, clientPortFromConfig, entries, goType, int, optionalPortFromConfig,
  parseDurationField, parseListen, str, strictDurationMs,
} from './load-util.js';
import { checkDuplicateUsers, noAuthUserError, parseAccounts, parseAuthorizationBlock, parseMappings } from './load-auth.js';
import { parseWebsocket, validateWebsocketOptions } from './load-websocket.js';
import { finishOperatorMode, parseOperatorKey, parsePreloadKey, parseResolverKey, validateOperatorMode, type OperatorKeys } from './load-operator.js';
import { parseLeafnodes } from './load-leafnodes.js';
import { parseCluster, parseJetStream, parseTls, parseWriteTimeoutPolicy, type StoreDirState } from './load-blocks.js';
import {
  DEFAULT_PORT, GLOBAL_ACCOUNT, defaultOptions, type Options, type UserEntry,
} from './options.js';

export { ConfigError } from './parser.js';

export interface ConfigLoadResult {
  /** defaults overlaid with everything the file sets */
  options: Options;
  /**
   * nats-server's configuration warnings (deprecated forms such as an integer
   * ping_interval), formatted `<file>:<line>:<col>: invalid use of field ...`.
   * nats-server prints them and starts; with -t it reports them and fails.
   */
  warnings: string[];
  /** one line per accepted-but-unsupported feature, for the server log */
  notices: string[];
  /** the option names (lower-cased, as written) that the file set: lets flags know what the file decided */
  keysSet: string[];
}

/** Keys of blocks tsnats accepts but does not implement yet (alias -> reported name). */
const UNSUPPORTED_KEYS: Record<string, string> = {
  gateway: 'gateway',
  mqtt: 'mqtt',
  resolver_tls: 'resolver_tls',
  resolver_pinned_accounts: 'resolver_pinned_accounts',
  trusted: 'trusted_keys',
  trusted_keys: 'trusted_keys',
  ocsp: 'ocsp',
  ocsp_cache: 'ocsp_cache',
  proxies: 'proxies',
  default_js_domain: 'default_js_domain',
  default_sentinel: 'default_sentinel',
};

const MAX_INT32 = 2 ** 31 - 1;

/** Load and check a configuration file. Throws ConfigError (all errors in `.errors`). */
export function loadConfigFile(path: string): ConfigLoadResult {
  const root = parseConfigFile(path);
  return optionsFromConfig(root, path);
}

/** Same as loadConfigFile for text in memory (`file` names it in messages and anchors includes). */
export function loadConfigText(text: string, file = ''): ConfigLoadResult {
  return optionsFromConfig(parseConfigText(text, file), file);
}

/** Map a parsed configuration tree onto Options. */
export function optionsFromConfig(root: ConfMap, file: string): ConfigLoadResult {
  const o = defaultOptions();
  o.configFile = file || undefined;
  const c = new Collector();
  const storeDir: StoreDirState = {};
  const st: TopLevelState = { storeDir, authUsers: undefined, authSet: false, tlsTimeoutSet: false, authTimeoutSet: false,
    operator: {}, systemAccountSet: false };
  const keysSet: string[] = [];

  if (root.size === 0) c.warnings.push(new ConfigError(file, 0, 0, `${file}: config has no values or is empty`));

  // The system account is read first: other settings may depend on it.
  const sys = root.get('system_account') ?? root.get('system');
  if (sys) {
    c.guard(() => {
      if (sys.kind !== 'string') throw ConfigError.at(sys, 'system account name must be a string');
      o.systemAccount = sys.value;
      st.systemAccountSet = true;
    });
  }

  for (const [k, key, v] of entries(root)) {
    keysSet.push(k);
    c.guard(() => topLevel(k, key, v, o, st, c));
  }

  c.guard(() => finish(o, st, c));

  if (c.errors.length > 0) {
    const all = sortByPosition(c.errors);
    const first = all[0];
    const err = new ConfigError(first.file, first.line, first.col, first.reason);
    err.errors = all;
    if (all.length > 1) err.message = all.map((e) => e.message).join('\n');
    throw err;
  }
  o.unsupported = [...c.unsupported];
  return {
    options: o,
    warnings: sortByPosition(c.warnings).map((w) => w.message),
    notices: c.notices,
    keysSet,
  };
}

function sortByPosition(errs: ConfigError[]): ConfigError[] {
  // Errors are collected key by key; report them in file order.
  return [...errs].sort((a, b) =>
    a.file === b.file ? a.line - b.line || a.col - b.col : a.file < b.file ? -1 : 1);
}

interface TopLevelState {
  storeDir: StoreDirState;
  /** users of the authorization block (present when it has a `users` array) */
  authUsers: UserEntry[] | undefined;
  authSet: boolean;
  authTimeoutSet: boolean;
  tlsTimeoutSet: boolean;
  authNode?: ConfNode;
  accountsNode?: ConfNode;
  operator: OperatorKeys;
  systemAccountSet: boolean;
}

function topLevel(k: string, key: string, v: ConfNode, o: Options, st: TopLevelState, c: Collector): void {
  const unsupported = UNSUPPORTED_KEYS[k];
  if (unsupported) {
    c.notSupported(v, unsupported);
    // TLS asked for a listener tsnats does not have: refused at start (config/tls-unsupported.ts).
    if (v.kind === 'map' && [...v.value].some(([bk]) => bk.toLowerCase() === 'tls')) c.notSupported(v, `${unsupported} tls`);
    return;
  }
  switch (k) {
    case 'listen': {
      const hp = parseListen(v);
      if (hp.host !== undefined) o.host = hp.host === '' ? '0.0.0.0' : hp.host;
      o.port = clientPortFromConfig(hp.port, DEFAULT_PORT);
      break;
    }
    case 'client_advertise':
      o.clientAdvertise = str(v);
      break;
    case 'port':
      o.port = clientPortFromConfig(int(v), DEFAULT_PORT);
      break;
    case 'server_name': {
      const name = str(v);
      if (name.includes(' ')) return c.error(v, 'server name cannot contain spaces');
      o.serverName = name;
      break;
    }
    case 'host':
    case 'net':
      o.host = str(v);
      break;
    case 'debug':
      o.debug = bool(v);
      break;
    case 'trace':
      o.trace = bool(v);
      break;
    case 'trace_verbose':
      o.traceVerbose = bool(v);
      o.trace = o.traceVerbose;
      break;
    case 'trace_headers':
      o.traceHeaders = bool(v);
      o.trace = o.traceHeaders;
      break;
    case 'logtime':
      o.logtime = bool(v);
      break;
    case 'logtime_utc':
      o.logtimeUtc = bool(v);
      break;
    case 'mappings':
    case 'maps': {
      const { simple, weighted } = parseMappings(v, c);
      Object.assign(o.mappings, simple);
      if (Object.keys(weighted).length > 0) o.weightedMappings = { ...o.weightedMappings, ...weighted };
      break;
    }
    case 'disable_sublist_cache':
    case 'no_sublist_cache':
      o.noSublistCache = bool(v);
      break;
    case 'accounts':
      st.accountsNode = v;
      o.accounts.push(...parseAccounts(v, c));
      break;
    case 'authorization': {
      const auth = parseAuthorizationBlock(v, c, GLOBAL_ACCOUNT);
      st.authNode = v;
      st.authSet = true;
      if ((auth.user || auth.password) && auth.token) return c.error(v, 'Cannot have a user/pass and token');
      if (auth.users && auth.user) return c.error(v, 'Can not have a single user/pass and a users array');
      if (auth.users && auth.token) return c.error(v, 'Can not have a token and a users array');
      o.authorization = {
        user: auth.user,
        password: auth.password,
        token: auth.token,
        timeoutSec: auth.timeoutSec,
        users: auth.users,
        defaultPermissions: auth.defaultPermissions,
      };
      st.authUsers = auth.users;
      if (auth.timeoutSec !== undefined && auth.timeoutSec > 0) {
        o.authTimeoutMs = auth.timeoutSec * 1000;
        st.authTimeoutSet = true;
      }
      break;
    }
    case 'http': {
      const hp = parseListen(v);
      if (hp.host !== undefined && hp.host !== '') o.httpHost = hp.host;
      o.httpPort = optionalPortFromConfig(hp.port);
      break;
    }
    case 'https': {
      const hp = parseListen(v);
      if (hp.host !== undefined && hp.host !== '') o.httpHost = hp.host;
      o.httpsPort = optionalPortFromConfig(hp.port);
      break;
    }
    case 'http_port':
    case 'monitor_port':
      o.httpPort = optionalPortFromConfig(int(v));
      break;
    case 'https_port':
      o.httpsPort = optionalPortFromConfig(int(v));
      break;
    case 'http_base_path':
      o.httpBasePath = str(v);
      break;
    case 'cluster':
      o.cluster = parseCluster(v, c);
      break;
    case 'leaf':
    case 'leafnodes':
      o.leafnodes = parseLeafnodes(v, c);
      break;
    case 'websocket':
    case 'ws':
      o.websocket = parseWebsocket(v, c);
      break;
    case 'store_dir':
    case 'storedir':
      if (st.storeDir.value !== undefined && st.storeDir.value !== '') {
        return c.error(v, "Duplicate 'store_dir' configuration");
      }
      st.storeDir.value = str(v);
      break;
    case 'jetstream':
      parseJetStream(v, o.jetstream, st.storeDir, c);
      break;
    case 'logfile':
    case 'log_file':
      o.logFile = str(v);
      break;
    case 'logfile_size_limit':
    case 'log_size_limit':
      o.logSizeLimitBytes = int(v);
      break;
    case 'logfile_max_num':
    case 'log_max_num':
      o.logMaxNum = int(v);
      break;
    case 'syslog':
      o.syslog = bool(v);
      break;
    case 'remote_syslog':
      o.remoteSyslog = str(v);
      break;
    case 'pidfile':
    case 'pid_file':
      o.pidFile = str(v);
      break;
    case 'ports_file_dir':
      o.portsFileDir = str(v);
      break;
    case 'prof_port':
      o.profPort = int(v);
      break;
    case 'prof_block_rate':
      int(v);
      break;
    case 'max_control_line': {
      const n = int(v);
      if (n > MAX_INT32) return c.error(v, `${key} value is too big`);
      o.maxControlLineBytes = n;
      break;
    }
    case 'max_payload': {
      const n = int(v);
      if (n > MAX_INT32) return c.error(v, `${key} value is too big`);
      o.maxPayloadBytes = n;
      break;
    }
    case 'max_pending':
      o.maxPendingBytes = int(v);
      break;
    case 'proxy_protocol':
      if (bool(v)) c.notSupported(v, 'proxy_protocol');
      break;
    case 'max_connections':
    case 'max_conn': {
      const n = int(v);
      // nats-server: 0 in the file means "no connections" (-1), not "unlimited"
      o.maxConnections = n === 0 ? -1 : n;
      break;
    }
    case 'max_traced_msg_len':
      o.maxTracedMsgLen = int(v);
      break;
    case 'max_subscriptions':
    case 'max_subs':
      o.maxSubscriptions = int(v);
      break;
    case 'max_sub_tokens':
    case 'max_subscription_tokens': {
      const n = int(v);
      if (n > 255) return c.error(v, `${key} value is too big`);
      if (n <= 0) return c.error(v, `${key} value can not be negative`);
      o.maxSubTokens = n;
      break;
    }
    case 'ping_interval': {
      const ms = parseDurationField('ping_interval', v, c);
      if (ms !== undefined) o.pingIntervalMs = ms;
      break;
    }
    case 'ping_max':
      o.pingMax = int(v);
      break;
    case 'tls': {
      const t = parseTls(v, true);
      o.tls = t;
      if (t.timeoutSec !== undefined && t.timeoutSec > 0) st.tlsTimeoutSet = true;
      break;
    }
    case 'allow_non_tls':
      o.allowNonTls = bool(v);
      break;
    case 'write_deadline': {
      const ms = parseDurationField('write_deadline', v, c);
      if (ms !== undefined) o.writeDeadlineMs = ms;
      break;
    }
    case 'write_timeout':
      o.writeTimeoutPolicy = parseWriteTimeoutPolicy(v);
      break;
    case 'lame_duck_duration': {
      const ms = strictDurationMs(v, 'error parsing lame_duck_duration: ');
      if (ms < 30_000) {
        return c.error(v, `invalid lame_duck_duration of ${formatGoDuration(ms * 1e6)}, minimum is 30 seconds`);
      }
      o.lameDuckDurationMs = ms;
      break;
    }
    case 'lame_duck_grace_period': {
      const ms = strictDurationMs(v, 'error parsing lame_duck_grace_period: ');
      if (ms < 0) return c.error(v, 'invalid lame_duck_grace_period, needs to be positive');
      o.lameDuckGracePeriodMs = ms;
      break;
    }
    case 'operator':
    case 'operators':
    case 'roots':
    case 'root':
    case 'root_operators':
    case 'root_operator':
      parseOperatorKey(v, st.operator, c);
      break;
    case 'resolver':
    case 'account_resolver':
    case 'accounts_resolver':
      parseResolverKey(v, st.operator, c);
      break;
    case 'resolver_preload':
      parsePreloadKey(v, st.operator, c);
      break;
    case 'no_auth_user':
      o.noAuthUser = str(v);
      break;
    case 'system_account':
    case 'system':
      // read before the other keys
      break;
    case 'no_system_account':
    case 'no_system':
    case 'no_sys_acc':
      o.noSystemAccount = bool(v);
      break;
    case 'no_header_support':
      o.noHeaderSupport = bool(v);
      break;
    case 'connect_error_reports':
      o.connectErrorReports = int(v);
      break;
    case 'reconnect_error_reports':
      o.reconnectErrorReports = int(v);
      break;
    case 'server_tags':
      o.serverTags = parseTags(v);
      break;
    case 'server_metadata': {
      if (v.kind !== 'map') return c.error(v, `error parsing metadata: unsupported type ${goType(v)}`);
      for (const [mk, mv] of v.value) o.serverMetadata[mk] = str(mv);
      break;
    }
    case 'feature_flags': {
      if (v.kind !== 'map') return c.error(v, `error parsing feature flags: unsupported type ${goType(v)}`);
      const flags: Record<string, boolean> = {};
      for (const [fk, fv] of v.value) {
        if (fv.kind !== 'bool') return c.error(fv, `error parsing feature flag ${goQuote(fk)}: expected bool, got ${goType(fv)}`);
        flags[fk] = fv.value;
      }
      o.featureFlags = flags;
      break;
    }
    case 'no_fast_producer_stall':
      o.noFastProducerStall = bool(v);
      break;
    case 'max_closed_clients':
      o.maxClosedClients = int(v);
      break;
    default:
      c.unknownField(v, key);
  }
}

function parseTags(v: ConfNode): string[] {
  const tags: string[] = [];
  const add = (t: string): void => {
    // nats-server keeps tags lower-cased and unique
    const lower = t.toLowerCase();
    if (!tags.includes(lower)) tags.push(lower);
  };
  if (v.kind === 'string') add(v.value);
  else if (v.kind === 'array') {
    for (const e of v.value) {
      if (e.kind !== 'string') throw ConfigError.at(v, 'error parsing tags: unsupported type *conf.token where string is expected');
      add(e.value);
    }
  } else throw ConfigError.at(v, `error parsing tags: unsupported type ${goType(v)}`);
  return tags;
}

/** Checks that need the whole file (nats-server does them while processing, in map order). */
function finish(o: Options, st: TopLevelState, c: Collector): void {
  if (st.storeDir.value !== undefined) o.jetstream.storeDir = st.storeDir.value;
  finishOperatorMode(o, st.operator, st.systemAccountSet);

  const accountUsers = o.accounts.flatMap((a) => a.users);
  if (accountUsers.length > 0 && o.authorization) {
    const at = st.authNode!;
    if (o.authorization.user) c.error(at, 'Can not have a single user/pass and accounts');
    else if (o.authorization.token) c.error(at, 'Can not have a token and accounts');
  }
  checkDuplicateUsers([...(st.authUsers ?? []), ...accountUsers], c);

  // With TLS and no explicit authorization timeout, nats-server allows the TLS
  // handshake time plus one second for the CONNECT.
  if (o.tls && !st.authTimeoutSet) {
    const tlsTimeoutSec = st.tlsTimeoutSet ? o.tls.timeoutSec! : 2;
    o.authTimeoutMs = (tlsTimeoutSec + 1) * 1000;
  }
}

/**
 * Semantic checks nats-server runs when the server starts (validateOptions), not
 * at -t: max_payload vs max_pending, lame duck timings, name spaces. Returns the
 * error message or undefined.
 */
export function validateOptions(o: Options): string | undefined {
  if (o.lameDuckDurationMs > 0 && o.lameDuckGracePeriodMs >= o.lameDuckDurationMs) {
    return `lame duck grace period (${formatGoDuration(o.lameDuckGracePeriodMs * 1e6)}) should be strictly lower than lame duck duration (${formatGoDuration(o.lameDuckDurationMs * 1e6)})`;
  }
  if (o.maxPayloadBytes > o.maxPendingBytes) {
    return `max_payload (${o.maxPayloadBytes}) cannot be higher than max_pending (${o.maxPendingBytes})`;
  }
  if (o.serverName !== undefined && o.serverName.includes(' ')) return 'server name cannot contain spaces';
  if (o.cluster?.name !== undefined && o.cluster.name.includes(' ')) return 'cluster name cannot contain spaces';
  if (o.jetstream.enabled && o.cluster?.port !== undefined && !o.serverName) return 'jetstream cluster requires `server_name` to be set';
  if (o.jetstream.enabled && o.cluster?.port !== undefined && !o.cluster.name) return 'jetstream cluster requires `cluster.name` to be set';
  if (o.httpsPort !== undefined && !o.tls?.certFile && !o.tls?.certificates) return 'TLS cert and key required for HTTPS';
  const op = validateOperatorMode(o);
  if (op !== undefined) return op;
  if (o.noAuthUser) {
    const bad = noAuthUserError(o, o.noAuthUser);
    if (bad !== undefined) return bad;
  }
  return validateWebsocketOptions(o);
}
