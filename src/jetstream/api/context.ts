// What API handlers need from the JetStream service, and the helpers they share
// for decoding requests and answering in nats-server's shapes.

import type { JsAccount } from '../js-account.js';
import { ApiError, jsErr, unlessApiError } from './errors.js';
import { decodeRequest, goJson, isEmptyRequest, JsonDecodeError, type Schema } from './json.js';
import type { ApiRequest } from './router.js';
import type { InboundMsg } from '../../core/types.js';

export interface JsApiContext {
  /** jetstream { strict } : unknown request fields are errors. */
  readonly strict: boolean;
  readonly serverName: string;
  readonly domain?: string;
  /** JetStream state of an account, undefined when JetStream is not enabled for it. */
  jsAccount(name: string): JsAccount | undefined;
  /** Publish an API answer in the request's account and count it (total/errors). */
  respond(req: ApiRequest, body: string, isError: boolean): void;
  /** Publish a raw message (headers + payload) in the request's account (direct get, snapshots). */
  publishRaw(accountName: string, subject: string, reply: string, headers: Buffer | undefined, payload: Buffer | string): void;
  /** Subscribe in an account through the JetStream internal client; returns an unsubscribe function. */
  subscribe(accountName: string, subject: string,
    handler: (subject: string, reply: string, headers: Buffer | undefined, payload: Buffer, msg: InboundMsg) => void): () => void;
}

/** Answer `{"type":T, ...fields}`. */
export function sendOk(ctx: JsApiContext, req: ApiRequest, type: string, fields: Record<string, unknown>): void {
  ctx.respond(req, goJson({ type, ...fields }), false);
}

/** Answer `{"type":T, "error":{...}, ...extra}` (extra = success-shape fields nats-server still includes). */
export function sendErr(ctx: JsApiContext, req: ApiRequest, type: string, err: ApiError, extra: Record<string, unknown> = {}): void {
  ctx.respond(req, goJson({ type, error: err.toJSON(), ...extra }), true);
}

/** Decode the request body or throw 10025 invalid JSON with Go's message. */
export function decodeBody<T>(ctx: JsApiContext, req: ApiRequest, schema: Schema, rootName: string): T {
  try {
    return decodeRequest<T>(req.payload, schema, rootName, ctx.strict);
  } catch (e) {
    if (e instanceof JsonDecodeError) throw jsErr('InvalidJSON', { err: e.message });
    throw e;
  }
}

/** nats-server's isEmptyRequest (whitespace alone is NOT empty there). */
export function isEmptyBody(payload: Buffer): boolean {
  return isEmptyRequest(payload);
}

/** Run `fn`, turning a thrown ApiError (or anything else) into an error answer of `type`. */
export async function guarded(ctx: JsApiContext, req: ApiRequest, type: string, fn: () => void | Promise<void>,
  extra: Record<string, unknown> = {}): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const err = unlessApiError('StreamGeneral', e);
    sendErr(ctx, req, type, err, extra);
  }
}

/** The JetStream account of the request, or throw 10039 (not enabled for account). */
export function requireAccount(ctx: JsApiContext, req: ApiRequest): JsAccount {
  const acc = ctx.jsAccount(req.accountName);
  if (!acc) throw jsErr('NotEnabledForAccount');
  return acc;
}
