// An acknowledged ack survives kill -9 of every server. A replicated consumer writes its
// state.dat at most once a second (its raft log, fsync'ed on a quorum before an ack-sync reply,
// holds the state), so this kills all three servers right after the ack-sync replies, before
// that file could be written, restarts them and checks that nothing acknowledged comes back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JsCluster, pollUntil, streamInfoWithLeader } from './js-cluster-harness.js';

let c: JsCluster;
before(async () => {
  c = await JsCluster.start({ impl: 'tsnats', size: 3 });
});
after(async () => {
  await c?.shutdown();
});

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
