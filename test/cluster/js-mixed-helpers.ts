// Shared pieces of the mixed-cluster (nats-server 2.9.10 + tsnats) tests of replicated streams and
// consumers: the two mixes, moving a group's leadership to a chosen server with stepdowns, and
// waiting for each server's own replica state (its /jsz, js-repl-snapshot-helpers.ts localState).
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { JsCluster, SYS, apiRequest, pollUntil, type ApiReply, type Impl, type JsNode } from './js-cluster-harness.js';
import { localState } from './js-repl-snapshot-helpers.js';

export const MIXES: { label: string; impls: Impl[] }[] = [
  { label: '2 nats-server + 1 tsnats', impls: ['nats-server', 'nats-server', 'tsnats'] },
  { label: '1 nats-server + 2 tsnats', impls: ['nats-server', 'tsnats', 'tsnats'] },
];

export interface ApiError { code: number; err_code: number; description: string }
export interface ClusterBlock { name?: string; leader?: string; replicas?: { name: string; current: boolean; offline?: boolean }[] }
export interface StreamInfo {
  type: string;
  error?: ApiError;
  config?: { name: string; num_replicas: number };
  cluster?: ClusterBlock;
  state?: { messages: number; first_seq: number; last_seq: number };
}

/** The cluster block in a canonical form: leader plus the sorted names of the current replicas. */
function clusterKey(ci: ClusterBlock | undefined): string {
  const reps = (ci?.replicas ?? []).filter((r) => r.current && !r.offline).map((r) => r.name).sort();
  return `${ci?.name}|${ci?.leader}|${reps.join(',')}`;
}

/**
 * STREAM.INFO (or CONSUMER.INFO when `consumer` is given) through every server: exactly one reply each,
 * a leader, all other replicas current, the same cluster block everywhere. Returns the leader's answer.
 */
export async function infoEverywhere<T extends { error?: ApiError; cluster?: ClusterBlock }>(
  c: JsCluster, ncs: NatsConnection[], stream: string, consumer?: string,
): Promise<T> {
  const subject = consumer === undefined ? `$JS.API.STREAM.INFO.${stream}` : `$JS.API.CONSUMER.INFO.${stream}.${consumer}`;
  let last = '';
  return pollUntil(async () => {
    const rs = await Promise.all(c.nodes.map((n) => apiRequest<T>(ncs[n.index]!, subject, undefined, { waitMs: 3000 })));
    last = rs.map((r, i) => `${c.nodes[i]!.name}: ${JSON.stringify(r.all)}`).join('\n');
    for (const [i, r] of rs.entries()) {
      assert.ok(r.all.length <= 1, `one reply to ${subject} via ${c.nodes[i]!.name} (${c.nodes[i]!.impl}): ${JSON.stringify(r.all)}`);
    }
    if (rs.some((r) => r.first === undefined || r.first.error !== undefined || !r.first.cluster?.leader)) return undefined;
    const keys = rs.map((r) => clusterKey(r.first!.cluster));
    if (keys.some((k) => k !== keys[0])) return undefined;
    if ((rs[0]!.first!.cluster!.replicas ?? []).filter((x) => x.current).length !== c.nodes.length - 1) return undefined;
    return rs[0]!.first!;
  }, `the same ${subject} from every server, all replicas current`, 30_000, 200).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\nlast answers:\n${last}`);
  });
}

export async function streamInfoEverywhere(c: JsCluster, ncs: NatsConnection[], stream: string): Promise<StreamInfo> {
  return infoEverywhere<StreamInfo>(c, ncs, stream);
}

/**
 * Step the group's leader down (STREAM.LEADER.STEPDOWN, or CONSUMER.LEADER.STEPDOWN with `consumer`)
 * until `target` leads: 2.9.10 takes no preferred peer, so the new leader is a random current peer.
 */
export async function leadGroup(c: JsCluster, ncs: NatsConnection[], target: JsNode, stream: string, consumer?: string): Promise<JsNode> {
  const what = consumer === undefined ? `STREAM.LEADER.STEPDOWN.${stream}` : `CONSUMER.LEADER.STEPDOWN.${stream}.${consumer}`;
  let info = await infoEverywhere(c, ncs, stream, consumer);
  for (let i = 0; info.cluster!.leader !== target.name; i++) {
    assert.ok(i < 30, `${target.name} does not lead after ${i} stepdowns`);
    const via = c.nodes[i % c.nodes.length]!;
    const r = await apiRequest<{ success?: boolean; error?: ApiError }>(ncs[via.index]!, `$JS.API.${what}`);
    assert.equal(r.all.length, 1, `one reply to ${what} via ${via.name} (${via.impl}): ${JSON.stringify(r.all)}`);
    assert.equal(r.first!.success, true, `${what} via ${via.name} (${via.impl}): ${JSON.stringify(r.first)}`);
    const old = info.cluster!.leader;
    await pollUntil(async () => {
      const x = await apiRequest<{ cluster?: ClusterBlock }>(ncs[via.index]!, consumer === undefined
        ? `$JS.API.STREAM.INFO.${stream}` : `$JS.API.CONSUMER.INFO.${stream}.${consumer}`, undefined, { settleMs: 0, waitMs: 2000 });
      const l = x.first?.cluster?.leader;
      return l && l !== old ? true : undefined;
    }, `a leader of ${stream}${consumer ? `.${consumer}` : ''} other than ${old}`, 30_000, 100);
    info = await infoEverywhere(c, ncs, stream, consumer);
  }
  return c.node(info.cluster!.leader!);
}

export const leadStream = (c: JsCluster, ncs: NatsConnection[], stream: string, target: JsNode): Promise<JsNode> =>
  leadGroup(c, ncs, target, stream);

/** Wait until every server's own replica of `stream` holds messages 1..count (or has the state `want`). */
export async function replicaStates(c: JsCluster, stream: string, count: number, want?: { messages: number; last_seq: number }): Promise<void> {
  const w = want ?? { messages: count, last_seq: count };
  await Promise.all(c.nodes.map(async (n) => {
    let seen = '';
    await pollUntil(async () => {
      const st = await localState(c, n, stream);
      seen = JSON.stringify(st);
      return st && st.messages === w.messages && st.last_seq === w.last_seq ? true : undefined;
    }, `${w.messages} messages up to ${w.last_seq} in ${n.name}'s (${n.impl}) replica of ${stream}`).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; last state ${seen}`);
    });
  }));
}

