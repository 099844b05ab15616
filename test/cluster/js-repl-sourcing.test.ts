// Mirrors and sources in a tsnats cluster whose origin is led by another server: the sourcing
// stream's leader follows the origin through a `direct` consumer that the origin's leader
// creates (sourcing.ts, source-remote.ts). R1 origin, mirror and source each on their own
// server (placed by tag); then R3 origin, mirror and source with the mirror's and the source's
// leader killed (-9) while the origin takes messages: the new leaders continue from their own
// stores, and both copies end complete, in order, without duplicates or gaps.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { JsCluster, pollUntil, streamInfoWithLeader, type JsNode } from './js-cluster-harness.js';
import { shortElections } from './js-short-elections.js';

// Elections after each kill take 1.5-3 s instead of 4-9 s; what is checked does not depend on it.
shortElections();

let c: JsCluster;
before(async () => {
  c = await JsCluster.start({ impl: 'tsnats', size: 3, tags: [['a'], ['b'], ['c']] });
});
after(async () => {
  await c?.shutdown();
});

const on = (tag: string): never => ({ tags: [tag] }) as never;

/** Payloads of `stream` in order, with the sourced header's origin sequence when `sourced`. */
async function payloads(nc: NatsConnection, stream: string): Promise<string[]> {
  const js = jetstream(nc);
  const oc = await js.consumers.get(stream);
  const info = await oc.info();
  const out: string[] = [];
  if (info.num_pending === 0) return out;
  for await (const m of await oc.fetch({ max_messages: info.num_pending, expires: 10_000 })) {
    out.push(m.string());
    if (out.length === info.num_pending) break;
  }
  return out;
}

async function waitCount(jsm: JetStreamManager, stream: string, n: number, what: string): Promise<void> {
  await pollUntil(async () => {
    try {
      return (await jsm.streams.info(stream)).state.messages === n ? true : undefined;
    } catch {
      return undefined;
    }
  }, what, 60_000, 100);
}

function nodeNamed(name: string): JsNode {
  return c.nodes.find((n) => n.name === name)!;
}

test('R1 mirror and source of an R1 stream on another server', async () => {
  const nc = await c.connect(c.nodes[0]!);
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'O1', subjects: ['o1.>'], placement: on('a') });
    const js = jetstream(nc);
    for (let i = 1; i <= 50; i++) await js.publish(`o1.${i % 5}`, `m${i}`);
    await jsm.streams.add({ name: 'M1', mirror: { name: 'O1' }, placement: on('b') });
    await jsm.streams.add({ name: 'S1', subjects: [], sources: [{ name: 'O1', filter_subject: 'o1.1' }], placement: on('c') });
    for (let i = 51; i <= 100; i++) await js.publish(`o1.${i % 5}`, `m${i}`);
    await waitCount(jsm, 'M1', 100, 'the mirror complete');
    await waitCount(jsm, 'S1', 20, 'the source complete');
    const m = await jsm.streams.info('M1');
    assert.equal(m.cluster?.leader, 'n2');
    assert.equal(m.state.first_seq, 1);
    assert.equal(m.state.last_seq, 100);
    assert.equal(m.mirror?.lag, 0);
    assert.equal(m.mirror?.error, undefined);
    const got = await jsm.streams.getMessage('M1', { seq: 37 });
    assert.equal(got?.subject, 'o1.2');
    assert.equal(got?.string(), 'm37');
    assert.deepEqual(await payloads(nc, 'S1'), Array.from({ length: 20 }, (_x, i) => `m${i * 5 + 1}`));
    // The origin's direct consumers are internal: not listed.
    assert.deepEqual(await jsm.consumers.list('O1').next(), []);
  } finally {
    await nc.close();
  }
});

