// Shared helpers for mapping a parsed config tree onto Options: error and
// warning collection, typed access with nats-server's error texts, listen
// addresses, durations and storage sizes.

import { ConfigError, type ConfKind, type ConfMap, type ConfNode } from './parser.js';
import { DurationError, goQuote, parseGoDurationMs } from './duration.js';

/** Go's name for the dynamic type of a config value (used in nats-server's messages). */
const GO_TYPE: Record<ConfKind, string> = {
  string: 'string',
  integer: 'int64',
  float: 'float64',
  bool: 'bool',
  datetime: 'time.Time',
  array: '[]interface {}',
  map: 'map[string]interface {}',
};

export function goType(n: ConfNode): string {
  return GO_TYPE[n.kind];
}

/** A value of the wrong type where nats-server does a Go type assertion (and reports the panic). */
export class TypeMismatch extends Error {
  constructor(readonly node: ConfNode, expected: ConfKind) {
    super(`interface conversion: interface {} is ${GO_TYPE[node.kind]}, not ${GO_TYPE[expected]}`);
  }
}

export interface Located {
  file: string;
  line: number;
  col: number;
}

/** Collects every error and warning of one load, like nats-server does before reporting them together. */
export class Collector {
  readonly errors: ConfigError[] = [];
  readonly warnings: ConfigError[] = [];
  /** "not supported yet" messages for accepted blocks */
  readonly notices: string[] = [];
  readonly unsupported: string[] = [];

  error(at: Located, reason: string): void {
    this.errors.push(ConfigError.at(at, reason));
  }

  unknownField(node: ConfNode, key: string): void {
    if (!node.usedAsVariable) this.error(node, `unknown field ${goQuote(key)}`);
  }

  /** nats-server's configWarningErr: `invalid use of field "x": reason` */
  warnField(at: Located, field: string, reason: string): void {
    this.warnings.push(ConfigError.at(at, `invalid use of field ${goQuote(field)}: ${reason}`));
  }

  warn(at: Located, reason: string): void {
    this.warnings.push(ConfigError.at(at, reason));
  }

  /** Record a block tsnats accepts but does not implement yet. */
  notSupported(at: Located, name: string): void {
    if (!this.unsupported.includes(name)) this.unsupported.push(name);
    this.notices.push(`${at.file}:${at.line}:${at.col}: ${goQuote(name)} is not supported yet by tsnats; accepted and ignored`);
  }

  /** Run one step; a type mismatch or ConfigError aborts only that step (nats-server recovers per key). */
  guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (e instanceof TypeMismatch) this.error(e.node, e.message);
      else if (e instanceof ConfigError) this.errors.push(e);
      else throw e;
    }
  }
}

// ---- typed access (throw TypeMismatch like Go's v.(T)) --------------------------

export function str(n: ConfNode): string {
  if (n.kind !== 'string') throw new TypeMismatch(n, 'string');
  return n.value;
}
export function int(n: ConfNode): number {
  if (n.kind !== 'integer') throw new TypeMismatch(n, 'integer');
  return n.value;
}
export function bool(n: ConfNode): boolean {
  if (n.kind !== 'bool') throw new TypeMismatch(n, 'bool');
  return n.value;
}
export function mapOf(n: ConfNode): ConfMap {
  if (n.kind !== 'map') throw new TypeMismatch(n, 'map');
  return n.value;
}
export function arrOf(n: ConfNode): ConfNode[] {
  if (n.kind !== 'array') throw new TypeMismatch(n, 'array');
  return n.value;
}

/** Go %v of a config value, for messages that print the value itself. */
export function goValue(n: ConfNode): string {
  switch (n.kind) {
    case 'array':
      return `[${n.value.map(goValue).join(' ')}]`;
    case 'map':
      return `map[${[...n.value].map(([k, v]) => `${k}:${goValue(v)}`).join(' ')}]`;
    case 'datetime':
      return n.value.toISOString();
    default:
      return String(n.value);
  }
}

// ---- addresses -------------------------------------------------------------------

/** Go net.SplitHostPort. Returns undefined when the text is not host:port. */
export function splitHostPort(s: string): { host: string; port: string } | undefined {
  let host: string;
  let rest: string;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return undefined;
    host = s.slice(1, end);
    rest = s.slice(end + 1);
    if (!rest.startsWith(':') || rest.indexOf(':', 1) >= 0) return undefined;
    return { host, port: rest.slice(1) };
  }
  const i = s.lastIndexOf(':');
  if (i < 0) return undefined;
  host = s.slice(0, i);
  if (host.includes(':') || host.includes('[') || host.includes(']')) return undefined;
  const port = s.slice(i + 1);
  if (port.includes('[') || port.includes(']')) return undefined;
  return { host, port };
}

