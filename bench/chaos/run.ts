// `npm run chaos -- --seed N --duration S [--impl nats-server|tsnats] [--faults kill,stop,...] [--keep]`
//
// One chaos run: a 3-node cluster of child processes, an R3 file stream and an
// R3 durable pull consumer, publishers with Nats-Msg-Id and with
// Nats-Expected-Last-Sequence, the seeded fault schedule, then the checks of
// verify.ts. Prints the seed and the schedule; exits 1 on a violation (with a
// replay command), 2 on a usage error. See bench/chaos/README.md.
import type { NatsConnection } from '@nats-io/transport-node';
import { api, connectTo, consumerConfig, CONSUMER, STREAM, streamConfig, type ConsumerInfo, type StreamInfo } from './api.js';
import { ChaosCluster, type Impl } from './cluster.js';
import { pollUntil } from '../../test/helpers/wait.js';
import { FaultRunner, type FaultRecord } from './faults.js';
import { ALL_FAULTS, DEFAULT_FAULTS, describeFault, FAULT_DOC, parseFaults, planSchedule, type FaultKind, type PlannedFault } from './schedule.js';
import { checkContent, digest, verify } from './verify.js';
import { readReplicaOffline } from './offline.js';
import { join } from 'node:path';
import { consumerWorker, expectPublisher, Ledger, msgIdPublisher, Pacer, pause, type LoadControl } from './workload.js';

export const DEFAULT_RATE = 1000;

export interface ChaosOptions {
  seed: number;
  durationS: number;
  impl: Impl;
  faults: FaultKind[];
  keep?: boolean;
  /** publishes per second, all publishers together (default 1000; 0 = as fast as acks come) */
  rate?: number;
  /** progress lines (default: stderr) */
  log?: (m: string) => void;
}

export interface ChaosResult {
  ok: boolean;
  seed: number;
  schedule: PlannedFault[];
  executed: FaultRecord[];
  violations: string[];
  notes: string[];
  stats: { acked: number; sent: number; delivered: number; duplicates: number; retries: number; wrongLast: number; errors: Record<string, number> };
  replay: string;
}

/** The faults of a run without --faults: every kind (both implementations keep file stores and raft WALs). */
export function defaultFaults(_impl: Impl): FaultKind[] {
  return [...DEFAULT_FAULTS];
}

/**
 * The faults of the bounded run in `npm test`: for tsnats every kind; for nats-server 2.9.10 only the
 * kinds it survived in every run we made (kill, torn, unsynced). It fails bitflip every time (the
 * flipped replica is never repaired: it cannot be read past the flipped record, or never catches up
 * again), peer-remove under load (replacements that hold only the stream's tail, or a replacement
 * with a torn tail that ends up past the leader's last sequence), and partition of the leader sometimes
 * (a replica ends up with messages missing and others at the wrong sequences while it is reported
 * current), and raft-damage (a peers.idx cut short makes it panic at start or when it loads the group,
 * "slice bounds out of range", on every restart: the server never comes back). Those are findings about
 * the reference, recorded in bench/chaos/README.md with their seeds; checks that fail on the reference
 * some of the time would only make CI flaky. Run them with `npm run chaos -- --faults ...`.
 */
export function ciFaults(impl: Impl): FaultKind[] {
  return impl === 'nats-server'
    ? ['kill', 'torn', 'unsynced']
    : ['kill', 'stop', 'partition', 'torn', 'bitflip', 'unsynced', 'raft-damage', 'peer-remove'];
}

/**
 * The bounded runs of `npm test` (test/cluster/chaos-ci.ts): fixed seeds and a load duration per
 * implementation. Chosen for the shortest run whose schedules together still hold every kind of
 * ciFaults() and a fault of the leader (kill, and for tsnats also stop and partition);
 * chaos-parts.test.ts checks that from the schedules alone. nats-server: seeds 3 and 23 hold each of its
 * kinds twice (kill of the leader twice). tsnats: seed 3552 (partition of the leader, bitflip, torn,
 * unsynced) and 18100 (kill and stop of the leader, raft-damage of 3 files, peer-remove) at 10 s: eight
 * kinds need eight faults, one more than the seven of the earlier pair (23 and 222 at 12 s), so the load
 * is 2 s shorter; in two rounds run alternately with that pair on this machine they took 109.6 s
 * against 123.0 s in all.
 */
