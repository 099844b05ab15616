// Attack: kill -9 of every server of a 3-server cluster in the middle of a burst of meta changes.
//
// Each round sends, all at once from clients on every server, stream creates (R1 and R3), updates,
// deletes and durable consumer creates; after a random delay every server is killed (-9) and the
// three are restarted in a different order each round. Afterwards: every server holds exactly the
// streams assigned to it (the same assignments everywhere), every create or update answered OK
// (and not deleted by a later OK) exists with its config, every delete answered OK stays deleted,
// every consumer create answered OK answers CONSUMER.INFO. A request without an answer may have
// gone either way.
//
//   node dist/bench/attack/meta-kill-burst.js [--impl tsnats|nats-server] [--seed N] [--rounds R] [--burst B]
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JsCluster, type Impl } from '../../test/cluster/js-cluster-harness.js';
import { pollUntil, seededRandom } from '../../test/helpers/wait.js';
import { argOf } from './args.js';
import { checkAgreement, logProblems, printWarnings, rawRequest } from './cluster-checks.js';

const impl = argOf('impl', 'tsnats') as Impl;
const seed = Number(argOf('seed', '1'));
const rounds = Number(argOf('rounds', '4'));
const burst = Number(argOf('burst', '40'));
const rnd = seededRandom(seed);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
const ORDERS = [[0, 1, 2], [2, 1, 0], [1, 2, 0], [0, 2, 1], [2, 0, 1], [1, 0, 2]];

type Answer = { error?: { err_code: number; description: string }; config?: { max_msgs?: number } };

/**
 * What the client was told, per stream: 'exists' or 'deleted'; the max_msgs it may have (the last
 * one answered OK, or one sent in the same burst without an answer); whether an unanswered delete
 * may have removed it.
 */
interface Told { state: 'exists' | 'deleted'; maxMsgs: Set<number>; maybeDeleted: boolean; consumers: Set<string> }
const told = new Map<string, Told>();
const created = (): Told => ({ state: 'exists', maxMsgs: new Set([100]), maybeDeleted: false, consumers: new Set() });

