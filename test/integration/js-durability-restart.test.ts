// Server-level durability: a tsnats child process (sync_interval: always) is
// killed with SIGKILL the moment the client has its answer (PubAck, ack reply),
// with no pause in between, and started again on the same store; or started on a
// store whose meta and consumer files were damaged on purpose. Every message the
// client saw acknowledged must be there, every ack it saw confirmed must hold,
// damage must be logged, and the undamaged rest must be served.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { spawnTsnats, type ChildServer } from '../helpers/child.js';
import { waitUntil } from '../helpers/wait.js';

const MS = 1_000_000;

type Ctx = { after: (fn: () => Promise<void>) => void };

/** What a test started, released in one after-hook in a safe order: clients, then servers, then files. */
interface Resources {
  clients: NatsConnection[];
  children: ChildServer[];
  dirs: string[];
}
const resources = new WeakMap<Ctx, Resources>();

function res(t: Ctx): Resources {
  let r = resources.get(t);
  if (!r) {
    const created: Resources = { clients: [], children: [], dirs: [] };
    r = created;
    resources.set(t, created);
    t.after(async () => {
      for (const nc of created.clients) await nc.close().catch(() => undefined);
      for (const c of created.children) await kill9(c);
      for (const d of created.dirs) fs.rmSync(d, { recursive: true, force: true });
    });
  }
  return r;
}

function tmpDir(t: Ctx): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsnats-dur-'));
  res(t).dirs.push(d);
  return d;
}

/** Start tsnats as a child on `dir` (sync always, random port); SIGKILLed after the test if still running. */
async function start(t: Ctx, dir: string): Promise<ChildServer> {
  const conf = path.join(dir, 'server.conf');
  const store = path.join(dir, 'store');
  fs.writeFileSync(conf, `host: 127.0.0.1\nport: -1\njetstream {\n  store_dir: ${JSON.stringify(store)}\n  sync_interval: always\n}\n`);
  const child = await spawnTsnats(['-c', conf]);
  res(t).children.push(child);
  // Recovery is complete (whatever the order of listening and recovering) once the server says it is ready.
  await waitUntil(() => /Server is ready/.test(child.output()), 60_000, 'server ready');
  return child;
}

async function kill9(child: ChildServer): Promise<void> {
  if (child.proc.exitCode === null && child.proc.signalCode === null) child.proc.kill('SIGKILL');
  await child.exited;
}

async function client(t: Ctx, child: ChildServer): Promise<NatsConnection> {
  const nc = await connect({ servers: `nats://127.0.0.1:${child.port}`, reconnect: false });
  res(t).clients.push(nc);
  return nc;
}

function streamDir(dir: string, stream: string): string {
  return path.join(dir, 'store', 'jetstream', '$G', 'streams', stream);
}

test('SIGKILL the instant a PubAck arrives: every acknowledged message survives the restart', async (t) => {
  const dir = tmpDir(t);
  let srv = await start(t, dir);
  let nc = await client(t, srv);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'P', subjects: ['p.>'] });
  const js = jetstream(nc);
  const acked = new Map<number, string>();
  const KILL_AT = 300;
  let killed = false;
  const pubs: Array<Promise<void>> = [];
  // Keep many publishes in flight so the kill lands in the middle of writing.
  for (let i = 0; i < 2000; i++) {
    const body = `msg-${i}-${'z'.repeat(i % 97)}`;
    pubs.push(js.publish(`p.${i % 7}`, body, { timeout: 60_000 }).then((pa) => {
      acked.set(pa.seq, body);
      if (!killed && acked.size >= KILL_AT) {
        killed = true;
        srv.proc.kill('SIGKILL'); // synchronously, in the same turn that saw the ack
      }
    }, () => undefined));
  }
  await Promise.all(pubs);
  await srv.exited;
  assert.ok(killed && acked.size >= KILL_AT, `${acked.size} acks before the kill`);
  await nc.close().catch(() => undefined);

  srv = await start(t, dir);
  nc = await client(t, srv);
  const jsm2 = await jetstreamManager(nc);
  const si = await jsm2.streams.info('P');
  for (const [seq, body] of acked) {
    const m = await jsm2.streams.getMessage('P', { seq });
    assert.equal(m?.string(), body, `acknowledged message ${seq}`);
  }
  assert.ok(si.state.last_seq >= Math.max(...acked.keys()));
});

