// Authorization, users, permissions, accounts and subject mappings: the
// `authorization {}` and `accounts {}` blocks of a nats-server config file
// (nats-server opts.go parseAuthorization, parseUsers, parseUserPermissions,
// parseAccounts, parseAccountMappings ...), mapped onto Options.

import { checkImports } from './imports-check.js';
import { nkeys } from '../core/lazy-modules.js';
import { ConfigError, type ConfNode } from './parser.js';
import { goQuote } from './duration.js';
import {
  Collector, arrOf, bool, entries, goType, goValue, int, isValidSubject, mapOf, str, strictDurationMs,
  TypeMismatch, type Located,
} from './load-util.js';
import type {
  AccountConfig, AccountJetStreamLimits, AccountLimits, ExportEntry, ImportEntry, MappingDestination,
  Options, PermissionRule, Permissions, UserEntry,
} from './options.js';
import { GLOBAL_ACCOUNT, responsePermission } from './options.js';
const CONNECTION_TYPES = ['STANDARD', 'WEBSOCKET', 'LEAFNODE', 'LEAFNODE_WS', 'MQTT', 'MQTT_WS', 'IN_PROCESS'];

function isPublicKey(key: string, prefix: 'U' | 'A'): boolean {
  if (!key.startsWith(prefix)) return false;
  try {
    nkeys().fromPublic(key);
    return true;
  } catch {
    return false;
  }
}

// ---- permissions -------------------------------------------------------------------

function checkPermSubjects(subjects: string[], allowQueue: boolean): string | undefined {
  for (const s of subjects) {
    if (isValidSubject(s)) continue;
    if (!allowQueue) return `subject ${goQuote(s)} is not a valid subject`;
    const parts = s.split(/\s+/).filter((p) => p !== '');
    if (parts.length !== 2) return `subject ${goQuote(s)} is not a valid subject`;
    if (!isValidSubject(parts[0])) return `subject ${goQuote(parts[0])} is not a valid subject`;
    if (!isValidSubject(parts[1])) return `queue ${goQuote(parts[1])} is not a valid queue`;
  }
  return undefined;
}

function permSubjects(n: ConfNode, allowQueue: boolean): string[] {
  let subjects: string[];
  if (n.kind === 'string') {
    subjects = [n.value];
  } else if (n.kind === 'array') {
    subjects = n.value.map((e) => {
      if (e.kind !== 'string') throw ConfigError.at(e, 'Subject in permissions array cannot be cast to string');
      return e.value;
    });
  } else {
    throw ConfigError.at(n, `Expected subject permissions to be a subject, or array of subjects, got ${goType(n)}`);
  }
  const bad = checkPermSubjects(subjects, allowQueue);
  if (bad) throw ConfigError.at(n, bad);
  return subjects;
}

function subjectPermission(n: ConfNode, allowQueue: boolean, c: Collector): PermissionRule | undefined {
  if (n.kind !== 'map') return { allow: permSubjects(n, allowQueue) };
  if (n.value.size === 0) return undefined;
  const rule: PermissionRule = {};
  for (const [k, key, v] of entries(n.value)) {
    c.guard(() => {
      if (k === 'allow') rule.allow = permSubjects(v, allowQueue);
      else if (k === 'deny') rule.deny = permSubjects(v, allowQueue);
      else if (!v.usedAsVariable) {
        c.error(v, `Unknown field name ${goQuote(key)} parsing subject permissions, only 'allow' or 'deny' are permitted`);
      }
    });
  }
  return rule;
}

function allowResponses(n: ConfNode, c: Collector): Permissions['allowResponses'] {
  if (n.kind !== 'map') {
    c.error(n, 'error parsing response permissions, expected a boolean or a map');
    return undefined;
  }
  const rp = responsePermission();
  for (const [k, key, v] of entries(n.value)) {
    if (['max', 'max_msgs', 'max_messages', 'max_responses'].includes(k)) {
      const max = int(v);
      // 0 keeps the default; negative means unlimited
      if (max !== 0) rp.max = max;
    } else if (['expires', 'expiration', 'ttl'].includes(k)) {
      if (v.kind !== 'string') {
        c.error(v, 'error parsing expires, not a duration string');
        return undefined;
      }
      const ms = strictDurationMs(v, 'error parsing expires: ');
      if (ms !== 0) rp.expiresMs = ms;
    } else if (!v.usedAsVariable) {
      c.error(v, `Unknown field ${goQuote(key)} parsing permissions`);
    }
  }
  return rp;
}

