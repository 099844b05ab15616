// Meta-group entries: stream and consumer assignments as nats-server writes them into the
// `_meta_` raft log (jetstream-cluster.md §1, §2.1).
//
// Entry = op byte + JSON of the assignment + "\n" (Go's json.Encoder adds the newline; every
// assignment op is written that way, in 2.9.10 and today). assignCompressedConsumerOp (9)
// carries the JSON S2-compressed: today as a framed S2 stream (s2.NewWriter), in 2.9.10 as
// an S2 block; both are read, the stream form is written.
//
// JSON field order is Go's struct declaration order. The stream/consumer config is kept as
// the exact JSON text it arrived in (nats-server keeps it as json.RawMessage too): an entry
// decoded and re-encoded gives the same bytes, whatever server version wrote it, and a
// config with fields this server does not know is carried through untouched (the assignment
// is flagged `unsupported` instead of being rejected, as nats-server does).

import { checkDecoded, goJson, JsonDecodeError, parseGoTime } from '../api/json.js';
import {
  encodeStreamConfig, streamConfigSchema, type StreamConfig, type StorageType, type StreamSource,
} from '../api/types.js';
import { consumerConfigToJSON, decodeConsumerConfig, type ConsumerConfig } from '../consumer/config.js';
import { formatRfc3339Nano, nowNs, parseRfc3339 } from '../consumer/go-format.js';
import { EntryOp, entryOpName, isConsumerAssignmentOp, isMetaOp, isStreamAssignmentOp, type MetaOp } from './ops.js';
import { S2Error, s2Decode, s2StreamDecode, s2StreamEncode } from './s2.js';

/** A meta entry that cannot be decoded. The caller logs it and skips the entry. */
export class MetaCodecError extends Error {
  constructor(readonly code: 'empty' | 'not_meta_op' | 'bad_json' | 'bad_assignment' | 'bad_compression', message: string) {
    super(message);
    this.name = 'MetaCodecError';
  }
}

/** Largest decompressed consumer assignment accepted from an op-9 entry. */
const MAX_COMPRESSED_ASSIGNMENT = 64 * 1024 * 1024;
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** nats-server's ClientInfo (events.go), the subset of fields and their JSON names. */
export interface ClientInfo {
  start?: string;
  host?: string;
  id?: number;
  acc: string;
  svc?: string;
  user?: string;
  name?: string;
  lang?: string;
  ver?: string;
  /** ns */
  rtt?: number;
  server?: string;
  cluster?: string;
  alts?: string[];
  stop?: string;
  jwt?: string;
  issuer_key?: string;
  name_tag?: string;
  tags?: string[];
  kind?: string;
  client_type?: string;
  client_id?: string;
  nonce?: string;
  reply?: string;
}

type FieldKind = 'string' | 'number' | 'strings';
/** Go declaration order; every field but `acc` is omitempty (2.9.10 always writes `acc`). */
const CLIENT_FIELDS: Array<[keyof ClientInfo, FieldKind]> = [
  ['start', 'string'], ['host', 'string'], ['id', 'number'], ['acc', 'string'], ['svc', 'string'],
  ['user', 'string'], ['name', 'string'], ['lang', 'string'], ['ver', 'string'], ['rtt', 'number'],
  ['server', 'string'], ['cluster', 'string'], ['alts', 'strings'], ['stop', 'string'], ['jwt', 'string'],
  ['issuer_key', 'string'], ['name_tag', 'string'], ['tags', 'strings'], ['kind', 'string'],
  ['client_type', 'string'], ['client_id', 'string'], ['nonce', 'string'], ['reply', 'string'],
];

/** nats-server's raftGroup. `desired` (newer servers, group moves) is carried as plain JSON. */
export interface RaftGroup {
  name: string;
  peers: string[];
  store: StorageType;
  cluster?: string;
  preferred?: string;
  scale_up?: boolean;
  excluded?: string[];
  desired?: Record<string, unknown>;
}

