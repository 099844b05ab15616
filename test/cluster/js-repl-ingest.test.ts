// A replicated stream takes publishes on its leader only, as nats-server subscribes a stream's
// subjects on the stream leader only (stream.go setLeader): a publish through any server crosses
// one route to the leader instead of being routed to every replica and dropped by all but one.
// The subscription follows the leadership (stepdown) and comes back everywhere on a scale-down to R1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { waitFor } from './cluster-helpers.js';
import { connectAll, jsOf, metaOf, requestAll, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { replicaMsgs, waitPlacement } from './js-repl-helpers.js';

const j = (s: string): Record<string, any> => JSON.parse(s) as Record<string, any>;

function groupLeader(nodes: JsNode[], stream: string): JsNode | undefined {
  return nodes.find((n) => metaOf(n).streamGroups.get('$G', stream)?.isLeader);
}

/** Servers whose JetStream client subscribes `subject` (a stream's publish intake). */
function ingestOn(nodes: JsNode[], subject: string): string[] {
  return nodes.filter((n) => {
    const jsa = jsOf(n).jsAccount('$G');
    return jsa !== undefined && jsa.account.sublist.match(subject).psubs.some((s) => s.owner === jsa.client);
  }).map((n) => n.name);
}

/** Every server sees interest in `subject` (its own or a route's), so a publish through it reaches the stream. */
function interestEverywhere(nodes: JsNode[], subject: string): boolean {
  return nodes.every((n) => (jsOf(n).jsAccount('$G')?.account.sublist.match(subject).psubs.length ?? 0) > 0);
}

test('repl: an R3 stream subscribes its subjects on its leader only, through stepdown and scale-down to R1', async () => {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const cfg = JSON.stringify({ name: 'I', subjects: ['i.>'], num_replicas: 3, storage: 'file' });
    const created = await requestAll(ncs[0]!, nodes, '$JS.API.STREAM.CREATE.I', cfg);
    assert.equal(j(created[0]!).did_create, true, created[0]);
    await waitFor(() => groupLeader(nodes, 'I') !== undefined, 'a stream leader');
    const leader = groupLeader(nodes, 'I')!;
    await waitFor(() => interestEverywhere(nodes, 'i.x'), 'the leader\'s interest on every server');
    assert.deepEqual(ingestOn(nodes, 'i.x'), [leader.name], 'only the leader subscribes the stream subjects');

    // Publishes through every server are stored once, at consecutive sequences, on every replica.
    const seqs: number[] = [];
    for (let k = 0; k < 12; k++) seqs.push((await jetstream(ncs[k % 3]!).publish(`i.${k}`, `m${k}`)).seq);
    assert.deepEqual(seqs, Array.from({ length: 12 }, (_, i) => i + 1));
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'I').length === 12), 'every replica has 12 messages');

    // Stepdown: the subscription moves with the leadership.
    const sd = await requestAll(ncs[0]!, nodes, '$JS.API.STREAM.LEADER.STEPDOWN.I');
    assert.equal(j(sd[0]!).success, true, sd[0]);
    await waitFor(() => { const l = groupLeader(nodes, 'I'); return l !== undefined && l !== leader; }, 'a new stream leader');
    const next = groupLeader(nodes, 'I')!;
    await waitFor(() => ingestOn(nodes, 'i.x').join() === next.name, 'intake on the new leader only');
    await waitFor(() => interestEverywhere(nodes, 'i.x'), 'the new leader\'s interest on every server');
    for (let k = 0; k < 3; k++) assert.equal((await jetstream(ncs[k]!).publish('i.after', `a${k}`)).seq, 13 + k);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'I').length === 15), 'post-stepdown messages everywhere');
    for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'I'), replicaMsgs(nodes[0]!, 'I'));

    // Scale-down to R1: the server that keeps the stream takes publishes whoever led it.
    const jsm = await jetstreamManager(ncs[0]!);
    const cur = await jsm.streams.info('I');
    await jsm.streams.update('I', { ...cur.config, num_replicas: 1 });
    await waitFor(() => nodes.filter((n) => jsOf(n).jsAccount('$G')?.streams.has('I')).length === 1, 'one replica left');
    const keeper = nodes.find((n) => jsOf(n).jsAccount('$G')?.streams.has('I'))!;
    await waitFor(() => ingestOn(nodes, 'i.x').join() === keeper.name, 'intake on the R1 stream\'s server');
    await waitFor(() => interestEverywhere(nodes, 'i.x'), 'its interest on every server');
    assert.equal((await jetstream(ncs[0]!).publish('i.r1', 'one')).seq, 16);
  } finally {
    await stopAll(nodes, ncs, root);
  }
});