/** nats-server parseUserPermissions */
export function parsePermissions(n: ConfNode, c: Collector): Permissions {
  if (n.kind !== 'map') {
    throw ConfigError.at(n, `Expected permissions to be a map/struct, got ${goValue(n)}`);
  }
  const p: Permissions = {};
  for (const [k, key, v] of entries(n.value)) {
    c.guard(() => {
      if (k === 'pub' || k === 'publish' || k === 'import') {
        p.publish = subjectPermission(v, false, c);
      } else if (k === 'sub' || k === 'subscribe' || k === 'export') {
        p.subscribe = subjectPermission(v, true, c);
      } else if (k === 'publish_allow_responses' || k === 'allow_responses') {
        if (v.kind === 'bool') {
          p.allowResponses = v.value ? responsePermission() : undefined;
        } else {
          p.allowResponses = allowResponses(v, c);
        }
      } else if (!v.usedAsVariable) {
        c.error(v, `Unknown field ${goQuote(key)} parsing permissions`);
      }
    });
  }
  if (p.allowResponses) {
    // Response permissions turn off the implicit "publish anything".
    p.publish = p.publish ?? {};
    p.publish.allow = p.publish.allow ?? [];
  }
  return p;
}

// ---- users ----------------------------------------------------------------------

/** A string or an array of strings (config fields that take either); errors go to the collector. */
export function stringArray(field: string, n: ConfNode, c: Collector): string[] | undefined {
  if (n.kind === 'string') return [n.value];
  if (n.kind === 'array') {
    const out: string[] = [];
    for (const e of n.value) {
      if (e.kind === 'string') out.push(e.value);
      else c.error(e, `error parsing ${field}: unsupported type in array ${goType(e)}`);
    }
    return out;
  }
  c.error(n, `error parsing ${field}: unsupported type ${goType(n)}`);
  return undefined;
}

/** where each parsed user entry was defined (for duplicate-user errors) */
const userLocations = new WeakMap<UserEntry, Located>();

/** nats-server parseUsers: plain users and nkey users, in file order. */
export function parseUsers(n: ConfNode, c: Collector, account: string): UserEntry[] {
  if (n.kind !== 'array') throw ConfigError.at(n, `Expected users field to be an array, got ${goValue(n)}`);
  const users: UserEntry[] = [];
  for (const un of n.value) {
    if (un.kind !== 'map') {
      c.error(un, `Expected user entry to be a map/struct, got ${goValue(un)}`);
      continue;
    }
    const u: UserEntry = { account };
    let password: string | undefined;
    let userName: string | undefined;
    for (const [k, key, v] of entries(un.value)) {
      c.guard(() => {
        if (k === 'nkey') u.nkey = str(v);
        else if (k === 'user' || k === 'username') userName = str(v);
        else if (k === 'pass' || k === 'password') password = str(v);
        else if (k === 'permission' || k === 'permissions' || k === 'authorization') u.permissions = parsePermissions(v, c);
        else if (k === 'allowed_connection_types' || k === 'connection_types' || k === 'clients') {
          const types = stringArray('allowed connection types', v, c);
          if (types) {
            const upper = types.map((t) => t.toUpperCase());
            const unknown = upper.filter((t) => !CONNECTION_TYPES.includes(t));
            if (unknown.length > 0) c.error(v, `invalid connection types [${unknown.map(goQuote).join(' ')}]`);
            u.allowedConnectionTypes = upper.filter((t) => CONNECTION_TYPES.includes(t));
          }
        } else if (k === 'proxy_required') {
          bool(v);
        } else {
          c.unknownField(v, key);
        }
      });
    }
    if (u.nkey === undefined && (userName === undefined || userName === '')) {
      throw ConfigError.at(un, 'User entry requires a user');
    }
    if (u.nkey !== undefined) {
      if (!isPublicKey(u.nkey, 'U')) throw ConfigError.at(un, 'Not a valid public nkey for a user');
      if ((userName ?? '') !== '' || (password ?? '') !== '') {
        throw ConfigError.at(un, 'Nkey users do not take usernames or passwords');
      }
    } else {
      u.user = userName;
      if (password !== undefined) u.password = password;
    }
    userLocations.set(u, un);
    users.push(u);
  }
  return users;
}

