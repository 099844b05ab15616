// The `jetstream {}`, `cluster {}` and `tls {}` blocks of a nats-server config
// file (nats-server opts.go parseJetStream, parseCluster, parseTLS +
// GenTLSConfig), mapped onto Options.

import { readFileSync } from 'node:fs';
import { ConfigError, type ConfNode } from './parser.js';
import { tls } from '../core/lazy-modules.js';
import { goQuote, parseGoDurationMs, DurationError } from './duration.js';
import {
  Collector, arrOf, bool, entries, goType, goValue, int, mapOf, optionalPortFromConfig, parseDurationField,
  parseListen, storageSize, str, strictDurationMs,
} from './load-util.js';
import { parseAuthorizationBlock, parsePermissions } from './load-auth.js';
import { tlsNamesError } from './tls-names.js';
import type { ClusterOptions, JetStreamOptions, Options, TlsConfig } from './options.js';

const ROUTE_MAX_PING_INTERVAL_MS = 30_000;

// ---- jetstream ----------------------------------------------------------------------

/** Tracks the one store directory settable at top level or in the jetstream block. */
export interface StoreDirState {
  value?: string;
}

function sizeOrError(v: ConfNode, name: string): number {
  try {
    return storageSize(v);
  } catch (e) {
    throw ConfigError.at(v, `${name} ${(e as Error).message}`);
  }
}

function parseableSize(v: ConfNode, key: string): number {
  if (v.kind !== 'integer') throw ConfigError.at(v, `Expected a parseable size for ${goQuote(key)}, got ${goValue(v)}`);
  return v.value;
}

/** nats-server parseJetStream. `js` is updated in place. */
export function parseJetStream(n: ConfNode, js: JetStreamOptions, storeDir: StoreDirState, c: Collector): void {
  if (n.kind === 'bool') {
    js.enabled = n.value;
    return;
  }
  if (n.kind === 'string') {
    const s = n.value.toLowerCase();
    if (s === 'enabled' || s === 'enable') js.enabled = true;
    else if (s === 'disabled' || s === 'disable') js.enabled = false;
    else throw ConfigError.at(n, `Expected 'enabled' or 'disabled' for string value, got '${n.value}'`);
    return;
  }
  if (n.kind !== 'map') {
    throw ConfigError.at(n, `Expected map, bool or string to define JetStream, got ${goType(n)}`);
  }
  let enable = true;
  for (const [k, key, v] of entries(n.value)) {
    switch (k) {
      case 'strict':
        if (v.kind !== 'bool') throw ConfigError.at(v, `Expected 'true' or 'false' for bool value, got '${goValue(v)}'`);
        js.strict = v.value;
        break;
      case 'store':
      case 'store_dir':
      case 'storedir':
        if (storeDir.value !== undefined && storeDir.value !== '') {
          throw ConfigError.at(v, "Duplicate 'store_dir' configuration");
        }
        storeDir.value = str(v);
        break;
      case 'sync':
      case 'sync_interval':
        if (v.kind === 'string' && v.value.toLowerCase() === 'always') {
          js.syncIntervalMs = 'always';
        } else {
          const ms = parseDurationField(key, v, c);
          if (ms !== undefined) js.syncIntervalMs = ms;
        }
        js.syncIntervalSet = true;
        break;
      case 'max_memory_store':
      case 'max_mem_store':
      case 'max_mem':
        js.maxMemoryBytes = sizeOrError(v, 'max_mem_store');
        break;
      case 'max_file_store':
      case 'max_file':
        js.maxFileBytes = sizeOrError(v, 'max_file_store');
        break;
      case 'domain':
        js.domain = str(v);
        break;
      case 'enable':
      case 'enabled':
        enable = bool(v);
        break;
      case 'key':
      case 'ek':
      case 'encryption_key':
      case 'prev_key':
      case 'prev_ek':
      case 'prev_encryption_key':
        str(v);
        c.notSupported(v, 'jetstream encryption');
        break;
      case 'cipher': {
        const cipher = str(v).toLowerCase();
        if (!['chacha', 'chachapoly', 'aes'].includes(cipher)) {
          throw ConfigError.at(v, `Unknown cipher type: ${goQuote(v.kind === 'string' ? v.value : '')}`);
        }
        c.notSupported(v, 'jetstream encryption');
        break;
      }
      case 'tpm':
        mapOf(v);
        c.notSupported(v, 'jetstream tpm');
        break;
      case 'extension_hint':
        str(v);
        break;
      case 'limits':
        parseJetStreamLimits(v, js, c);
        break;
      case 'unique_tag':
        js.uniqueTag = str(v).trim().toLowerCase();
        break;
      case 'max_outstanding_catchup':
        js.maxOutstandingCatchupBytes = sizeOrError(v, k);
        break;
      case 'max_buffered_size':
        js.maxBufferedSizeBytes = sizeOrError(v, k);
        break;
      case 'max_buffered_msgs':
        js.maxBufferedMsgs = parseableSize(v, key);
        break;
      case 'request_queue_limit':
        js.requestQueueLimit = parseableSize(v, key);
        break;
      case 'info_queue_limit':
        parseableSize(v, key);
        break;
      case 'meta_compact':
        if (v.kind !== 'integer' || v.value < 0) {
          throw ConfigError.at(v, `Expected an absolute size for ${goQuote(key)}, got ${goValue(v)}`);
        }
        break;
      case 'meta_compact_size':
        if (sizeOrError(v, k) < 0) throw ConfigError.at(v, `Expected an absolute size for ${goQuote(key)}, got ${goValue(v)}`);
        break;
      case 'meta_compact_sync':
        bool(v);
        break;
      case 'max_concurrent_io':
        if (v.kind !== 'integer' || v.value < 4 || v.value > 8192) {
          throw ConfigError.at(v, `Expected an absolute size for ${goQuote(key)} between 4 and 8192, got ${goValue(v)}`);
        }
        break;
      default:
        c.unknownField(v, key);
    }
  }
  js.enabled = enable;
}

