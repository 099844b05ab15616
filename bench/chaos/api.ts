// Raw JetStream API calls of the chaos suite. The suite speaks the wire API
// (JSON requests, PubAck replies, $JS.ACK reply subjects) instead of the
// client's JetStream layer so it sees exactly what the server answered and
// decides itself what to retry — a retry policy hidden in a client would blur
// what "acknowledged" means.
import { connect, createInbox, headers, type NatsConnection } from '@nats-io/transport-node';

export const STREAM = 'CHAOS';
export const CONSUMER = 'C1';
export const SUBJECTS = 'chaos.>';
const NS = 1_000_000;

export interface ApiError { code: number; err_code?: number; description?: string }
export interface PubAck { stream?: string; seq?: number; duplicate?: boolean; error?: ApiError }

export interface ReplicaInfo { name: string; current?: boolean; offline?: boolean; lag?: number; active?: number }
export interface StreamInfo {
  error?: ApiError;
  config?: { num_replicas?: number };
  state?: { messages: number; first_seq: number; last_seq: number; num_deleted?: number; bytes?: number };
  cluster?: { name?: string; leader?: string; replicas?: ReplicaInfo[] };
}
export interface ConsumerInfo {
  error?: ApiError;
  name?: string;
  num_pending?: number;
  num_ack_pending?: number;
  num_redelivered?: number;
  delivered?: { consumer_seq: number; stream_seq: number };
  ack_floor?: { consumer_seq: number; stream_seq: number };
  cluster?: { leader?: string; replicas?: ReplicaInfo[] };
}

export async function connectTo(urls: string[], name: string): Promise<NatsConnection> {
  return connect({
    servers: urls,
    user: 'a',
    pass: 'a',
    name,
    // Client URLs of the nodes change on restart; the stable proxies are the only addresses to use.
    ignoreClusterUpdates: true,
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 100,
    // A SIGSTOPped server keeps its socket open: notice it within seconds, not minutes.
    pingInterval: 1000,
    maxPingOut: 3,
    timeout: 5000,
  });
}

export async function api<T>(nc: NatsConnection, subject: string, body: unknown, timeoutMs = 5000): Promise<T> {
  const m = await nc.request(subject, body === undefined ? '' : JSON.stringify(body), { timeout: timeoutMs });
  return m.json<T>();
}

export function streamConfig(): Record<string, unknown> {
  return {
    name: STREAM,
    subjects: [SUBJECTS],
    storage: 'file',
    num_replicas: 3,
    retention: 'limits',
    // longer than any run, so every retry of a Nats-Msg-Id is deduplicated
    duplicate_window: 10 * 60 * 1000 * NS,
  };
}

export function consumerConfig(): Record<string, unknown> {
  return {
    durable_name: CONSUMER,
    ack_policy: 'explicit',
    ack_wait: 5000 * NS,
    max_ack_pending: 20_000,
    deliver_policy: 'all',
    num_replicas: 3,
  };
}

export interface PublishOpts { msgId?: string; expectedLastSeq?: number; timeoutMs: number }

/** One publish attempt: the PubAck or API error, or throws on timeout / no responders / disconnect. */
export async function publish(nc: NatsConnection, subject: string, data: Uint8Array, o: PublishOpts): Promise<PubAck> {
  const h = headers();
  if (o.msgId !== undefined) h.set('Nats-Msg-Id', o.msgId);
  if (o.expectedLastSeq !== undefined) h.set('Nats-Expected-Last-Sequence', String(o.expectedLastSeq));
  const m = await nc.request(subject, data, { timeout: o.timeoutMs, headers: h });
  if (m.data.length === 0) throw new Error(`empty reply (status ${m.headers?.code ?? '?'})`);
  return m.json<PubAck>();
}

/** Stream sequence of a JetStream delivery from its $JS.ACK reply subject, or undefined for a status message. */
export function streamSeqOfAck(reply: string | undefined): number | undefined {
  if (reply === undefined || !reply.startsWith('$JS.ACK.')) return undefined;
  const t = reply.split('.');
  // $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending> (9 tokens); the newer form puts
  // <domain>.<account hash> before the stream (and may end with a random token), moving sseq to index 7
  const sseq = t.length === 9 ? t[5] : t[7];
  const n = Number(sseq);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export { createInbox };
