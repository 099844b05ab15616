// Raft benchmark: a 3-node group in one process over the in-process
// transport, each node with a real WAL in a temp dir (fdatasync per group
// commit). A pipelined client keeps `--window` 128-byte proposals in flight
// on the leader; we report committed proposals/s and commit latency
// (propose -> committed on the leader) p50/p99.
//
//   npm run bench:raft -- [--seconds 5] [--window 256] [--size 128] [--no-fsync]

import type { BenchRow } from './lib/types.js';
import { LocalCluster } from '../src/raft/local-cluster.js';
import type { RaftNode } from '../src/raft/node.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const seconds = arg('seconds', 5);
const window = arg('window', 256);
const size = arg('size', 128);
const fsync = !process.argv.includes('--no-fsync');
const warmupMs = 1000;

async function main(): Promise<void> {
  const applied = [0, 0, 0];
  let onCommitted: (seq: number) => void = () => {};
  const cluster = new LocalCluster({
    size: 3,
    fsync,
    memberOptions: (name) => {
      const k = Number(name.slice(1)) - 1;
      return {
        // A counting state machine: the benchmark measures Raft, not the apply.
        apply: (_index, entries) => {
          applied[k] += entries.length;
        },
        onProposalsCommitted: (seq) => onCommitted(seq),
      };
    },
  });
  cluster.startAll();
  const leader = await cluster.waitForLeader();
  const node: RaftNode = leader.n;
  const payload = Buffer.alloc(size, 0x61);

  // Ring of propose timestamps by sequence number.
  const RING = 1 << 20;
  const sentAt = new Float64Array(RING);
  let nextSeq = 0;
  let committedSeq = 0;
  let firstSeq = 0;
  let measuring = false;
  const lat: number[] = [];
  let measuredCommits = 0;
  let stopAt = Infinity;
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));

  onCommitted = (seq) => {
    const now = performance.now();
    for (let s = committedSeq + 1; s <= seq; s++) {
      if (measuring && s >= firstSeq) {
        lat.push(now - sentAt[s & (RING - 1)]);
        measuredCommits++;
      }
    }
    committedSeq = seq;
    if (now >= stopAt) {
      done();
      return;
    }
    pump();
  };

  // The client tops the window up as soon as commits free room.
  const pump = (): void => {
    const now = performance.now();
    while (nextSeq - committedSeq < window) {
      const seq = node.propose(payload);
      nextSeq = seq;
      sentAt[seq & (RING - 1)] = now;
    }
  };

  pump();
  await new Promise((r) => setTimeout(r, warmupMs));
  measuring = true;
  firstSeq = nextSeq + 1;
  const t0 = performance.now();
  stopAt = t0 + seconds * 1000;
  await finished;
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const rate = measuredCommits / elapsed;
  const st = node.status();
  console.log(`raft-bench: 3 nodes, in-process transport, WAL fsync=${fsync ? 'per group commit' : 'off'}, ${size}-byte proposals, window ${window}`);
  console.log(`  committed proposals/s : ${Math.round(rate).toLocaleString('en-US')}`);
  console.log(`  commit latency p50    : ${pct(0.5).toFixed(3)} ms`);
  console.log(`  commit latency p99    : ${pct(0.99).toFixed(3)} ms`);
  console.log(`  proposals measured    : ${measuredCommits} in ${elapsed.toFixed(2)} s; raft indexes ${st.commit} (avg ${(committedSeq / Math.max(1, st.commit)).toFixed(1)} proposals per append entry)`);
  console.log(`  applied on n1/n2/n3   : ${applied.join(' / ')}`);
  // Rows for the benchmark runner (`npm run bench -- raft`).
  const what = `3-node raft, ${size}B proposals, window ${window}`;
  const rows: BenchRow[] = [
    { name: `${what}: committed`, tsnats: Math.round(rate), natsServer: null, unit: 'proposals/s', note: 'target >= 50,000/s' },
    { name: `${what}: commit p50`, tsnats: Number(pct(0.5).toFixed(3)), natsServer: null, unit: 'ms', target: { kind: 'at-most', value: 2 } },
    { name: `${what}: commit p99`, tsnats: Number(pct(0.99).toFixed(3)), natsServer: null, unit: 'ms' },
  ];
  console.log(`BENCH_ROWS ${JSON.stringify(rows)}`);
  await cluster.destroy();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
