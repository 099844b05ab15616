// StreamConfig defaults and validation, and the rules for what an update may change.
// Behaviour and error texts follow nats-server's checkStreamCfg / configUpdateCheck so
// that a client sees the same code (mostly 10052 "stream invalid config" with a detail)
// for the same mistake.

import { ApiError, jsErr, jsErrText } from './api/errors.js';
import { encodeStreamConfig, type StreamConfig, type StreamConfigRequest, type StreamSource } from './api/types.js';
import {
  isValidAssetName, isValidSubject, isLiteralSubject, subjectsCollide, subjectIsSubsetMatch,
  SubjectTransform, SubjectTransformError,
} from './subjects.js';
import { firstSelfCollision, OverlapWorkExceeded, SubjectTrie } from './subject-trie.js';

export const MAX_NAME_LEN = 255;
export const MAX_DESCRIPTION_LEN = 4 * 1024;
export const MAX_METADATA_LEN = 128 * 1024;
export const MAX_REPLICAS = 5;
export const NS_PER_MS = 1_000_000;
export const DEFAULT_DUPLICATE_WINDOW_NS = 2 * 60 * 1000 * NS_PER_MS;
const MIN_WINDOW_NS = 100 * NS_PER_MS;

/** What validation needs to know about the world around the stream. */
export interface StreamConfigContext {
  /** Config of another stream in the same account (mirror/source checks, cycles). */
  lookupStream(name: string): StreamConfig | undefined;
  /** jetstream { limits { duplicate_window } } in ns; 0/undefined = none. */
  duplicateWindowLimitNs?: number;
  /** Account requires max_bytes on every stream. */
  maxBytesRequired?: boolean;
  /** Account per-stream byte limit for this storage type; <= 0 = none. */
  maxStreamBytes?: number;
  /** Whether replicas > 1 can be honoured. */
  clustered?: boolean;
}

const invalid = (text: string): ApiError => jsErrText('StreamInvalidConfig', text);

/** Runs an overlap check; a check too costly to finish is refused (never stalls the event loop). */
export function boundedOverlap<T>(check: () => T, onLimit: () => ApiError): T {
  try {
    return check();
  } catch (e) {
    if (e instanceof OverlapWorkExceeded) throw onLimit();
    throw e;
  }
}

const overlapLimit = (): ApiError => invalid('subject overlap check exceeded its work limit');
const pedanticErr = (text: string): ApiError => jsErrText('Pedantic', text);

/** Features of nats-server 2.11+ that tsnats (API of 2.10) does not have: refused, never silently dropped. */
const NEWER_FEATURES: Array<[string, (v: unknown) => boolean, string]> = [
  ['allow_msg_ttl', (v) => v === true, 'per-message TTL (allow_msg_ttl) is not supported by this server'],
  ['subject_delete_marker_ttl', (v) => typeof v === 'number' && v !== 0, 'subject delete markers are not supported by this server'],
  ['allow_msg_counter', (v) => v === true, 'message counters are not supported by this server'],
  ['allow_atomic', (v) => v === true, 'atomic batch publish is not supported by this server'],
  ['allow_msg_schedules', (v) => v === true, 'message schedules are not supported by this server'],
  ['allow_batched', (v) => v === true, 'batch publish is not supported by this server'],
  ['persist_mode', (v) => v !== undefined && v !== null && v !== '' && v !== 'default', 'persist mode is not supported by this server'],
];

function sourceIndexName(s: StreamSource): string {
  let iname = s.name;
  if (s.external) iname += ':' + s.external.api;
  let src = s.filter_subject || '>';
  let dest = '>';
  if (s.subject_transforms?.length) {
    src = s.subject_transforms.map((t) => t.src || '>').join('\f');
    dest = s.subject_transforms.map((t) => t.dest || '>').join('\f');
  }
  return [iname, src, dest].join(' ');
}

function checkTransform(src: string, dest: string): string | undefined {
  try {
    new SubjectTransform(src, dest);
    return undefined;
  } catch (e) {
    return e instanceof SubjectTransformError ? e.message : String(e);
  }
}

