// Attack: clients on a server that is restarting (kill -9 or SIGTERM, then started again), asking at
// once: STREAM.INFO of R1 and R3 streams, STREAM.NAMES, STREAM.LIST, CONSUMER.INFO, ACCOUNT.INFO,
// and publishing. A server whose meta state is not recovered must never answer wrong: no 10059 /
// 10014 for an asset that exists, no STREAM.NAMES / STREAM.LIST / ACCOUNT.INFO counting fewer
// streams or consumers than exist, no publish acknowledged at a wrong sequence, never two answers.
// With --streams N the meta log holds N streams (every tenth R3) with one durable each, so that the
// restarted server spends a while replaying it; rounds alternate kill -9 (log replayed from the WAL
// unless a periodic snapshot was taken) and SIGTERM (the meta snapshot written on the way out).
// With --kill-again MS the restarted server is killed (-9) once more MS after its port listens (in
// the middle of its recovery) and started again. At the end every stream must still hold every
// message acknowledged to a client, and every server exactly the streams assigned to it.
//
//   node dist/bench/attack/meta-restart-connect.js [--impl tsnats|nats-server] [--rounds 3] [--ms 8000] [--streams 5] [--kill-again MS]
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JsCluster, type Impl } from '../../test/cluster/js-cluster-harness.js';
import { argOf } from './args.js';
import { checkAgreement, onCluster, rawRequest, runMain } from './cluster-checks.js';

const impl = argOf('impl', 'tsnats') as Impl;
const rounds = Number(argOf('rounds', '3'));
const ms = Number(argOf('ms', '8000'));
const count = Number(argOf('streams', '5'));
const killAgainMs = Number(argOf('kill-again', '0'));
const STREAMS = count <= 5 ? ['A1', 'B1', 'C1', 'A3', 'B3'].slice(0, count)
  : Array.from({ length: count }, (_, i) => `S${String(i).padStart(4, '0')}${i % 10 === 0 ? 'R3' : ''}`);
const replicasOf = (name: string): number => (name.endsWith('3') ? 3 : 1);

/** Run `fn` over `items`, `width` at a time. */
async function inWaves<T>(items: T[], width: number, fn: (t: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += width) await Promise.all(items.slice(i, i + width).map(fn));
}

