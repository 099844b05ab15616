// The checks after the load: the cluster is healed and every node restarted,
// then the stream is held to what the publishers were told.
//  1. the stream recovers: a leader and every replica current;
//  2. every replica's own store state (from its monitoring endpoint, /jsz)
//     agrees: messages, first and last sequence;
//  3. the stream's content read from every replica — through R1 ephemeral push
//     consumers, each reading the store of the server it is placed on (its
//     cluster.leader says which; new ones are made until every peer was read) —
//     holds every acknowledged key exactly once, at its acknowledged sequence,
//     and no key twice, and the contents are identical;
//  4. the durable consumer, drained, has delivered every acknowledged message.
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { api, createInbox, CONSUMER, STREAM, streamSeqOfAck, type ConsumerInfo, type StreamInfo } from './api.js';
import type { ChaosCluster } from './cluster.js';
import { streamInfo } from './faults.js';
import { keyOf, pause, pullOnce, type Ledger } from './workload.js';

export interface VerifyResult {
  violations: string[];
  notes: string[];
  /** the stream's peers after recovery (empty when it did not recover) */
  peers: string[];
}

interface JszStream { name: string; state?: { messages: number; first_seq: number; last_seq: number; num_deleted?: number }; cluster?: { leader?: string } }
interface Jsz { account_details?: { name: string; stream_detail?: JszStream[] }[] }

/** Each responsive node's own view of the stream (its local store), or undefined when it has none. */
async function replicaStates(c: ChaosCluster): Promise<Map<string, JszStream['state'] | undefined>> {
  const out = new Map<string, JszStream['state'] | undefined>();
  for (const n of c.nodes) {
    if (!n.responsive) continue;
    try {
      const j = await c.monitor<Jsz>(n, '/jsz?accounts=true&streams=true', 3000);
      const s = j.account_details?.find((a) => a.name === 'APP')?.stream_detail?.find((x) => x.name === STREAM);
      out.set(n.name, s?.state);
    } catch {
      out.set(n.name, undefined);
    }
  }
  return out;
}

const fmt = (s: JszStream['state'] | undefined) => (s === undefined ? 'none' : `msgs=${s.messages} first=${s.first_seq} last=${s.last_seq}`);

/** Read the whole stream through an R1 ephemeral push consumer; returns where it was read and seq -> key. */
async function readStream(
  nc: NatsConnection, lastSeq: number, timeoutMs: number, skip: Set<string>,
): Promise<{ at: string; msgs: Map<number, string>; dupSeq: number[] } | undefined> {
  const inbox = createInbox();
  const msgs = new Map<number, string>();
  const dupSeq: number[] = [];
  const sub = nc.subscribe(inbox, {
    callback: (_e, m) => {
      const seq = streamSeqOfAck(m.reply);
      if (seq === undefined) return; // idle heartbeat / flow control
      if (msgs.has(seq)) dupSeq.push(seq);
      msgs.set(seq, keyOf(m.data));
    },
  });
  let at = '?';
  let name: string | undefined;
  try {
    await nc.flush();
    const ci = await api<ConsumerInfo>(nc, `$JS.API.CONSUMER.CREATE.${STREAM}`, {
      stream_name: STREAM,
      config: { deliver_subject: inbox, ack_policy: 'none', deliver_policy: 'all', num_replicas: 1, mem_storage: true, inactive_threshold: 30_000_000_000 },
    }, 5000);
    if (ci.error !== undefined) throw new Error(`reader consumer: ${JSON.stringify(ci.error)}`);
    name = ci.name;
    at = ci.cluster?.leader ?? '?';
    if (skip.has(at)) return undefined;
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    let stillSince = Date.now();
    // Done when the last sequence arrived, or nothing new came for 3 s (a store missing its tail).
    while (Date.now() < deadline) {
      if (lastSeq === 0 || msgs.has(lastSeq)) break;
      if (msgs.size !== last) {
        last = msgs.size;
        stillSince = Date.now();
      } else if (Date.now() - stillSince > 3000) break;
      await pause(50);
    }
  } finally {
    sub.unsubscribe();
    if (name !== undefined) await api(nc, `$JS.API.CONSUMER.DELETE.${STREAM}.${name}`, undefined, 3000).catch(() => undefined);
  }
  return { at, msgs, dupSeq };
}