export const CI_RUNS: Record<Impl, { seeds: number[]; durationS: number }> = {
  'nats-server': { seeds: [3, 23], durationS: 10 },
  tsnats: { seeds: [3552, 18100], durationS: 10 },
};

export function replayCommand(o: ChaosOptions): string {
  const rate = o.rate !== undefined && o.rate !== DEFAULT_RATE ? ` --rate ${o.rate}` : '';
  return `npm run chaos -- --seed ${o.seed} --duration ${o.durationS} --impl ${o.impl} --faults ${o.faults.join(',')}${rate}`;
}

/**
 * API errors that mean "the cluster is not ready yet", retried: no meta or stream leader (503, 10008),
 * and "no suitable peers for placement" (10005), which nats-server answers until the meta leader has
 * heard from every server.
 */
function retryable(e: { code: number; err_code?: number }): boolean {
  return e.code === 503 || e.err_code === 10008 || e.err_code === 10005;
}

/** Create the stream and the durable, retrying while the cluster settles; any other error fails at once. */
async function setup(nc: NatsConnection): Promise<void> {
  const create = async (what: string, subject: string, body: unknown, okCodes: number[]) => {
    let fatal: string | undefined;
    await pollUntil(async () => {
      const r = await api<StreamInfo | ConsumerInfo>(nc, subject, body, 10_000);
      if (r.error === undefined || okCodes.includes(r.error.err_code ?? 0)) return true;
      if (!retryable(r.error)) {
        fatal = `${what}: ${JSON.stringify(r.error)}`;
        return true;
      }
      throw new Error(`${what}: ${JSON.stringify(r.error)}`);
    }, what, 60_000, 500);
    if (fatal !== undefined) throw new Error(fatal);
  };
  await create('the R3 stream', `$JS.API.STREAM.CREATE.${STREAM}`, streamConfig(), [10058]);
  await create('the R3 durable consumer', `$JS.API.CONSUMER.DURABLE.CREATE.${STREAM}.${CONSUMER}`, { stream_name: STREAM, config: consumerConfig() }, []);
}

