// A replica whose stream and consumer groups fail to start (EMFILE at the open-files limit,
// ENOSPC, EIO) must not stay out of the group until a restart, and must not take publishes
// on its own while it is out. Found by attack: a 3-server cluster under `ulimit -n 128` left
// replicas of R3 streams unstarted for good, with their local stores still subscribed.
// Here the failure is injected (start-retry.ts) on n3 until the test heals it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { injectedStartFaultHits, injectStartFaults } from '../../src/jetstream/cluster/start-retry.js';
import { waitFor } from './cluster-helpers.js';
import { connectAll, jsOf, metaOf, startJsCluster, stopAll } from './js-meta-own-helpers.js';
import { replicaMsgs, waitPlacement } from './js-repl-helpers.js';
import { consumeAcked, publishAcked, waitSettled } from './js-repl-scale-helpers.js';

test('repl: stream and consumer groups that failed to start on a replica are started again; meanwhile it stores nothing on its own', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  const n3 = nodes[2]!;
  try {
    await waitPlacement(nodes);
    injectStartFaults(n3.name, Infinity);
    const hitsBefore = injectedStartFaultHits();
    // The client is on the failing server: its publishes must reach the group, not a local store.
    // A create waits for the group's first leader: when the failing server is the preferred peer,
    // the others elect after an election timeout.
    const jsm = await jetstreamManager(ncs[2]!, { timeout: 30_000 });
    await jsm.streams.add({ name: 'S', subjects: ['s.>'], num_replicas: 3 });
    await jsm.consumers.add('S', { durable_name: 'D', ack_policy: 'explicit' });
    await publishAcked(ncs[2]!, 's.x', 1, 10);
    await waitFor(() => injectedStartFaultHits() - hitsBefore >= 2, 'n3 failed its first start and a retry', 20_000);
    assert.equal(metaOf(n3).streamGroups.get('$G', 'S'), undefined, 'no group on n3 while its starts fail');
    assert.equal(jsOf(n3).jsAccount('$G')?.streams.has('S') ?? false, false, 'n3 keeps no stream of its own loaded');

    // Healed (descriptors free again): the next retry starts both groups and n3 catches up.
    injectStartFaults(n3.name, 0);
    await waitFor(() => replicaMsgs(n3, 'S').length === 10, 'n3 holds the 10 acknowledged messages', 60_000);
    assert.deepEqual(replicaMsgs(n3, 'S'), replicaMsgs(nodes[0]!, 'S'));
    await waitSettled(ncs[0]!, '$JS.API.STREAM.INFO.S', 3);
    await waitFor(() => metaOf(n3).streamGroups.get('$G', 'S')?.consumers.has('D') === true, 'the consumer group runs on n3', 30_000);
    await waitSettled(ncs[0]!, '$JS.API.CONSUMER.INFO.S.D', 3);

    // The stream and consumer work as R3 from every server.
    await publishAcked(ncs[0]!, 's.y', 11, 15);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'S').length === 15), 'every replica holds 15');
    await consumeAcked(ncs[2]!, 'S', 'D', 1, 15);
    const info = await (await jetstreamManager(ncs[1]!)).consumers.info('S', 'D');
    assert.equal(info.ack_floor.stream_seq, 15);
  } finally {
    injectStartFaults(n3.name, 0);
    await stopAll(nodes, ncs, root);
  }
});

// Found by attack (report-attackr3): with one server at its open-files limit, a durable create on
// an R3 stream went unanswered. Only a group's first leader answers the create; when placement
// had made the failing server the preferred first leader, the other two waited a whole election
// timeout (4-9 s) before electing, past the client's timeout. nats-server answers at once (with an
// error). Now one of the others stands in for the preferred peer after a short grace, and the create
// succeeds within the client's default timeout.
test('repl: a consumer create whose preferred leader fails to start is answered within the client timeout', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  const n3 = nodes[2]!;
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'P', subjects: ['p.>'], num_replicas: 3 });
    await publishAcked(ncs[0]!, 'p.x', 1, 3);
    injectStartFaults(n3.name, Infinity);
    const n3id = metaOf(n3).id;
    const preferredOf = (name: string) => metaOf(nodes[0]!).state.stream('$G', 'P')?.consumers.get(name)?.group.preferred;
    // Placement picks the preferred peer at random: create until two landed on n3 (bounded).
    const created: string[] = [];
    let onN3 = 0;
    for (let i = 0; i < 40 && onN3 < 2; i++) {
      const name = `D${i}`;
      // The client's default timeout (5 s): the answer must come before it.
      const ci = await jsm.consumers.add('P', { durable_name: name, ack_policy: 'explicit' });
      assert.equal(ci.name, name);
      created.push(name);
      if (preferredOf(name) === n3id) onN3++;
    }
    assert.equal(onN3, 2, 'two creates had the failing server as preferred leader');
    injectStartFaults(n3.name, 0);
    await waitFor(() => created.every((d) => metaOf(n3).streamGroups.get('$G', 'P')?.consumers.has(d) === true), 'every consumer group runs on n3 once it can start them', 60_000);
    for (const d of created.filter((x) => preferredOf(x) === n3id)) await consumeAcked(ncs[2]!, 'P', d, 1, 3);
  } finally {
    injectStartFaults(n3.name, 0);
    await stopAll(nodes, ncs, root);
  }
});
