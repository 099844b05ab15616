// The replicated stream's apply decisions and the leader's proposal sequencing:
//  - the four captured 2.9.10 proposals replayed give the captured PubAcks byte for byte
//    (stored 1, stored 2, duplicate of 2, wrong last sequence) and clfs 2;
//  - replay, gaps, empty-store catch-up, skip entries, limits;
//  - property: a random workload (msg ids, expected-last-seq, expected subject seq, leader
//    changes with lost proposals, lagging replicas) applied on 3 replicas gives identical
//    stores; replaying any suffix over a later state changes nothing; every acknowledged
//    message is stored exactly once at its acknowledged sequence.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAppendEntry } from '../../src/raft/codec.js';
import { RaftError } from '../../src/raft/types.js';
import { decodeStreamMsg, encodeSkipEntry, encodeStreamMsg, type StreamMsgEntry } from '../../src/jetstream/cluster/stream-entry.js';
import {
  ApplyMismatchError, ProposalSequencer, StreamApplier, pubAckBytes, pubAckFor, type ApplyResult, type ApplyStore, type LimitRefusal,
} from '../../src/jetstream/cluster/stream-apply.js';
import { loadVector } from './jsc-vectors.js';
import { jsErr } from '../../src/jetstream/api/errors.js';
import { applyStoreFor } from '../../src/jetstream/cluster/stream-apply.js';
import { createMemStore } from '../../src/jetstream/store/index.js';
import type { StoreConfig, StoredMsg, StreamStore } from '../../src/jetstream/store/types.js';
import { createFileStore } from '../../src/jetstream/store/index.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom as rng } from '../helpers/wait.js';

interface Stored { subject: string; hdr: string; msg: string; ts: bigint }

/** A minimal in-memory store with nats-server's sequence rules (for the apply logic only). */
class MemApplyStore implements ApplyStore {
  msgs = new Map<number, Stored>();
  first = 0;
  last = 0;
  constructor(public maxMsgs = Infinity) {}
  state() {
    return { msgs: this.msgs.size, firstSeq: this.first, lastSeq: this.last };
  }
  lastSeq(): number {
    return this.last;
  }
  storeRaw(subject: string, hdr: Buffer | null, msg: Buffer | null, seq: number, ts: bigint): LimitRefusal | undefined {
    if (seq !== this.last + 1) throw new Error(`store out of order: ${seq} after ${this.last}`);
    if (this.msgs.size >= this.maxMsgs) return 'max_msgs';
    this.msgs.set(seq, { subject, hdr: hdr ? hdr.toString('latin1') : '', msg: msg ? msg.toString('latin1') : '', ts });
    if (this.first === 0 || this.msgs.size === 1) this.first = seq;
    this.last = seq;
    return undefined;
  }
  skipMsg(seq: number): void {
    if (seq !== this.last + 1) throw new Error(`skip out of order: ${seq} after ${this.last}`);
    this.last = seq;
    if (this.msgs.size === 0) this.first = seq + 1;
  }
  compact(nextSeq: number): void {
    this.msgs.clear();
    this.first = nextSeq;
    this.last = nextSeq - 1;
  }
  lastSeqForSubject(subject: string): number {
    let best = 0;
    for (const [seq, m] of this.msgs) if (m.subject === subject && seq > best) best = seq;
    return best;
  }
  clone(): MemApplyStore {
    const c = new MemApplyStore(this.maxMsgs);
    c.msgs = new Map(this.msgs);
    c.first = this.first;
    c.last = this.last;
    return c;
  }
  dump(): string {
    return JSON.stringify([this.first, this.last, [...this.msgs].map(([s, m]) => [s, m.subject, m.hdr, m.msg, String(m.ts)])]);
  }
}

const WINDOW = 120_000_000_000n;

function entryFrom(name: string): StreamMsgEntry {
  const v = loadVector('nrg', name);
  const ae = decodeAppendEntry(Buffer.from(v.payload_hex, 'hex'));
  assert.ok(!(ae instanceof RaftError));
  return decodeStreamMsg(Buffer.from(ae.entries[0]!.data));
}

