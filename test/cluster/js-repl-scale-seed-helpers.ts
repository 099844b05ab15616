// Helpers for the R1 -> R3 stream seeding kill tests (js-repl-scale-seed-stream-kill.test.ts,
// js-repl-scale-seed-recover-kill.test.ts): a tsnats cluster whose seeds hold their snapshot back
// (the test-only fault injection of stream-group.ts), an R1 stream with acknowledged messages and
// an R1 durable, where a node's stream group stands, and the final checks that nothing
// acknowledged was lost.
import { after, afterEach, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { JsCluster, SYS, apiRequest, pollUntil, type JsNode } from './js-cluster-harness.js';
import { assertAllReadable, consumeAcked, ownClusterName, publishAcked, waitSettled, type InfoResp } from './js-repl-scale-helpers.js';
import {
  SMALL_SNAPSHOTS, createR3, publishRange, restartWithEnv, streamSnapshotIndex, waitReplicas, withEnv,
} from './js-repl-snapshot-helpers.js';

/** raft's lost-state marker (src/raft/log/meta-files.ts): gone once a leader's entry reached the node. */
const STATE_LOST_FILE = 'state-lost';

/**
 * Register hooks that shut down the cluster a test passed to `use` after that test (and after the
 * suite, should it stop before). Each test starts its own.
 */
export function clusterPerTest(): { use(cl: JsCluster): JsCluster } {
  let current: JsCluster | undefined;
  const down = async (): Promise<void> => {
    await current?.shutdown();
    current = undefined;
  };
  afterEach(down);
  after(down);
  return { use: (cl) => (current = cl) };
}

/** A 3-server tsnats cluster whose scale-up seeds hold their snapshot back (nodes restarted later run without it). */
export function startHeldCluster(): Promise<JsCluster> {
  return withEnv({ TSNATS_FAULT_DELAY_SEED_SNAPSHOT_MS: '600000' }, () => JsCluster.start({ impl: 'tsnats', size: 3, clusterName: ownClusterName() }));
}

/** The stream raft group directories (`S-*`, in the system account's `_js_`) a node holds. */
function streamGroupDirs(n: JsNode): string[] {
  const root = join(n.storeDir, 'jetstream');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((acc) => {
    const js = join(root, acc, '_js_');
    return existsSync(js) ? readdirSync(js).filter((d) => d.startsWith('S-')).map((d) => join(js, d)) : [];
  });
}

/**
 * Remove the node's replica of `stream` (its raft group directory and its store) while it is
 * down: the state a crash leaves before the replica was created.
 */
export function dropReplica(n: JsNode, stream: string): void {
  for (const d of streamGroupDirs(n)) rmSync(d, { recursive: true, force: true });
  rmSync(join(n.storeDir, 'jetstream', 'APP', 'streams', stream), { recursive: true, force: true });
}

/** The node has started its replica of the (one) replicated stream. */
export function holdsStreamGroup(n: JsNode): boolean {
  return streamGroupDirs(n).length === 1;
}

/** The node has a stream group directory and has heard from a leader (raft left lost-state mode). */
export function heardFromLeader(n: JsNode): boolean {
  const dirs = streamGroupDirs(n);
  return dirs.length === 1 && readdirSync(dirs[0]!).length > 1 && !existsSync(join(dirs[0]!, STATE_LOST_FILE));
}

/**
 * An R1 stream `name` (subject: its name in lower case) with 10 acknowledged messages `m1..m10`;
 * with `durable`, an R1 durable D created first that acknowledged 1..4. Returns the holder.
 */
export async function r1StreamWithMessages(cl: JsCluster, nc: NatsConnection, name: string, durable = false): Promise<JsNode> {
  const subject = name.toLowerCase();
  const created = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.CREATE.${name}`, { name, subjects: [subject], num_replicas: 1 });
  assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
  if (durable) {
    const cons = await apiRequest<InfoResp>(nc, `$JS.API.CONSUMER.CREATE.${name}.D`, { stream_name: name, config: { durable_name: 'D', ack_policy: 'explicit' } });
    assert.equal(cons.first?.error, undefined, JSON.stringify(cons.first));
  }
  await publishAcked(nc, subject, 1, 10);
  if (durable) await consumeAcked(nc, name, 'D', 1, 4);
  return cl.node((await waitSettled(nc, `$JS.API.STREAM.INFO.${name}`, 1)).cluster!.leader!);
}

/** Move the meta leadership to `to` (a stepdown naming it), unless it leads already. */
export async function moveMetaLeader(cl: JsCluster, to: JsNode): Promise<void> {
  const now = await cl.metaLeader();
  if (now === to) return;
  const sys = await cl.connect(now, SYS);
  const r = await apiRequest<{ error?: unknown }>(sys, '$JS.API.META.LEADER.STEPDOWN', { placement: { preferred: to.name } });
  assert.equal(r.first?.error, undefined, JSON.stringify(r.first));
  await cl.waitMetaLeader({ not: now.name });
  assert.equal((await cl.metaLeader()).name, to.name);
}

/**
 * Every acknowledged message on the leader and on each replica; the next publish is sequence 11.
 * With `durable`: D kept its acknowledgements (floor 4) and delivers 5..10, each once.
 */
export async function assertKept(cl: JsCluster, name: string, via: JsNode, durable = false): Promise<void> {
  const nc = await cl.connect(via);
  const info = await waitSettled(nc, `$JS.API.STREAM.INFO.${name}`, 3, [], 60_000);
  assert.equal(info.state?.messages, 10, `the leader (${info.cluster?.leader}) holds the acknowledged messages: ${JSON.stringify(info)}`);
  assert.equal(info.state?.last_seq, 10, JSON.stringify(info));
  await assertAllReadable(nc, name, 10);
  await waitReplicas(cl, name, 10);
  if (durable) {
    const ci = await waitSettled(nc, `$JS.API.CONSUMER.INFO.${name}.D`, 3, [], 60_000);
    assert.equal(ci.ack_floor?.stream_seq, 4, JSON.stringify(ci));
    await consumeAcked(nc, name, 'D', 5, 6);
  }
  await publishAcked(nc, name.toLowerCase(), 11, 11);
  await waitReplicas(cl, name, 11);
}

/**
 * A 3-server tsnats cluster (its shutdown registered with `use`) with an R3 stream C of 400
 * messages whose third replica `lagging` (neither the stream leader nor the meta leader) was
 * restarted behind the leader's compacted log and is held in its `$JSC` catch-up while the file
 * `hold` exists (TSNATS_FAULT_HOLD_CATCHUP_FILE). `current` is the other follower; `nc` is
 * connected to the stream leader.
 */
export async function heldCatchupCluster(t: TestContext, use: (cl: JsCluster) => JsCluster): Promise<{
  cl: JsCluster; nc: NatsConnection; leader: JsNode; lagging: JsNode; current: JsNode; hold: string;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-hold-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const hold = join(dir, 'hold');
  writeFileSync(hold, '');
  const env = { ...SMALL_SNAPSHOTS, TSNATS_FAULT_HOLD_CATCHUP_FILE: hold };
  const cl = use(await withEnv(env, () => JsCluster.start({ impl: 'tsnats', size: 3, clusterName: ownClusterName() })));
  await cl.waitMetaLeader({ peers: 3 });
  const nc0 = await cl.connect(cl.nodes[0]!);
  await createR3(nc0, 'C');
  await publishRange(nc0, 'C', 1, 50);
  const leader = cl.node((await waitSettled(nc0, '$JS.API.STREAM.INFO.C', 3)).cluster!.leader!);
  const meta = await cl.metaLeader();
  const lagging = cl.nodes.find((n) => n !== leader && n !== meta)!;
  const current = cl.nodes.find((n) => n !== leader && n !== lagging)!;
  const nc = await cl.connect(leader);
  await cl.stop(lagging);
  const laggingIndex = streamSnapshotIndex(lagging);
  await publishRange(nc, 'C', 51, 400);
  await pollUntil(() => (streamSnapshotIndex(leader) > laggingIndex + 5 ? true : undefined), 'the leader compacted past the stopped replica');
  await restartWithEnv(cl, lagging, env);
  await cl.waitMetaLeader({ peers: 3 });
  await pollUntil(() => (/catching up from the leader/.test(lagging.log()) ? true : undefined), 'the restarted replica in its $JSC catch-up');
  return { cl, nc, leader, lagging, current, hold };
}