test('SIGKILL the instant an ack is confirmed (ackAck): the ack holds after the restart', async (t) => {
  const dir = tmpDir(t);
  let srv = await start(t, dir);
  let nc = await client(t, srv);
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'A', subjects: ['a.>'] });
  const js = jetstream(nc);
  for (let i = 1; i <= 20; i++) await js.publish('a.x', `m${i}`);
  await jsm.consumers.add('A', { durable_name: 'D', ack_policy: AckPolicy.Explicit, ack_wait: 30_000 * MS });
  const c = await js.consumers.get('A', 'D');
  const it = await c.fetch({ max_messages: 10, expires: 5000 });
  const confirmed: number[] = [];
  for await (const m of it) {
    await m.ackAck();
    confirmed.push(m.seq);
    if (confirmed.length === 10) {
      srv.proc.kill('SIGKILL'); // no pause between the confirmation and the kill
      break;
    }
  }
  await srv.exited;
  assert.deepEqual(confirmed, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await nc.close().catch(() => undefined);

  srv = await start(t, dir);
  nc = await client(t, srv);
  const jsm2 = await jetstreamManager(nc);
  const ci = await jsm2.consumers.info('A', 'D');
  assert.equal(ci.ack_floor.stream_seq, 10, 'every confirmed ack is kept');
  assert.equal(ci.num_ack_pending, 0);
  const c2 = await jetstream(nc).consumers.get('A', 'D');
  const m = await c2.next({ expires: 5000 });
  assert.equal(m?.seq, 11, 'no confirmed message is delivered again');
});

interface DamagedSetup {
  acked: Map<string, Map<number, string>>;
}

/** Streams GOOD, BADMETA and C (consumers K1..K4), some traffic, clean stop. */
async function buildStore(t: Parameters<typeof start>[0], dir: string): Promise<DamagedSetup> {
  const srv = await start(t, dir);
  const nc = await client(t, srv);
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const acked = new Map<string, Map<number, string>>();
  const pub = async (stream: string, subj: string, body: string): Promise<void> => {
    const pa = await js.publish(subj, body);
    if (!acked.has(stream)) acked.set(stream, new Map());
    acked.get(stream)!.set(pa.seq, body);
  };
  await jsm.streams.add({ name: 'GOOD', subjects: ['good.>'] });
  await jsm.streams.add({ name: 'BADMETA', subjects: ['bad.>'], max_msgs: 1000 });
  await jsm.streams.add({ name: 'C', subjects: ['c.>'] });
  await jsm.streams.add({ name: 'TORN', subjects: ['torn.>'] });
  for (let i = 1; i <= 5; i++) {
    await pub('GOOD', 'good.x', `g${i}`);
    await pub('BADMETA', 'bad.x', `b${i}`);
    await pub('TORN', 'torn.x', `t${i}`);
    await pub('C', 'c.x', `c${i}`);
  }
  const durable = async (name: string, extra: Record<string, unknown> = {}): Promise<void> => {
    await jsm.consumers.add('C', { durable_name: name, ack_policy: AckPolicy.Explicit, ack_wait: 30_000 * MS, ...extra });
  };
  await durable('K1');
  await durable('K2');
  await durable('K3');
  await durable('K4', { deliver_policy: DeliverPolicy.New });
  for (let i = 6; i <= 10; i++) await pub('C', 'c.x', `c${i}`);
  // K1..K3 take 1..6 and ack 1..4; K4 ("new": starts at 6) takes 6..8 and acks 6, 7.
  for (const name of ['K1', 'K2', 'K3']) {
    const it = await (await js.consumers.get('C', name)).fetch({ max_messages: 6, expires: 5000 });
    for await (const m of it) if (m.seq <= 4) await m.ackAck();
  }
  const it4 = await (await js.consumers.get('C', 'K4')).fetch({ max_messages: 3, expires: 5000 });
  const k4: number[] = [];
  for await (const m of it4) {
    k4.push(m.seq);
    if (m.seq <= 7) await m.ackAck();
  }
  assert.deepEqual(k4, [6, 7, 8]);
  const ci = await jsm.consumers.info('C', 'K3');
  assert.deepEqual([ci.ack_floor.stream_seq, ci.delivered.stream_seq], [4, 6]);
  await nc.close();
  assert.equal(await srv.stop('SIGTERM', 30_000), 0, 'clean stop');
  return { acked };
}

async function checkAcked(jsm: JetStreamManager, stream: string, acked: Map<number, string>): Promise<void> {
  for (const [seq, body] of acked) {
    const m = await jsm.streams.getMessage(stream, { seq });
    assert.equal(m?.string(), body, `${stream} acknowledged message ${seq}`);
  }
}

async function nextSeqs(nc: NatsConnection, consumer: string, n: number): Promise<number[]> {
  const it = await (await jetstream(nc).consumers.get('C', consumer)).fetch({ max_messages: n, expires: 3000 });
  const out: number[] = [];
  for await (const m of it) out.push(m.seq);
  return out;
}