export interface StreamAssignment {
  client?: ClientInfo;
  /** RFC3339Nano creation time, exactly as written (identity check in applyMetaSnapshot). */
  created: string;
  /** The config, decoded (Go zero values for absent fields). */
  config: StreamConfig;
  /** The config JSON as carried in the log; what is encoded. Build with makeStreamAssignment / withStreamConfig. */
  configJson: string;
  group: RaftGroup;
  /** `$JSC.SYNC.<token>`: the stream's catchup subject. */
  sync: string;
  /** The API request subject and the client's reply (present in proposals, absent in snapshots). */
  subject?: string;
  reply?: string;
  /** `restore_state` JSON (stream restores), carried verbatim. */
  restoreStateJson?: string;
  /** Set when the config has fields this server does not know: keep, do not run, do not delete. */
  unsupported?: string;
}

export interface ConsumerAssignment {
  client?: ClientInfo;
  created: string;
  name: string;
  stream: string;
  config: ConsumerConfig;
  configJson: string;
  group: RaftGroup;
  subject?: string;
  reply?: string;
  /** `state` JSON (consumer state carried with a re-assignment), verbatim. */
  stateJson?: string;
  unsupported?: string;
}

/** A stream assignment with its consumers, as in a meta snapshot. */
export interface StreamAssignmentWithConsumers extends StreamAssignment {
  consumers: ConsumerAssignment[];
}

export interface DecodedMetaEntry {
  op: MetaOp;
  stream?: StreamAssignment;
  consumer?: ConsumerAssignment;
}

/** The account that owns an assignment: the service account if set, else the client's account. */
export function assignmentAccount(a: { client?: ClientInfo }): string {
  return a.client?.svc || a.client?.acc || '';
}

/** An assignment's `created` text for a time in ns (default now): RFC3339Nano UTC as Go writes it. */
export function createdTime(ns: bigint = nowNs()): string {
  return formatRfc3339Nano(ns);
}

/** Creation time in ns since the epoch (0 for Go's zero time). */
export function createdNs(a: { created: string }): bigint {
  return parseGoTime(a.created);
}

// ---- building assignments ---------------------------------------------------------------

export interface NewStreamAssignment {
  client?: ClientInfo;
  created?: string;
  config: StreamConfig;
  group: RaftGroup;
  sync: string;
  subject?: string;
  reply?: string;
  restoreStateJson?: string;
}

/** A new stream assignment; the config JSON is rendered with the stream-config encoder. */
export function makeStreamAssignment(a: NewStreamAssignment): StreamAssignment {
  const sa: StreamAssignment = {
    created: a.created ?? ZERO_TIME,
    config: a.config,
    configJson: goJson(encodeStreamConfig(a.config)),
    group: a.group,
    sync: a.sync,
  };
  if (a.client) sa.client = a.client;
  if (a.subject !== undefined) sa.subject = a.subject;
  if (a.reply !== undefined) sa.reply = a.reply;
  if (a.restoreStateJson !== undefined) sa.restoreStateJson = a.restoreStateJson;
  return sa;
}

/** The same assignment with a new config (update). */
export function withStreamConfig(sa: StreamAssignment, config: StreamConfig): StreamAssignment {
  const out: StreamAssignment = { ...sa, config, configJson: goJson(encodeStreamConfig(config)) };
  delete out.unsupported;
  return out;
}

export interface NewConsumerAssignment {
  client?: ClientInfo;
  created?: string;
  name: string;
  stream: string;
  config: ConsumerConfig;
  group: RaftGroup;
  subject?: string;
  reply?: string;
  stateJson?: string;
}

export function makeConsumerAssignment(a: NewConsumerAssignment): ConsumerAssignment {
  const ca: ConsumerAssignment = {
    created: a.created ?? ZERO_TIME,
    name: a.name,
    stream: a.stream,
    config: a.config,
    configJson: goJson(consumerConfigToJSON(a.config)),
    group: a.group,
  };
  if (a.client) ca.client = a.client;
  if (a.subject !== undefined) ca.subject = a.subject;
  if (a.reply !== undefined) ca.reply = a.reply;
  if (a.stateJson !== undefined) ca.stateJson = a.stateJson;
  return ca;
}

export function withConsumerConfig(ca: ConsumerAssignment, config: ConsumerConfig): ConsumerAssignment {
  const out: ConsumerAssignment = { ...ca, config, configJson: goJson(consumerConfigToJSON(config)) };
  delete out.unsupported;
  return out;
}

/**
 * ClientInfo reduced for proposals (jwt and issuer key stripped, as nats-server's forProposal)
 * or for snapshots (account, service account and cluster only: forAssignmentSnap).
 */