function applyDefaultPermissions(users: UserEntry[], perms: Permissions | undefined): void {
  if (!perms) return;
  for (const u of users) if (!u.permissions) u.permissions = perms;
}

// ---- authorization block ------------------------------------------------------------

export interface ParsedAuthorization {
  user?: string;
  password?: string;
  token?: string;
  timeoutSec?: number;
  /** present (possibly empty) when the block has a `users` array */
  users?: UserEntry[];
  defaultPermissions?: Permissions;
  hasCallout: boolean;
}

/** nats-server parseAuthorization (also used for cluster authorization). */
export function parseAuthorizationBlock(n: ConfNode, c: Collector, account: string): ParsedAuthorization {
  const m = mapOf(n);
  const auth: ParsedAuthorization = { hasCallout: false };
  for (const [k, key, v] of entries(m)) {
    c.guard(() => {
      switch (k) {
        case 'user':
        case 'username':
          auth.user = str(v);
          break;
        case 'pass':
        case 'password':
          auth.password = str(v);
          break;
        case 'token':
          auth.token = str(v);
          break;
        case 'timeout': {
          let seconds: number;
          if (v.kind === 'integer' || v.kind === 'float') seconds = v.value;
          else if (v.kind === 'string') seconds = strictDurationMs(v, "error parsing authorization config, 'timeout' ") / 1000;
          else throw ConfigError.at(v, "error parsing authorization config, 'timeout' wrong type");
          if (seconds > 60) {
            c.warnField(v, key,
              `timeout of ${goValue(v)} (${seconds.toFixed(6)} seconds) is high, consider keeping it under 60 seconds. ` +
              "possibly caused by unquoted duration; use '1m' instead of 1m, for example");
          }
          auth.timeoutSec = seconds;
          break;
        }
        case 'users':
          auth.users = parseUsers(v, c, account);
          break;
        case 'default_permission':
        case 'default_permissions':
        case 'permissions':
          auth.defaultPermissions = parsePermissions(v, c);
          break;
        case 'auth_callout':
        case 'auth_hook':
          auth.hasCallout = true;
          c.notSupported(v, 'authorization.auth_callout');
          break;
        case 'proxy_required':
          bool(v);
          break;
        default:
          c.unknownField(v, key);
      }
    });
  }
  if (auth.users) applyDefaultPermissions(auth.users, auth.defaultPermissions);
  return auth;
}

// ---- subject mappings ----------------------------------------------------------------

function mappingDestination(n: ConfNode, c: Collector): MappingDestination | undefined {
  if (n.kind !== 'map') {
    c.error(n, 'Expected an entry for the mapping destination');
    return undefined;
  }
  const d: MappingDestination = { subject: '', weight: 0 };
  let weightSeen = false;
  for (const [k, key, v] of entries(n.value)) {
    if (k === 'dest' || k === 'destination') {
      d.subject = str(v);
    } else if (k === 'weight') {
      let w: number;
      if (v.kind === 'string') {
        const ws = v.value.replace(/%$/, '');
        if (!/^[+-]?[0-9]+$/.test(ws)) {
          c.error(v, `Invalid weight ${goQuote(ws)} for mapping destination`);
          return undefined;
        }
        w = Number(ws);
      } else if (v.kind === 'integer') {
        w = v.value;
      } else {
        c.error(v, `Unknown entry type for weight of ${goValue(v)}\n`);
        return undefined;
      }
      if (w > 100 || w < 0) {
        c.error(v, `Invalid weight ${w} for mapping destination`);
        return undefined;
      }
      d.weight = w;
      weightSeen = true;
    } else if (k === 'cluster') {
      d.cluster = str(v);
    } else {
      c.error(v, `Unknown field ${goQuote(key)} for mapping destination`);
      return undefined;
    }
  }
  if (!weightSeen) {
    c.error(n, `Missing weight for mapping destination ${goQuote(d.subject)}`);
    return undefined;
  }
  return d;
}