export function digest(msgs: Map<number, string>): string {
  const h = createHash('sha256');
  for (const seq of [...msgs.keys()].sort((a, b) => a - b)) h.update(`${seq}:${msgs.get(seq)};`);
  return h.digest('hex').slice(0, 16);
}

export function checkContent(read: Map<number, string>, ledger: Ledger, where: string, v: string[]): void {
  const seen = new Map<string, number>();
  let lost = 0;
  let moved = 0;
  let twice = 0;
  for (const [seq, key] of read) {
    const prev = seen.get(key);
    if (prev !== undefined) {
      if (twice++ < 10) v.push(`${where}: key ${key} stored twice, at seq ${prev} and ${seq}`);
    } else seen.set(key, seq);
    if (!key.startsWith('?') && !ledger.sent.has(key)) v.push(`${where}: seq ${seq} holds ${key}, which no publisher sent`);
  }
  for (const a of ledger.acked.values()) {
    const at = read.get(a.seq);
    if (at === undefined) {
      if (lost++ < 10) v.push(`${where}: acknowledged ${a.key} missing at seq ${a.seq}${seen.has(a.key) ? ` (found at seq ${seen.get(a.key)})` : ''}`);
    } else if (at !== a.key) {
      if (moved++ < 10) v.push(`${where}: seq ${a.seq} acknowledged for ${a.key} holds ${at}`);
    }
  }
  if (lost > 10) v.push(`${where}: ${lost} acknowledged messages missing in all`);
  if (moved > 10) v.push(`${where}: ${moved} acknowledged sequences hold another message in all`);
  if (twice > 10) v.push(`${where}: ${twice} keys stored twice in all`);
}