test('R3 mirror and source of an R3 stream: kill -9 of their leaders mid-stream loses and repeats nothing', async () => {
  let nc = await c.connect(c.nodes[0]!);
  const opened: NatsConnection[] = [nc];
  try {
    let jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'O3', subjects: ['o3.>'], num_replicas: 3 });
    await jsm.streams.add({ name: 'M3', mirror: { name: 'O3' }, num_replicas: 3 });
    await jsm.streams.add({ name: 'S3', subjects: [], sources: [{ name: 'O3' }], num_replicas: 3 });
    /** A client on a running server other than `avoid` (the one about to be killed). */
    const reconnect = async (avoid?: string): Promise<void> => {
      const n = c.nodes.find((x) => x.alive && x.name !== avoid)!;
      nc = await c.connect(n);
      opened.push(nc);
      jsm = await jetstreamManager(nc);
    };
    const TOTAL = 300;
    let sent = 0;
    const publish = async (upTo: number): Promise<void> => {
      for (; sent < upTo; sent++) {
        // A publish that fails while a leader moves is retried with the same id (deduplicated).
        await pollUntil(async () => {
          try {
            await jetstream(nc).publish(`o3.${sent % 7}`, `p${sent + 1}`, { msgID: `id-${sent + 1}` });
            return true;
          } catch {
            return undefined;
          }
        }, `publish ${sent + 1}`, 60_000, 100);
      }
    };
    await publish(100);
    await waitCount(jsm, 'M3', 100, 'mirror at 100');
    const mirrorLeader = (await streamInfoWithLeader<{ cluster?: { leader?: string } }>(nc, 'M3')).cluster!.leader!;
    // Kill the mirror's leader while the origin keeps taking messages.
    await reconnect(mirrorLeader);
    const rest = publish(200);
    const victim = nodeNamed(mirrorLeader);
    await c.kill(victim);
    await rest;
    await streamInfoWithLeader(nc, 'M3', mirrorLeader);
    await c.restart(victim);
    // Then the source's leader.
    const sourceLeader = (await streamInfoWithLeader<{ cluster?: { leader?: string } }>(nc, 'S3')).cluster!.leader!;
    await reconnect(sourceLeader);
    const rest2 = publish(TOTAL);
    const victim2 = nodeNamed(sourceLeader);
    await c.kill(victim2);
    await rest2;
    await streamInfoWithLeader(nc, 'S3', sourceLeader);
    await c.restart(victim2);
    await waitCount(jsm, 'O3', TOTAL, 'origin complete');
    await waitCount(jsm, 'M3', TOTAL, 'mirror complete');
    await waitCount(jsm, 'S3', TOTAL, 'source complete');
    const o = await jsm.streams.info('O3');
    const m = await jsm.streams.info('M3');
    assert.equal(m.state.first_seq, o.state.first_seq);
    assert.equal(m.state.last_seq, o.state.last_seq);
    const expected = Array.from({ length: TOTAL }, (_x, i) => `p${i + 1}`);
    assert.deepEqual(await payloads(nc, 'M3'), expected);
    assert.deepEqual(await payloads(nc, 'S3'), expected);
  } finally {
    for (const x of opened) await x.close();
  }
});

test('R3 mirror of an R1 stream whose server is killed -9 and restarted: the mirror resumes', async () => {
  let nc = await c.connect(nodeNamed('n2'));
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'O4', subjects: ['o4.>'], placement: on('a') });
    await jsm.streams.add({ name: 'M4', mirror: { name: 'O4' }, num_replicas: 3 });
    for (let i = 1; i <= 20; i++) await jetstream(nc).publish(`o4.${i}`, `q${i}`);
    await waitCount(jsm, 'M4', 20, 'mirror at 20');
    const holder = nodeNamed('n1');
    await c.kill(holder);
    await c.restart(holder);
    await nc.close();
    nc = await c.connect(nodeNamed('n2'));
    const jsm2 = await jetstreamManager(nc);
    await streamInfoWithLeader(nc, 'O4');
    for (let i = 21; i <= 40; i++) await jetstream(nc).publish(`o4.${i}`, `q${i}`);
    await waitCount(jsm2, 'M4', 40, 'mirror at 40 after the origin came back');
    const m = await jsm2.streams.info('M4');
    assert.equal(m.state.last_seq, 40);
    assert.equal(m.mirror?.error, undefined);
    assert.deepEqual(await payloads(nc, 'M4'), Array.from({ length: 40 }, (_x, i) => `q${i + 1}`));
  } finally {
    await nc.close();
  }
});
