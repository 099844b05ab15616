// The seed of an R1 -> R3 scale-up whose group start fails (EMFILE, ENOSPC: injected here by
// start-retry.ts) is started again later. Its store is the only copy of the acknowledged
// messages: unloading it (as other replicas' are) would make the retry create the stream anew,
// its files moved aside, and lead with an empty store. It stays loaded, stores nothing meanwhile,
// and seeds on the retry (stream-group.ts StreamGroups.assign, `seedAgain`); its R1 durable's
// state, taken before the failed start stopped the consumer, seeds the consumer group as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { injectedStartFaultHits, injectStartFaults } from '../../src/jetstream/cluster/start-retry.js';
import { waitFor } from './cluster-helpers.js';
import { connectAll, jsOf, metaOf, startJsCluster, stopAll } from './js-meta-own-helpers.js';
import { replicaMsgs, waitPlacement } from './js-repl-helpers.js';
import { consumeAcked, publishAcked, waitSettled } from './js-repl-scale-helpers.js';

// Skipped for now: in both fresh-clone CI runs of 2026-12-07 (full suite, concurrency 2) a replica did
// not reach the 10 messages within 60 s after the stream info showed three current replicas, while the
// file passes alone and three copies run at once pass. Not yet understood; named in the session note.
test('repl: a scale-up seed whose group start failed seeds on the retry: the stream and its durable keep their data', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  let failing = '';
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'S', subjects: ['s.>'], num_replicas: 1 });
    await jsm.consumers.add('S', { durable_name: 'D', ack_policy: 'explicit' });
    await publishAcked(ncs[0]!, 's.x', 1, 10);
    await consumeAcked(ncs[0]!, 'S', 'D', 1, 4);
    const holder = nodes.find((n) => jsOf(n).jsAccount('$G')?.streams.has('S'));
    assert.ok(holder, 'a server holds the R1 stream');
    const before = replicaMsgs(holder, 'S');
    assert.equal(before.length, 10);
    failing = holder.name;
    const hits = injectedStartFaultHits();
    injectStartFaults(failing, 1);
    await jsm.streams.update('S', { subjects: ['s.>'], num_replicas: 3 });
    assert.equal(injectedStartFaultHits() - hits, 1, 'the seed\'s first group start failed');
    await waitSettled(ncs[0]!, '$JS.API.STREAM.INFO.S', 3, [], 60_000);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'S').length === 10), 'every replica holds the 10 acknowledged messages', 60_000)
      .catch((e: Error) => {
        const seen = nodes.map((n) => `${n.name}${n.name === failing ? ' (seed)' : ''}: ${replicaMsgs(n, 'S').length} messages, group ${metaOf(n).streamGroups.get('$G', 'S') ? 'running' : 'absent'}`);
        throw new Error(`${e.message}; ${seen.join('; ')}`);
      });
    for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'S'), before, `${n.name}'s replica`);
    const ci = await waitSettled(ncs[1]!, '$JS.API.CONSUMER.INFO.S.D', 3, [], 60_000);
    assert.equal(ci.ack_floor?.stream_seq, 4, JSON.stringify(ci));
    await consumeAcked(ncs[1]!, 'S', 'D', 5, 6);
  } finally {
    if (failing) injectStartFaults(failing, 0);
    await stopAll(nodes, ncs, root);
  }
});
