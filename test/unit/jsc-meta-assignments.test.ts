// MetaAssignments, the one meta assignment state every server derives from the meta log: the
// map rules of nats-server's process* functions (apply), applyMetaSnapshot's diff
// (applySnapshot), the 2.9.10 entries and snapshots, and (with random histories) that direct
// application, snapshot + log tail and catch-up by snapshot from any point all agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MetaAssignments, MetaOp, decodeMetaEntry, isReplicated, encodeConsumerEntry, encodeStreamEntry,
  type ConsumerAssignment, type DecodedEntry, type MetaChange, type StreamAssignment,
} from '../../src/jetstream/cluster/assignments.js';
import { metaEntryFixtures, metaSnapshotFixtures } from '../fixtures/cluster/locate.js';
import { seededRandom as rng } from '../helpers/wait.js';
import { peerLoadOf } from '../../src/jetstream/cluster/placement.js';
import type { StreamAssignment as PlacementAssignment } from '../../src/jetstream/cluster/meta-codec.js';
import { subjectsCollide } from '../../src/jetstream/subjects.js';

let counter = 0;
const nextTime = (): string => `2026-12-06T20:${String(Math.floor(counter / 60) % 60).padStart(2, '0')}:${String(counter++ % 60).padStart(2, '0')}Z`;
const nextGroup = (k: 'S' | 'C'): string => `${k}-R1F-${String(counter++).padStart(8, '0')}`;

function stream(acc: string, name: string, maxMsgs = -1, created = nextTime(), group = nextGroup('S')): StreamAssignment {
  return {
    client: { acc, server: 'n1' }, created, stream: { name, subjects: [`${acc}.${name}.>`], max_msgs: maxMsgs },
    group: { name: group, peers: ['p1'], store: 'file' }, sync: '$JSC.SYNC.x', subject: `$JS.API.STREAM.CREATE.${name}`, reply: '_INBOX.r',
  };
}

function consumer(acc: string, streamName: string, name: string, created = nextTime(), group = nextGroup('C')): ConsumerAssignment {
  return {
    client: { acc }, created, name, stream: streamName, consumer: { durable_name: name, ack_policy: 'explicit' },
    group: { name: group, peers: ['p1'], store: 'file' }, subject: '', reply: '',
  };
}

/** Through nats-server's bytes, as the entries travel in the log. */
function entry(op: number, a: StreamAssignment | ConsumerAssignment): DecodedEntry {
  const bytes = 'sync' in a ? encodeStreamEntry(op, a) : encodeConsumerEntry(op, a as ConsumerAssignment);
  const d = decodeMetaEntry(bytes);
  assert.ok(!('error' in d), JSON.stringify(d));
  return d;
}

const streamNames = (m: MetaAssignments, acc: string): string[] => m.streamsOf(acc).map((e) => e.sa.stream.name).sort();
const consumerNames = (m: MetaAssignments, acc: string, s: string): string[] => [...(m.stream(acc, s)?.consumers.keys() ?? [])].sort();

test('applying the 2.9.10 meta entries builds accounts -> streams -> consumers; snapshot round-trip', () => {
  const fx = metaEntryFixtures();
  const m = new MetaAssignments();
  for (const k of ['ae_meta_assign_stream_r1', 'ae_meta_assign_stream_r3', 'ae_meta_assign_consumer']) {
    const d = decodeMetaEntry(fx[k]!);
    assert.ok(!('error' in d), `${k}: ${JSON.stringify(d)}`);
    const ch = m.apply(d);
    assert.notEqual(ch.kind, 'ignored', k);
  }
  assert.deepEqual([...m.accounts.keys()], ['APP']);
  assert.deepEqual(streamNames(m, 'APP'), ['R1S', 'T3']);
  assert.equal(m.stream('APP', 'T3')!.consumers.get('D1')!.group.name, 'C-R3F-B8uz6d3E');
  // A snapshot keeps what the state needs (nats-server drops the request's subject and reply and
  // most of the client info); configs, groups and creation times survive.
  const again = MetaAssignments.fromSnapshot(m.toSnapshot(), (w) => assert.fail(w));
  assert.equal(fingerprint(again), fingerprint(m));
  assert.equal(again.stream('APP', 'T3')!.sa.subject, '');
  assert.equal(new MetaAssignments().toSnapshot().length, 0, 'empty state, empty snapshot');
});

