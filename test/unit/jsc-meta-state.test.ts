// MetaState: the assignment map every server derives from the meta log. Checks the map rules
// of nats-server's process* functions, applyMetaSnapshot's diff, recovery staging, and (with
// random histories) that snapshot + log, recovery staging and direct application agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeMetaEntry, encodeMetaEntry, makeConsumerAssignment, makeStreamAssignment, withStreamConfig,
  type ConsumerAssignment, type DecodedMetaEntry, type StreamAssignment,
} from '../../src/jetstream/cluster/meta-codec.js';
import { MetaState, RecoveryUpdates, diff } from '../../src/jetstream/cluster/meta-state.js';
import { decodeMetaSnapshot } from '../../src/jetstream/cluster/meta-snapshot.js';
import { EntryOp } from '../../src/jetstream/cluster/ops.js';
import { checkStreamConfig } from '../../src/jetstream/stream-config.js';
import { decodeConsumerConfig } from '../../src/jetstream/consumer/config.js';
import { metaEntryFixtures, metaSnapshotFixtures } from '../fixtures/cluster/locate.js';
import { seededRandom as rng } from '../helpers/wait.js';

let counter = 0;
const nextTime = (): string => `2026-12-06T20:${String(Math.floor(counter / 60) % 60).padStart(2, '0')}:${String(counter++ % 60).padStart(2, '0')}Z`;
const nextGroup = (k: 'S' | 'C'): string => `${k}-R1F-${String(counter++).padStart(8, '0')}`;

function stream(acc: string, name: string, maxMsgs = 0, created = nextTime(), group = nextGroup('S')): StreamAssignment {
  const config = checkStreamConfig({ name, subjects: [`${acc}.${name}.>`], max_msgs: maxMsgs || -1 }, { lookupStream: () => undefined });
  return makeStreamAssignment({
    client: { acc, server: 'n1' }, created, config, group: { name: group, peers: ['p1'], store: 'file' }, sync: '$JSC.SYNC.x',
    subject: `$JS.API.STREAM.CREATE.${name}`, reply: '_INBOX.r',
  });
}

function consumer(acc: string, streamName: string, name: string, created = nextTime(), group = nextGroup('C')): ConsumerAssignment {
  return makeConsumerAssignment({
    client: { acc }, created, name, stream: streamName,
    config: decodeConsumerConfig({ durable_name: name, ack_policy: 'explicit' }),
    group: { name: group, peers: ['p1'], store: 'file' },
  });
}

test('applying the 2.9.10 meta entries builds accounts -> streams -> consumers', () => {
  const fx = metaEntryFixtures();
  const st = new MetaState();
  const ch1 = st.applyEntry(decodeMetaEntry(fx.ae_meta_assign_stream_r1!));
  assert.equal(ch1.kind, 'stream_assigned');
  st.applyEntry(decodeMetaEntry(fx.ae_meta_assign_stream_r3!));
  const ch3 = st.applyEntry(decodeMetaEntry(fx.ae_meta_assign_consumer!));
  assert.equal(ch3.kind, 'consumer_assigned');
  assert.deepEqual(st.accountNames(), ['APP']);
  assert.deepEqual(st.streams('APP').map((s) => s.config.name), ['R1S', 'T3']);
  assert.equal(st.consumer('APP', 'T3', 'D1')!.group.name, 'C-R3F-B8uz6d3E');
  assert.equal(st.streamCount, 2);
  assert.equal(st.consumerCount, 1);
  assert.deepEqual(st.assignmentsOnPeer('44jzkV9D').streams.map((s) => s.config.name), ['T3']);
  assert.deepEqual(st.assignmentsOnPeer('fjFyEjc1').streams.map((s) => s.config.name), ['R1S', 'T3']);
  assert.deepEqual(st.assignmentsOnPeer('fjFyEjc1').consumers.map((c) => c.name), ['D1']);
  // Snapshot and back.
  const again = MetaState.decodeSnapshot(st.encodeSnapshot());
  assert.deepEqual(again.snapshot().map((s) => [s.config.name, s.configJson, s.consumers.map((c) => c.configJson)]),
    st.snapshot().map((s) => [s.config.name, s.configJson, s.consumers.map((c) => c.configJson)]));
  assert.equal(new MetaState().encodeSnapshot().length, 0, 'empty state, empty snapshot');
});