function parseJetStreamLimits(n: ConfNode, js: JetStreamOptions, c: Collector): void {
  if (n.kind !== 'map') throw ConfigError.at(n, `Expected a map to define JetStreamLimits, got ${goType(n)}`);
  const limits: NonNullable<JetStreamOptions['limits']> = {};
  for (const [k, key, v] of entries(n.value)) {
    switch (k) {
      case 'max_ack_pending':
        limits.maxAckPending = int(v);
        break;
      case 'max_ha_assets':
        limits.maxHaAssets = int(v);
        break;
      case 'max_request_batch':
        limits.maxRequestBatch = int(v);
        break;
      case 'duplicate_window':
        try {
          limits.duplicateWindowMs = parseGoDurationMs(str(v));
        } catch (e) {
          if (!(e instanceof DurationError)) throw e;
          c.error(v, e.message);
        }
        break;
      case 'batch':
        for (const [bk, bkey, bv] of entries(mapOf(v))) {
          if (['max_inflight_per_stream', 'max_inflight_total', 'max_msgs'].includes(bk)) int(bv);
          else if (bk === 'timeout') strictDurationMs(bv, '');
          else c.unknownField(bv, bkey);
        }
        break;
      default:
        c.unknownField(v, key);
    }
  }
  js.limits = limits;
}

// ---- tls -----------------------------------------------------------------------------

const TLS_VERSIONS = ['1.0', '1.1', '1.2', '1.3'];

function tlsError(v: ConfNode, what: string): ConfigError {
  return ConfigError.at(v, `error parsing tls config, ${what}`);
}