/** nats-server parseAccountMappings: `subject: dest` or weighted destinations. */
export function parseMappings(
  n: ConfNode, c: Collector,
): { simple: Record<string, string>; weighted: Record<string, MappingDestination[]> } {
  const simple: Record<string, string> = {};
  const weighted: Record<string, MappingDestination[]> = {};
  const m = mapOf(n);
  for (const [subject, v] of m) {
    c.guard(() => {
      if (!isValidSubject(subject)) {
        c.error(v, `Subject ${goQuote(subject)} is not a valid subject`);
        return;
      }
      if (v.kind === 'string') {
        simple[subject] = v.value;
        return;
      }
      const items = v.kind === 'array' ? v.value : [v];
      const dests: MappingDestination[] = [];
      for (const item of items) {
        const d = mappingDestination(item, c);
        if (d) dests.push(d);
      }
      const total = dests.reduce((a, d) => a + d.weight, 0);
      if (total > 100) {
        c.error(v, `Error adding mapping for ${goQuote(subject)} : total weight needs to be <= 100`);
        return;
      }
      if (dests.length > 0) weighted[subject] = dests;
    });
  }
  return { simple, weighted };
}

// ---- accounts --------------------------------------------------------------------------

function accountJetStream(n: ConfNode, c: Collector): AccountJetStreamLimits | undefined {
  if (n.kind === 'bool') return n.value ? { enabled: true } : undefined;
  if (n.kind === 'string') {
    const s = n.value.toLowerCase();
    if (s === 'enabled' || s === 'enable') return { enabled: true };
    if (s === 'disabled' || s === 'disable') return undefined;
    throw ConfigError.at(n, `Expected 'enabled' or 'disabled' for string value, got '${n.value}'`);
  }
  if (n.kind !== 'map') {
    throw ConfigError.at(n, `Expected map, bool or string to define JetStream, got ${goType(n)}`);
  }
  const js: AccountJetStreamLimits = {
    enabled: true, maxMemory: -1, maxFile: -1, maxStreams: -1, maxConsumers: -1, maxAckPending: -1,
    maxBytesRequired: false,
  };
  const size = (v: ConfNode, key: string): number => {
    if (v.kind !== 'integer') throw ConfigError.at(v, `Expected a parseable size for ${goQuote(key)}, got ${goValue(v)}`);
    return v.value;
  };
  for (const [k, key, v] of entries(n.value)) {
    if (['max_memory', 'max_mem', 'mem', 'memory'].includes(k)) js.maxMemory = size(v, key);
    else if (['max_store', 'max_file', 'max_disk', 'store', 'disk'].includes(k)) js.maxFile = size(v, key);
    else if (k === 'max_streams' || k === 'streams') js.maxStreams = size(v, key);
    else if (k === 'max_consumers' || k === 'consumers') js.maxConsumers = size(v, key);
    else if (['max_bytes_required', 'max_stream_bytes', 'max_bytes'].includes(k)) {
      if (v.kind !== 'bool') throw ConfigError.at(v, `Expected a parseable bool for ${goQuote(key)}, got ${goValue(v)}`);
      js.maxBytesRequired = v.value;
    } else if (k === 'mem_max_stream_bytes' || k === 'memory_max_stream_bytes') js.memoryMaxStreamBytes = size(v, key);
    else if (k === 'disk_max_stream_bytes' || k === 'store_max_stream_bytes') js.storeMaxStreamBytes = size(v, key);
    else if (k === 'max_ack_pending') js.maxAckPending = size(v, key);
    else if (k === 'cluster_traffic') {
      if (v.kind !== 'string') {
        throw ConfigError.at(v, `Expected either 'system' or 'owner' string value for ${goQuote(key)}, got ${goValue(v)}`);
      }
      if (!['system', 'owner', ''].includes(v.value)) {
        throw ConfigError.at(v, `Expected 'system' or 'owner' string value for ${goQuote(key)}, got ${v.value}`);
      }
    } else c.unknownField(v, key);
  }
  return js;
}

