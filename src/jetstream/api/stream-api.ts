// $JS.API handlers for the account and streams: INFO, STREAM.CREATE/UPDATE/INFO/NAMES/
// LIST/DELETE/PURGE, STREAM.MSG.GET/DELETE. Order of checks and answers follow
// nats-server's jetstream_api.go (standalone mode).

import { ApiError, jsErr, jsErrText } from './errors.js';
import {
  ResponseType, API_NAMES_LIMIT, API_LIST_LIMIT, API_SUBJECTS_LIMIT,
  streamCreateRequestSchema, streamInfoRequestSchema, streamNamesRequestSchema, streamPurgeRequestSchema,
  msgDeleteRequestSchema, msgGetRequestSchema,
  type StreamConfigRequest, type StreamInfoRequest, type StreamNamesRequest, type StreamPurgeRequest,
  type MsgDeleteRequest, type MsgGetRequest,
} from './types.js';
import { goJson, goTimeFromNanos, parseGoTime } from './json.js';
import type { ApiRequest, ApiRouter } from './router.js';
import {
  decodeBody, guarded, isEmptyBody, requireAccount, sendOk, sendErr, type JsApiContext,
} from './context.js';
import type { JsAccount } from '../js-account.js';
import type { Stream } from '../stream.js';
import { subjectsCollide } from '../subjects.js';
import { checkStreamConfig } from '../stream-config.js';

const isJsonObjectOrArray = (b: Buffer): boolean => {
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
};

function lookupStream(acc: JsAccount, name: string): Stream {
  const s = acc.streams.get(name);
  if (!s) throw jsErr('StreamNotFound');
  return s;
}

/** Account usage for $JS.API.INFO (JetStreamAccountStats). */
export function accountInfo(ctx: JsApiContext, acc: JsAccount): Record<string, unknown> {
  const l = acc.limits;
  const out: Record<string, unknown> = {
    memory: acc.memoryBytes,
    storage: acc.storeBytes,
    reserved_memory: acc.reservedMemory(),
    reserved_storage: acc.reservedStore(),
    streams: acc.streams.size,
    consumers: acc.consumerCount(),
    limits: l.tiers === undefined ? limitsJson(l) : ZERO_LIMITS,
  };
  if (ctx.domain) out.domain = ctx.domain;
  out.api = { total: acc.apiTotal, errors: acc.apiErrors };
  if (l.tiers !== undefined) {
    const tiers: Record<string, unknown> = {};
    for (const [name, tl] of Object.entries(l.tiers)) {
      tiers[name] = { ...acc.tierUsage(Number(name.slice(1)) || 1), limits: limitsJson(tl) };
    }
    out.tiers = tiers;
  }
  return out;
}

function limitsJson(l: JsAccount['limits']): Record<string, unknown> {
  return {
    max_memory: l.maxMemory, max_storage: l.maxStore, max_streams: l.maxStreams, max_consumers: l.maxConsumers,
    max_ack_pending: l.maxAckPending, memory_max_stream_bytes: l.memoryMaxStreamBytes,
    storage_max_stream_bytes: l.storeMaxStreamBytes, max_bytes_required: l.maxBytesRequired,
  };
}

/** Top-level limits of an account with tiered limits (nats-server reports the zero value). */
const ZERO_LIMITS = {
  max_memory: 0, max_storage: 0, max_streams: 0, max_consumers: 0, max_ack_pending: 0,
  memory_max_stream_bytes: 0, storage_max_stream_bytes: 0, max_bytes_required: false,
};

/** StreamInfo body as returned by create/update (a cluster block only in clustered mode). */
function createInfo(ctx: JsApiContext, s: Stream, withDomain: boolean): Record<string, unknown> {
  const { info } = s.info();
  if (!withDomain) delete info.domain;
  return info;
}

