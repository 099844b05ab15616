// The clustered $JS.API on 3 in-process servers: every meta operation and every stream or
// consumer request gets exactly one reply whichever server the client is connected to.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startJsCluster, connectAll, requestAll, stopAll, metaOf, jsOf } from './js-meta-own-helpers.js';
import { waitFor } from './cluster-helpers.js';
import { healthz } from '../../src/monitor/healthz.js';

const j = (s: string): Record<string, any> => JSON.parse(s) as Record<string, any>;

test('meta: create/info/update/delete of R1 streams and consumers, one reply each from every server', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    // Every server becomes healthy once it is current with the meta leader.
    await waitFor(() => nodes.every((n) => healthz(n.h.server, {}).status === 'ok'), 'healthz ok everywhere');
    for (let i = 0; i < 3; i++) {
      const nc = ncs[i]!;
      const name = `S${i}`;
      const cfg = JSON.stringify({ name, subjects: [`s${i}.>`], storage: 'file', num_replicas: 1 });
      let r = await requestAll(nc, nodes, `$JS.API.STREAM.CREATE.${name}`, cfg);
      assert.equal(r.length, 1, `one create reply via n${i + 1}: ${r.join('\n')}`);
      const created = j(r[0]!);
      assert.equal(created.type, 'io.nats.jetstream.api.v1.stream_create_response');
      assert.equal(created.did_create, true);
      assert.equal(created.cluster.name, metaOf(nodes[0]!).clusterName);
      const holder = created.cluster.leader as string;
      const holderNode = nodes.find((n) => n.name === holder)!;
      assert.ok(jsOf(holderNode).jsAccount('$G')!.streams.has(name), 'the holder has the stream');
      for (const n of nodes) if (n !== holderNode) assert.ok(!jsOf(n).jsAccount('$G')!.streams.has(name), 'no copy elsewhere');
      for (const n of nodes) assert.ok(metaOf(n).state.stream('$G', name), `assignment on ${n.name}`);

      // Idempotent create: same config, one reply, nothing created twice.
      r = await requestAll(nc, nodes, `$JS.API.STREAM.CREATE.${name}`, cfg);
      assert.equal(r.length, 1);
      assert.equal(j(r[0]!).error, undefined, r[0]);
      // Different config under the same name.
      r = await requestAll(nc, nodes, `$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: ['other.>'] }));
      assert.equal(r.length, 1);
      assert.equal(j(r[0]!).error.err_code, 10058);

      // Publish from every server, info from every server.
      for (const c of ncs) await c.request(`s${i}.x`, 'hello', { timeout: 10_000 });
      for (const c of ncs) {
        r = await requestAll(c, nodes, `$JS.API.STREAM.INFO.${name}`);
        assert.equal(r.length, 1);
        const info = j(r[0]!);
        assert.equal(info.state.messages, 3);
        assert.deepEqual(info.cluster, { name: metaOf(nodes[0]!).clusterName, leader: holder });
      }

      r = await requestAll(nc, nodes, `$JS.API.STREAM.UPDATE.${name}`, JSON.stringify({ name, subjects: [`s${i}.>`, `t${i}.>`], storage: 'file' }));
      assert.equal(r.length, 1);
      assert.deepEqual(j(r[0]!).config.subjects, [`s${i}.>`, `t${i}.>`], r[0]);

      r = await requestAll(nc, nodes, `$JS.API.CONSUMER.CREATE.${name}.D`, JSON.stringify({ stream_name: name, config: { durable_name: 'D', ack_policy: 'explicit' } }));
      assert.equal(r.length, 1);
      assert.equal(j(r[0]!).name, 'D', r[0]);
      assert.equal(j(r[0]!).cluster.leader, holder);
      for (const c of ncs) {
        r = await requestAll(c, nodes, `$JS.API.CONSUMER.INFO.${name}.D`);
        assert.equal(r.length, 1);
        assert.equal(j(r[0]!).num_pending, 3);
      }
      // A pull through a server that does not hold the consumer.
      const other = ncs[(nodes.indexOf(holderNode) + 1) % 3]!;
      const m = await other.request(`$JS.API.CONSUMER.MSG.NEXT.${name}.D`, JSON.stringify({ batch: 1 }), { timeout: 10_000, noMux: true });
      assert.equal(m.string(), 'hello');
      r = await requestAll(nc, nodes, `$JS.API.CONSUMER.NAMES.${name}`);
      assert.equal(r.length, 1);
      assert.deepEqual(j(r[0]!).consumers, ['D']);
      r = await requestAll(nc, nodes, `$JS.API.CONSUMER.DELETE.${name}.D`);
      assert.equal(r.length, 1);
      assert.equal(j(r[0]!).success, true, r[0]);
    }

    let r = await requestAll(ncs[1]!, nodes, '$JS.API.STREAM.NAMES');
    assert.equal(r.length, 1);
    assert.deepEqual(j(r[0]!).streams, ['S0', 'S1', 'S2']);
    r = await requestAll(ncs[2]!, nodes, '$JS.API.STREAM.LIST');
    assert.equal(r.length, 1);
    assert.deepEqual(j(r[0]!).streams.map((s: any) => [s.config.name, s.state.messages]), [['S0', 3], ['S1', 3], ['S2', 3]]);
    r = await requestAll(ncs[0]!, nodes, '$JS.API.INFO');
    assert.equal(r.length, 1);
    assert.equal(j(r[0]!).streams, 3);

    // Unknown stream: 10059 from exactly one server.
    r = await requestAll(ncs[2]!, nodes, '$JS.API.STREAM.INFO.NOPE');
    assert.equal(r.length, 1);
    assert.equal(j(r[0]!).error.err_code, 10059);

    for (let i = 0; i < 3; i++) {
      r = await requestAll(ncs[(i + 2) % 3]!, nodes, `$JS.API.STREAM.DELETE.S${i}`);
      assert.equal(r.length, 1);
      assert.equal(j(r[0]!).success, true, r[0]);
    }
    for (const n of nodes) assert.equal(jsOf(n).jsAccount('$G')!.streams.size, 0);
    for (const n of nodes) assert.equal(metaOf(n).state.streamsOf('$G').length, 0);
  } finally {
    await stopAll(nodes, ncs, root);
  }
});

test('meta: a 5-server cluster, one R1 stream created through each server, one reply each, listed everywhere', async () => {
  const { nodes, root } = await startJsCluster(5);
  const ncs = await connectAll(nodes);
  try {
    // The group grows to all five as the leader hears from each server.
    await waitFor(() => nodes.every((n) => metaOf(n).node.peers().length === 5 && metaOf(n).node.clusterSize === 5), '5 meta peers everywhere', 30_000);
    // Placement uses what each server announced about itself (tags, limits, usage).
    await waitFor(() => nodes.every((n) => {
      const m = metaOf(n);
      return m.peerInfo.placementPeers(m.id, m.node.peers(), m.onlinePeers()).every((p) => p.stats !== undefined);
    }), 'every server known to placement', 30_000);
    const holders = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await requestAll(ncs[i]!, nodes, `$JS.API.STREAM.CREATE.F${i}`, JSON.stringify({ name: `F${i}`, subjects: [`f${i}.>`] }));
      assert.equal(r.length, 1);
      assert.equal(j(r[0]!).did_create, true, r[0]);
      holders.add(j(r[0]!).cluster.leader as string);
    }
    // Least-loaded placement spreads five streams over several servers.
    assert.ok(holders.size >= 3, `streams spread over ${[...holders].join(',')}`);
    for (let i = 0; i < 5; i++) {
      const r = await requestAll(ncs[4 - i]!, nodes, '$JS.API.STREAM.NAMES');
      assert.equal(r.length, 1);
      assert.deepEqual(j(r[0]!).streams, ['F0', 'F1', 'F2', 'F3', 'F4']);
    }
  } finally {
    await stopAll(nodes, ncs, root);
  }
});

test('meta: an ephemeral consumer removed by its holder for inactivity leaves the meta state on every server', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    let r = await requestAll(ncs[0]!, nodes, '$JS.API.STREAM.CREATE.EPH', JSON.stringify({ name: 'EPH', subjects: ['eph.>'] }));
    assert.equal(j(r[0]!).did_create, true, r[0]);
    r = await requestAll(ncs[1]!, nodes, '$JS.API.CONSUMER.CREATE.EPH',
      JSON.stringify({ stream_name: 'EPH', config: { ack_policy: 'explicit', inactive_threshold: 500_000_000 } }));
    assert.equal(r.length, 1);
    const name = j(r[0]!).name as string;
    assert.ok(name, r[0]);
    for (const n of nodes) assert.ok(metaOf(n).state.stream('$G', 'EPH')!.consumers.has(name), `assigned on ${n.name}`);
    await waitFor(() => nodes.every((n) => !metaOf(n).state.stream('$G', 'EPH')!.consumers.has(name)), 'assignment removed everywhere', 60_000);
    r = await requestAll(ncs[2]!, nodes, `$JS.API.CONSUMER.INFO.EPH.${name}`);
    assert.equal(r.length, 1);
    assert.equal(j(r[0]!).error.err_code, 10014);
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
