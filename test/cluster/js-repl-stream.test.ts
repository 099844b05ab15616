// R3 streams on an in-process 3-server cluster, through the official clients: one create
// reply from the stream leader, publishes from every server stored once on every replica at
// the acknowledged sequence, dedupe and expected-last-sequence cluster-wide, STREAM.INFO's
// cluster block, replicated purge and message delete, leader stepdown, delete everywhere.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { headers } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, jsOf, metaOf, requestAll, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { replicaMsgs, waitPlacement } from './js-repl-helpers.js';

const j = (s: string): Record<string, any> => JSON.parse(s) as Record<string, any>;

function groupLeader(nodes: JsNode[], stream: string): JsNode | undefined {
  return nodes.find((n) => metaOf(n).streamGroups.get('$G', stream)?.isLeader);
}

test('repl: R3 stream create, publish from every server, dedupe, expected-last-seq, info, purge, delete msg, stepdown, delete', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const cfg = JSON.stringify({ name: 'R', subjects: ['r.>'], num_replicas: 3, storage: 'file', duplicate_window: 60_000_000_000 });
    const created = await requestAll(ncs[1]!, nodes, '$JS.API.STREAM.CREATE.R', cfg);
    assert.equal(created.length, 1, created.join('\n'));
    const c = j(created[0]!);
    assert.equal(c.type, 'io.nats.jetstream.api.v1.stream_create_response', created[0]);
    assert.equal(c.did_create, true, created[0]);
    assert.equal(c.config.num_replicas, 3);
    await waitFor(() => groupLeader(nodes, 'R') !== undefined, 'a stream leader');
    const leader = groupLeader(nodes, 'R')!;
    assert.equal(c.cluster.leader, leader.name);
    // Every server holds a replica and a group directory.
    const group = metaOf(nodes[0]!).state.stream('$G', 'R')!.sa.group.name;
    for (const n of nodes) {
      assert.ok(jsOf(n).jsAccount('$G')!.streams.has('R'), `replica on ${n.name}`);
      assert.ok(existsSync(join(n.dir, 'jetstream', '$SYS', '_js_', group)), `group dir on ${n.name}`);
    }

    // Publishes through every server, acknowledged with consecutive sequences.
    const seqs: number[] = [];
    for (let k = 0; k < 30; k++) {
      const js = jetstream(ncs[k % 3]!);
      const pa = await js.publish(`r.${k}`, `m${k}`);
      assert.equal(pa.stream, 'R');
      seqs.push(pa.seq);
    }
    assert.deepEqual(seqs, Array.from({ length: 30 }, (_, i) => i + 1));
    const expect = seqs.map((s) => `${s}:r.${s - 1}:m${s - 1}`);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'R').length === 30), 'every replica has 30 messages');
    for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'R'), expect, `replica ${n.name}`);

    // Dedupe: the same id twice (also concurrently) stores once.
    const js0 = jetstream(ncs[0]!);
    const [a, b] = await Promise.all([js0.publish('r.d', 'x', { msgID: 'id-1' }), jetstream(ncs[2]!).publish('r.d', 'x', { msgID: 'id-1' })]);
    assert.equal(a.seq, b.seq);
    assert.equal([a.duplicate, b.duplicate].filter(Boolean).length, 1);
    const again = await js0.publish('r.d', 'x', { msgID: 'id-1' });
    assert.equal(again.duplicate, true);
    assert.equal(again.seq, a.seq);

    // Expected last sequence: right one stored, wrong one refused with 10071, nothing stored.
    const ok = await js0.publish('r.e', 'y', { expect: { lastSequence: 31 } });
    assert.equal(ok.seq, 32);
    await assert.rejects(js0.publish('r.e', 'z', { expect: { lastSequence: 5 } }), /wrong last sequence: 32/);
    const h = headers();
    h.set('Nats-Expected-Last-Sequence', '32');
    const raw = j((await ncs[1]!.request('r.e', 'w', { headers: h, timeout: 10_000 })).string());
    assert.equal(raw.seq, 33);

    // STREAM.INFO from every server: one answer, from the leader, with the replicas.
    for (const nc of ncs) {
      const r = await requestAll(nc, nodes, '$JS.API.STREAM.INFO.R');
      assert.equal(r.length, 1);
      const info = j(r[0]!);
      assert.equal(info.state.messages, 33);
      assert.equal(info.cluster.leader, leader.name);
      assert.deepEqual(info.cluster.replicas.map((x: any) => x.name).sort(), nodes.filter((n) => n !== leader).map((n) => n.name).sort());
      for (const rep of info.cluster.replicas) assert.equal(typeof rep.peer, 'string');
    }

    // Message delete and purge are replicated; one answer each.
    const del = await requestAll(ncs[2]!, nodes, '$JS.API.STREAM.MSG.DELETE.R', JSON.stringify({ seq: 2 }));
    assert.equal(del.length, 1);
    assert.equal(j(del[0]!).success, true, del[0]);
    const purge = await requestAll(ncs[0]!, nodes, '$JS.API.STREAM.PURGE.R', JSON.stringify({ filter: 'r.e' }));
    assert.equal(purge.length, 1);
    assert.equal(j(purge[0]!).purged, 2, purge[0]);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'R').length === 30), 'delete and purge on every replica');
    const after = replicaMsgs(nodes[0]!, 'R');
    assert.ok(!after.some((m) => m.startsWith('2:')));
    for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'R'), after);

    // Stepdown: another replica leads and takes publishes at the next sequence.
    const sd = await requestAll(ncs[0]!, nodes, '$JS.API.STREAM.LEADER.STEPDOWN.R');
    assert.equal(sd.length, 1);
    assert.deepEqual(j(sd[0]!), { type: 'io.nats.jetstream.api.v1.stream_leader_stepdown_response', success: true });
    await waitFor(() => { const l = groupLeader(nodes, 'R'); return l !== undefined && l !== leader; }, 'a new stream leader');
    const pa = await jetstream(ncs[1]!).publish('r.after', 'z');
    assert.equal(pa.seq, 34);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'R').length === 31), 'post-stepdown message everywhere');
    for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'R'), replicaMsgs(nodes[0]!, 'R'));

    // Update: every replica takes the new limits (and trims to them identically).
    const jsm = await jetstreamManager(ncs[2]!);
    const cur = await jsm.streams.info('R');
    const upd = await jsm.streams.update('R', { ...cur.config, max_msgs: 10 });
    assert.equal(upd.config.max_msgs, 10);
    await waitFor(() => nodes.every((n) => jsOf(n).jsAccount('$G')!.streams.get('R')?.config.max_msgs === 10 && replicaMsgs(n, 'R').length === 10), 'limits updated on every replica');
    for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'R'), replicaMsgs(nodes[0]!, 'R'));
    assert.equal((await jetstream(ncs[0]!).publish('r.last', 'l')).seq, 35);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'R').at(-1) === '35:r.last:l' && replicaMsgs(n, 'R').length === 10), 'limit holds on every replica');

    // Delete: one answer, no replica and no group directory left.
    assert.equal(await jsm.streams.delete('R'), true);
    await waitFor(() => nodes.every((n) => !jsOf(n).jsAccount('$G')!.streams.has('R') && !existsSync(join(n.dir, 'jetstream', '$SYS', '_js_', group))), 'stream gone everywhere');
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