test('a 2.9.10 snapshot loads into MetaState', () => {
  const st = MetaState.decodeSnapshot(metaSnapshotFixtures().find((f) => f.name.includes('-n1.'))!.data);
  assert.deepEqual(st.streams('APP').map((s) => s.config.name), ['MEM', 'R1S', 'T3']);
  assert.deepEqual(st.consumers('APP', 'T3').map((c) => c.name), ['D1', 'D2']);
});

test('map rules: re-assign keeps consumers, update of unknown ignored, stale consumer remove ignored', () => {
  const st = new MetaState();
  const s1 = stream('A', 'S');
  st.assignStream(s1);
  const c1 = consumer('A', 'S', 'C');
  assert.equal(st.assignConsumer(c1).kind, 'consumer_assigned');
  // Consumer for an unknown stream.
  assert.equal(st.assignConsumer(consumer('A', 'NOPE', 'C')).kind, 'ignored');
  assert.equal(st.assignConsumer(consumer('B', 'S', 'C')).kind, 'ignored', 'accounts are separate');
  // Update keeps consumers and reports the previous assignment.
  const s1b = withStreamConfig(s1, { ...s1.config, max_msgs: 5 });
  const up = st.updateStream(s1b);
  assert.equal(up.kind, 'stream_updated');
  assert.equal(up.kind === 'stream_updated' && up.previous.config.max_msgs, -1);
  assert.equal(st.stream('A', 'S')!.config.max_msgs, 5);
  assert.ok(st.consumer('A', 'S', 'C'));
  assert.equal(st.updateStream(stream('A', 'OTHER')).kind, 'ignored');
  // Re-assign (same name) keeps consumers too.
  const s1c = stream('A', 'S');
  const re = st.assignStream(s1c);
  assert.equal(re.kind === 'stream_assigned' && re.previous?.group.name, s1.group.name);
  assert.ok(st.consumer('A', 'S', 'C'));
  // A remove naming another group (an older incarnation) does not delete the current consumer.
  const stale = { ...c1, group: { ...c1.group, name: 'C-R1F-OLDOLDOL' } };
  assert.equal(st.removeConsumer(stale).kind, 'ignored');
  assert.ok(st.consumer('A', 'S', 'C'));
  assert.equal(st.removeConsumer(c1).kind, 'consumer_removed');
  assert.equal(st.consumer('A', 'S', 'C'), undefined);
  // Removing a stream reports its consumers.
  st.assignConsumer(consumer('A', 'S', 'X'));
  const rm = st.removeStream(s1c);
  assert.equal(rm.kind, 'stream_removed');
  assert.deepEqual(rm.kind === 'stream_removed' && rm.consumers.map((c) => c.name), ['X']);
  assert.deepEqual(st.accountNames(), []);
  assert.equal(st.removeStream(s1c).kind, 'ignored');
  // Service account owns the asset.
  const svc = makeStreamAssignment({ ...stream('A', 'SV'), client: { acc: 'A', svc: 'SVC' } });
  st.assignStream(svc);
  assert.deepEqual(st.accountNames(), ['SVC']);
});