test('a 2.9.10 snapshot loads', () => {
  const m = MetaAssignments.fromSnapshot(metaSnapshotFixtures().find((f) => f.name.includes('-n1.'))!.data, (w) => assert.fail(w));
  assert.deepEqual(streamNames(m, 'APP'), ['MEM', 'R1S', 'T3']);
  assert.deepEqual(consumerNames(m, 'APP', 'T3'), ['D1', 'D2']);
});

test('map rules: re-assign keeps consumers, update of unknown ignored, stale removals ignored', () => {
  const m = new MetaAssignments();
  const s1 = stream('A', 'S');
  assert.deepEqual(kindOf(m.apply(entry(MetaOp.assignStream, s1))), ['stream_assigned', false]);
  const c1 = consumer('A', 'S', 'C');
  assert.equal(m.apply(entry(MetaOp.assignConsumer, c1)).kind, 'consumer_assigned');
  // A consumer of an unknown stream; accounts are separate.
  assert.equal(m.apply(entry(MetaOp.assignConsumer, consumer('A', 'NOPE', 'C'))).kind, 'ignored');
  assert.equal(m.apply(entry(MetaOp.assignConsumer, consumer('B', 'S', 'C'))).kind, 'ignored');
  // An update keeps the consumers; an update of an unknown stream changes nothing.
  const up = m.apply(entry(MetaOp.updateStream, { ...s1, stream: { ...s1.stream, max_msgs: 5 } }));
  assert.equal(up.kind, 'stream_updated');
  assert.equal(m.stream('A', 'S')!.sa.stream.max_msgs, 5);
  assert.deepEqual(consumerNames(m, 'A', 'S'), ['C']);
  assert.equal(m.apply(entry(MetaOp.updateStream, stream('A', 'OTHER'))).kind, 'ignored');
  assert.equal(m.stream('A', 'OTHER'), undefined);
  // A re-assignment (same name) reports the replacement and keeps the consumers too.
  const s1c = stream('A', 'S');
  assert.deepEqual(kindOf(m.apply(entry(MetaOp.assignStream, s1c))), ['stream_assigned', true]);
  assert.equal(m.stream('A', 'S')!.sa.group.name, s1c.group.name);
  assert.deepEqual(consumerNames(m, 'A', 'S'), ['C']);
  // A consumer removal naming an older incarnation (other created time and group) keeps the current one.
  assert.equal(m.apply(entry(MetaOp.removeConsumer, consumer('A', 'S', 'C'))).kind, 'ignored');
  assert.deepEqual(consumerNames(m, 'A', 'S'), ['C']);
  assert.equal(m.apply(entry(MetaOp.removeConsumer, c1)).kind, 'consumer_removed');
  assert.deepEqual(consumerNames(m, 'A', 'S'), []);
});

function kindOf(ch: MetaChange): [string, boolean | undefined] {
  return [ch.kind, ch.kind === 'stream_assigned' ? ch.replaced : undefined];
}

test('stream removal: the current incarnation goes with its consumers, an older one is ignored, an unknown one is reported', () => {
  const m = new MetaAssignments();
  const old = stream('A', 'S');
  const cur = stream('A', 'S');
  m.apply(entry(MetaOp.assignStream, cur));
  m.apply(entry(MetaOp.assignConsumer, consumer('A', 'S', 'X')));
  assert.equal(m.apply(entry(MetaOp.removeStream, old)).kind, 'ignored');
  assert.deepEqual(streamNames(m, 'A'), ['S']);
  const rm = m.apply(entry(MetaOp.removeStream, cur));
  assert.equal(rm.kind, 'stream_removed');
  assert.deepEqual(rm.kind === 'stream_removed' && [...rm.removed!.consumers.keys()], ['X']);
  assert.deepEqual([...m.accounts.keys()], []);
  // Not assigned (any more): reported with nothing removed, so a local copy can still be removed.
  const again = m.apply(entry(MetaOp.removeStream, cur));
  assert.equal(again.kind === 'stream_removed' && again.removed, undefined);
  // The service account owns the asset.
  m.apply(entry(MetaOp.assignStream, { ...stream('A', 'SV'), client: { acc: 'A', svc: 'SVC' } }));
  assert.deepEqual([...m.accounts.keys()], ['SVC']);
});