export function clientForProposal(ci: ClientInfo): ClientInfo {
  const out = { ...ci };
  delete out.jwt;
  delete out.issuer_key;
  return out;
}
export function clientForSnapshot(ci: ClientInfo): ClientInfo {
  const out: ClientInfo = { acc: ci.acc };
  if (ci.svc) out.svc = ci.svc;
  if (ci.cluster) out.cluster = ci.cluster;
  return out;
}

// ---- encoding ---------------------------------------------------------------------------

const q = (s: string): string => goJson(s);

export function encodeClientInfo(ci: ClientInfo): string {
  const parts: string[] = [];
  for (const [k, kind] of CLIENT_FIELDS) {
    const v = ci[k];
    if (k !== 'acc') {
      if (v === undefined || v === '' || v === 0) continue;
      if (kind === 'strings' && (v as string[]).length === 0) continue;
    }
    parts.push(`${q(k)}:${kind === 'string' ? q((v as string | undefined) ?? '') : goJson(v)}`);
  }
  return `{${parts.join(',')}}`;
}

export function encodeRaftGroup(g: RaftGroup): string {
  let s = `{"name":${q(g.name)},"peers":${goJson(g.peers)},"store":${q(g.store)}`;
  if (g.cluster) s += `,"cluster":${q(g.cluster)}`;
  if (g.preferred) s += `,"preferred":${q(g.preferred)}`;
  if (g.scale_up) s += ',"scale_up":true';
  if (g.excluded?.length) s += `,"excluded":${goJson(g.excluded)}`;
  if (g.desired) s += `,"desired":${goJson(g.desired)}`;
  return s + '}';
}

/** A stream assignment's JSON (no newline), in streamAssignment field order. */
export function encodeStreamAssignmentJson(sa: StreamAssignment): string {
  let s = '{';
  if (sa.client) s += `"client":${encodeClientInfo(sa.client)},`;
  s += `"created":${q(sa.created)},"stream":${sa.configJson},"group":${encodeRaftGroup(sa.group)},"sync":${q(sa.sync)}`;
  if (sa.subject !== undefined) s += `,"subject":${q(sa.subject)}`;
  if (sa.reply !== undefined) s += `,"reply":${q(sa.reply)}`;
  if (sa.restoreStateJson !== undefined) s += `,"restore_state":${sa.restoreStateJson}`;
  return s + '}';
}

/** A consumer assignment's JSON (no newline), in consumerAssignment field order. */
export function encodeConsumerAssignmentJson(ca: ConsumerAssignment): string {
  let s = '{';
  if (ca.client) s += `"client":${encodeClientInfo(ca.client)},`;
  s += `"created":${q(ca.created)},"name":${q(ca.name)},"stream":${q(ca.stream)},"consumer":${ca.configJson}`;
  s += `,"group":${encodeRaftGroup(ca.group)}`;
  if (ca.subject !== undefined) s += `,"subject":${q(ca.subject)}`;
  if (ca.reply !== undefined) s += `,"reply":${q(ca.reply)}`;
  if (ca.stateJson !== undefined) s += `,"state":${ca.stateJson}`;
  return s + '}';
}

/**
 * Encode a meta entry: op byte + JSON + "\n" (op 9: op byte + framed S2 of JSON + "\n").
 * The op decides which assignment kind is expected.
 */
export function encodeMetaEntry(op: MetaOp, assignment: StreamAssignment | ConsumerAssignment): Buffer {
  if (isStreamAssignmentOp(op)) {
    if (!('sync' in assignment)) throw new TypeError(`${entryOpName(op)} needs a stream assignment`);
    return Buffer.concat([Buffer.from([op]), Buffer.from(encodeStreamAssignmentJson(assignment) + '\n', 'utf8')]);
  }
  if (!('name' in assignment) || !('stream' in assignment) || typeof assignment.stream !== 'string') {
    throw new TypeError(`${entryOpName(op)} needs a consumer assignment`);
  }
  const json = Buffer.from(encodeConsumerAssignmentJson(assignment) + '\n', 'utf8');
  if (op === EntryOp.assignCompressedConsumerOp) return Buffer.concat([Buffer.from([op]), s2StreamEncode(json)]);
  return Buffer.concat([Buffer.from([op]), json]);
}

