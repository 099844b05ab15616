// R3 file streams on three servers of each kind (child processes of the acceptance-test harness,
// test/cluster/js-cluster-harness.ts, the same config file for both kinds):
//  - async publish of 128-byte messages, 256 unacknowledged, from a client on a follower of the
//    stream (the publish and its PubAck cross a route, as for two clients in three);
//  - a durable pull consumer (R3, explicit acks) draining what was published, acking every message;
//  - failover: kill -9 of the stream leader until a publish through a surviving server gets a PubAck
//    (the publish is retried with a short timeout); the killed server is restarted and the stream
//    back to three current replicas before the next sample. Reported: p50, with every sample in the note.
// R3_SYSCALLS=1 counts each server's fdatasync, socket and file writes over the publish part with
// `perf stat` (bench/lib/syscall-count.ts; Linux, perf and tracepoint access), per message.
// R3_TSNATS_SYNC=2m sets tsnats' jetstream sync_interval (its default is 'always': every store write
// fsync'ed; nats-server 2.9.10 has no such option and does not fsync per write); R3_PARTS=pub,consume,failover picks parts; R3_FAILOVERS=n sets the samples; R3_WARMUP=n sets the PubAcks before the timed part (default 100,000, for both kinds: the rate of a running server, after tsnats' JIT has tiered up; R3_WARMUP=10000 gives the figure of sessions 1-9; the CPU per message is printed for the whole run and for the timed part alone); R3_CHUNK=n prints it for every n PubAcks; R3_GRACEFUL_STOP=1 stops the
// servers with SIGTERM at the end (for NODE_OPTIONS=--cpu-prof profiles); R3_HEAP_SIGNAL=1 brackets each
// drain with SIGWINCH for bench/heap-sample-preload.cjs (HS_ON_SIGNAL=1: allocations of one drain).
// Consumer leader placement: nats-server 2.9.10 and tsnats name a random peer of a new consumer's
// group its preferred leader (raftGroup.setPreferred; placement.ts createGroupForConsumer). So the
// drain's cost depends on it (on the client's server deliveries need no route hop), so each kind
// drains once per placement, the leader moved there by stepdowns first: R3_CONSUMER_LEADER=client,stream
// (the default; 'third' is the server that is neither; 'any' keeps the first leader).
// When this process runs pinned (the runner pins the load generator to the last CPU), the servers are
// pinned to the other CPUs, as the single-server suites do.

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { BenchContext, BenchRow, BenchSuite } from '../lib/types.js';
import { cpuList, cpuSecondsOf, type ServerKind } from '../lib/servers.js';
import { RawConn, replyJson } from '../lib/conn.js';
import { median } from './core.js';
import { asyncPublish, jsApi, pullDrain } from '../lib/jetstream-load.js';
import { startSyscallCount, type CountedSyscall } from '../lib/syscall-count.js';
import { APP, JsCluster, pollUntil, type JsNode } from '../../test/cluster/js-cluster-harness.js';

const PAYLOAD_BYTES = 128;
const IN_FLIGHT = 256;
const FETCH_BATCH = 500;
const STREAM = 'R3';
/** How long the failover client waits for a PubAck before publishing again. */
const RETRY_MS = 250;

/** Where the drain's consumer leader is moved before the drain (see the header). */
type Placement = 'client' | 'stream' | 'third' | 'any';
const PLACEMENT_TEXT: Record<Placement, string> = {
  client: "on the client's server", stream: 'on the stream leader', third: 'on neither', any: 'where first elected',
};

function placements(): Placement[] {
  const raw = (process.env.R3_CONSUMER_LEADER ?? 'client,stream').split(',').map((p) => p.trim()).filter(Boolean);
  for (const p of raw) if (!(p in PLACEMENT_TEXT)) throw new Error(`R3_CONSUMER_LEADER: unknown placement '${p}'`);
  return raw as Placement[];
}

interface Figures { pubPerSec?: number; consumePerSec: Map<Placement, number>; failoverMs: number[]; electedMs: number[] }

