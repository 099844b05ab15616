// CONSUMER.CREATE requests for the same consumer that reach the meta leader while an earlier one is
// still being proposed. nats-server 2.9.10 marks the assignment pending at once and proposes every
// request, each answered once. tsnats answered the second "consumer already exists" (10013) when its
// config differed, and a create proposed just before its stream's removal left the consumer marked
// in flight for good: every later create of that name waited for an answer that never came.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { waitFor } from './cluster-helpers.js';
import { barrier, connectAll, metaOf, settle, startJsCluster, stopAll, type JsNode } from './js-meta-own-helpers.js';
import { fetchOnce, waitPlacement } from './js-repl-helpers.js';

const CONFIG = { durable_name: 'D', ack_policy: 'explicit', ack_wait: 60_000_000_000 };

type Reply = { error?: { err_code: number; description: string }; config?: { num_replicas: number; description?: string }; ack_floor?: { stream_seq: number } };

/**
 * Publish every request of `bodies` to `subject` back to back (one flush: they reach the meta
 * leader together) and collect every answer to each, after the cluster settled.
 */
async function burst(nc: NatsConnection, nodes: JsNode[], reqs: { subject: string; body: unknown }[]): Promise<Reply[][]> {
  const got: Reply[][] = reqs.map(() => []);
  const subs = reqs.map((_r, i) => {
    const inbox = `_INBOX.race.${i}.${Math.random().toString(36).slice(2)}`;
    return { inbox, sub: nc.subscribe(inbox, { callback: (_e, m) => { got[i]!.push(JSON.parse(m.string()) as Reply); } }) };
  });
  await nc.flush();
  reqs.forEach((r, i) => nc.publish(r.subject, r.body === undefined ? '' : JSON.stringify(r.body), { reply: subs[i]!.inbox }));
  await waitFor(() => got.every((g) => g.length > 0), 'an answer to every request', 30_000);
  await settle(nodes);
  await barrier(nc, nodes);
  for (const s of subs) s.sub.unsubscribe();
  return got;
}

/** The consumer's assignment, asserted the same on every server. */
function assignment(nodes: JsNode[], stream: string, name: string): { peers: string[]; cfg: Record<string, unknown> } {
  const all = nodes.map((n) => metaOf(n).state.stream('$G', stream)?.consumers.get(name));
  for (const ca of all) assert.deepEqual(ca, all[0], 'the same consumer assignment on every server');
  assert.ok(all[0], `${stream} > ${name} assigned`);
  return { peers: all[0]!.group.peers, cfg: all[0]!.consumer };
}

const createSubject = (stream: string, name: string): string => `$JS.API.CONSUMER.CREATE.${stream}.${name}`;

/** A 3-server in-process cluster, every server placeable, a client on each: `fn`, then everything stopped. */
async function withCluster(fn: (nodes: JsNode[], ncs: NatsConnection[], jsm: JetStreamManager) => Promise<void>): Promise<void> {
  const { nodes, root } = await startJsCluster(3);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    await fn(nodes, ncs, await jetstreamManager(ncs[0]!));
  } finally {
    await stopAll(nodes, ncs, root);
  }
}

