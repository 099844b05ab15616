// The raft witness copy of a replicated consumer's group (consumer-group.ts), on an in-process
// 3-server cluster: it lives in the consumer store's directory (`streams/<s>/obs/<c>/`), names the
// group, and is raised only when the group's durable index doubles it; it goes with the consumer,
// and a consumer deleted and created again under the same name starts as a new group (not as one
// that lost its log). A stream scaled down to R1 and back keeps its consumer: the scale-down removes
// the consumer group and its copy, so the scale-up seeds it from the R1 consumer instead of finding
// a copy that says its log was lost (nobody else holds the state: the consumer would never lead).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AckPolicy, StorageType, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, settle, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { fetchOnce, waitPlacement } from './js-repl-helpers.js';
import { pollUntil } from '../helpers/wait.js';
import { filesMatching } from './js-repl-snapshot-helpers.js';
import type { ConsumerGroup } from '../../src/jetstream/cluster/consumer-group.js';

const cgOf = (n: JsNode, s: string, c: string): ConsumerGroup | undefined => metaOf(n).streamGroups.get('$G', s)?.consumers.get(c);

/** The consumer's group name as the meta layer of `n` has it. */
const groupOf = (n: JsNode, s: string, c: string): string | undefined => metaOf(n).state.stream('$G', s)?.consumers.get(c)?.group.name;

interface Copy { index: number; group: string; path: string }

/** The witness copy in n's store of consumer `c` of stream `s` (u64 index | u32 crc | group name). */
function copyOf(n: JsNode, s: string, c: string): Copy | undefined {
  const files = filesMatching(n.dir, new RegExp(`/streams/${s}/obs/${c}/raft-witness\\.idx$`));
  if (files.length === 0) return undefined;
  const b = readFileSync(files[0]!);
  if (b.length < 12) return undefined;
  return { index: b.readUInt32LE(0) + b.readUInt32LE(4) * 2 ** 32, group: b.subarray(12).toString(), path: files[0]! };
}

/** Every server's copy names the group and is a lower bound of its durable index, above half of it. */
function copiesTrack(nodes: JsNode[], s: string, c: string, atLeast: number): Copy[] | undefined {
  const out: Copy[] = [];
  for (const n of nodes) {
    const copy = copyOf(n, s, c);
    const cg = cgOf(n, s, c);
    if (!copy || !cg) return undefined;
    const durable = cg.node.status().durableIndex;
    if (copy.group !== groupOf(n, s, c) || copy.index < atLeast || copy.index > durable || durable >= 2 * copy.index) return undefined;
    out.push(copy);
  }
  return out;
}

/** Fetch and acknowledge (ack sync) `count` messages of `s` > `c`; returns their stream sequences. */
async function consume(nc: NatsConnection, s: string, c: string, count: number): Promise<number[]> {
  const cons = await jetstream(nc).consumers.get(s, c);
  const got: number[] = [];
  await waitFor(async () => {
    await fetchOnce(cons, { max_messages: count - got.length, expires: 2000 }, async (m) => {
      got.push(m.seq);
      assert.ok(await m.ackAck(), `ack of ${m.seq} confirmed`);
    });
    return got.length >= count;
  }, `${count} messages of ${s} > ${c} delivered and acknowledged`, 30_000);
  return got;
}

async function addDurable(jsm: JetStreamManager, s: string): Promise<void> {
  await jsm.consumers.add(s, { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 60_000_000_000 });
}

