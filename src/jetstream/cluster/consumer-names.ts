// CONSUMER.NAMES answered by the meta leader from the consumer assignments, as nats-server
// 2.9.10 does in a cluster (jsConsumerNamesRequest: only the meta leader answers). tsnats lets
// the server holding an R1 stream answer instead; in a cluster with nats-server peers the
// two must not both answer, and a nats-server holder never answers (cluster-api.ts route).
import type { ApiRequest } from '../api/router.js';
import { API_NAMES_LIMIT } from '../api/types.js';
import { decodeBody, guarded, isEmptyBody, requireAccount, sendOk, type JsApiContext } from '../api/context.js';
import type { Schema } from '../api/json.js';
import { jsErr } from '../api/errors.js';

const T = 'io.nats.jetstream.api.v1.';
const PAGED: Schema = { offset: 'int' };

/** `names` undefined: the stream does not exist (10059, after the body was read as 2.9.10 does). */
export function answerConsumerNames(ctx: JsApiContext, req: ApiRequest, names: Iterable<string> | undefined): Promise<void> {
  const type = T + 'consumer_names_response';
  return guarded(ctx, req, type, () => {
    requireAccount(ctx, req);
    let offset = 0;
    if (!isEmptyBody(req.payload)) offset = Math.max(decodeBody<{ offset?: number }>(ctx, req, PAGED, 'JSApiConsumersRequest').offset ?? 0, 0);
    if (names === undefined) throw jsErr('StreamNotFound');
    const all = [...names].sort();
    const total = all.length;
    offset = Math.min(offset, total);
    sendOk(ctx, req, type, { total, offset, limit: API_NAMES_LIMIT, consumers: all.slice(offset, offset + API_NAMES_LIMIT) });
  }, { total: 0, offset: 0, limit: 0, consumers: [] });
}
