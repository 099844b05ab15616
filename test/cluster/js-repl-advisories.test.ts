// Stream-group advisories on an in-process 3-server cluster: LEADER_ELECTED after a stepdown
// (nats-server's JSON fields), and QUORUM_LOST from a stream leader whose two peers went away.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';

const leaderOf = (nodes: JsNode[], s: string) => nodes.find((n) => metaOf(n).streamGroups.get('$G', s)?.isLeader);

test('repl: LEADER_ELECTED after a stepdown, QUORUM_LOST when the leader loses its peers', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'Q', subjects: ['q.>'], num_replicas: 3 });
    await waitFor(() => leaderOf(nodes, 'Q') !== undefined, 'a stream leader');
    const first = leaderOf(nodes, 'Q')!;
    // Watch advisories from every server (each connection is on its own server).
    const adv: Array<{ subject: string; body: Record<string, any> }> = [];
    for (const nc of ncs) nc.subscribe('$JS.EVENT.ADVISORY.STREAM.>', { callback: (_e, m) => { adv.push({ subject: m.subject, body: m.json() }); } });
    await Promise.all(ncs.map((nc) => nc.flush()));
    await waitFor(() => nodes.every((n) => nodes.every((o) => o === n || o.cluster.hasRemoteInterest('$G', '$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.Q'))), 'advisory interest everywhere');
    await ncs[0]!.request('$JS.API.STREAM.LEADER.STEPDOWN.Q', '', { timeout: 10_000 });
    await waitFor(() => adv.some((a) => a.subject === '$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.Q'), 'a LEADER_ELECTED advisory');
    const le = adv.find((a) => a.subject === '$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.Q')!.body;
    const now = leaderOf(nodes, 'Q')!;
    assert.notEqual(now, first);
    assert.equal(le.type, 'io.nats.jetstream.advisory.v1.stream_leader_elected');
    assert.equal(le.stream, 'Q');
    assert.equal(le.leader, now.name);
    assert.deepEqual(le.replicas.map((r: any) => r.name).sort(), ['n1', 'n2', 'n3']);
    assert.equal(typeof le.id, 'string');

    // The other two servers go away: the leader steps down for lost quorum and says so.
    const watch = await connect({ servers: now.h.clientUrl });
    const lost: Array<Record<string, any>> = [];
    watch.subscribe('$JS.EVENT.ADVISORY.STREAM.QUORUM_LOST.Q', { callback: (_e, m) => { lost.push(m.json()); } });
    await watch.flush();
    const others = nodes.filter((n) => n !== now);
    for (const n of others) {
      await ncs[nodes.indexOf(n)]!.close();
      await n.h.shutdown();
    }
    await waitFor(() => lost.length > 0, 'a QUORUM_LOST advisory', 60_000);
    assert.equal(lost[0]!.type, 'io.nats.jetstream.advisory.v1.stream_quorum_lost');
    assert.equal(lost[0]!.stream, 'Q');
    assert.ok(Array.isArray(lost[0]!.replicas));
    await watch.close();
    await stopAll([now], [ncs[nodes.indexOf(now)]!]);
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
