// Attack: damaged meta group files (`<store>/jetstream/$SYS/_js_/_meta_/`) on one server or on a
// majority of a 3-server cluster.
//
// Setup: R1 streams spread over the servers and R3 streams, each with 5 acknowledged messages. Then
// per case: the victims are stopped (kill -9, or SIGTERM so that a meta snapshot is written), their
// meta files damaged, and every server restarted. Checked: no server died, every server holds
// exactly the streams assigned to it, every stream is still there with its 5 messages (no orphan
// removal on an incomplete meta state), and what the victims logged.
// truncate-two (the meta leader and one other cut in half): before the WAL's durable witness the cut
// read as an unfinished write, the two elected a leader without the lost entries and removed the
// streams assigned in them as orphans (R1 ones: data lost). Now both recover as lost state (log ends
// below its durable witness), wait for the intact server to lead, and are repaired by it.
//
// wipe-two / rmwal-two (the meta leader's and one other's whole meta directory, or its wal/ directory,
// removed): the two came back as new members (a removed wal/ with a snapshot left as a log ending at
// the snapshot) and could elect a leader without the entries they had held. Now the copy of the
// durable witness in the JetStream root (or the group's other files) makes them lost state too.
//
//   node dist/bench/attack/meta-corrupt.js [--case truncate-one|flip-one|snapflip-one|wipe-one|rmwal-one|truncate-two|flip-two|wipe-two|rmwal-two]
import { connect } from '@nats-io/transport-node';
import { JsCluster } from '../../test/cluster/js-cluster-harness.js';
import { pollUntil } from '../../test/helpers/wait.js';
import { argOf } from './args.js';
import { checkAgreement, logProblems, onCluster, rawRequest, runMain } from './cluster-checks.js';
import { damage, listing } from './meta-damage.js';

const which = argOf('case', 'truncate-one');
const R1 = 9;
const R3 = 3;

async function main(): Promise<void> {
  const [how, count] = which.split('-') as [string, string];
  console.log(`meta-corrupt case=${which}`);
  const c = await JsCluster.start({ impl: 'tsnats', size: 3 });
  const logSeen = new Map<string, number>();
  await onCluster(c, async () => {
    await c.waitMetaLeader({ peers: 3 });
    let ncs = await Promise.all(c.nodes.map((n) => connect({ servers: n.clientUrl, user: 'a', pass: 'a', reconnect: false })));
    const names: string[] = [];
    for (let i = 0; i < R1 + R3; i++) {
      const name = i < R1 ? `R1_${i}` : `R3_${i}`;
      const nc = ncs[i % 3]!;
      const r = await rawRequest(nc, `$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: [`s.${name}`], num_replicas: i < R1 ? 1 : 3 }), 15_000);
      if (r.length !== 1 || r[0]!.includes('"error"')) throw new Error(`create ${name}: ${r.join(' | ')}`);
      for (let m = 1; m <= 5; m++) {
        const a = await nc.request(`s.${name}`, `m${m}`, { timeout: 10_000 });
        if (a.string().includes('"error"')) throw new Error(`publish ${name}: ${a.string()}`);
      }
      names.push(name);
    }
    await checkAgreement(c, ncs, 'before');
    await Promise.all(ncs.map((nc) => nc.close()));
    const meta = await c.metaLeader();
    // One victim: a server that is not the meta leader; two: the meta leader and one other.
    const victims = count === 'one' ? [c.nodes.find((n) => n !== meta)!] : [meta, c.nodes.find((n) => n !== meta)!];
    const graceful = how === 'snapflip';
    for (const n of c.nodes) await (graceful ? c.stop(n) : c.kill(n));
    for (const v of victims) {
      console.log(`${v.name} before: ${listing(v)}`);
      console.log(`${v.name}: ${damage(v, how)}`);
    }
    for (const n of c.nodes) await c.restart(n);
    ncs = await Promise.all(c.nodes.map((n) => connect({ servers: n.clientUrl, user: 'a', pass: 'a', reconnect: false })));
    const view = await checkAgreement(c, ncs, 'after');
    const problems: string[] = [];
    for (const name of names) {
      if (!view.has(name)) {
        problems.push(`${name} missing`);
        continue;
      }
      const info = await pollUntil(async () => {
        const r = await rawRequest(ncs[0]!, `$JS.API.STREAM.INFO.${name}`, '', 3000);
        const j = r[0] ? JSON.parse(r[0]) as { state?: { messages: number }; error?: unknown } : undefined;
        return j?.state ? j : undefined;
      }, `STREAM.INFO ${name}`, 30_000, 200);
      if (info.state!.messages !== 5) problems.push(`${name}: ${info.state!.messages} messages of 5`);
    }
    for (const p of logProblems(c, logSeen)) if (!/connect to route/.test(p)) console.log(`LOG ${p}`);
    for (const v of victims) {
      const lines = v.log().split('\n').filter((l) => (process.env.ALL_LOG ? true : /\[(WRN|ERR)\]/.test(l)) && /meta|_meta_|removing|orphan|lost|RAFT|leader|catch/i.test(l));
      console.log(`${v.name} said:\n  ${lines.slice(process.env.ALL_LOG ? -60 : -12).map((l) => l.slice(0, 300)).join('\n  ')}`);
    }
    for (const p of problems) console.log(`PROBLEM ${p}`);
    await Promise.all(ncs.map((nc) => nc.close()));
    console.log(`RESULT case=${which}: ${view.size} of ${names.length} streams, ${problems.length} problems`);
    if (problems.length) process.exitCode = 1;
  });
}

runMain(`case=${which}`, main);