export const suite: BenchSuite = {
  name: 'cluster-r3',
  description: 'R3 file stream on 3 servers: async publish 128B x 256 in flight, pull consume with acks, stream leader kill -9 -> PubAck',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const q = ctx.quick;
    const sizes = {
      // R3_WARMUP=n: PubAcks before the timing starts. tsnats' JIT needs ~100,000-160,000 messages to
      // reach its steady state, nats-server is flat from the start (BENCHMARKS.md "R3 async publish:
      // JIT warm-up"), so both kinds are timed after the same 100,000.
      pubWarmup: Number(process.env.R3_WARMUP ?? (q ? 2_000 : 100_000)),
      pubMeasured: q ? 30_000 : 200_000,
      pubMaxMs: q ? 5_000 : 15_000,
      drainMax: q ? 30_000 : 100_000,
      failovers: Number(process.env.R3_FAILOVERS ?? (q ? 3 : 5)),
    };
    const figures = new Map<ServerKind, Figures>();
    const notes: string[] = [];
    const only = process.env.R3_PARTS?.split(',');
    const where = placements();
    for (const kind of ctx.kinds) {
      const f: Figures = { consumePerSec: new Map(), failoverMs: [], electedMs: [] };
      figures.set(kind, f);
      try {
        await measure(ctx, kind, f, sizes, only, where);
      } catch (err) {
        notes.push(`${kind}: ${(err as Error).message.split('\n')[0]}`);
        ctx.log(`cluster-r3/${kind}: failed: ${(err as Error).stack}`);
      }
    }
    const pub = (kind: ServerKind) => figures.get(kind)?.pubPerSec ?? null;
    const consume = (kind: ServerKind, p: Placement) => figures.get(kind)?.consumePerSec.get(p) ?? null;
    const p50 = (kind: ServerKind) => {
      const s = figures.get(kind)?.failoverMs ?? [];
      return s.length ? median(s) : null;
    };
    const list = (xs: number[] | undefined) => [...(xs ?? [])].sort((a, b) => a - b).map((x) => x.toFixed(0)).join(', ') || 'none';
    const dist = ctx.kinds.map((k) => `${k} failover samples (ms): ${list(figures.get(k)?.failoverMs)}; leader-elected advisory seen after (ms): ${list(figures.get(k)?.electedMs)}`);
    const rows: BenchRow[] = [
      { name: `R3 file async pub ${PAYLOAD_BYTES}B, ${IN_FLIGHT} in flight`, unit: 'msgs/s', tsnats: pub('tsnats'), natsServer: pub('nats-server'), target: { kind: 'ratio-at-least', ratio: 1.5 } },
      ...where.map((p): BenchRow => ({
        name: `R3 pull consume (fetch ${FETCH_BATCH}, explicit ack), consumer leader ${PLACEMENT_TEXT[p]}`, unit: 'msgs/s',
        tsnats: consume('tsnats', p), natsServer: consume('nats-server', p), target: { kind: 'ratio-at-least', ratio: 1.0 },
      })),
      { name: 'R3 stream leader kill -9 -> next PubAck, p50', unit: 'ms', tsnats: p50('tsnats'), natsServer: p50('nats-server'), target: { kind: 'at-most', value: 2000 }, note: dist.join('; ') },
    ];
    if (notes.length) rows[0]!.note = notes.join('; ');
    return rows;
  },
};

/** varz in_msgs + out_msgs of every live server (clients, routes and internal traffic, raft included). */
async function serversMsgs(c: JsCluster): Promise<number> {
  return (await nodesMsgs(c)).reduce((a, b) => a + b, 0);
}

/** varz in_msgs + out_msgs of each server (0 for one not running). */
async function nodesMsgs(c: JsCluster): Promise<number[]> {
  return Promise.all(c.nodes.map(async (n) => {
    if (!n.alive) return 0;
    const v = await c.monitor<{ in_msgs?: number; out_msgs?: number }>(n, '/varz');
    return (v.in_msgs ?? 0) + (v.out_msgs ?? 0);
  }));
}

/** utime + stime of each server process (NaN for one not running), in seconds. */
function nodesCpuSeconds(c: JsCluster): number[] {
  return c.nodes.map((n) => (n.pid === undefined ? NaN : cpuSecondsOf(n.pid)));
}

