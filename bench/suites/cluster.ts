// Cluster suite: two servers joined by a route, publisher on A, subscriber
// on B, 16-byte messages. Both servers share the server CPU (the generator
// keeps its own). Before publishing, a probe message must make it from A to a
// subscriber on B, so the route is up and carries B's interest; a server
// without working routes is skipped with a note.

import type { BenchContext, BenchRow, BenchSuite } from '../lib/types.js';
import type { RunningServer, ServerKind } from '../lib/servers.js';
import { RawConn } from '../lib/conn.js';
import { measureFanout, type Counts } from '../lib/throughput.js';

const PAYLOAD_BYTES = 16;
const SUBJECT = 'bench.x';
const ROUTE_WAIT_MS = 10_000;

export const suite: BenchSuite = {
  name: 'cluster',
  description: 'two servers joined by a route: publisher on A, subscriber on B',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const counts: Counts = { warmupMsgs: ctx.quick ? 20_000 : 100_000, measuredMsgs: ctx.quick ? 200_000 : 1_000_000 };
    const results = new Map<ServerKind, number>();
    const notes: string[] = [];
    for (const kind of ctx.kinds) {
      ctx.log(`cluster/${kind}: starting two servers`);
      const servers: RunningServer[] = [];
      try {
        // Each server binds free ports itself; B dials the cluster port A reported.
        const a = await ctx.startServer({ kind, cluster: { name: 'bench', serverName: 'A', port: -1, routes: [] } });
        servers.push(a);
        const b = await ctx.startServer({ kind, cluster: { name: 'bench', serverName: 'B', port: -1, routes: [a.clusterPort] } });
        servers.push(b);
        // Fail fast (and skip) when the servers never form a route.
        await probeRoute(a.port, b.port, ROUTE_WAIT_MS);
        ctx.log(`cluster/${kind}: route up, measuring`);
        const r = await measureFanout(a.port, b.port, 1, SUBJECT, PAYLOAD_BYTES, counts, 120_000,
          // Subscribers are registered on B now; once a later probe crosses the
          // route, A has seen B's interest in SUBJECT too (same route, in order).
          () => probeRoute(a.port, b.port, ROUTE_WAIT_MS));
        results.set(kind, r.deliveredPerSec);
        ctx.log(`cluster/${kind}: ${Math.round(r.deliveredPerSec)} msgs/s, generator CPU ${(r.generatorCpuShare * 100).toFixed(0)}%`);
      } catch (err) {
        const msg = (err as Error).message.split('\n')[0];
        notes.push(`${kind} skipped: ${msg}`);
        ctx.log(`cluster/${kind}: skipped: ${(err as Error).message}`);
      } finally {
        for (const s of servers) await s.stop();
      }
    }
    return [{
      name: `route: pub on A -> sub on B ${PAYLOAD_BYTES}B`,
      unit: 'msgs/s',
      tsnats: results.get('tsnats') ?? null,
      natsServer: results.get('nats-server') ?? null,
      note: notes.length ? notes.join('; ') : undefined,
    }];
  },
};

/** Publishes a probe on A until a subscriber on B receives one. */
async function probeRoute(portA: number, portB: number, timeoutMs: number): Promise<void> {
  const sub = await RawConn.open({ port: portB, name: 'bench-probe-sub' }, true);
  const pub = await RawConn.open({ port: portA, name: 'bench-probe-pub' }, false);
  try {
    let got = false;
    sub.onMsg = () => { got = true; };
    sub.sub('bench.probe', '1');
    await sub.ping();
    const deadline = performance.now() + timeoutMs;
    while (!got) {
      if (performance.now() > deadline) throw new Error(`no message crossed the route within ${timeoutMs} ms`);
      pub.write('PUB bench.probe 0\r\n\r\n');
      await pub.ping();
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    sub.close();
    pub.close();
  }
}
