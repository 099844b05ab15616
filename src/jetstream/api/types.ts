// JetStream API shapes, with the JSON field names used on the wire (snake_case).
// Durations are integer nanoseconds, times RFC3339Nano strings.

import type { Schema } from './json.js';

export type RetentionPolicy = 'limits' | 'interest' | 'workqueue';
export type DiscardPolicy = 'old' | 'new';
export type StorageType = 'file' | 'memory';
export type Compression = 'none' | 's2';

export interface SubjectTransformConfig { src: string; dest: string }
export interface RePublish { src?: string; dest: string; headers_only?: boolean }
export interface Placement { cluster?: string; tags?: string[]; preferred?: string }
export interface ExternalStream { api: string; deliver: string }
export interface StreamConsumerLimits { inactive_threshold?: number; max_ack_pending?: number }

export interface StreamSource {
  name: string;
  opt_start_seq?: number;
  opt_start_time?: string;
  filter_subject?: string;
  subject_transforms?: SubjectTransformConfig[];
  external?: ExternalStream;
}

export interface StreamConfig {
  name: string;
  description?: string;
  subjects?: string[];
  retention: RetentionPolicy;
  max_consumers: number;
  max_msgs: number;
  max_bytes: number;
  max_age: number;
  max_msgs_per_subject: number;
  max_msg_size: number;
  discard: DiscardPolicy;
  storage: StorageType;
  num_replicas: number;
  no_ack?: boolean;
  duplicate_window: number;
  placement?: Placement;
  mirror?: StreamSource;
  sources?: StreamSource[];
  compression: Compression;
  first_seq?: number;
  subject_transform?: SubjectTransformConfig;
  republish?: RePublish;
  allow_direct: boolean;
  mirror_direct: boolean;
  discard_new_per_subject?: boolean;
  sealed: boolean;
  deny_delete: boolean;
  deny_purge: boolean;
  allow_rollup_hdrs: boolean;
  consumer_limits: StreamConsumerLimits;
  metadata?: Record<string, string>;
}

/** A create/update request as decoded (every field optional, wire types unchecked beyond the schema). */
export type StreamConfigRequest = Partial<StreamConfig> & { pedantic?: boolean } & Record<string, unknown>;

export interface LostStreamData { msgs: number[]; bytes: number }

export interface StreamStateJson {
  messages: number;
  bytes: number;
  first_seq: number;
  first_ts: string;
  last_seq: number;
  last_ts: string;
  num_subjects?: number;
  subjects?: Record<string, number>;
  num_deleted?: number;
  deleted?: number[];
  lost?: LostStreamData;
  consumer_count: number;
}

export interface StreamSourceInfo {
  name: string;
  external?: ExternalStream;
  lag: number;
  active: number;
  error?: { code: number; err_code: number; description: string };
  filter_subject?: string;
  subject_transforms?: SubjectTransformConfig[];
}

export interface ApiErrorJson { code: number; err_code: number; description: string }

// Response `type` strings.
const T = 'io.nats.jetstream.api.v1.';
export const ResponseType = {
  AccountInfo: T + 'account_info_response',
  StreamCreate: T + 'stream_create_response',
  StreamUpdate: T + 'stream_update_response',
  StreamInfo: T + 'stream_info_response',
  StreamNames: T + 'stream_names_response',
  StreamList: T + 'stream_list_response',
  StreamDelete: T + 'stream_delete_response',
  StreamPurge: T + 'stream_purge_response',
  StreamMsgGet: T + 'stream_msg_get_response',
  StreamMsgDelete: T + 'stream_msg_delete_response',
  StreamSnapshot: T + 'stream_snapshot_response',
  StreamRestore: T + 'stream_restore_response',
  StreamLeaderStepdown: T + 'stream_leader_stepdown_response',
  StreamRemovePeer: T + 'stream_remove_peer_response',
} as const;

// Paging limits (nats-server JSApiNamesLimit / JSApiListLimit).
export const API_NAMES_LIMIT = 1024;
export const API_LIST_LIMIT = 256;
/** Subjects returned per page by stream INFO with subjects_filter. */
export const API_SUBJECTS_LIMIT = 100_000;

// ---- request schemas (what nats-server's structs accept) -----------------------------

