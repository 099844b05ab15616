// Pull requests ($JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>) and the status
// messages (header-only HMSGs) a consumer answers with. Texts and header layout
// are byte-for-byte nats-server's.

import { decodeRequest, JsonDecodeError, type Schema } from '../api/json.js';

export interface PullRequest {
  /** Messages asked for. nats-server does not reject 0 or negative: such a request still gets one message. */
  batch: number;
  /** Expiry in ns relative to receipt; 0 = none. Negative values expire at once. */
  expiresNs: number;
  maxBytes: number;
  noWait: boolean;
  /** Idle heartbeat interval in ns; 0 = none. */
  heartbeatNs: number;
}

const PULL_SCHEMA: Schema = {
  expires: 'duration',
  batch: 'int',
  max_bytes: 'int',
  no_wait: 'bool',
  idle_heartbeat: 'duration',
  // Priority group fields of newer servers: parsed so that misuse gets nats-server's answer.
  group: 'string',
  min_pending: 'int',
  min_ack_pending: 'int',
  id: 'string',
  priority: 'int',
};

/** Parse a pull request body. Returns the request or the "Bad Request - ..." reason text. */
export function parsePullRequest(body: Buffer): PullRequest | { error: string } {
  const text = body.toString('utf8').trim();
  if (text.length === 0) return { batch: 1, expiresNs: 0, maxBytes: 0, noWait: false, heartbeatNs: 0 };
  if (text[0] === '{') {
    let f: Record<string, unknown>;
    try {
      // nats-server uses a lenient json.Unmarshal here: unknown fields are ignored.
      f = decodeRequest<Record<string, unknown>>(text, PULL_SCHEMA, 'JSApiConsumerGetNextRequest', false);
    } catch (e) {
      return { error: e instanceof JsonDecodeError ? e.message : String(e) };
    }
    const expiresNs = (f.expires as number | undefined) ?? 0;
    const heartbeatNs = (f.idle_heartbeat as number | undefined) ?? 0;
    if (heartbeatNs > 0 && heartbeatNs * 2 > expiresNs) return { error: 'heartbeat value too large' };
    // This server has no priority groups, so every priority field is misuse (as on a consumer with policy none).
    if (((f.min_pending as number | undefined) ?? 0) !== 0 || ((f.min_ack_pending as number | undefined) ?? 0) !== 0) {
      return { error: 'Not a Overflow Priority consumer' };
    }
    if (((f.id as string | undefined) ?? '') !== '') return { error: 'Not a Pinned Client Priority consumer' };
    const prio = (f.priority as number | undefined) ?? 0;
    if (prio < 0 || prio > 9) return { error: 'Priority must be between 0 and 9' };
    return {
      batch: (f.batch as number | undefined) ?? 0,
      expiresNs,
      maxBytes: (f.max_bytes as number | undefined) ?? 0,
      noWait: (f.no_wait as boolean | undefined) ?? false,
      heartbeatNs,
    };
  }
  // A bare integer is a batch size (Go strconv.Atoi); anything else means 1.
  const batch = /^[+-]?\d+$/.test(text) ? Number(text) : 1;
  return { batch: Number.isSafeInteger(batch) ? batch : 1, expiresNs: 0, maxBytes: 0, noWait: false, heartbeatNs: 0 };
}

// ---- Status messages (header-only) ----

const CRLF = '\r\n';

function hdr(text: string): Buffer {
  return Buffer.from(text, 'latin1');
}

/** "NATS/1.0 <code> <text>\r\n\r\n" */
export function statusHeader(code: number, text: string): Buffer {
  return hdr(`NATS/1.0 ${code} ${text}${CRLF}${CRLF}`);
}

/** A status with the pending-messages/bytes headers nats-server adds when it ends a pull request. */
export function statusWithPending(code: number, text: string, pendingMsgs: number, pendingBytes: number): Buffer {
  return hdr(`NATS/1.0 ${code} ${text}${CRLF}Nats-Pending-Messages: ${pendingMsgs}${CRLF}Nats-Pending-Bytes: ${pendingBytes}${CRLF}${CRLF}`);
}

export const STATUS_NO_MESSAGES = statusHeader(404, 'No Messages');
export const STATUS_REQUESTS_PENDING = statusHeader(408, 'Requests Pending');
export const STATUS_CONSUMER_DELETED = statusHeader(409, 'Consumer Deleted');
export const STATUS_CONSUMER_IS_PUSH = statusHeader(409, 'Consumer is push based');
export const STATUS_EXCEEDED_MAX_WAITING = statusHeader(409, 'Exceeded MaxWaiting');
export const STATUS_LEADERSHIP_CHANGE = statusHeader(409, 'Leadership Change');
export const STATUS_FLOW_CONTROL = statusHeader(100, 'FlowControl Request');

export function requestTimeout(pendingMsgs: number, pendingBytes: number): Buffer {
  return statusWithPending(408, 'Request Timeout', pendingMsgs, pendingBytes);
}

export function messageSizeExceedsMaxBytes(pendingMsgs: number, pendingBytes: number): Buffer {
  return statusWithPending(409, 'Message Size Exceeds MaxBytes', pendingMsgs, pendingBytes);
}

export function batchCompleted(pendingMsgs: number, pendingBytes: number): Buffer {
  return statusWithPending(409, 'Batch Completed', pendingMsgs, pendingBytes);
}

export function badRequest(reason: string): Buffer {
  return statusHeader(400, `Bad Request - ${reason}`);
}

/** "100 Idle Heartbeat" with the last delivered sequences, plus Nats-Consumer-Stalled when flow control is outstanding. */
export function idleHeartbeat(lastConsumerSeq: number, lastStreamSeq: number, stalledFcReply?: string): Buffer {
  let s = `NATS/1.0 100 Idle Heartbeat${CRLF}Nats-Last-Consumer: ${lastConsumerSeq}${CRLF}Nats-Last-Stream: ${lastStreamSeq}${CRLF}`;
  if (stalledFcReply) s += `Nats-Consumer-Stalled: ${stalledFcReply}${CRLF}`;
  return hdr(s + CRLF);
}

/** headers_only delivery: original headers (or a bare status line) plus Nats-Msg-Size, payload dropped. */
export function headersOnly(headers: Buffer | undefined, payloadSize: number): Buffer {
  const tail = `Nats-Msg-Size: ${payloadSize}${CRLF}${CRLF}`;
  if (!headers || headers.length === 0) return hdr(`NATS/1.0${CRLF}${tail}`);
  // Drop the final CRLF of the header block and append our header.
  const base = headers.subarray(0, headers.length - 2);
  return Buffer.concat([base, hdr(tail)]);
}