test('stream apply: the captured 2.9.10 proposals give the captured PubAcks', () => {
  const store = new MemApplyStore();
  const a = new StreamApplier(store, { stream: 'T3', duplicateWindowNs: WINDOW });
  const names = ['ae_stream_msg_plain', 'ae_stream_msg_with_msgid_header', 'ae_stream_msg_duplicate_msgid_still_proposed',
    'ae_stream_msg_wrong_expected_last_seq_still_proposed'];
  const acks = ['js_puback', 'js_puback_msgid_first', 'js_puback_duplicate', 'js_puback_error_wrong_last_seq'];
  const results = names.map((n) => a.apply(entryFrom(n)));
  assert.deepEqual(results.map((r) => r.kind), ['stored', 'stored', 'duplicate', 'rejected']);
  for (let i = 0; i < 4; i++) {
    assert.equal(pubAckFor('T3', results[i]!), loadVector('jsapi', acks[i]!).response.payload_text, acks[i]);
  }
  assert.equal(a.clfs, 2);
  assert.equal(pubAckFor('T3', results[2]!, 'hub'), '{"stream":"T3", "domain":"hub", "seq":2,"duplicate": true}');
  assert.equal(pubAckFor('T3', results[3]!, 'hub'),
    '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"},"stream":"T3","seq":0,"domain":"hub"}');
  assert.equal(pubAckFor('T3', { kind: 'replayed' }), undefined);
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(pubAckBytes('T3', results[i]!), Buffer.from(loadVector('jsapi', acks[i]!).response.payload_text), acks[i]);
  }
  assert.equal(pubAckBytes('T3', { kind: 'replayed' }), undefined);
  assert.equal(store.state().lastSeq, 2);
  assert.equal(store.msgs.get(1)!.ts, 1795738563295351080n, 'stored with the leader timestamp');
  // Replaying the same four entries (restart without a snapshot of the state) changes nothing.
  const before = store.dump();
  for (const n of names) assert.deepEqual(a.apply(entryFrom(n)), { kind: 'replayed' });
  assert.equal(store.dump(), before);
  assert.equal(a.clfs, 2);
});

test('stream apply: PubAck text stays right when streams and domains alternate (the prefix is reused)', () => {
  const stored = (seq: number): ApplyResult => ({ kind: 'stored', seq });
  for (let i = 1; i <= 3; i++) {
    assert.equal(pubAckFor('A', stored(i)), `{"stream":"A", "seq":${i}}`);
    assert.equal(pubAckFor('A', stored(i), 'hub'), `{"stream":"A", "domain":"hub", "seq":${i}}`);
    assert.equal(pubAckFor('B', { kind: 'duplicate', seq: i }), `{"stream":"B", "seq":${i},"duplicate": true}`);
    assert.equal(pubAckFor('B', stored(i), 'leaf'), `{"stream":"B", "domain":"leaf", "seq":${i}}`);
    assert.equal(pubAckFor('A', stored(i), ''), `{"stream":"A", "seq":${i}}`);
  }
});

test('stream apply: a gap is a mismatch unless the store is empty; skip entries use one sequence', () => {
  const store = new MemApplyStore();
  const a = new StreamApplier(store, { stream: 'S', duplicateWindowNs: WINDOW });
  const m = (lseq: number): StreamMsgEntry => ({ lseq, ts: BigInt(lseq + 1), subject: 'x', reply: '', hdr: null, msg: Buffer.from('p') });
  // Empty replica joining late (after a purge snapshot): moves forward and stores at lseq+1.
  assert.deepEqual(a.apply(m(10)), { kind: 'stored', seq: 11 });
  assert.deepEqual(store.state(), { msgs: 1, firstSeq: 11, lastSeq: 11 });
  assert.throws(() => a.apply(m(13)), ApplyMismatchError);
  assert.equal(store.state().lastSeq, 11, 'nothing stored on mismatch');
  const skip = decodeStreamMsg(encodeSkipEntry(11));
  assert.deepEqual(a.apply(skip), { kind: 'skip', seq: 12 });
  assert.deepEqual(a.apply(skip), { kind: 'replayed' });
  assert.deepEqual(a.apply(m(12)), { kind: 'stored', seq: 13 });
});

test('stream apply: store limit refusals count as failed proposals and keep replicas aligned', () => {
  const store = new MemApplyStore(2);
  const a = new StreamApplier(store, { stream: 'S', duplicateWindowNs: WINDOW });
  const m = (lseq: number): StreamMsgEntry => ({ lseq, ts: 1n, subject: 'x', reply: '', hdr: null, msg: null });
  assert.equal(a.apply(m(0)).kind, 'stored');
  assert.equal(a.apply(m(1)).kind, 'stored');
  const r = a.apply(m(2));
  assert.equal(r.kind, 'rejected');
  assert.equal(pubAckFor('S', r), '{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"S","seq":0}');
  assert.equal(a.clfs, 1);
  assert.equal(a.expectedLseq(), 3);
});

