// JetStream suite over raw protocol: async publish (128-byte messages, 256
// PubAcks in flight) to R1 file and memory streams, sync publish p50, a
// pull-consumer drain of 500,000 messages (fetch 500, explicit ack) and KV
// put/get p50. The drain reads the file stream of the publish figures, topped
// up to 500,000 messages.
//
// Each server runs in two configurations:
//  - "fsync": jetstream { sync_interval: always } — a PubAck means the
//    message is on disk. tsnats' default. nats-server 2.9.x has no such
//    option and refuses the config, so its side is n/a there.
//  - "periodic": the file store syncs in the background (nats-server's
//    default; tsnats is given sync_interval: "2m" to match), so both sides do
//    the same work. The memory stream, drain and KV rows use this one.

import type { BenchContext, BenchRow, BenchSuite } from '../lib/types.js';
import { cpuSecondsOf, type ServerKind, type RunningServer } from '../lib/servers.js';
import { RawConn } from '../lib/conn.js';
import { asyncPublish, createStream, jsApi, pullDrain } from '../lib/jetstream-load.js';
import { sequentialRequests } from '../lib/latency.js';
import { payloadOf, pubFrame } from '../lib/proto.js';

const PAYLOAD_BYTES = 128;
const IN_FLIGHT = 256;
const FETCH_BATCH = 500;

type Mode = 'fsync' | 'periodic';

interface Figures {
  asyncFile?: number;
  asyncMem?: number;
  syncFileP50?: number;
  syncMemP50?: number;
  drain?: number;
  kvPutP50?: number;
  kvGetP50?: number;
}

export const suite: BenchSuite = {
  name: 'js',
  description: 'JetStream: async/sync publish (file, memory), pull drain, KV put/get',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const q = ctx.quick;
    const sizes = {
      asyncMsgs: q ? 50_000 : 300_000,
      asyncWarmup: q ? 5_000 : 20_000,
      asyncMaxMs: q ? 3_000 : 8_000,
      drainMsgs: q ? 50_000 : 500_000,
      latencyCount: q ? 1_000 : 5_000,
      latencyWarmup: q ? 200 : 500,
    };
    const figures = new Map<string, Figures>();
    const notes: string[] = [];

    for (const kind of ctx.kinds) {
      for (const mode of ['fsync', 'periodic'] as Mode[]) {
        const f: Figures = {};
        figures.set(`${kind}/${mode}`, f);
        const server = await ctx
          .startServer({
            kind,
            jetstream: { storeDir: ctx.tempDir(`js-${kind}`), syncInterval: mode === 'fsync' ? 'always' : kind === 'tsnats' ? '2m' : undefined },
          })
          .catch((err: Error) => {
            notes.push(`${kind} (${mode}): ${err.message}`);
            return undefined;
          });
        if (!server) continue;
        try {
          await runOne(ctx, kind, mode, server, f, sizes, notes);
        } finally {
          await server.stop();
        }
      }
    }

    const get = (kind: ServerKind, mode: Mode, key: keyof Figures) => figures.get(`${kind}/${mode}`)?.[key] ?? null;
    const row = (name: string, mode: Mode, key: keyof Figures, unit: string): BenchRow => ({
      name, unit, tsnats: get('tsnats', mode, key), natsServer: get('nats-server', mode, key),
    });
    const rows: BenchRow[] = [
      row(`async pub ${PAYLOAD_BYTES}B file R1, fsync before ack`, 'fsync', 'asyncFile', 'msgs/s'),
      row(`sync pub p50 file R1, fsync before ack`, 'fsync', 'syncFileP50', 'us'),
      row(`async pub ${PAYLOAD_BYTES}B file R1, periodic sync`, 'periodic', 'asyncFile', 'msgs/s'),
      // Each server's default side by side: tsnats syncs before every PubAck, nats-server 2.9 every 2 minutes.
      {
        name: `async pub ${PAYLOAD_BYTES}B file R1, each default (tsnats fsync, nats-server periodic)`,
        unit: 'msgs/s',
        target: { kind: 'ratio-at-least', ratio: 1.2 },
        tsnats: get('tsnats', 'fsync', 'asyncFile'),
        natsServer: get('nats-server', 'periodic', 'asyncFile'),
      },
      row(`async pub ${PAYLOAD_BYTES}B memory R1`, 'periodic', 'asyncMem', 'msgs/s'),
      row('sync pub p50 file R1, periodic sync', 'periodic', 'syncFileP50', 'us'),
      row('sync pub p50 memory R1', 'periodic', 'syncMemP50', 'us'),
      row(`pull drain >= ${sizes.drainMsgs.toLocaleString('en-US')} file (fetch ${FETCH_BATCH}, explicit ack)`, 'periodic', 'drain', 'msgs/s'),
      row('KV put p50', 'periodic', 'kvPutP50', 'us'),
      row('KV get p50 (direct get)', 'periodic', 'kvGetP50', 'us'),
    ];
    if (notes.length) rows[0].note = notes.join('; ');
    return rows;
  },
};