/** Each server's CPU µs per message since `cpu0`, as "n1 (stream leader) 12.3" texts, and their sum. */
function perNode(c: JsCluster, cpu0: number[], count: number, leader: JsNode, follower: JsNode, consumerLeader?: JsNode): string[] & { totalUs: number } {
  const us = c.nodes.map((n, i) => (n.pid === undefined ? NaN : ((cpuSecondsOf(n.pid) - cpu0[i]!) * 1e6) / count));
  const roles = (n: JsNode) => [n === leader ? 'stream leader' : n === follower ? 'client' : '', n === consumerLeader ? 'consumer leader' : '']
    .filter(Boolean).join(', ');
  const texts = c.nodes.map((n, i) => `${n.name}${roles(n) ? ` (${roles(n)})` : ''} ${us[i]!.toFixed(1)}`);
  return Object.assign(texts, { totalUs: us.reduce((a, b) => a + b, 0) });
}

/**
 * Each server's system calls over the publish part, per published message, and how many messages
 * one fdatasync covered (a tsnats raft group commit; nats-server 2.9.10 does not fsync per write).
 */
function syscallText(c: JsCluster, counts: Map<number, Record<CountedSyscall, number>>, acked: number, leader: JsNode, follower: JsNode): string {
  return c.nodes.flatMap((n) => {
    const k = n.pid === undefined ? undefined : counts.get(n.pid);
    if (k === undefined) return [];
    const per = (x: number) => (x / acked).toFixed(3);
    const role = n === leader ? ' (stream leader)' : n === follower ? ' (client)' : '';
    const batch = k.fdatasync > 0 ? `, ${(acked / k.fdatasync).toFixed(0)} msgs per fdatasync` : '';
    return [`${n.name}${role} fdatasync ${per(k.fdatasync)}${batch}, read ${per(k.read)}, write ${per(k.write + k.writev)} (sockets and event-loop wake-ups), file pwrite ${per(k.pwrite64 + k.pwritev)}`];
  }).join('; ');
}

/** utime + stime of the cluster's live server processes, in seconds. */
function serversCpuSeconds(c: JsCluster): number {
  let s = 0;
  for (const n of c.nodes) if (n.pid !== undefined) s += cpuSecondsOf(n.pid);
  return s;
}

