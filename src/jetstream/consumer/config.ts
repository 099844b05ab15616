// ConsumerConfig: decoding from API requests, defaults, validation with
// nats-server's error codes, which changes an update may make, and the JSON
// rendering clients see (Go field order, omitempty rules).
//
// The config is held "Go style": every field present with its zero value, so
// that equality (nats-server uses reflect.DeepEqual) and omitempty rendering
// are simple and exact. Durations are integer nanoseconds.

import { ApiError, jsErr, jsErrText } from '../api/errors.js';
import { decodeRequest, JsonDecodeError, type Schema } from '../api/json.js';
import { isLiteralSubject, isValidSubject, subjectIsSubsetMatch } from '../subjects.js';
import { OverlapWorkExceeded, SubjectTrie } from '../subject-trie.js';
import { formatGoTime, parseRfc3339, type GoTime } from './go-format.js';

export type DeliverPolicy = 'all' | 'last' | 'new' | 'by_start_sequence' | 'by_start_time' | 'last_per_subject';
export type AckPolicy = 'none' | 'all' | 'explicit';
export type ReplayPolicy = 'instant' | 'original';
export type ConsumerAction = '' | 'create' | 'update';

export interface ConsumerConfig {
  durable_name: string;
  name: string;
  description: string;
  deliver_policy: DeliverPolicy;
  opt_start_seq: number;
  opt_start_time: GoTime | null;
  ack_policy: AckPolicy;
  /** ns */
  ack_wait: number;
  max_deliver: number;
  /** ns each */
  backoff: number[] | null;
  filter_subject: string;
  filter_subjects: string[] | null;
  replay_policy: ReplayPolicy;
  rate_limit_bps: number;
  sample_freq: string;
  max_waiting: number;
  max_ack_pending: number;
  flow_control: boolean;
  headers_only: boolean;
  max_batch: number;
  /** ns */
  max_expires: number;
  max_bytes: number;
  deliver_subject: string;
  deliver_group: string;
  /** ns */
  idle_heartbeat: number;
  /** ns */
  inactive_threshold: number;
  num_replicas: number;
  mem_storage: boolean;
  direct: boolean;
  metadata: Record<string, string> | null;
}

/** The parts of the parent stream's config that consumer validation looks at (wire names). */
export interface StreamConfigView {
  name: string;
  subjects: string[];
  retention: 'limits' | 'interest' | 'workqueue';
  num_replicas: number;
  max_msgs_per_subject: number;
  max_consumers: number;
  consumer_limits?: { inactive_threshold?: number; max_ack_pending?: number };
  placement?: { preferred?: string } | null;
}

/** Server and account limits that bound consumer configs (0 / negative = no limit). */
export interface ConsumerLimits {
  serverMaxRequestBatch: number;
  serverMaxAckPending: number;
  accountMaxAckPending: number;
}

export const NO_LIMITS: ConsumerLimits = { serverMaxRequestBatch: 0, serverMaxAckPending: 0, accountMaxAckPending: 0 };

// nats-server constants.
export const ACK_WAIT_DEFAULT_NS = 30_000_000_000;
export const EPHEMERAL_INACTIVE_DEFAULT_NS = 5_000_000_000;
export const MAX_ACK_PENDING_DEFAULT = 1000;
export const MAX_WAITING_DEFAULT = 512;
export const MAX_DESCRIPTION_LEN = 4 * 1024;
export const MAX_METADATA_LEN = 128 * 1024;
export const MAX_NAME_LEN = 255;
const MS = 1_000_000;

const DELIVER_POLICIES = ['all', 'last', 'new', 'by_start_sequence', 'by_start_time', 'last_per_subject', 'undefined'] as const;

