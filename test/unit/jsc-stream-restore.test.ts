// A replica's store matched to a stream snapshot (stream-restore.ts), the `$JSC` catch-up run
// end to end over an in-memory transport (stream-catchup.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemStore, subjectMatches, type StreamStore } from '../../src/jetstream/store/index.js';
import type { RaftMessageHandler, RaftTransport } from '../../src/raft/index.js';
import { StreamApplier, applyStoreFor } from '../../src/jetstream/cluster/stream-apply.js';
import { decodeStreamSnapshot } from '../../src/jetstream/cluster/stream-snapshot.js';
import { lastTrustedSeq, restoreFromSnapshot, truncateStore } from '../../src/jetstream/cluster/stream-restore.js';
import { CatchupClient, CatchupServer } from '../../src/jetstream/cluster/stream-catchup.js';
import { ProgressBoard } from '../../src/jetstream/progress.js';
import { pollUntil } from '../helpers/wait.js';

const hdr = (id: string): Buffer => Buffer.from(`NATS/1.0\r\nNats-Msg-Id: ${id}\r\n\r\n`);

function filled(n: number, withIds = false): StreamStore {
  const s = createMemStore({ name: 'S', storage: 'memory' });
  for (let i = 1; i <= n; i++) s.storeRawMsg(`s.${i % 3}`, withIds ? hdr(`id${i}`) : undefined, Buffer.from(`m${i}`), i, BigInt(i) * 1_000_000n);
  return s;
}

function applierFor(s: StreamStore): StreamApplier {
  return new StreamApplier(applyStoreFor(s), { stream: 'S', duplicateWindowNs: 1_000_000_000_000n });
}

function contents(s: StreamStore): string[] {
  const st = s.fastState();
  const out: string[] = [];
  for (let seq = st.firstSeq; seq <= st.lastSeq; seq++) {
    const m = s.loadMsg(seq);
    out.push(m ? `${seq}:${m.subject}:${m.data.toString()}` : `${seq}:-`);
  }
  return out;
}

test('truncateStore: cut inside the store, below its first sequence, and to empty', () => {
  const a = filled(10);
  truncateStore(a, 6);
  assert.equal(a.fastState().lastSeq, 6);
  assert.equal(a.fastState().msgs, 6);
  const b = filled(10);
  b.compact(8);
  truncateStore(b, 5);
  assert.deepEqual([b.fastState().msgs, b.fastState().firstSeq, b.fastState().lastSeq], [0, 6, 5]);
  const c = filled(4);
  truncateStore(c, 0);
  assert.deepEqual([c.fastState().msgs, c.fastState().lastSeq], [0, 0]);
});

test('restoreFromSnapshot: a store ahead of the snapshot is cut back; clfs and deletes come from the snapshot', () => {
  const leader = filled(20);
  leader.removeMsg(7);
  const snap = decodeStreamSnapshot(leader.encodedStreamState(3));
  const replica = filled(25); // applied 5 more entries after the snapshot, and never saw the delete
  const ap = applierFor(replica);
  const r = restoreFromSnapshot(replica, ap, snap, undefined, 1_000_000_000_000n);
  assert.equal(r.cut, 5);
  assert.equal(r.deleted, 1);
  assert.equal(r.catchupTo, undefined);
  assert.equal(ap.clfs, 3);
  assert.deepEqual(contents(replica), contents(leader));
  assert.equal(ap.expectedLseq(), 23, 'the next entry after the snapshot carries lseq last + clfs');
});

test('restoreFromSnapshot: a damaged or short store asks for catch-up; the dedupe window is rebuilt', () => {
  const snap = decodeStreamSnapshot(filled(30).encodedStreamState(0));
  const replica = filled(20, true);
  const ap = applierFor(replica);
  const r = restoreFromSnapshot(replica, ap, snap, 12, 1_000_000_000_000n); // recovery lost message 13
  assert.equal(replica.fastState().lastSeq, 12);
  assert.equal(r.catchupTo, 30);
  assert.equal(ap.lookupMsgId('id12', 12_000_000n), 12);
  assert.equal(ap.lookupMsgId('id13', 13_000_000n), undefined);
  assert.equal(ap.lastMsgId, 'id12');
  assert.equal(lastTrustedSeq(replica), undefined, 'a memory store reports no lost data');
});