// ---- decoding ---------------------------------------------------------------------------

export interface Span { start: number; end: number }

/**
 * Spans of the values of a JSON object's members (text already known to be valid JSON).
 * Go matches keys case-insensitively when there is no exact match; so do we. Later
 * duplicates win, as in Go.
 */
function memberSpans(text: string, start: number): Map<string, Span> {
  const spans = new Map<string, Span>();
  let i = skipWs(text, start);
  if (text[i] !== '{') return spans;
  i = skipWs(text, i + 1);
  if (text[i] === '}') return spans;
  for (;;) {
    const keyEnd = skipString(text, i);
    const raw = text.slice(i + 1, keyEnd - 1);
    const key = raw.includes('\\') ? (JSON.parse(text.slice(i, keyEnd)) as string) : raw;
    i = skipWs(text, keyEnd);
    i = skipWs(text, i + 1); // ':'
    const vStart = i;
    const vEnd = skipValue(text, i);
    spans.set(key, { start: vStart, end: vEnd });
    i = skipWs(text, vEnd);
    if (text[i] === ',') {
      i = skipWs(text, i + 1);
      continue;
    }
    return spans;
  }
}

/** Spans of the elements of a JSON array (text already known to be valid JSON); [] for null. */
export function arrayElementSpans(text: string, start = 0): Array<{ start: number; end: number }> {
  const out: Span[] = [];
  let i = skipWs(text, start);
  if (text[i] !== '[') return out;
  i = skipWs(text, i + 1);
  if (text[i] === ']') return out;
  for (;;) {
    const end = skipValue(text, i);
    out.push({ start: i, end });
    i = skipWs(text, end);
    if (text[i] !== ',') return out;
    i = skipWs(text, i + 1);
  }
}

/** Spans of the members of a JSON object text, for memberSpan / decodeStreamAssignmentJson. */
export function objectMemberSpans(text: string): Map<string, Span> {
  return memberSpans(text, 0);
}

/** Span of one member's value (exact key first, then case-insensitive as Go). */
export function memberSpan(spans: Map<string, Span>, key: string): Span | undefined {
  return lookup(spans, key);
}

// The scanners below run over text JSON.parse has already accepted, so they only need to
// find where values end. They work on char codes (snapshots of large systems are megabytes).
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}
function skipWs(t: string, i: number): number {
  while (i < t.length && isWs(t.charCodeAt(i))) i++;
  return i;
}
/** From an opening quote to just past the closing one. */
function skipString(t: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = t.indexOf('"', j);
    if (q < 0) return t.length;
    // The quote is escaped if an odd number of backslashes precede it.
    let b = q - 1;
    while (b > i && t.charCodeAt(b) === BACKSLASH) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}
function skipValue(t: string, i: number): number {
  const c = t.charCodeAt(i);
  if (c === QUOTE) return skipString(t, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    while (i < t.length) {
      const d = t.charCodeAt(i);
      if (d === QUOTE) {
        i = skipString(t, i);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return i;
  }
  // Number, true, false, null.
  while (i < t.length) {
    const d = t.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || isWs(d)) break;
    i++;
  }
  return i;
}

function lookup(spans: Map<string, Span>, key: string): Span | undefined {
  const exact = spans.get(key);
  if (exact) return exact;
  const lower = key.toLowerCase();
  for (const [k, v] of spans) if (k.toLowerCase() === lower) return v;
  return undefined;
}

const bad = (why: string): MetaCodecError => new MetaCodecError('bad_assignment', `invalid assignment: ${why}`);

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(obj: Record<string, unknown>, key: string): unknown {
  if (key in obj) return obj[key];
  const lower = key.toLowerCase();
  for (const k of Object.keys(obj)) if (k.toLowerCase() === lower) return obj[k];
  return undefined;
}

function optString(obj: Record<string, unknown>, key: string, what: string): string | undefined {
  const v = field(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`${what}.${key} is not a string`);
  return v;
}

function decodeClientInfo(v: unknown): ClientInfo | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw bad('client is not an object');
  const ci: ClientInfo = { acc: '' };
  const target = ci as unknown as Record<string, unknown>;
  for (const [k, kind] of CLIENT_FIELDS) {
    const x = field(v, k);
    if (x === undefined || x === null) continue;
    if (kind === 'string' && typeof x !== 'string') throw bad(`client.${k} is not a string`);
    if (kind === 'number' && (typeof x !== 'number' || !Number.isInteger(x))) throw bad(`client.${k} is not an integer`);
    if (kind === 'strings' && (!Array.isArray(x) || x.some((e) => typeof e !== 'string'))) throw bad(`client.${k} is not a list of strings`);
    target[k] = kind === 'strings' ? [...(x as string[])] : x;
  }
  return ci;
}