function accountLimits(n: ConfNode, c: Collector): AccountLimits {
  if (n.kind !== 'map') throw ConfigError.at(n, `Expected account limits to be a map/struct, got ${goValue(n)}`);
  const l: AccountLimits = {};
  for (const [k, key, v] of entries(n.value)) {
    if (k === 'max_connections' || k === 'max_conn') l.maxConnections = int(v);
    else if (k === 'max_subscriptions' || k === 'max_subs') l.maxSubscriptions = int(v);
    else if (k === 'max_payload' || k === 'max_pay') l.maxPayload = int(v);
    else if (k === 'max_leafnodes' || k === 'max_leafs') l.maxLeafnodes = int(v);
    else if (!v.usedAsVariable) c.error(v, `Unknown field ${goQuote(key)} parsing account limits`);
  }
  return l;
}

function parseExport(n: ConfNode, c: Collector): ExportEntry | undefined {
  if (n.kind !== 'map') throw ConfigError.at(n, `Export Items should be a map with type entry, got ${goType(n)}`);
  const e: ExportEntry = {};
  let responseAt: Located | undefined;
  let latencyAt: Located | undefined;
  for (const [k, key, v] of entries(n.value)) {
    c.guard(() => {
      switch (k) {
        case 'stream':
          if (e.service !== undefined) return c.error(v, `Detected stream ${goQuote(goValue(v))} but already saw a service`);
          if (responseAt) return c.error(responseAt, 'Detected response directive on non-service');
          if (latencyAt) return c.error(latencyAt, 'Detected latency directive on non-service');
          if (v.kind !== 'string') return c.error(v, `Expected stream name to be string, got ${goType(v)}`);
          e.stream = v.value;
          break;
        case 'service':
          if (e.stream !== undefined) return c.error(v, `Detected service ${goQuote(goValue(v))} but already saw a stream`);
          if (v.kind !== 'string') return c.error(v, `Expected service name to be string, got ${goType(v)}`);
          e.service = v.value;
          break;
        case 'response':
        case 'response_type': {
          if (responseAt) return c.error(v, 'Duplicate response type definition');
          responseAt = v;
          if (v.kind !== 'string') return c.error(v, `Expected response type to be string, got ${goType(v)}`);
          const rt = v.value.toLowerCase();
          if (rt === 'single' || rt === 'singleton') e.responseType = 'singleton';
          else if (rt === 'stream') e.responseType = 'stream';
          else if (rt === 'chunk' || rt === 'chunked') e.responseType = 'chunked';
          else return c.error(v, `Unknown response type: ${goQuote(v.value)}`);
          if (e.stream !== undefined) c.error(v, 'Detected response directive on non-service');
          break;
        }
        case 'threshold':
        case 'response_threshold':
        case 'response_max_time':
        case 'response_time':
          if (e.responseThresholdMs !== undefined) return c.error(v, 'Duplicate response threshold detected');
          if (v.kind !== 'string') {
            return c.error(v, `Expected response threshold to be a parseable time duration, got ${goType(v)}`);
          }
          try {
            e.responseThresholdMs = strictDurationMs(v, '');
          } catch {
            return c.error(v, `Expected response threshold to be a parseable time duration, got ${goQuote(v.value)}`);
          }
          if (e.stream !== undefined) c.error(v, 'Detected response directive on non-service');
          break;
        case 'accounts':
          e.accounts = arrOf(v).map(str);
          break;
        case 'latency': {
          latencyAt = v;
          if (v.kind === 'string') {
            e.latency = { subject: v.value, sampling: 100 };
          } else if (v.kind === 'map') {
            const sub = v.value.get('subject');
            if (!sub) return c.error(v, 'Latency subject required, but missing');
            let sampling: number | 'headers' = 100;
            const sn = v.value.get('sampling');
            if (sn) {
              if (sn.kind === 'integer') sampling = sn.value;
              else if (sn.kind === 'string' && sn.value.trim().toLowerCase() === 'headers') sampling = 'headers';
              else if (sn.kind === 'string') sampling = Number(sn.value.replace(/%$/, ''));
              else return c.error(sn, `Expected latency sample to be a string or map/struct, got ${goType(sn)}`);
              if (sampling !== 'headers' && !(Number.isInteger(sampling) && sampling >= 1 && sampling <= 100)) {
                return c.error(sn, 'sampling value should be in range [1..100]');
              }
            }
            e.latency = { subject: str(sub), sampling };
          } else {
            return c.error(v, `Expected latency entry to be a map/struct or string, got ${goType(v)}`);
          }
          if (e.stream !== undefined) c.error(v, 'Detected latency directive on non-service');
          break;
        }
        case 'account_token_position':
          e.accountTokenPosition = int(v);
          break;
        case 'allow_trace':
          e.allowTrace = bool(v);
          if (e.stream !== undefined) c.error(v, 'Detected allow_trace directive on non-service');
          break;
        default:
          c.unknownField(v, key);
      }
    });
  }
  if (e.stream === undefined && e.service === undefined) return undefined;
  return e;
}