test('start on a damaged store: damage is logged, the rest is served, no acknowledged message or durable is lost', async (t) => {
  const dir = tmpDir(t);
  const { acked } = await buildStore(t, dir);
  const c = streamDir(dir, 'C');

  // Stream meta hand-edited: a config that would trim BADMETA to 2 messages if it were believed.
  const badMeta = path.join(streamDir(dir, 'BADMETA'), 'meta.inf');
  const edited = JSON.parse(fs.readFileSync(badMeta, 'utf8')) as { config: { max_msgs: number } };
  edited.config.max_msgs = 2;
  fs.writeFileSync(badMeta, JSON.stringify(edited));
  const badMetaFiles = fs.readdirSync(streamDir(dir, 'BADMETA')).sort();
  const badMetaBytes = snapshotDir(streamDir(dir, 'BADMETA'));
  // TORN: meta.inf cut short, as a torn write would leave it.
  const tornMeta = path.join(streamDir(dir, 'TORN'), 'meta.inf');
  fs.truncateSync(tornMeta, Math.floor(fs.statSync(tornMeta).size / 2));
  const tornBytes = snapshotDir(streamDir(dir, 'TORN'));
  // K1: its meta.json bit-flipped (the second copy is intact).
  const k1meta = path.join(c, 'obs', 'K1', 'meta.json');
  const b = fs.readFileSync(k1meta);
  b[b.indexOf('explicit')] ^= 0x20;
  fs.writeFileSync(k1meta, b);
  // K2: both meta copies destroyed.
  fs.writeFileSync(path.join(c, 'obs', 'K2', 'meta.json'), '');
  fs.writeFileSync(path.join(c, 'obs', 'K2', 'meta.bak'), '{"nam');
  // K3: state truncated after the ack floor and delivered sequences.
  const k3state = path.join(c, 'obs', 'K3', 'state.dat');
  fs.writeFileSync(k3state, fs.readFileSync(k3state).subarray(0, 8));
  // K4: state overwritten with garbage.
  fs.writeFileSync(path.join(c, 'obs', 'K4', 'state.dat'), Buffer.from('\x00\x01garbage'));

  const srv = await start(t, dir);
  const nc = await client(t, srv);
  const jsm = await jetstreamManager(nc);
  const log = srv.output();

  // The damage is in the log, each with what was done about it.
  assert.match(log, /stream '\$G > BADMETA' NOT loaded: meta\.inf does not match its checksum/);
  assert.match(log, /'C > K1'.*meta\.json damaged.*recovered from meta\.bak/);
  assert.match(log, /'C > K2'.*config unreadable.*NOT started/);
  assert.match(log, /'C > K3'.*state\.dat damaged.*redelivered/);
  assert.match(log, /'C > K4'.*state\.dat damaged.*beginning/);

  assert.match(log, /stream '\$G > TORN' NOT loaded: meta\.inf does not match its checksum/);
  await assert.rejects(jsm.streams.info('TORN'), /stream not found/);
  assert.deepEqual(snapshotDir(streamDir(dir, 'TORN')), tornBytes, 'the torn stream is left exactly as it was');

  // Undamaged streams are served, with every acknowledged message.
  await checkAcked(jsm, 'GOOD', acked.get('GOOD')!);
  await checkAcked(jsm, 'C', acked.get('C')!);
  const pa = await jetstream(nc).publish('good.y', 'after');
  assert.equal(pa.seq, 6);

  // The damaged stream is not loaded with the wrong config, and its files are all still there.
  await assert.rejects(jsm.streams.info('BADMETA'), /stream not found/);
  assert.deepEqual(fs.readdirSync(streamDir(dir, 'BADMETA')).sort(), badMetaFiles);

  // Creating BADMETA again starts an empty stream; the old directory is set aside whole, not adopted or trimmed.
  const again = await jsm.streams.add({ name: 'BADMETA', subjects: ['bad.>'], max_msgs: 1 });
  assert.equal(again.state.messages, 0);
  assert.equal(again.state.last_seq, 0);
  assert.match(srv.output(), /creating stream '\$G > BADMETA'.*moved to/);
  const damagedRoot = path.join(dir, 'store', 'jetstream', '$G', 'damaged');
  const [aside] = fs.readdirSync(damagedRoot);
  assert.deepEqual(snapshotDir(path.join(damagedRoot, aside!)), badMetaBytes, 'every file of the old stream, byte for byte');

  // K1 is back with its real config and state.
  const k1 = await jsm.consumers.info('C', 'K1');
  assert.equal(k1.config.ack_policy, AckPolicy.Explicit);
  assert.deepEqual([k1.ack_floor.stream_seq, k1.delivered.stream_seq], [4, 6]);
  // K2 could not be started (no config), but its files are kept for the operator.
  await assert.rejects(jsm.consumers.info('C', 'K2'), /consumer not found/);
  assert.ok(fs.existsSync(path.join(c, 'obs', 'K2', 'state.dat')));
  // K3 keeps its ack floor and redelivers everything after it: nothing unacked is skipped.
  const k3 = await jsm.consumers.info('C', 'K3');
  assert.equal(k3.ack_floor.stream_seq, 4);
  assert.deepEqual(await nextSeqs(nc, 'K3', 6), [5, 6, 7, 8, 9, 10]);
  // K4 (deliver "new", created after message 5) restarts from its own beginning: 6, not 11 and not 1.
  assert.deepEqual(await nextSeqs(nc, 'K4', 5), [6, 7, 8, 9, 10]);
});

/** relative path -> bytes (hex) of every file under dir. */
function snapshotDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p, path.join(rel, e.name));
      else out[path.join(rel, e.name)] = fs.readFileSync(p).toString('hex');
    }
  };
  walk(dir, '');
  return out;
}
