// Attack: clients on a server that is restarting (kill -9, then started again), asking at once:
// STREAM.INFO of R1 and R3 streams, STREAM.NAMES, CONSUMER.INFO, and publishing. A server whose
// meta state is not recovered must never answer wrong: no 10059 / 10014 for an asset that exists,
// no STREAM.NAMES with fewer streams than exist, no publish acknowledged at a wrong sequence.
//
//   node dist/bench/attack/meta-restart-connect.js [--impl tsnats|nats-server] [--rounds 3] [--ms 8000]
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JsCluster, type Impl } from '../../test/cluster/js-cluster-harness.js';
import { argOf } from './args.js';
import { onCluster, rawRequest, runMain } from './cluster-checks.js';

const impl = argOf('impl', 'tsnats') as Impl;
const rounds = Number(argOf('rounds', '3'));
const ms = Number(argOf('ms', '8000'));
const STREAMS = ['A1', 'B1', 'C1', 'A3', 'B3'];

async function main(): Promise<void> {
  console.log(`meta-restart-connect impl=${impl} rounds=${rounds}`);
  const c = await JsCluster.start({ impl, size: 3 });
  const wrong: string[] = [];
  const tally = new Map<string, number>();
  await onCluster(c, async () => {
    await c.waitMetaLeader({ peers: 3 });
    const nc = await connect({ servers: c.nodes[0]!.clientUrl, user: 'a', pass: 'a' });
    for (const name of STREAMS) {
      const r = await rawRequest(nc, `$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: [`r.${name}`], num_replicas: name.endsWith('3') ? 3 : 1 }), 15_000);
      if (r.length !== 1 || r[0]!.includes('"error"')) throw new Error(`create ${name}: ${r.join(' | ')}`);
      const d = await rawRequest(nc, `$JS.API.CONSUMER.CREATE.${name}.D`, JSON.stringify({ stream_name: name, config: { durable_name: 'D', ack_policy: 'explicit' } }), 15_000);
      if (d.length !== 1 || d[0]!.includes('"error"')) throw new Error(`consumer ${name}: ${d.join(' | ')}`);
      await nc.request(`r.${name}`, 'x', { timeout: 10_000 });
    }
    await nc.close();
    for (let round = 0; round < rounds; round++) {
      const victim = c.nodes[round % 3]!;
      await c.kill(victim);
      await c.restart(victim);
      let vc: NatsConnection | undefined;
      const end = Date.now() + ms;
      while (!vc && Date.now() < end) vc = await connect({ servers: victim.clientUrl, user: 'a', pass: 'a', reconnect: false }).catch(() => undefined);
      if (!vc) throw new Error(`could not connect to ${victim.name}`);
      let asked = 0;
      while (Date.now() < end) {
        const name = STREAMS[asked % STREAMS.length]!;
        const probes: Array<[string, string]> = [
          [`$JS.API.STREAM.INFO.${name}`, ''], ['$JS.API.STREAM.NAMES', ''], [`$JS.API.CONSUMER.INFO.${name}.D`, ''],
        ];
        for (const [subject, body] of probes) {
          const r = await rawRequest(vc, subject, body, 1500);
          const key = r.length === 0 ? 'no answer' : (() => {
            const j = JSON.parse(r[0]!) as { error?: { err_code: number }; total?: number };
            if (j.error) return `error ${j.error.err_code}`;
            if (subject.endsWith('NAMES')) return `names total ${j.total}`;
            return 'ok';
          })();
          const k = `${subject.split('.').slice(2, 4).join('.')}: ${key}`;
          tally.set(k, (tally.get(k) ?? 0) + 1);
          if (/error 100(59|14)|error 10148/.test(key) || (key.startsWith('names total') && key !== `names total ${STREAMS.length}`)) {
            wrong.push(`round ${round} (${victim.name}) ${subject}: ${r[0]!.slice(0, 200)}`);
          }
          if (r.length > 1) wrong.push(`round ${round} ${subject}: ${r.length} answers`);
        }
        asked++;
      }
      await vc.close().catch(() => {});
      await c.waitMetaLeader({ peers: 3, timeoutMs: 60_000 });
      console.log(`round ${round}: ${victim.name} restarted, ${asked * 3} requests through it`);
    }
    for (const [k, v] of [...tally.entries()].sort()) console.log(`  ${v}x ${k}`);
    for (const w of wrong.slice(0, 30)) console.log(`WRONG ${w}`);
    console.log(`RESULT: ${wrong.length} wrong answers`);
    if (wrong.length) process.exitCode = 1;
  });
}

runMain('', main);