export function registerStreamApi(router: ApiRouter, ctx: JsApiContext): void {
  router.add('INFO', (req) => guarded(ctx, req, ResponseType.AccountInfo, () => {
    const acc = requireAccount(ctx, req);
    sendOk(ctx, req, ResponseType.AccountInfo, accountInfo(ctx, acc));
  }));

  router.add('STREAM.CREATE.*', (req) => guarded(ctx, req, ResponseType.StreamCreate, async () => {
    const acc = requireAccount(ctx, req);
    const body = decodeBody<StreamConfigRequest>(ctx, req, streamCreateRequestSchema, 'StreamConfigRequest');
    const name = req.tokens[2]!;
    if (name !== (body.name ?? '')) throw jsErr('StreamMismatch');
    if (/[\\/]/.test(name)) throw jsErr('StreamNameContainsPathSeparators');
    if (body.sealed) throw jsErrText('StreamInvalidConfig', 'stream configuration for create can not be sealed');
    if (body.mirror_direct && !body.mirror) throw jsErrText('StreamInvalidConfig', 'stream has no mirror but does have mirror direct');
    const stream = await acc.createStream(body, body.pedantic === true);
    sendOk(ctx, req, ResponseType.StreamCreate, { ...createInfo(ctx, stream, false), did_create: true });
  }));

  router.add('STREAM.UPDATE.*', (req) => guarded(ctx, req, ResponseType.StreamUpdate, async () => {
    const acc = requireAccount(ctx, req);
    const body = decodeBody<StreamConfigRequest>(ctx, req, streamCreateRequestSchema, 'StreamConfigRequest');
    const name = req.tokens[2]!;
    // nats-server validates the config before comparing names and looking the stream up.
    const cfg = checkStreamConfig(body, acc.configContext(body.storage === 'memory' ? 'memory' : 'file'), body.pedantic === true);
    if (name !== cfg.name) throw jsErr('StreamMismatch');
    const stream = lookupStream(acc, name);
    await acc.updateStream(stream, body, body.pedantic === true);
    sendOk(ctx, req, ResponseType.StreamUpdate, createInfo(ctx, stream, true));
  }));

  router.add('STREAM.INFO.*', (req) => guarded(ctx, req, ResponseType.StreamInfo, () => {
    const acc = requireAccount(ctx, req);
    let details = false;
    let filter = '';
    let offset = 0;
    if (isJsonObjectOrArray(req.payload)) {
      const body = decodeBody<StreamInfoRequest>(ctx, req, streamInfoRequestSchema, 'JSApiStreamInfoRequest');
      details = body.deleted_details === true;
      filter = body.subjects_filter ?? '';
      offset = Math.max(body.offset ?? 0, 0);
    }
    const stream = lookupStream(acc, req.tokens[2]!);
    const { info, totalSubjects } = stream.info({
      deletedDetails: details, subjectsFilter: filter, subjectsOffset: offset, subjectsLimit: API_SUBJECTS_LIMIT,
    });
    if (!info.cluster) info.cluster = { leader: ctx.serverName };
    const paged = filter && totalSubjects > 0
      ? { total: totalSubjects, offset: Math.min(offset, totalSubjects), limit: API_SUBJECTS_LIMIT }
      : { total: 0, offset: 0, limit: 0 };
    // Move cluster after domain/state as nats-server orders it.
    const { config, created, state, domain, cluster, ...rest } = info;
    const ordered: Record<string, unknown> = { config, created, state };
    if (domain) ordered.domain = domain;
    ordered.cluster = cluster;
    sendOk(ctx, req, ResponseType.StreamInfo, { ...paged, ...ordered, ...rest });
  }, { total: 0, offset: 0, limit: 0 }));

  const namesOrList = (list: boolean) => (req: ApiRequest) => {
    const type = list ? ResponseType.StreamList : ResponseType.StreamNames;
    const limit = list ? API_LIST_LIMIT : API_NAMES_LIMIT;
    return guarded(ctx, req, type, () => {
      const acc = requireAccount(ctx, req);
      let offset = 0;
      let filter = '';
      if (isJsonObjectOrArray(req.payload)) {
        const body = decodeBody<StreamNamesRequest>(ctx, req, streamNamesRequestSchema,
          list ? 'JSApiStreamListRequest' : 'JSApiStreamNamesRequest');
        offset = Math.max(body.offset ?? 0, 0);
        filter = body.subject ?? '';
      }
      let streams = [...acc.streams.values()];
      if (filter) streams = streams.filter((s) => (s.config.subjects ?? []).some((x) => subjectsCollide(filter, x)));
      streams.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      const total = streams.length;
      offset = Math.min(offset, total);
      const page = streams.slice(offset, offset + limit);
      const items = list ? page.map((s) => createInfo(ctx, s, true)) : page.map((s) => s.name);
      const fields: Record<string, unknown> = { total, offset, limit, streams: items.length ? items : (list ? [] : null) };
      sendOk(ctx, req, type, fields);
    }, { total: 0, offset: 0, limit: 0, streams: null });
  };
  router.add('STREAM.NAMES', namesOrList(false));
  router.add('STREAM.LIST', namesOrList(true));

  router.add('STREAM.DELETE.*', (req) => guarded(ctx, req, ResponseType.StreamDelete, async () => {
    const acc = requireAccount(ctx, req);
    if (!isEmptyBody(req.payload)) throw jsErr('NotEmptyRequest');
    const stream = lookupStream(acc, req.tokens[2]!);
    await acc.deleteStream(stream);
    sendOk(ctx, req, ResponseType.StreamDelete, { success: true });
  }));

  router.add('STREAM.PURGE.*', (req) => guarded(ctx, req, ResponseType.StreamPurge, () => {
    const acc = requireAccount(ctx, req);
    let preq: StreamPurgeRequest = {};
    if (isJsonObjectOrArray(req.payload)) {
      preq = decodeBody<StreamPurgeRequest>(ctx, req, streamPurgeRequestSchema, 'JSApiStreamPurgeRequest');
      if ((preq.seq ?? 0) > 0 && (preq.keep ?? 0) > 0) throw jsErr('BadRequest');
    }
    const stream = lookupStream(acc, req.tokens[2]!);
    const purged = stream.purge(preq);
    // The reply promises the purge: send it once its records are durable.
    return stream.removalsDurable().then(() => sendOk(ctx, req, ResponseType.StreamPurge, { success: true, purged }));
  }, { purged: 0 }));

  router.add('STREAM.MSG.DELETE.*', (req) => guarded(ctx, req, ResponseType.StreamMsgDelete, () => {
    const acc = requireAccount(ctx, req);
    if (isEmptyBody(req.payload)) throw jsErr('BadRequest');
    const body = decodeBody<MsgDeleteRequest>(ctx, req, msgDeleteRequestSchema, 'JSApiMsgDeleteRequest');
    const stream = lookupStream(acc, req.tokens[3]!);
    if (stream.config.sealed) throw jsErr('StreamSealed');
    if (stream.config.deny_delete) throw jsErrText('StreamMsgDeleteFailed', 'message delete not permitted');
    try {
      stream.deleteMessage(body.seq ?? 0, body.no_erase === true);
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      // nats-server sends the outcome of the delete itself (not found, store error) as an
      // ordinary response: it is not counted in the account's api.errors.
      ctx.respond(req, goJson({ type: ResponseType.StreamMsgDelete, error: e.toJSON() }), false);
      return;
    }
    return stream.removalsDurable().then(() => sendOk(ctx, req, ResponseType.StreamMsgDelete, { success: true }));
  }));

  router.add('STREAM.MSG.GET.*', (req) => guarded(ctx, req, ResponseType.StreamMsgGet, () => {
    const acc = requireAccount(ctx, req);
    if (isEmptyBody(req.payload)) throw jsErr('BadRequest');
    const body = decodeBody<MsgGetRequest>(ctx, req, msgGetRequestSchema, 'JSApiMsgGetRequest');
    if ((body.batch ?? 0) > 0 || (body.max_bytes ?? 0) > 0) throw jsErr('BadRequest');
    const seqIn = body.seq ?? 0;
    const last = body.last_by_subj ?? '';
    const next = body.next_by_subj ?? '';
    const start = body.start_time;
    if ((seqIn > 0 && last) || (seqIn === 0 && !last && !next && !start) || (seqIn > 0 && start) ||
      (start && last) || (last && next)) {
      throw jsErr('BadRequest');
    }
    const stream = acc.streams.get(req.tokens[3]!);
    if (!stream) throw jsErr('StreamNotFound');
    const seq = start ? stream.store.getSeqFromTime(parseGoTime(start)) : seqIn;
    // Among the visible (durable) messages only: see jetstream/visibility.ts.
    const m = seq > 0 && !next ? stream.getMessage(seq, '', '') : stream.getMessage(seq, last, next || (last ? '' : '>'));
    if (!m) throw jsErr('NoMessageFound');
    const message: Record<string, unknown> = { subject: m.subject, seq: m.seq };
    if (!body.no_hdr && m.headers && m.headers.length) message.hdrs = m.headers.toString('base64');
    if (m.data.length) message.data = m.data.toString('base64');
    message.time = goTimeFromNanos(m.ts);
    sendOk(ctx, req, ResponseType.StreamMsgGet, { message });
  }));
}

/**
 * Cluster-only operations answered in standalone mode with 10010 (JetStream clustering
 * support required), as nats-server does. The clustered layer registers its own handlers
 * for these patterns, which replace these.
 */
export function registerStandaloneClusterApi(router: ApiRouter, ctx: JsApiContext): void {
  const clusterRequired = (type: string) => (req: ApiRequest) => guarded(ctx, req, type, () => {
    requireAccount(ctx, req);
    throw jsErr('ClusterRequired');
  });
  router.add('STREAM.LEADER.STEPDOWN.*', clusterRequired(ResponseType.StreamLeaderStepdown));
  router.add('STREAM.PEER.REMOVE.*', clusterRequired(ResponseType.StreamRemovePeer));
  router.add('CONSUMER.LEADER.STEPDOWN.*.*', clusterRequired('io.nats.jetstream.api.v1.consumer_leader_stepdown_response'));
}

export { ApiError, sendErr };