/** Go strconv.Atoi (decimal, optional sign). */
export function atoi(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** nats-server parseListen: a port number, or "host:port". Throws ConfigError at the node. */
export function parseListen(n: ConfNode): { host?: string; port: number } {
  if (n.kind === 'integer') return { port: n.value };
  if (n.kind === 'string') {
    const hp = splitHostPort(n.value);
    if (!hp) throw ConfigError.at(n, `could not parse address string ${goQuote(n.value)}`);
    const port = atoi(hp.port);
    if (port === undefined) throw ConfigError.at(n, `could not parse port ${goQuote(hp.port)}`);
    return { host: hp.host, port };
  }
  throw ConfigError.at(n, `expected port or host:port, got ${goType(n)}`);
}

/** Client port as written (-1 random, 0 default) to the Options convention (0 random). */
export function clientPortFromConfig(p: number, defaultPort: number): number {
  if (p === -1) return 0;
  if (p === 0) return defaultPort;
  return p;
}

/** Listener port that is off when 0 (monitoring, cluster): -1 random -> 0, 0 -> off (undefined). */
export function optionalPortFromConfig(p: number): number | undefined {
  if (p === -1) return 0;
  if (p === 0) return undefined;
  return p;
}

// ---- durations and sizes ---------------------------------------------------------

/**
 * nats-server parseDuration: a Go duration string, or (deprecated) an integer of
 * seconds, which is accepted with a warning. Returns milliseconds.
 */
export function parseDurationField(field: string, n: ConfNode, c: Collector): number | undefined {
  if (n.kind === 'string') {
    try {
      return parseGoDurationMs(n.value);
    } catch (e) {
      if (!(e instanceof DurationError)) throw e;
      c.error(n, `error parsing ${field}: ${e.message}`);
      return undefined;
    }
  }
  const seconds = int(n);
  c.warnField(n, field, `${field} should be converted to a duration`);
  return seconds * 1000;
}

/** A Go duration string (no integer fallback); throws ConfigError `<prefix><go error>`. */
export function strictDurationMs(n: ConfNode, prefix: string): number {
  try {
    return parseGoDurationMs(str(n));
  } catch (e) {
    if (e instanceof DurationError) throw ConfigError.at(n, prefix + e.message);
    throw e;
  }
}

/**
 * nats-server getStorageSize: an integer (size suffixes already applied), or a
 * quoted string with ONE uppercase suffix K, M, G or T meaning powers of 1024.
 * Throws Error with the text nats-server appends after the option name.
 */
export function storageSize(n: ConfNode): number {
  if (n.kind === 'integer') return n.value;
  if (n.kind !== 'string') throw new Error('must be int64 or string');
  const s = n.value;
  if (s === '') return 0;
  const suffix = s.slice(-1);
  const prefix = s.slice(0, -1);
  if (!/^[+-]?[0-9]+$/.test(prefix)) {
    throw new Error(`strconv.ParseInt: parsing ${goQuote(prefix)}: invalid syntax`);
  }
  const shift: Record<string, number> = { K: 10, M: 20, G: 30, T: 40 };
  const bits = shift[suffix];
  if (bits === undefined) throw new Error('sizes defined as strings must end in K, M, G, T');
  return Number(prefix) * 2 ** bits;
}

// ---- subjects -------------------------------------------------------------------

/** nats-server IsValidSubject (wildcards allowed). */
export function isValidSubject(subject: string): boolean {
  if (subject === '') return false;
  let sawFullWildcard = false;
  for (const t of subject.split('.')) {
    if (t.length === 0 || sawFullWildcard) return false;
    if (t.length > 1) {
      if (/[\t\n\f\r ]/.test(t)) return false;
      continue;
    }
    if (t === '>') sawFullWildcard = true;
    else if (/[\t\n\f\r ]/.test(t)) return false;
  }
  return true;
}

/** Entries of a map node, lower-cased key for matching plus the key as written. */
export function* entries(m: ConfMap): Generator<[lower: string, key: string, node: ConfNode]> {
  for (const [k, v] of m) yield [k.toLowerCase(), k, v];
}