function copySource(s: StreamSource): StreamSource {
  const o: StreamSource = { name: s.name };
  if (s.opt_start_seq) o.opt_start_seq = s.opt_start_seq;
  if (s.opt_start_time) o.opt_start_time = s.opt_start_time;
  if (s.filter_subject) o.filter_subject = s.filter_subject;
  if (s.subject_transforms?.length) o.subject_transforms = s.subject_transforms.map((t) => ({ src: t.src ?? '', dest: t.dest ?? '' }));
  if (s.external) o.external = { api: s.external.api ?? '', deliver: s.external.deliver ?? '' };
  return o;
}

/**
 * Fill defaults and validate a requested config. Returns the normalised config or throws ApiError.
 * The request has already passed the JSON schema (types are right, unknown fields refused).
 */
export function checkStreamConfig(req: StreamConfigRequest, ctx: StreamConfigContext, pedantic = false): StreamConfig {
  const name = req.name ?? '';
  if (!isValidAssetName(name)) throw invalid("stream name is required and can not contain '.', '*', '>', '\\', '/'");
  if (name.length > MAX_NAME_LEN) throw invalid(`stream name is too long, maximum allowed is ${MAX_NAME_LEN}`);
  if ((req.description?.length ?? 0) > MAX_DESCRIPTION_LEN) {
    throw invalid(`stream description is too long, maximum allowed is ${MAX_DESCRIPTION_LEN}`);
  }
  let metadataLen = 0;
  for (const [k, v] of Object.entries(req.metadata ?? {})) metadataLen += k.length + String(v).length;
  if (metadataLen > MAX_METADATA_LEN) throw invalid(`stream metadata exceeds maximum size of ${MAX_METADATA_LEN} bytes`);

  for (const [field, on, text] of NEWER_FEATURES) {
    if (on(req[field])) throw invalid(text);
  }

  const cfg: StreamConfig = {
    name,
    retention: req.retention ?? 'limits',
    max_consumers: req.max_consumers ?? 0,
    max_msgs: req.max_msgs ?? 0,
    max_bytes: req.max_bytes ?? 0,
    max_age: req.max_age ?? 0,
    max_msgs_per_subject: req.max_msgs_per_subject ?? 0,
    max_msg_size: req.max_msg_size ?? 0,
    discard: (req.discard?.toLowerCase() as StreamConfig['discard']) ?? 'old',
    storage: req.storage ?? 'file',
    num_replicas: req.num_replicas ?? 0,
    duplicate_window: req.duplicate_window ?? 0,
    compression: req.compression ?? 'none',
    allow_direct: req.allow_direct ?? false,
    mirror_direct: req.mirror_direct ?? false,
    sealed: req.sealed ?? false,
    deny_delete: req.deny_delete ?? false,
    deny_purge: req.deny_purge ?? false,
    allow_rollup_hdrs: req.allow_rollup_hdrs ?? false,
    consumer_limits: {},
  };
  if (req.description) cfg.description = req.description;
  if (req.subjects?.length) cfg.subjects = [...req.subjects];
  if (req.no_ack) cfg.no_ack = true;
  if (req.discard_new_per_subject) cfg.discard_new_per_subject = true;
  if (req.first_seq) cfg.first_seq = req.first_seq;
  if (req.placement) cfg.placement = { ...req.placement };
  if (req.mirror) cfg.mirror = copySource(req.mirror);
  if (req.sources?.length) cfg.sources = req.sources.map(copySource);
  if (req.subject_transform) cfg.subject_transform = { src: req.subject_transform.src ?? '', dest: req.subject_transform.dest ?? '' };
  if (req.republish) cfg.republish = { ...req.republish, dest: req.republish.dest ?? '' };
  if (req.consumer_limits) {
    if (req.consumer_limits.inactive_threshold) cfg.consumer_limits.inactive_threshold = req.consumer_limits.inactive_threshold;
    if (req.consumer_limits.max_ack_pending) cfg.consumer_limits.max_ack_pending = req.consumer_limits.max_ack_pending;
  }
  if (req.metadata && Object.keys(req.metadata).length) cfg.metadata = { ...req.metadata };

  if (cfg.num_replicas === 0) cfg.num_replicas = 1;
  if (cfg.num_replicas > MAX_REPLICAS) throw invalid(`maximum replicas is ${MAX_REPLICAS}`);
  if (cfg.num_replicas < 0) throw jsErr('ReplicasCountCannotBeNegative');

  // 0 means unlimited (-1); other negative limits are kept as sent and enforced as unlimited,
  // as nats-server 2.9.10 does (it echoes max_msgs -5 back). Pedantic mode refuses them.
  for (const f of ['max_msgs', 'max_msgs_per_subject', 'max_bytes', 'max_msg_size', 'max_consumers'] as const) {
    if (cfg[f] === 0) cfg[f] = -1;
    else if (pedantic && cfg[f] < -1) throw pedanticErr(`${f} must be set to -1`);
  }

  const dupLimit = ctx.duplicateWindowLimitNs ?? 0;
  if (cfg.duplicate_window === 0 && !cfg.mirror && !cfg.sources?.length) {
    let maxWindow = DEFAULT_DUPLICATE_WINDOW_NS;
    if (dupLimit > 0 && maxWindow > dupLimit) {
      if (pedantic) throw pedanticErr('duplicate window limits are higher than current limits');
      maxWindow = dupLimit;
    }
    if (cfg.max_age !== 0 && cfg.max_age < maxWindow) {
      if (pedantic) throw pedanticErr('duplicate window cannot be bigger than max age');
      cfg.duplicate_window = cfg.max_age;
    } else {
      cfg.duplicate_window = maxWindow;
    }
  }
  if (cfg.duplicate_window < 0) throw invalid('duplicates window can not be negative');
  if (cfg.max_age !== 0 && cfg.duplicate_window > cfg.max_age) throw invalid('duplicates window can not be larger then max age');
  if (dupLimit > 0 && cfg.duplicate_window > dupLimit) {
    throw invalid(`duplicates window can not be larger then server limit of ${goDuration(dupLimit)}`);
  }
  // After the duplicate-window checks, as nats-server: a negative max_age shows up first as a
  // negative (derived) duplicate window.
  if (cfg.max_age < 0) throw invalid('max age can not be negative');
  if (cfg.max_age !== 0 && cfg.max_age < MIN_WINDOW_NS) throw invalid('max age needs to be >= 100ms');
  if (cfg.duplicate_window > 0 && cfg.duplicate_window < MIN_WINDOW_NS) throw invalid('duplicates window needs to be >= 100ms');

  if (cfg.deny_purge && cfg.allow_rollup_hdrs) throw invalid('roll-ups require the purge permission');

  if (cfg.discard_new_per_subject) {
    if (cfg.discard !== 'new') throw invalid('discard new per subject requires discard new policy to be set');
    if (cfg.max_msgs_per_subject <= 0) throw invalid('discard new per subject requires max msgs per subject > 0');
  }

  const streamSubs: string[] = [];
  const deliveryPrefixes: string[] = [];
  const apiPrefixes: string[] = [];

  if (cfg.mirror) {
    const m = cfg.mirror;
    if (cfg.first_seq) throw jsErr('MirrorWithFirstSeq');
    if (cfg.subjects?.length) throw jsErr('MirrorWithSubjects');
    if (cfg.sources?.length) throw jsErr('MirrorWithSources');
    if (m.filter_subject && m.subject_transforms?.length) throw jsErr('MirrorMultipleFiltersNotAllowed');
    const trs = m.subject_transforms ?? [];
    for (let i = 0; i < trs.length; i++) {
      const tr = trs[i]!;
      if (tr.src && !isValidSubject(tr.src)) throw jsErr('MirrorInvalidSubjectFilter', { err: `invalid subject ${tr.src}` });
      const terr = checkTransform(tr.src, tr.dest || tr.src || '>');
      if (terr) throw jsErr('MirrorInvalidTransformDestination', { err: terr });
    }
    const mirrorTrie = new SubjectTrie();
    boundedOverlap(() => {
      trs.forEach((tr, i) => mirrorTrie.insert(tr.src || '>', i));
      trs.forEach((tr, i) => { if (mirrorTrie.collides(tr.src || '>', i)) throw jsErr('MirrorOverlappingSubjectFilters'); });
    }, overlapLimit);
    if (!m.external) {
      if (!isValidAssetName(m.name)) throw jsErr('MirrorInvalidStreamName');
      const origin = ctx.lookupStream(m.name);
      if (origin) {
        streamSubs.push(...(origin.subjects ?? []));
        if (cfg.max_msg_size > 0 && origin.max_msg_size > 0 && cfg.max_msg_size < origin.max_msg_size) {
          throw jsErr('MirrorMaxMessageSizeTooBig');
        }
        if (pedantic && cfg.mirror_direct !== origin.allow_direct) {
          throw pedanticErr('origin stream has direct get set, mirror has it disabled');
        }
        cfg.mirror_direct = origin.allow_direct;
      }
    } else {
      if (m.external.deliver) deliveryPrefixes.push(m.external.deliver);
      if (m.external.api) apiPrefixes.push(m.external.api);
    }
    if (m.filter_subject && !isValidSubject(m.filter_subject)) {
      throw jsErrText('StreamCreate', `subject filter '${m.filter_subject}' for the mirror invalid subject`);
    }
  }

  const inames = new Set<string>();
  for (const src of cfg.sources ?? []) {
    if (!isValidAssetName(src.name)) throw jsErr('SourceInvalidStreamName');
    const iname = sourceIndexName(src);
    if (inames.has(iname)) throw jsErr('SourceDuplicateDetected');
    inames.add(iname);
    if (src.filter_subject && src.subject_transforms?.length) throw jsErr('SourceMultipleFiltersNotAllowed');
    const trs = src.subject_transforms ?? [];
    for (const tr of trs) {
      if (tr.src && !isValidSubject(tr.src)) throw jsErr('SourceInvalidSubjectFilter', { err: `invalid subject ${tr.src}` });
      const terr = checkTransform(tr.src, tr.dest || tr.src || '>');
      if (terr) throw jsErr('SourceInvalidTransformDestination', { err: terr });
    }
    const srcTrie = new SubjectTrie();
    boundedOverlap(() => {
      trs.forEach((tr, i) => srcTrie.insert(tr.src || '>', i));
      trs.forEach((tr, i) => { if (srcTrie.coveredBy(tr.src || '>', i)) throw jsErr('SourceOverlappingSubjectFilters'); });
    }, overlapLimit);
    if (src.filter_subject && !isValidSubject(src.filter_subject)) {
      throw jsErrText('StreamCreate', `subject filter '${src.filter_subject}' for the source invalid subject`);
    }
    if (!src.external) {
      const origin = ctx.lookupStream(src.name);
      if (origin) {
        streamSubs.push(...(origin.subjects ?? []));
        if (cfg.max_msg_size > 0 && origin.max_msg_size > 0 && cfg.max_msg_size < origin.max_msg_size) {
          throw jsErr('SourceMaxMessageSizeTooBig');
        }
      }
    } else {
      if (src.external.deliver) deliveryPrefixes.push(src.external.deliver);
      if (src.external.api) apiPrefixes.push(src.external.api);
    }
  }

  for (const pfx of deliveryPrefixes) {
    if (!isValidSubject(pfx) || !isLiteralSubject(pfx)) throw jsErr('StreamInvalidExternalDeliverySubj', { prefix: pfx });
    for (const sub of streamSubs) {
      if (subjectsCollide(sub, `${pfx}.${sub}`)) throw jsErr('StreamExternalDelPrefixOverlaps', { prefix: pfx, subject: sub });
    }
  }
  for (const pfx of apiPrefixes) {
    if (!isValidSubject(pfx) || !isLiteralSubject(pfx)) {
      throw invalid(`stream external api prefix ${JSON.stringify(pfx)} must be a valid subject without wildcards`);
    }
    if (subjectsCollide(pfx, '$JS.API')) throw jsErr('StreamExternalApiOverlap', { prefix: pfx, subject: '$JS.API' });
  }

  checkSourceCycles(cfg, ctx);

  if (!cfg.subjects?.length) {
    if (!cfg.mirror && !cfg.sources?.length) cfg.subjects = [cfg.name];
  } else {
    if (cfg.mirror) throw jsErr('MirrorWithSubjects');
    const subs = cfg.subjects;
    // Literal duplicates are reported as such before any overlap check.
    const seen = new Set<string>();
    for (const x of subs) {
      if (seen.has(x)) throw invalid('duplicate subjects detected');
      if (!isValidSubject(x)) break;
      seen.add(x);
    }
    for (let i = 0; i < subs.length; i++) {
      const subj = subs[i]!;
      if (!isValidSubject(subj)) throw invalid('invalid subject');
      if (subj === '>') {
        if (!cfg.no_ack) throw invalid('capturing all subjects requires no-ack to be true');
        if (cfg.num_replicas !== 1) throw invalid('capturing all subjects requires replicas of 1');
      }
      if (!cfg.no_ack) {
        for (const ns of ['$JS.>', '$JSC.>', '$NRG.>']) {
          if (subjectsCollide(subj, ns) && !subjectIsSubsetMatch(subj, '$JS.EVENT.>')) {
            throw invalid('subjects that overlap with jetstream api require no-ack to be true');
          }
        }
        if (subjectsCollide(subj, '$SYS.>') && !subjectIsSubsetMatch(subj, '$SYS.ACCOUNT.>')) {
          throw invalid('subjects that overlap with system api require no-ack to be true');
        }
      }
    }
    // A trie, not every pair: a request may carry tens of thousands of subjects.
    const hit = boundedOverlap(() => firstSelfCollision(subs), overlapLimit);
    if (hit) throw invalid(`subject ${JSON.stringify(subs[hit.i])} overlaps with ${JSON.stringify(subs[hit.j])}`);
  }
  if (!cfg.subjects?.length && !cfg.sources?.length && !cfg.mirror) {
    throw invalid('stream needs at least one configured subject or be a source/mirror');
  }

  if (ctx.maxBytesRequired && cfg.max_bytes <= 0) throw jsErr('StreamMaxBytesRequired');
  if ((ctx.maxStreamBytes ?? 0) > 0 && cfg.max_bytes > ctx.maxStreamBytes!) throw jsErr('StreamMaxStreamBytesExceeded');

  if (cfg.subject_transform) {
    const st = cfg.subject_transform;
    if (st.src && !isValidSubject(st.src)) throw jsErr('StreamTransformInvalidSource', { err: `invalid subject ${st.src}` });
    const terr = checkTransform(st.src, st.dest);
    if (terr) throw jsErr('StreamTransformInvalidDestination', { err: terr });
  }

  if (cfg.republish) {
    const rp = cfg.republish;
    if (!rp.src) {
      if (pedantic) throw pedanticErr('republish source can not be empty');
      rp.src = '>';
    }
    if (rp.dest === '>' && rp.src === '>' && cfg.subject_transform && cfg.subjects?.length === 1 &&
      cfg.subject_transform.src === cfg.subjects[0]) {
      if (pedantic) throw pedanticErr('implicit republish based on subject transform');
      rp.src = cfg.subject_transform.dest;
      rp.dest = cfg.subject_transform.dest;
    }
    for (const subj of cfg.subjects ?? []) {
      if (subjectsCollide(rp.dest, subj)) throw invalid('stream configuration for republish destination forms a cycle');
    }
    if (checkTransform(rp.src, rp.dest)) {
      throw invalid(`stream configuration for republish with transform from '${rp.src}' to '${rp.dest}' not valid`);
    }
  }

  if (cfg.placement && !cfg.placement.cluster && !cfg.placement.tags?.length && !cfg.placement.preferred) {
    delete cfg.placement;
  }
  if (cfg.placement?.preferred) throw invalid('preferred server not permitted in placement');

  return cfg;
}

