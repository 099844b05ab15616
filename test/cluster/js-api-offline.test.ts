// Who answers STREAM.INFO / CONSUMER.INFO when no server of the asset is up (nats-server 2.9.10
// jsStreamInfoRequest / jsConsumerInfoRequest, allPeersOffline): the stream's only server is gone,
// so the meta leader answers 10118 "stream is offline" / 10119 "consumer is offline"; once the
// server the client is on is alone (no meta leader) it answers 10008. tsnats answered nothing and
// the client timed out. Exactly one reply each time, the same bodies from both implementations.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { JsCluster, apiRequest, pollUntil, skipReason, IMPLS, type Impl } from './js-cluster-harness.js';
import { createStream, type ApiError } from './js-mixed-helpers.js';

type Reply = { type?: string; error?: ApiError } & Record<string, unknown>;

/** The request sent until its (single) answer is an error with `code`; returns every reply to that attempt. */
async function answeredWith(nc: Parameters<typeof apiRequest>[0], subject: string, code: number): Promise<Reply[]> {
  let last = '';
  return pollUntil(async () => {
    const r = await apiRequest<Reply>(nc, subject, undefined, { waitMs: 3000 });
    last = JSON.stringify(r.all);
    return r.first?.error?.err_code === code ? r.all : undefined;
  }, `${subject} answered with ${code}`, 45_000, 200).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; last replies ${last}`);
  });
}

async function scenario(t: TestContext, impl: Impl): Promise<Reply[][]> {
  const c = await JsCluster.start({ impl, size: 3, tags: [['node:n1'], ['node:n2'], ['node:n3']] });
  t.after(() => c.shutdown());
  const [n1, n2, n3] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0], typeof c.nodes[0]];
  const nc = await c.connect(n1);
  const s = await createStream(nc, { name: 'S2', subjects: ['s2'], num_replicas: 1, placement: { tags: ['node:n2'] } });
  assert.equal(s.first?.error, undefined, JSON.stringify(s.first));
  const d = await apiRequest<Reply>(nc, '$JS.API.CONSUMER.DURABLE.CREATE.S2.D', { stream_name: 'S2', config: { durable_name: 'D', ack_policy: 'explicit' } });
  assert.equal(d.first?.error, undefined, JSON.stringify(d.first));
  const live = await apiRequest<Reply>(nc, '$JS.API.STREAM.INFO.S2');
  assert.equal(live.all.length, 1);
  assert.equal(live.first!.error, undefined);

  // The stream's server goes away; the meta group keeps a leader.
  await c.stop(n2);
  const streamOffline = await answeredWith(nc, '$JS.API.STREAM.INFO.S2', 10118);
  const consumerOffline = await answeredWith(nc, '$JS.API.CONSUMER.INFO.S2.D', 10119);
  // n1 alone: no meta leader either.
  await c.stop(n3);
  const unavailable = await answeredWith(nc, '$JS.API.STREAM.INFO.S2', 10008);
  for (const r of [streamOffline, consumerOffline, unavailable]) assert.equal(r.length, 1, `${impl}: one reply: ${JSON.stringify(r)}`);
  return [streamOffline, consumerOffline, unavailable];
}

const results = new Map<Impl, Reply[][]>();
for (const impl of IMPLS) {
  test(`${impl}: STREAM.INFO / CONSUMER.INFO with the stream's server down get one error reply`, { skip: skipReason(impl) }, async (t) => {
    const r = await scenario(t, impl);
    assert.deepEqual(r.map((x) => x[0]!.error), [
      { code: 500, err_code: 10118, description: 'stream is offline' },
      { code: 500, err_code: 10119, description: 'consumer is offline' },
      { code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' },
    ]);
    results.set(impl, r);
  });
}

test('the same replies from both implementations', { skip: skipReason('nats-server') ?? skipReason('tsnats') }, () => {
  assert.ok(results.has('nats-server') && results.has('tsnats'), 'both scenarios ran');
  assert.deepEqual(results.get('tsnats'), results.get('nats-server'));
});