async function main(): Promise<void> {
  console.log(`meta-kill-burst impl=${impl} seed=${seed} rounds=${rounds} burst=${burst}`);
  const c = await JsCluster.start({ impl, size: 3 });
  const logSeen = new Map<string, number>();
  let answered = 0;
  let unanswered = 0;
  try {
    for (let round = 0; round < rounds; round++) {
      await c.waitMetaLeader({ timeoutMs: 60_000, peers: 3 });
      const ncs = await Promise.all(c.nodes.map((n) => connect({ servers: n.clientUrl, user: 'a', pass: 'a', reconnect: false })));
      const known = [...told.entries()].filter(([, v]) => v.state === 'exists').map(([k]) => k);
      const ops: Array<() => Promise<void>> = [];
      for (let i = 0; i < burst; i++) {
        const nc = pick(ncs);
        const r = rnd();
        if (r < 0.45 || known.length === 0) {
          const name = `K${round}_${i}`;
          const cfg = { name, subjects: [`k.${name}`], num_replicas: rnd() < 0.5 ? 1 : 3, max_msgs: 100 };
          ops.push(() => send(nc, `$JS.API.STREAM.CREATE.${name}`, cfg, (a) => { if (!a.error) told.set(name, created()); }));
        } else if (r < 0.65) {
          const name = pick(known);
          const max = 200 + Math.floor(rnd() * 1000);
          ops.push(async () => {
            const info = await rawRequest(nc, `$JS.API.STREAM.INFO.${name}`, '', 3000);
            const j = info[0] ? JSON.parse(info[0]) as { config?: Record<string, unknown> } : undefined;
            if (!j?.config) return;
            told.get(name)?.maxMsgs.add(max);
            await send(nc, `$JS.API.STREAM.UPDATE.${name}`, { ...j.config, max_msgs: max }, (a) => {
              const t = told.get(name);
              if (!a.error && t && t.state === 'exists') t.maxMsgs = new Set([max]);
            });
          });
        } else if (r < 0.8) {
          const name = pick(known);
          ops.push(async () => {
            let answered = false;
            try {
              await send(nc, `$JS.API.STREAM.DELETE.${name}`, undefined, (a) => {
                answered = true;
                if (!a.error) told.set(name, { ...created(), state: 'deleted' });
              });
            } finally {
              const t = told.get(name);
              if (!answered && t) t.maybeDeleted = true;
            }
          });
        } else {
          const name = pick(known);
          const d = `D${i}`;
          ops.push(() => send(nc, `$JS.API.CONSUMER.CREATE.${name}.${d}`, { stream_name: name, config: { durable_name: d, ack_policy: 'explicit' } }, (a) => {
            const t = told.get(name);
            if (!a.error && t && t.state === 'exists') t.consumers.add(d);
          }));
        }
      }
      const delay = 100 + Math.floor(rnd() * 1400);
      console.log(`round ${round}: ${ops.length} requests, kill -9 of all after ${delay} ms`);
      const running = ops.map((op) => op().then(() => { answered++; }, () => { unanswered++; }));
      await new Promise((r) => setTimeout(r, delay));
      await Promise.all(c.nodes.map((n) => c.kill(n)));
      await Promise.all(running);
      await Promise.all(ncs.map((nc) => nc.close().catch(() => {})));
      const order = ORDERS[(round + seed) % ORDERS.length]!;
      for (const i of order) {
        await c.restart(c.nodes[i]!);
        await new Promise((r) => setTimeout(r, Math.floor(rnd() * 1500)));
      }
      console.log(`round ${round}: restarted`);
      const ncs2 = await Promise.all(c.nodes.map((n) => connect({ servers: n.clientUrl, user: 'a', pass: 'a', reconnect: false })));
      const view = await checkAgreement(c, ncs2, `round ${round}`);
      const problems: string[] = [];
      for (const [name, t] of told) {
        if (t.state === 'deleted' && view.has(name)) problems.push(`${name}: deleted (answered OK) but back`);
        if (t.state !== 'exists') continue;
        if (!view.has(name)) {
          if (t.maybeDeleted) told.set(name, { ...t, state: 'deleted' });
          else problems.push(`${name}: created (answered OK) but missing`);
          continue;
        }
        const info = await pollUntil(async () => {
          const r = await rawRequest(ncs2[0]!, `$JS.API.STREAM.INFO.${name}`, '', 3000);
          return r[0] ? JSON.parse(r[0]) as { config?: { max_msgs?: number }; error?: unknown } : undefined;
        }, `STREAM.INFO ${name}`, 30_000, 200);
        if (!t.maxMsgs.has(info.config?.max_msgs ?? -1)) problems.push(`${name}: max_msgs ${info.config?.max_msgs}, expected one of ${[...t.maxMsgs]}`);
        t.maxMsgs = new Set([info.config!.max_msgs!]);
        t.maybeDeleted = false;
        for (const d of t.consumers) {
          const ci = await pollUntil(async () => {
            const r = await rawRequest(ncs2[1]!, `$JS.API.CONSUMER.INFO.${name}.${d}`, '', 3000);
            const j = r[0] ? JSON.parse(r[0]) as { error?: { err_code: number } } : undefined;
            return j && j.error?.err_code !== 10008 ? j : undefined;
          }, `CONSUMER.INFO ${name} ${d}`, 30_000, 200);
          if (ci.error) problems.push(`${name} > ${d}: created (answered OK) but ${JSON.stringify(ci.error)}`);
        }
      }
      for (const p of logProblems(c, logSeen)) console.log(`LOG round ${round}: ${p}`);
      await Promise.all(ncs2.map((nc) => nc.close().catch(() => {})));
      console.log(`round ${round}: killed after ${delay} ms, restarted ${order.map((i) => c.nodes[i]!.name)}; ${view.size} streams agreed; ${problems.length} problems`);
      for (const p of problems) console.log(`  PROBLEM ${p}`);
      if (problems.length) throw new Error(`round ${round}: ${problems.length} problems`);
    }
    console.log(`RESULT seed=${seed}: ${rounds} rounds, ${answered} answered, ${unanswered} unanswered; every OK kept, same assignments everywhere`);
  } catch (e) {
    printWarnings(c, 30);
    throw e;
  } finally {
    await c.shutdown();
  }
}

/** One request; `ok` sees its answer. Rejects when it got none (the servers were killed). */
async function send(nc: NatsConnection, subject: string, body: unknown, ok: (a: Answer) => void): Promise<void> {
  const r = await rawRequest(nc, subject, body === undefined ? '' : JSON.stringify(body), 5000).catch(() => [] as string[]);
  if (r.length === 0) throw new Error('no answer');
  if (r.length > 1) console.log(`MULTI ${subject}: ${r.join(' | ').slice(0, 400)}`);
  ok(JSON.parse(r[0]!) as Answer);
}

main().catch((e: unknown) => {
  console.error(`FAILED seed=${seed}:`, e);
  process.exit(1);
});