test('applySnapshot: removed and recreated streams, consumers gone or recreated in kept streams; the state becomes the snapshot', () => {
  const m = new MetaAssignments();
  const keep = stream('A', 'KEEP');
  const gone = stream('A', 'GONE');
  const recr = stream('A', 'RECR');
  const sameGroup = stream('A', 'SAMEGROUP');
  for (const s of [keep, gone, recr, sameGroup]) m.apply(entry(MetaOp.assignStream, s));
  const cKeep = consumer('A', 'KEEP', 'C1');
  const cGone = consumer('A', 'KEEP', 'C2');
  const cRecr = consumer('A', 'KEEP', 'C3');
  for (const c of [cKeep, cGone, cRecr]) m.apply(entry(MetaOp.assignConsumer, c));

  const next = new MetaAssignments();
  next.setStream({ ...keep, stream: { ...keep.stream, max_msgs: 42 } });
  for (const c of [cKeep, consumer('A', 'KEEP', 'C3'), consumer('A', 'KEEP', 'C4')]) next.setConsumer(c);
  next.setStream(stream('A', 'RECR')); // new created time and new group
  next.setConsumer(consumer('A', 'RECR', 'R1'));
  next.setStream({ ...sameGroup, created: nextTime() }); // a new time but the same group: the same stream
  next.setStream(stream('B', 'NEW'));
  const snapBytes = next.toSnapshot();

  const d = m.applySnapshot(MetaAssignments.fromSnapshot(snapBytes, (w) => assert.fail(w)));
  assert.deepEqual(d.removedStreams.map(([a, e]) => `${a}/${e.sa.stream.name}`).sort(), ['A/GONE', 'A/RECR']);
  assert.equal(d.removedStreams.find(([, e]) => e.sa.stream.name === 'RECR')![1].sa.group.name, recr.group.name, 'the old incarnation');
  assert.deepEqual(d.removedConsumers.map((c) => c.name).sort(), ['C2', 'C3']);
  assert.equal(d.removedConsumers.find((c) => c.name === 'C3')!.group.name, cRecr.group.name, 'the old incarnation');
  assert.equal(fingerprint(m), fingerprint(next));
  assert.equal(m.stream('A', 'KEEP')!.sa.stream.max_msgs, 42);
  // Installing the same snapshot again removes nothing; an empty one removes everything.
  const d2 = m.applySnapshot(MetaAssignments.fromSnapshot(snapBytes, (w) => assert.fail(w)));
  assert.equal(d2.removedStreams.length + d2.removedConsumers.length, 0);
  const d3 = m.applySnapshot(new MetaAssignments());
  assert.equal(d3.removedStreams.length, 4);
  assert.equal([...m.all()].length, 0);
});

// ---- random histories ------------------------------------------------------------------

/** A plausible meta log: what a meta leader would commit (removals name the current incarnation). */
function randomHistory(r: () => number, n: number): DecodedEntry[] {
  const model = new MetaAssignments();
  const out: DecodedEntry[] = [];
  const pick = <T>(l: T[]): T => l[Math.floor(r() * l.length)]!;
  for (let i = 0; i < n; i++) {
    const acc = pick(['A', 'B']);
    const name = pick(['S0', 'S1', 'S2', 'S3']);
    const cur = model.stream(acc, name)?.sa;
    const x = r();
    let e: DecodedEntry;
    if (!cur || x < 0.15) e = entry(MetaOp.assignStream, stream(acc, name));
    else if (x < 0.3) e = entry(MetaOp.updateStream, { ...cur, stream: { ...cur.stream, max_msgs: i + 1 } });
    else if (x < 0.4) e = entry(MetaOp.removeStream, cur);
    else {
      const cname = pick(['C0', 'C1', 'C2']);
      const cc = model.stream(acc, name)!.consumers.get(cname);
      if (cc && x < 0.55) e = entry(MetaOp.removeConsumer, cc);
      // 2.9.10 sends large consumer assignments compressed (op 9); decoded they are ordinary assignments.
      else e = entry(MetaOp.assignConsumer, consumer(acc, name, cname));
    }
    model.apply(e);
    out.push(e);
  }
  return out;
}

function fingerprint(m: MetaAssignments): string {
  const rows = [...m.all()].map(([a, e]) => [a, e.sa.stream.name, e.sa.group.name, e.sa.created, JSON.stringify(e.sa.stream),
    [...e.consumers.values()].map((c) => [c.name, c.group.name, c.created]).sort()]);
  return JSON.stringify(rows.sort((x, y) => (JSON.stringify(x) < JSON.stringify(y) ? -1 : 1)));
}

