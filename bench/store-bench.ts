// Store benchmarks: file store append throughput (sync 'always' with group
// commit, and interval sync), memory store throughput, and restart (recovery)
// time and RSS of a file store holding N x 128-byte messages.
//
//   node dist/bench/store-bench.js [--count 1000000 | --quick] [--dir /tmp/x] [--keep]
//
// Recovery is measured in a fresh child process so its RSS is the store's.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createFileStore, createMemStore, type StreamStore } from '../src/jetstream/store/index.js';

const args = process.argv.slice(2);
const arg = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : def;
};

const MSG_SIZE = 128;
const payload = Buffer.alloc(MSG_SIZE, 'x');
const subjects = Array.from({ length: 100 }, (_, i) => `bench.sub.${i}`);

function fmtRate(n: number, ms: number): string {
  return `${Math.round((n / ms) * 1000).toLocaleString('en-US')} msgs/s (${((n * MSG_SIZE) / 1024 / 1024 / (ms / 1000)).toFixed(1)} MiB/s payload)`;
}

/** CPU time of this process since `from` in ms (the machine may be shared: wall time alone misleads). */
function cpuMs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}

function cpuNote(n: number, from: NodeJS.CpuUsage): string {
  const ms = cpuMs(from);
  return `[cpu ${ms.toFixed(0)} ms = ${((ms * 1000) / n).toFixed(2)} us/msg]`;
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Store n messages, `batch` per event-loop turn; returns elapsed ms until everything is durable. */
async function appendOpenLoop(s: StreamStore, n: number, batch: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; ) {
    const end = Math.min(n, i + batch);
    for (; i < end; i++) s.storeMsg(subjects[i % subjects.length], undefined, payload);
    await turn();
  }
  await s.flush();
  return performance.now() - t0;
}

/** Keep `window` messages awaiting durability (like publishers waiting for PubAcks); returns ms. */
async function appendClosedLoop(s: StreamStore, n: number, window: number): Promise<{ ms: number; commits: number }> {
  let commits = 0;
  let durable = s.durableSeq();
  let wake: (() => void) | undefined;
  s.onDurable((seq) => {
    commits++;
    durable = seq;
    wake?.();
  });
  const first = s.fastState().lastSeq;
  const t0 = performance.now();
  let stored = 0;
  while (durable - first < n) {
    const inFlight = s.fastState().lastSeq - durable;
    let room = Math.min(window - inFlight, n - stored);
    for (; room > 0; room--, stored++) s.storeMsg(subjects[stored % subjects.length], undefined, payload);
    await new Promise<void>((r) => {
      wake = r;
    });
    wake = undefined;
  }
  s.onDurable(undefined);
  return { ms: performance.now() - t0, commits };
}

interface Row {
  name: string;
  tsnats: number | null;
  natsServer: null;
  unit: string;
  target?: { kind: 'at-most'; value: number };
  note?: string;
}
const rows: Row[] = [];
const row = (name: string, value: number, unit: string, extra: Partial<Row> = {}): void => {
  rows.push({ name, tsnats: Math.round(value), natsServer: null, unit, ...extra });
};

