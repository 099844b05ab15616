// Clustered STREAM.LIST / CONSUMER.LIST with live state (2.9.10's meta leader asks each group leader
// on $JSC.SI / $JSC.CI, src/jetstream/cluster/list-collect.ts): on 3 tsnats and on 3 nats-server an
// R3 stream with messages and a durable R3 consumer are listed with their leader and state, through
// every server, once. On a mixed cluster with a tsnats meta leader and a nats-server stream leader,
// CONSUMER.LIST is answered (once) too. Skipped, saying so, where nats-server is missing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { JsCluster, apiRequest, pollUntil, skipReason, type Impl } from './js-cluster-harness.js';
import { MIXES, createStream, leadMeta, leadStream, type ClusterBlock, startMixed } from './js-mixed-helpers.js';

interface ListReply {
  type: string;
  error?: unknown;
  total: number;
  missing?: string[];
  streams?: { config: { name: string }; cluster?: ClusterBlock; state?: { messages: number; consumer_count: number } }[];
  consumers?: { name: string; stream_name: string; cluster?: ClusterBlock; num_pending?: number }[];
}

/** The list through every server: exactly one reply each, and `ok` holds for it (polled while groups settle). */
async function listEverywhere(c: JsCluster, ncs: NatsConnection[], subject: string, ok: (r: ListReply) => boolean): Promise<ListReply> {
  let last = '';
  return pollUntil(async () => {
    let first: ListReply | undefined;
    for (const n of c.nodes) {
      const r = await apiRequest<ListReply>(ncs[n.index]!, subject, undefined, { waitMs: 8000 });
      last = `${n.name} (${n.impl}): ${JSON.stringify(r.all)}`;
      assert.ok(r.all.length <= 1, `at most one reply to ${subject} via ${last}`);
      if (!r.first || !ok(r.first)) return undefined;
      first ??= r.first;
    }
    return first;
  }, `${subject} with live state through every server`, 60_000, 250).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\nlast: ${last}`);
  });
}

async function setup(c: JsCluster, ncs: NatsConnection[], name: string): Promise<void> {
  const r = await createStream(ncs[0]!, { name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 3, storage: 'file' });
  assert.equal(r.first?.error, undefined, JSON.stringify(r.first));
  const js = jetstream(ncs[0]!);
  for (let i = 0; i < 5; i++) await js.publish(`${name.toLowerCase()}.x`, `m${i}`);
  const cr = await pollUntil(async () => {
    const x = await apiRequest<{ error?: { err_code: number }; name?: string }>(ncs[0]!,
      `$JS.API.CONSUMER.CREATE.${name}.D1`, { stream_name: name, config: { durable_name: 'D1', ack_policy: 'explicit' } });
    return x.first && !x.first.error ? x : undefined;
  }, `CONSUMER.CREATE ${name}.D1`, 30_000, 250);
  assert.equal(cr.first!.name, 'D1');
}

const streamListed = (name: string) => (r: ListReply): boolean => {
  const s = r.streams?.find((x) => x.config.name === name);
  return !r.error && !r.missing && !!s?.cluster?.leader && s.state?.messages === 5 && s.state.consumer_count === 1;
};
const consumerListed = (r: ListReply): boolean =>
  !r.error && !r.missing && r.total === 1 && r.consumers?.length === 1 && r.consumers[0]!.name === 'D1'
  && !!r.consumers[0]!.cluster?.leader && r.consumers[0]!.num_pending === 5;

for (const impl of ['tsnats', 'nats-server'] as Impl[]) {
  describe(`clustered lists with live state: 3 ${impl}`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    before(async () => {
      c = await JsCluster.start({ impl, size: 3 });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
    });
    after(async () => {
      await c?.shutdown();
    });

    test('STREAM.LIST shows the R3 stream\'s leader and messages; CONSUMER.LIST its consumer\'s leader and pending', async () => {
      await setup(c, ncs, 'LISTED');
      const sl = await listEverywhere(c, ncs, '$JS.API.STREAM.LIST', streamListed('LISTED'));
      assert.equal(sl.type, 'io.nats.jetstream.api.v1.stream_list_response');
      assert.equal(sl.total, 1);
      const cl = await listEverywhere(c, ncs, '$JS.API.CONSUMER.LIST.LISTED', consumerListed);
      assert.equal(cl.type, 'io.nats.jetstream.api.v1.consumer_list_response');
      assert.equal(cl.consumers![0]!.stream_name, 'LISTED');
    });
  });
}

const mix = MIXES[1]!;
describe(`clustered lists, tsnats meta leader, nats-server stream leader: ${mix.label}`, { skip: skipReason('nats-server') }, () => {
  let c: JsCluster;
  let ncs: NatsConnection[];
  let sys: NatsConnection;
  before(async () => {
    ({ c, ncs, sys } = await startMixed(mix.impls));
  });
  after(async () => {
    await c?.shutdown();
  });

  test('STREAM.LIST and CONSUMER.LIST are answered once with the leaders\' live state', async () => {
    await leadMeta(c, sys, 'tsnats');
    await setup(c, ncs, 'MIXED');
    await leadStream(c, ncs, 'MIXED', c.nodes.find((n) => n.impl === 'nats-server')!);
    const meta = await c.waitMetaLeader();
    assert.equal(meta.impl, 'tsnats', 'a tsnats meta leader gathers the lists');
    await listEverywhere(c, ncs, '$JS.API.STREAM.LIST', streamListed('MIXED'));
    await listEverywhere(c, ncs, '$JS.API.CONSUMER.LIST.MIXED', consumerListed);
  });
});