/** Run `fn`; when it fails, add the tail of every node's log (minus route chatter) to the error. */
export async function withLogs<T>(c: JsCluster, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const logs = c.nodes.map((n) => `==== ${n.name} (${n.impl})\n${n.log().split('\n')
      .filter((l) => /\[(WRN|ERR)\]|leader|RAFT|catch/i.test(l) && !/route/i.test(l)).slice(-25).join('\n')}`).join('\n');
    (e as Error).message += `\n${logs}`;
    throw e;
  }
}

/** Step the meta leader down (system account) until a server of `kind` leads (2.9.10 takes no placement tags). */
export async function leadMeta(c: JsCluster, sys: NatsConnection, kind: Impl, opts: { notName?: string } = {}): Promise<JsNode> {
  let leader = await c.waitMetaLeader();
  for (let i = 0; leader.impl !== kind || leader.name === opts.notName; i++) {
    assert.ok(i < 30, `no ${kind} meta leader after ${i} stepdowns`);
    const r = await apiRequest(sys, '$JS.API.META.LEADER.STEPDOWN');
    assert.equal(r.all.length, 1, 'one reply to META.LEADER.STEPDOWN');
    assert.deepEqual(r.first, { type: 'io.nats.jetstream.api.v1.meta_leader_stepdown_response', success: true });
    leader = await c.waitMetaLeader({ not: leader.name });
  }
  return leader;
}

/**
 * STREAM.CREATE, retried while the meta leader answers 10005 (no suitable peers): a new leader places
 * only on servers whose statsz it has heard (nats-server) or whose `$JSC.PEER.INFO` (tsnats), which
 * can trail the meta group's forming by a moment.
 */
export async function createStream<T extends { error?: ApiError } = StreamInfo>(
  nc: NatsConnection, cfg: { name: string } & Record<string, unknown>,
): Promise<ApiReply<T>> {
  return pollUntil(async () => {
    const r = await apiRequest<T>(nc, `$JS.API.STREAM.CREATE.${cfg.name}`, cfg);
    return r.first?.error?.err_code === 10005 ? undefined : r;
  }, `STREAM.CREATE ${cfg.name} placed`, 30_000, 250);
}

/** A 3-server mixed cluster (`impls` per server), a client on every server and a system-account client on the first. */
export async function startMixed(impls: Impl[]): Promise<{ c: JsCluster; ncs: NatsConnection[]; sys: NatsConnection }> {
  const c = await JsCluster.start({ impl: 'nats-server', size: 3, impls });
  const ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
  const sys = await c.connect(c.nodes[0]!, SYS);
  return { c, ncs, sys };
}