async function measure(
  ctx: BenchContext, kind: ServerKind, f: Figures,
  sizes: { pubWarmup: number; pubMeasured: number; pubMaxMs: number; drainMax: number; failovers: number },
  only: string[] | undefined, where: Placement[],
): Promise<void> {
  const want = (part: string) => only === undefined || only.includes(part);
  const c = await JsCluster.start({ impl: kind, size: 3, pollMs: 5, tsnatsSyncInterval: process.env.R3_TSNATS_SYNC });
  const serverCpus = serverCpuList();
  const pin = (n: JsNode) => {
    if (serverCpus && n.pid !== undefined) spawnSync('taskset', ['-a', '-c', '-p', serverCpus, String(n.pid)], { stdio: 'ignore' });
  };
  const conns: RawConn[] = [];
  const open = async (n: JsNode, name: string) => {
    const conn = await RawConn.open({ port: portOf(n), headers: true, name, user: APP.user, pass: APP.pass });
    conns.push(conn);
    return conn;
  };
  try {
    c.nodes.forEach(pin);
    await c.waitFullMesh();
    const control = await open(c.nodes[0]!, 'bench-r3-control');
    await jsApi(control, `$JS.API.STREAM.CREATE.${STREAM}`, {
      name: STREAM, subjects: ['r3.>'], storage: 'file', num_replicas: 3, retention: 'limits', discard: 'old',
      max_msgs: -1, max_bytes: -1, max_age: 0, max_msg_size: -1, duplicate_window: 120_000_000_000,
    }, 10_000);
    const leader = await streamLeader(c, control);
    const follower = c.nodes.find((n) => n !== leader)!;
    ctx.log(`cluster-r3/${kind}: stream leader ${leader.name}, clients on ${follower.name}`);

    let stored = 0;
    if (want('pub')) {
      const load = await open(follower, 'bench-r3-pub');
      const msgs0 = await serversMsgs(c);
      const cpu0 = serversCpuSeconds(c);
      const nodeCpu0 = nodesCpuSeconds(c);
      const syscalls = process.env.R3_SYSCALLS === '1'
        ? startSyscallCount(c.nodes.flatMap((n) => (n.pid === undefined ? [] : [n.pid])))
        : undefined;
      let warmCpu: number[] = [];
      // R3_CHUNK=n: server CPU per message of every n PubAcks, to see where the servers reach their steady state.
      const chunk = Number(process.env.R3_CHUNK ?? 0);
      let chunkCpu = nodeCpu0;
      const r = await asyncPublish(load, 'r3.x', PAYLOAD_BYTES, {
        inFlight: IN_FLIGHT, warmup: sizes.pubWarmup, measured: sizes.pubMeasured, maxMs: sizes.pubMaxMs, stallMs: 20_000,
        onWarm: () => { warmCpu = nodesCpuSeconds(c); },
        every: chunk > 0 ? chunk : undefined,
        onEvery: (acked) => {
          const p = perNode(c, chunkCpu, chunk, leader, follower);
          chunkCpu = nodesCpuSeconds(c);
          ctx.log(`cluster-r3/${kind}: PubAcks ${acked - chunk + 1}-${acked}: ${p.totalUs.toFixed(1)} µs of server CPU per message (${p.join(', ')})`);
        },
      });
      // Server CPU per message (warm-up included) judges a change better than msgs/s on a shared machine.
      const cpuUs = ((serversCpuSeconds(c) - cpu0) * 1e6) / r.acked;
      const per = perNode(c, nodeCpu0, r.acked, leader, follower);
      // The same over the timed part only (what a warmed-up server costs; the JIT's tier-up is excluded).
      const timed = r.acked - sizes.pubWarmup;
      const perTimed = warmCpu.length && timed > 0 ? perNode(c, warmCpu, timed, leader, follower) : undefined;
      // Messages the servers handled per publish (in + out over all three): routing hops, raft traffic, acks.
      const hops = ((await serversMsgs(c)) - msgs0) / r.acked;
      f.pubPerSec = r.perSec;
      stored = r.acked;
      if (syscalls) ctx.log(`cluster-r3/${kind}: system calls per published message: ${syscallText(c, await syscalls.stop(), r.acked, leader, follower)}`);
      ctx.log(`cluster-r3/${kind}: async publish ${Math.round(r.perSec)} msgs/s (${r.acked} acked), ${cpuUs.toFixed(1)} µs of server CPU per message (3 servers: ${per.join(', ')}), ${hops.toFixed(2)} server in+out msgs per message`);
      if (perTimed) ctx.log(`cluster-r3/${kind}: after the ${sizes.pubWarmup} warm-up PubAcks: ${perTimed.totalUs.toFixed(1)} µs of server CPU per message (${perTimed.join(', ')})`);
    }
    if (want('consume') && stored > 0) {
      const count = Math.min(stored, sizes.drainMax);
      const drainer = await open(follower, 'bench-r3-drain');
      const target: Record<Placement, JsNode | undefined> = {
        client: follower, stream: leader, third: c.nodes.find((n) => n !== leader && n !== follower), any: undefined,
      };
      // bench/heap-sample-preload.cjs with HS_ON_SIGNAL=1 in the servers: one allocation profile per drain.
      const heapSignal = kind === 'tsnats' && process.env.R3_HEAP_SIGNAL === '1';
      for (const p of where) {
        const config = { durable_name: 'drain', name: 'drain', ack_policy: 'explicit', deliver_policy: 'all', ack_wait: 30_000_000_000 };
        await jsApi(control, `$JS.API.CONSUMER.CREATE.${STREAM}.drain`, { stream_name: STREAM, config }, 10_000);
        const { node: cl, stepdowns } = await placeConsumerLeader(c, control, 'drain', target[p]);
        // Server CPU per consumed message, per server: unlike msgs/s it does not depend on how much of
        // the shared machine the servers got.
        if (heapSignal) signalNodes(c, 'SIGWINCH');
        const msgs0 = await nodesMsgs(c);
        const cpu0 = nodesCpuSeconds(c);
        const fromUs = monotonicUs();
        const perSec = await pullDrain(drainer, STREAM, 'drain', count, FETCH_BATCH, 20_000);
        const window = `${fromUs}-${monotonicUs()}`;
        if (heapSignal) signalNodes(c, 'SIGWINCH');
        f.consumePerSec.set(p, perSec);
        const per = perNode(c, cpu0, count, leader, follower, cl);
        // Messages each server handled per consumed message (in + out: deliveries, acks, raft traffic).
        const hops = (await nodesMsgs(c)).map((m, i) => ((m - msgs0[i]!) / count).toFixed(2)).join('/');
        ctx.log(`cluster-r3/${kind}: consumer leader ${cl.name} (${PLACEMENT_TEXT[p]}, ${stepdowns} stepdowns): consumed ${count} at ${Math.round(perSec)} msgs/s; server CPU us/msg ${per.totalUs.toFixed(1)} (${per.join(', ')}); in+out msgs per message ${hops}; profile window ${window}`);
        await jsApi(control, `$JS.API.CONSUMER.DELETE.${STREAM}.drain`, undefined, 10_000);
      }
    }
    for (const conn of conns.splice(0)) conn.close();

    if (want('failover')) {
      for (let i = 0; i < sizes.failovers; i++) {
        const { ms, electedMs } = await failoverSample(c, pin);
        f.failoverMs.push(ms);
        if (electedMs !== undefined) f.electedMs.push(electedMs);
        ctx.log(`cluster-r3/${kind}: failover ${i + 1}/${sizes.failovers}: PubAck ${ms.toFixed(0)} ms after the leader kill (leader elected advisory after ${electedMs?.toFixed(0) ?? '-'} ms)`);
      }
    }
  } finally {
    for (const conn of conns) conn.close();
    // With NODE_OPTIONS=--cpu-prof the servers write their profiles on a graceful exit only.
    if (process.env.R3_GRACEFUL_STOP === '1') for (const n of c.nodes) await c.stop(n);
    await c.shutdown();
  }
}