async function main(): Promise<void> {
  console.log(`meta-restart-connect impl=${impl} rounds=${rounds} streams=${STREAMS.length}`);
  const c = await JsCluster.start({ impl, size: 3, startTimeoutMs: 180_000 });
  const wrong: string[] = [];
  const tally = new Map<string, number>();
  /** Last acknowledged sequence per stream; dropped when a publish went unanswered (it may be stored). */
  const lastSeq = new Map<string, number>();
  /** Highest sequence acknowledged per stream: what must survive. */
  const acked = new Map<string, number>();
  await onCluster(c, async () => {
    await c.waitMetaLeader({ peers: 3 });
    const nc = await connect({ servers: c.nodes[0]!.clientUrl, user: 'a', pass: 'a' });
    const t0 = Date.now();
    await inWaves(STREAMS, 16, async (name) => {
      const r = await rawRequest(nc, `$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: [`r.${name}`], num_replicas: replicasOf(name) }), 30_000);
      if (r.length !== 1 || r[0]!.includes('"error"')) throw new Error(`create ${name}: ${r.join(' | ')}`);
      const d = await rawRequest(nc, `$JS.API.CONSUMER.CREATE.${name}.D`, JSON.stringify({ stream_name: name, config: { durable_name: 'D', ack_policy: 'explicit' } }), 30_000);
      if (d.length !== 1 || d[0]!.includes('"error"')) throw new Error(`consumer ${name}: ${d.join(' | ')}`);
      await nc.request(`r.${name}`, 'x', { timeout: 10_000 });
      lastSeq.set(name, 1);
      acked.set(name, 1);
    });
    await nc.close();
    console.log(`${STREAMS.length} streams and consumers created in ${Date.now() - t0} ms`);
    for (let round = 0; round < rounds; round++) {
      const victim = c.nodes[round % 3]!;
      const how = round % 2 === 0 ? 'kill -9' : 'SIGTERM';
      if (how === 'kill -9') await c.kill(victim);
      else await c.stop(victim);
      await c.restart(victim);
      let vc: NatsConnection | undefined;
      if (killAgainMs > 0) {
        await new Promise((r) => setTimeout(r, killAgainMs));
        await c.kill(victim);
        await c.restart(victim);
      }
      const end = Date.now() + ms;
      while (!vc && Date.now() < end) vc = await connect({ servers: victim.clientUrl, user: 'a', pass: 'a', reconnect: false }).catch(() => undefined);
      if (!vc) throw new Error(`could not connect to ${victim.name}`);
      let asked = 0;
      while (Date.now() < end) {
        const name = STREAMS[Math.floor(Math.random() * STREAMS.length)]!;
        const probes: Array<[string, string]> = [
          [`$JS.API.STREAM.INFO.${name}`, ''], ['$JS.API.STREAM.NAMES', ''], [`$JS.API.CONSUMER.INFO.${name}.D`, ''],
          ['$JS.API.STREAM.LIST', ''], ['$JS.API.INFO', ''], [`r.${name}`, 'p'],
        ];
        for (const [subject, body] of probes) {
          const r = await rawRequest(vc, subject, body, 1500);
          const publish = subject.startsWith('r.');
          if (publish && r.length === 0) lastSeq.delete(name);
          const key = r.length === 0 ? 'no answer' : (() => {
            let j: { error?: { err_code: number }; total?: number; streams?: number | unknown[]; consumers?: number; seq?: number; stream?: string };
            try {
              j = JSON.parse(r[0]!) as typeof j;
            } catch {
              return `not JSON: ${r[0]!.slice(0, 40)}`;
            }
            if (j.error) return `error ${j.error.err_code}`;
            if (subject.endsWith('NAMES') || subject.endsWith('LIST')) {
              const listed = Array.isArray(j.streams) ? j.streams.length : 0;
              return j.total === STREAMS.length && listed === Math.min(STREAMS.length, subject.endsWith('NAMES') ? 1024 : 256) ? 'complete' : `total ${j.total}, ${listed} listed`;
            }
            if (subject === '$JS.API.INFO') return j.streams === STREAMS.length && j.consumers === STREAMS.length ? 'complete' : `streams ${String(j.streams)}, consumers ${j.consumers}`;
            if (publish) {
              const want = lastSeq.get(name);
              if (j.stream !== name || (want !== undefined && j.seq !== want + 1)) return `acked ${j.stream} seq ${j.seq}, expected ${want === undefined ? 'any' : want + 1}`;
              lastSeq.set(name, j.seq!);
              acked.set(name, Math.max(acked.get(name) ?? 0, j.seq!));
            }
            return 'ok';
          })();
          const k = `${publish ? 'publish' : subject.split('.').slice(2, 4).join('.')}: ${key}`;
          tally.set(k, (tally.get(k) ?? 0) + 1);
          if (/error 100(59|14)|error 10148|^total|^streams|^acked|^not JSON/.test(key)) {
            wrong.push(`round ${round} (${victim.name}, ${how}) ${publish ? `publish ${name}` : subject}: ${key}: ${(r[0] ?? '').slice(0, 200)}`);
          }
          if (r.length > 1) wrong.push(`round ${round} ${subject}: ${r.length} answers`);
        }
        asked++;
      }
      await vc.close().catch(() => {});
      await c.waitMetaLeader({ peers: 3, timeoutMs: 60_000 });
      console.log(`round ${round}: ${victim.name} restarted after ${how}, ${asked * 6} requests through it`);
    }
    // Nothing acknowledged lost, every server holding its assigned streams.
    const checker = await connect({ servers: c.nodes.map((n) => n.clientUrl), user: 'a', pass: 'a' });
    await checkAgreement(c, [checker], 'after the rounds');
    for (const name of STREAMS) {
      const r = await rawRequest(checker, `$JS.API.STREAM.INFO.${name}`, '', 10_000);
      const j = r[0] === undefined ? undefined : JSON.parse(r[0]) as { state?: { messages: number; last_seq: number } };
      if (!j?.state || j.state.last_seq < (acked.get(name) ?? 0) || j.state.messages !== j.state.last_seq) {
        wrong.push(`${name}: state ${JSON.stringify(j?.state ?? r[0])} but ${acked.get(name)} acknowledged`);
      }
    }
    await checker.close();
    for (const [k, v] of [...tally.entries()].sort()) console.log(`  ${v}x ${k}`);
    for (const w of wrong.slice(0, 30)) console.log(`WRONG ${w}`);
    console.log(`RESULT: ${wrong.length} wrong answers`);
    if (wrong.length) process.exitCode = 1;
  });
}

runMain('', main);
