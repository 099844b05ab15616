// A small decoder that reads JSON request bodies the way nats-server's Go
// encoding/json does for its request structs: field names matched exactly
// first and then case-insensitively, type mismatches rejected with Go's
// wording, unknown fields rejected in strict mode ("json: unknown field \"x\""),
// null leaving the zero value in place. Only what the consumer API needs.

import { parseRfc3339, type GoTime } from './go-format.js';

export class GoJsonError extends Error {}

export type FieldKind =
  | 'string' | 'int' | 'uint64' | 'bool' | 'duration' | 'time'
  | 'strings' | 'durations' | 'stringMap'
  | { enum: readonly string[] }
  | { struct: Schema; goType: string };

export interface Schema {
  [jsonName: string]: FieldKind;
}

const GO_TYPE: Record<string, string> = {
  string: 'string', int: 'int', uint64: 'uint64', bool: 'bool', duration: 'time.Duration',
  time: 'time.Time', strings: '[]string', durations: '[]time.Duration', stringMap: 'map[string]string',
};

function jsonKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'object') return 'object';
  if (typeof v === 'number') return 'number';
  return typeof v;
}

/** Go renders numbers in its type errors with strconv 'g'-like text; close enough for integers and floats. */
function numText(n: number): string {
  return String(n).replace('e+', 'e+');
}

function mismatch(v: unknown, path: string, goType: string): GoJsonError {
  let what = jsonKind(v);
  if (what === 'number') what = 'number ' + numText(v as number);
  return new GoJsonError(`json: cannot unmarshal ${what} into Go struct field ${path} of type ${goType}`);
}

const INT64_MAX = 9223372036854775807;

function decodeValue(kind: FieldKind, v: unknown, path: string, strict: boolean): unknown {
  if (typeof kind === 'object') {
    if ('enum' in kind) {
      // nats-server's enums implement UnmarshalJSON and report the raw bytes.
      if (typeof v !== 'string' || !kind.enum.includes(v)) {
        throw new GoJsonError(`can not unmarshal ${JSON.stringify(JSON.stringify(v))}`);
      }
      return v;
    }
    if (typeof v !== 'object' || Array.isArray(v) || v === null) throw mismatch(v, path, kind.goType);
    return decodeStruct(kind.struct, v as Record<string, unknown>, kind.goType, strict, path);
  }
  switch (kind) {
    case 'string':
      if (typeof v !== 'string') throw mismatch(v, path, 'string');
      return v;
    case 'bool':
      if (typeof v !== 'boolean') throw mismatch(v, path, 'bool');
      return v;
    case 'int':
    case 'duration':
      if (typeof v !== 'number' || !Number.isInteger(v) || Math.abs(v) > INT64_MAX) {
        throw mismatch(v, path, GO_TYPE[kind]!);
      }
      return v;
    case 'uint64':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw mismatch(v, path, 'uint64');
      return v;
    case 'time': {
      if (typeof v !== 'string') throw mismatch(v, path, 'time.Time');
      const t = parseRfc3339(v);
      if (!t) {
        throw new GoJsonError(`parsing time ${JSON.stringify(JSON.stringify(v))} as "\\"2006-01-02T15:04:05Z07:00\\"": cannot parse ${JSON.stringify(v)} as "2006"`);
      }
      return t satisfies GoTime;
    }
    case 'strings':
    case 'durations': {
      if (!Array.isArray(v)) throw mismatch(v, path, GO_TYPE[kind]!);
      const elem = kind === 'strings' ? 'string' : 'duration';
      return v.map((e) => (e === null ? (elem === 'string' ? '' : 0) : decodeValue(elem, e, path, strict)));
    }
    case 'stringMap': {
      if (typeof v !== 'object' || Array.isArray(v)) throw mismatch(v, path, 'map[string]string');
      const out: Record<string, string> = {};
      for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
        if (e === null) { out[k] = ''; continue; }
        if (typeof e !== 'string') throw mismatch(e, path, 'string');
        out[k] = e;
      }
      return out;
    }
  }
}

/**
 * Decode an object against a schema. Returns only the fields present (and non-null);
 * the caller applies zero values. goType names the struct in error messages.
 */
export function decodeStruct(
  schema: Schema, obj: Record<string, unknown>, goType: string, strict: boolean, parentPath?: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const lowerIndex = new Map<string, string>();
  for (const k of Object.keys(schema)) lowerIndex.set(k.toLowerCase(), k);
  for (const [rawKey, v] of Object.entries(obj)) {
    let key: string | undefined = Object.prototype.hasOwnProperty.call(schema, rawKey) ? rawKey : undefined;
    if (key === undefined) key = lowerIndex.get(rawKey.toLowerCase());
    if (key === undefined) {
      if (strict) throw new GoJsonError(`json: unknown field ${JSON.stringify(rawKey)}`);
      continue;
    }
    if (v === null) continue;
    const path = parentPath ? `${parentPath}.${key}` : `${goType}.${key}`;
    out[key] = decodeValue(schema[key]!, v, path, strict);
  }
  return out;
}

/** Parse request bytes as JSON, with Go-ish syntax error text. Empty input is an error here. */
export function parseJsonBody(body: Buffer | string): unknown {
  const text = typeof body === 'string' ? body : body.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    if (text.trim() === '') throw new GoJsonError('unexpected end of JSON input');
    const firstBad = text.trimStart()[0] ?? '';
    if (!'{["tfn-0123456789'.includes(firstBad)) {
      throw new GoJsonError(`invalid character '${firstBad}' looking for beginning of value`);
    }
    throw new GoJsonError('unexpected end of JSON input');
  }
}

/** Decode a top-level request struct from bytes. */
export function decodeRequest(body: Buffer | string, schema: Schema, goType: string, strict: boolean): Record<string, unknown> {
  const v = parseJsonBody(body);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    if (v === null) return {};
    throw new GoJsonError(`json: cannot unmarshal ${jsonKind(v)} into Go value of type server.${goType}`);
  }
  return decodeStruct(schema, v as Record<string, unknown>, goType, strict);
}
