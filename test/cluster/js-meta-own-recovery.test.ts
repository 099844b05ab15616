// Meta log and snapshot recovery on in-process clusters: malformed entries are skipped by
// every server (also when replayed after a restart), and a restart of every server brings
// back the same assignments from snapshot + log, with the R1 streams on their holders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './cluster-helpers.js';
import { startRestartable } from './js-repl-helpers.js';
import {
  connectAll, jsOf, metaOf, requestAll, settle, stopAll, waitForMetaLeader, type JsNode,
} from './js-meta-own-helpers.js';
import { MetaAssignments } from '../../src/jetstream/cluster/assignments.js';
import { lookupConsumer } from '../../src/jetstream/consumer/manager.js';
import { EntryType } from '../../src/raft/index.js';

const j = (s: string): Record<string, any> => JSON.parse(s) as Record<string, any>;

function assignments(n: JsNode): string[] {
  const out: string[] = [];
  for (const [acc, e] of metaOf(n).state.all()) {
    out.push(`${acc}/${e.sa.stream.name}@${e.sa.group.peers.join(',')}[${[...e.consumers.keys()].sort().join(',')}]`);
  }
  return out.sort();
}

test('meta: malformed entries are logged and skipped on every server, live and on replay; a restart of every server recovers the same assignments', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-metarec-'));
  let { nodes, layout } = await startRestartable(root);
  let ncs = await connectAll(nodes);
  try {
    const create = async (i: number, name: string) => {
      const r = await requestAll(ncs[i % 3]!, nodes, `$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: [`${name.toLowerCase()}.>`] }));
      assert.equal(r.length, 1);
      assert.equal(j(r[0]!).error, undefined, r[0]);
      return j(r[0]!).cluster.leader as string;
    };
    await create(0, 'A');
    await create(1, 'B');
    const r = await requestAll(ncs[2]!, nodes, '$JS.API.CONSUMER.CREATE.A.DA', JSON.stringify({ stream_name: 'A', config: { durable_name: 'DA' } }));
    assert.equal(j(r[0]!).name, 'DA', r[0]);
    for (let k = 0; k < 5; k++) await ncs[k % 3]!.request(`a.${k}`, 'x', { timeout: 10_000 });

    // Crafted entries straight into the log: bad JSON, JSON that is not an assignment, an unknown op.
    const leader = nodes.find((n) => metaOf(n).isLeader)!;
    metaOf(leader).propose(Buffer.concat([Buffer.from([0]), Buffer.from('{"client":{"acc":"$G"},"stream":')]));
    metaOf(leader).propose(Buffer.concat([Buffer.from([1]), Buffer.from('{"name":"X"}\n')]));
    metaOf(leader).propose(Buffer.from([200, 1, 2, 3]));
    await settle(nodes);

    // Snapshot on every server, then more changes that live only in the log.
    for (const n of nodes) metaOf(n).snapshot(true);
    await create(2, 'C');
    await create(0, 'D');
    const del = await requestAll(ncs[1]!, nodes, '$JS.API.STREAM.DELETE.B');
    assert.equal(j(del[0]!).success, true);
    await settle(nodes);
    const before = assignments(nodes[0]!);
    for (const n of nodes) assert.deepEqual(assignments(n), before);
    assert.equal(before.length, 3);

    await stopAll(nodes, ncs);
    ({ nodes } = await startRestartable(root, layout));
    ncs = await connectAll(nodes);
    await settle(nodes);
    for (const n of nodes) assert.deepEqual(assignments(n), before, `same assignments on ${n.name} after restart`);
    // Each R1 stream is back on its holder only, with its messages and consumer.
    for (const [, e] of metaOf(nodes[0]!).state.all()) {
      const holder = nodes.find((n) => metaOf(n).id === e.sa.group.peers[0])!;
      for (const n of nodes) assert.equal(jsOf(n).jsAccount('$G')!.streams.has(e.sa.stream.name), n === holder);
    }
    const info = await requestAll(ncs[1]!, nodes, '$JS.API.STREAM.INFO.A');
    assert.equal(info.length, 1);
    assert.equal(j(info[0]!).state.messages, 5);
    const ci = await requestAll(ncs[2]!, nodes, '$JS.API.CONSUMER.INFO.A.DA');
    assert.equal(ci.length, 1);
    assert.equal(j(ci[0]!).num_pending, 5);
    const names = await requestAll(ncs[0]!, nodes, '$JS.API.STREAM.NAMES');
    assert.deepEqual(j(names[0]!).streams, ['A', 'C', 'D']);
    // Still serving: a new stream after the restart.
    const again = await requestAll(ncs[0]!, nodes, '$JS.API.STREAM.CREATE.E', JSON.stringify({ name: 'E', subjects: ['e.>'] }));
    assert.equal(j(again[0]!).did_create, true, again[0]);
  } finally {
    await stopAll(nodes, ncs);
    rmSync(root, { recursive: true, force: true });
  }
});

test('meta: an orphaned local stream (deleted while its server was down) is removed once the meta state is complete', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-metaorph-'));
  let { nodes, layout } = await startRestartable(root);
  let ncs = await connectAll(nodes);
  try {
    const cr = await requestAll(ncs[0]!, nodes, '$JS.API.STREAM.CREATE.O', JSON.stringify({ name: 'O', subjects: ['o.>'] }));
    const holderName = j(cr[0]!).cluster.leader as string;
    const idx = nodes.findIndex((n) => n.name === holderName);
    // Stop the holder, delete the stream while it is away (the meta leader answers for it).
    await ncs[idx]!.close();
    await nodes[idx]!.h.shutdown();
    const rest = nodes.filter((_, i) => i !== idx);
    const restNcs = ncs.filter((_, i) => i !== idx);
    await waitForMetaLeader(rest);
    const inbox = await restNcs[0]!.request('$JS.API.STREAM.DELETE.O', '', { timeout: 10_000 });
    assert.equal(j(inbox.string()).success, true, inbox.string());
    await stopAll(rest, restNcs);
    ({ nodes } = await startRestartable(root, layout));
    ncs = await connectAll(nodes);
    const holder = nodes.find((n) => n.name === holderName)!;
    await waitFor(() => !jsOf(holder).jsAccount('$G')!.streams.has('O'), 'orphan removed from its old holder', 30_000);
    for (const n of nodes) assert.equal(metaOf(n).state.stream('$G', 'O'), undefined);
  } finally {
    await stopAll(nodes, ncs);
    rmSync(root, { recursive: true, force: true });
  }
});

test('meta: a snapshot installed on a live server removes the local consumers and streams it no longer assigns (applyMetaSnapshot)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-metasnapdiff-'));
  const { nodes } = await startRestartable(root);
  const ncs = await connectAll(nodes);
  try {
    const create = async (name: string): Promise<JsNode> => {
      const r = await requestAll(ncs[0]!, nodes, `$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: [`${name.toLowerCase()}.>`] }));
      assert.equal(j(r[0]!).error, undefined, r[0]);
      return nodes.find((n) => n.name === j(r[0]!).cluster.leader)!;
    };
    const kHolder = await create('K');
    const gHolder = await create('G');
    for (const c of ['DK', 'KEEP']) {
      const r = await requestAll(ncs[1]!, nodes, `$JS.API.CONSUMER.CREATE.K.${c}`, JSON.stringify({ stream_name: 'K', config: { durable_name: c } }));
      assert.equal(j(r[0]!).name, c, r[0]);
    }
    await settle(nodes);
    const localK = () => jsOf(kHolder).jsAccount('$G')!.streams.get('K')!;
    assert.ok(lookupConsumer(localK(), 'DK'));

    // The state as a snapshot would carry it after DK and G were deleted: every server installs it
    // (as a follower does when the leader catches it up by snapshot instead of the log entries).
    const next = MetaAssignments.fromSnapshot(metaOf(kHolder).state.toSnapshot(), (w) => assert.fail(w));
    next.removeConsumer(next.stream('$G', 'K')!.consumers.get('DK')!);
    next.removeStream('$G', 'G');
    const data = next.toSnapshot();
    for (const n of nodes) metaOf(n)['applyEntries'](0, [{ type: EntryType.Snapshot, data }]);

    await waitFor(() => lookupConsumer(localK(), 'DK') === undefined, 'the dropped consumer removed from its holder', 30_000);
    await waitFor(() => !jsOf(gHolder).jsAccount('$G')!.streams.has('G'), 'the dropped stream removed from its holder', 30_000);
    assert.ok(lookupConsumer(localK(), 'KEEP'), 'the consumer the snapshot keeps stays');
    for (const n of nodes) assert.deepEqual(assignments(n), [`$G/K@${metaOf(kHolder).id}[KEEP]`]);
  } finally {
    await stopAll(nodes, ncs);
    rmSync(root, { recursive: true, force: true });
  }
});
