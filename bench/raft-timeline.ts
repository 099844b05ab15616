// Reads a Raft timeline (src/raft/trace.ts: run the servers with TSNATS_RAFT_TRACE=<file>, e.g.
// `TSNATS_RAFT_TRACE=/tmp/tl.log TSNATS_RAFT_TRACE_GROUPS=S- R3_PARTS=pub node dist/bench/run.js
// cluster-r3 --no-pin --tsnats-only`) and prints, per stage of a replicated batch, the median and
// 90th percentile over the later part of the run (the first `skip` share, default 0.4, is JIT
// warm-up). Usage: node dist/bench/raft-timeline.js <file> [client's server name] [skip]
//
// Stages of append entry i (a batch of at least 16 entries) of the group's leader:
//   propose turn      first proposal queued -> AE stored and sent (the leader's ingest of the batch)
//   F: aeout->aein    the AE's route hop to follower F (includes the leader's end of turn)
//   F: aein->durable  F's WAL write and fdatasync (F acknowledges at its end)
//   aeout->commit     until the leader starts applying i (a quorum acknowledged)
//   L apply           the leader's apply of i (store writes and the PubAcks)
//   F: apply start / end relative to the leader's (negative: before)
//   PubAck loop       leader's apply end -> first proposal of the next batch (PubAcks to the
//                     client's server and the client, its next PUBs, their forwarding)

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Row { ts: number; server: string; group: string; ev: string; index: number; n: number }

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
}

export function timeline(text: string, clientServer = '', skip = 0.4): string[] {
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length !== 6) continue;
    rows.push({ ts: Number(f[0]), server: f[1], group: f[2], ev: f[3], index: Number(f[4]), n: Number(f[5]) });
  }
  rows.sort((a, b) => a.ts - b.ts);
  // The busiest group and its leader (most append entries sent).
  const count = new Map<string, number>();
  for (const r of rows) if (r.ev === 'L-aeout') count.set(`${r.group} ${r.server}`, (count.get(`${r.group} ${r.server}`) ?? 0) + 1);
  const top = [...count].sort((a, b) => b[1] - a[1])[0];
  if (top === undefined) return ['no append entries in the timeline'];
  const [group, leader] = top[0].split(' ');
  const first = new Map<string, Row>();
  const followers = new Set<string>();
  for (const r of rows) {
    if (r.group !== group) continue;
    if (r.ev === 'F-aein') followers.add(r.server);
    const k = `${r.server} ${r.ev} ${r.index}`;
    if (!first.has(k)) first.set(k, r);
  }
  const at = (server: string, ev: string, index: number): number | undefined => first.get(`${server} ${ev} ${index}`)?.ts;
  const batches = rows.filter((r) => r.group === group && r.server === leader && r.ev === 'L-aeout' && r.n >= 16).map((r) => r.index);
  const used = batches.slice(Math.floor(batches.length * skip));
  const stages = new Map<string, number[]>();
  const add = (k: string, v: number | undefined): void => {
    if (v === undefined || Number.isNaN(v)) return;
    let a = stages.get(k);
    if (a === undefined) stages.set(k, (a = []));
    a.push(v);
  };
  const sizes: number[] = [];
  for (const i of used) {
    const out = at(leader, 'L-aeout', i);
    const la0 = at(leader, 'apply0', i);
    const la1 = at(leader, 'apply1', i);
    if (out === undefined || la0 === undefined || la1 === undefined) continue;
    sizes.push(first.get(`${leader} L-aeout ${i}`)!.n);
    const p0 = at(leader, 'L-prop0', i);
    if (p0 !== undefined) add('propose turn', out - p0);
    for (const f of [...followers].sort()) {
      const tag = clientServer === '' ? f : f === clientServer ? `${f} (client's)` : `${f} (third)`;
      const fin = at(f, 'F-aein', i);
      const fd = at(f, 'durable', i);
      const fa0 = at(f, 'apply0', i);
      const fa1 = at(f, 'apply1', i);
      add(`${tag}: aeout->aein`, fin !== undefined ? fin - out : undefined);
      add(`${tag}: aein->durable`, fin !== undefined && fd !== undefined ? fd - fin : undefined);
      add(`${tag}: apply start - leader's`, fa0 !== undefined ? fa0 - la0 : undefined);
      add(`${tag}: apply`, fa0 !== undefined && fa1 !== undefined ? fa1 - fa0 : undefined);
      add(`${tag}: apply end - leader's`, fa1 !== undefined ? fa1 - la1 : undefined);
    }
    add('aeout->commit (leader apply starts)', la0 - out);
    add('L apply', la1 - la0);
    const next = at(leader, 'L-prop0', i + 1);
    add('PubAck loop (apply end -> next proposal)', next !== undefined ? next - la1 : undefined);
    add('round (proposal -> next proposal)', next !== undefined && p0 !== undefined ? next - p0 : undefined);
  }
  sizes.sort((a, b) => a - b);
  const out = [`group ${group}, leader ${leader}, followers ${[...followers].sort().join(' ')}; ${sizes.length} batches used (of ${batches.length}), median ${sizes.length ? quantile(sizes, 0.5) : 0} entries`];
  out.push('| stage | p50 µs | p90 µs |', '|---|---:|---:|');
  for (const [k, v] of stages) {
    v.sort((a, b) => a - b);
    out.push(`| ${k} | ${Math.round(quantile(v, 0.5))} | ${Math.round(quantile(v, 0.9))} |`);
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, client, skip] = process.argv.slice(2);
  if (!file) {
    console.error('usage: node dist/bench/raft-timeline.js <file> [client server] [skip share]');
    process.exit(2);
  }
  for (const l of timeline(readFileSync(file, 'utf8'), client ?? '', skip ? Number(skip) : 0.4)) console.log(l);
}