function importSource(v: ConfNode, what: 'Stream' | 'Service', c: Collector): { account: string; subject: string } | undefined {
  if (v.kind !== 'map') {
    c.error(v, `${what} entry should be an account map, got ${goType(v)}`);
    return undefined;
  }
  let account = '';
  let subject = '';
  for (const [k, key, f] of entries(v.value)) {
    if (k === 'account') account = str(f);
    else if (k === 'subject') subject = str(f);
    else c.unknownField(f, key);
  }
  if (account === '' || subject === '') {
    c.error(v, 'Expect an account name and a subject');
    return undefined;
  }
  return { account, subject };
}

function parseImport(n: ConfNode, c: Collector): ImportEntry | undefined {
  if (n.kind !== 'map') throw ConfigError.at(n, `Import Items should be a map with type entry, got ${goType(n)}`);
  const imp: ImportEntry = {};
  for (const [k, key, v] of entries(n.value)) {
    c.guard(() => {
      switch (k) {
        case 'stream':
          if (imp.service) return c.error(v, 'Detected stream but already saw a service');
          imp.stream = importSource(v, 'Stream', c);
          break;
        case 'service':
          if (imp.stream) return c.error(v, 'Detected service but already saw a stream');
          if (imp.allowTrace !== undefined) return c.error(v, 'Detected allow_trace directive on a non-stream');
          imp.service = importSource(v, 'Service', c);
          break;
        case 'prefix':
          imp.prefix = str(v);
          break;
        case 'to':
          imp.to = str(v);
          break;
        case 'share':
          imp.share = bool(v);
          break;
        case 'allow_trace':
          if (imp.service) return c.error(v, 'Detected allow_trace directive on a non-stream');
          imp.allowTrace = bool(v);
          break;
        default:
          c.unknownField(v, key);
      }
    });
  }
  if (imp.stream && imp.prefix !== undefined && imp.to !== undefined) {
    c.error(n, "Stream import can not have a 'prefix' and a 'to' property");
  }
  if (!imp.stream && !imp.service) return undefined;
  return imp;
}

interface AccountRefs {
  node: ConfNode;
  exports: ExportEntry[];
  imports: ImportEntry[];
}