test('consumer group witness copy: in the consumer store, raised as the log doubles, gone with the consumer; a recreated consumer is new', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add({ name: 'WC', subjects: ['wc.>'], num_replicas: 3 });
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 200; i++) await js.publish('wc.x', `m${i}`);
    await addDurable(jsm, 'WC');
    await settle(nodes);
    const first = groupOf(nodes[0]!, 'WC', 'D')!;

    assert.deepEqual(await consume(ncs[2]!, 'WC', 'D', 10), Array.from({ length: 10 }, (_x, i) => i + 1));
    let copies: Copy[] | undefined;
    await waitFor(() => (copies = copiesTrack(nodes, 'WC', 'D', 1)) !== undefined, 'a copy naming the group on every replica', 30_000);
    const before = copies!.map((x) => x.index);
    // More than doubles the log: every copy is raised to at least twice what it was.
    await consume(ncs[2]!, 'WC', 'D', 90);
    await waitFor(() => (copies = copiesTrack(nodes, 'WC', 'D', 2 * Math.max(...before))) !== undefined, 'every copy raised past twice its first value', 30_000);
    for (const n of nodes) assert.equal(cgOf(n, 'WC', 'D')!.node.status().stateLost, false, `${n.name}: not lost state`);
    const paths = copies!.map((x) => x.path);
    const groupDirs = nodes.map((n) => cgOf(n, 'WC', 'D')!.dir);

    // Deleted: the copy goes with the consumer's store, the group directory with the group.
    assert.ok(await jsm.consumers.delete('WC', 'D'));
    await waitFor(() => nodes.every((n) => cgOf(n, 'WC', 'D') === undefined) && paths.every((p) => !existsSync(dirname(p))) &&
      groupDirs.every((d) => !existsSync(d)), 'the consumer store, its copy and the group directory removed everywhere', 30_000);

    // Created again under the same name: a new group, no lost state, delivery from the beginning.
    await addDurable(jsm, 'WC');
    await settle(nodes);
    const second = groupOf(nodes[0]!, 'WC', 'D')!;
    assert.notEqual(second, first, 'a new group');
    assert.deepEqual(await consume(ncs[0]!, 'WC', 'D', 3), [1, 2, 3], 'the new consumer starts from the beginning');
    await waitFor(() => copiesTrack(nodes, 'WC', 'D', 1) !== undefined, 'a copy naming the new group on every replica', 30_000);
    for (const n of nodes) assert.equal(cgOf(n, 'WC', 'D')!.node.status().stateLost, false, `${n.name}: the recreated consumer is not lost state`);

    // A memory stream's consumer has no store directory, so no copy.
    await jsm.streams.add({ name: 'WM', subjects: ['wm.>'], num_replicas: 3, storage: StorageType.Memory });
    await addDurable(jsm, 'WM');
    await settle(nodes);
    await consume(ncs[1]!, 'WC', 'D', 1);
    const wm = groupOf(nodes[0]!, 'WM', 'D')!;
    for (const n of nodes) {
      assert.ok(cgOf(n, 'WM', 'D'), `${n.name} runs the memory stream's consumer`);
      for (const f of filesMatching(n.dir, /raft-witness\.idx$/)) assert.ok(!readFileSync(f).subarray(12).equals(Buffer.from(wm)), `${n.name}: no copy of ${wm} (${f})`);
    }
  } finally {
    await stopAll(nodes, ncs, root);
  }
});

test('consumer group witness copy: a stream scaled R3 -> R1 -> R3 drops it with the group, and its consumer leads again with its acks', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const nc = ncs[0]!;
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'WS', subjects: ['ws.>'], num_replicas: 3 });
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 60; i++) await js.publish('ws.x', `m${i}`);
    await addDurable(jsm, 'WS');
    await settle(nodes);
    await consume(ncs[2]!, 'WS', 'D', 20);
    await waitFor(() => copiesTrack(nodes, 'WS', 'D', 1) !== undefined, 'a copy on every replica', 30_000);

    const cfg = (await jsm.streams.info('WS')).config;
    await jsm.streams.update('WS', { ...cfg, num_replicas: 1 });
    await settle(nodes);
    const holder = await pollUntil(() => nodes.find((n) => metaOf(n).state.stream('$G', 'WS')?.sa.group.peers.includes(metaOf(n).id)), 'the R1 holder', 30_000);
    await waitFor(() => nodes.every((n) => cgOf(n, 'WS', 'D') === undefined), 'no consumer group left after the scale-down', 30_000);
    assert.equal(copyOf(holder, 'WS', 'D'), undefined, `${holder.name}: the R1 consumer's store keeps no copy of the removed group`);
    assert.equal((await jsm.consumers.info('WS', 'D')).ack_floor.stream_seq, 20, 'R1: ack floor kept');

    await jsm.streams.update('WS', { ...cfg, num_replicas: 3 });
    await settle(nodes);
    await waitFor(async () => {
      const ci = await jsm.consumers.info('WS', 'D').catch(() => undefined);
      return ci?.cluster?.leader !== undefined && ci.cluster.leader !== '';
    }, 'a consumer leader after the scale-up', 60_000);
    assert.equal((await jsm.consumers.info('WS', 'D')).ack_floor.stream_seq, 20, 'R3 again: ack floor kept');
    assert.deepEqual(await consume(ncs[2]!, 'WS', 'D', 5), [21, 22, 23, 24, 25], 'delivery continues after the acknowledged messages');
    for (const n of nodes) {
      const cg = cgOf(n, 'WS', 'D');
      if (cg) assert.equal(cg.node.status().stateLost, false, `${n.name}: not lost state`);
    }
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