/** nats-server parseTLS. `clientContext` is true for the client listener (top-level tls). */
export function parseTls(n: ConfNode, clientContext: boolean): TlsConfig {
  const m = mapOf(n);
  const t: TlsConfig = {};
  const expectString = (v: ConfNode, key: string): string => {
    if (v.kind !== 'string') throw tlsError(v, `expected '${key}' to be filename`);
    return v.value;
  };
  const expectBool = (v: ConfNode, key: string): boolean => {
    if (v.kind !== 'bool') throw tlsError(v, `expected '${key}' to be a boolean`);
    return v.value;
  };
  const stringList = (v: ConfNode, key: string): string[] => {
    const a = arrOf(v);
    if (a.length === 0) throw tlsError(v, `'${key}' cannot be empty`);
    return a.map(str);
  };
  for (const [k, key, v] of entries(m)) {
    switch (k) {
      case 'cert_file':
        t.certFile = expectString(v, 'cert_file');
        break;
      case 'key_file':
        t.keyFile = expectString(v, 'key_file');
        break;
      case 'ca_file':
        t.caFile = expectString(v, 'ca_file');
        break;
      case 'insecure':
        t.insecure = expectBool(v, 'insecure');
        break;
      case 'verify':
        t.verify = expectBool(v, 'verify');
        break;
      case 'verify_and_map':
        t.verifyAndMap = expectBool(v, 'verify_and_map');
        if (t.verifyAndMap) t.verify = true;
        break;
      case 'verify_cert_and_check_known_urls': {
        const b = expectBool(v, 'verify_cert_and_check_known_urls');
        if (b && clientContext) throw ConfigError.at(v, 'verify_cert_and_check_known_urls not supported in this context');
        if (b) {
          t.verify = true;
          (t.unsupported ??= []).push(k);
        }
        break;
      }
      case 'allow_insecure_cipher_suites':
        t.allowInsecureCipherSuites = expectBool(v, 'allow_insecure_cipher_suites');
        break;
      case 'cipher_suites':
        t.cipherSuites = stringList(v, 'cipher_suites');
        break;
      case 'curve_preferences':
        t.curvePreferences = stringList(v, 'curve_preferences');
        break;
      case 'timeout':
        if (v.kind === 'integer' || v.kind === 'float') t.timeoutSec = v.value;
        else if (v.kind === 'string') t.timeoutSec = strictDurationMs(v, "error parsing tls config, 'timeout' ") / 1000;
        else throw tlsError(v, "'timeout' wrong type");
        break;
      case 'connection_rate_limit':
        if (v.kind !== 'integer') throw tlsError(v, "'connection_rate_limit' wrong type");
        t.connectionRateLimit = v.value;
        break;
      case 'pinned_certs': {
        if (v.kind !== 'array') {
          throw tlsError(v, "expected 'pinned_certs' to be a list of hex-encoded sha256 of DER encoded SubjectPublicKeyInfo");
        }
        t.pinnedCerts = v.value.map((e) => {
          const entry = str(e).toLowerCase();
          if (!/^[a-f0-9]{64}$/.test(entry)) {
            throw tlsError(e, `'pinned_certs' key ${entry} does not look like hex-encoded sha256 of DER encoded SubjectPublicKeyInfo`);
          }
          return entry;
        });
        break;
      }
      case 'handshake_first':
      case 'first':
      case 'immediate':
        if (v.kind === 'bool') {
          t.handshakeFirst = v.value;
        } else if (v.kind === 'string') {
          const s = v.value.toLowerCase();
          if (s === 'true' || s === 'on') t.handshakeFirst = true;
          else if (s === 'false' || s === 'off') t.handshakeFirst = false;
          else if (s === 'auto' || s === 'auto_fallback') {
            t.handshakeFirst = true;
            t.handshakeFirstFallbackMs = 50;
          } else {
            try {
              t.handshakeFirstFallbackMs = parseGoDurationMs(v.value);
              t.handshakeFirst = true;
            } catch {
              throw ConfigError.at(v, `field ${goQuote(key)}'s value ${goQuote(v.value)} is invalid`);
            }
          }
        } else {
          throw ConfigError.at(v, `field ${goQuote(key)} should be a boolean or a string, got ${goType(v)}`);
        }
        break;
      case 'min_version': {
        if (v.kind !== 'string') throw ConfigError.at(v, `error parsing tls config: 'min_version' wrong type: ${goValue(v)}`);
        if (!TLS_VERSIONS.includes(v.value)) throw ConfigError.at(v, `error parsing tls config: unknown version: ${v.value}`);
        if (v.value === '1.0' || v.value === '1.1') {
          throw ConfigError.at(v, `error parsing tls config: unsupported TLS version: TLS ${v.value}`);
        }
        t.minVersion = v.value;
        break;
      }
      case 'certs':
      case 'certificates': {
        if (v.kind !== 'array') throw ConfigError.at(v, `error parsing certificates config: unsupported type ${goType(v)}`);
        t.certificates = v.value.map((pair) => {
          if (pair.kind !== 'map') throw ConfigError.at(pair, `error parsing certificates config: unsupported type ${goType(pair)}`);
          let certFile = '';
          let keyFile = '';
          for (const [pk, pv] of pair.value) {
            if (pv.kind !== 'string') throw ConfigError.at(pv, `error parsing certificates config: unsupported type ${goType(pv)}`);
            if (pk === 'cert_file') certFile = pv.value;
            else if (pk === 'key_file') keyFile = pv.value;
            else throw ConfigError.at(pv, `error parsing tls certs config, unknown field ${goQuote(pk)}`);
          }
          if (certFile === '' || keyFile === '') {
            throw ConfigError.at(pair, "error parsing certificates config: both 'cert_file' and 'cert_key' options are required");
          }
          return { certFile, keyFile };
        });
        break;
      }
      case 'cert_store':
      case 'cert_match_by':
      case 'cert_match':
      case 'ca_certs_match':
      case 'cert_match_skip_invalid':
      case 'ocsp_peer':
        // Windows certificate store and OCSP peer checks: the config loads, and the server
        // refuses to start with them (config/tls-unsupported.ts) rather than skip a check.
        (t.unsupported ??= []).push(k);
        break;
      default:
        throw tlsError(v, `unknown field ${goQuote(key)}`);
    }
  }
  if (t.certificates && t.certFile) {
    throw ConfigError.at(n, "error parsing tls config, cannot combine 'cert_file' option with 'certs' option");
  }
  const badName = tlsNamesError(t);
  if (badName !== undefined) throw ConfigError.at(n, badName);
  checkTlsFiles(n, t);
  return t;
}

