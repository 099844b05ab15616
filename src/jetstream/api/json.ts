// Request decoding and response encoding for the JetStream API.
//
// nats-server decodes API requests with Go's encoding/json into typed structs. With
// `jetstream { strict: true }` (the default) unknown fields are an error; type mismatches
// are always an error. Both answer 10025 "invalid JSON: <go error text>". We reproduce that
// with a small schema per request type, so a request that the real server would reject
// is rejected here with the same code and a matching message.
//
// Responses are encoded like Go's json.Marshal, which escapes <, > and & inside strings
// (e.g. "r1.>" becomes "r1.\u003e"); clients do not care, but byte-level comparisons
// against captured nats-server answers do.

import { checkValidJson, GoJsonStream } from './go-json-scanner.js';

export type FieldType =
  | 'string' | 'bool' | 'int' | 'int32' | 'int64' | 'uint64' | 'duration' | 'time'
  | 'any'
  | { enum: readonly string[]; caseInsensitive?: boolean; error?: string }
  | { object: Schema; name: string }
  | { array: FieldType }
  | { map: FieldType };

export interface Schema {
  [field: string]: FieldType;
}

export class JsonDecodeError extends Error {}

const goTypeName = (t: FieldType): string => {
  if (typeof t === 'string') {
    switch (t) {
      case 'int': return 'int';
      case 'int32': return 'int32';
      case 'int64': return 'int64';
      case 'uint64': return 'uint64';
      case 'duration': return 'time.Duration';
      case 'time': return 'time.Time';
      case 'bool': return 'bool';
      case 'string': return 'string';
      default: return 'interface {}';
    }
  }
  if ('enum' in t) return 'string';
  if ('object' in t) return 'server.' + t.name;
  if ('array' in t) return '[]' + goTypeName(t.array);
  return 'map[string]' + goTypeName(t.map);
};

const jsonKind = (v: unknown): string => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return 'number';
  return typeof v === 'object' ? 'object' : typeof v;
};

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function checkValue(v: unknown, t: FieldType, path: string, root: string, strict: boolean): void {
  if (v === null) return; // Go leaves the field at its zero value
  const mismatch = (): never => {
    // Go quotes the literal as sent; JS prints exponents as e+N where clients send eN.
    const shown = typeof v === 'number' ? `number ${String(v).replace('e+', 'e')}` : jsonKind(v);
    throw new JsonDecodeError(`json: cannot unmarshal ${shown} into Go struct field ${root}.${path} of type ${goTypeName(t)}`);
  };
  if (typeof t === 'string') {
    switch (t) {
      case 'any': return;
      case 'string': if (typeof v !== 'string') mismatch(); return;
      case 'bool': if (typeof v !== 'boolean') mismatch(); return;
      case 'time':
        if (typeof v !== 'string') mismatch();
        if (!RFC3339.test(v as string)) {
          throw new JsonDecodeError(`parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00": cannot parse`);
        }
        return;
      default: {
        if (typeof v !== 'number' || !Number.isInteger(v)) mismatch();
        const n = v as number;
        if (t === 'uint64' && (n < 0 || n >= 2 ** 64)) mismatch();
        if (t === 'int32' && (n > 2147483647 || n < -2147483648)) mismatch();
        // Go's int/int64 overflow. After JSON.parse 2^63-1 reads as 2^63, so that literal is
        // refused too: no client sends it, and accepting 1e300 as a limit is worse.
        if ((t === 'int' || t === 'int64') && (n >= 2 ** 63 || n < -(2 ** 63))) mismatch();
        return;
      }
    }
  }
  if ('enum' in t) {
    // nats-server's enum types answer `can not unmarshal "<raw json>"` for any value they
    // do not know (including non-strings), or a fixed text (compression).
    const raw = JSON.stringify(v);
    const ok = typeof v === 'string' && t.enum.includes(t.caseInsensitive ? v.toLowerCase() : v);
    if (!ok) throw new JsonDecodeError(t.error ?? `can not unmarshal ${JSON.stringify(raw)}`);
    return;
  }
  if ('array' in t) {
    if (!Array.isArray(v)) mismatch();
    for (const item of v as unknown[]) checkValue(item, t.array, path, root, strict);
    return;
  }
  if (typeof v !== 'object' || Array.isArray(v)) mismatch();
  if ('map' in t) {
    for (const item of Object.values(v as object)) checkValue(item, t.map, path, root, strict);
    return;
  }
  checkObject(v as Record<string, unknown>, t.object, path ? path + '.' : '', root, strict);
}

function checkObject(obj: Record<string, unknown>, schema: Schema, prefix: string, root: string, strict: boolean): void {
  for (const key of Object.keys(obj)) {
    const t = schema[key];
    if (t === undefined) {
      if (strict) throw new JsonDecodeError(`json: unknown field ${JSON.stringify(key)}`);
      continue;
    }
    checkValue(obj[key], t, prefix + key, root, strict);
  }
}