test('stream apply: headers checked at apply (expected stream, subject seq, last msg id) and the dedupe window uses entry time', () => {
  const store = new MemApplyStore();
  const a = new StreamApplier(store, { stream: 'S', duplicateWindowNs: 1000n });
  let lseq = 0;
  const pub = (subject: string, hdrs: Record<string, string>, ts: bigint): ApplyResult => {
    const hdr = Object.keys(hdrs).length
      ? Buffer.from(`NATS/1.0\r\n${Object.entries(hdrs).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`) : null;
    const r = a.apply({ lseq: a.expectedLseq(), ts, subject, reply: '', hdr, msg: Buffer.from('m') });
    lseq++;
    return r;
  };
  assert.equal(pub('a', { 'Nats-Expected-Stream': 'T' }, 1n).kind, 'rejected');
  assert.deepEqual(pub('a', { 'Nats-Msg-Id': 'x' }, 10n), { kind: 'stored', seq: 1, msgId: 'x' });
  assert.deepEqual(pub('a', { 'Nats-Msg-Id': 'x' }, 500n), { kind: 'duplicate', seq: 1 });
  // Outside the window (measured with the entries' timestamps) the id is new again.
  assert.deepEqual(pub('a', { 'Nats-Msg-Id': 'x' }, 1010n), { kind: 'stored', seq: 2, msgId: 'x' });
  // Expected subject sequence 0 ("no message yet") is checked at apply on every replica...
  const bad = pub('a', { 'Nats-Expected-Last-Subject-Sequence': '0' }, 1011n);
  assert.equal(bad.kind, 'rejected');
  assert.equal(pubAckFor('S', bad), '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 2"},"stream":"S","seq":0}');
  assert.equal(pub('b', { 'Nats-Expected-Last-Subject-Sequence': '0' }, 1012n).kind, 'stored');
  // ...a non-zero one only by the leader before proposing (2.9.10: replicas do not check it).
  assert.deepEqual(pub('a', { 'Nats-Expected-Last-Subject-Sequence': '1' }, 1013n), { kind: 'stored', seq: 4 });
  const lm = pub('c', { 'Nats-Expected-Last-Msg-Id': 'y' }, 1014n);
  assert.equal(pubAckFor('S', lm), '{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: x"},"stream":"S","seq":0}');
  assert.equal(pub('c', { 'Nats-Expected-Last-Msg-Id': 'x' }, 1015n).kind, 'stored');
  assert.equal(a.clfs, 4);
  assert.equal(lseq, 9);
  assert.equal(a.expectedLseq(), 9);
  // Old ids are pruned as the window moves on.
  pub('d', { 'Nats-Msg-Id': 'z' }, 5000n);
  assert.equal(a.trackedIds, 1);
});

