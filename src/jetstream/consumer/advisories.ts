// Consumer advisories and metrics, as nats-server publishes them in the
// consumer's account ($JS.EVENT.ADVISORY.CONSUMER.*, $JS.EVENT.METRIC.CONSUMER.ACK.*).
// Field order follows nats-server's structs: type, id, timestamp, then the rest.

import { createHash } from 'node:crypto';
import { nuid } from '@nats-io/nuid';
import { goJson } from '../api/json.js';
import { formatRfc3339Nano, nowNs } from './go-format.js';

const ADV = '$JS.EVENT.ADVISORY.CONSUMER.';

export const ConsumerAdvisoryType = {
  action: 'io.nats.jetstream.advisory.v1.consumer_action',
  maxDeliver: 'io.nats.jetstream.advisory.v1.max_deliver',
  nak: 'io.nats.jetstream.advisory.v1.nak',
  terminated: 'io.nats.jetstream.advisory.v1.terminated',
  ackMetric: 'io.nats.jetstream.metric.v1.consumer_ack',
} as const;

export function createdSubject(stream: string, consumer: string): string {
  return `${ADV}CREATED.${stream}.${consumer}`;
}
export function deletedSubject(stream: string, consumer: string): string {
  return `${ADV}DELETED.${stream}.${consumer}`;
}
export function maxDeliveriesSubject(stream: string, consumer: string): string {
  return `${ADV}MAX_DELIVERIES.${stream}.${consumer}`;
}
export function nakedSubject(stream: string, consumer: string): string {
  return `${ADV}MSG_NAKED.${stream}.${consumer}`;
}
export function terminatedSubject(stream: string, consumer: string): string {
  return `${ADV}MSG_TERMINATED.${stream}.${consumer}`;
}
export function ackMetricSubject(stream: string, consumer: string): string {
  return `$JS.EVENT.METRIC.CONSUMER.ACK.${stream}.${consumer}`;
}

function head(type: string): Record<string, unknown> {
  return { type, id: nuid.next(), timestamp: formatRfc3339Nano(nowNs()) };
}

function withDomain(o: Record<string, unknown>, domain: string | undefined): string {
  if (domain) o.domain = domain;
  return goJson(o);
}

export function consumerActionAdvisory(stream: string, consumer: string, action: 'create' | 'delete', domain?: string): string {
  return withDomain({ ...head(ConsumerAdvisoryType.action), stream, consumer, action }, domain);
}

export function maxDeliverAdvisory(stream: string, consumer: string, streamSeq: number, deliveries: number, domain?: string): string {
  return withDomain({ ...head(ConsumerAdvisoryType.maxDeliver), stream, consumer, stream_seq: streamSeq, deliveries }, domain);
}

export function nakAdvisory(stream: string, consumer: string, consumerSeq: number, streamSeq: number, deliveries: number, domain?: string): string {
  return withDomain({
    ...head(ConsumerAdvisoryType.nak), stream, consumer, consumer_seq: consumerSeq, stream_seq: streamSeq, deliveries,
  }, domain);
}

export function terminatedAdvisory(
  stream: string, consumer: string, consumerSeq: number, streamSeq: number, deliveries: number, reason: string, domain?: string,
): string {
  const o: Record<string, unknown> = {
    ...head(ConsumerAdvisoryType.terminated), stream, consumer, consumer_seq: consumerSeq, stream_seq: streamSeq, deliveries,
  };
  if (reason) o.reason = reason;
  return withDomain(o, domain);
}

export function ackMetric(
  stream: string, consumer: string, consumerSeq: number, streamSeq: number, ackTimeNs: number, deliveries: number, domain?: string,
): string {
  return withDomain({
    ...head(ConsumerAdvisoryType.ackMetric), stream, consumer, consumer_seq: consumerSeq, stream_seq: streamSeq,
    ack_time: ackTimeNs, deliveries,
  }, domain);
}

const HASH_DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** nats-server getHash: first 8 bytes of SHA-256 mapped onto [0-9A-Za-z]. Used for ephemeral consumer names. */
export function shortHash(text: string, size = 8): string {
  const b = createHash('sha256').update(text).digest();
  let out = '';
  for (let i = 0; i < size; i++) out += HASH_DIGITS[b[i]! % 62];
  return out;
}

/** A new ephemeral consumer name (nats-server createConsumerName). */
export function newConsumerName(): string {
  return shortHash(nuid.next());
}

/** 4 random base-62 characters, for flow-control reply subjects. */
export function randomToken(len = 4): string {
  let out = '';
  for (let i = 0; i < len; i++) out += HASH_DIGITS[Math.floor(Math.random() * 62)];
  return out;
}