const transformSchema: Schema = { src: 'string', dest: 'string' };
const externalSchema: Schema = { api: 'string', deliver: 'string' };
const sourceSchema: Schema = {
  name: 'string', opt_start_seq: 'uint64', opt_start_time: 'time', filter_subject: 'string',
  subject_transforms: { array: { object: transformSchema, name: 'SubjectTransformConfig' } },
  external: { object: externalSchema, name: 'ExternalStream' },
  consumer: { object: { name: 'string', deliver_subject: 'string' }, name: 'StreamConsumerSource' },
};

export const streamConfigSchema: Schema = {
  name: 'string', description: 'string', subjects: { array: 'string' }, retention: { enum: ['limits', 'interest', 'workqueue'] },
  max_consumers: 'int', max_msgs: 'int64', max_bytes: 'int64', max_age: 'duration',
  max_msgs_per_subject: 'int64', max_msg_size: 'int32', discard: { enum: ['old', 'new'], caseInsensitive: true },
  storage: { enum: ['file', 'memory'] },
  num_replicas: 'int', no_ack: 'bool', duplicate_window: 'duration',
  placement: { object: { cluster: 'string', tags: { array: 'string' }, preferred: 'string' }, name: 'Placement' },
  mirror: { object: sourceSchema, name: 'StreamSource' },
  sources: { array: { object: sourceSchema, name: 'StreamSource' } },
  compression: { enum: ['none', 's2'], error: 'unknown compression algorithm' }, first_seq: 'uint64',
  subject_transform: { object: transformSchema, name: 'SubjectTransformConfig' },
  republish: { object: { src: 'string', dest: 'string', headers_only: 'bool' }, name: 'RePublish' },
  allow_direct: 'bool', mirror_direct: 'bool', discard_new_per_subject: 'bool', sealed: 'bool',
  deny_delete: 'bool', deny_purge: 'bool', allow_rollup_hdrs: 'bool',
  consumer_limits: { object: { inactive_threshold: 'duration', max_ack_pending: 'int' }, name: 'StreamConsumerLimits' },
  // Fields of newer servers: decoded so strict mode does not call them unknown,
  // then refused by validation when they ask for a feature tsnats does not have.
  allow_msg_ttl: 'bool', subject_delete_marker_ttl: 'duration', allow_msg_counter: 'bool',
  allow_atomic: 'bool', allow_msg_schedules: 'bool', persist_mode: 'any', allow_batched: 'bool',
  metadata: { map: 'string' },
};

export const streamCreateRequestSchema: Schema = { ...streamConfigSchema, pedantic: 'bool' };

export const streamInfoRequestSchema: Schema = { offset: 'int', deleted_details: 'bool', subjects_filter: 'string' };
export const streamNamesRequestSchema: Schema = { offset: 'int', subject: 'string' };
export const streamPurgeRequestSchema: Schema = { seq: 'uint64', filter: 'string', keep: 'uint64' };
export const msgDeleteRequestSchema: Schema = { seq: 'uint64', no_erase: 'bool' };
export const msgGetRequestSchema: Schema = {
  seq: 'uint64', last_by_subj: 'string', next_by_subj: 'string', batch: 'int', max_bytes: 'int',
  start_time: 'time', multi_last: { array: 'string' }, up_to_seq: 'uint64', up_to_time: 'time', no_hdr: 'bool',
};
export const snapshotRequestSchema: Schema = {
  deliver_subject: 'string', no_consumers: 'bool', chunk_size: 'int', window_size: 'int', jsck: 'bool',
};
const stateSchema: Schema = {
  messages: 'uint64', bytes: 'uint64', first_seq: 'uint64', first_ts: 'time', last_seq: 'uint64', last_ts: 'time',
  num_subjects: 'int', subjects: { map: 'uint64' }, num_deleted: 'int', deleted: { array: 'uint64' },
  lost: { object: { msgs: { array: 'uint64' }, bytes: 'uint64' }, name: 'LostStreamData' }, consumer_count: 'int',
};
export const restoreRequestSchema: Schema = {
  config: { object: streamConfigSchema, name: 'StreamConfig' },
  state: { object: stateSchema, name: 'StreamState' },
};