test('applyMetaSnapshot diff: removed, added, recreated, kept; consumer deltas', () => {
  const st = new MetaState();
  const keep = stream('A', 'KEEP');
  const gone = stream('A', 'GONE');
  const recr = stream('A', 'RECR');
  const sameGroup = stream('A', 'SAMEGROUP');
  for (const s of [keep, gone, recr, sameGroup]) st.assignStream(s);
  const cKeep = consumer('A', 'KEEP', 'C1');
  const cGone = consumer('A', 'KEEP', 'C2');
  const cRecr = consumer('A', 'KEEP', 'C3');
  for (const c of [cKeep, cGone, cRecr]) st.assignConsumer(c);

  const keepNew = withStreamConfig(keep, { ...keep.config, max_msgs: 42 });
  const recrNew = stream('A', 'RECR'); // new created time and new group
  const sameGroupNew = { ...sameGroup, created: nextTime() }; // new time, same group: not recreated
  const added = stream('B', 'NEW');
  const cRecrNew = consumer('A', 'KEEP', 'C3');
  const cAdded = consumer('A', 'KEEP', 'C4');
  const snap = [
    { ...keepNew, consumers: [cKeep, cRecrNew, cAdded] },
    { ...recrNew, consumers: [consumer('A', 'RECR', 'R1')] },
    { ...sameGroupNew, consumers: [] },
    { ...added, consumers: [consumer('B', 'NEW', 'N1')] },
  ];
  const d = diff(st, snap);
  const names = (l: Array<StreamAssignment | ConsumerAssignment>): string[] =>
    l.map((x) => ('sync' in x ? x.config.name : x.name)).sort();
  assert.deepEqual(names(d.removeStreams), ['GONE', 'RECR']);
  assert.deepEqual(names(d.addStreams), ['NEW', 'RECR']);
  assert.deepEqual(names(d.updateStreams), ['KEEP', 'SAMEGROUP']);
  assert.deepEqual(names(d.removeConsumers), ['C2', 'C3']);
  assert.deepEqual(names(d.addConsumers), ['C1', 'C3', 'C4', 'N1', 'R1']);
  assert.equal(d.addStreams.find((s) => s.config.name === 'RECR')!.group.name, recrNew.group.name);
  assert.equal(d.removeConsumers.find((c) => c.name === 'C3')!.group.name, cRecr.group.name, 'old incarnation removed');

  const applied = st.applySnapshot(snap);
  assert.deepEqual(applied, d);
  assert.deepEqual(st.snapshot(), MetaState.fromSnapshot(snap).snapshot());
  assert.equal(st.stream('A', 'KEEP')!.config.max_msgs, 42);
  assert.equal(st.consumer('A', 'KEEP', 'C3')!.group.name, cRecrNew.group.name);
  // Applying the same snapshot again only updates.
  const d2 = st.applySnapshot(snap);
  assert.equal(d2.removeStreams.length + d2.addStreams.length + d2.removeConsumers.length, 0);
  // An empty snapshot removes everything.
  const d3 = st.applySnapshot([]);
  assert.equal(d3.removeStreams.length, 4);
  assert.equal(st.streamCount, 0);
});

test('recovery staging: supersession rules and apply order', () => {
  const ru = new RecoveryUpdates();
  assert.ok(ru.empty);
  const s = stream('A', 'S');
  const c = consumer('A', 'S', 'C');
  ru.addStream(s);
  ru.addOrUpdateConsumer(c);
  ru.updateStream(withStreamConfig(s, { ...s.config, max_msgs: 9 }));
  ru.removeStream(s); // created and deleted during the replayed history: nothing to do but the remove
  assert.deepEqual(ru.addStreams(), []);
  assert.deepEqual(ru.updateStreams(), []);
  assert.deepEqual(ru.updateConsumers(), []);
  assert.equal(ru.removeStreams().length, 1);
  const s2 = stream('A', 'S');
  ru.addStream(s2);
  ru.updateStream(withStreamConfig(s2, { ...s2.config, max_msgs: 3 }));
  const c2 = consumer('A', 'S', 'C');
  ru.addOrUpdateConsumer(c2);
  const st = new MetaState();
  st.assignStream(s); // what was on the books before recovery
  const changes = st.applyRecovery(ru);
  assert.deepEqual(changes.map((x) => x.kind), ['stream_removed', 'stream_assigned', 'stream_updated', 'consumer_assigned']);
  assert.equal(st.stream('A', 'S')!.group.name, s2.group.name);
  assert.equal(st.stream('A', 'S')!.config.max_msgs, 3);
  assert.equal(st.consumer('A', 'S', 'C')!.group.name, c2.group.name);

  // A consumer removed after being staged is dropped from the updates.
  const ru2 = new RecoveryUpdates();
  ru2.addOrUpdateConsumer(c2);
  ru2.removeConsumer(c2);
  assert.deepEqual(ru2.updateConsumers(), []);
  assert.equal(ru2.removeConsumers().length, 1);
  // A fresh add supersedes an earlier staged update.
  ru2.updateStream(s2);
  ru2.addStream(s2);
  assert.deepEqual(ru2.updateStreams(), []);
});