/** nats-server parseAccounts: the `accounts` block, as a list or a map of account definitions. */
export function parseAccounts(n: ConfNode, c: Collector): AccountConfig[] {
  const out: AccountConfig[] = [];
  const newAccount = (name: string): AccountConfig => ({ name, users: [], exports: [], imports: [], mappings: {} });
  if (n.kind === 'array') {
    const seen = new Set<string>();
    for (const e of n.value) {
      c.guard(() => {
        const name = str(e);
        if (name === GLOBAL_ACCOUNT) return c.error(e, `${goQuote(name)} is a Reserved Account`);
        if (seen.has(name)) return c.error(e, `Duplicate Account Entry: ${name}`);
        seen.add(name);
        out.push(newAccount(name));
      });
    }
    return out;
  }
  if (n.kind !== 'map') throw new TypeMismatch(n, 'map');
  const refs: AccountRefs[] = [];
  for (const [name, an] of n.value) {
    // A key used as a $variable inside the accounts block is not an account.
    if (an.usedAsVariable) continue;
    if (an.kind !== 'map') {
      c.error(an, 'Expected map entries for accounts');
      continue;
    }
    if (name === GLOBAL_ACCOUNT) {
      c.error(an, `${goQuote(name)} is a Reserved Account`);
      continue;
    }
    const acc = newAccount(name);
    out.push(acc);
    const ref: AccountRefs = { node: an, exports: acc.exports, imports: acc.imports };
    refs.push(ref);
    for (const [k, key, v] of entries(an.value)) {
      c.guard(() => {
        switch (k) {
          case 'nkey':
            if (v.kind !== 'string' || !isPublicKey(v.value, 'A')) {
              return c.error(v, `Not a valid public nkey for an account: ${goQuote(goValue(v))}`);
            }
            acc.nkey = v.value;
            break;
          case 'imports': {
            if (v.kind !== 'array') return c.error(v, `Imports should be an array, got ${goType(v)}`);
            const svcSubjects = new Map<string, ImportEntry[]>();
            for (const item of v.value) {
              c.guard(() => {
                const imp = parseImport(item, c);
                if (!imp) return;
                if (imp.service) {
                  const to = imp.to ?? imp.service.subject;
                  const prev = svcSubjects.get(to) ?? [];
                  const dup = prev.find((p) => p.service!.account === imp.service!.account);
                  if (dup) {
                    return c.error(item, `Duplicate service import subject ${goQuote(to)}, previously used in import for account ${goQuote(dup.service!.account)}, subject ${goQuote(dup.service!.subject)}`);
                  }
                  prev.push(imp);
                  svcSubjects.set(to, prev);
                }
                acc.imports.push(imp);
              });
            }
            break;
          }
          case 'exports':
            if (v.kind !== 'array') return c.error(v, `Exports should be an array, got ${goType(v)}`);
            for (const item of v.value) {
              c.guard(() => {
                const e = parseExport(item, c);
                if (e) acc.exports.push(e);
              });
            }
            break;
          case 'jetstream':
            acc.jetstream = accountJetStream(v, c);
            break;
          case 'users':
            acc.users = parseUsers(v, c, name);
            break;
          case 'default_permissions':
            acc.defaultPermissions = parsePermissions(v, c);
            break;
          case 'mappings':
          case 'maps': {
            const { simple, weighted } = parseMappings(v, c);
            Object.assign(acc.mappings, simple);
            if (Object.keys(weighted).length > 0) acc.weightedMappings = { ...acc.weightedMappings, ...weighted };
            break;
          }
          case 'limits':
            acc.limits = accountLimits(v, c);
            break;
          case 'msg_trace':
          case 'trace_dest':
            c.notSupported(v, `accounts.${name}.${key}`);
            break;
          default:
            c.unknownField(v, key);
        }
      });
    }
    applyDefaultPermissions(acc.users, acc.defaultPermissions);
  }
  if (c.errors.length > 0) return out;
  // Exports and imports may only name accounts that exist.
  const names = new Set(out.map((a) => a.name));
  for (const r of refs) {
    for (const e of r.exports) {
      for (const a of e.accounts ?? []) {
        if (!names.has(a)) c.error(n, `${goQuote(a)} account not defined for ${e.stream !== undefined ? 'stream' : 'service'} export`);
      }
    }
    for (const i of r.imports) {
      const src = i.stream ?? i.service!;
      if (!names.has(src.account)) {
        c.error(n, `${goQuote(src.account)} account not defined for ${i.stream ? 'stream' : 'service'} import`);
      }
    }
  }
  checkImports(out, (text) => c.error(n, text));
  return out;
}

/** Users must be unique across the authorization block and all accounts. */
export function checkDuplicateUsers(users: UserEntry[], c: Collector): void {
  const seen = new Set<string>();
  for (const entry of users) {
    const at = userLocations.get(entry) ?? { file: '', line: 0, col: 0 };
    const id = entry.nkey ?? entry.user ?? '';
    if (seen.has(id)) {
      c.error(at, entry.nkey ? `Duplicate nkey ${goQuote(id)} detected` : `Duplicate user ${goQuote(id)} detected`);
    }
    seen.add(id);
  }
}

/**
 * nats-server 2.9.10 validateNoAuthUser: the no_auth_user (top level, or the websocket block's)
 * must name a configured user. The error text, or undefined.
 */
export function noAuthUserError(o: Options, name: string): string | undefined {
  // nkey users do not count: 2.9.10 looks at the user/password users only.
  const users = [...(o.authorization?.users ?? []), ...o.accounts.flatMap((a) => a.users)].filter((u) => u.user !== undefined);
  if (users.length === 0) return `no_auth_user: "${name}" present, but users are not defined`;
  if (!users.some((u) => u.user === name)) {
    return `no_auth_user: "${name}" not present as user in authorization block or account configuration`;
  }
  return undefined;
}