export const CONSUMER_CONFIG_SCHEMA: Schema = {
  durable_name: 'string',
  name: 'string',
  description: 'string',
  deliver_policy: { enum: DELIVER_POLICIES },
  opt_start_seq: 'uint64',
  opt_start_time: 'time',
  ack_policy: { enum: ['none', 'all', 'explicit'] },
  ack_wait: 'duration',
  max_deliver: 'int',
  backoff: { array: 'duration' },
  filter_subject: 'string',
  filter_subjects: { array: 'string' },
  replay_policy: { enum: ['instant', 'original'] },
  rate_limit_bps: 'uint64',
  sample_freq: 'string',
  max_waiting: 'int',
  max_ack_pending: 'int',
  flow_control: 'bool',
  headers_only: 'bool',
  max_batch: 'int',
  max_expires: 'duration',
  max_bytes: 'int',
  deliver_subject: 'string',
  deliver_group: 'string',
  idle_heartbeat: 'duration',
  inactive_threshold: 'duration',
  num_replicas: 'int',
  mem_storage: 'bool',
  direct: 'bool',
  metadata: { map: 'string' },
};

export const CREATE_CONSUMER_REQUEST_SCHEMA: Schema = {
  stream_name: 'string',
  config: { object: CONSUMER_CONFIG_SCHEMA, name: 'ConsumerConfig' },
  action: { enum: ['', 'create', 'update'] },
  pedantic: 'bool',
};

export function emptyConsumerConfig(): ConsumerConfig {
  return {
    durable_name: '', name: '', description: '', deliver_policy: 'all', opt_start_seq: 0, opt_start_time: null,
    ack_policy: 'none', ack_wait: 0, max_deliver: 0, backoff: null, filter_subject: '', filter_subjects: null,
    replay_policy: 'instant', rate_limit_bps: 0, sample_freq: '', max_waiting: 0, max_ack_pending: 0,
    flow_control: false, headers_only: false, max_batch: 0, max_expires: 0, max_bytes: 0, deliver_subject: '',
    deliver_group: '', idle_heartbeat: 0, inactive_threshold: 0, num_replicas: 0, mem_storage: false,
    direct: false, metadata: null,
  };
}

/**
 * Build a zero-filled config from a JSON object that passed schema validation
 * (decodeRequest with CONSUMER_CONFIG_SCHEMA). Throws JsonDecodeError for a time
 * that matches the RFC3339 shape but is not a real date.
 */
export function consumerConfigFromJSON(obj: Record<string, unknown>): ConsumerConfig {
  const c = emptyConsumerConfig();
  const target = c as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) {
    if (v === null || !Object.prototype.hasOwnProperty.call(CONSUMER_CONFIG_SCHEMA, k)) continue;
    if (k === 'opt_start_time') {
      const t = parseRfc3339(v as string);
      if (!t) throw new JsonDecodeError(`parsing time ${JSON.stringify(v)} as "2006-01-02T15:04:05Z07:00": cannot parse`);
      c.opt_start_time = t;
    } else if (k === 'backoff' || k === 'filter_subjects') {
      target[k] = (v as unknown[]).map((e) => e ?? (k === 'backoff' ? 0 : ''));
    } else if (k === 'metadata') {
      const m: Record<string, string> = {};
      for (const [mk, mv] of Object.entries(v as Record<string, unknown>)) m[mk] = (mv as string | null) ?? '';
      c.metadata = m;
    } else {
      target[k] = v;
    }
  }
  // "undefined" is accepted on input as DeliverAll.
  if ((c.deliver_policy as string) === 'undefined') c.deliver_policy = 'all';
  if (c.backoff && c.backoff.length === 0) c.backoff = null;
  if (c.filter_subjects && c.filter_subjects.length === 0) c.filter_subjects = null;
  if (c.metadata && Object.keys(c.metadata).length === 0) c.metadata = null;
  return c;
}

/** Decode a ConsumerConfig from JSON text or an object (e.g. a stored config). Throws JsonDecodeError. */
export function decodeConsumerConfig(src: Record<string, unknown> | string, strict = false): ConsumerConfig {
  const obj = decodeRequest<Record<string, unknown>>(typeof src === 'string' ? src : JSON.stringify(src),
    CONSUMER_CONFIG_SCHEMA, 'ConsumerConfig', strict);
  return consumerConfigFromJSON(obj);
}