function decodeRaftGroup(v: unknown): RaftGroup {
  if (!isObj(v)) throw bad('group missing or not an object');
  const name = optString(v, 'name', 'group');
  if (!name) throw bad('group has no name');
  const peers = field(v, 'peers');
  if (peers !== null && peers !== undefined && (!Array.isArray(peers) || peers.some((p) => typeof p !== 'string'))) {
    throw bad('group.peers is not a list of strings');
  }
  const store = field(v, 'store') ?? 'file';
  if (store !== 'file' && store !== 'memory') throw bad(`group.store ${JSON.stringify(store)} is not a storage type`);
  const g: RaftGroup = { name, peers: peers ? [...(peers as string[])] : [], store };
  const cluster = optString(v, 'cluster', 'group');
  if (cluster) g.cluster = cluster;
  const preferred = optString(v, 'preferred', 'group');
  if (preferred) g.preferred = preferred;
  const scaleUp = field(v, 'scale_up');
  if (scaleUp !== undefined && scaleUp !== null && typeof scaleUp !== 'boolean') throw bad('group.scale_up is not a bool');
  if (scaleUp) g.scale_up = true;
  const excluded = field(v, 'excluded');
  if (excluded !== undefined && excluded !== null) {
    if (!Array.isArray(excluded) || excluded.some((p) => typeof p !== 'string')) throw bad('group.excluded is not a list of strings');
    if (excluded.length) g.excluded = [...(excluded as string[])];
  }
  const desired = field(v, 'desired');
  if (desired !== undefined && desired !== null) {
    if (!isObj(desired)) throw bad('group.desired is not an object');
    g.desired = desired;
  }
  return g;
}

function decodeCreated(obj: Record<string, unknown>): string {
  const v = field(obj, 'created');
  if (v === undefined || v === null) return ZERO_TIME;
  if (typeof v !== 'string' || !parseRfc3339(v)) throw bad(`created ${JSON.stringify(v)} is not an RFC3339 time`);
  return v;
}

/** A StreamConfig from its JSON the way Go unmarshals into the struct: absent fields are zero values. */
export function streamConfigFromJson(o: Record<string, unknown>): StreamConfig {
  const num = (k: string): number => (typeof o[k] === 'number' ? (o[k] as number) : 0);
  const bool = (k: string): boolean => o[k] === true;
  const str = <T extends string>(k: string, zero: T): T => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as T) : zero);
  const cfg: StreamConfig = {
    name: str('name', ''),
    retention: str('retention', 'limits'),
    max_consumers: num('max_consumers'),
    max_msgs: num('max_msgs'),
    max_bytes: num('max_bytes'),
    max_age: num('max_age'),
    max_msgs_per_subject: num('max_msgs_per_subject'),
    max_msg_size: num('max_msg_size'),
    discard: (str('discard', 'old').toLowerCase() as StreamConfig['discard']),
    storage: str('storage', 'file'),
    num_replicas: num('num_replicas'),
    duplicate_window: num('duplicate_window'),
    compression: str('compression', 'none'),
    allow_direct: bool('allow_direct'),
    mirror_direct: bool('mirror_direct'),
    sealed: bool('sealed'),
    deny_delete: bool('deny_delete'),
    deny_purge: bool('deny_purge'),
    allow_rollup_hdrs: bool('allow_rollup_hdrs'),
    consumer_limits: {},
  };
  if (typeof o.description === 'string' && o.description) cfg.description = o.description;
  if (Array.isArray(o.subjects) && o.subjects.length) cfg.subjects = (o.subjects as unknown[]).map((s) => (s ?? '') as string);
  if (bool('no_ack')) cfg.no_ack = true;
  if (bool('discard_new_per_subject')) cfg.discard_new_per_subject = true;
  if (num('first_seq')) cfg.first_seq = num('first_seq');
  if (isObj(o.placement)) cfg.placement = o.placement as StreamConfig['placement'];
  if (isObj(o.mirror)) cfg.mirror = o.mirror as unknown as StreamSource;
  if (Array.isArray(o.sources) && o.sources.length) cfg.sources = o.sources as StreamSource[];
  if (isObj(o.subject_transform)) cfg.subject_transform = o.subject_transform as unknown as StreamConfig['subject_transform'];
  if (isObj(o.republish)) cfg.republish = o.republish as unknown as StreamConfig['republish'];
  if (isObj(o.consumer_limits)) {
    const cl = o.consumer_limits;
    if (typeof cl.inactive_threshold === 'number' && cl.inactive_threshold) cfg.consumer_limits.inactive_threshold = cl.inactive_threshold;
    if (typeof cl.max_ack_pending === 'number' && cl.max_ack_pending) cfg.consumer_limits.max_ack_pending = cl.max_ack_pending;
  }
  if (isObj(o.metadata) && Object.keys(o.metadata).length) cfg.metadata = o.metadata as Record<string, string>;
  // A mirror has no dedup window (nats-server fixCfgMirrorWithDedupWindow).
  if (cfg.mirror) cfg.duplicate_window = 0;
  return cfg;
}

