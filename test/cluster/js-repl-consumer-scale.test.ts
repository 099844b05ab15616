// A consumer update that changes the consumer's replica count keeps its group and so its delivery
// and ack state, as nats-server 2.9.10's jsClusteredConsumerRequest does: the assignment keeps the
// group's name and only its peers change (scale-down keeps the current leader, scale-up adds peers
// of the stream); the group's servers then adjust the raft membership. It used to get a new group:
// every acknowledged message was delivered again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, requestAll, settle, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { fetchOnce, waitPlacement } from './js-repl-helpers.js';

const CONFIG = { durable_name: 'D', ack_policy: 'explicit', ack_wait: 60_000_000_000 };

/** The consumer's assignment as every server has it (asserted identical). */
function assignment(nodes: JsNode[]): { name: string; peers: string[] } {
  const groups = nodes.map((n) => metaOf(n).state.stream('$G', 'SC')!.consumers.get('D')!.group);
  for (const g of groups) assert.deepEqual(g, groups[0], 'the same consumer assignment on every server');
  return groups[0]!;
}

/** Each replica of the consumer holds the ack floor `floor` (the servers it runs on, and only those). */
async function replicasAt(nodes: JsNode[], peers: string[], floor: number): Promise<void> {
  await waitFor(() => nodes.every((n) => {
    const cg = metaOf(n).streamGroups.get('$G', 'SC')?.consumers.get('D');
    if (!peers.includes(metaOf(n).id)) return cg === undefined;
    return cg !== undefined && cg.state().ackFloor.streamSeq === floor && [...cg.node.peers()].sort().join() === [...peers].sort().join();
  }), `every replica of D at ack floor ${floor}, its raft peers those assigned`, 30_000);
}

/** CONSUMER.CREATE of D with `replicas`: exactly one answer, the state kept, the group kept. */
async function scale(nc: NatsConnection, jsm: JetStreamManager, nodes: JsNode[], replicas: number, groupName: string, floor: number): Promise<string[]> {
  const replies = await requestAll(nc, nodes, '$JS.API.CONSUMER.CREATE.SC.D',
    JSON.stringify({ stream_name: 'SC', config: { ...CONFIG, num_replicas: replicas } }));
  assert.equal(replies.length, 1, `one answer to the update to R${replicas}: ${JSON.stringify(replies)}`);
  const info = JSON.parse(replies[0]!) as { error?: unknown; config: { num_replicas: number }; ack_floor: { stream_seq: number }; num_pending: number };
  assert.equal(info.error, undefined, replies[0]);
  assert.equal(info.config.num_replicas, replicas);
  assert.equal(info.ack_floor.stream_seq, floor, `R${replicas}: ack floor kept`);
  assert.equal(info.num_pending, 10 - floor, `R${replicas}: num_pending kept`);
  const g = assignment(nodes);
  assert.equal(g.name, groupName, 'the group is kept');
  assert.equal(g.peers.length, replicas);
  await replicasAt(nodes, g.peers, floor);
  const after = await jsm.consumers.info('SC', 'D');
  assert.equal(after.ack_floor.stream_seq, floor);
  assert.equal(after.num_pending, 10 - floor);
  assert.equal(after.num_ack_pending, 0);
  return g.peers;
}

/**
 * `servers` servers, a stream of `streamReplicas`, durable D of `steps[0]` replicas with five of
 * ten messages acknowledged, then updated to each replica count of `steps` in turn.
 */
async function scenario(servers: number, streamReplicas: number, steps: number[]): Promise<void> {
  const { nodes, root } = await startJsCluster(servers);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const nc = ncs[0]!;
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'SC', subjects: ['sc.>'], num_replicas: streamReplicas });
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 10; i++) await js.publish('sc.x', `m${i}`);
    await jsm.consumers.add('SC', { ...CONFIG, ack_policy: AckPolicy.Explicit, num_replicas: steps[0]! });
    await settle(nodes);
    const group = assignment(nodes);
    assert.equal(group.peers.length, steps[0]);

    // Deliver and acknowledge five of the ten.
    const c = await jetstream(ncs[2]!).consumers.get('SC', 'D');
    const first: number[] = [];
    await waitFor(async () => {
      await fetchOnce(c, { max_messages: 5 - first.length, expires: 2000 }, async (m) => {
        first.push(m.seq);
        await m.ackAck();
      });
      return first.length >= 5;
    }, 'five messages delivered and acknowledged', 30_000);
    assert.deepEqual(first, [1, 2, 3, 4, 5]);
    await replicasAt(nodes, group.peers, 5);

    let peers = group.peers;
    for (const replicas of steps.slice(1)) {
      const leader = (await jsm.consumers.info('SC', 'D')).cluster?.leader;
      const leaderId = metaOf(nodes.find((n) => n.name === leader)!).id;
      const next = await scale(nc, jsm, nodes, replicas, group.name, 5);
      if (replicas < peers.length) {
        assert.ok(next.includes(leaderId), `R${peers.length} -> R${replicas} keeps the leader ${leader}`);
        assert.ok(next.every((p) => peers.includes(p)), 'scale-down keeps only replicas');
      } else {
        assert.ok(peers.every((p) => next.includes(p)), `R${peers.length} -> R${replicas} keeps every replica`);
      }
      peers = next;
    }

    // Only the five unacknowledged messages are delivered, and their acks reach every replica.
    const rest: number[] = [];
    await waitFor(async () => {
      await fetchOnce(c, { max_messages: 10, expires: 2000 }, async (m) => {
        rest.push(m.seq);
        await m.ackAck();
      });
      return rest.length >= 5;
    }, 'the five unacknowledged messages delivered', 30_000);
    assert.deepEqual(rest, [6, 7, 8, 9, 10]);
    await replicasAt(nodes, peers, 10);
    const info = await jsm.consumers.info('SC', 'D');
    assert.equal(info.num_pending, 0);
    assert.equal(info.num_redelivered, 0);
    assert.equal(info.delivered.stream_seq, 10);
  } finally {
    await stopAll(nodes, ncs, root);
  }
}

test('repl: an R3 consumer of an R3 stream scaled to R1 and back to R3 keeps its group and ack state', async () => {
  await scenario(3, 3, [3, 1, 3]);
});

test('repl: a consumer of an R5 stream scaled R3 -> R1 -> R3 -> R5 -> R3 keeps its group and ack state', async () => {
  await scenario(5, 5, [3, 1, 3, 5, 3]);
});