test('random histories: direct apply == snapshot + tail == catch-up by snapshot from any point', () => {
  for (let seed = 1; seed <= 60; seed++) {
    const r = rng(seed);
    const log = randomHistory(r, 20 + Math.floor(r() * 80));
    const direct = new MetaAssignments();
    for (const e of log) direct.apply(e);

    // A restart: the snapshot taken at a random point (through the real bytes), then the rest of the log.
    const k = Math.floor(r() * log.length);
    const prefix = new MetaAssignments();
    for (const e of log.slice(0, k)) prefix.apply(e);
    const restarted = MetaAssignments.fromSnapshot(prefix.toSnapshot(), (w) => assert.fail(w));
    for (const e of log.slice(k)) restarted.apply(e);
    assert.equal(fingerprint(restarted), fingerprint(direct), `seed ${seed}: snapshot at ${k} + tail`);

    // A follower at some other point in history catches up by a snapshot of the final state; what it
    // is told to remove is exactly what it holds and the final state does not (same incarnation).
    const j = Math.floor(r() * log.length);
    const follower = new MetaAssignments();
    for (const e of log.slice(0, j)) follower.apply(e);
    const before = new Map([...follower.all()].map(([a, e]) => [`${a}/${e.sa.stream.name}`, e.sa.group.name]));
    const d = follower.applySnapshot(MetaAssignments.fromSnapshot(direct.toSnapshot(), (w) => assert.fail(w)));
    assert.equal(fingerprint(follower), fingerprint(direct), `seed ${seed}: catch-up from ${j}`);
    for (const [a, e] of d.removedStreams) {
      assert.equal(before.get(`${a}/${e.sa.stream.name}`), e.sa.group.name);
      assert.notEqual(direct.stream(a, e.sa.stream.name)?.sa.group.name, e.sa.group.name, `seed ${seed}: removed a kept stream`);
    }
  }
});

test('derived indexes (subject overlap, streams per peer) stay equal to a scan of the map through assigns, updates, removals and snapshots', () => {
  const r = rng(9);
  const subjectsPool = ['a.b', 'a.*', 'a.>', 'b.c.d', 'b.*.d', '>', 'c', 'c.d', '*.x', 'x.y.z', 'x.>', 'q.r'];
  const peersPool = ['p1', 'p2', 'p3', 'p4'];
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const m = new MetaAssignments();
  const check = (state: MetaAssignments, step: number): void => {
    const scan = peerLoadOf([...state.all()].map(([, e]) => e.sa as unknown as PlacementAssignment));
    assert.deepEqual(new Map([...state.peerLoad().streams].sort()), new Map([...scan.streams].sort()), `streams per peer, step ${step}`);
    assert.deepEqual(new Map([...state.peerLoad().ha].sort()), new Map([...scan.ha].sort()), `HA per peer, step ${step}`);
    for (const p of peersPool) {
      const want = [...state.all()].filter(([, e]) => isReplicated(e.sa) && e.sa.group.peers.includes(p)).length;
      assert.equal(state.replicatedOn(p), want, `replicated streams on ${p}, step ${step}`);
    }
    for (const acc of ['A', 'B']) {
      for (const q of subjectsPool) {
        const want = state.streamsOf(acc).some((e) => ((e.sa.stream.subjects as string[] | undefined) ?? []).some((s) => subjectsCollide(q, s)));
        assert.equal(state.subjectOverlaps(acc, q), want, `overlap of ${q} in ${acc}, step ${step}`);
      }
    }
  };
  for (let step = 0; step < 400; step++) {
    const acc = pick(['A', 'B']);
    const name = `S${Math.floor(r() * 6)}`;
    const x = r();
    if (x < 0.5) {
      const sa = stream(acc, name);
      sa.stream.subjects = [pick(subjectsPool), ...(r() < 0.3 ? [pick(subjectsPool)] : [])];
      sa.group.peers = [...new Set([pick(peersPool), ...(r() < 0.4 ? [pick(peersPool), pick(peersPool)] : [])])];
      if (r() < 0.3) sa.stream.num_replicas = 3;
      m.apply(entry(r() < 0.8 ? MetaOp.assignStream : MetaOp.updateStream, sa));
    } else if (x < 0.9) {
      const cur = m.stream(acc, name);
      if (cur) m.apply(entry(MetaOp.removeStream, cur.sa));
    } else {
      const next = MetaAssignments.fromSnapshot(m.toSnapshot(), (w) => assert.fail(w));
      check(next, step);
      m.applySnapshot(next);
    }
    check(m, step);
  }
});
