// /healthz on clustered JetStream (nats-server 2.9.10 healthz: isStreamCurrent /
// isConsumerCurrent): 200 while every stream and consumer group assigned to the server is
// current; a replica whose group is not current (here its raft node stopped) makes it 503 with
// nats-server's text, while js-enabled-only and js-server-only still answer 200.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';
import { healthz } from '../../src/monitor/healthz.js';

const sg = (n: JsNode, s: string) => metaOf(n).streamGroups.get('$G', s);
const cg = (n: JsNode, s: string, c: string) => sg(n, s)?.consumers.get(c);

test('repl: healthz checks the stream and consumer groups assigned to the server', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'H', subjects: ['h.>'], num_replicas: 3 });
    await jsm.consumers.add('H', { durable_name: 'D', ack_policy: AckPolicy.Explicit });
    await waitFor(() => nodes.every((n) => cg(n, 'H', 'D')?.node.isCurrent() === true && sg(n, 'H')?.node.isCurrent() === true), 'groups current everywhere', 20_000);
    await waitFor(() => nodes.every((n) => healthz(n.h.server, {}).status_code === 200), 'healthz 200 on every server', 20_000);
    assert.deepEqual(healthz(nodes[0]!.h.server, {}), { status: 'ok', status_code: 200 });
    assert.equal(healthz(nodes[0]!.h.server, { account: '$G', stream: 'H', consumer: 'D' }).status_code, 200);

    // A consumer replica that is not current.
    const f = nodes.find((n) => !cg(n, 'H', 'D')!.isLeader && !sg(n, 'H')!.isLeader) ?? nodes.find((n) => !cg(n, 'H', 'D')!.isLeader)!;
    cg(f, 'H', 'D')!.node.stop();
    assert.deepEqual(healthz(f.h.server, {}), {
      status: 'unavailable', status_code: 503, error: "JetStream consumer '$G > H > D' is not current",
    });
    assert.deepEqual(healthz(f.h.server, { details: true }).errors,
      [{ type: 'CONSUMER', account: '$G', stream: 'H', consumer: 'D', error: "JetStream consumer '$G > H > D' is not current" }]);
    assert.equal(healthz(f.h.server, { jsEnabledOnly: true }).status_code, 200);
    assert.equal(healthz(f.h.server, { jsServerOnly: true }).status_code, 200);
    assert.equal(healthz(f.h.server, { jsMetaOnly: true }).status_code, 200);
    // The other servers' replicas are fine.
    for (const n of nodes) if (n !== f) assert.equal(healthz(n.h.server, {}).status_code, 200, n.name);

    // A stream replica that is not current is reported first (its consumers are not looked at).
    sg(f, 'H')!.node.stop();
    assert.deepEqual(healthz(f.h.server, {}), {
      status: 'unavailable', status_code: 503, error: "JetStream stream '$G > H' is not current",
    });
    assert.equal(healthz(f.h.server, { account: '$G', stream: 'H' }).error, "JetStream stream '$G > H' is not current");
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
