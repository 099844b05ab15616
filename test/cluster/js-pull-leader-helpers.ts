// Shared by the tests of pull requests waiting on an R3 consumer's leader across a leader change
// (js-repl-pull-leader*.test.ts): stream P, durable pull consumer D.
import assert from 'node:assert/strict';
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { apiRequest, pollUntil } from './js-cluster-harness.js';

export interface PullInfo { num_waiting?: number; cluster?: { leader?: string }; error?: unknown }

export const PULL_NEXT = '$JS.API.CONSUMER.MSG.NEXT.P.D';

export async function consumerInfo(nc: NatsConnection): Promise<PullInfo | undefined> {
  return (await apiRequest<PullInfo>(nc, '$JS.API.CONSUMER.INFO.P.D', undefined, { settleMs: 0, waitMs: 2000 })).first;
}

/** R3 stream P and R3 durable pull consumer D (explicit acks); the consumer leader's server name. */
export async function createPD(nc: NatsConnection): Promise<string> {
  const sc = await apiRequest<PullInfo>(nc, '$JS.API.STREAM.CREATE.P', { name: 'P', subjects: ['p.>'], num_replicas: 3 });
  assert.equal(sc.first?.error, undefined, JSON.stringify(sc.first));
  return pollUntil(async () => {
    const r = await apiRequest<PullInfo>(nc, '$JS.API.CONSUMER.CREATE.P.D',
      { stream_name: 'P', config: { durable_name: 'D', ack_policy: 'explicit' } }, { settleMs: 0 });
    return r.first?.cluster?.leader;
  }, 'an R3 consumer with a leader', 30_000, 200);
}

/** The request's first status came (well before its 60 s expiry) and is "409 Leadership Change". */
export async function assertLeadershipChange(raw: Msg[]): Promise<void> {
  await pollUntil(() => (raw.length > 0 ? true : undefined), 'a status on the raw request', 30_000, 20);
  assert.equal(raw[0]!.headers?.code, 409);
  assert.equal(raw[0]!.headers?.description, 'Leadership Change');
  assert.equal(raw[0]!.data.length, 0);
}

/** CONSUMER.INFO once a leader other than `oldLeader` answers it (or, with `same`, `oldLeader` again). */
export async function infoFromLeader(nc: NatsConnection, oldLeader: string, same = false): Promise<PullInfo> {
  return pollUntil(async () => {
    const i = await consumerInfo(nc);
    const l = i?.cluster?.leader;
    return l && (l === oldLeader) === same ? i : undefined;
  }, same ? 'the old leader leading again' : 'the new leader', 30_000, 100);
}
