// Where a new consumer's group first leads, as nats-server 2.9.10 places it
// (jsClusteredConsumerRequest: createGroupForConsumer, then setPreferred): the meta leader records
// a random preferred peer in the assignment and that peer campaigns at once, so the consumers of
// one R3 stream are led from different servers, not all from the stream leader. Ephemerals on a
// limits stream run on their preferred peer alone. Every consumer delivers and takes acks
// wherever it leads. An update keeps the group and the consumer's state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, settle, startJsCluster, stopAll } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';

const CONSUMERS = 12;

test('repl: consumer groups are placed with a random preferred leader, recorded in the assignment; it leads, delivers, and an update keeps the group', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'CP', subjects: ['cp.>'], num_replicas: 3 });
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 10; i++) await js.publish('cp.x', `m${i}`);
    const names = Array.from({ length: CONSUMERS }, (_, i) => `D${i}`);
    for (const d of names) await jsm.consumers.add('CP', { durable_name: d, ack_policy: AckPolicy.Explicit });
    const eph = await jsm.consumers.add('CP', { ack_policy: AckPolicy.Explicit });
    await settle(nodes);

    const serverOf = (id: string): string => nodes.find((n) => metaOf(n).id === id)!.name;
    const streamPeers = metaOf(nodes[0]!).state.stream('$G', 'CP')!.sa.group.peers;
    const preferred = new Map<string, string>();
    for (const d of names) {
      const groups = nodes.map((n) => metaOf(n).state.stream('$G', 'CP')!.consumers.get(d)!.group);
      const g = groups[0]!;
      assert.deepEqual([...g.peers].sort(), [...streamPeers].sort(), `${d} on the stream's peers`);
      assert.ok(g.preferred !== undefined && g.peers.includes(g.preferred), `${d} has a preferred peer: ${JSON.stringify(g)}`);
      for (const other of groups) assert.deepEqual(other, g, `${d}: the same assignment on every server`);
      preferred.set(d, serverOf(g.preferred));
    }
    // Random among three peers: twelve consumers all placed on one server would be a 1 in 177,147 chance.
    assert.ok(new Set(preferred.values()).size > 1, `preferred peers spread: ${JSON.stringify([...preferred])}`);
    const ephGroup = metaOf(nodes[0]!).state.stream('$G', 'CP')!.consumers.get(eph.name)!.group;
    assert.deepEqual(ephGroup.peers, [ephGroup.preferred], 'an ephemeral on a limits stream runs on its preferred peer alone');

    // Leaders as CONSUMER.INFO reports them (the preferred peer campaigns first; which one won
    // is raft's business, the spread is what the placement gives).
    const leaders = new Map<string, string>();
    for (const d of names) {
      await waitFor(async () => {
        const leader = (await jsm.consumers.info('CP', d)).cluster?.leader;
        if (leader) leaders.set(d, leader);
        return leader !== undefined;
      }, `a leader for ${d}`, 30_000);
    }
    const streamLeader = (await jsm.streams.info('CP')).cluster?.leader;
    assert.ok([...leaders.values()].some((l) => l !== streamLeader), `not every consumer led by the stream leader ${streamLeader}: ${JSON.stringify([...leaders])}`);

    // Every consumer delivers the stream and takes acks, wherever it leads.
    for (const d of names) {
      const c = await jetstream(ncs[2]!).consumers.get('CP', d);
      const got: number[] = [];
      await waitFor(async () => {
        for await (const m of await c.fetch({ max_messages: 10, expires: 2000 })) {
          got.push(m.seq);
          await m.ackAck();
        }
        return got.length >= 10;
      }, `${d} delivers 10 messages`, 30_000);
      assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => i + 1), d);
      await waitFor(async () => (await jsm.consumers.info('CP', d)).ack_floor.stream_seq === 10, `${d} ack floor 10`, 30_000);
    }

    // An update keeps the group, so nothing acknowledged comes again (it used to get a new group
    // and start from nothing: all ten messages pending again).
    const before = metaOf(nodes[0]!).state.stream('$G', 'CP')!.consumers.get('D0')!;
    const updated = await jsm.consumers.update('CP', 'D0', { description: 'updated', max_ack_pending: 500 });
    assert.equal(updated.config.description, 'updated');
    assert.equal(updated.ack_floor.stream_seq, 10);
    await settle(nodes);
    for (const n of nodes) {
      const now = metaOf(n).state.stream('$G', 'CP')!.consumers.get('D0')!;
      assert.deepEqual(now.group, before.group, `the same group on ${n.name}`);
      assert.equal(now.created, before.created);
      assert.equal(now.consumer.description, 'updated');
    }
    const info = await jsm.consumers.info('CP', 'D0');
    assert.equal(info.ack_floor.stream_seq, 10);
    assert.equal(info.num_pending, 0);
    assert.equal(info.config.max_ack_pending, 500);
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