async function runOne(
  ctx: BenchContext,
  kind: ServerKind,
  mode: Mode,
  server: RunningServer,
  f: Figures,
  sizes: { asyncMsgs: number; asyncWarmup: number; asyncMaxMs: number; drainMsgs: number; latencyCount: number; latencyWarmup: number },
  notes: string[],
): Promise<void> {
  const port = server.port;
  const control = await RawConn.open({ port, headers: true, noResponders: true, name: 'bench-js-control' });
  const load = await RawConn.open({ port, headers: true, name: 'bench-js-load' });
  const label = `js/${kind}/${mode}`;
  try {
    try {
      await jsApi(control, '$JS.API.INFO', undefined, 5000);
    } catch (err) {
      notes.push(`${kind}: JetStream not available (${(err as Error).message}); ${kind} side skipped`);
      ctx.log(`${label}: JetStream not available: ${(err as Error).message}`);
      return;
    }
    const step = async (what: string, fn: () => Promise<void>) => {
      ctx.log(`${label}: ${what}`);
      try {
        await fn();
      } catch (err) {
        notes.push(`${kind} (${mode}) ${what} failed: ${(err as Error).message.split('\n')[0]}`);
        ctx.log(`${label}: ${what} FAILED: ${(err as Error).message}`);
      }
    };
    const asyncOpts = { inFlight: IN_FLIGHT, warmup: sizes.asyncWarmup, measured: sizes.asyncMsgs, maxMs: sizes.asyncMaxMs };
    const ackCheck = (buf: Buffer, ps: number, pe: number) =>
      pe - ps > 3 && buf[ps + 2] === 101 ? `PubAck error: ${buf.toString('utf8', ps, pe)}` : undefined;
    const syncPub = async (subject: string) => {
      const inbox = '_INBOX.jsbench.sync';
      load.sub(inbox, 'sync');
      await load.ping();
      const r = await sequentialRequests(load, {
        frames: [pubFrame(subject, inbox, payloadOf(PAYLOAD_BYTES))],
        warmup: sizes.latencyWarmup,
        count: sizes.latencyCount,
        check: ackCheck,
      });
      load.write('UNSUB sync\r\n');
      return r.p50Us;
    };

    await step('file stream async publish', async () => {
      await createStream(control, { name: 'BENCHFILE', subjects: ['bench.file'], storage: 'file' });
      const r = await asyncPublish(load, 'bench.file', PAYLOAD_BYTES, asyncOpts);
      f.asyncFile = r.perSec;
      ctx.log(`${label}: ${Math.round(r.perSec)} msgs/s (${r.acked} acked)`);
    });
    await step('file stream sync publish', async () => {
      f.syncFileP50 = await syncPub('bench.file');
    });
    if (mode === 'fsync') return;

    await step('memory stream async publish', async () => {
      await createStream(control, { name: 'BENCHMEM', subjects: ['bench.mem'], storage: 'memory' });
      const r = await asyncPublish(load, 'bench.mem', PAYLOAD_BYTES, asyncOpts);
      f.asyncMem = r.perSec;
      ctx.log(`${label}: ${Math.round(r.perSec)} msgs/s (${r.acked} acked)`);
    });
    await step('memory stream sync publish', async () => {
      f.syncMemP50 = await syncPub('bench.mem');
    });

    await step(`pull drain of ${sizes.drainMsgs}`, async () => {
      // The file stream already holds what the publish figures stored: top it
      // up to the drain count instead of filling a new stream from zero.
      const state = (await jsApi(control, '$JS.API.STREAM.INFO.BENCHFILE', undefined)).state as { messages: number };
      const missing = sizes.drainMsgs - state.messages;
      if (missing > 0) {
        const fill = await asyncPublish(load, 'bench.file', PAYLOAD_BYTES, {
          inFlight: IN_FLIGHT, warmup: 0, measured: missing, maxMs: Number.MAX_SAFE_INTEGER,
        });
        if (fill.acked !== missing) throw new Error(`only ${fill.acked} of ${missing} messages stored`);
      }
      const stored = Math.max(sizes.drainMsgs, state.messages);
      const config = { durable_name: 'drain', name: 'drain', ack_policy: 'explicit', deliver_policy: 'all', ack_wait: 30_000_000_000 };
      await jsApi(control, '$JS.API.CONSUMER.CREATE.BENCHFILE.drain', { stream_name: 'BENCHFILE', config });
      const cpu0 = cpuSecondsOf(server.pid);
      f.drain = await pullDrain(load, 'BENCHFILE', 'drain', stored, FETCH_BATCH);
      // Server CPU per message: comparable across runs on a shared machine, unlike msgs/s.
      const cpuUs = ((cpuSecondsOf(server.pid) - cpu0) * 1e6) / stored;
      ctx.log(`${label}: drained ${stored} at ${Math.round(f.drain)} msgs/s; server CPU ${cpuUs.toFixed(1)} us/msg`);
      const info = await jsApi(control, '$JS.API.CONSUMER.INFO.BENCHFILE.drain', undefined);
      if (info.num_ack_pending !== 0) notes.push(`${kind}: ${info.num_ack_pending} drain acks still pending after the run`);
    });

    await step('KV put/get', async () => {
      await createStream(control, {
        name: 'KV_bench',
        subjects: ['$KV.bench.>'],
        storage: 'file',
        extra: { max_msgs_per_subject: 1, discard: 'new', allow_rollup_hdrs: true, deny_delete: true, allow_direct: true },
      });
      const keys = 100;
      const putInbox = '_INBOX.jsbench.kvput';
      load.sub(putInbox, 'kvput');
      await load.ping();
      const value = payloadOf(PAYLOAD_BYTES);
      const put = await sequentialRequests(load, {
        frames: Array.from({ length: keys }, (_, i) => pubFrame(`$KV.bench.k${i}`, putInbox, value)),
        warmup: sizes.latencyWarmup,
        count: sizes.latencyCount,
        check: ackCheck,
      });
      f.kvPutP50 = put.p50Us;
      load.write('UNSUB kvput\r\n');
      const getInbox = '_INBOX.jsbench.kvget';
      load.sub(getInbox, 'kvget');
      await load.ping();
      const get = await sequentialRequests(load, {
        frames: Array.from({ length: keys }, (_, i) => pubFrame(`$JS.API.DIRECT.GET.KV_bench.$KV.bench.k${i}`, getInbox, Buffer.alloc(0))),
        warmup: sizes.latencyWarmup,
        count: sizes.latencyCount,
        // A hit is a message with headers whose status line has no code ("NATS/1.0\r\n").
        check: (buf, ps, _pe, hb) => (hb > 0 && buf[ps + 8] === 13 ? undefined : `direct get did not return the value: ${buf.toString('utf8', ps, ps + Math.min(hb, 40))}`),
      });
      f.kvGetP50 = get.p50Us;
    });
  } finally {
    control.close();
    load.close();
  }
}
