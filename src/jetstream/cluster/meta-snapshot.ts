// The meta snapshot (jetstream-cluster.md §2.3): the whole assignment state as an S2 block of
// a JSON array of "writeable" stream assignments, each with its consumers under the key
// `Consumers` (capitalised: the Go field has no JSON tag). No state at all is an empty buffer.
//
// We write today's shape: client info reduced to account / service account / cluster,
// streams without subject/reply, consumers as {client, created, name, stream, consumer, group},
// `Consumers` always an array. We read that and the 2.9.10 shape (full client info, consumers
// with subject/reply, `Consumers: null`). Configs travel as their raw JSON (see meta-codec).

import {
  MetaCodecError, arrayElementSpans, clientForSnapshot, decodeConsumerAssignmentJson, decodeStreamAssignmentJson,
  encodeClientInfo, encodeRaftGroup, memberSpan, objectMemberSpans, type ConsumerAssignment, type StreamAssignmentWithConsumers,
} from './meta-codec.js';
import { goJson } from '../api/json.js';
import { S2Error, s2Decode, s2Encode } from './s2.js';

/** Bound on the decompressed snapshot (a header claiming more is refused before allocating). */
export const MAX_META_SNAPSHOT_JSON = 512 * 1024 * 1024;

function encodeWriteableConsumer(ca: ConsumerAssignment): string {
  let s = '{';
  if (ca.client) s += `"client":${encodeClientInfo(clientForSnapshot(ca.client))},`;
  s += `"created":${goJson(ca.created)},"name":${goJson(ca.name)},"stream":${goJson(ca.stream)},"consumer":${ca.configJson}`;
  return s + `,"group":${encodeRaftGroup(ca.group)}}`;
}

function encodeWriteableStream(sa: StreamAssignmentWithConsumers): string {
  let s = '{';
  if (sa.client) s += `"client":${encodeClientInfo(clientForSnapshot(sa.client))},`;
  s += `"created":${goJson(sa.created)},"stream":${sa.configJson},"group":${encodeRaftGroup(sa.group)},"sync":${goJson(sa.sync)}`;
  return s + `,"Consumers":[${sa.consumers.map(encodeWriteableConsumer).join(',')}]}`;
}

/** The uncompressed snapshot JSON (exposed for tests and diagnostics). */
export function encodeMetaSnapshotJson(streams: StreamAssignmentWithConsumers[]): string {
  return `[${streams.map(encodeWriteableStream).join(',')}]`;
}

/** Encode the assignment state; no streams gives an empty buffer (nats-server: nil snapshot). */
export function encodeMetaSnapshot(streams: StreamAssignmentWithConsumers[]): Buffer {
  if (streams.length === 0) return Buffer.alloc(0);
  return s2Encode(Buffer.from(encodeMetaSnapshotJson(streams), 'utf8'));
}

/**
 * Decode a meta snapshot. Empty input is the empty state. Throws MetaCodecError for bad
 * compression, bad JSON or a malformed assignment (the whole snapshot is refused, as
 * nats-server's applyMetaSnapshot returns the error). Consumers without a `stream` take the
 * stream's name.
 */
export function decodeMetaSnapshot(buf: Uint8Array): StreamAssignmentWithConsumers[] {
  if (buf.length === 0) return [];
  let text: string;
  try {
    text = s2Decode(buf, MAX_META_SNAPSHOT_JSON).toString('utf8');
  } catch (e) {
    if (e instanceof S2Error) throw new MetaCodecError('bad_compression', `meta snapshot: ${e.message}`);
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new MetaCodecError('bad_json', `meta snapshot: invalid JSON: ${(e as Error).message}`);
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) throw new MetaCodecError('bad_json', 'meta snapshot: not a JSON array');
  const out: StreamAssignmentWithConsumers[] = [];
  for (const span of arrayElementSpans(text)) {
    try {
      out.push(decodeElement(text.slice(span.start, span.end)));
    } catch (e) {
      if (e instanceof MetaCodecError) throw e;
      throw new MetaCodecError('bad_assignment', `meta snapshot: ${(e as Error).message}`);
    }
  }
  return out;
}

function decodeElement(elem: string): StreamAssignmentWithConsumers {
  const spans = objectMemberSpans(elem);
  const sa = decodeStreamAssignmentJson(elem, spans);
  const consumers: ConsumerAssignment[] = [];
  const cs = memberSpan(spans, 'Consumers');
  if (cs) {
    const arrText = elem.slice(cs.start, cs.end);
    const arr = JSON.parse(arrText) as unknown;
    if (arr !== null && !Array.isArray(arr)) throw new MetaCodecError('bad_assignment', 'meta snapshot: Consumers is not an array');
    for (const c of arrayElementSpans(arrText)) {
      consumers.push(decodeConsumerAssignmentJson(arrText.slice(c.start, c.end), sa.config.name));
    }
  }
  return { ...sa, consumers };
}