test('recovery: staged ops absent from a snapshot applied mid-recovery are dropped', () => {
  const ru = new RecoveryUpdates();
  const a = stream('A', 'A1');
  const b = stream('A', 'B1');
  ru.addStream(a);
  ru.addStream(b);
  ru.addOrUpdateConsumer(consumer('A', 'A1', 'CA'));
  ru.addOrUpdateConsumer(consumer('A', 'B1', 'CB'));
  // The snapshot only knows B1, without consumer CB.
  ru.stageSnapshot(new MetaState(), [{ ...b, consumers: [] }]);
  assert.deepEqual(ru.addStreams().map((s) => s.config.name), ['B1']);
  assert.deepEqual(ru.updateConsumers(), []);
});

// ---- random histories ------------------------------------------------------------------

/** A plausible meta log: what a meta leader would commit (removes name the current incarnation). */
function randomHistory(r: () => number, n: number): DecodedMetaEntry[] {
  const model = new MetaState();
  const out: DecodedMetaEntry[] = [];
  const pick = <T>(l: T[]): T => l[Math.floor(r() * l.length)]!;
  for (let i = 0; i < n; i++) {
    const acc = pick(['A', 'B']);
    const name = pick(['S0', 'S1', 'S2', 'S3']);
    const cur = model.stream(acc, name);
    const x = r();
    let e: DecodedMetaEntry;
    if (!cur || x < 0.15) e = { op: EntryOp.assignStreamOp, stream: stream(acc, name) };
    else if (x < 0.3) e = { op: EntryOp.updateStreamOp, stream: withStreamConfig(cur, { ...cur.config, max_msgs: i + 1 }) };
    else if (x < 0.4) e = { op: EntryOp.removeStreamOp, stream: cur };
    else {
      const cname = pick(['C0', 'C1', 'C2']);
      const cc = model.consumer(acc, name, cname);
      if (cc && x < 0.55) e = { op: EntryOp.removeConsumerOp, consumer: cc };
      else e = { op: x < 0.9 ? EntryOp.assignConsumerOp : EntryOp.assignCompressedConsumerOp, consumer: consumer(acc, name, cname) };
    }
    // Through the codec, as the entries would travel.
    const d = decodeMetaEntry(encodeMetaEntry(e.op, (e.stream ?? e.consumer)!));
    model.applyEntry(d);
    out.push(d);
  }
  return out;
}

const fingerprint = (st: MetaState): string =>
  JSON.stringify(st.snapshot().map((s) => [assignmentKey(s), s.configJson, s.created, s.consumers.map((c) => [c.name, c.group.name, c.created])]));
const assignmentKey = (s: StreamAssignment): string => `${s.client?.acc}/${s.config.name}/${s.group.name}`;

test('random histories: direct apply == recovery staging == snapshot + tail == applySnapshot from any state', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const log = randomHistory(r, 20 + Math.floor(r() * 80));
    const direct = new MetaState();
    for (const e of log) direct.applyEntry(e);

    // Replay at startup: everything staged, applied once at the end.
    const rec = new MetaState();
    const ru = new RecoveryUpdates();
    for (const e of log) ru.stage(e);
    rec.applyRecovery(ru);
    assert.equal(fingerprint(rec), fingerprint(direct), `seed ${seed}: recovery`);

    // Snapshot taken at a random point (through the real encoding), then the rest of the log.
    const k = Math.floor(r() * log.length);
    const prefix = new MetaState();
    for (const e of log.slice(0, k)) prefix.applyEntry(e);
    const snapBytes = prefix.encodeSnapshot();
    const rec2 = new MetaState();
    const ru2 = new RecoveryUpdates();
    ru2.stageSnapshot(rec2, decodeMetaSnapshot(snapBytes));
    for (const e of log.slice(k)) ru2.stage(e);
    rec2.applyRecovery(ru2);
    assert.equal(fingerprint(rec2), fingerprint(direct), `seed ${seed}: snapshot at ${k} + tail`);

    // A follower at some other point in history catches up by a snapshot of the final state.
    const j = Math.floor(r() * log.length);
    const follower = new MetaState();
    for (const e of log.slice(0, j)) follower.applyEntry(e);
    follower.applySnapshot(decodeMetaSnapshot(direct.encodeSnapshot()));
    assert.equal(fingerprint(follower), fingerprint(direct), `seed ${seed}: catchup from ${j}`);
  }
});
