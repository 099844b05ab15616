// A stream with a durable consumer scaled from R1 to R3 while servers crash, on a 3-server tsnats
// cluster of child processes. Until the old holder's consumer state is committed in the new group,
// it is the only copy: the new replicas must not elect a leader among themselves (it would start
// from an empty state and redeliver acknowledged messages), not even after a kill -9 and restart,
// and the old holder must keep its state across a kill -9 (consumer-seed.ts).
//
// The old holder is frozen (SIGSTOP) while the scale-up is committed, so that the new replicas
// start their consumer replicas without it; they are then given longer than their largest
// election timeout (shortened for these tests, js-short-elections.ts) to do what they
// must not. Afterwards: the durable continues exactly after its last acknowledged message, and
// every message not acknowledged is still delivered.
// (tsnats only: the crash windows are ours; nats-server 2.9.10 has its own.)
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { JsCluster, SYS, apiRequest, pollUntil, skipReason, type JsNode } from './js-cluster-harness.js';
import { consumeAcked, ownClusterName, publishAcked, waitSettled, type InfoResp } from './js-repl-scale-helpers.js';
import { ELECTION_WINDOW_MS, shortElections } from './js-short-elections.js';
import { delay } from '../helpers/wait.js';

shortElections();

/** The consumer raft group directories (`C-*`, in the system account's `_js_`) a node holds. */
function consumerGroupDirs(n: JsNode): string[] {
  const root = join(n.storeDir, 'jetstream');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((acc) => {
    const js = join(root, acc, '_js_');
    return existsSync(js) ? readdirSync(js).filter((d) => d.startsWith('C-')) : [];
  });
}

/** A consumer group directory not among `had` (those of the streams of earlier tests). */
function hasNewConsumerGroup(n: JsNode, had: Set<string>): boolean {
  return consumerGroupDirs(n).some((d) => !had.has(d));
}

/** The server a test froze (SIGSTOP); resumed after the test whatever happened. */
let frozen: JsNode | undefined;

function freeze(n: JsNode): void {
  n.proc!.kill('SIGSTOP');
  frozen = n;
}

function thaw(): void {
  if (frozen?.alive) frozen.proc!.kill('SIGCONT');
  frozen = undefined;
}

describe('R1 -> R3 consumer seeding under kill -9 on a 3-server tsnats cluster', { skip: skipReason('tsnats') }, () => {
  let c: JsCluster;
  before(async () => {
    c = await JsCluster.start({ impl: 'tsnats', size: 3, clusterName: ownClusterName() });
    await c.waitMetaLeader({ peers: 3 });
  });
  afterEach(async () => {
    thaw();
    for (const n of c.nodes) if (!n.alive) await c.restart(n);
  });
  after(async () => {
    thaw();
    await c?.shutdown();
  });

  /**
   * An R1 stream `name` with 10 acknowledged messages and durable D that acknowledged 1..4; the
   * meta leader is moved off the stream's server (which the test then freezes). Returns that server.
   */
  async function setup(name: string): Promise<JsNode> {
    const nc = await c.connect(c.nodes[0]!);
    const cfg = { name, subjects: [name.toLowerCase()], num_replicas: 1 };
    const created = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.CREATE.${name}`, cfg);
    assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
    const cons = await apiRequest<InfoResp>(nc, `$JS.API.CONSUMER.CREATE.${name}.D`, { stream_name: name, config: { durable_name: 'D', ack_policy: 'explicit' } });
    assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
    await publishAcked(nc, name.toLowerCase(), 1, 10);
    await consumeAcked(nc, name, 'D', 1, 4);
    const holder = c.node((await waitSettled(nc, `$JS.API.STREAM.INFO.${name}`, 1)).cluster!.leader!);
    if ((await c.metaLeader()) === holder) {
      const sys = await c.connect(c.nodes.find((n) => n !== holder)!, SYS);
      await apiRequest(sys, '$JS.API.META.LEADER.STEPDOWN');
      await c.waitMetaLeader({ not: holder.name });
    }
    return holder;
  }

  /** Freeze the holder and scale the stream to R3 through another server; wait for the new replicas' consumer groups. */
  async function scaleUpWithoutHolder(name: string, holder: JsNode): Promise<{ nc: NatsConnection; joiners: JsNode[] }> {
    const joiners = c.nodes.filter((n) => n !== holder);
    const nc = await c.connect(joiners[0]!);
    const had = joiners.map((j) => new Set(consumerGroupDirs(j)));
    freeze(holder);
    // The seed answers this update; frozen, it cannot: only the commit is waited for (below).
    await apiRequest(nc, `$JS.API.STREAM.UPDATE.${name}`, { name, subjects: [name.toLowerCase()], num_replicas: 3 }, { waitMs: 0 });
    await pollUntil(() => (joiners.every((j, i) => hasNewConsumerGroup(j, had[i]!)) ? true : undefined), 'consumer replicas on the new servers', 30_000, 20);
    return { nc, joiners };
  }

  /** The durable continues at 5 and delivers 5..10, each once, on all three servers. */
  async function assertResumed(nc: NatsConnection, name: string): Promise<void> {
    await waitSettled(nc, `$JS.API.STREAM.INFO.${name}`, 3, [], 60_000);
    const ci = await waitSettled(nc, `$JS.API.CONSUMER.INFO.${name}.D`, 3, [], 60_000);
    assert.equal(ci.ack_floor?.stream_seq, 4, JSON.stringify(ci));
    await consumeAcked(nc, name, 'D', 5, 6);
  }

  test('the old holder frozen during the scale-up, then killed -9 and restarted: the new replicas wait for it', async () => {
    const holder = await setup('SK1');
    const { joiners } = await scaleUpWithoutHolder('SK1', holder);
    await delay(ELECTION_WINDOW_MS);
    await c.kill(holder);
    await c.restart(holder);
    await assertResumed(await c.connect(joiners[1]!), 'SK1');
  });

  test('a new replica killed -9 and restarted before the seed state arrived: it still waits for it', async () => {
    const holder = await setup('SK2');
    const { joiners } = await scaleUpWithoutHolder('SK2', holder);
    await c.kill(joiners[1]!);
    await c.restart(joiners[1]!);
    await delay(ELECTION_WINDOW_MS);
    thaw();
    await assertResumed(await c.connect(joiners[0]!), 'SK2');
  });

  test('the old holder killed -9 as soon as its consumer replica started, and restarted: its state is kept', async () => {
    const holder = await setup('SK3');
    const nc = await c.connect(c.nodes.find((n) => n !== holder)!);
    const had = new Set(consumerGroupDirs(holder));
    await apiRequest(nc, '$JS.API.STREAM.UPDATE.SK3', { name: 'SK3', subjects: ['sk3'], num_replicas: 3 }, { waitMs: 0 });
    await pollUntil(() => (hasNewConsumerGroup(holder, had) ? true : undefined), 'the seed consumer replica', 30_000, 5);
    await c.kill(holder);
    await c.restart(holder);
    await assertResumed(nc, 'SK3');
  });
});
