// An acknowledged ack survives kill -9 of every server. A replicated consumer writes its
// state.dat at most once a second (its raft log, fsync'ed on a quorum before an ack-sync reply,
// holds the state), so this kills all three servers right after the ack-sync replies, before
// that file could be written, restarts them and checks that nothing acknowledged comes back.
// The second test pins down the order that guarantee rests on: no confirmation before a quorum
// of the consumer's group has the ack (the leader's own copy is not enough).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JsCluster, pollUntil, streamInfoWithLeader, type JsNode } from './js-cluster-harness.js';

let c: JsCluster;
/** Servers a test froze (SIGSTOP): resumed whatever happened. */
let frozen: JsNode[] = [];
before(async () => {
  c = await JsCluster.start({ impl: 'tsnats', size: 3 });
});
after(async () => {
  thaw();
  await c?.shutdown();
});

function thaw(): void {
  for (const n of frozen) if (n.alive) n.proc!.kill('SIGCONT');
  frozen = [];
}

test('R3 consumer: acks confirmed by ack-sync survive kill -9 of all three servers', async () => {
  let nc = await c.connect(c.nodes[0]!);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'KA', subjects: ['ka.>'], num_replicas: 3 });
  await streamInfoWithLeader(nc, 'KA');
  const js = jetstream(nc);
  for (let i = 1; i <= 20; i++) await js.publish(`ka.${i}`, `m${i}`);
  await jsm.consumers.add('KA', { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
  const cons = await js.consumers.get('KA', 'D');
  const acked: number[] = [];
  for await (const m of await cons.fetch({ max_messages: 10, expires: 5000 })) {
    assert.ok(await m.ackAck(), `ack of ${m.seq} confirmed`);
    acked.push(m.seq);
  }
  assert.deepEqual(acked, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await nc.close();

  // All three at once, right after the last confirmation.
  await Promise.all(c.nodes.map((n) => c.kill(n)));
  // One after another: each finds the ones already back through their new route ports.
  for (const n of c.nodes) await c.restart(n);
  nc = await c.connect(c.nodes[1]!);
  const jsm2 = await jetstreamManager(nc, { checkAPI: false });
  const ci = await pollUntil(async () => {
    try {
      const info = await jsm2.consumers.info('KA', 'D');
      return info.cluster?.leader ? info : undefined;
    } catch {
      return undefined;
    }
  }, 'the consumer with a leader after the restart', 60_000, 200);
  assert.equal(ci.ack_floor.stream_seq, 10, 'ack floor after kill -9 of every server');
  const got: number[] = [];
  const cons2 = await jetstream(nc).consumers.get('KA', 'D');
  await pollUntil(async () => {
    for await (const m of await cons2.fetch({ max_messages: 20, expires: 1500 })) {
      got.push(m.seq);
      m.ack();
    }
    return new Set(got).size >= 10 ? true : undefined;
  }, 'messages 11..20 delivered', 60_000, 0);
  assert.ok(got.every((s) => s > 10), `nothing acknowledged delivered again: ${got.join(',')}`);
  await nc.close();
});

test('R3 consumer: no ack-sync confirmation while the consumer leader cannot reach a quorum', async () => {
  const nc0 = await c.connect(c.nodes[0]!);
  const jsm = await jetstreamManager(nc0);
  await jsm.streams.add({ name: 'KQ', subjects: ['kq.>'], num_replicas: 3 });
  await streamInfoWithLeader(nc0, 'KQ');
  const js0 = jetstream(nc0);
  for (let i = 1; i <= 3; i++) await js0.publish(`kq.${i}`, `m${i}`);
  await jsm.consumers.add('KQ', { durable_name: 'Q', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000 });
  const leaderName = await pollUntil(async () => (await jsm.consumers.info('KQ', 'Q')).cluster?.leader || undefined,
    'a consumer leader', 30_000, 100);
  await nc0.close();
  // The client talks to the consumer leader itself, so freezing the other two cuts only the group.
  const leader = c.nodes.find((n) => n.name === leaderName)!;
  const nc = await c.connect(leader);
  try {
    const cons = await jetstream(nc).consumers.get('KQ', 'Q');
    const msgs = [];
    for await (const m of await cons.fetch({ max_messages: 2, expires: 5000 })) msgs.push(m);
    assert.deepEqual(msgs.map((m) => m.seq), [1, 2]);
    assert.ok(await msgs[0]!.ackAck(), 'confirmed while the group is whole');
    frozen = c.nodes.filter((n) => n !== leader);
    for (const n of frozen) n.proc!.kill('SIGSTOP');
    // Only the leader has this ack: a confirmation now would be a promise a crash could break.
    await assert.rejects(msgs[1]!.ackAck({ timeout: 1500 }), 'no confirmation without a quorum');
  } finally {
    thaw();
    await nc.close();
  }
});
