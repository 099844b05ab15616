// $JS.API.CONSUMER.* handlers (standalone server): CREATE (legacy ephemeral,
// named, named+filter), DURABLE.CREATE, INFO, NAMES, LIST, DELETE and
// LEADER.STEPDOWN, with nats-server's response types, check order and error
// codes. MSG.NEXT is not routed here: each consumer subscribes its own subject.
//
// Registered as a JetStream extension: the consumer side of stream start-up
// (recovering persisted consumers) also hangs off it.

import { addJetStreamExtension, type JetStreamService } from '../index.js';
import type { JsAccount } from '../js-account.js';
import type { Stream } from '../stream.js';
import type { ApiRequest } from '../api/router.js';
import { ApiError, jsErr, jsErrText, unlessApiError } from '../api/errors.js';
import { decodeBody, guarded, sendErr, sendOk, type JsApiContext } from '../api/context.js';
import { API_LIST_LIMIT, API_NAMES_LIMIT } from '../api/types.js';
import type { Schema } from '../api/json.js';
import { createConsumerTarget, decodeCreateConsumerBody } from './create-request.js';
import {
  addConsumer, consumerHostFor, consumerLimits, deleteConsumer, lookupConsumer, publicConsumers, recoverConsumers,
} from './manager.js';

const T = 'io.nats.jetstream.api.v1.';
export const ConsumerResponseType = {
  create: T + 'consumer_create_response',
  info: T + 'consumer_info_response',
  names: T + 'consumer_names_response',
  list: T + 'consumer_list_response',
  delete: T + 'consumer_delete_response',
  stepdown: T + 'consumer_leader_stepdown_response',
} as const;

const PAGED_REQUEST_SCHEMA: Schema = { offset: 'int' };

/** nats-server isEmptyRequest: no bytes, or a JSON object without fields ("{}", " { } "). */
export function isEmptyRequest(payload: Buffer): boolean {
  if (payload.length === 0) return true;
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0;
  } catch {
    return false;
  }
}

/** Body looks like a JSON object or array (nats-server isJSONObjectOrArray). */
function isJsonObjectOrArray(payload: Buffer): boolean {
  for (let i = 0; i < payload.length; i++) {
    const c = payload[i]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
    return c === 0x7b || c === 0x5b;
  }
  return false;
}

export class ConsumerApi {
  constructor(private readonly js: JetStreamService) {}

  attach(): void {
    const js = this.js;
    const ctx = (): JsApiContext => js.api;
    js.registerApi('CONSUMER.CREATE.*', (r) => this.create(ctx(), r));
    js.registerApi('CONSUMER.CREATE.*.>', (r) => this.create(ctx(), r));
    js.registerApi('CONSUMER.DURABLE.CREATE.*.*', (r) => this.create(ctx(), r));
    js.registerApi('CONSUMER.INFO.*.*', (r) => this.info(ctx(), r));
    js.registerApi('CONSUMER.NAMES.*', (r) => this.names(ctx(), r, false));
    js.registerApi('CONSUMER.LIST.*', (r) => this.names(ctx(), r, true));
    js.registerApi('CONSUMER.DELETE.*.*', (r) => this.delete(ctx(), r));
    js.registerApi('CONSUMER.LEADER.STEPDOWN.*.*', (r) => this.stepdown(ctx(), r));
  }

  private host(acc: JsAccount) {
    return consumerHostFor(acc, this.js.domain, (m) => this.js.server.log.warn(m));
  }

  private limits(acc: JsAccount) {
    const l = this.js.options.jetstream.limits;
    return consumerLimits(acc, l?.maxRequestBatch ?? 0, l?.maxAckPending ?? 0);
  }

  // ---- CREATE / DURABLE.CREATE ----

  private async create(ctx: JsApiContext, req: ApiRequest): Promise<void> {
    const type = ConsumerResponseType.create;
    await guarded(ctx, req, type, () => {
      const body = decodeCreateConsumerBody(ctx, req);
      const acc = ctx.jsAccount(req.accountName);
      if (!acc) throw jsErr('NotEnabledForAccount');
      const { config, streamName } = createConsumerTarget(body, req.tokens);
      const stream = acc.streams.get(streamName);
      // A replica of a replicated stream: the cluster layer replicates its consumers.
      if (config.num_replicas > 1 && !(stream && stream.config.num_replicas > 1)) throw jsErr('StreamReplicasNotSupported');
      if (!stream) throw jsErr('StreamNotFound');
      const c = addConsumer(stream, this.host(acc), config, {
        action: body.action ?? '',
        pedantic: body.pedantic ?? false,
        limits: this.limits(acc),
        accountMaxConsumers: acc.limits.maxConsumers,
      });
      sendOk(ctx, req, type, c.info());
    });
  }

