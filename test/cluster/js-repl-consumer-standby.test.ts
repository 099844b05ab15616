// At start, the consumers a replica of a replicated stream finds on disk only load their state:
// their groups run them. Found by bench/attack/restart-consumers.ts (whole-cluster kill -9 under
// push/pull load): the single-server recovery started them, so between a server's start and its
// stream group taking over, a push consumer delivered again, from a state.dat up to a second old,
// messages whose acks had been confirmed, and it took (and confirmed) acks nobody replicated.
// Here: right when each restarted server recovers the stream (a JetStream extension's
// streamAdded runs after the consumers were recovered), the consumer has no ack subscription.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { addJetStreamExtension } from '../../src/jetstream/index.js';
import { consumerHostFor, lookupConsumer } from '../../src/jetstream/consumer/manager.js';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, stopAll } from './js-meta-own-helpers.js';
import { replicaMsgs, startRestartable, waitPlacement } from './js-repl-helpers.js';

test('repl: a restarted replica recovers its replicated stream\'s consumers without subscriptions; the group runs them', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-repl-standby-'));
  let { nodes, layout } = await startRestartable(root);
  let ncs = await connectAll(nodes);
  // What each server's recovery left of consumer D before its stream group took over.
  const seen: Array<{ recovered: boolean; ackInterest: boolean }> = [];
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'SB', subjects: ['sb.>'], num_replicas: 3 });
    await jsm.consumers.add('SB', { durable_name: 'D', ack_policy: AckPolicy.Explicit, deliver_subject: 'sb-deliver' });
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 5; i++) await js.publish(`sb.${i}`, `m${i}`);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'SB').length === 5), 'every replica has 5 messages');

    await stopAll(nodes, ncs);
    addJetStreamExtension({
      attach: () => {},
      streamAdded: (acc, stream) => {
        if (stream.name !== 'SB') return;
        const host = consumerHostFor(acc, undefined, () => {});
        seen.push({ recovered: lookupConsumer(stream, 'D') !== undefined, ackInterest: host.hasInterest('$JS.ACK.SB.D.1.1.1.0.0') });
      },
    });
    ({ nodes } = await startRestartable(root, layout));
    ncs = await connectAll(nodes);
    assert.equal(seen.length, 3, 'each server recovered the stream from disk');
    for (const s of seen) {
      assert.equal(s.recovered, true, 'the consumer is recovered (a scale-up seed reads its state)');
      assert.equal(s.ackInterest, false, 'but takes no acks (nor delivers) until its group runs it');
    }
    // The group runs it: a leader, and the five messages are delivered.
    await waitFor(() => nodes.some((n) => metaOf(n).streamGroups.get('$G', 'SB')?.consumers.get('D')?.isLeader), 'a consumer leader', 30_000);
    const got = new Set<number>();
    const sub = ncs[2]!.subscribe('sb-deliver', { callback: (_e, m) => { if (m.reply?.startsWith('$JS.ACK.')) got.add(Number(m.reply.split('.')[5])); } });
    await waitFor(() => got.size === 5, 'messages 1..5 delivered by the group', 30_000);
    sub.unsubscribe();
  } finally {
    await stopAll(nodes, ncs, root);
    rmSync(root, { recursive: true, force: true });
  }
});
