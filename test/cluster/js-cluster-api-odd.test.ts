// Odd requests against a cluster (bench/attack/api-fuzz.ts). First: odd bodies for a replicated
// stream's own API (seed 5):
// a STREAM.PURGE body nested 5,000 levels deep parsed, then overflowed the stack while the purge
// entry was encoded: the request was never answered (an [ERR] with a stack in the log). Now it
// gets one error answer, nothing is proposed, and the stream carries on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, startJsCluster, stopAll } from './js-meta-own-helpers.js';
import { replicaMsgs, waitPlacement } from './js-repl-helpers.js';

test('repl: a deeply nested STREAM.PURGE body gets one error answer and the stream carries on', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'PB', subjects: ['pb.>'], num_replicas: 3 });
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 3; i++) await js.publish(`pb.${i}`, `m${i}`);
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const r = await ncs[2]!.request('$JS.API.STREAM.PURGE.PB', deep, { timeout: 10_000 });
    const j = r.json<{ error?: { code: number; err_code: number } }>();
    assert.equal(j.error?.err_code, 10025, JSON.stringify(j));
    assert.equal(j.error?.code, 400);
    assert.equal((await js.publish('pb.4', 'm4')).seq, 4, 'the stream takes the next message');
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'PB').length === 4), 'every replica has the 4 messages, nothing purged');
  } finally {
    await stopAll(nodes, ncs, root);
  }
});

test('cluster: STREAM and CONSUMER LEADER.STEPDOWN of R1 assets answer success, as nats-server 2.9.10', async () => {
  // Found comparing api-fuzz transcripts with nats-server: the holder's standalone handler
  // answered 503 10010 "JetStream clustering support required" inside a cluster.
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'R1S', subjects: ['r1s.>'], num_replicas: 1 });
    await jsm.consumers.add('R1S', { durable_name: 'D', ack_policy: AckPolicy.Explicit });
    for (const nc of ncs) {
      const s = (await nc.request('$JS.API.STREAM.LEADER.STEPDOWN.R1S', '', { timeout: 10_000 })).json<Record<string, unknown>>();
      assert.deepEqual(s, { type: 'io.nats.jetstream.api.v1.stream_leader_stepdown_response', success: true });
      const c = (await nc.request('$JS.API.CONSUMER.LEADER.STEPDOWN.R1S.D', '', { timeout: 10_000 })).json<Record<string, unknown>>();
      assert.deepEqual(c, { type: 'io.nats.jetstream.api.v1.consumer_leader_stepdown_response', success: true });
    }
    assert.equal((await jetstream(ncs[1]!).publish('r1s.1', 'x')).seq, 1);
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