export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  const log = o.log ?? ((m: string) => process.stderr.write(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${m}\n`));
  const schedule = planSchedule(o.seed, o.durationS * 1000, o.faults);
  const replay = replayCommand(o);
  log(`seed ${o.seed}, ${o.durationS} s on ${o.impl} at up to ${o.rate ?? DEFAULT_RATE} msgs/s, faults ${o.faults.join(',') || 'none'}; schedule:`);
  for (const f of schedule) log(`  ${describeFault(f)}`);
  const ledger = new Ledger();
  const executed: FaultRecord[] = [];
  const violations: string[] = [];
  const notes: string[] = [];
  // Peer remove needs somewhere to place the replacement: with only the stream's 3 servers nats-server
  // answers "peer remap failed" or leaves the stream on 2 peers. So that fault adds a 4th server.
  const size = o.faults.includes('peer-remove') ? 4 : 3;
  const cluster = new ChaosCluster(o.impl, size, o.keep === true);
  const conns: NatsConnection[] = [];
  const ctl: LoadControl = { running: true, pacer: new Pacer(o.rate ?? DEFAULT_RATE) };
  try {
    await cluster.start();
    log(`${size} servers up in ${cluster.root}`);
    const urls = cluster.nodes.map((n) => n.clientUrl);
    // Each connection starts at a different node, so load and faults meet every path.
    const at = (i: number) => [...urls.slice(i % urls.length), ...urls.slice(0, i % urls.length)];
    const control = await connectTo(at(0), 'chaos-control');
    conns.push(control);
    await setup(control);
    log('stream and durable consumer created');
    const workers: Promise<void>[] = [];
    for (let p = 0; p < 2; p++) {
      const nc = await connectTo(at(p), `chaos-msgid-${p}`);
      conns.push(nc);
      workers.push(msgIdPublisher(nc, p, 3, ledger, ctl));
    }
    const enc = await connectTo(at(2), 'chaos-expect');
    conns.push(enc);
    workers.push(expectPublisher(enc, 0, ledger, ctl));
    const cnc = await connectTo(at(1), 'chaos-consumer');
    conns.push(cnc);
    workers.push(consumerWorker(cnc, ledger, ctl));

    const runner = new FaultRunner(cluster, control, t0, log);
    const loadEnd = Date.now() + o.durationS * 1000;
    for (const f of schedule) {
      await pause(f.gapMs);
      if (Date.now() > loadEnd + 30_000) {
        notes.push(`schedule cut short at fault #${f.n}: faults ran late on a busy machine`);
        break;
      }
      const rec = await runner.run(f);
      executed.push(rec);
      if (rec.violation !== undefined) violations.push(rec.violation);
    }
    const left = loadEnd - Date.now();
    if (left > 0) await pause(left);
    ctl.running = false;
    await Promise.all(workers);
    log(`load stopped: ${ledger.acks} acks for ${ledger.acked.size} keys of ${ledger.sent.size} sent, ${ledger.retries} retries`);

    // Heal everything and bring every node back before checking.
    cluster.healAll();
    for (const n of cluster.nodes) cluster.cont(n);
    for (const n of cluster.nodes) {
      if (n.alive) continue;
      try {
        await cluster.restart(n);
      } catch (e) {
        await cluster.kill(n);
        violations.push(`${n.name} did not start again for the checks: ${(e as Error).message.split('\n')[0]}`);
      }
    }

    violations.push(...ledger.violations);
    const r = await verify(cluster, control, ledger, log);
    violations.push(...r.violations);
    notes.push(...r.notes);
    if (o.impl === 'tsnats' && r.peers.length > 0) {
      // Every replica's own files, read with the project's file store once its server has stopped.
      for (const n of cluster.nodes) await cluster.stopGracefully(n);
      const digests = new Map<string, string>();
      for (const p of r.peers) {
        const rep = await readReplicaOffline(cluster.node(p).storeDir, join(cluster.root, 'offline', p));
        if (rep === undefined) {
          violations.push(`offline store of ${p}: no store of stream ${STREAM} found`);
          continue;
        }
        checkContent(rep.msgs, ledger, `offline store of ${p}`, violations);
        digests.set(p, `${digest(rep.msgs)} (${rep.msgs.size} msgs, first ${rep.firstSeq}, last ${rep.lastSeq})`);
        log(`offline store of ${p}: ${digests.get(p)}`);
      }
      if (new Set(digests.values()).size > 1) violations.push(`offline replica stores differ: ${[...digests].map(([n, d]) => `${n}=${d}`).join(' ')}`);
    }
  } catch (e) {
    violations.push(`run aborted: ${(e as Error).stack ?? e}`);
  } finally {
    ctl.running = false;
    if (violations.length > 0) {
      for (const n of cluster.nodes) {
        const tail = n.log().split('\n').filter((l) => /\[(ERR|WRN|FTL)\]|error|panic/i.test(l)).slice(-8);
        if (tail.length > 0) log(`${n.name} log (errors/warnings, last 8):\n    ${tail.join('\n    ')}`);
      }
    }
    await Promise.all(conns.map((nc) => nc.close().catch(() => undefined)));
    await cluster.shutdown();
  }
  const errors: Record<string, number> = {};
  for (const [k, v] of ledger.pubErrors) errors[k] = v;
  return {
    ok: violations.length === 0,
    seed: o.seed,
    schedule,
    executed,
    violations,
    notes,
    stats: {
      acked: ledger.acked.size, sent: ledger.sent.size, delivered: ledger.delivered.size,
      duplicates: ledger.duplicates, retries: ledger.retries, wrongLast: ledger.wrongLast, errors,
    },
    replay,
  };
}