/**
 * Decode a config the way newer nats-server does: strictly first; if that fails only because
 * of unknown fields, decode leniently and report the assignment as unsupported.
 */
function decodeStreamConfigJson(parsed: Record<string, unknown>): { config: StreamConfig; unsupported?: string } {
  // `parsed` is the config as JSON.parse read it with the whole assignment: checked, not parsed
  // again (every server decodes every create; the second parse was a third of the decode).
  try {
    const obj = checkDecoded<Record<string, unknown>>(parsed, streamConfigSchema, 'StreamConfig', true);
    return { config: streamConfigFromJson(obj) };
  } catch (strictErr) {
    try {
      const obj = checkDecoded<Record<string, unknown>>(parsed, streamConfigSchema, 'StreamConfig', false);
      return { config: streamConfigFromJson(obj), unsupported: (strictErr as Error).message };
    } catch (e) {
      throw bad(`stream config: ${(e as Error).message}`);
    }
  }
}

function decodeConsumerConfigJson(text: string): { config: ConsumerConfig; unsupported?: string } {
  try {
    return { config: decodeConsumerConfig(text, true) };
  } catch (strictErr) {
    try {
      return { config: decodeConsumerConfig(text, false), unsupported: (strictErr as Error).message };
    } catch (e) {
      throw bad(`consumer config: ${(e as Error).message}`);
    }
  }
}

