// A pull request that reaches an R3 consumer's leader over a route: the leader writes the batch to
// the route in parts while it still reads the rest (Consumer.run calls ConsumerHost.flushRoutes every
// 128 deliveries), so the requester's server forwards the first messages instead of waiting for one
// write at the end of the run. The client still gets every message once, in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, requestAll, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';

const cg = (n: JsNode) => metaOf(n).streamGroups.get('$G', 'S')?.consumers.get('D');

test('repl: a batch pulled through another server leaves the consumer leader in parts, every message once', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'S', subjects: ['s.>'], num_replicas: 3 });
    const js = jetstream(ncs[0]!);
    const total = 300;
    for (let i = 0; i < total; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => js.publish(`s.${(i + k) % 7}`, `m${i + k + 1}`)));
    }
    const r = await requestAll(ncs[0]!, nodes, '$JS.API.CONSUMER.CREATE.S.D', JSON.stringify({
      stream_name: 'S', config: { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 },
    }));
    assert.equal(r.length, 1, r.join('\n'));
    await waitFor(() => nodes.filter((n) => cg(n)?.isLeader).length === 1, 'a consumer leader');
    const li = nodes.findIndex((n) => cg(n)?.isLeader);
    const leader = nodes[li]!;

    // What the leader had delivered each time its routes were written out.
    const deliveredAtFlush: number[] = [];
    const cluster = metaOf(leader).cluster;
    const flush = cluster.flushRoutes.bind(cluster);
    cluster.flushRoutes = () => {
      deliveredAtFlush.push(cg(leader)!.state().delivered.consumerSeq);
      flush();
    };

    // The client is on another server: the pull request and the batch cross a route.
    const c = await jetstream(ncs[(li + 1) % nodes.length]!).consumers.get('S', 'D');
    const got: number[] = [];
    for await (const m of await c.fetch({ max_messages: total, expires: 10_000 })) {
      got.push(m.seq);
      m.ack();
      if (got.length === total) break;
    }
    assert.deepEqual(got, Array.from({ length: total }, (_, i) => i + 1));
    for (const n of [128, 256]) assert.ok(deliveredAtFlush.includes(n), `routes written after delivery ${n}: ${deliveredAtFlush.join(',')}`);
    await waitFor(() => nodes.every((n) => {
      const st = cg(n)?.state();
      return st !== undefined && st.ackFloor.streamSeq === total && st.pending.size === 0;
    }), 'every replica has every ack');
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