test('proposal sequencer: in-flight duplicates and expectations are proposed and decided at apply', () => {
  const store = new MemApplyStore();
  const a = new StreamApplier(store, { stream: 'S', duplicateWindowNs: WINDOW });
  const seqr = new ProposalSequencer(a);
  const h = (k: string, v: string) => Buffer.from(`NATS/1.0\r\n${k}: ${v}\r\n\r\n`);
  const p1 = seqr.propose('a', '', h('Nats-Msg-Id', 'm1'), Buffer.from('1'), 1n, true);
  const p2 = seqr.propose('a', '', h('Nats-Msg-Id', 'm1'), Buffer.from('1'), 2n, true);
  const p3 = seqr.propose('a', '', h('Nats-Expected-Last-Sequence', '1'), Buffer.from('2'), 3n, true);
  assert.equal(p1.kind, 'propose');
  assert.equal(p2.kind, 'propose', 'a duplicate of an in-flight id is proposed');
  assert.equal(p3.kind, 'propose', 'an expectation is not pre-checked while proposals are in flight');
  assert.ok(seqr.isInFlight('m1'));
  assert.equal(seqr.inFlight, 3);
  const res = [p1, p2, p3].map((p) => {
    assert.equal(p.kind, 'propose');
    const r = a.apply(decodeStreamMsg((p as { entry: Buffer }).entry));
    assert.ok(seqr.applied((p as { lseq: number }).lseq));
    return r;
  });
  assert.deepEqual(res, [{ kind: 'stored', seq: 1, msgId: 'm1' }, { kind: 'duplicate', seq: 1 }, { kind: 'stored', seq: 2 }]);
  assert.equal(seqr.inFlight, 0);
  assert.equal(seqr.isInFlight('m1'), false);
  // Nothing in flight and caught up: answered without a proposal (no sequence used).
  const d = seqr.propose('a', '', h('Nats-Msg-Id', 'm1'), null, 4n, true);
  assert.deepEqual(d, { kind: 'answer', result: { kind: 'duplicate', seq: 1 } });
  const w = seqr.propose('a', '', h('Nats-Expected-Last-Sequence', '7'), null, 5n, true);
  assert.equal(w.kind, 'answer');
  // A CAS on a subject (non-zero expected subject sequence) is decided before proposing, also
  // while other subjects' proposals are in flight, and refused while one on its subject is.
  const cas = (v: string) => seqr.propose('a', '', h('Nats-Expected-Last-Subject-Sequence', v), null, 5n, true);
  assert.deepEqual(cas('1'), { kind: 'answer', result: { kind: 'rejected', error: jsErr('StreamWrongLastSequence', { seq: 2 }) } });
  const other = seqr.propose('b', '', null, Buffer.from('o'), 5n, true);
  assert.equal(other.kind, 'propose');
  const ok = cas('2');
  assert.equal(ok.kind, 'propose', 'the right subject sequence is proposed');
  assert.equal(cas('2').kind, 'answer', 'a CAS on a subject with a proposal in flight is refused');
  for (const p of [other, ok]) {
    a.apply(decodeStreamMsg((p as { entry: Buffer }).entry));
    seqr.applied((p as { lseq: number }).lseq);
  }
  assert.equal(cas('4').kind, 'propose');
  seqr.reset();
  // A leader still applying earlier terms' entries holds publishes.
  assert.deepEqual(seqr.propose('a', '', null, Buffer.from('x'), 6n, false), { kind: 'not_ready' });
  // With one of ours in flight, an expectation is proposed rather than pre-checked.
  assert.equal(seqr.propose('a', '', null, Buffer.from('y'), 6n, true).kind, 'propose');
  assert.equal(seqr.propose('a', '', h('Nats-Expected-Last-Sequence', '7'), null, 6n, true).kind, 'propose');
  seqr.reset();
  assert.equal(seqr.inFlight, 0);
  // After a reset the next proposal starts from the applied state again.
  const n = seqr.propose('a', '', null, Buffer.from('x'), 7n, true);
  assert.equal(n.kind === 'propose' && n.lseq, a.expectedLseq());
});

// ---- property test ----

/** What the property test reads back from a replica's store. */
interface Backend extends ApplyStore {
  dump(): string;
  msgs: { get(seq: number): Stored | undefined; [Symbol.iterator](): Iterator<[number, Stored]>; values(): Iterable<Stored> };
}

/** The apply view of a real store (memory by default), read back through its public API. */
function realBackend(ms: StreamStore = createMemStore({ name: 'P', storage: 'memory' } as StoreConfig)): Backend {
  const view = applyStoreFor(ms);
  const toStored = (m: StoredMsg): Stored => ({ subject: m.subject, hdr: m.headers ? m.headers.toString('latin1') : '', msg: m.data.toString('latin1'), ts: m.ts });
  const all = (): Array<[number, Stored]> => {
    const out: Array<[number, Stored]> = [];
    for (let m = ms.loadNextMsg('', 1); m; m = ms.loadNextMsg('', m.seq + 1)) out.push([m.seq, toStored(m)]);
    return out;
  };
  return {
    ...view,
    dump() {
      const st = ms.fastState();
      const first = st.msgs === 0 ? st.lastSeq + 1 : st.firstSeq;
      return JSON.stringify([first, st.lastSeq, all().map(([sq, m]) => [sq, m.subject, m.hdr, m.msg, String(m.ts)])]);
    },
    msgs: {
      get: (seq: number) => {
        const m = ms.loadMsg(seq);
        return m ? toStored(m) : undefined;
      },
      [Symbol.iterator]: () => all()[Symbol.iterator](),
      values: () => all().map(([, m]) => m),
    },
  };
}