/** Check one decoded top-level value against the request struct's schema (Go's decode step). */
function checkTopLevel(v: unknown, schema: Schema, rootName: string, strict: boolean): void {
  if (v === null) return; // null leaves the struct at its zero value
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new JsonDecodeError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type server.${rootName}`);
  }
  checkObject(v as Record<string, unknown>, schema, '', rootName, strict);
}

/**
 * Later values of a multi-value body decode into the same Go struct: nested objects merge,
 * everything else is replaced, and null leaves what is there.
 */
function mergeInto(target: Record<string, unknown>, src: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(src)) {
    if (v === null) continue;
    const cur = target[k];
    if (typeof v === 'object' && !Array.isArray(v) && typeof cur === 'object' && cur !== null && !Array.isArray(cur)) {
      mergeInto(cur as Record<string, unknown>, v as Record<string, unknown>);
    } else {
      target[k] = v;
    }
  }
}

/**
 * nats-server's strict path: a json.Decoder (unknown fields disallowed) decodes value after
 * value from the body until EOF. Only reached when JSON.parse rejected the whole body, i.e.
 * the body is malformed or holds more than one value.
 */
function decodeStream<T>(body: Buffer, schema: Schema, rootName: string): T {
  const stream = new GoJsonStream(body);
  const result: Record<string, unknown> = {};
  for (;;) {
    const r = stream.next();
    if (r.kind === 'eof') return result as T;
    if (r.kind === 'unexpected-eof') throw new JsonDecodeError('unexpected EOF');
    if (r.kind === 'syntax') throw new JsonDecodeError(`${r.error.message} at offset ${r.error.offset}`);
    const v: unknown = JSON.parse(body.subarray(r.start, r.end).toString('utf8'));
    checkTopLevel(v, schema, rootName, true);
    if (v !== null) mergeInto(result, v as Record<string, unknown>);
  }
}

/**
 * Decode a request body against `schema` the way nats-server's unmarshalRequest does.
 * strict: a json.Decoder with unknown fields disallowed; syntax errors read
 * "<Go text> at offset N", a body cut short reads "unexpected EOF", and an empty or
 * whitespace-only body decodes to `{}`. Not strict: the same Decoder first, and on any error
 * json.Unmarshal (unknown fields ignored, syntax errors without offset, "unexpected end of
 * JSON input"). Throws JsonDecodeError with Go's message. `rootName` is the Go struct name
 * used in type-mismatch messages.
 */
export function decodeRequest<T>(payload: Buffer | string, schema: Schema, rootName: string, strict: boolean): T {
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  if (isJsonSpaceOnly(text)) return {} as T;
  let v: unknown;
  let parsed = true;
  try {
    v = JSON.parse(text);
  } catch {
    parsed = false;
  }
  if (parsed) {
    // Not strict: Go falls back to json.Unmarshal, which ignores unknown fields.
    checkTopLevel(v, schema, rootName, strict);
    return (v ?? {}) as T;
  }
  // Error path only: Go's offsets count bytes, so scan the UTF-8 bytes.
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (strict) return decodeStream<T>(body, schema, rootName);
  try {
    return decodeStream<T>(body, schema, rootName);
  } catch {
    const err = checkValidJson(body);
    // JSON.parse failed, so Go's validation fails too; the fallback text covers a body that
    // only Node rejects (there is none known).
    throw new JsonDecodeError(err ? err.message : 'unexpected end of JSON input');
  }
}

/**
 * decodeRequest for a value JSON.parse has already produced (a member of a larger JSON text that
 * was parsed whole): the same schema check and errors, without parsing the text again.
 */
export function checkDecoded<T>(v: unknown, schema: Schema, rootName: string, strict: boolean): T {
  checkTopLevel(v, schema, rootName, strict);
  return (v ?? {}) as T;
}

/** Only JSON whitespace (space, tab, CR, LF): what Go's Decoder skips before reporting EOF. */
function isJsonSpaceOnly(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  }
  return true;
}

/**
 * nats-server's isEmptyRequest: a body of length zero, exactly `{}`, or any JSON object with
 * no members (e.g. ` { } `). Whitespace alone, `null` and `[]` are not empty.
 */
export function isEmptyRequest(payload: Buffer | string): boolean {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  if (body.length === 0) return true;
  if (body.length === 2 && body[0] === 0x7b && body[1] === 0x7d) return true;
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    return false;
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
}

const GO_ESCAPES: Record<string, string> = {
  '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029',
};

/** JSON.stringify with Go's HTML-safe escaping. Key order = insertion order of the object. */
export function goJson(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]!);
}

/** RFC3339 with nanoseconds, trailing zeros trimmed, as Go prints time.Time in UTC. */
export function goTime(ms: number, extraNanos = 0): string {
  if (ms === 0 && extraNanos === 0) return '0001-01-01T00:00:00Z';
  const d = new Date(ms);
  const base = d.toISOString().slice(0, 19);
  const nanos = (d.getUTCMilliseconds() * 1_000_000 + extraNanos).toString().padStart(9, '0').replace(/0+$/, '');
  return nanos ? `${base}.${nanos}Z` : `${base}Z`;
}

/** Timestamp in nanoseconds since the epoch (bigint) to Go's RFC3339Nano text. */
export function goTimeFromNanos(ns: bigint | number): string {
  const n = typeof ns === 'bigint' ? ns : BigInt(Math.round(ns));
  if (n === 0n) return '0001-01-01T00:00:00Z';
  const ms = Number(n / 1_000_000n);
  const sub = Number(n % 1_000_000n);
  return goTime(ms, sub);
}

/** Parse an RFC3339(Nano) string to nanoseconds since the epoch. */
export function parseGoTime(s: string): bigint {
  const m = /^(.*?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return 0n;
  if (s.startsWith('0001-01-01T00:00:00')) return 0n;
  const ms = Date.parse(m[1] + m[3]);
  if (Number.isNaN(ms)) return 0n;
  const frac = (m[2] ?? '').padEnd(9, '0').slice(0, 9);
  return BigInt(ms) * 1_000_000n + BigInt(frac || '0');
}
