// Helpers for the stream snapshot / compaction / catch-up tests on tsnats child-process clusters.
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type StreamConfig } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { FatalError, JsCluster, pollUntil, streamInfoWithLeader, type JsNode } from './js-cluster-harness.js';
import { readReplicaOffline } from '../../bench/chaos/offline.js';

/**
 * Small compaction thresholds for the child servers (read once by raft-snapshot-policy.ts;
 * children inherit the environment): a snapshot whenever the group WAL passes 32 KiB.
 */
export const SMALL_SNAPSHOTS: Record<string, string> = {
  TSNATS_STREAM_SNAPSHOT_WAL_BYTES: String(32 * 1024),
  TSNATS_STREAM_SNAPSHOT_MIN_GAP_MS: '0',
  TSNATS_STREAM_SNAPSHOT_CHECK_MS: '50',
  TSNATS_STREAM_SNAPSHOT_INTERVAL_MS: '600000',
};

/** Run `fn` with `env` set in process.env (child servers started meanwhile inherit it), then restore it. */
export async function withEnv<T>(env: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

/** Start a 3-node tsnats cluster with `env` set for its children. */
export function startWithEnv(env: Record<string, string>): Promise<JsCluster> {
  return withEnv(env, () => JsCluster.start({ impl: 'tsnats', size: 3 }));
}

/** Restart a node with `env` set for its child. */
export function restartWithEnv(c: JsCluster, n: JsNode, env: Record<string, string>): Promise<void> {
  return withEnv(env, () => c.restart(n));
}

export const PAD = 'x'.repeat(200);
/** Payload of message i: its key before '|' (what readReplicaOffline reports), then padding. */
export const payloadOf = (i: number): string => `k${i}|${PAD}`;

/** Publish messages from..to (inclusive), `window` at a time, and check each PubAck's sequence. */
export async function publishRange(nc: NatsConnection, stream: string, from: number, to: number, window = 32): Promise<void> {
  const js = jetstream(nc, { timeout: 20_000 });
  for (let i = from; i <= to; i += window) {
    const acks = [];
    for (let k = i; k <= Math.min(to, i + window - 1); k++) {
      acks.push(js.publish(`${stream.toLowerCase()}.${k % 5}`, payloadOf(k), { msgID: `id-${k}`, expect: { streamName: stream } })
        .then((a) => assert.equal(a.seq, k, `PubAck of message ${k}`)));
    }
    await Promise.all(acks);
  }
}

/**
 * Create an R3 stream (`extra`: more config, e.g. allow_direct); retried while the meta leader cannot
 * place it yet (10005: it has not heard every peer's statsz).
 */
export async function createR3(nc: NatsConnection, stream: string, extra: Partial<StreamConfig> = {}): Promise<void> {
  const jsm = await jetstreamManager(nc, { timeout: 20_000 });
  await pollUntil(async () => {
    try {
      await jsm.streams.add({ name: stream, subjects: [`${stream.toLowerCase()}.>`], num_replicas: 3, duplicate_window: 120_000_000_000, ...extra });
      return true;
    } catch (e) {
      if ((e as { code?: number }).code === 10005) return undefined;
      throw new FatalError((e as Error).message);
    }
  }, `R3 stream ${stream} placed`, 30_000, 200);
}

/** The stream's leader as STREAM.INFO reports it. */
export async function streamLeader(c: JsCluster, nc: NatsConnection, stream: string): Promise<JsNode> {
  const jsm = await jetstreamManager(nc, { timeout: 5_000 });
  return pollUntil(async () => {
    const si = await jsm.streams.info(stream);
    const name = si.cluster?.leader;
    return name ? c.node(name) : undefined;
  }, `a leader for ${stream}`, 30_000, 100);
}

interface LocalState { messages: number; first_seq: number; last_seq: number; lost?: unknown }

/** This server's own replica state (/jsz?streams=true reports the local store). */
export async function localState(c: JsCluster, n: JsNode, stream: string): Promise<LocalState | undefined> {
  const j = await c.monitor<{ account_details?: { name: string; stream_detail?: { name: string; state: LocalState }[] }[] }>(n, '/jsz?streams=true');
  for (const a of j.account_details ?? []) {
    for (const s of a.stream_detail ?? []) if (s.name === stream) return s.state;
  }
  return undefined;
}

/** Wait until every running node's replica holds messages 1..n (no gaps). */
export async function waitReplicas(c: JsCluster, stream: string, n: number, timeoutMs = 60_000): Promise<void> {
  let seen = '';
  await pollUntil(async () => {
    const states = await Promise.all(c.nodes.filter((x) => x.alive).map(async (x) => [x.name, await localState(c, x, stream)] as const));
    seen = JSON.stringify(states);
    return states.every(([, s]) => s && s.messages === n && s.last_seq === n && s.first_seq === 1) ? true : undefined;
  }, `every replica of ${stream} holding 1..${n}`, timeoutMs, 100).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}; last seen ${seen}`);
  });
}

/** Files under dir (recursive) whose path matches re. */
export function filesMatching(dir: string, re: RegExp): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      const p = join(d, name);
      let isDir = false;
      try {
        isDir = statSync(p).isDirectory();
      } catch {
        continue;
      }
      if (isDir) walk(p);
      else if (re.test(p)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** Highest raft index of the snapshot files matching `re` in n's store (0 when none). */
function snapshotIndexOf(n: JsNode, re: RegExp): number {
  let max = 0;
  for (const f of filesMatching(n.storeDir, re)) {
    const idx = Number(f.split('.').pop());
    if (idx > max) max = idx;
  }
  return max;
}

/** Highest raft index of a stream group snapshot in n's store (0 when none). */
export function streamSnapshotIndex(n: JsNode): number {
  return snapshotIndexOf(n, /\/_js_\/S-[^/]+\/snapshots\/snap\.\d+\.\d+$/);
}

/** Raft index of n's meta group snapshot (0 when none). */
export function metaSnapshotIndex(n: JsNode): number {
  return snapshotIndexOf(n, /\/_js_\/_meta_\/snapshots\/snap\.\d+\.\d+$/);
}

/** Bytes of the stream groups' WAL segments in n's store. */
export function streamWalBytes(n: JsNode): number {
  let total = 0;
  for (const f of filesMatching(n.storeDir, /\/_js_\/S-[^/]+\/.*\.wal$/)) total += statSync(f).size;
  return total;
}

/** Read every node's stopped replica offline and check all hold exactly messages 1..n. */
export async function assertReplicasIdentical(c: JsCluster, stream: string, n: number): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'tsnats-snap-offline-'));
  try {
    let ref: string | undefined;
    for (const node of c.nodes) {
      assert.ok(!node.alive, `${node.name} stopped before the offline read`);
      const r = await readReplicaOffline(node.storeDir, join(scratch, node.name), stream);
      assert.ok(r, `${node.name} has a replica of ${stream}`);
      assert.equal(r.count, n, `${node.name}: message count`);
      for (let i = 1; i <= n; i++) assert.equal(r.msgs.get(i), `k${i}`, `${node.name}: message ${i}`);
      const key = JSON.stringify([...r.msgs]);
      if (ref === undefined) ref = key;
      else assert.equal(key, ref, `${node.name} identical to ${c.nodes[0]!.name}`);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Flip one bit (0x10) of the byte at `at` in `file` (damage a stopped replica's store). */
export function flipBit(file: string, at: number): void {
  const fd = openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0x10;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/**
 * The second half of the "one follower's raft log damaged while down, then the leader killed"
 * attacks: `behind` missed messages 101..150, `damaged` acknowledged them with `leader` and then lost
 * its log (the caller's damage). The leader is killed, the two followers restarted; `damaged` must
 * report its loss (`lostLog` in its log) and the two must not elect a leader that lacks 101..150: any
 * PubAck while the leader is down follows 150. Then the leader returns, 10 more are published, and
 * every replica holds the same messages.
 */
export async function assertLostLogKeepsAcks(
  c: JsCluster, stream: string, subject: string, nodes: { leader: JsNode; damaged: JsNode; behind: JsNode }, lostLog: RegExp,
): Promise<void> {
  const { leader, damaged, behind } = nodes;
  await c.kill(leader);
  await c.restart(damaged);
  await c.restart(behind);
  await pollUntil(async () => (lostLog.test(damaged.log()) ? true : undefined), 'the damaged replica reports its lost log', 60_000, 100);
  await c.waitMetaLeader();
  // Probe for longer than an election takes (a leader among the two would answer within it).
  const nc = await c.connect(behind);
  const js = jetstream(nc, { timeout: 2_000 });
  const early = await pollUntil(async () => {
    try {
      return await js.publish(subject, payloadOf(151), { msgID: 'id-151', expect: { streamName: stream } });
    } catch {
      return undefined;
    }
  }, 'a PubAck while the intact replica is down', 20_000, 250).catch(() => undefined);
  if (early) assert.equal(early.seq, 151, 'PubAck while the intact replica is down follows the last acknowledged message');
  await c.restart(leader);
  await c.waitMetaLeader();
  const si = await streamInfoWithLeader<{ state: { last_seq: number }; cluster?: { leader?: string } }>(nc, stream);
  assert.ok(si.state.last_seq >= 150, `stream ends at ${si.state.last_seq}, acknowledged up to 150`);
  const end = si.state.last_seq;
  await publishRange(nc, stream, end + 1, end + 10);
  await waitReplicas(c, stream, end + 10);
  await nc.close();
  for (const n of c.nodes) await c.stop(n);
  await assertReplicasIdentical(c, stream, end + 10);
}