export interface StreamInfoRequest { offset?: number; deleted_details?: boolean; subjects_filter?: string }
export interface StreamNamesRequest { offset?: number; subject?: string }
export interface StreamPurgeRequest { seq?: number; filter?: string; keep?: number }
export interface MsgDeleteRequest { seq?: number; no_erase?: boolean }
export interface MsgGetRequest {
  seq?: number; last_by_subj?: string; next_by_subj?: string; batch?: number; max_bytes?: number;
  start_time?: string; multi_last?: string[]; up_to_seq?: number; up_to_time?: string; no_hdr?: boolean;
}
export interface SnapshotRequest {
  deliver_subject?: string; no_consumers?: boolean; chunk_size?: number; window_size?: number; jsck?: boolean;
}
export interface RestoreRequest { config?: StreamConfigRequest; state?: Partial<StreamStateJson> }

// ---- encoding in nats-server's field order -----------------------------------------

function encodeSource(s: StreamSource): Record<string, unknown> {
  const o: Record<string, unknown> = { name: s.name };
  if (s.opt_start_seq) o.opt_start_seq = s.opt_start_seq;
  if (s.opt_start_time) o.opt_start_time = s.opt_start_time;
  if (s.filter_subject) o.filter_subject = s.filter_subject;
  if (s.subject_transforms?.length) o.subject_transforms = s.subject_transforms.map((t) => ({ src: t.src, dest: t.dest }));
  if (s.external) o.external = { api: s.external.api, deliver: s.external.deliver };
  return o;
}

/** StreamConfig as nats-server marshals it (field order and omitempty rules). */
export function encodeStreamConfig(c: StreamConfig): Record<string, unknown> {
  const o: Record<string, unknown> = { name: c.name };
  if (c.description) o.description = c.description;
  if (c.subjects?.length) o.subjects = c.subjects;
  o.retention = c.retention;
  o.max_consumers = c.max_consumers;
  o.max_msgs = c.max_msgs;
  o.max_bytes = c.max_bytes;
  o.max_age = c.max_age;
  o.max_msgs_per_subject = c.max_msgs_per_subject;
  if (c.max_msg_size) o.max_msg_size = c.max_msg_size;
  o.discard = c.discard;
  o.storage = c.storage;
  o.num_replicas = c.num_replicas;
  if (c.no_ack) o.no_ack = true;
  if (c.duplicate_window) o.duplicate_window = c.duplicate_window;
  if (c.placement) {
    const p: Record<string, unknown> = {};
    if (c.placement.cluster) p.cluster = c.placement.cluster;
    if (c.placement.tags?.length) p.tags = c.placement.tags;
    if (c.placement.preferred) p.preferred = c.placement.preferred;
    o.placement = p;
  }
  if (c.mirror) o.mirror = encodeSource(c.mirror);
  if (c.sources?.length) o.sources = c.sources.map(encodeSource);
  o.compression = c.compression;
  if (c.first_seq) o.first_seq = c.first_seq;
  if (c.subject_transform) o.subject_transform = { src: c.subject_transform.src, dest: c.subject_transform.dest };
  if (c.republish) {
    const r: Record<string, unknown> = {};
    if (c.republish.src) r.src = c.republish.src;
    r.dest = c.republish.dest;
    if (c.republish.headers_only) r.headers_only = true;
    o.republish = r;
  }
  o.allow_direct = c.allow_direct;
  o.mirror_direct = c.mirror_direct;
  if (c.discard_new_per_subject) o.discard_new_per_subject = true;
  o.sealed = c.sealed;
  o.deny_delete = c.deny_delete;
  o.deny_purge = c.deny_purge;
  o.allow_rollup_hdrs = c.allow_rollup_hdrs;
  const cl: Record<string, unknown> = {};
  if (c.consumer_limits.inactive_threshold) cl.inactive_threshold = c.consumer_limits.inactive_threshold;
  if (c.consumer_limits.max_ack_pending) cl.max_ack_pending = c.consumer_limits.max_ack_pending;
  o.consumer_limits = cl;
  if (c.metadata && Object.keys(c.metadata).length) o.metadata = c.metadata;
  return o;
}

/** Deep copy through JSON (configs are plain data). */
export function cloneConfig(c: StreamConfig): StreamConfig {
  return JSON.parse(JSON.stringify(c)) as StreamConfig;
}