function readFileForTls(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`open ${file}: ${code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
}

/** nats-server GenTLSConfig loads the certificate files while reading the config; so do we. */
function checkTlsFiles(n: ConfNode, t: TlsConfig): void {
  const err = tlsFilesError(t);
  if (err !== undefined) throw ConfigError.at(n, err);
}

/** Why the files of a tls block cannot be used (missing, unreadable, not a key pair), or undefined. */
export function tlsFilesError(t: TlsConfig): string | undefined {
  if (t.certFile && !t.keyFile) return "missing 'key_file' in TLS configuration";
  if (!t.certFile && t.keyFile) return "missing 'cert_file' in TLS configuration";
  const pairs = t.certFile && t.keyFile ? [{ certFile: t.certFile, keyFile: t.keyFile }] : (t.certificates ?? []);
  for (let i = 0; i < pairs.length; i++) {
    const p = pairs[i]!;
    const which = t.certificates ? ` ${i + 1}/${pairs.length}` : '';
    try {
      tls().createSecureContext({ cert: readFileForTls(p.certFile), key: readFileForTls(p.keyFile) });
    } catch (e) {
      return `error parsing X509 certificate/key pair${which}: ${(e as Error).message}`;
    }
  }
  if (t.caFile) {
    try {
      const pem = readFileForTls(t.caFile);
      if (!pem.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) return 'failed to parse root ca certificate';
    } catch (e) {
      return (e as Error).message;
    }
  }
  return undefined;
}

// ---- cluster --------------------------------------------------------------------------

export function defaultClusterOptions(): ClusterOptions {
  return { host: '0.0.0.0', routes: [], noAdvertise: false, connectRetries: 0 };
}

function routeUrls(n: ConfNode, c: Collector): string[] {
  const out: string[] = [];
  for (const e of arrOf(n)) {
    const u = str(e);
    if (out.includes(u)) {
      c.warnField(e, u, 'Duplicate route entry detected');
      continue;
    }
    const trimmed = u.trim();
    // Go's url.Parse accepts almost anything; reject only what cannot be a URL at all.
    if (/[\s\x00-\x1f\x7f]/.test(trimmed) || (trimmed.includes('://') && !URL.canParse(trimmed))) {
      c.error(e, `error parsing route url [${goQuote(trimmed)}]`);
      continue;
    }
    out.push(u);
  }
  return out;
}

/** nats-server parseCluster */
export function parseCluster(n: ConfNode, c: Collector): ClusterOptions {
  if (n.kind !== 'map') throw ConfigError.at(n, `Expected map to define cluster, got ${goType(n)}`);
  const cl = defaultClusterOptions();
  for (const [k, key, v] of entries(n.value)) {
    c.guard(() => {
      switch (k) {
        case 'name': {
          const name = str(v);
          if (name.includes(' ')) return c.error(v, 'cluster name cannot contain spaces');
          cl.name = name;
          break;
        }
        case 'listen': {
          const hp = parseListen(v);
          if (hp.host !== undefined) cl.host = hp.host === '' ? '0.0.0.0' : hp.host;
          cl.port = optionalPortFromConfig(hp.port);
          break;
        }
        case 'port':
          cl.port = optionalPortFromConfig(int(v));
          break;
        case 'host':
        case 'net':
          cl.host = str(v);
          break;
        case 'authorization': {
          const auth = parseAuthorizationBlock(v, c, '');
          if (auth.users) return c.error(v, 'Cluster authorization does not allow multiple users');
          if (auth.token) return c.error(v, 'Cluster authorization does not support tokens');
          if (auth.hasCallout) return c.error(v, 'Cluster authorization does not support callouts');
          cl.authorization = { user: auth.user, password: auth.password, timeoutSec: auth.timeoutSec };
          if (auth.defaultPermissions) {
            c.warnField(v, key, 'setting "permissions" within cluster authorization block is deprecated');
            if (!cl.permissions) {
              cl.permissions = { import: auth.defaultPermissions.publish, export: auth.defaultPermissions.subscribe };
            }
          }
          break;
        }
        case 'routes':
          cl.routes = routeUrls(v, c);
          break;
        case 'tls':
          cl.tls = parseTls(v, false);
          break;
        case 'cluster_advertise':
        case 'advertise':
          cl.advertise = str(v);
          break;
        case 'no_advertise':
          cl.noAdvertise = bool(v);
          break;
        case 'connect_retries':
          cl.connectRetries = int(v);
          break;
        case 'connect_backoff':
          cl.connectBackoff = bool(v);
          break;
        case 'permissions': {
          const perms = parsePermissions(v, c);
          if (perms.allowResponses) return c.error(v, 'Cluster permissions do not support dynamic responses');
          cl.permissions = { import: perms.publish, export: perms.subscribe };
          break;
        }
        case 'pool_size':
          cl.poolSize = int(v);
          break;
        case 'accounts':
          if (v.kind === 'string') cl.pinnedAccounts = [v.value];
          else if (v.kind === 'array') {
            cl.pinnedAccounts = [];
            for (const e of v.value) {
              if (e.kind === 'string') cl.pinnedAccounts.push(e.value);
              else c.error(e, `error parsing accounts: unsupported type in array ${goType(e)}`);
            }
          } else c.error(v, `error parsing accounts: unsupported type ${goType(v)}`);
          break;
        case 'compression':
          cl.compression = parseCompression(v, key);
          break;
        case 'ping_interval': {
          const ms = parseDurationField('ping_interval', v, c);
          if (ms !== undefined) {
            cl.pingIntervalMs = ms;
            if (ms > ROUTE_MAX_PING_INTERVAL_MS) {
              c.warn(v, "Cluster 'ping_interval' will reset to 30s which is the max for routes");
            }
          }
          break;
        }
        case 'ping_max':
          cl.pingMax = int(v);
          break;
        case 'write_deadline': {
          const ms = parseDurationField('write_deadline', v, c);
          if (ms !== undefined) cl.writeDeadlineMs = ms;
          break;
        }
        case 'write_timeout':
          cl.writeTimeoutPolicy = parseWriteTimeoutPolicy(v);
          break;
        default:
          c.unknownField(v, key);
      }
    });
  }
  return cl;
}

function parseCompression(v: ConfNode, key: string): string {
  if (v.kind === 'string') return v.value;
  if (v.kind === 'bool') return v.value ? 's2_fast' : 'off';
  if (v.kind === 'map') {
    let mode = 'accept';
    for (const [k, ckey, cv] of entries(v.value)) {
      if (k === 'mode') mode = str(cv);
      else if (['rtt_thresholds', 'thresholds', 'rtts', 'rtt'].includes(k)) {
        for (const t of arrOf(cv)) strictDurationMs(t, '');
      } else if (!cv.usedAsVariable) throw ConfigError.at(cv, `unknown field ${goQuote(ckey)}`);
    }
    return mode;
  }
  throw ConfigError.at(v, `field ${goQuote(key)} should be a boolean or a structure, got ${goType(v)}`);
}

export function parseWriteTimeoutPolicy(v: ConfNode): Options['writeTimeoutPolicy'] {
  const s = str(v);
  if (s === 'default' || s === 'close' || s === 'retry') return s;
  throw ConfigError.at(v, "write_timeout must be 'default', 'close' or 'retry'");
}