async function main(): Promise<void> {
  const count = Number(arg('count', args.includes('--quick') ? '100000' : '1000000'));
  const root = arg('dir', fs.mkdtempSync(path.join(os.tmpdir(), 'store-bench-')));
  const keep = args.includes('--keep');
  console.log(`store bench: ${count.toLocaleString('en-US')} x ${MSG_SIZE}-byte messages, dir ${root}, node ${process.version}, ${os.cpus().length} cpus`);
  try {
    // Memory store.
    {
      const s = createMemStore({ name: 'M', storage: 'memory' });
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (let i = 0; i < count; i++) s.storeMsg(subjects[i % subjects.length], undefined, payload);
      const ms = performance.now() - t0;
      console.log(`memory store append:              ${fmtRate(count, ms)} ${cpuNote(count, c0)}`);
      row('store: memory append 128B', (count / ms) * 1000, 'msgs/s');
      const t1 = performance.now();
      let n = 0;
      for (let m = s.loadNextMsg('', 1); m; m = s.loadNextMsg('', m.seq + 1)) n++;
      console.log(`memory store sequential read:     ${fmtRate(n, performance.now() - t1)}`);
      await s.stop();
    }
    // File store, interval sync (ack immediately).
    const intervalDir = path.join(root, 'interval');
    {
      const h = monitorEventLoopDelay({ resolution: 5 });
      h.enable();
      const s = createFileStore({ name: 'F', storage: 'file' }, { dir: intervalDir, sync: { intervalMs: 120_000 } });
      const c0 = process.cpuUsage();
      const ms = await appendOpenLoop(s, count, 1000);
      h.disable();
      row('store: file append 128B, interval sync', (count / ms) * 1000, 'msgs/s');
      console.log(`file store append, interval sync: ${fmtRate(count, ms)} (incl. final fsync) ${cpuNote(count, c0)}; event-loop delay p99 ${(h.percentile(99) / 1e6).toFixed(1)} ms, max ${(h.max / 1e6).toFixed(1)} ms`);
      const t1 = performance.now();
      let n = 0;
      for (let m = s.loadNextMsg('', 1); m; m = s.loadNextMsg('', m.seq + 1)) n++;
      console.log(`file store sequential read:       ${fmtRate(n, performance.now() - t1)}`);
      await s.stop();
    }
    // File store, sync always with group commit.
    {
      const n = Math.min(count, 200_000);
      const s = createFileStore({ name: 'A', storage: 'file' }, { dir: path.join(root, 'always'), sync: 'always' });
      const c0 = process.cpuUsage();
      const r = await appendClosedLoop(s, n, 5000);
      const note = cpuNote(n, c0);
      row('store: file append 128B, sync always, 5000 awaiting', (n / r.ms) * 1000, 'msgs/s', { note: `${r.commits} group commits` });
      console.log(`file store append, sync always:   ${fmtRate(n, r.ms)} with 5000 awaiting acks; ${r.commits} group commits (${Math.round(n / r.commits)} msgs per fsync) ${note}`);
      const r2 = await appendClosedLoop(s, Math.min(n, 20_000), 100);
      console.log(`file store append, sync always:   ${fmtRate(Math.min(n, 20_000), r2.ms)} with 100 awaiting acks; ${r2.commits} group commits`);
      await s.stop();
    }
    // Restart of the interval store: recovery time and RSS in a fresh process.
    {
      const code = `
        const { createFileStore } = await import(${JSON.stringify(new URL('../src/jetstream/store/index.js', import.meta.url).href)});
        const before = process.memoryUsage().rss;
        const t0 = performance.now();
        const s = createFileStore({ name: 'F', storage: 'file' }, { dir: ${JSON.stringify(intervalDir)} });
        const ms = performance.now() - t0;
        const st = s.fastState();
        const m = s.loadMsg(st.lastSeq);
        global.gc?.();
        const after = process.memoryUsage().rss;
        console.log(JSON.stringify({ ms, msgs: st.msgs, last: m && m.seq, rssMiB: after / 1048576, deltaMiB: (after - before) / 1048576 }));
        await s.stop();`;
      const idxFiles = (): string[] => fs.readdirSync(path.join(intervalDir, 'msgs')).filter((f) => f.endsWith('.idx'))
        .sort((a, b) => parseInt(a) - parseInt(b));
      for (const label of ['after clean stop (every block indexed)', 'as after a crash (write block scanned)',
        'worst case (no index files, every block scanned)']) {
        if (label.startsWith('as after')) {
          // The opens above re-indexed everything; drop the newest index like a crash would.
          const all = idxFiles();
          fs.rmSync(path.join(intervalDir, 'msgs', all[all.length - 1]));
        }
        if (label.startsWith('worst')) {
          for (const f of idxFiles()) fs.rmSync(path.join(intervalDir, 'msgs', f));
        }
        const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { encoding: 'utf8' });
        if (r.status !== 0) throw new Error(r.stderr);
        const o = JSON.parse(r.stdout.trim().split('\n').pop()!);
        row(`store: restart ${o.msgs} msgs, ${label}`, o.ms, 'ms', label.startsWith('after clean') ? { target: { kind: 'at-most', value: 3000 } } : {});
        console.log(`file store restart, ${label}: ${o.ms.toFixed(0)} ms for ${o.msgs.toLocaleString('en-US')} msgs; RSS ${o.rssMiB.toFixed(0)} MiB (+${o.deltaMiB.toFixed(0)} MiB for the store)`);
      }
    }
  } finally {
    if (!keep) fs.rmSync(root, { recursive: true, force: true });
  }
  // Rows for the bench harness (bench/lib/registry.ts).
  console.log(`BENCH_ROWS ${JSON.stringify(rows)}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
