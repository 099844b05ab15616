// Attack: a replica whose disk fills up (ENOSPC from a small tmpfs mounted over its store dir; needs
// root). 3 servers, an R3 file stream, one publisher that records every PubAck.
//
//   node dist/bench/attack/disk-full.js [--impl tsnats|nats-server] [--victim follower|leader|two] [--mb 3]
//
// Phases: the victim (a follower, the stream leader, or two servers) is stopped, its store moved
// onto a tmpfs of (its size + --mb) MiB and restarted; publishes run until well past the point where
// its disk is full; the figures and the victim's log lines are printed; the tmpfs is then grown
// (space returns) and the victim must catch up; finally every server is killed -9 and restarted, and
// every acknowledged message must be in the stream at its acknowledged sequence on every replica.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JsCluster, type Impl, type JsNode } from '../../test/cluster/js-cluster-harness.js';
import { pollUntil } from '../../test/helpers/wait.js';
import { argOf } from './args.js';

const arg = argOf;
const impl = arg('impl', 'tsnats') as Impl;
const victimKind = arg('victim', 'follower');
const extraMb = Number(arg('mb', '3'));
const STREAM = 'DF';
const PAYLOAD = Buffer.alloc(1024, 0x61);

const mounted: string[] = [];
// Whatever ends this process (a signal included: cluster-proc kills the servers and exits), no tmpfs stays mounted.
process.on('exit', () => {
  for (const m of mounted.splice(0)) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      // already unmounted
    }
  }
});
function sh(cmd: string, a: string[]): string {
  return execFileSync(cmd, a, { encoding: 'utf8' });
}
function duBytes(dir: string): number {
  return Number(sh('du', ['-sb', dir]).split('\t')[0]);
}
function dfLine(dir: string): string {
  return sh('df', ['-k', dir]).trim().split('\n').pop()!.replace(/\s+/g, ' ');
}

/** Stop n, move its store onto a tmpfs of its current size + extraMb, start it again. */
async function putOnSmallDisk(c: JsCluster, n: JsNode): Promise<void> {
  await c.stop(n);
  const bak = `${n.storeDir}.bak`;
  renameSync(n.storeDir, bak);
  mkdirSync(n.storeDir);
  const size = Math.ceil(duBytes(bak) / 1048576) + extraMb;
  sh('mount', ['-t', 'tmpfs', '-o', `size=${size}m`, 'tmpfs', n.storeDir]);
  mounted.push(n.storeDir);
  cpSync(bak, n.storeDir, { recursive: true });
  rmSync(bak, { recursive: true, force: true });
  console.log(`${n.name}: store on a ${size} MiB tmpfs (${dfLine(n.storeDir)})`);
  await c.restart(n);
}

async function streamInfo(nc: NatsConnection): Promise<{ error?: unknown; state?: { messages: number; last_seq: number }; cluster?: { leader?: string; replicas?: { name: string; current: boolean; lag?: number }[] } } | undefined> {
  try {
    const m = await nc.request(`$JS.API.STREAM.INFO.${STREAM}`, '', { timeout: 2000 });
    return m.json();
  } catch {
    return undefined;
  }
}

async function replicaState(c: JsCluster, n: JsNode): Promise<{ messages: number; last_seq: number } | undefined> {
  try {
    const j = await c.monitor<{ account_details?: { stream_detail?: { name: string; state: { messages: number; last_seq: number } }[] }[] }>(n, '/jsz?accounts=true&streams=true');
    return j.account_details?.flatMap((a) => a.stream_detail ?? []).find((s) => s.name === STREAM)?.state;
  } catch {
    return undefined;
  }
}

function interestingLog(n: JsNode, from: number): string[] {
  return n.log().split('\n').slice(from).filter((l) => /ERR|WRN|FTL|ENOSPC|space|storage|resources|disabl|fail/i.test(l) && !/route|Router|Plaintext/.test(l));
}