function parseObject(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new MetaCodecError('bad_json', `invalid assignment JSON: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw new MetaCodecError('bad_json', 'assignment JSON is not an object');
  return v;
}

/** Decode a stream assignment from its JSON text (an entry body or a snapshot element). */
export function decodeStreamAssignmentJson(slice: string, spans: Map<string, Span> = memberSpans(slice, 0)): StreamAssignment {
  const obj = parseObject(slice);
  const cfgSpan = lookup(spans, 'stream');
  const cfgObj = field(obj, 'stream');
  if (!cfgSpan || !isObj(cfgObj)) throw bad('stream config missing or not an object');
  const configJson = slice.slice(cfgSpan.start, cfgSpan.end);
  const { config, unsupported } = decodeStreamConfigJson(cfgObj);
  if (!config.name) throw bad('stream config has no name');
  const sync = field(obj, 'sync');
  if (sync !== undefined && sync !== null && typeof sync !== 'string') throw bad('sync is not a string');
  const sa: StreamAssignment = {
    created: decodeCreated(obj),
    config,
    configJson,
    group: decodeRaftGroup(field(obj, 'group')),
    sync: (sync as string | undefined) ?? '',
  };
  const client = decodeClientInfo(field(obj, 'client'));
  if (client) sa.client = client;
  if (!assignmentAccount(sa)) throw bad('no account (client.acc)');
  const subject = optString(obj, 'subject', 'assignment');
  if (lookup(spans, 'subject')) sa.subject = subject ?? '';
  const reply = optString(obj, 'reply', 'assignment');
  if (lookup(spans, 'reply')) sa.reply = reply ?? '';
  const rs = lookup(spans, 'restore_state');
  if (rs && field(obj, 'restore_state') !== null) {
    if (!isObj(field(obj, 'restore_state'))) throw bad('restore_state is not an object');
    sa.restoreStateJson = slice.slice(rs.start, rs.end);
  }
  if (unsupported) sa.unsupported = unsupported;
  return sa;
}

/** Decode a consumer assignment from its JSON text. `streamName` fills an absent `stream` (snapshots). */
export function decodeConsumerAssignmentJson(text: string, streamName?: string): ConsumerAssignment {
  const obj = parseObject(text);
  const spans = memberSpans(text, 0);
  const cfgSpan = lookup(spans, 'consumer');
  if (!cfgSpan || !isObj(field(obj, 'consumer'))) throw bad('consumer config missing or not an object');
  const configJson = text.slice(cfgSpan.start, cfgSpan.end);
  const { config, unsupported } = decodeConsumerConfigJson(configJson);
  const name = optString(obj, 'name', 'assignment') ?? '';
  const stream = optString(obj, 'stream', 'assignment') || streamName || '';
  if (!name) throw bad('consumer assignment has no name');
  if (!stream) throw bad('consumer assignment has no stream');
  const ca: ConsumerAssignment = {
    created: decodeCreated(obj),
    name,
    stream,
    config,
    configJson,
    group: decodeRaftGroup(field(obj, 'group')),
  };
  const client = decodeClientInfo(field(obj, 'client'));
  if (client) ca.client = client;
  if (!assignmentAccount(ca)) throw bad('no account (client.acc)');
  const subject = optString(obj, 'subject', 'assignment');
  if (lookup(spans, 'subject')) ca.subject = subject ?? '';
  const reply = optString(obj, 'reply', 'assignment');
  if (lookup(spans, 'reply')) ca.reply = reply ?? '';
  const st = lookup(spans, 'state');
  if (st && field(obj, 'state') !== null) {
    if (!isObj(field(obj, 'state'))) throw bad('state is not an object');
    ca.stateJson = text.slice(st.start, st.end);
  }
  if (unsupported) ca.unsupported = unsupported;
  return ca;
}

function decompressAssignment(body: Buffer): string {
  try {
    // Newer servers write a framed stream (starts with the 0xff identifier chunk); 2.9.10 a block.
    const framed = body.length >= 10 && body[0] === 0xff && body[1] === 6 && body[2] === 0 && body[3] === 0;
    const out = framed ? s2StreamDecode(body, MAX_COMPRESSED_ASSIGNMENT) : s2Decode(body, MAX_COMPRESSED_ASSIGNMENT);
    return out.toString('utf8');
  } catch (e) {
    if (e instanceof S2Error) throw new MetaCodecError('bad_compression', `compressed consumer assignment: ${e.message}`);
    throw e;
  }
}

/**
 * Decode one meta EntryNormal payload. Throws MetaCodecError for an empty entry, an op that is
 * not a meta op, bad JSON, a malformed assignment or bad compression; never anything else.
 */
export function decodeMetaEntry(buf: Uint8Array): DecodedMetaEntry {
  if (buf.length === 0) throw new MetaCodecError('empty', 'empty meta entry');
  const op = buf[0]!;
  if (!isMetaOp(op)) throw new MetaCodecError('not_meta_op', `not a meta entry op: ${entryOpName(op)}`);
  const body = Buffer.from(buf.buffer, buf.byteOffset + 1, buf.length - 1);
  try {
    if (isStreamAssignmentOp(op)) return { op, stream: decodeStreamAssignmentJson(body.toString('utf8')) };
    if (isConsumerAssignmentOp(op)) {
      const text = op === EntryOp.assignCompressedConsumerOp ? decompressAssignment(body) : body.toString('utf8');
      return { op, consumer: decodeConsumerAssignmentJson(text) };
    }
  } catch (e) {
    if (e instanceof MetaCodecError) throw e;
    if (e instanceof JsonDecodeError) throw bad(e.message);
    throw new MetaCodecError('bad_assignment', `invalid assignment: ${(e as Error).message}`);
  }
  throw new MetaCodecError('not_meta_op', `not a meta entry op: ${entryOpName(op)}`);
}