test('meta: concurrent updates of one consumer, replica changes included, are each answered once and applied in turn', () => withCluster(async (nodes, ncs, jsm) => {
  const nc = ncs[0]!;
  await jsm.streams.add({ name: 'SC', subjects: ['sc.>'], num_replicas: 3 });
  const js = jetstream(ncs[1]!);
  for (let i = 1; i <= 10; i++) await js.publish('sc.x', `m${i}`);
  await jsm.consumers.add('SC', { ...CONFIG, ack_policy: AckPolicy.Explicit, num_replicas: 3 });
  const c = await jetstream(ncs[2]!).consumers.get('SC', 'D');
  const acked: number[] = [];
  await waitFor(async () => {
    await fetchOnce(c, { max_messages: 5 - acked.length, expires: 2000 }, async (m) => { acked.push(m.seq); await m.ackAck(); });
    return acked.length >= 5;
  }, 'five messages acknowledged', 30_000);
  await settle(nodes);

  // Two replica changes at once (R3 -> R1, R3 -> R2): the leader asks the consumer's leader
  // before it proposes either, so both are undecided together.
  for (const [a, b] of [[1, 2], [3, 1], [2, 3]] as const) {
    const replies = await burst(nc, nodes, [a, b].map((r) => ({
      subject: createSubject('SC', 'D'), body: { stream_name: 'SC', config: { ...CONFIG, num_replicas: r } },
    })));
    replies.forEach((r, i) => {
      assert.equal(r.length, 1, `one answer to the update to R${[a, b][i]}: ${JSON.stringify(r)}`);
      assert.equal(r[0]!.error, undefined, JSON.stringify(r[0]));
      assert.equal(r[0]!.config?.num_replicas, [a, b][i]);
      assert.equal(r[0]!.ack_floor?.stream_seq, 5, 'the ack state is kept');
    });
    // Applied in the order they came: the second one's replica count holds.
    const g = assignment(nodes, 'SC', 'D');
    assert.equal(g.peers.length, b, `R${a} then R${b}: R${b} assigned`);
    await waitFor(() => nodes.every((n) => {
      const cg = metaOf(n).streamGroups.get('$G', 'SC')?.consumers.get('D');
      if (!g.peers.includes(metaOf(n).id)) return cg === undefined;
      return cg !== undefined && cg.state().ackFloor.streamSeq === 5 && [...cg.node.peers()].sort().join() === [...g.peers].sort().join();
    }), `R${b}: each replica runs with the assigned peers at ack floor 5`, 30_000);
  }

  // Two config changes that keep the replica count: both applied, the later one last.
  const replies = await burst(nc, nodes, ['first', 'second'].map((d) => ({
    subject: createSubject('SC', 'D'), body: { stream_name: 'SC', config: { ...CONFIG, num_replicas: 3, description: d } },
  })));
  for (const r of replies) {
    assert.equal(r.length, 1, JSON.stringify(r));
    assert.equal(r[0]!.error, undefined, JSON.stringify(r[0]));
  }
  assert.deepEqual(replies.map((r) => r[0]!.config?.description), ['first', 'second']);
  assert.equal(assignment(nodes, 'SC', 'D').cfg.description, 'second');
  const info = await jsm.consumers.info('SC', 'D');
  assert.equal(info.config.description, 'second');
  assert.equal(info.ack_floor.stream_seq, 5);
  assert.equal(info.num_pending, 5);

  // A create with another config (action create) is still refused while one is in flight.
  const refused = await burst(nc, nodes, [
    { subject: createSubject('SC', 'D'), body: { stream_name: 'SC', config: { ...CONFIG, num_replicas: 3, description: 'third' } } },
    { subject: createSubject('SC', 'D'), body: { stream_name: 'SC', action: 'create', config: { ...CONFIG, num_replicas: 3, description: 'fourth' } } },
  ]);
  assert.equal(refused[0]!.length, 1);
  assert.equal(refused[0]![0]!.error, undefined, JSON.stringify(refused[0]));
  assert.equal(refused[1]!.length, 1);
  assert.equal(refused[1]![0]!.error?.err_code, 10148, JSON.stringify(refused[1]));
}));

test('meta: a consumer create proposed just before its stream is deleted does not block later creates of that name', () => withCluster(async (nodes, ncs, jsm) => {
  const nc = ncs[0]!;
  for (const round of [1, 2, 3]) {
    await jsm.streams.add({ name: 'SD', subjects: ['sd.>'], num_replicas: 3 });
    // The delete is proposed first; the creates still see the stream and are proposed (or
    // wait for the first) before the removal applies.
    const create = { subject: createSubject('SD', 'D'), body: { stream_name: 'SD', config: CONFIG } };
    const replies = await burst(nc, nodes, [{ subject: '$JS.API.STREAM.DELETE.SD', body: undefined }, create, create]);
    assert.equal(replies[0]!.length, 1, JSON.stringify(replies[0]));
    assert.equal(replies[0]![0]!.error, undefined, `round ${round}: delete ${JSON.stringify(replies[0])}`);
    // The one waiting for the first create is decided again: the stream is gone.
    assert.equal(replies[2]!.length, 1, JSON.stringify(replies[2]));
    assert.equal(replies[2]![0]!.error?.err_code, 10059, JSON.stringify(replies[2]));
    assert.ok(replies[1]!.length <= 1, JSON.stringify(replies[1]));
    await waitFor(() => nodes.every((n) => metaOf(n).state.stream('$G', 'SD') === undefined), 'SD removed everywhere');
  }
  // The stream again, and the consumer: created.
  await jsm.streams.add({ name: 'SD', subjects: ['sd.>'], num_replicas: 3 });
  const again = await burst(nc, nodes, [{ subject: createSubject('SD', 'D'), body: { stream_name: 'SD', config: CONFIG } }]);
  assert.equal(again[0]!.length, 1);
  assert.equal(again[0]![0]!.error, undefined, JSON.stringify(again[0]));
  assert.equal(assignment(nodes, 'SD', 'D').peers.length, 3);
}));
