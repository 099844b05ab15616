// `npm run bench:meta [-- --creates N] [--tsnats-only|--nats-only]`: the JetStream meta group on
// 3-server clusters of child processes, tsnats and nats-server side by side (same harness, same
// client): cold start to an elected meta leader that sees every peer; meta leader killed (kill -9)
// until a new leader has created a stream; N R1 stream creates from one client, one at a time.
import { JsCluster, natsServerBin, type Impl } from '../test/cluster/js-cluster-harness.js';

interface Figures { impl: Impl; coldStartMs: number; failoverMs: number; createsPerSec: number; creates: number }

async function createStream(nc: Awaited<ReturnType<JsCluster['connect']>>, name: string, timeoutMs: number): Promise<boolean> {
  try {
    const m = await nc.request(`$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: [`${name}.>`], num_replicas: 1 }), { timeout: timeoutMs });
    const j = JSON.parse(m.string()) as { error?: unknown };
    return j.error === undefined;
  } catch {
    return false;
  }
}

async function run(impl: Impl, creates: number): Promise<Figures> {
  const t0 = performance.now();
  const c = await JsCluster.start({ impl, size: 3 });
  const coldStartMs = performance.now() - t0;
  try {
    const leader = await c.metaLeader();
    const other = c.nodes.find((n) => n !== leader)!;
    const nc = await c.connect(other);
    const t1 = performance.now();
    await c.kill(leader);
    let i = 0;
    while (!(await createStream(nc, `FAILOVER${i++}`, 500)));
    const failoverMs = performance.now() - t1;
    await c.restart(leader);
    await c.waitMetaLeader();
    const t2 = performance.now();
    for (let k = 0; k < creates; k++) {
      if (!(await createStream(nc, `R1_${k}`, 10_000))) throw new Error(`${impl}: create ${k} failed`);
    }
    const createsPerSec = creates / ((performance.now() - t2) / 1000);
    await nc.close();
    return { impl, coldStartMs, failoverMs, createsPerSec, creates };
  } finally {
    await c.shutdown();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ci = args.indexOf('--creates');
  const creates = ci >= 0 ? Number(args[ci + 1]) : 1000;
  const impls: Impl[] = args.includes('--tsnats-only') ? ['tsnats'] : args.includes('--nats-only') ? ['nats-server'] : ['tsnats', 'nats-server'];
  const rows: Figures[] = [];
  for (const impl of impls) {
    if (impl === 'nats-server' && natsServerBin() === undefined) {
      console.error('nats-server not found: skipped');
      continue;
    }
    rows.push(await run(impl, creates));
  }
  console.log('impl         cold start→leader   leader kill→stream created   R1 creates/s (N)');
  for (const r of rows) {
    console.log(`${r.impl.padEnd(12)} ${(r.coldStartMs / 1000).toFixed(2).padStart(8)} s          ${(r.failoverMs / 1000).toFixed(2).padStart(8)} s                  ${r.createsPerSec.toFixed(0).padStart(6)} (${r.creates})`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