/** Kill -9 the stream leader; time until a publish through a survivor is acknowledged. Restarts the victim. */
async function failoverSample(c: JsCluster, pin: (n: JsNode) => void): Promise<{ ms: number; electedMs?: number }> {
  const any = c.nodes.find((n) => n.alive)!;
  const control = await RawConn.open({ port: portOf(any), headers: true, name: 'bench-r3-fo-control', user: APP.user, pass: APP.pass });
  let client: RawConn | undefined;
  let adv: RawConn | undefined;
  try {
    const leader = await streamLeader(c, control);
    const survivor = c.nodes.find((n) => n !== leader && n.alive)!;
    client = await RawConn.open({ port: portOf(survivor), headers: true, name: 'bench-r3-fo', user: APP.user, pass: APP.pass });
    const payload = Buffer.alloc(PAYLOAD_BYTES, 120);
    // When the new leader announces itself (both servers send this advisory): the election's share.
    let electedAt: number | undefined;
    adv = await RawConn.open({ port: portOf(survivor), headers: true, name: 'bench-r3-fo-adv', user: APP.user, pass: APP.pass });
    adv.onMsg = () => { electedAt ??= performance.now(); };
    adv.sub(`$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.${STREAM}`, 'elected');
    await adv.ping();
    // The client is connected and its interest known before the clock starts.
    await client.ping();
    const t0 = performance.now();
    await c.kill(leader);
    let ms = 0;
    for (;;) {
      try {
        const j = replyJson(await client.request('r3.f', payload, RETRY_MS));
        if (j.error === undefined && typeof j.seq === 'number') { ms = performance.now() - t0; break; }
      } catch {
        // no PubAck within RETRY_MS (no leader yet): publish again
      }
      if (performance.now() - t0 > 60_000) throw new Error('no PubAck within 60 s of the stream leader kill');
    }
    client.close();
    adv.close();
    control.close();
    await c.restart(leader);
    pin(leader);
    await c.waitFullMesh();
    // Next sample only once the stream has a leader and both followers are current again.
    const check = await RawConn.open({ port: portOf(survivor), headers: true, name: 'bench-r3-fo-check', user: APP.user, pass: APP.pass });
    try {
      await pollUntil(async () => {
        const info = await jsApi(check, `$JS.API.STREAM.INFO.${STREAM}`, undefined, 2000);
        const reps = (info.cluster?.replicas ?? []) as { current?: boolean; offline?: boolean }[];
        return info.cluster?.leader && reps.length === 2 && reps.every((r) => r.current && !r.offline) ? true : undefined;
      }, 'R3 stream back to 3 current replicas', 60_000, 100);
    } catch (err) {
      // Keep what the servers said: this is a finding, not bench noise.
      const logs = c.nodes.map((n) => `--- ${n.name} (${n.alive ? 'up' : 'down'}) log tail:\n${n.log().slice(-4000)}`).join('\n');
      const file = `/tmp/cluster-r3-failure-${Date.now()}.log`;
      writeFileSync(file, `${(err as Error).message}\n${logs}\n`);
      throw new Error(`${(err as Error).message} (server logs in ${file})`);
    } finally {
      check.close();
    }
    return { ms, electedMs: electedAt === undefined ? undefined : electedAt - t0 };
  } finally {
    client?.close();
    adv?.close();
    control.close();
  }
}

