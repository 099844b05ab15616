// /metrics on a 3-server cluster with an R3 stream and consumer: every server reports its
// routes and the Raft groups it runs (meta, stream, consumer) with leader, term, applied and
// lag, in Prometheus text that parses strictly; the figures agree across the servers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { waitPlacement } from './js-repl-helpers.js';
import { parsePrometheus, sampleOf, type PromFamily } from '../helpers/prom-parse.js';

const sg = (n: JsNode, s: string) => metaOf(n).streamGroups.get('$G', s);
const cg = (n: JsNode, s: string, c: string) => sg(n, s)?.consumers.get(c);

async function scrape(n: JsNode): Promise<Map<string, PromFamily>> {
  const r = await fetch(`http://127.0.0.1:${n.h.httpPort}/metrics`);
  assert.equal(r.status, 200);
  return parsePrometheus(await r.text());
}

test('repl: /metrics reports routes and the meta, stream and consumer Raft groups of every server', async () => {
  const { nodes, root } = await startJsCluster(3, undefined, { httpPort: 0 });
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'M', subjects: ['m.>'], num_replicas: 3 });
    await jsm.consumers.add('M', { durable_name: 'D', ack_policy: AckPolicy.Explicit });
    const js = jetstream(ncs[0]!);
    for (let i = 0; i < 5; i++) await js.publish(`m.${i}`, 'v');
    await waitFor(() => nodes.every((n) => cg(n, 'M', 'D')?.node.isCurrent() === true && sg(n, 'M')?.node.isCurrent() === true
      && sg(n, 'M')!.node.applied === sg(nodes[0]!, 'M')!.node.commit), 'groups current and applied everywhere', 20_000);

    // Scrape until one consistent picture (an election between scrapes on a loaded machine only delays it).
    let pages: Map<string, PromFamily>[] = [];
    const leaderOf = (kind: string, extra: Record<string, string> = {}): number[] =>
      pages.map((f) => sampleOf(f, 'jetstream_raft_group_leader', { kind, ...extra }).value);
    await waitFor(async () => {
      pages = await Promise.all(nodes.map(scrape));
      const one = (xs: number[]): boolean => xs.filter((x) => x === 1).length === 1 && xs.every((x) => x === 0 || x === 1);
      const terms = pages.map((f) => sampleOf(f, 'jetstream_raft_group_term', { kind: 'stream', stream_name: 'M' }).value);
      return one(leaderOf('meta')) && one(leaderOf('stream', { stream_name: 'M' })) && one(leaderOf('consumer', { consumer_name: 'D' }))
        && terms.every((t) => t === terms[0]);
    }, 'one leader per Raft group in the scrapes', 20_000);

    const streamGroup = sg(nodes[0]!, 'M')!.node.status().group;
    for (const [i, f] of pages.entries()) {
      const n = nodes[i]!;
      const sid = { server_id: n.h.server.serverId };
      assert.equal(sampleOf(f, 'gnatsd_routez_num_routes', sid).value, 2, n.name);
      assert.equal(f.get('gnatsd_routez_route_out_msgs')!.samples.length, 2, n.name);
      assert.equal(f.get('gnatsd_routez_route_in_msgs')!.type, 'counter');
      const s = sampleOf(f, 'jetstream_raft_group_applied', { kind: 'stream', stream_name: 'M', account: '$G' });
      assert.equal(s.labels.raft_group, streamGroup);
      assert.ok(s.value > 0, `${n.name} applied ${s.value}`);
      assert.equal(sampleOf(f, 'jetstream_raft_group_lag', { kind: 'stream', stream_name: 'M' }).value, 0, n.name);
      assert.ok(sampleOf(f, 'jetstream_raft_group_term', { kind: 'meta' }).value >= 1);
      // Stream figures carry the exporter's labels, with the Raft group named.
      const st = sampleOf(f, 'jetstream_stream_total_messages', { stream_name: 'M' });
      assert.equal(st.value, 5, n.name);
      assert.equal(st.labels.stream_raft_group, streamGroup);
      assert.equal(st.labels.cluster, n.h.server.options.cluster?.name);
      const isLeader = sampleOf(f, 'jetstream_raft_group_leader', { kind: 'stream', stream_name: 'M' }).value === 1;
      assert.equal(st.labels.is_stream_leader, isLeader ? 'true' : 'false', n.name);
      // The leader reports how far each follower is behind; followers report no peers.
      const peers = f.get('jetstream_raft_group_peer_lag')?.samples.filter((x) => x.labels.kind === 'stream') ?? [];
      assert.equal(peers.length, isLeader ? 2 : 0, n.name);
      const metaLeader = sampleOf(f, 'jetstream_raft_group_leader', { kind: 'meta' }).value === 1;
      assert.equal(sampleOf(f, 'jetstream_server_total_streams').labels.is_meta_leader, metaLeader ? 'true' : 'false');
    }
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
