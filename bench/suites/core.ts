// Core suite: the figures of issue 2 — throughput (publish only, 1 -> 1,
// 1 -> 4 fan-out), request/reply latency, memory at idle and with 1,000 idle
// connections, and time from process start to accepting connections.

import type { BenchContext, BenchRow, BenchSuite } from '../lib/types.js';
import type { RunningServer, ServerKind } from '../lib/servers.js';
import { RawConn } from '../lib/conn.js';
import { measureFanout, measurePublishOnly, type Counts } from '../lib/throughput.js';
import { pooled, sequentialRequests } from '../lib/latency.js';
import { startWorker } from '../lib/workers.js';
import { payloadOf, pubFrame } from '../lib/proto.js';

const PAYLOAD_BYTES = 16;
const SUBJECT = 'bench.x';
const IDLE_CONNECTIONS = 1000;
const START_SAMPLES = 5;

interface Figures {
  startMs?: number;
  rssIdleMB?: number;
  rssConnsMB?: number;
  pubOnly?: number;
  pubSub?: number;
  fanout?: number;
  reqP50?: number;
  reqP90?: number;
  reqP99?: number;
  reqP999?: number;
}

export const suite: BenchSuite = {
  name: 'core',
  description: 'core NATS: throughput, fan-out, request/reply latency, RSS, start-up time',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const q = ctx.quick;
    const throughput: Counts = { warmupMsgs: q ? 50_000 : 200_000, measuredMsgs: q ? 300_000 : 2_000_000 };
    const fanout: Counts = { warmupMsgs: q ? 20_000 : 100_000, measuredMsgs: q ? 150_000 : 1_000_000 };
    const rounds = q ? 1 : 3;
    // 20,000 measured requests per server, split over the rounds and pooled.
    const requests = { warmup: q ? 500 : 1_000, count: Math.ceil((q ? 3_000 : 20_000) / rounds) };
    const latencySamples = new Map<ServerKind, Float64Array[]>();
    const figures = new Map<ServerKind, Figures>();
    const notes: string[] = [];

    const fig = (kind: ServerKind): Figures => {
      let f = figures.get(kind);
      if (!f) figures.set(kind, (f = {}));
      return f;
    };
    const attempt = async (label: string, fn: () => Promise<void>) => {
      ctx.log(`core/${label}`);
      try {
        await fn();
      } catch (err) {
        notes.push(`${label} failed: ${(err as Error).message.split('\n')[0]}`);
        ctx.log(`core/${label} FAILED: ${(err as Error).message}`);
      }
    };

    // Start-up time and memory: fresh processes, one kind at a time.
    for (const kind of ctx.kinds) {
      const f = fig(kind);
      await attempt(`${kind}: start-up time`, async () => {
        const samples: number[] = [];
        for (let i = 0; i < START_SAMPLES; i++) {
          const s = await ctx.startServer({ kind });
          samples.push(s.startMs);
          await s.stop();
        }
        f.startMs = median(samples);
      });
      await attempt(`${kind}: RSS idle and with ${IDLE_CONNECTIONS} idle connections`, async () => {
        const s = await ctx.startServer({ kind });
        try {
          await settle();
          f.rssIdleMB = s.rssBytes() / 2 ** 20;
          const conns = await openIdleConnections(s.port, IDLE_CONNECTIONS);
          try {
            await settle();
            if (s.exited()) throw new Error('server exited');
            f.rssConnsMB = s.rssBytes() / 2 ** 20;
          } finally {
            for (const c of conns) c.close();
          }
        } finally {
          await s.stop();
        }
      });
    }

    // Throughput and latency: both servers up at once (an idle server costs
    // nothing) and the figures measured alternately, best of `rounds`, so a
    // burst of unrelated load on the shared machine hits both sides alike.
    const servers = new Map<ServerKind, RunningServer>();
    try {
      for (const kind of ctx.kinds) {
        const s = await ctx.startServer({ kind }).catch((err: Error) => {
          notes.push(`${kind} did not start: ${err.message.split('\n')[0]}`);
          return undefined;
        });
        if (s) servers.set(kind, s);
      }
      const timeoutMs = q ? 60_000 : 120_000;
      const best = (kind: ServerKind, key: keyof Figures, v: number, higherIsBetter: boolean) => {
        const f = fig(kind);
        const old = f[key];
        if (old === undefined || (higherIsBetter ? v > old : v < old)) f[key] = v;
      };
      const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
      // Share of one core the server used while measuring: near 100% means it
      // was the bottleneck; far below on a busy machine means it was not given
      // the CPU (or the pipeline was latency-bound), so treat the figure with care.
      const serverMeter = (s: RunningServer) => {
        let cpu0 = 0;
        let t0 = 0;
        let share = NaN;
        return {
          start: () => { cpu0 = s.cpuSeconds(); t0 = performance.now(); },
          end: () => { share = (s.cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000); },
          text: () => pct(share),
        };
      };
      for (let round = 1; round <= rounds; round++) {
        for (const [kind, s] of servers) {
          const tag = `${kind} round ${round}/${rounds}`;
          await attempt(`${tag}: publish only`, async () => {
            const server = serverMeter(s);
            const r = await measurePublishOnly(s.port, SUBJECT, PAYLOAD_BYTES, throughput, server);
            best(kind, 'pubOnly', r.perSec, true);
            ctx.log(`core/${tag}: ${Math.round(r.perSec)} msgs/s, server CPU ${server.text()}, generator CPU ${pct(r.generatorCpuShare)}`);
          });
          await attempt(`${tag}: pub -> sub`, async () => {
            const server = serverMeter(s);
            const r = await measureFanout(s.port, s.port, 1, SUBJECT, PAYLOAD_BYTES, throughput, timeoutMs, undefined, server);
            best(kind, 'pubSub', r.deliveredPerSec, true);
            ctx.log(`core/${tag}: ${Math.round(r.deliveredPerSec)} msgs/s, server CPU ${server.text()}, generator CPU ${pct(r.generatorCpuShare)}`);
          });
          await attempt(`${tag}: pub -> 4 subs`, async () => {
            const server = serverMeter(s);
            const r = await measureFanout(s.port, s.port, 4, SUBJECT, PAYLOAD_BYTES, fanout, timeoutMs, undefined, server);
            best(kind, 'fanout', r.deliveredPerSec, true);
            ctx.log(`core/${tag}: ${Math.round(r.deliveredPerSec)} msgs/s delivered, server CPU ${server.text()}, generator CPU ${pct(r.generatorCpuShare)}`);
          });
          await attempt(`${tag}: request/reply`, async () => {
            const r = await requestReply(s.port, requests.warmup, requests.count);
            const runs = latencySamples.get(kind) ?? [];
            runs.push(r.samplesNs);
            latencySamples.set(kind, runs);
            const all = pooled(runs);
            fig(kind).reqP50 = all.p50Us;
            fig(kind).reqP90 = all.p90Us;
            fig(kind).reqP99 = all.p99Us;
            fig(kind).reqP999 = all.p999Us;
            ctx.log(`core/${tag}: p50 ${r.p50Us.toFixed(1)} us, p90 ${r.p90Us.toFixed(1)} us, p99 ${r.p99Us.toFixed(1)} us, p99.9 ${r.p999Us.toFixed(1)} us`);
          });
          if (s.exited()) throw new Error(`${kind} exited during the run: ${s.outputTail().slice(-300)}`);
        }
      }
    } finally {
      for (const s of servers.values()) await s.stop();
    }

    const ts = figures.get('tsnats') ?? {};
    const ns = figures.get('nats-server') ?? {};
    const row = (name: string, key: keyof Figures, unit: string, target?: BenchRow['target']): BenchRow => ({
      name, unit, target, tsnats: ts[key] ?? null, natsServer: ns[key] ?? null,
    });
    const rows: BenchRow[] = [
      row(`publish only ${PAYLOAD_BYTES}B`, 'pubOnly', 'msgs/s', { kind: 'ratio-at-least', ratio: 0.5 }),
      row(`pub -> sub ${PAYLOAD_BYTES}B`, 'pubSub', 'msgs/s', { kind: 'ratio-at-least', ratio: 0.5 }),
      row(`pub -> 4 subs ${PAYLOAD_BYTES}B (delivered)`, 'fanout', 'msgs/s', { kind: 'ratio-at-least', ratio: 0.5 }),
      row('request/reply p50', 'reqP50', 'us', { kind: 'ratio-at-most', ratio: 2 }),
      row('request/reply p90', 'reqP90', 'us'),
      row('request/reply p99', 'reqP99', 'us'),
      row('request/reply p99.9', 'reqP999', 'us'),
      row('RSS idle', 'rssIdleMB', 'MB'),
      row(`RSS ${IDLE_CONNECTIONS} idle conns`, 'rssConnsMB', 'MB', { kind: 'at-most', value: 120 }),
      row(`start to accepting (median of ${START_SAMPLES})`, 'startMs', 'ms', { kind: 'at-most', value: 300 }),
    ];
    if (notes.length) rows[0].note = notes.join('; ');
    return rows;
  },
};

async function requestReply(port: number, warmup: number, count: number) {
  const responder = startWorker('responder', { port, subject: 'bench.req', payloadBytes: PAYLOAD_BYTES });
  const requester = await RawConn.open({ port, name: 'bench-requester' }, true);
  try {
    await responder.ready;
    requester.sub('bench.rep', '1');
    await requester.ping();
    return await sequentialRequests(requester, {
      frames: [pubFrame('bench.req', 'bench.rep', payloadOf(PAYLOAD_BYTES))],
      warmup,
      count,
    });
  } finally {
    requester.close();
    await responder.terminate();
  }
}

async function openIdleConnections(port: number, n: number): Promise<RawConn[]> {
  const conns: RawConn[] = [];
  const batch = 50;
  try {
    for (let i = 0; i < n; i += batch) {
      const opened = await Promise.all(
        Array.from({ length: Math.min(batch, n - i) }, () => RawConn.open({ port, name: 'idle' }, false)),
      );
      conns.push(...opened);
    }
  } catch (err) {
    for (const c of conns) c.close();
    throw err;
  }
  return conns;
}

/** Lets the server finish start-up work or connection bookkeeping before RSS is read. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 1000));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