async function main(): Promise<void> {
  console.log(`disk-full impl=${impl} victim=${victimKind} +${extraMb} MiB`);
  const c = await JsCluster.start({ impl, size: 3 });
  const acked = new Map<number, number>(); // stream seq -> publish index
  let failures = 0;
  const failKinds = new Map<string, number>();
  try {
    const nc0 = await c.connect(c.nodes[0]!);
    const cr = await nc0.request(`$JS.API.STREAM.CREATE.${STREAM}`, JSON.stringify({ name: STREAM, subjects: ['df.>'], num_replicas: 3, storage: 'file' }), { timeout: 10_000 });
    console.log('create:', cr.string().slice(0, 120));
    const leaderName = (await pollUntil(async () => {
      const si = await streamInfo(nc0);
      return si?.cluster?.leader ? si : undefined;
    }, 'a stream leader', 30_000)).cluster!.leader!;
    const leader = c.node(leaderName);
    const followers = c.nodes.filter((n) => n !== leader);
    const victims = victimKind === 'leader' ? [leader] : victimKind === 'two' ? [leader, followers[0]!] : [followers[0]!];
    const clientNode = c.nodes.find((n) => !victims.includes(n))!;
    const logFrom = new Map(c.nodes.map((n) => [n.name, n.log().split('\n').length]));
    for (const v of victims) await putOnSmallDisk(c, v);
    await c.waitMetaLeader({ timeoutMs: 60_000 });
    const nc = await connect({ servers: clientNode.clientUrl, user: 'a', pass: 'a', reconnect: false });
    await pollUntil(async () => {
      const si = await streamInfo(nc);
      return si?.cluster?.leader ? true : undefined;
    }, 'a stream leader after the move', 60_000);

    // Publish until the victims' disks are full and then as many again.
    let i = 0;
    let fullAt = -1;
    const t0 = Date.now();
    for (;;) {
      const full = victims.every((v) => Number(dfLine(v.storeDir).split(' ')[3]) < 64);
      if (full && fullAt < 0) {
        fullAt = i;
        console.log(`victims' disks full after ${i} publishes (${acked.size} acked)`);
      }
      if (fullAt >= 0 && i >= fullAt * 2 + 200) break;
      if (Date.now() - t0 > 240_000) {
        console.log(`stopped publishing after 240 s (${i} publishes, disks: ${victims.map((v) => dfLine(v.storeDir)).join(' | ')})`);
        break;
      }
      const batch = Array.from({ length: 32 }, () => i++);
      await Promise.all(batch.map(async (k) => {
        try {
          const m = await nc.request(`df.${k}`, PAYLOAD, { timeout: 4000 });
          const j = m.json<{ seq?: number; error?: { description: string } }>();
          if (j.seq !== undefined) {
            if (acked.has(j.seq)) console.log(`DOUBLE ACK of seq ${j.seq}: publishes ${acked.get(j.seq)} and ${k}`);
            acked.set(j.seq, k);
          } else {
            failures++;
            const d = j.error?.description ?? 'no seq';
            failKinds.set(d, (failKinds.get(d) ?? 0) + 1);
          }
        } catch (e) {
          failures++;
          const d = (e as Error).message;
          failKinds.set(d, (failKinds.get(d) ?? 0) + 1);
        }
      }));
    }
    console.log(`published ${i}: ${acked.size} acked, ${failures} failed: ${JSON.stringify([...failKinds])}`);
    for (const n of c.nodes) console.log(`${n.name} alive=${n.alive} state=${JSON.stringify(await replicaState(c, n))} ${victims.includes(n) ? dfLine(n.storeDir) : ''}`);
    console.log('stream info:', JSON.stringify(await streamInfo(nc)));
    for (const n of c.nodes) for (const l of interestingLog(n, logFrom.get(n.name)!).slice(0, 25)) console.log(`  ${n.name}| ${l.slice(0, 300)}`);
    for (const n of c.nodes) console.log(`${n.name} log lines about it: ${interestingLog(n, logFrom.get(n.name)!).length}; starts=${n.starts}`);

    // Space returns.
    for (const v of victims) sh('mount', ['-o', 'remount,size=200m', v.storeDir]);
    console.log('space returned');
    const lastAcked = Math.max(0, ...acked.keys());
    const caught = await pollUntil(async () => {
      const states = await Promise.all(c.nodes.map((n) => replicaState(c, n)));
      return states.every((s) => s !== undefined && s.last_seq >= lastAcked) ? states : undefined;
    }, 'every replica to hold the last acknowledged sequence', 120_000, 500).catch((e: unknown) => {
      console.log(`NOT CAUGHT UP: ${(e as Error).message}`);
      return undefined;
    });
    console.log(`after space returned: ${JSON.stringify(caught ?? await Promise.all(c.nodes.map((n) => replicaState(c, n))))}`);
    for (const n of c.nodes) console.log(`${n.name} alive=${n.alive}`);
    const pub2 = await nc.request('df.after', PAYLOAD, { timeout: 10_000 }).then((m) => m.string()).catch((e: unknown) => String(e));
    console.log(`a publish after space returned: ${pub2}`);
    await nc.close();

    // Full restart, then every acknowledged message must be on every replica.
    await Promise.all(c.nodes.map((n) => c.kill(n)));
    for (const n of c.nodes) await c.restart(n);
    await c.waitMetaLeader({ timeoutMs: 60_000 });
    const nc2 = await connect({ servers: c.nodes[0]!.clientUrl, user: 'a', pass: 'a', reconnect: false });
    await pollUntil(async () => {
      const si = await streamInfo(nc2);
      return si?.cluster?.leader && (si.cluster.replicas ?? []).every((r) => r.current) ? true : undefined;
    }, 'the stream with a leader and current replicas after the restart', 90_000, 500).catch((e: unknown) => console.log(String(e)));
    const missing: number[] = [];
    const wrong: number[] = [];
    for (const [seq, k] of [...acked.entries()].sort((a, b) => a[0] - b[0])) {
      try {
        const m = await nc2.request(`$JS.API.STREAM.MSG.GET.${STREAM}`, JSON.stringify({ seq }), { timeout: 4000 });
        const j = m.json<{ message?: { subject: string }; error?: unknown }>();
        if (j.message === undefined) missing.push(seq);
        else if (j.message.subject !== `df.${k}`) wrong.push(seq);
      } catch {
        missing.push(seq);
      }
    }
    const states = await Promise.all(c.nodes.map((n) => replicaState(c, n)));
    console.log(`after a full restart: replicas ${JSON.stringify(states)}`);
    console.log(`RESULT ${impl} victim=${victimKind}: ${acked.size} acked, ${missing.length} missing (${missing.slice(0, 10)}), ${wrong.length} at a wrong seq (${wrong.slice(0, 10)})`);
    await nc2.close();
  } finally {
    for (const n of c.nodes) await c.kill(n);
    for (const m of mounted.splice(0)) {
      try {
        sh('umount', [m]);
      } catch (e) {
        console.log(`umount ${m}: ${String(e)}`);
      }
    }
    await c.shutdown();
  }
}

main().catch((e: unknown) => {
  console.error('FAILED:', e);
  process.exit(1);
});