let backendFactory: () => Backend = () => new MemApplyStore();

interface Replica { store: Backend; applier: StreamApplier; applied: number }

function newReplica(): Replica {
  const store = backendFactory();
  return { store, applier: new StreamApplier(store, { stream: 'P', duplicateWindowNs: WINDOW }), applied: 0 };
}

function catchUp(r: Replica, log: Buffer[], upTo = log.length): ApplyResult[] {
  const out: ApplyResult[] = [];
  while (r.applied < upTo) out.push(r.applier.apply(decodeStreamMsg(log[r.applied++]!)));
  return out;
}

function runWorkload(seed: number): void {
  const r = rng(seed);
  const replicas = [newReplica(), newReplica(), newReplica()];
  const log: Buffer[] = [];
  // What the client was told, by publish number.
  const acks = new Map<number, ApplyResult>();
  const payloadOf = new Map<number, { subject: string; msg: string; msgId?: string; expLast?: number }>();
  let leader = 0;
  // Log length when the current leader was elected; it may propose once it applied that much.
  let readyAt = 0;
  let seqr = new ProposalSequencer(replicas[leader]!.applier);
  let clock = 1_000_000n;
  // Proposals of the current leader not committed yet (may be lost on a leader change).
  let uncommitted: Array<{ entry: Buffer; lseq: number; pub: number }> = [];
  // Committed proposals of the current leader that it has not applied yet.
  const awaiting = new Map<number, number>(); // log index -> publish number
  let notReady = 0;
  for (let pub = 0; pub < 400; pub++) {
    const L = replicas[leader]!;
    const subject = r() < 0.5 ? 'a' : 'b';
    const hdrs: string[] = [];
    let msgId: string | undefined;
    let expLast: number | undefined;
    if (r() < 0.4) {
      msgId = `id-${Math.floor(r() * 60)}`;
      hdrs.push(`Nats-Msg-Id: ${msgId}`);
    }
    if (r() < 0.25) {
      // Sometimes right (what the client saw last), sometimes stale.
      expLast = Math.max(0, L.store.state().lastSeq + (r() < 0.5 ? 0 : -1 - Math.floor(r() * 2)));
      hdrs.push(`Nats-Expected-Last-Sequence: ${expLast}`);
    }
    if (r() < 0.1) hdrs.push(`Nats-Expected-Last-Subject-Sequence: ${L.store.lastSeqForSubject(subject)}`);
    const hdr = hdrs.length ? Buffer.from(`NATS/1.0\r\n${hdrs.join('\r\n')}\r\n\r\n`) : null;
    clock += BigInt(1 + Math.floor(r() * 1000));
    payloadOf.set(pub, { subject, msg: `p${pub}`, msgId, expLast });
    const d = seqr.propose(subject, '', hdr, Buffer.from(`p${pub}`), clock, L.applied >= readyAt);
    if (d.kind === 'answer') acks.set(pub, d.result);
    else if (d.kind === 'propose') uncommitted.push({ entry: d.entry, lseq: d.lseq, pub });
    else notReady++;

    const x = r();
    if (x < 0.35 && uncommitted.length) {
      // Commit everything proposed so far (appended to the log in proposal order).
      for (const u of uncommitted) {
        awaiting.set(log.length, u.pub);
        log.push(u.entry);
      }
      uncommitted = [];
    }
    if (r() < 0.4) {
      // The leader applies what is committed; PubAcks are decided here.
      const start = L.applied;
      const res = catchUp(L, log);
      res.forEach((res1, i) => {
        const idx = start + i;
        const p = awaiting.get(idx);
        if (p !== undefined) {
          awaiting.delete(idx);
          acks.set(p, res1);
          const e = decodeStreamMsg(log[idx]!);
          assert.ok(seqr.applied(e.lseq));
        }
      });
    }
    // Followers lag by random amounts.
    for (let i = 0; i < 3; i++) if (i !== leader && r() < 0.3) catchUp(replicas[i]!, log, log.length - Math.floor(r() * 3));
    if (r() < 0.03) {
      // Leader change: a prefix of the uncommitted proposals may still be committed by the
      // new leader, the rest is lost; none of them gets a PubAck from the old leader.
      const kept = Math.floor(r() * (uncommitted.length + 1));
      for (const u of uncommitted.slice(0, kept)) log.push(u.entry);
      uncommitted = [];
      awaiting.clear();
      leader = (leader + 1 + Math.floor(r() * 2)) % 3;
      readyAt = log.length;
      seqr = new ProposalSequencer(replicas[leader]!.applier);
      // Sometimes the new leader catches up at once, sometimes publishes arrive first.
      if (r() < 0.5) catchUp(replicas[leader]!, log);
    }
  }
  for (const u of uncommitted) log.push(u.entry);
  for (const rep of replicas) catchUp(rep, log);
  void notReady;

  // 1. Identical replicas.
  const dumps = replicas.map((x) => x.store.dump());
  assert.equal(dumps[1], dumps[0], `seed ${seed}: replica 1 differs`);
  assert.equal(dumps[2], dumps[0], `seed ${seed}: replica 2 differs`);
  assert.equal(new Set(replicas.map((x) => x.applier.clfs)).size, 1);
  assert.equal(new Set(replicas.map((x) => x.applier.lastMsgId)).size, 1);

  // 2. Idempotent replay: the whole log again, and any suffix over a restored later state.
  const ref = replicas[0]!;
  const before = ref.store.dump();
  ref.applied = 0;
  for (const res of catchUp(ref, log)) assert.equal(res.kind, 'replayed');
  assert.equal(ref.store.dump(), before);
  for (let k = 0; k < 5; k++) {
    const i = Math.floor(r() * (log.length + 1));
    const j = Math.floor(r() * (i + 1));
    const snap = newReplica();
    catchUp(snap, log, i);
    // "Restart" from the state at index i (store kept, applier rebuilt) and replay from an
    // earlier index j.
    const restored: Replica = { store: snap.store, applier: new StreamApplier(snap.store, { stream: 'P', duplicateWindowNs: WINDOW }), applied: j };
    restored.applier.importState(snap.applier.exportState());
    // The dedupe window is rebuilt from the stored messages, as a restarted server does.
    for (const [seq, m] of restored.store.msgs) {
      const id = /Nats-Msg-Id: ([^\r]+)/.exec(m.hdr)?.[1];
      if (id) restored.applier.rememberMsgId(id, seq, m.ts);
    }
    catchUp(restored, log);
    assert.equal(restored.store.dump(), before, `seed ${seed}: replay from ${j} over state at ${i} differs`);
  }

  // 3. Every acknowledged message is stored exactly once at its acknowledged sequence; the
  //    expectations and dedupe the client was promised hold.
  const storedSeqs = new Set<number>();
  const idSeq = new Map<string, number>();
  for (const [pub, ack] of acks) {
    const p = payloadOf.get(pub)!;
    if (ack.kind === 'stored') {
      assert.ok(!storedSeqs.has(ack.seq), `seq ${ack.seq} acked twice`);
      storedSeqs.add(ack.seq);
      const m = ref.store.msgs.get(ack.seq);
      assert.ok(m, `seed ${seed}: acked seq ${ack.seq} missing`);
      assert.equal(m.msg, p.msg);
      if (p.expLast !== undefined) assert.equal(ack.seq, p.expLast + 1, 'stored right after the expected last sequence');
      if (p.msgId) idSeq.set(p.msgId, ack.seq);
    } else if (ack.kind === 'duplicate') {
      const m = ref.store.msgs.get(ack.seq);
      assert.ok(m && p.msgId && m.hdr.includes(`Nats-Msg-Id: ${p.msgId}\r\n`), 'duplicate points at the original');
    } else {
      assert.equal(ack.kind, 'rejected', `seed ${seed}: publish ${pub} got ${ack.kind}`);
    }
  }
  // No msg id stored twice (the window is longer than the run).
  const seen = new Set<string>();
  for (const m of ref.store.msgs.values()) {
    const id = /Nats-Msg-Id: ([^\r]+)/.exec(m.hdr)?.[1];
    if (!id) continue;
    assert.ok(!seen.has(id), `seed ${seed}: msg id ${id} stored twice`);
    seen.add(id);
  }
  assert.ok(storedSeqs.size > 50, 'the workload stored a meaningful number of messages');
}