export function cloneConsumerConfig(c: ConsumerConfig): ConsumerConfig {
  return {
    ...c,
    backoff: c.backoff ? [...c.backoff] : null,
    filter_subjects: c.filter_subjects ? [...c.filter_subjects] : null,
    metadata: c.metadata ? { ...c.metadata } : null,
    opt_start_time: c.opt_start_time ? { ...c.opt_start_time } : null,
  };
}

export function isDurableConfig(c: ConsumerConfig): boolean {
  return c.durable_name !== '';
}

export function isPushConfig(c: ConsumerConfig): boolean {
  return c.deliver_subject !== '';
}

/** filter_subject and filter_subjects combined (nats-server gatherSubjectFilters). */
export function gatherFilters(c: Pick<ConsumerConfig, 'filter_subject' | 'filter_subjects'>): string[] {
  const out: string[] = [];
  if (c.filter_subject !== '') out.push(c.filter_subject);
  if (c.filter_subjects) out.push(...c.filter_subjects);
  return out;
}

/** nats-server isValidAssetName: non-empty, no whitespace, '.', '*', '>', '\\', '/'; nor NUL (no store can hold it). */
export function isValidAssetName(name: string): boolean {
  return name !== '' && !/[ \t\r\n\f.*>\\/\0]/.test(name);
}

function pedanticErr(text: string): ApiError {
  return jsErr('Pedantic', { err: text });
}

/**
 * nats-server setConsumerConfigDefaults: normalise negative values, fill defaults.
 * Returns a pedantic-mode error instead of normalising when pedantic is set.
 */
export function setConsumerConfigDefaults(
  c: ConsumerConfig, stream: StreamConfigView, limits: ConsumerLimits, pedantic: boolean,
): ApiError | undefined {
  if (c.max_deliver === 0 || c.max_deliver < -1) {
    if (pedantic && c.max_deliver < -1) return pedanticErr('max_deliver must be set to -1');
    c.max_deliver = -1;
  }
  // Kept negative (pedantic aside): checkConsumerConfig refuses it as nats-server 2.9.10 does.
  if (c.max_waiting < 0 && pedantic) return pedanticErr('max_waiting must not be negative');
  if (c.max_ack_pending < -1) {
    if (pedantic) return pedanticErr('max_ack_pending must be set to -1');
    c.max_ack_pending = -1;
  }
  // Kept negative (pedantic aside): checkConsumerConfig refuses it as nats-server 2.9.10 does.
  if (c.max_batch < 0 && pedantic) return pedanticErr('max_batch must not be negative');
  // Kept negative (pedantic aside): checkConsumerConfig refuses it as nats-server 2.9.10 does.
  if (c.max_expires < 0 && pedantic) return pedanticErr('max_expires must not be negative');
  if (c.max_bytes < 0) {
    if (pedantic) return pedanticErr('max_bytes must not be negative');
    c.max_bytes = 0;
  }
  if (c.idle_heartbeat < 0) {
    if (pedantic) return pedanticErr('idle_heartbeat must not be negative');
    c.idle_heartbeat = 0;
  }
  if (c.inactive_threshold < 0) {
    if (pedantic) return pedanticErr('inactive_threshold must not be negative');
    c.inactive_threshold = 0;
  }
  if (c.deliver_subject === '' && c.max_waiting === 0) c.max_waiting = MAX_WAITING_DEFAULT;
  if (c.ack_wait === 0 && (c.ack_policy === 'explicit' || c.ack_policy === 'all')) c.ack_wait = ACK_WAIT_DEFAULT_NS;
  if (c.backoff && c.backoff.length > 0) {
    if (pedantic && c.ack_wait !== c.backoff[0]) return pedanticErr('first backoff value has to equal batch AckWait');
    c.ack_wait = c.backoff[0]!;
  }
  const streamMaxAckPending = stream.consumer_limits?.max_ack_pending ?? 0;
  const streamInactive = stream.consumer_limits?.inactive_threshold ?? 0;
  if (c.max_ack_pending === 0) {
    if (pedantic && streamMaxAckPending > 0) return pedanticErr("max_ack_pending must be set if it's configured in stream limits");
    c.max_ack_pending = streamMaxAckPending;
  }
  if (c.inactive_threshold === 0) {
    if (pedantic && streamInactive > 0) return pedanticErr("inactive_threshold must be set if it's configured in stream limits");
    c.inactive_threshold = streamInactive;
  }
  if (c.max_ack_pending === 0 && c.ack_policy !== 'none') {
    let ackPending = MAX_ACK_PENDING_DEFAULT;
    if (limits.serverMaxAckPending > 0 && limits.serverMaxAckPending < ackPending) ackPending = limits.serverMaxAckPending;
    if (limits.accountMaxAckPending > 0 && limits.accountMaxAckPending < ackPending) ackPending = limits.accountMaxAckPending;
    c.max_ack_pending = ackPending;
  }
  if (c.deliver_subject === '' && c.max_batch === 0 && limits.serverMaxRequestBatch > 0) {
    if (pedantic) return pedanticErr("max_request_batch must be set if it's JetStream limits are set");
    c.max_batch = limits.serverMaxRequestBatch;
  }
  return undefined;
}

