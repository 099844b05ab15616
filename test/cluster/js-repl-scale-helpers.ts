// Helpers for the peer-change tests (js-repl-scale*.test.ts, js-meta-remove*.test.ts): waiting for
// a replicated stream or consumer to settle on a given set of servers, and reading back every
// acknowledged message through the API.
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { apiRequest, pollUntil } from './js-cluster-harness.js';

export interface Replica { name: string; current: boolean; offline?: boolean; peer?: string }
export interface ClusterBlock { name?: string; leader?: string; replicas?: Replica[] }
export interface InfoResp {
  type: string;
  error?: { code: number; err_code: number; description: string };
  config?: { name: string; num_replicas: number } & Record<string, unknown>;
  state?: { messages: number; last_seq: number };
  cluster?: ClusterBlock;
  ack_floor?: { stream_seq: number };
  num_pending?: number;
}

let clusters = 0;
/**
 * A cluster name of its own for each test cluster. These tests stop servers for good; the others
 * keep dialling the stopped server's route port, and a cluster started later (another test file)
 * may bind that port: with a shared name the two clusters would merge.
 */
export function ownClusterName(): string {
  return `SC${process.pid}N${++clusters}`;
}

/** The servers of a cluster block: leader first, then the replicas by name. */
export function serversOf(cl: ClusterBlock | undefined): string[] {
  if (!cl?.leader) return [];
  return [cl.leader, ...(cl.replicas ?? []).map((r) => r.name).sort()];
}

/**
 * Poll `subject` (STREAM.INFO or CONSUMER.INFO) until it reports a leader and exactly `replicas`
 * servers, all current and online, none of them in `not`. Returns the info.
 */
export async function waitSettled(nc: NatsConnection, subject: string, replicas: number, not: string[] = [], timeoutMs = 45_000): Promise<InfoResp> {
  let last: InfoResp | undefined;
  try {
    return await pollUntil(async () => {
      const r = await apiRequest<InfoResp>(nc, subject, undefined, { settleMs: 0, waitMs: 2000 });
      last = r.first;
      const cl = last?.cluster;
      if (!last || last.error || !cl?.leader) return undefined;
      const reps = cl.replicas ?? [];
      if (reps.length !== replicas - 1 || !reps.every((x) => x.current && !x.offline)) return undefined;
      if (serversOf(cl).some((s) => not.includes(s))) return undefined;
      return last;
    }, `${subject} on ${replicas} current servers${not.length ? ` without ${not.join(',')}` : ''}`, timeoutMs, 100);
  } catch (e) {
    throw new Error(`${(e as Error).message}; last: ${JSON.stringify(last)}`);
  }
}

/** Every message 1..count of the stream, read through STREAM.MSG.GET, equals `m<seq>`. */
export async function assertAllReadable(nc: NatsConnection, stream: string, count: number): Promise<void> {
  for (let seq = 1; seq <= count; seq++) {
    const r = await apiRequest<{ message?: { seq: number; data?: string }; error?: unknown }>(
      nc, `$JS.API.STREAM.MSG.GET.${stream}`, { seq }, { settleMs: 0 });
    assert.equal(r.first?.error, undefined, `message ${seq}: ${JSON.stringify(r.first)}`);
    assert.equal(r.first?.message?.seq, seq);
    assert.equal(Buffer.from(r.first?.message?.data ?? '', 'base64').toString(), `m${seq}`, `message ${seq}`);
  }
}

/** Publish messages `from..to` (payload `m<seq>`), each acknowledged at its sequence. */
export async function publishAcked(nc: NatsConnection, subject: string, from: number, to: number): Promise<void> {
  const js = jetstream(nc, { timeout: 10_000 });
  for (let seq = from; seq <= to; seq++) {
    const pa = await js.publish(subject, `m${seq}`);
    assert.equal(pa.seq, seq);
  }
}

/**
 * Fetch the durable's next `n` messages and acknowledge each (waiting for the ack's reply):
 * they must be exactly `m<from>`, `m<from+1>`, ... (nothing acknowledged earlier comes again).
 */
export async function consumeAcked(nc: NatsConnection, stream: string, durable: string, from: number, n: number): Promise<void> {
  const js = jetstream(nc, { timeout: 10_000 });
  for (let i = 0; i < n; i++) {
    const m = await pollUntil(async () => {
      const c = await js.consumers.get(stream, durable);
      return (await c.next({ expires: 2000 })) ?? undefined;
    }, `message ${from + i} from ${stream} > ${durable}`, 30_000, 100);
    assert.equal(m.string(), `m${from + i}`);
    assert.equal(m.info.streamSequence, from + i);
    await m.ackAck();
  }
}