export function report(r: ChaosResult, impl: Impl): string {
  const lines = [
    `chaos ${r.ok ? 'PASS' : 'FAIL'}: seed ${r.seed} on ${impl}`,
    `  acked ${r.stats.acked} of ${r.stats.sent} keys sent; consumer delivered ${r.stats.delivered} seqs; ${r.stats.duplicates} duplicate acks, ${r.stats.retries} retries, ${r.stats.wrongLast} wrong-last-sequence`,
    `  publish errors: ${JSON.stringify(r.stats.errors)}`,
    '  faults executed:',
    ...r.executed.map((e) => `    ${describeFault(e.fault)} -> ${e.node ?? '-'} (leader ${e.leaderBefore ?? '?'}) at ${e.atMs} ms: ${e.note}`),
    ...r.notes.map((n) => `  note: ${n}`),
  ];
  if (!r.ok) {
    lines.push('  VIOLATIONS:', ...r.violations.map((v) => `    ${v}`));
    lines.push('  schedule (replay with the same seed and faults):', ...r.schedule.map((f) => `    ${describeFault(f)}`));
    lines.push(`  replay: ${r.replay}`);
  }
  return lines.join('\n');
}

function usage(): string {
  return [
    'usage: npm run chaos -- --seed N --duration S [--impl nats-server|tsnats] [--faults a,b,...] [--rate msgs/s] [--keep]',
    'faults:',
    ...ALL_FAULTS.map((k) => `  ${k.padEnd(12)} ${FAULT_DOC[k]}`),
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  let seed = Date.now() % 100_000;
  let durationS = 30;
  let impl: Impl = 'nats-server';
  let faults: FaultKind[] | undefined;
  let keep = false;
  let rate = DEFAULT_RATE;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seed') seed = Number(val());
    else if (a === '--duration') durationS = Number(val());
    else if (a === '--impl') impl = val() as Impl;
    else if (a === '--faults') faults = parseFaults(val());
    else if (a === '--keep') keep = true;
    else if (a === '--rate') rate = Number(val());
    else if (a === '-h' || a === '--help') {
      console.log(usage());
      return 0;
    } else throw new Error(`unknown argument ${a}\n${usage()}`);
  }
  if (!Number.isInteger(seed) || seed < 0) throw new Error('--seed must be a non-negative integer');
  if (!(durationS > 0 && durationS <= 3600)) throw new Error('--duration must be in (0, 3600] seconds');
  if (impl !== 'nats-server' && impl !== 'tsnats') throw new Error('--impl must be nats-server or tsnats');
  if (!(rate >= 0 && rate <= 1_000_000)) throw new Error('--rate must be in [0, 1000000] messages per second');
  const o: ChaosOptions = { seed, durationS, impl, faults: faults ?? defaultFaults(impl), keep, rate };
  // A hard bound on the whole run: the load, plus generous room for recovery and the checks.
  const hardMs = (durationS + 300) * 1000;
  const watchdog = setTimeout(() => {
    process.stderr.write(`chaos: run exceeded ${hardMs} ms; aborting (seed ${seed}): ${replayCommand(o)}\n`);
    process.exit(1); // the exit hook kills every child
  }, hardMs);
  watchdog.unref();
  const r = await runChaos(o);
  console.log(report(r, impl));
  return r.ok ? 0 : 1;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  process.on('SIGINT', () => process.exit(130));
  process.on('SIGTERM', () => process.exit(143));
  main(process.argv.slice(2)).then((c) => process.exit(c), (e: unknown) => {
    console.error((e as Error).message);
    process.exit(2);
  });
}