/** nats-server refuses source/mirror graphs that would loop messages back into a stream. */
function checkSourceCycles(start: StreamConfig, ctx: StreamConfigContext): void {
  const toVisit: StreamConfig[] = [start];
  const visited = new Set<string>();
  const overlaps = (subjects: string[] | undefined, filter: string | undefined): boolean => {
    if (!filter) return true;
    return (subjects ?? []).some((s) => subjectsCollide(s, filter));
  };
  while (toVisit.length) {
    const c = toVisit.shift()!;
    visited.add(c.name);
    for (const src of c.sources ?? []) {
      if (src.external) continue;
      if (visited.has(src.name)) {
        if (overlaps(c.subjects, src.filter_subject)) throw invalid('detected cycle');
      } else {
        const o = ctx.lookupStream(src.name);
        if (o) toVisit.push(o);
      }
    }
    if (c.mirror && !c.mirror.external) {
      if (visited.has(c.mirror.name)) throw invalid('detected cycle');
      const o = ctx.lookupStream(c.mirror.name);
      if (o) toVisit.push(o);
    }
  }
}

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Validate an update of `old` to the requested config. Returns the new normalised config or
 * throws ApiError (10052 with nats-server's texts, 10055 mirror not updatable).
 */
export function checkStreamUpdate(old: StreamConfig, req: StreamConfigRequest, ctx: StreamConfigContext, pedantic = false): StreamConfig {
  const cfg = checkStreamConfig(req, ctx, pedantic);
  if (cfg.name !== old.name) throw invalid('stream configuration name must match original');
  if (!ctx.clustered && cfg.num_replicas > 1) throw jsErr('StreamReplicasNotSupported');
  if (cfg.storage !== old.storage) throw invalid('stream configuration update can not change storage type');
  if (cfg.retention !== old.retention && (old.retention === 'workqueue' || cfg.retention === 'workqueue')) {
    throw invalid('stream configuration update can not change retention policy to/from workqueue');
  }
  if (!cfg.sealed && old.sealed) throw invalid('stream configuration update can not unseal a sealed stream');
  if (!cfg.deny_delete && old.deny_delete) throw invalid('stream configuration update can not cancel deny message deletes');
  if (!cfg.deny_purge && old.deny_purge) throw invalid('stream configuration update can not cancel deny purge');
  // Removing the mirror ("promoting" it to a normal stream) is allowed; changing it is not.
  if (cfg.mirror && !sameJson(cfg.mirror, old.mirror)) throw jsErr('StreamMirrorNotUpdatable');
  if (cfg.sealed) {
    cfg.max_age = 0;
    cfg.discard = 'new';
    cfg.deny_delete = true;
    cfg.deny_purge = true;
    cfg.allow_rollup_hdrs = false;
  }
  return cfg;
}

/**
 * The config a meta assignment holds (JSON as encodeStreamConfig wrote it), normalised as
 * checkStreamConfig does, for checkStreamUpdate on a meta leader that may not host the stream.
 * It was validated when it was assigned; the account's current limits are not applied again
 * (an update must not fail because the old config no longer fits them). Should even that fail
 * (an assignment written by another server version), the raw fields are what the rules compare.
 */
export function assignedStreamConfig(json: Record<string, unknown>): StreamConfig {
  try {
    return checkStreamConfig(json as StreamConfigRequest, { lookupStream: () => undefined, clustered: true });
  } catch {
    const raw = json as Partial<StreamConfig>;
    return { ...raw, name: raw.name ?? '', storage: raw.storage ?? 'file', retention: raw.retention ?? 'limits' } as StreamConfig;
  }
}

/** Are two normalised configs the same (idempotent create)? */
export function sameStreamConfig(a: StreamConfig, b: StreamConfig): boolean {
  return JSON.stringify(encodeStreamConfig(a)) === JSON.stringify(encodeStreamConfig(b));
}

/** Go's time.Duration.String() for the few values that appear in error texts. */
export function goDuration(ns: number): string {
  if (ns === 0) return '0s';
  const neg = ns < 0;
  let v = Math.abs(ns);
  if (v < 1000) return `${neg ? '-' : ''}${v}ns`;
  if (v < 1_000_000) return `${neg ? '-' : ''}${trimFloat(v / 1000)}µs`;
  if (v < 1_000_000_000) return `${neg ? '-' : ''}${trimFloat(v / 1_000_000)}ms`;
  let out = '';
  const h = Math.floor(v / 3_600_000_000_000);
  v -= h * 3_600_000_000_000;
  const m = Math.floor(v / 60_000_000_000);
  v -= m * 60_000_000_000;
  if (h) out += `${h}h`;
  if (h || m) out += `${m}m`;
  out += `${trimFloat(v / 1e9)}s`;
  return (neg ? '-' : '') + out;
}

function trimFloat(x: number): string {
  return String(Number(x.toFixed(9)));
}
