// A CONSUMER.CREATE / CONSUMER.DURABLE.CREATE request, decoded and checked
// against its subject as nats-server's jsConsumerCreate does before anything
// is created (standalone, consumer/api.ts) or proposed to the meta group
// (clustered, cluster/cluster-api.ts). One helper, so both paths give the same
// errors in the same order.

import type { ApiRequest } from '../api/router.js';
import { jsErr } from '../api/errors.js';
import { decodeBody, type JsApiContext } from '../api/context.js';
import { CREATE_CONSUMER_REQUEST_SCHEMA, consumerConfigFromJSON, type ConsumerAction, type ConsumerConfig } from './config.js';

/** The JSON body of a create request (nats-server CreateConsumerRequest). */
export interface CreateConsumerBody {
  stream_name?: string;
  config?: Record<string, unknown>;
  action?: ConsumerAction;
  pedantic?: boolean;
}

/** Decode the body strictly (nats-server's error texts for bad JSON and unknown fields). */
export function decodeCreateConsumerBody(ctx: JsApiContext, req: ApiRequest): CreateConsumerBody {
  return decodeBody<CreateConsumerBody>(ctx, req, CREATE_CONSUMER_REQUEST_SCHEMA, 'CreateConsumerRequest');
}

export interface CreateConsumerTarget {
  config: ConsumerConfig;
  streamName: string;
  /** '' for an ephemeral without a name (the server picks one). */
  consumerName: string;
}

/**
 * The config of a create request checked against the subject's tokens (after "$JS.API."):
 * CONSUMER CREATE <stream> [<name> [<filter...>]] | CONSUMER DURABLE CREATE <stream> <durable>.
 * Throws the ApiError nats-server answers with; `config.name` is set for named requests.
 */
export function createConsumerTarget(body: CreateConsumerBody, tokens: readonly string[]): CreateConsumerTarget {
  let config: ConsumerConfig;
  try {
    config = consumerConfigFromJSON(body.config ?? {});
  } catch (e) {
    throw jsErr('InvalidJSON', { err: e instanceof Error ? e.message : String(e) });
  }
  const t = tokens;
  let streamName: string;
  let consumerName = '';
  let filtered = '';
  let kind: 'legacyEphemeral' | 'legacyDurable' | 'new';
  if (t[1] === 'DURABLE') {
    kind = 'legacyDurable';
    if (t.length !== 5) throw jsErr('ConsumerDurableNameNotInSubject');
    streamName = t[3]!;
    consumerName = t[4]!;
  } else if (t.length === 3) {
    kind = 'legacyEphemeral';
    streamName = t[2]!;
    consumerName = config.name;
  } else {
    kind = 'new';
    streamName = t[2]!;
    consumerName = t[3]!;
    if (t.length > 4) filtered = t.slice(4).join('.');
  }
  if (streamName !== (body.stream_name ?? '')) throw jsErr('StreamMismatch');
  if (consumerName !== '' && /[\\/]/.test(consumerName)) throw jsErr('ConsumerNameContainsPathSeparators');
  if (kind === 'legacyDurable') {
    if (config.durable_name === '') throw jsErr('ConsumerDurableNameNotSet');
    if (consumerName !== config.durable_name) throw jsErr('ConsumerDurableNameNotMatchSubject');
    config.name = consumerName;
  }
  if (kind === 'new') {
    if (config.durable_name !== '' && consumerName !== config.durable_name) throw jsErr('ConsumerDurableNameNotMatchSubject');
    config.name = consumerName;
  }
  if (kind === 'legacyEphemeral' && config.durable_name !== '') throw jsErr('ConsumerEphemeralWithDurableName');
  if (filtered !== '' && config.filter_subjects !== null && config.filter_subjects.length > 0) {
    throw jsErr('ConsumerMultipleFiltersNotAllowed');
  }
  if (filtered !== '' && config.filter_subject !== filtered) throw jsErr('ConsumerCreateFilterSubjectMismatch');
  return { config, streamName, consumerName };
}
