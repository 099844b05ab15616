// Interest and workqueue retention on R3 streams with R3 consumers (nats-server
// processReplicatedAck → stream ackMsg on every replica): an acknowledged message leaves every
// replica's copy of the stream, not only the consumer leader's; under interest retention only
// once every consumer acknowledged it (AckAll acknowledging a whole range) or the consumers
// that still needed it were deleted; the counts stay right after stream and consumer leader changes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, RetentionPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { waitFor } from './cluster-helpers.js';
import { connectAll, jsOf, metaOf, requestAll, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';

const j = (s: string): Record<string, any> => JSON.parse(s) as Record<string, any>;
const cg = (n: JsNode, s: string, c: string) => metaOf(n).streamGroups.get('$G', s)?.consumers.get(c);

/** msgs/first/last of server n's own copy of the stream. */
function replicaState(n: JsNode, stream: string): string {
  const st = jsOf(n).jsAccount('$G')?.streams.get(stream)?.store.fastState();
  return st ? `${st.msgs}/${st.firstSeq}/${st.lastSeq}` : 'none';
}

async function waitReplicas(nodes: JsNode[], stream: string, want: string): Promise<void> {
  await waitFor(() => nodes.every((n) => replicaState(n, stream) === want),
    `${stream} = ${want} on every replica (${nodes.map((n) => replicaState(n, stream)).join(' ')})`, 20_000);
}

async function streamInfo(nc: NatsConnection, nodes: JsNode[], stream: string): Promise<Record<string, any>> {
  const r = await requestAll(nc, nodes, `$JS.API.STREAM.INFO.${stream}`);
  assert.equal(r.length, 1, r.join('\n'));
  return j(r[0]!);
}

async function stepdown(nc: NatsConnection, nodes: JsNode[], subject: string, isLeader: (n: JsNode) => boolean): Promise<void> {
  const old = nodes.find(isLeader);
  const r = await requestAll(nc, nodes, subject);
  assert.equal(r.length, 1, r.join('\n'));
  assert.equal(j(r[0]!).success, true, r[0]);
  await waitFor(() => { const l = nodes.find(isLeader); return l !== undefined && l !== old; }, `a new leader after ${subject}`, 20_000);
}

test('repl: workqueue and interest retention remove the same messages on every replica', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    const js = jetstream(ncs[1]!);

    // ---- workqueue: each ack removes the message everywhere.
    await jsm.streams.add({ name: 'WQ', subjects: ['wq.>'], num_replicas: 3, retention: RetentionPolicy.Workqueue });
    for (let i = 1; i <= 50; i++) await js.publish('wq.x', `w${i}`);
    await jsm.consumers.add('WQ', { durable_name: 'W', ack_policy: AckPolicy.Explicit, ack_wait: 1_000_000_000 });
    await waitFor(() => nodes.every((n) => cg(n, 'WQ', 'W') !== undefined), 'W on every server');
    const w = await jetstream(ncs[2]!).consumers.get('WQ', 'W');
    let seen = 0;
    for await (const m of await w.fetch({ max_messages: 50, expires: 5000 })) {
      seen++;
      if (m.seq <= 30) await m.ackAck();
    }
    assert.equal(seen, 50);
    await waitReplicas(nodes, 'WQ', '20/31/50');
    assert.equal((await streamInfo(ncs[0]!, nodes, 'WQ')).state.messages, 20);

    // Leader changes of the stream and the consumer: the count holds and the rest is consumed once.
    await stepdown(ncs[0]!, nodes, '$JS.API.STREAM.LEADER.STEPDOWN.WQ', (n) => metaOf(n).streamGroups.get('$G', 'WQ')?.isLeader === true);
    await stepdown(ncs[0]!, nodes, '$JS.API.CONSUMER.LEADER.STEPDOWN.WQ.W', (n) => cg(n, 'WQ', 'W')?.isLeader === true);
    const si = await streamInfo(ncs[1]!, nodes, 'WQ');
    assert.equal(si.state.messages, 20);
    assert.equal(si.state.first_seq, 31);
    await js.publish('wq.x', 'w51');
    const rest = new Set<number>();
    await waitFor(async () => {
      for await (const m of await w.fetch({ max_messages: 21, expires: 1500 })) {
        assert.ok(m.seq > 30, `acknowledged ${m.seq} delivered again`);
        rest.add(m.seq);
        await m.ackAck();
      }
      return rest.size === 21;
    }, 'messages 31..51 after the leader changes', 30_000);
    await waitReplicas(nodes, 'WQ', '0/52/51');

    // ---- interest with one ack-none consumer: the delivery is the ack, on every replica.
    await jsm.streams.add({ name: 'WN', subjects: ['wn.>'], num_replicas: 3, retention: RetentionPolicy.Interest });
    await jsm.consumers.add('WN', { durable_name: 'N', ack_policy: AckPolicy.None });
    await waitFor(() => nodes.every((n) => cg(n, 'WN', 'N') !== undefined), 'N on every server');
    for (let i = 1; i <= 10; i++) await js.publish('wn.x', `n${i}`);
    await waitReplicas(nodes, 'WN', '10/1/10');
    const wn = await jetstream(ncs[0]!).consumers.get('WN', 'N');
    let wnSeen = 0;
    for await (const m of await wn.fetch({ max_messages: 6, expires: 5000 })) {
      assert.ok(m.seq <= 6);
      wnSeen++;
    }
    assert.equal(wnSeen, 6);
    await waitReplicas(nodes, 'WN', '4/7/10');

    // ---- interest: removed once every consumer acknowledged (B with AckAll acknowledges ranges).
    await jsm.streams.add({ name: 'IN', subjects: ['in.>'], num_replicas: 3, retention: RetentionPolicy.Interest });
    await jsm.consumers.add('IN', { durable_name: 'A', ack_policy: AckPolicy.Explicit });
    await jsm.consumers.add('IN', { durable_name: 'B', ack_policy: AckPolicy.All });
    await waitFor(() => nodes.every((n) => cg(n, 'IN', 'A') !== undefined && cg(n, 'IN', 'B') !== undefined), 'A and B on every server');
    for (let i = 1; i <= 20; i++) await js.publish(`in.${i % 2}`, `i${i}`);
    await waitReplicas(nodes, 'IN', '20/1/20');
    const a = await jetstream(ncs[0]!).consumers.get('IN', 'A');
    for await (const m of await a.fetch({ max_messages: 20, expires: 5000 })) await m.ackAck();
    await waitFor(() => nodes.every((n) => cg(n, 'IN', 'A')?.state().ackFloor.streamSeq === 20), 'A acknowledged everything on every replica');
    // B still needs all of them.
    assert.deepEqual(nodes.map((n) => replicaState(n, 'IN')), ['20/1/20', '20/1/20', '20/1/20']);
    const b = await jetstream(ncs[2]!).consumers.get('IN', 'B');
    for await (const m of await b.fetch({ max_messages: 15, expires: 5000 })) {
      if (m.seq === 10) await m.ackAck();
    }
    await waitReplicas(nodes, 'IN', '10/11/20');
    await stepdown(ncs[1]!, nodes, '$JS.API.STREAM.LEADER.STEPDOWN.IN', (n) => metaOf(n).streamGroups.get('$G', 'IN')?.isLeader === true);
    assert.equal((await streamInfo(ncs[1]!, nodes, 'IN')).state.messages, 10);
    await stepdown(ncs[1]!, nodes, '$JS.API.CONSUMER.LEADER.STEPDOWN.IN.B', (n) => cg(n, 'IN', 'B')?.isLeader === true);
    await waitFor(async () => {
      for await (const m of await b.fetch({ max_messages: 10, expires: 1500 })) {
        if (m.seq === 20) await m.ackAck();
      }
      return nodes.every((n) => replicaState(n, 'IN') === '0/21/20');
    }, 'B acknowledges the rest after its leader changed', 30_000);

    // Deleting a consumer of an interest stream removes what only it still needed, on every replica.
    for (let i = 21; i <= 25; i++) await js.publish(`in.${i % 2}`, `i${i}`);
    for await (const m of await a.fetch({ max_messages: 5, expires: 5000 })) await m.ackAck();
    await waitFor(() => nodes.every((n) => cg(n, 'IN', 'A')?.state().ackFloor.streamSeq === 25), 'A acknowledged 21..25 on every replica');
    assert.deepEqual(nodes.map((n) => replicaState(n, 'IN')), ['5/21/25', '5/21/25', '5/21/25']);
    assert.equal(await jsm.consumers.delete('IN', 'B'), true);
    await waitReplicas(nodes, 'IN', '0/26/25');
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