/** Servers on one in-memory bus with wildcard subscriptions (the `$JSC.ACK.<rand>.*` acks need them). */
class WildcardBus {
  private readonly subs: Array<{ server: string; subject: string; handler: RaftMessageHandler; active: boolean }> = [];
  transport(server: string): RaftTransport {
    return {
      publish: (subject, reply, payload) => {
        const copy = Buffer.from(payload);
        setImmediate(() => {
          for (const s of this.subs) if (s.active && s.server !== server && subjectMatches(subject, s.subject)) s.handler(subject, reply, copy);
        });
      },
      subscribe: (subject, handler) => {
        const sub = { server, subject, handler, active: true };
        this.subs.push(sub);
        return { unsubscribe: () => { sub.active = false; } };
      },
    };
  }
}

for (const [label, window] of [['default window', {}], ['a window of 4 messages (acks pace the run)', { maxMsgs: 4 }]] as const) {
test(`$JSC catch-up over a transport, ${label}: the follower gets messages and gaps, acks, and the leader reports it`, async () => {
  const hub = new WildcardBus();
  const leaderStore = filled(300);
  for (const seq of [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 150]) leaderStore.removeMsg(seq);
  const follower = filled(40);
  truncateStore(follower, 3);
  const logs: string[] = [];
  const server = new CatchupServer(hub.transport('leader'), '$JSC.SYNC.test0001', () => ({
    lastSeq: () => leaderStore.fastState().lastSeq,
    loadMsg: (seq) => {
      const m = leaderStore.loadMsg(seq);
      return m ? { subject: m.subject, hdr: m.headers ?? null, msg: m.data, ts: m.ts } : undefined;
    },
  }), (m) => logs.push(m), window);
  server.setActive(true);
  let sawCatchingUp = false;
  // Progress reported at every message (interval 0), from the follower's last sequence.
  const progressLines: string[] = [];
  const board = new ProgressBoard((m) => progressLines.push(m), 0);
  const done = new Promise<void>((resolve) => {
    const client = new CatchupClient({
      transport: hub.transport('follower'), syncSubject: '$JSC.SYNC.test0001', peer: 'peerF', lastSeq: 300, snapIndex: 9,
      sink: {
        lastSeq: () => follower.fastState().lastSeq,
        storeRaw: (subject, h, msg, seq, ts) => {
          if (server.peersCatchingUp().has('peerF')) sawCatchingUp = true;
          follower.storeRawMsg(subject, h ?? undefined, msg ?? Buffer.alloc(0), seq, ts);
        },
        skipMsg: (seq) => { follower.skipMsg(seq); },
        skipMsgs: (first, num) => { follower.skipMsgs(first, num); },
      },
      onDone: resolve,
      log: (m) => logs.push(m),
      progress: board.begin('catch-up S', 'last seq', 300, follower.fastState().lastSeq),
    });
    assert.equal(board.list()[0]!.done, 3);
    client.start();
  });
  await done;
  assert.deepEqual(contents(follower), contents(leaderStore));
  assert.equal(sawCatchingUp, true, 'the leader counted the follower as catching up');
  // The leader ends the run when the follower's last ack arrives (a later turn): wait for it.
  await pollUntil(() => (server.peersCatchingUp().size === 0 ? true : undefined), 'the leader ended the run', 10_000, 5);
  server.setActive(false);
  assert.deepEqual(logs, []);
  assert.match(progressLines[0]!, /^catch-up S: \d+\/300 last seq \(\d+%\)/);
  assert.match(progressLines[progressLines.length - 1]!, /^catch-up S: caught up after \d+\.\ds \(300\/300 last seq\)$/);
  assert.equal(board.list().length, 0, 'the finished catch-up left the board');
});
}