export async function verify(c: ChaosCluster, nc: NatsConnection, ledger: Ledger, log: (m: string) => void): Promise<VerifyResult> {
  const v: string[] = [];
  const notes: string[] = [];

  // 1. recovery
  let si: StreamInfo | undefined;
  try {
    si = await (async () => {
      const deadline = Date.now() + 60_000;
      let last: StreamInfo | undefined;
      while (Date.now() < deadline) {
        last = await streamInfo(nc, 5000);
        const reps = last?.cluster?.replicas ?? [];
        if (last !== undefined && reps.every((r) => r.current === true && r.offline !== true)) return last;
        await pause(500);
      }
      throw new Error(`stream did not recover within 60 s: last info ${JSON.stringify(last?.cluster ?? 'none')}`);
    })();
  } catch (e) {
    v.push((e as Error).message);
    return { violations: v, notes, peers: [] };
  }
  const peers = [si.cluster!.leader!, ...(si.cluster!.replicas ?? []).map((r) => r.name)].sort();
  log(`recovered: leader ${si.cluster!.leader}, peers ${peers.join(',')}, state msgs=${si.state?.messages} last=${si.state?.last_seq}`);
  if (peers.length < 3) notes.push(`stream has ${peers.length} peers after the run (a peer-remove was not replaced)`);

  // 2. per-replica store state, given time to apply what was committed
  let states = await replicaStates(c);
  const agree = (m: Map<string, JszStream['state'] | undefined>) => {
    const ss = peers.map((p) => fmt(m.get(p)));
    return ss.every((s) => s === ss[0]) && ss[0] !== 'none';
  };
  const until = Date.now() + 30_000;
  while (!agree(states) && Date.now() < until) {
    await pause(500);
    states = await replicaStates(c);
  }
  const stateLine = peers.map((p) => `${p}: ${fmt(states.get(p))}`).join('; ');
  log(`replica states: ${stateLine}`);
  if (!agree(states)) v.push(`replicas differ (their own /jsz stream state, 30 s after recovery): ${stateLine}`);

  // 3. content of every replica's store
  const lastSeq = si.state?.last_seq ?? 0;
  const digests = new Map<string, string>();
  for (let round = 0; round < 24 && digests.size < peers.length; round++) {
    // nats-server places an R1 ephemeral on one of the stream's peers; every few rounds move the
    // leadership too, in case placement follows it
    if (round > 0 && round % 6 === 0) {
      await api(nc, `$JS.API.STREAM.LEADER.STEPDOWN.${STREAM}`, undefined, 5000).catch(() => undefined);
      await pause(500);
      if ((await streamInfo(nc, 20_000)) === undefined) {
        v.push('no stream leader within 20 s after a stepdown');
        break;
      }
    }
    let r;
    try {
      r = await readStream(nc, lastSeq, 60_000, new Set(digests.keys()));
      if (r === undefined) continue; // placed on a replica already read
    } catch (e) {
      notes.push(`read attempt ${round}: ${(e as Error).message}`);
      continue;
    }
    const where = `read at ${r.at}`;
    if (r.dupSeq.length > 0) v.push(`${where}: sequences delivered twice by a fresh consumer: ${r.dupSeq.slice(0, 5).join(',')}`);
    if (si.state !== undefined && r.msgs.size !== si.state.messages) notes.push(`${where}: read ${r.msgs.size} messages, stream info said ${si.state.messages}`);
    checkContent(r.msgs, ledger, where, v);
    digests.set(r.at, `${digest(r.msgs)} (${r.msgs.size} msgs)`);
    log(`${where}: ${r.msgs.size} messages, digest ${digests.get(r.at)}`);
  }
  const ds = new Set(digests.values());
  if (ds.size > 1) v.push(`replica contents differ: ${[...digests].map(([n, d]) => `${n}=${d}`).join(' ')}`);
  const unread = peers.filter((p) => !digests.has(p));
  if (unread.length > 0) notes.push(`no reader consumer was placed on: ${unread.join(',')} (its /jsz state was compared)`);

  // 4. drain the durable consumer
  const deadline = Date.now() + 60_000;
  let ci: ConsumerInfo | undefined;
  while (Date.now() < deadline) {
    await pullOnce(nc, ledger, 500, 1000).catch(() => 0);
    ci = await api<ConsumerInfo>(nc, `$JS.API.CONSUMER.INFO.${STREAM}.${CONSUMER}`, undefined, 3000).catch(() => undefined);
    if (ci !== undefined && ci.error === undefined && ci.num_pending === 0 && ci.num_ack_pending === 0) break;
  }
  log(`consumer: ${JSON.stringify({ pending: ci?.num_pending, ack_pending: ci?.num_ack_pending, redelivered: ci?.num_redelivered, delivered: ci?.delivered, ack_floor: ci?.ack_floor, leader: ci?.cluster?.leader })}`);
  if (ledger.redeliveredOther > 5) v.push(`consumer delivered ${ledger.redeliveredOther} sequences again with other contents in all`);
  const keySeqs = new Map<string, number[]>();
  for (const [seq, key] of ledger.delivered) {
    const l = keySeqs.get(key);
    if (l === undefined) keySeqs.set(key, [seq]);
    else l.push(seq);
  }
  let missing = 0;
  let elsewhere = 0;
  for (const a of ledger.acked.values()) {
    const seqs = keySeqs.get(a.key);
    if (seqs === undefined) {
      if (missing++ < 10) v.push(`consumer never delivered acknowledged ${a.key} (seq ${a.seq}); that seq came as ${ledger.delivered.get(a.seq) ?? 'nothing'}`);
    } else if (!seqs.includes(a.seq)) {
      if (elsewhere++ < 10) v.push(`consumer delivered acknowledged ${a.key} at seq ${seqs.join(',')}, not at its acknowledged seq ${a.seq}`);
    }
  }
  if (missing > 10) v.push(`consumer never delivered ${missing} acknowledged messages in all`);
  if (elsewhere > 10) v.push(`consumer delivered ${elsewhere} acknowledged messages at other sequences in all`);
  if (ci?.num_pending !== 0 || ci?.num_ack_pending !== 0) notes.push('durable consumer not fully drained within 60 s');
  return { violations: v, notes, peers };
}
