// Consumer files of the file store: meta.json is guarded by meta.sum and kept
// twice (meta.bak), state.dat carries a checksum trailer. Damage is detected and
// reported through consumerRecoveryNote; what can still be trusted is kept, the
// rest is given up towards redelivery (ack floor, else the beginning), and
// damaged files are kept on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createFileStore, emptyConsumerState, encodeConsumerState } from '../../src/jetstream/store/index.js';
import type { FileStore } from '../../src/jetstream/store/index.js';
import { consumerRecoveryNote, type FileConsumerStore } from '../../src/jetstream/store/consumer-store.js';
import { metaChecksum } from '../../src/jetstream/store/checked-file.js';
import { onCleanup, tmpDir, type AfterCtx } from '../helpers/store-files.js';

const CFG = { durable_name: 'D', ack_policy: 'explicit', deliver_policy: 'all' };
const tmp = (t: AfterCtx): string => tmpDir(t, 'tsnats-cfiles-');

function open(dir: string): FileStore {
  return createFileStore({ name: 'S', storage: 'file' }, { dir, sync: 'always' });
}

/** A stream with 10 messages and durable D: delivered 1..6, acked 1..3 and 5 (floor 3, pending 4 and 6). */
async function setup(dir: string): Promise<string> {
  const s = open(dir);
  for (let i = 1; i <= 10; i++) s.storeMsg('s.x', undefined, Buffer.from(`m${i}`));
  const cs = s.consumerStore('D', CFG, 1_700_000_000_000) as FileConsumerStore;
  for (let i = 1; i <= 6; i++) cs.updateDelivered(i, i, 1, Date.now());
  for (const i of [1, 2, 3, 5]) cs.updateAcks(i, i);
  await cs.flush();
  await s.stop();
  return path.join(dir, 'obs', 'D');
}

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of fs.readdirSync(dir)) out[n] = fs.readFileSync(path.join(dir, n)).toString('hex');
  return out;
}

test('consumer files: meta.json + meta.sum, a second copy, and a state that round-trips', async (t) => {
  const dir = tmp(t);
  const cdir = await setup(dir);
  assert.deepEqual(fs.readdirSync(cdir).sort(), ['meta.bak', 'meta.bak.sum', 'meta.json', 'meta.sum', 'state.dat']);
  assert.equal(fs.readFileSync(path.join(cdir, 'meta.sum'), 'latin1'), metaChecksum('D', fs.readFileSync(path.join(cdir, 'meta.json'))));
  const s = open(dir);
  onCleanup(t, () => s.stop());
  const [r] = s.recoveredConsumers();
  assert.equal(r!.name, 'D');
  assert.deepEqual(r!.config, CFG);
  assert.equal(r!.createdMs, 1_700_000_000_000);
  assert.deepEqual(r!.state.ackFloor, { consumerSeq: 3, streamSeq: 3 });
  assert.deepEqual(r!.state.delivered, { consumerSeq: 6, streamSeq: 6 });
  assert.deepEqual([...r!.state.pending.keys()].sort(), [4, 6]);
  assert.equal(consumerRecoveryNote(r!.state), undefined, 'nothing to report');
});

test('consumer meta: a hand-edited meta.json is detected and the durable comes back from its second copy', async (t) => {
  const dir = tmp(t);
  const cdir = await setup(dir);
  const meta = JSON.parse(fs.readFileSync(path.join(cdir, 'meta.json'), 'utf8')) as { config: Record<string, unknown> };
  meta.config.ack_policy = 'none';
  fs.writeFileSync(path.join(cdir, 'meta.json'), JSON.stringify(meta));
  const s = open(dir);
  onCleanup(t, () => s.stop());
  const [r] = s.recoveredConsumers();
  assert.deepEqual(r!.config, CFG, 'the written config, not the edited one');
  const note = consumerRecoveryNote(r!.state);
  assert.ok(note && !note.metaUnreadable);
  assert.match(note.messages.join(' '), /meta\.json.*checksum.*meta\.bak/);
  assert.deepEqual(r!.state.ackFloor, { consumerSeq: 3, streamSeq: 3 }, 'the state is unaffected');
  // Once the consumer is opened again the primary copy is rewritten and verifies.
  s.consumerStore('D', r!.config, r!.createdMs);
  assert.equal(fs.readFileSync(path.join(cdir, 'meta.sum'), 'latin1'), metaChecksum('D', fs.readFileSync(path.join(cdir, 'meta.json'))));
  assert.deepEqual((JSON.parse(fs.readFileSync(path.join(cdir, 'meta.json'), 'utf8')) as { config: unknown }).config, CFG);
});

