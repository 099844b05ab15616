// Probe: STREAM.PEER.REMOVE of the seed right after an R1 -> R3 scale-up (found by api-fuzz seed 3).
//   node dist/bench/attack/probe-seed-remove.js [--impl tsnats|nats-server] [--msgs 100]
import { JsCluster, type Impl } from '../../test/cluster/js-cluster-harness.js';
import { argOf } from './args.js';

const impl = argOf('impl', 'tsnats') as Impl;
const msgs = Number(argOf('msgs', '100'));
const c = await JsCluster.start({ impl, size: 3 });
try {
  const nc = await c.connect(c.nodes[0]!);
  const req = async (s: string, b: unknown) => (await nc.request(s, b === undefined ? '' : JSON.stringify(b), { timeout: 10_000 })).json<Record<string, unknown>>();
  const cr = await req('$JS.API.STREAM.CREATE.S1', { name: 'S1', subjects: ['s1.>'], num_replicas: 1 });
  const holder = (cr.cluster as { leader: string }).leader;
  for (let i = 0; i < msgs; i++) await nc.request(`s1.${i}`, 'x', { timeout: 5000 });
  const up = await req('$JS.API.STREAM.UPDATE.S1', { name: 'S1', subjects: ['s1.>'], num_replicas: 3 });
  console.log('update:', JSON.stringify(up.error ?? (up.cluster as object)));
  const rm = await req('$JS.API.STREAM.PEER.REMOVE.S1', { peer: holder });
  console.log(`peer remove of the holder ${holder}:`, JSON.stringify(rm));
  const end = Date.now() + 30_000;
  let last = '';
  while (Date.now() < end) {
    const si: Record<string, unknown> = await req('$JS.API.STREAM.INFO.S1', undefined).catch((e: unknown) => ({ error: String(e) }));
    last = JSON.stringify({ error: si.error, state: (si.state as { messages?: number } | undefined)?.messages, cluster: si.cluster });
    if ((si.cluster as { leader?: string } | undefined)?.leader && (si.state as { messages: number }).messages === msgs) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  console.log(`RESULT ${impl}: stream info 30 s later: ${last}`);
} finally {
  await c.shutdown();
}
