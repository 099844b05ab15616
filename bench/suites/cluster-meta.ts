// Clustered JetStream meta group: three servers of each kind as child processes
// (the cluster harness of the acceptance tests, test/cluster/js-cluster-harness.ts):
//  - cold start: from the first spawn until every server names the same meta
//    leader and that leader sees both others as current;
//  - failover: kill -9 of the meta leader until a STREAM.CREATE sent through a
//    surviving server succeeds (retried every 100 ms; the stream is placed on a
//    surviving server with a placement tag, since nats-server 2.9.10 still
//    considers a killed peer current for ~10 s);
//  - 1,000 R1 stream creates, one request at a time from one client.
// The load generator's HTTP client is warmed up before the first timed start (warmHttpClient).
// TSNATS_META=0 leaves the tsnats side out. The servers are spawned from the (pinned) load generator process, so they
// inherit its CPU affinity: both kinds run under the same conditions.

import type { BenchContext, BenchRow, BenchSuite } from '../lib/types.js';
import type { ServerKind } from '../lib/servers.js';
import http from 'node:http';
import { JsCluster } from '../../test/cluster/js-cluster-harness.js';

const TAGS = [['node:n1'], ['node:n2'], ['node:n3']];

interface Figures { coldStartMs?: number; failoverMs?: number; createsPerSec?: number }

export const suite: BenchSuite = {
  name: 'cluster-meta',
  description: 'clustered JetStream meta group on 3 servers: cold start to leader, leader kill to a successful create, R1 creates/s',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const creates = ctx.quick ? 200 : 1000;
    const figures = new Map<ServerKind, Figures>();
    const notes: string[] = [];
    await warmHttpClient();
    for (const kind of ctx.kinds) {
      if (kind === 'tsnats' && process.env.TSNATS_META === '0') {
        notes.push('tsnats skipped (TSNATS_META=0)');
        continue;
      }
      const f: Figures = {};
      figures.set(kind, f);
      try {
        await measure(ctx, kind, f, creates);
      } catch (err) {
        const msg = (err as Error).message.split('\n')[0];
        notes.push(`${kind}: ${msg}`);
        ctx.log(`cluster-meta/${kind}: failed: ${(err as Error).message}`);
      }
    }
    const row = (name: string, unit: string, key: keyof Figures, target: BenchRow['target']): BenchRow => ({
      name, unit, target,
      tsnats: figures.get('tsnats')?.[key] ?? null,
      natsServer: figures.get('nats-server')?.[key] ?? null,
    });
    const rows = [
      row('3 servers: cold start to an elected meta leader', 'ms', 'coldStartMs', { kind: 'ratio-at-most', ratio: 1.0 }),
      row('meta leader kill -9 -> STREAM.CREATE succeeds', 'ms', 'failoverMs', { kind: 'ratio-at-most', ratio: 1.0 }),
      row(`${creates} R1 stream creates, one client, sequential`, 'creates/s', 'createsPerSec', { kind: 'ratio-at-least', ratio: 1.0 }),
    ];
    if (notes.length) rows[0]!.note = notes.join('; ');
    return rows;
  },
};

async function measure(ctx: BenchContext, kind: ServerKind, f: Figures, creates: number): Promise<void> {
  const t0 = performance.now();
  const c = await JsCluster.start({ impl: kind, size: 3, tags: TAGS, pollMs: 5 });
  try {
    f.coldStartMs = performance.now() - t0;
    ctx.log(`cluster-meta/${kind}: meta leader after ${f.coldStartMs.toFixed(0)} ms`);

    // Creates first, on the healthy cluster.
    const nc = await c.connect(c.nodes[0]!);
    const enc = new TextEncoder();
    const warm = await nc.request('$JS.API.STREAM.CREATE.WARM', enc.encode(JSON.stringify({ name: 'WARM', subjects: ['warm'], num_replicas: 1 })), { timeout: 10_000 });
    assertCreated(warm.json(), 'WARM');
    const tc = performance.now();
    for (let i = 0; i < creates; i++) {
      const name = `B${i}`;
      const m = await nc.request(`$JS.API.STREAM.CREATE.${name}`, enc.encode(JSON.stringify({ name, subjects: [`b.${i}`], num_replicas: 1 })), { timeout: 10_000 });
      assertCreated(m.json(), name);
    }
    f.createsPerSec = creates / ((performance.now() - tc) / 1000);
    ctx.log(`cluster-meta/${kind}: ${creates} creates, ${f.createsPerSec.toFixed(0)}/s`);
    await nc.close();

    const leader = await c.metaLeader();
    const survivor = c.nodes.find((n) => n !== leader)!;
    const client = await c.connect(survivor);
    const body = enc.encode(JSON.stringify({ name: 'FAILOVER', subjects: ['failover'], num_replicas: 1, placement: { tags: [`node:${survivor.name}`] } }));
    const tk = performance.now();
    await c.kill(leader);
    for (;;) {
      try {
        const m = await client.request('$JS.API.STREAM.CREATE.FAILOVER', body, { timeout: 100 });
        const r = m.json<{ error?: unknown }>();
        if (r.error === undefined) break;
      } catch {
        // no reply yet (no leader): try again
      }
      if (performance.now() - tk > 60_000) throw new Error('no successful STREAM.CREATE within 60 s of the leader kill');
    }
    f.failoverMs = performance.now() - tk;
    ctx.log(`cluster-meta/${kind}: create succeeded ${f.failoverMs.toFixed(0)} ms after the leader kill`);
  } finally {
    await c.shutdown();
  }
}

/**
 * The cold start is timed until the harness sees the leader on /varz, /routez and /jsz, polled with
 * this process's fetch(). Its first call loads and sets up Node's HTTP client (undici): 60-250 ms of
 * this process's CPU on this machine, which would be charged to whichever kind runs first (tsnats).
 * One request to a throwaway local server first, so neither kind's figure includes it.
 */
async function warmHttpClient(): Promise<void> {
  const srv = http.createServer((_q, r) => r.end('{}'));
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = srv.address() as { port: number };
    await (await fetch(`http://127.0.0.1:${port}/`)).json();
  } finally {
    srv.closeAllConnections();
    await new Promise((resolve) => srv.close(resolve));
  }
}

function assertCreated(r: { error?: { description?: string }; did_create?: boolean }, name: string): void {
  if (r.error !== undefined) throw new Error(`STREAM.CREATE ${name}: ${r.error.description ?? JSON.stringify(r.error)}`);
}