async function streamLeader(c: JsCluster, control: RawConn): Promise<JsNode> {
  const name = await pollUntil(async () => {
    const info = await jsApi(control, `$JS.API.STREAM.INFO.${STREAM}`, undefined, 2000);
    return (info.cluster?.leader as string | undefined) || undefined;
  }, `a leader for stream ${STREAM}`, 30_000, 50);
  return c.node(name);
}

async function consumerLeader(c: JsCluster, control: RawConn, name: string): Promise<JsNode> {
  const leader = await pollUntil(async () => {
    const info = await jsApi(control, `$JS.API.CONSUMER.INFO.${STREAM}.${name}`, undefined, 2000);
    return (info.cluster?.leader as string | undefined) || undefined;
  }, `a leader for consumer ${name}`, 30_000, 20);
  return c.node(leader);
}

/**
 * Step the consumer's leader down until `want` leads it (undefined: keep the first leader). Both
 * kinds pick the next leader among the other current peers, so a few stepdowns get there.
 */
async function placeConsumerLeader(c: JsCluster, control: RawConn, name: string, want: JsNode | undefined): Promise<{ node: JsNode; stepdowns: number }> {
  let node = await consumerLeader(c, control, name);
  let stepdowns = 0;
  while (want !== undefined && node !== want) {
    if (stepdowns === 20) throw new Error(`consumer ${name}: no leadership on ${want.name} after 20 stepdowns`);
    await jsApi(control, `$JS.API.CONSUMER.LEADER.STEPDOWN.${STREAM}.${name}`, undefined, 10_000);
    stepdowns++;
    const was = node;
    // The stepped-down leader may still answer INFO as leader for a moment: wait for a new one,
    // but the group may also elect the same server again (then the next stepdown tries again).
    node = await pollUntil(async () => {
      const n = await consumerLeader(c, control, name);
      return n !== was ? n : undefined;
    }, `a new leader for consumer ${name}`, 5_000, 20).catch(() => consumerLeader(c, control, name));
  }
  return { node, stepdowns };
}

function signalNodes(c: JsCluster, signal: NodeJS.Signals): void {
  for (const n of c.nodes) if (n.pid !== undefined) process.kill(n.pid, signal);
}

/** CLOCK_MONOTONIC in µs: the clock of V8's .cpuprofile timestamps (profile-summary.ts windows). */
function monotonicUs(): number {
  return Math.round(Number(process.hrtime.bigint() / 1000n));
}

function portOf(n: JsNode): number {
  return Number(new URL(n.clientUrl).port);
}

/** The CPUs other than ours when this process is pinned to a subset (undefined: no pinning). */
function serverCpuList(): string | undefined {
  const mine = new Set(cpuList());
  if (mine.size === 0) return undefined;
  const others = cpus().map((_c, i) => i).filter((i) => !mine.has(i));
  return others.length > 0 ? others.join(',') : undefined;
}
