// Fault injection against the file store. Every scenario checks the same promise against what the
// test itself wrote and was acknowledged (never against the store's own record parser):
//   every acknowledged message is in the store afterwards, byte for byte, unless the fault destroyed
//   its bytes on disk; then it is listed in state().lost and named in the log. Nothing else is lost.
//
// Faults: SIGKILL right after an acknowledgement (child process, fsync before ack), a torn tail,
// flipped bits in sealed and active blocks with and without their index files, a low open-files
// limit (ulimit -n in a child shell), and SIGKILL at each step of a block compaction.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createFileStore, type FileStore } from '../../src/jetstream/store/index.js';
import { seededRandom } from '../helpers/wait.js';
import { runUntilKilled } from '../helpers/kill-child.js';

const storeUrl = new URL('../../src/jetstream/store/index.js', import.meta.url).href;
const BLOCK = 32 * 1024;

const payload = (seq: number): string => `<${seq}>` + 'p'.repeat((seq * 7919) % 200);
const subjectOf = (seq: number): string => `f.${seq % 10}`;

const cleanups = new WeakMap<TestContext, Array<() => unknown>>();

/** Run fn after the test, before everything registered earlier (stores stop before their dir goes). */
function onCleanup(t: TestContext, fn: () => unknown): void {
  let stack = cleanups.get(t);
  if (!stack) {
    const s: Array<() => unknown> = [];
    cleanups.set(t, s);
    t.after(async () => {
      while (s.length > 0) await s.pop()!();
    });
    stack = s;
  }
  stack.push(fn);
}