test('consumer meta: both copies damaged -> reported, not dropped silently, files kept; a new consumer of the name moves them aside', async (t) => {
  const dir = tmp(t);
  const cdir = await setup(dir);
  fs.writeFileSync(path.join(cdir, 'meta.json'), '{"name":"D","con');
  fs.writeFileSync(path.join(cdir, 'meta.bak'), 'garbage');
  const before = files(cdir);
  const s = open(dir);
  onCleanup(t, () => s.stop());
  const [r] = s.recoveredConsumers();
  assert.equal(r!.name, 'D', 'the durable is still listed as recovered');
  const note = consumerRecoveryNote(r!.state);
  assert.ok(note?.metaUnreadable, 'flagged as unreadable');
  assert.match(note.messages.join(' '), /meta\.json/);
  assert.deepEqual(files(cdir), before, 'nothing rewritten or removed');
  // Creating D again (an operator's decision) keeps the old files out of the way.
  const cs = s.consumerStore('D', { ...CFG, deliver_policy: 'new' }, 2);
  assert.equal(cs.hasState(), false);
  const aside = fs.readdirSync(path.join(dir, 'obs-damaged'));
  assert.equal(aside.length, 1);
  assert.deepEqual(files(path.join(dir, 'obs-damaged', aside[0]!)), before);
});

test('consumer state: truncated in the pending list -> ack floor kept, everything after it redelivered', async (t) => {
  const dir = tmp(t);
  const cdir = await setup(dir);
  const full = fs.readFileSync(path.join(cdir, 'state.dat'));
  // Header and the four sequences are the first 6 bytes here (all small varints); cut inside the pending list.
  fs.writeFileSync(path.join(cdir, 'state.dat'), full.subarray(0, 9));
  const s = open(dir);
  onCleanup(t, () => s.stop());
  const [r] = s.recoveredConsumers();
  assert.deepEqual(r!.state.ackFloor, { consumerSeq: 3, streamSeq: 3 });
  assert.deepEqual(r!.state.delivered, { consumerSeq: 3, streamSeq: 3 }, 'delivered pulled back to the floor');
  assert.equal(r!.state.pending.size, 0);
  const note = consumerRecoveryNote(r!.state);
  assert.equal(note?.restart, 'floor');
  assert.match(note!.messages.join(' '), /state\.dat.*redeliver.*after stream sequence 3/);
  assert.deepEqual(fs.readFileSync(path.join(cdir, 'state.dat.damaged')), full.subarray(0, 9), 'the damaged file is kept');
});

test('consumer state: a flipped bit is caught by the checksum -> nothing trusted, restart from the beginning', async (t) => {
  const dir = tmp(t);
  const cdir = await setup(dir);
  const buf = fs.readFileSync(path.join(cdir, 'state.dat'));
  // One flipped bit in the ack floor's stream sequence (3 -> 7).
  assert.equal(buf[3], 3);
  buf[3] ^= 0x04;
  fs.writeFileSync(path.join(cdir, 'state.dat'), buf);
  const s = open(dir);
  onCleanup(t, () => s.stop());
  const [r] = s.recoveredConsumers();
  assert.deepEqual(r!.state, emptyConsumerState());
  const note = consumerRecoveryNote(r!.state);
  assert.equal(note?.restart, 'beginning');
  assert.match(note!.messages.join(' '), /state\.dat.*checksum/);
});