  // ---- INFO ----

  private async info(ctx: JsApiContext, req: ApiRequest): Promise<void> {
    const type = ConsumerResponseType.info;
    await guarded(ctx, req, type, () => {
      if (!isEmptyRequest(req.payload)) throw jsErr('NotEmptyRequest');
      const acc = ctx.jsAccount(req.accountName);
      if (!acc) throw jsErr('NotEnabledForAccount');
      const stream = acc.streams.get(req.tokens[2]!);
      if (!stream) throw jsErr('StreamNotFound');
      const c = lookupConsumer(stream, req.tokens[3]!);
      if (!c || c.isClosed) throw jsErr('ConsumerNotFound');
      sendOk(ctx, req, type, c.info());
    });
  }

  // ---- NAMES / LIST ----

  private async names(ctx: JsApiContext, req: ApiRequest, list: boolean): Promise<void> {
    const type = list ? ConsumerResponseType.list : ConsumerResponseType.names;
    const emptyPage = { total: 0, offset: 0, limit: 0, consumers: [] };
    await guarded(ctx, req, type, () => {
      const acc = ctx.jsAccount(req.accountName);
      if (!acc) throw jsErr('NotEnabledForAccount');
      let offset = 0;
      if (isJsonObjectOrArray(req.payload)) {
        const b = decodeBody<{ offset?: number }>(ctx, req, PAGED_REQUEST_SCHEMA, 'JSApiConsumersRequest');
        offset = Math.max(b.offset ?? 0, 0);
      }
      const stream = acc.streams.get(req.tokens[2]!);
      if (!stream) throw jsErr('StreamNotFound');
      const all = publicConsumers(stream);
      const total = all.length;
      if (offset > total) offset = total;
      const limit = list ? API_LIST_LIMIT : API_NAMES_LIMIT;
      const page = all.slice(offset, offset + limit);
      if (list) {
        sendOk(ctx, req, type, { total, offset, limit, consumers: page.map((c) => c.info()) });
      } else {
        sendOk(ctx, req, type, { total, offset, limit, consumers: page.map((c) => c.name) });
      }
    }, emptyPage);
  }

  // ---- DELETE ----

  private async delete(ctx: JsApiContext, req: ApiRequest): Promise<void> {
    const type = ConsumerResponseType.delete;
    await guarded(ctx, req, type, async () => {
      const acc = ctx.jsAccount(req.accountName);
      if (!acc) throw jsErr('NotEnabledForAccount');
      if (!isEmptyRequest(req.payload)) throw jsErr('NotEmptyRequest');
      const stream = acc.streams.get(req.tokens[2]!);
      if (!stream) throw jsErr('StreamNotFound');
      const c = lookupConsumer(stream, req.tokens[3]!);
      if (!c || c.isClosed) throw jsErr('ConsumerNotFound');
      try {
        await deleteConsumer(stream, c);
      } catch (e) {
        throw unlessApiError('StreamGeneral', e);
      }
      sendOk(ctx, req, type, { success: true });
    });
  }

  // ---- LEADER.STEPDOWN ----

  /** A single server has no consumer groups: nats-server answers 10010 "clustering support required". */
  private async stepdown(ctx: JsApiContext, req: ApiRequest): Promise<void> {
    sendErr(ctx, req, ConsumerResponseType.stepdown, jsErr('ClusterRequired'));
  }
}

/** A stream came to life (created or recovered at start): bring back the consumers its store found on disk. */
function streamAdded(acc: JsAccount, stream: Stream): void {
  const host = consumerHostFor(acc, stream.host.domain, (m) => stream.host.warn(m));
  recoverConsumers(stream, host);
}

let registered = false;

/** Plug the consumer API into every JetStream service created afterwards (one per server). */
export function registerConsumerApi(): void {
  if (registered) return;
  registered = true;
  addJetStreamExtension({
    attach(js) {
      new ConsumerApi(js).attach();
    },
    streamAdded,
  });
}

registerConsumerApi();