function tmp(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-faults-'));
  onCleanup(t, () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Opened {
  s: FileStore;
  logs: string[];
}

function openStore(t: TestContext, dir: string, extra: Record<string, unknown> = {}): Opened {
  const logs: string[] = [];
  const s = createFileStore({ name: 'F', storage: 'file' }, {
    dir, sync: 'always', blockSizeBytes: BLOCK, log: (m) => logs.push(m), ...extra,
  });
  onCleanup(t, () => s.stop().catch(() => undefined));
  return { s, logs };
}

/** The promise, checked for seqs 1..acked: present and exact, or reported lost and logged. Returns
 *  the lost ones. Messages beyond acked may be present (then exact) or absent. */
function checkAcked(o: Opened, acked: number, label: string): number[] {
  const missing: number[] = [];
  for (let seq = 1; seq <= acked; seq++) {
    const m = o.s.loadMsg(seq);
    if (m) {
      assert.equal(m.data.toString(), payload(seq), `${label}: seq ${seq} content`);
      assert.equal(m.subject, subjectOf(seq), `${label}: seq ${seq} subject`);
      continue;
    }
    missing.push(seq);
  }
  // Damage found by a read (checksum) is reported from then on.
  const lost = new Set(o.s.state().lost?.msgs ?? []);
  for (const seq of missing) {
    assert.ok(lost.has(seq), `${label}: acknowledged seq ${seq} missing and not reported lost`);
    assert.ok(o.logs.some((l) => mentions(l, seq)), `${label}: lost seq ${seq} not in the log:\n${o.logs.join('\n')}`);
  }
  const st = o.s.state();
  for (let seq = acked + 1; seq <= st.lastSeq; seq++) {
    const m = o.s.loadMsg(seq);
    if (m) assert.equal(m.data.toString(), payload(seq), `${label}: unacked seq ${seq} content`);
  }
  return missing;
}

/** Does a log line name seq, alone or inside an "a..b" range? */
function mentions(line: string, seq: number): boolean {
  for (const m of line.matchAll(/(\d+)\.\.(\d+)/g)) if (seq >= Number(m[1]) && seq <= Number(m[2])) return true;
  return new RegExp(`\\b${seq}\\b`).test(line);
}

/** Write n messages in-process with fsync before ack; returns the highest acknowledged seq. */
async function writeAcked(o: Opened, n: number): Promise<number> {
  let acked = 0;
  o.s.onDurable((seq, err) => {
    assert.equal(err, undefined);
    acked = seq;
  });
  const start = o.s.fastState().lastSeq;
  for (let i = 1; i <= n; i++) {
    const seq = start + i;
    assert.equal(o.s.storeMsg(subjectOf(seq), undefined, Buffer.from(payload(seq))).seq, seq);
    if (i % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  await o.s.flush();
  assert.equal(acked, start + n);
  return acked;
}

function blockFiles(dir: string): string[] {
  return fs.readdirSync(path.join(dir, 'msgs')).filter((f) => f.endsWith('.blk'))
    .sort((a, b) => parseInt(a) - parseInt(b)).map((f) => path.join(dir, 'msgs', f));
}

/** Sequences whose payload marker is in file. */
function seqsIn(file: string): number[] {
  return [...fs.readFileSync(file).toString('latin1').matchAll(/<(\d+)>/g)].map((m) => Number(m[1]));
}

// ---- child process writer ----

const writerCode = `
import { createFileStore } from ${JSON.stringify(storeUrl)};
const env = process.env;
const hooks = {};
if (env.KILL_STEP) {
  let n = 0;
  hooks.compactStep = (step) => {
    if (step === env.KILL_STEP && ++n === Number(env.KILL_NTH)) process.kill(process.pid, 'SIGKILL');
  };
}
const cfg = { name: 'F', storage: 'file', maxMsgsPerSubject: Number(env.PER_SUBJECT || 0) };
const s = createFileStore(cfg, { dir: env.STORE_DIR, sync: 'always', blockSizeBytes: Number(env.BLOCK),
  compactMinBytes: 1024, log: (m) => process.stderr.write('LOG ' + m + '\\n'), testHooks: hooks });
const payload = (seq) => '<' + seq + '>' + 'p'.repeat((seq * 7919) % 200);
const subjectOf = (seq) => env.STICKY && seq % Number(env.STICKY) === 0 ? 's.' + seq
  : env.SUBJECTS ? 'f.' + (seq % Number(env.SUBJECTS)) : 'f.' + (seq % 10);
s.onDurable((seq, err) => { if (!err) process.stdout.write('A ' + seq + '\\n'); });
let next = s.fastState().lastSeq + 1;
process.stdout.write('S ' + (next - 1) + '\\n');
function batch() {
  for (let i = 0; i < 40; i++) {
    const seq = next++;
    if (env.MAX_MSGS && seq > Number(env.MAX_MSGS)) { process.stderr.write('no kill before ' + seq + '\\n'); process.exit(4); }
    const got = s.storeMsg(subjectOf(seq), undefined, Buffer.from(payload(seq))).seq;
    if (got !== seq) { process.stderr.write('seq mismatch ' + got + ' != ' + seq + '\\n'); process.exit(3); }
  }
  setImmediate(batch);
}
batch();
`;

interface RunResult {
  acked: number;
  start: number;
  stderr: string;
  signal: NodeJS.Signals | null;
}

/** Run the writer; SIGKILL it as soon as an ack >= killAt arrives (no sleep), or let a hook kill it. */
async function runWriter(t: TestContext, env: Record<string, string>, killAt: number): Promise<RunResult> {
  let acked = 0;
  let start = -1;
  const r = await runUntilKilled({
    code: writerCode,
    env: { BLOCK: String(BLOCK), ...env },
    label: 'writer',
    onSpawn: (child) => onCleanup(t, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }),
    onLine: (kind, v) => {
      if (kind === 'S') start = Number(v);
      if (kind === 'A') acked = Math.max(acked, Number(v));
    },
    killWhen: () => acked >= killAt,
  });
  return { acked, start, stderr: r.stderr, signal: r.signal };
}

test('SIGKILL right after an acknowledgement loses nothing acknowledged (3 rounds)', async (t) => {
  const dir = tmp(t);
  let floor = 0;
  for (let round = 1; round <= 3; round++) {
    const r = await runWriter(t, { STORE_DIR: dir }, floor + 3000);
    assert.equal(r.start, floor, `round ${round}: the writer resumed after the last recovered seq`);
    const o = openStore(t, dir);
    const missing = checkAcked(o, r.acked, `round ${round}`);
    assert.deepEqual(missing, [], `round ${round}: a process crash keeps every acknowledged byte`);
    // A torn write at the kill may cost unacknowledged messages only.
    for (const s of o.s.state().lost?.msgs ?? []) assert.ok(s > r.acked, `round ${round}: lost ${s} was acknowledged`);
    const st = o.s.state();
    assert.ok(st.lastSeq >= r.acked);
    assert.equal(st.firstSeq, 1);
    floor = st.lastSeq;
    await o.s.stop();
  }
});

test('torn tails and flipped bits (sealed and active blocks, with and without index files)', async (t) => {
  const base = tmp(t);
  const orig = path.join(base, 'orig');
  const o = openStore(t, orig);
  const acked = await writeAcked(o, 1500);
  await o.s.stop();
  assert.ok(blockFiles(orig).length >= 4);
  const rnd = seededRandom(1234);
  const cases: Array<{ name: string; block: 'sealed' | 'active'; index: boolean; fault: 'flip' | 'torn' }> = [];
  for (const block of ['sealed', 'active'] as const) {
    for (const index of [true, false]) {
      cases.push({ name: `flip ${block} ${index ? 'with' : 'without'} index`, block, index, fault: 'flip' });
    }
  }
  cases.push({ name: 'torn tail of the active block (no index, as after a crash)', block: 'active', index: false, fault: 'torn' });
  cases.push({ name: 'torn tail of a sealed block without index', block: 'sealed', index: false, fault: 'torn' });
  for (const c of cases) {
    for (let rep = 0; rep < 3; rep++) {
      const dir = path.join(base, `${c.name.replace(/\W+/g, '-')}-${rep}`);
      fs.cpSync(orig, dir, { recursive: true });
      const files = blockFiles(dir);
      const file = c.block === 'active' ? files[files.length - 1] : files[1 + Math.floor(rnd() * (files.length - 2))];
      if (!c.index) fs.rmSync(file.replace(/\.blk$/, '.idx'), { force: true });
      const inFile = seqsIn(file);
      // A torn tail of the active block is a crash in the middle of its last write: the last record.
      const victim = c.fault === 'torn' && c.block === 'active' ? inFile[inFile.length - 1]
        : inFile[Math.floor(rnd() * inFile.length)];
      const at = fs.readFileSync(file).indexOf(`<${victim}>`);
      if (c.fault === 'flip') {
        const buf = fs.readFileSync(file);
        buf[at + 1] ^= 0x20;
        fs.writeFileSync(file, buf);
      } else {
        fs.truncateSync(file, at + 1);
      }
      const label = `${c.name} #${rep} (seq ${victim})`;
      const r = openStore(t, dir);
      const missing = checkAcked(r, acked, label);
      // What the test destroyed, and nothing more: the flipped record, or everything from the tear on.
      const destroyed = c.fault === 'flip' ? [victim] : inFile.filter((s) => s >= victim);
      assert.deepEqual(missing, destroyed, label);
      assert.deepEqual(r.s.state().lost?.msgs, destroyed, label);
      // The store takes new writes after the damage and keeps them.
      const next = r.s.storeMsg('after', undefined, Buffer.from('after')).seq;
      await r.s.flush();
      await r.s.stop();
      const again = openStore(t, dir);
      assert.equal(again.s.loadMsg(next)?.data.toString(), 'after', label);
      assert.equal(again.s.state().msgs, acked - destroyed.length + 1, label);
      await again.s.stop();
    }
  }
});

test('a low open-files limit (ulimit -n 64) gives read errors at worst, never deleted messages', async (t) => {
  const dir = tmp(t);
  const o = openStore(t, dir, { blockSizeBytes: 2048 });
  const acked = await writeAcked(o, 3000);
  await o.s.stop();
  assert.ok(blockFiles(dir).length > 200, 'more blocks than the open-files limit');
  const readerCode = `
import { createFileStore } from ${JSON.stringify(storeUrl)};
import * as fs from 'node:fs';
// Hold most of the limit so the store runs into EMFILE with its default cap of open blocks.
const held = [];
try { for (;;) held.push(fs.openSync('/dev/null', 'r')); } catch {}
for (let i = 0; i < 12 && held.length; i++) fs.closeSync(held.pop());
const s = createFileStore({ name: 'F', storage: 'file' }, { dir: process.env.STORE_DIR, blockSizeBytes: 2048,
  sync: 'always', log: (m) => process.stderr.write('LOG ' + m + '\\n') });
let ok = 0, errors = 0, bad = 0;
const payload = (seq) => '<' + seq + '>' + 'p'.repeat((seq * 7919) % 200);
for (let round = 0; round < 2; round++) {
  for (let seq = 1; seq <= ${acked}; seq++) {
    try {
      const m = s.loadMsg(seq);
      if (m && m.data.toString() === payload(seq)) ok++; else bad++;
    } catch (e) { errors++; }
  }
}
// Writing under the limit too: new block files every few messages.
let written = 0;
for (let seq = ${acked} + 1; seq <= ${acked} + 500; seq++) {
  if (s.storeMsg('f.' + (seq % 10), undefined, Buffer.from(payload(seq))).seq === seq) written++;
}
await s.flush();
const heldCount = held.length;
for (const fd of held) fs.closeSync(fd);
await s.stop();
process.stdout.write(JSON.stringify({ ok, errors, bad, held: heldCount, written }) + '\\n');
`;
  const out = await new Promise<{ ok: number; errors: number; bad: number; held: number; written: number }>((resolve, reject) => {
    const child = spawn('bash', ['-c', `ulimit -n 64 && exec "${process.execPath}" --input-type=module -e "$CODE"`], {
      env: { ...process.env, STORE_DIR: dir, CODE: readerCode },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(t, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`reader exited ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!));
    });
  });
  // The limit was in force: the reader held all but a dozen descriptors, far fewer than the blocks.
  assert.ok(out.held >= 30 && out.held < 64, `descriptors held under ulimit -n 64: ${out.held}`);
  // Under the limit every read succeeds: the LRU gives descriptors back when the process runs out.
  assert.equal(out.bad, 0);
  assert.equal(out.ok + out.errors, 2 * acked);
  assert.equal(out.errors, 0, `read errors under ulimit -n 64: ${out.errors}`);
  assert.equal(out.written, 500, 'writes under the limit were acknowledged');
  // And every acknowledged message, old and new, is on disk.
  const r = openStore(t, dir, { blockSizeBytes: 2048 });
  assert.deepEqual(checkAcked(r, acked + 500, 'after ulimit'), []);
  assert.equal(r.s.state().msgs, acked + 500);
  assert.equal(r.s.state().lost, undefined);
});

test('SIGKILL at every step of a block compaction keeps every acknowledged message', async (t) => {
  // KV-like: 7 keys keep only their latest value, and every 50th message is a key written once.
  // Sealed blocks are then mostly dead but for their write-once keys, and get compacted.
  const isSticky = (seq: number): boolean => seq % 50 === 0;
  for (const step of ['start', 'written', 'index-removed', 'renamed', 'done']) {
    const dir = tmp(t);
    const r = await runWriter(t, {
      STORE_DIR: dir, PER_SUBJECT: '1', SUBJECTS: '7', STICKY: '50', BLOCK: '8192', KILL_STEP: step, KILL_NTH: '3',
      MAX_MSGS: '200000',
    }, Number.MAX_SAFE_INTEGER);
    assert.ok(r.acked > 0, `${step}: some writes were acknowledged before the kill`);
    const o = openStore(t, dir, { blockSizeBytes: 8192 });
    const st = o.s.state();
    assert.ok(st.lastSeq >= r.acked, `${step}: last ${st.lastSeq} < acked ${r.acked}`);
    assert.equal(st.lost, undefined, `${step}: nothing lost: ${JSON.stringify(st.lost)}`);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'msgs')).filter((f) => f.endsWith('.compact')), [], 'temp file cleaned');
    let stickies = 0;
    for (let seq = 50; seq <= st.lastSeq; seq += 50) {
      const m = o.s.loadMsg(seq);
      if (seq <= r.acked) assert.ok(m, `${step}: acknowledged write-once seq ${seq} missing`);
      if (m) {
        stickies++;
        assert.equal(m.data.toString(), payload(seq));
      }
    }
    for (let k = 0; k < 7; k++) {
      // The latest acknowledged write of key k (or a later one) is what the key holds.
      let lastAckedOfKey = r.acked;
      while (lastAckedOfKey > 0 && (lastAckedOfKey % 7 !== k || isSticky(lastAckedOfKey))) lastAckedOfKey--;
      const m = o.s.loadLastMsg(`f.${k}`);
      if (lastAckedOfKey === 0) continue;
      assert.ok(m, `${step}: key ${k} lost its value`);
      assert.ok(m.seq >= lastAckedOfKey, `${step}: key ${k} went back to ${m.seq} < ${lastAckedOfKey}`);
      assert.equal(m.data.toString(), payload(m.seq));
    }
    assert.equal(st.msgs, 7 + stickies);
    await o.s.stop();
  }
});

test('a server restarted on a damaged block reports the loss in STREAM.INFO state.lost and serves the rest', async (t) => {
  const { startTestServer } = await import('../helpers/server.js');
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager } = await import('@nats-io/jetstream');
  const dir = tmp(t);
  const options = {
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always' as const, strict: true },
  };
  let h = await startTestServer(options);
  let nc = await connect({ servers: h.clientUrl });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'D', subjects: ['d.>'], storage: 'file' as never });
  const js = jetstream(nc);
  const N = 300;
  for (let seq = 1; seq <= N; seq++) {
    const ack = await js.publish(`d.${seq % 3}`, payload(seq));
    assert.equal(ack.seq, seq);
  }
  await nc.close();
  await h.shutdown();

  // Damage one acknowledged record of the (only) block and drop its index, as a crash would.
  const msgsDir = path.join(dir, 'jetstream', '$G', 'streams', 'D', 'msgs');
  const blk = fs.readdirSync(msgsDir).filter((f) => f.endsWith('.blk')).map((f) => path.join(msgsDir, f))[0];
  fs.rmSync(blk.replace(/\.blk$/, '.idx'), { force: true });
  const victim = 123;
  const buf = fs.readFileSync(blk);
  buf[buf.indexOf(`<${victim}>`) + 1] ^= 0x20;
  fs.writeFileSync(blk, buf);

  h = await startTestServer(options);
  onCleanup(t, () => h.shutdown());
  nc = await connect({ servers: h.clientUrl });
  onCleanup(t, () => nc.close());
  const jsm2 = await jetstreamManager(nc);
  const info = await jsm2.streams.info('D');
  assert.deepEqual(info.state.lost?.msgs, [victim]);
  assert.ok((info.state.lost?.bytes ?? 0) > 0);
  assert.equal(info.state.messages, N - 1);
  assert.equal(info.state.last_seq, N);
  for (let seq = 1; seq <= N; seq++) {
    if (seq === victim) {
      assert.equal(await jsm2.streams.getMessage('D', { seq }).catch(() => null), null);
      continue;
    }
    const m = await jsm2.streams.getMessage('D', { seq });
    assert.equal(m?.string(), payload(seq), `seq ${seq}`);
  }
});

test('read errors in a running server: consumers get nothing while reads fail, then every message', async (t) => {
  const { createRequire, syncBuiltinESMExports } = await import('node:module');
  const { startTestServer } = await import('../helpers/server.js');
  const { connect } = await import('@nats-io/transport-node');
  const { jetstream, jetstreamManager, AckPolicy } = await import('@nats-io/jetstream');
  const dir = tmp(t);
  const h = await startTestServer({
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always', strict: true },
  });
  onCleanup(t, () => h.shutdown());
  const nc = await connect({ servers: h.clientUrl });
  onCleanup(t, () => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'E', subjects: ['e.>'], storage: 'file' as never });
  const js = jetstream(nc);
  const N = 200;
  for (let seq = 1; seq <= N; seq++) assert.equal((await js.publish('e.x', payload(seq))).seq, seq);
  await jsm.consumers.add('E', { durable_name: 'c', ack_policy: AckPolicy.Explicit });

  // Every positional read of a block fails from now on (as with EIO or EMFILE).
  const cjsFs = createRequire(import.meta.url)('node:fs') as typeof fs;
  const orig = cjsFs.readSync;
  let failing = true;
  cjsFs.readSync = function patched(this: unknown, ...args: unknown[]) {
    if (failing) throw Object.assign(new Error('EIO: injected'), { code: 'EIO' });
    return (orig as (...a: unknown[]) => number).apply(this, args);
  } as typeof fs.readSync;
  syncBuiltinESMExports();
  const restore = (): void => {
    cjsFs.readSync = orig;
    syncBuiltinESMExports();
  };
  onCleanup(t, restore);
  const c = await js.consumers.get('E', 'c');
  const none = await c.fetch({ max_messages: 10, expires: 1000 });
  let got = 0;
  for await (const m of none) {
    got++;
    m.ack();
  }
  // Nothing was read before, so nothing is cached: every read failed and nothing was delivered.
  assert.equal(got, 0);
  const info = await jsm.streams.info('E');
  assert.equal(info.state.messages, N, 'a read error removes nothing');
  assert.equal(info.state.lost, undefined);

  failing = false;
  restore();
  const seen = new Set<number>();
  while (seen.size < N - got) {
    const batch = await c.fetch({ max_messages: 100, expires: 2000 });
    for await (const m of batch) {
      assert.equal(m.string(), payload(m.seq));
      seen.add(m.seq);
      m.ack();
    }
  }
  assert.equal(seen.size + got, N);
  assert.equal((await jsm.streams.info('E')).state.messages, N);
});

test('SIGKILL after random batches of stores, removals, erases, purges and skips (with compaction)', async (t) => {
  const { runOpsBatch, opsPayload } = await import('./store-faults-ops.js');
  const { createMemStore } = await import('../../src/jetstream/store/index.js');
  const opsUrl = new URL('./store-faults-ops.js', import.meta.url).href;
  const cfg = { name: 'R', storage: 'file' as const, maxMsgsPerSubject: 2 };
  // The child runs batch after batch; after each batch is flushed (durable) it says so.
  const childCode = `
import { createFileStore } from ${JSON.stringify(storeUrl)};
import { runOpsBatch } from ${JSON.stringify(opsUrl)};
const s = createFileStore(${JSON.stringify(cfg)}, { dir: process.env.STORE_DIR, sync: 'always', blockSizeBytes: 4096,
  compactMinBytes: 512, log: (m) => process.stderr.write('LOG ' + m + '\\n') });
const rnd = { a: Number(process.env.SEED) };
for (let batch = 1; ; batch++) {
  runOpsBatch(s, rnd, batch);
  await s.flush();
  process.stdout.write('F ' + batch + '\\n');
}
`;
  // STORE_FAULT_SEEDS=a-b runs more seeds (a longer local fuzz).
  const range = process.env.STORE_FAULT_SEEDS?.split('-').map(Number);
  const seeds = range ? Array.from({ length: range[1] - range[0] + 1 }, (_, i) => range[0] + i) : [11, 22, 33, 44, 55, 66];
  for (const seed of seeds) {
    const dir = tmp(t);
    const killAfter = 5 + (seed % 17);
    let got = 0;
    await runUntilKilled({
      code: childCode,
      env: { STORE_DIR: dir, SEED: String(seed) },
      onSpawn: (child) => onCleanup(t, () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }),
      onLine: (kind, v) => {
        if (kind === 'F') got = Number(v);
      },
      killWhen: () => got >= killAfter,
    });
    // Reference: the same batches on memory stores, up to the last durable batch and one more.
    const rnd = { a: seed };
    const ref = createMemStore({ ...cfg, storage: 'memory' });
    for (let b = 1; b <= got; b++) runOpsBatch(ref, rnd, b);
    const atDurable = new Map<number, string>();
    for (let m = ref.loadNextMsg('', 0); m; m = ref.loadNextMsg('', m.seq + 1)) atDurable.set(m.seq, m.data.toString());
    const lastDurable = ref.state().lastSeq;
    runOpsBatch(ref, rnd, got + 1);
    const afterNext = new Map<number, string>();
    for (let m = ref.loadNextMsg('', 0); m; m = ref.loadNextMsg('', m.seq + 1)) afterNext.set(m.seq, m.data.toString());

    const o = openStore(t, dir, { blockSizeBytes: 4096 });
    const label = `seed ${seed}, killed after batch ${got}`;
    assert.equal(o.s.state().lost, undefined, label);
    // Everything live after the durable batch and not removed by the unfinished one is there, exactly.
    for (const [seq, data] of atDurable) {
      const m = o.s.loadMsg(seq);
      if (afterNext.has(seq)) assert.equal(m?.data.toString(), data, `${label}: seq ${seq}`);
      else if (m) assert.equal(m.data.toString(), data, `${label}: seq ${seq}`);
    }
    // Nothing else is: no message removed before the durable point came back, none was invented. A
    // message stored by the unfinished batch may be there even if that batch removed it again later.
    const lastNext = ref.state().lastSeq;
    for (let m = o.s.loadNextMsg('', 0); m; m = o.s.loadNextMsg('', m.seq + 1)) {
      const fromNext = m.seq > lastDurable && m.seq <= lastNext ? opsPayload(m.seq, got + 1) : undefined;
      const want = atDurable.get(m.seq) ?? afterNext.get(m.seq) ?? fromNext;
      assert.equal(m.data.toString(), want, `${label}: unexpected seq ${m.seq}`);
    }
    assert.ok(o.s.state().lastSeq >= ref.state().lastSeq - 200, label);
    await o.s.stop();
    await ref.stop();
  }
});
