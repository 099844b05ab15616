// Websocket suite: pub -> sub through each server's websocket port (no TLS, no compression),
// with the same publisher/subscriber workers as the core suite over a `ws` client transport
// (bench/lib/ws-socket.ts). Both servers run at once and are measured alternately, best of
// `rounds`, as in the core suite.
import net from 'node:net';
import type { BenchContext, BenchRow, BenchSuite } from '../lib/types.js';
import type { RunningServer, ServerKind } from '../lib/servers.js';
import { RawConn } from '../lib/conn.js';
import { measureFanout, type Counts } from '../lib/throughput.js';

const SUBJECT = 'bench.ws';
const SIZES = [16, 1024];

export const suite: BenchSuite = {
  name: 'ws',
  description: 'websocket clients: pub -> sub through the websocket port',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const q = ctx.quick;
    // 1 KiB messages move ~10x fewer per second: fewer of them keep the suite near a minute.
    const countsFor = (size: number): Counts => (size <= 64
      ? { warmupMsgs: q ? 50_000 : 200_000, measuredMsgs: q ? 300_000 : 1_500_000 }
      : { warmupMsgs: q ? 10_000 : 30_000, measuredMsgs: q ? 60_000 : 300_000 });
    const rounds = q ? 1 : 3;
    const best = new Map<string, number>();
    const notes: string[] = [];
    const servers = new Map<ServerKind, { s: RunningServer; wsPort: number }>();
    try {
      for (const kind of ctx.kinds) {
        try {
          const wsPort = await freePort();
          const s = await ctx.startServer({ kind, websocketPort: wsPort });
          await waitForWebsocket(wsPort);
          servers.set(kind, { s, wsPort });
        } catch (err) {
          notes.push(`${kind} did not start: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      for (let round = 1; round <= rounds; round++) {
        for (const [kind, { s, wsPort }] of servers) {
          for (const size of SIZES) {
            const tag = `${kind} round ${round}/${rounds} ${size}B`;
            ctx.log(`ws/${tag}: pub -> sub`);
            try {
              // The server's share of a core while measuring: near 100% means it was the limit.
              let cpu0 = 0;
              let t0 = 0;
              let share = NaN;
              const window = {
                start: () => { cpu0 = s.cpuSeconds(); t0 = performance.now(); },
                end: () => { share = (s.cpuSeconds() - cpu0) / ((performance.now() - t0) / 1000); },
              };
              const r = await measureFanout(wsPort, wsPort, 1, SUBJECT, size, countsFor(size), q ? 60_000 : 120_000, undefined, window, undefined, true);
              const key = `${kind}/${size}`;
              best.set(key, Math.max(best.get(key) ?? 0, r.deliveredPerSec));
              ctx.log(`ws/${tag}: ${Math.round(r.deliveredPerSec)} msgs/s, server CPU ${(share * 100).toFixed(0)}%, generator CPU ${(r.generatorCpuShare * 100).toFixed(0)}%`);
            } catch (err) {
              notes.push(`${tag} failed: ${(err as Error).message.split('\n')[0]}`);
            }
          }
          if (s.exited()) throw new Error(`${kind} exited during the run: ${s.outputTail().slice(-300)}`);
        }
      }
    } finally {
      for (const { s } of servers.values()) await s.stop();
    }
    const rows: BenchRow[] = SIZES.map((size, i) => ({
      name: `websocket pub -> sub ${size}B`,
      unit: 'msgs/s',
      tsnats: best.get(`tsnats/${size}`) ?? null,
      natsServer: best.get(`nats-server/${size}`) ?? null,
      // issue 14: websocket pub -> sub at least as fast as nats-server's
      target: i === 0 ? { kind: 'ratio-at-least', ratio: 1.0 } : undefined,
    }));
    if (notes.length > 0) rows[0]!.note = notes.join('; ');
    return rows;
  },
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const l = net.createServer();
    l.once('error', reject);
    l.listen({ host: '127.0.0.1', port: 0 }, () => {
      const port = (l.address() as net.AddressInfo).port;
      l.close(() => resolve(port));
    });
  });
}

/** tsnats opens the websocket port just after the client port: wait until it answers. */
async function waitForWebsocket(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const c = await RawConn.open({ port, websocket: true, connectTimeoutMs: 2000 }, false);
      c.close();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