test('consumer state: garbage or an empty file -> restart from the beginning, reported', async (t) => {
  for (const content of [Buffer.from('not a state file'), Buffer.alloc(0)]) {
    const dir = tmp(t);
    const cdir = await setup(dir);
    fs.writeFileSync(path.join(cdir, 'state.dat'), content);
    const s = open(dir);
    const [r] = s.recoveredConsumers();
    assert.deepEqual(r!.state, emptyConsumerState());
    assert.equal(consumerRecoveryNote(r!.state)?.restart, 'beginning', `content ${content.length} bytes`);
    await s.stop();
  }
});

test('consumer files written before checksums (no meta.sum, no trailer) still load', async (t) => {
  const dir = tmp(t);
  const cdir = path.join(dir, 'obs', 'D');
  fs.mkdirSync(cdir, { recursive: true });
  fs.writeFileSync(path.join(cdir, 'meta.json'), JSON.stringify({ name: 'D', config: CFG, createdMs: 5 }));
  const st = emptyConsumerState();
  st.delivered = { consumerSeq: 4, streamSeq: 4 };
  st.ackFloor = { consumerSeq: 4, streamSeq: 4 };
  fs.writeFileSync(path.join(cdir, 'state.dat'), encodeConsumerState(st));
  const s = open(dir);
  onCleanup(t, () => s.stop());
  const [r] = s.recoveredConsumers();
  assert.deepEqual(r!.config, CFG);
  assert.deepEqual(r!.state.ackFloor, { consumerSeq: 4, streamSeq: 4 });
  assert.equal(consumerRecoveryNote(r!.state)?.restart, undefined);
});

test('flush waits for the state as of the call, not for changes made after it (ack replies are not starved)', async (t) => {
  const dir = tmp(t);
  const s = open(dir);
  onCleanup(t, () => s.stop());
  for (let i = 1; i <= 10; i++) s.storeMsg('s.x', undefined, Buffer.from(`m${i}`));
  const cs = s.consumerStore('D', CFG, 1) as FileConsumerStore;
  const LIMIT = 20_000;
  let n = 0;
  // A change every event-loop turn, as under a steady stream of acks.
  const churn = (): void => {
    if (n >= LIMIT) return;
    n++;
    cs.updateDelivered(n, n, 1, Date.now());
    setImmediate(churn);
  };
  churn();
  const target = n;
  await cs.flush();
  const at = n;
  n = LIMIT; // stop the churn
  assert.ok(at < LIMIT, 'flush resolved while changes were still coming');
  const { decodeStateFile } = await import('../../src/jetstream/store/consumer-store.js');
  const st = decodeStateFile(fs.readFileSync(path.join(dir, 'obs', 'D', 'state.dat')));
  assert.equal(st.damage, undefined);
  assert.ok(st.state.delivered.streamSeq >= target, `on disk: delivered ${st.state.delivered.streamSeq} >= ${target}`);
});

test('consumer state: with a write gap (replicated consumers) flush and stop still write the latest state at once', async (t) => {
  const dir = tmp(t);
  const s = open(dir);
  const cs = s.consumerStore('D', CFG, 1_700_000_000_000) as FileConsumerStore;
  cs.setWriteGap(10 * 60_000);
  cs.updateDelivered(1, 1, 1, Date.now());
  await cs.flush();
  const stateFile = path.join(dir, 'obs', 'D', 'state.dat');
  const first = fs.readFileSync(stateFile);
  // Within the gap: a flush (an ack-sync reply waits for one) does not wait for the gap to pass.
  cs.updateDelivered(2, 2, 1, Date.now());
  cs.updateAcks(1, 1);
  await cs.flush();
  assert.notDeepEqual(fs.readFileSync(stateFile), first);
  // Changes after that are written by stop, not left behind the timer.
  cs.updateAcks(2, 2);
  cs.updateDelivered(3, 3, 1, Date.now());
  await s.stop();
  const again = open(dir);
  onCleanup(t, () => again.stop());
  const [r] = again.recoveredConsumers();
  assert.deepEqual(r!.state.ackFloor, { consumerSeq: 2, streamSeq: 2 });
  assert.deepEqual(r!.state.delivered, { consumerSeq: 3, streamSeq: 3 });
});