/** Does the deliver subject overlap the stream's own subjects (delivery would be re-ingested)? */
function deliveryFormsCycle(stream: StreamConfigView, deliverSubject: string): boolean {
  return stream.subjects.some((s) => subjectIsSubsetMatch(deliverSubject, s));
}

function badStart(dp: string, start: string): ApiError {
  return jsErrText('ConsumerInvalidPolicy', `consumer delivery policy is deliver ${dp}, but optional start ${start} is also set`);
}
function notSet(dp: string, what: string): ApiError {
  return jsErrText('ConsumerInvalidPolicy', `consumer delivery policy is deliver ${dp}, but optional ${what} is not set`);
}

/** Parse sample_freq ("30%" or "30") the way nats-server does; undefined when invalid. */
export function parseSampleFreq(s: string): number | undefined {
  const t = s.endsWith('%') ? s.slice(0, -1) : s;
  if (!/^[+-]?\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n < 0 ? undefined : n;
}

/** nats-server checkConsumerCfg. */
export function checkConsumerConfig(
  c: ConsumerConfig, stream: StreamConfigView, limits: ConsumerLimits,
): ApiError | undefined {
  if (c.name !== '' && !isValidAssetName(c.name)) {
    return jsErrText('StreamInvalidConfig', "consumer name can not contain '.', '*', '>', '\\', '/'");
  }
  if (c.durable_name !== '' && !isValidAssetName(c.durable_name)) {
    return jsErrText('StreamInvalidConfig', "consumer durable name can not contain '.', '*', '>', '\\', '/'");
  }
  if (c.num_replicas > 0 && c.num_replicas > stream.num_replicas) return jsErr('ConsumerReplicasExceedsStream');
  if (c.num_replicas < 0) return jsErr('ReplicasCountCannotBeNegative');
  if ((stream.retention === 'interest' || stream.retention === 'workqueue') &&
    c.num_replicas !== 0 && c.num_replicas !== stream.num_replicas) {
    return jsErr('ConsumerReplicasShouldMatchStream');
  }
  if (c.backoff) {
    for (const b of c.backoff) if (b < 0) return jsErr('ConsumerBackOffNegative');
  }
  if (c.ack_wait < 0) return jsErr('ConsumerAckWaitNegative');
  if (c.backoff && c.backoff.length > 0 && c.max_deliver !== -1 && c.backoff.length > c.max_deliver) {
    return jsErr('ConsumerMaxDeliverBackoff');
  }
  if (c.description.length > MAX_DESCRIPTION_LEN) return jsErr('ConsumerDescriptionTooLong', { max: MAX_DESCRIPTION_LEN });

  if (c.deliver_subject !== '') {
    if (!isLiteralSubject(c.deliver_subject)) return jsErr('ConsumerDeliverToWildcards');
    if (!isValidSubject(c.deliver_subject)) return jsErr('ConsumerInvalidDeliverSubject');
    if (deliveryFormsCycle(stream, c.deliver_subject)) return jsErr('ConsumerDeliverCycle');
    if (c.max_waiting !== 0) return jsErr('ConsumerPushMaxWaiting');
    if (c.max_ack_pending > 0 && c.ack_policy === 'none') return jsErr('ConsumerMaxPendingAckPolicyRequired');
    if (c.idle_heartbeat > 0 && c.idle_heartbeat < 100 * MS) return jsErr('ConsumerSmallHeartbeat');
  } else {
    if (c.ack_policy === 'none' && stream.retention === 'workqueue') return jsErr('ConsumerPullRequiresAck');
    if (c.rate_limit_bps > 0) return jsErr('ConsumerPullWithRateLimit');
    if (c.max_waiting < 0) return jsErr('ConsumerMaxWaitingNegative');
    if (c.idle_heartbeat > 0) return jsErr('ConsumerHBRequiresPush');
    if (c.flow_control) return jsErr('ConsumerFCRequiresPush');
    if (c.max_batch < 0) return jsErr('ConsumerMaxRequestBatchNegative');
    if (c.max_expires !== 0 && c.max_expires < MS) return jsErr('ConsumerMaxRequestExpiresTooSmall');
    if (limits.serverMaxRequestBatch > 0 && c.max_batch > limits.serverMaxRequestBatch) {
      return jsErr('ConsumerMaxRequestBatchExceeded', { limit: limits.serverMaxRequestBatch });
    }
  }
  if (limits.serverMaxAckPending > 0 && c.max_ack_pending > limits.serverMaxAckPending) {
    return jsErr('ConsumerMaxPendingAckExcess', { limit: limits.serverMaxAckPending });
  }
  if (limits.accountMaxAckPending > 0 && c.max_ack_pending > limits.accountMaxAckPending) {
    return jsErr('ConsumerMaxPendingAckExcess', { limit: limits.accountMaxAckPending });
  }
  const streamMaxAckPending = stream.consumer_limits?.max_ack_pending ?? 0;
  const streamInactive = stream.consumer_limits?.inactive_threshold ?? 0;
  if (streamMaxAckPending > 0 && c.max_ack_pending > streamMaxAckPending) {
    return jsErr('ConsumerMaxPendingAckExcess', { limit: streamMaxAckPending });
  }
  if (streamInactive > 0 && c.inactive_threshold > streamInactive) {
    return jsErr('ConsumerInactiveThresholdExcess', { limit: streamInactive });
  }
  if (c.direct) {
    if (c.deliver_subject === '') return jsErr('ConsumerDirectRequiresPush');
    if (isDurableConfig(c)) return jsErr('ConsumerDirectRequiresEphemeral');
  }
  if (c.filter_subject !== '' && c.filter_subjects && c.filter_subjects.length > 0) {
    return jsErr('ConsumerDuplicateFilterSubjects');
  }
  if (c.filter_subject !== '' && !isValidSubject(c.filter_subject)) return jsErrText('StreamInvalidConfig', 'invalid subject');
  if (c.filter_subjects) {
    for (const f of c.filter_subjects) if (f === '') return jsErr('ConsumerEmptyFilter');
  }
  const filters = gatherFilters(c);
  for (const f of filters) if (!isValidSubject(f)) return jsErrText('StreamInvalidConfig', 'invalid subject');
  // A trie, not every pair: filter_subjects may be a very long list.
  const trie = new SubjectTrie();
  try {
    filters.forEach((f, i) => trie.insert(f, i));
    for (let i = 0; i < filters.length; i++) {
      if (trie.coveredBy(filters[i]!, i)) return jsErr('ConsumerOverlappingSubjectFilters');
    }
  } catch (e) {
    if (e instanceof OverlapWorkExceeded) return jsErrText('ConsumerCreate', 'subject overlap check exceeded its work limit');
    throw e;
  }

  switch (c.deliver_policy) {
    case 'all':
      if (c.opt_start_seq > 0) return badStart('all', 'sequence');
      if (c.opt_start_time) return badStart('all', 'time');
      break;
    case 'last':
      if (c.opt_start_seq > 0) return badStart('last', 'sequence');
      if (c.opt_start_time) return badStart('last', 'time');
      break;
    case 'last_per_subject':
      if (c.opt_start_seq > 0) return badStart('last per subject', 'sequence');
      if (c.opt_start_time) return badStart('last per subject', 'time');
      if (filters.length === 0) return notSet('last per subject', 'filter subject');
      break;
    case 'new':
      if (c.opt_start_seq > 0) return badStart('new', 'sequence');
      if (c.opt_start_time) return badStart('new', 'time');
      break;
    case 'by_start_sequence':
      if (c.opt_start_seq === 0) return notSet('by start sequence', 'start sequence');
      if (c.opt_start_time) return badStart('by start sequence', 'time');
      break;
    case 'by_start_time':
      if (!c.opt_start_time) return notSet('by start time', 'start time');
      if (c.opt_start_seq !== 0) return badStart('by start time', 'start sequence');
      break;
  }

  if (c.sample_freq !== '' && parseSampleFreq(c.sample_freq) === undefined) {
    const t = c.sample_freq.endsWith('%') ? c.sample_freq.slice(0, -1) : c.sample_freq;
    // A negative number fails without a Go error value, which nats-server prints as "<nil>".
    const reason = /^[+-]?\d+$/.test(t) ? '<nil>' : `strconv.Atoi: parsing ${JSON.stringify(t)}: invalid syntax`;
    return jsErr('ConsumerInvalidSampling', { err: reason });
  }
  if (c.flow_control && c.idle_heartbeat === 0) return jsErr('ConsumerWithFlowControlNeedsHeartbeats');
  if (c.durable_name !== '' && c.name !== '' && c.name !== c.durable_name) {
    return jsErr('ConsumerCreateDurableAndNameMismatch');
  }
  if (c.metadata) {
    let len = 0;
    for (const [k, v] of Object.entries(c.metadata)) len += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (len > MAX_METADATA_LEN) return jsErr('ConsumerMetadataLength', { limit: `${MAX_METADATA_LEN / 1024}KB` });
  }
  if (stream.placement?.preferred) {
    return jsErrText('StreamInvalidConfig', 'preferred server not permitted in placement');
  }
  return undefined;
}

function timesEqual(a: GoTime | null, b: GoTime | null): boolean {
  if (a === null || b === null) return a === b;
  return a.ns === b.ns;
}

function arraysEqual<T>(a: readonly T[] | null, b: readonly T[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function mapsEqual(a: Record<string, string> | null, b: Record<string, string> | null): boolean {
  if (a === null || b === null) return a === b;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}

/** reflect.DeepEqual for two configs (times compare by instant and zone, as Go's struct equality would). */
export function consumerConfigsEqual(a: ConsumerConfig, b: ConsumerConfig): boolean {
  for (const k of Object.keys(a) as (keyof ConsumerConfig)[]) {
    const va = a[k];
    const vb = b[k];
    if (k === 'opt_start_time') {
      const ta = va as GoTime | null;
      const tb = vb as GoTime | null;
      if (!timesEqual(ta, tb)) return false;
      if (ta && tb && (ta.offsetMin !== tb.offsetMin || ta.isUtc !== tb.isUtc)) return false;
    } else if (k === 'backoff' || k === 'filter_subjects') {
      if (!arraysEqual(va as unknown[] | null, vb as unknown[] | null)) return false;
    } else if (k === 'metadata') {
      if (!mapsEqual(va as Record<string, string> | null, vb as Record<string, string> | null)) return false;
    } else if (va !== vb) {
      return false;
    }
  }
  return true;
}

/** Result of checking an update: an ApiError, or a plain reason that the API wraps in 10012. */
export type UpdateCheck = ApiError | string | undefined;

/**
 * nats-server checkNewConsumerConfig: which fields a re-create/update may change.
 * deliverSubjectHasInterest tells whether the old push deliver subject still has subscribers.
 */
export function checkConsumerUpdate(
  cur: ConsumerConfig, next: ConsumerConfig, deliverSubjectHasInterest: (subject: string) => boolean,
): UpdateCheck {
  if (consumerConfigsEqual(cur, next)) return undefined;
  if (cur.deliver_policy !== next.deliver_policy) return 'deliver policy can not be updated';
  if (cur.mem_storage !== next.mem_storage) return 'storage type can not be updated';
  if (cur.direct !== next.direct) return 'direct can not be updated';
  if (cur.opt_start_seq !== next.opt_start_seq) return 'start sequence can not be updated';
  if (cur.opt_start_time && next.opt_start_time) {
    if (cur.opt_start_time.ns !== next.opt_start_time.ns) return 'start time can not be updated';
  } else if (cur.opt_start_time || next.opt_start_time) {
    return 'start time can not be updated';
  }
  if (cur.ack_policy !== next.ack_policy) return 'ack policy can not be updated';
  if (cur.replay_policy !== next.replay_policy) return 'replay policy can not be updated';
  if (cur.idle_heartbeat !== next.idle_heartbeat) return 'heart beats can not be updated';
  if (cur.flow_control !== next.flow_control) return 'flow control can not be updated';
  if (cur.deliver_subject !== next.deliver_subject) {
    if (cur.deliver_subject === '') return 'can not update pull consumer to push based';
    if (next.deliver_subject === '') return 'can not update push consumer to pull based';
    if (deliverSubjectHasInterest(cur.deliver_subject)) return jsErr('ConsumerNameExist');
  }
  if (cur.max_waiting !== next.max_waiting) return 'max waiting can not be updated';
  if (next.backoff && next.backoff.length > 0 && next.max_deliver !== -1 && next.backoff.length > next.max_deliver) {
    return jsErr('ConsumerMaxDeliverBackoff');
  }
  return undefined;
}

/** The JSON object clients see, in nats-server's field order with its omitempty rules. */
export function consumerConfigToJSON(c: ConsumerConfig): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (c.durable_name) o.durable_name = c.durable_name;
  if (c.name) o.name = c.name;
  if (c.description) o.description = c.description;
  o.deliver_policy = c.deliver_policy;
  if (c.opt_start_seq) o.opt_start_seq = c.opt_start_seq;
  if (c.opt_start_time) o.opt_start_time = formatGoTime(c.opt_start_time);
  o.ack_policy = c.ack_policy;
  if (c.ack_wait) o.ack_wait = c.ack_wait;
  if (c.max_deliver) o.max_deliver = c.max_deliver;
  if (c.backoff && c.backoff.length > 0) o.backoff = [...c.backoff];
  if (c.filter_subject) o.filter_subject = c.filter_subject;
  if (c.filter_subjects && c.filter_subjects.length > 0) o.filter_subjects = [...c.filter_subjects];
  o.replay_policy = c.replay_policy;
  if (c.rate_limit_bps) o.rate_limit_bps = c.rate_limit_bps;
  if (c.sample_freq) o.sample_freq = c.sample_freq;
  if (c.max_waiting) o.max_waiting = c.max_waiting;
  if (c.max_ack_pending) o.max_ack_pending = c.max_ack_pending;
  if (c.flow_control) o.flow_control = true;
  if (c.headers_only) o.headers_only = true;
  if (c.max_batch) o.max_batch = c.max_batch;
  if (c.max_expires) o.max_expires = c.max_expires;
  if (c.max_bytes) o.max_bytes = c.max_bytes;
  if (c.deliver_subject) o.deliver_subject = c.deliver_subject;
  if (c.deliver_group) o.deliver_group = c.deliver_group;
  if (c.idle_heartbeat) o.idle_heartbeat = c.idle_heartbeat;
  if (c.inactive_threshold) o.inactive_threshold = c.inactive_threshold;
  o.num_replicas = c.num_replicas;
  if (c.mem_storage) o.mem_storage = true;
  if (c.direct) o.direct = true;
  if (c.metadata && Object.keys(c.metadata).length > 0) o.metadata = { ...c.metadata };
  return o;
}