test('stream apply property: 3 replicas identical, replay idempotent, acks honoured (20 seeds)', () => {
  for (let seed = 1; seed <= 20; seed++) runWorkload(seed);
});

test('stream apply property on the real memory store (applyStoreFor), 5 seeds', () => {
  backendFactory = realBackend;
  try {
    for (let seed = 101; seed <= 105; seed++) runWorkload(seed);
  } finally {
    backendFactory = () => new MemApplyStore();
  }
});

test('stream apply property on the file store (applyStoreFor), 2 seeds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-jsc-apply-'));
  const stores: StreamStore[] = [];
  let n = 0;
  backendFactory = () => {
    const fs = createFileStore({ name: 'P', storage: 'file' } as StoreConfig, { dir: join(dir, `r${n++}`), blockSizeBytes: 4096 });
    stores.push(fs);
    return realBackend(fs);
  };
  try {
    for (let seed = 201; seed <= 202; seed++) runWorkload(seed);
  } finally {
    backendFactory = () => new MemApplyStore();
    for (const st of stores) await st.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('applyStoreFor: limit refusals, skip, empty-store forward move and subject lookups on the memory store', () => {
  const ms = createMemStore({ name: 'L', storage: 'memory', maxMsgs: 2, discard: 'new' } as StoreConfig);
  const a = new StreamApplier(applyStoreFor(ms), { stream: 'L', duplicateWindowNs: WINDOW });
  const m = (lseq: number, subject = 'x'): StreamMsgEntry => ({ lseq, ts: 100n + BigInt(lseq), subject, reply: '', hdr: null, msg: Buffer.from('d') });
  // Empty store joining at lseq 40: moves forward, stores at 41.
  assert.deepEqual(a.apply(m(40)), { kind: 'stored', seq: 41 });
  assert.equal(ms.fastState().firstSeq, 41);
  assert.equal(ms.loadMsg(41)!.ts, 140n);
  assert.deepEqual(a.apply(decodeStreamMsg(encodeSkipEntry(41))), { kind: 'skip', seq: 42 });
  assert.deepEqual(a.apply(m(42, 'y')), { kind: 'stored', seq: 43 });
  const r = a.apply(m(43));
  assert.equal(r.kind, 'rejected');
  assert.equal(a.clfs, 1);
  assert.equal(ms.fastState().lastSeq, 43);
  const hdr = Buffer.from('NATS/1.0\r\nNats-Expected-Last-Subject-Sequence: 43\r\n\r\n');
  // Subject lookup through the store: y's last is 43 (the refusal is the store limit, not the check).
  const ok = a.apply({ ...m(44, 'y'), hdr });
  assert.equal(ok.kind, 'rejected');
  assert.equal((ok as { error: { errCode: number } }).error.errCode, 10077);
});

test('stream apply: a hand-built skip proposal between messages keeps every replica aligned', () => {
  const reps = [newReplica(), newReplica()];
  const log = [
    encodeStreamMsg({ lseq: 0, ts: 5n, subject: 'a', reply: '', hdr: null, msg: Buffer.from('1') }),
    encodeSkipEntry(1),
    encodeStreamMsg({ lseq: 2, ts: 6n, subject: 'a', reply: '', hdr: null, msg: Buffer.from('3') }),
  ];
  for (const rep of reps) {
    assert.deepEqual(catchUp(rep, log), [{ kind: 'stored', seq: 1 }, { kind: 'skip', seq: 2 }, { kind: 'stored', seq: 3 }]);
  }
  assert.equal(reps[0]!.store.dump(), reps[1]!.store.dump());
});

test('stream apply: pubAckBytes writes exactly the bytes of pubAckFor (streams, domains, every digit count)', () => {
  const seqs = [0, 1, 9, 10, 99, 100, 12345, 999_999_999, 1_000_000_000, 2 ** 32, 2 ** 53 - 1];
  const streams = ['T3', 'ORDERS', 'ünï', 'a"b\\c'];
  for (const stream of streams) {
    for (const domain of [undefined, 'hub', 'd\u00e9']) {
      for (const seq of seqs) {
        const r: ApplyResult = { kind: 'stored', seq };
        assert.deepEqual(pubAckBytes(stream, r, domain), Buffer.from(pubAckFor(stream, r, domain)!), `${stream} ${domain} ${seq}`);
      }
      const dup: ApplyResult = { kind: 'duplicate', seq: 7 };
      assert.deepEqual(pubAckBytes(stream, dup, domain), Buffer.from(pubAckFor(stream, dup, domain)!));
    }
  }
});
