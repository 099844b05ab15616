// Groups of real RaftNodes (real WAL with fsync, in-process transport):
// the group-level TestNRG scenarios (Simple, SimpleCatchup, SnapshotCatchup,
// SnapshotAndRestart, LeaderTransfer, HeartbeatOnLeaderChange,
// WALEntryWithoutQuorumMustTruncate, InvalidTAV, membership, observers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalCluster, type LocalMember } from '../../src/raft/local-cluster.js';
import { decodeAppendEntry } from '../../src/raft/codec.js';
import { type AppendEntry, EntryType, RaftError } from '../../src/raft/types.js';

function cluster(t: { after(fn: () => void): void }, size = 3, extra: Partial<ConstructorParameters<typeof LocalCluster>[0]> = {}): LocalCluster {
  const c = new LocalCluster({ size, ...extra });
  t.after(() => c.destroy());
  return c;
}

const text = (m: LocalMember): string[] => m.stateStrings();

async function proposeAll(c: LocalCluster, values: string[]): Promise<void> {
  const l = await c.waitForLeader();
  for (const v of values) l.n.propose(Buffer.from(v));
}

test('Simple: a 3-node group elects a leader and every member applies the same proposals in order', async (t) => {
  const c = cluster(t).startAll();
  const l = await c.waitForLeader();
  assert.equal(c.members.filter((m) => m.n.isLeader).length, 1);
  assert.equal(l.n.clusterSize, 3);
  await proposeAll(c, ['22', '-11']);
  // Followers forward proposals to the leader ($NRG.P.<group>).
  const f = c.members.find((m) => m !== l)!;
  f.n.forwardProposal(Buffer.from('-10'));
  await c.waitForStateSize(3);
  for (const m of c.members) assert.deepEqual(text(m), ['22', '-11', '-10']);
  // Leader change callbacks: exactly one member reported leadership for the term.
  assert.deepEqual(l.leaderChanges.filter((x) => x.isLeader).map((x) => x.term), [l.n.term]);
  const st = l.n.status();
  assert.equal(st.state, 'leader');
  assert.equal(st.peers.length, 3);
  for (const p of st.peers) assert.equal(p.current, true);
});

test('proposeAndWait resolves with the committed index; a follower cannot propose', async (t) => {
  const c = cluster(t).startAll();
  const l = await c.waitForLeader();
  const idx = await l.n.proposeAndWait(Buffer.from('x'));
  assert.ok(idx >= 2);
  assert.ok(l.n.commit >= idx);
  const f = c.members.find((m) => m !== l)!;
  assert.throws(() => f.n.propose(Buffer.from('y')), (e: unknown) => e instanceof RaftError && e.code === 'not_leader');
});

test('SimpleCatchup: a stopped follower catches up after restart, also across a leader change', async (t) => {
  const c = cluster(t).startAll();
  const l = await c.waitForLeader();
  const f = c.members.find((m) => m !== l)!;
  c.stop(f);
  await proposeAll(c, Array.from({ length: 10 }, (_, i) => `v${i}`));
  await c.waitFor(() => l.state.length === 10, 5000, 'leader applied 10');
  l.n.stepDown();
  const l2 = await c.waitForLeader();
  c.start(f);
  await c.waitForStateSize(10);
  assert.deepEqual(text(f), text(l));
  assert.ok(l2);
});

test('SnapshotCatchup: a follower behind the leader snapshot gets the snapshot, then the entries after it', async (t) => {
  const c = cluster(t, 3, { segmentMaxBytes: 4096 }).startAll();
  const l = await c.waitForLeader();
  const f = c.members.find((m) => m !== l)!;
  c.stop(f);
  // Ten batches in ten turns: ten log indexes behind the snapshot.
  for (let b = 0; b < 10; b++) {
    await proposeAll(c, Array.from({ length: 5 }, (_, i) => `a${b * 5 + i}`));
    await new Promise((r) => setImmediate(r));
  }
  await c.waitFor(() => l.state.length === 50, 5000, 'leader applied 50');
  const snap = l.n.installSnapshot(l.snapshotData());
  assert.ok(snap.index >= 11, `snapshot at ${snap.index}`);
  await proposeAll(c, ['after1', 'after2']);
  await c.waitFor(() => l.state.length === 52, 5000, 'leader applied 52');
  c.start(f);
  await c.waitForStateSize(52);
  assert.deepEqual(text(f), text(l));
  assert.equal(f.snapshotsApplied, 1, 'the follower installed the leader snapshot');
  assert.equal(f.n.status().snapshotIndex, snap.index);
});

test('SnapshotAndRestart / WAL replay: state survives snapshots and full restarts, applied once per lifetime', async (t) => {
  const c = cluster(t).startAll();
  await proposeAll(c, Array.from({ length: 20 }, (_, i) => `s${i}`));
  await c.waitForStateSize(20);
  const l = c.leader()!;
  const m = c.members.find((x) => x !== l)!;
  l.n.installSnapshot(l.snapshotData());
  m.n.installSnapshot(m.snapshotData());
  await proposeAll(c, ['t1', 't2']);
  await c.waitForStateSize(22);
  const before = text(l);
  for (const x of c.members) c.stop(x);
  c.startAll();
  // Restart delivers the snapshot and replays the WAL before start() returns.
  assert.deepEqual(text(m), before.slice(0, m.state.length));
  await c.waitForLeader();
  await proposeAll(c, ['u']);
  await c.waitForStateSize(23);
  for (const x of c.members) assert.deepEqual(text(x), [...before, 'u']);
});

test('LeaderTransfer: StepDown(preferred) makes the preferred member leader via EntryLeaderTransfer', async (t) => {
  const c = cluster(t).startAll();
  const transfers: string[] = [];
  c.hub.onPublish = (_from, subject, _reply, payload) => {
    if (!subject.startsWith('$NRG.AE.')) return;
    const ae = decodeAppendEntry(Buffer.from(payload));
    if (ae instanceof RaftError) return;
    for (const e of (ae as AppendEntry).entries) if (e.type === EntryType.LeaderTransfer) transfers.push(Buffer.from(e.data).toString());
  };
  const l = await c.waitForLeader();
  await proposeAll(c, ['x']);
  await c.waitForStateSize(1);
  const target = c.members.find((m) => m !== l)!;
  l.n.stepDown(target.id);
  assert.notEqual(l.n.state, 'leader');
  await c.waitFor(() => target.n.isLeader, 5000, 'preferred member to lead');
  assert.deepEqual(transfers, [target.id]);
  assert.equal(target.n.term, l.n.term);
});

test('HeartbeatOnLeaderChange: restarting the leader repeatedly always yields a new leader and progress', async (t) => {
  const c = cluster(t).startAll();
  let expected = 0;
  for (let round = 0; round < 3; round++) {
    const l = await c.waitForLeader();
    await proposeAll(c, [`r${round}`]);
    expected++;
    await c.waitForStateSize(expected);
    c.stop(l);
    const next = await c.waitForLeader();
    assert.notEqual(next, l);
    c.start(l);
  }
  await c.waitForStateSize(expected);
  const ref = text(c.members[0]);
  for (const m of c.members) assert.deepEqual(text(m), ref);
});

test('WALEntryWithoutQuorumMustTruncate: an entry only the old leader stored is replaced after it returns', async (t) => {
  const c = cluster(t).startAll();
  const l = await c.waitForLeader();
  await proposeAll(c, ['base']);
  await c.waitForStateSize(1);
  const others = c.members.filter((m) => m !== l).map((m) => m.name);
  c.hub.isolate(l.name, others);
  l.n.propose(Buffer.from('lost'));
  await c.waitFor(() => l.n.lastIndex > l.n.commit, 2000, 'entry stored without quorum');
  c.stop(l);
  c.hub.heal();
  const l2 = await c.waitForLeader();
  l2.n.propose(Buffer.from('kept'));
  await c.waitFor(() => l2.state.length === 2, 5000, 'new leader applied');
  c.start(l);
  await c.waitForStateSize(2);
  for (const m of c.members) assert.deepEqual(text(m), ['base', 'kept']);
  await c.waitFor(() => l.n.lastIndex === l2.n.lastIndex, 5000, 'identical logs');
});

test('InvalidTAVDoesntPanic: a truncated tav.idx on restart is tolerated and the group recovers', async (t) => {
  const c = cluster(t).startAll();
  await proposeAll(c, ['a']);
  await c.waitForStateSize(1);
  const m = c.members.find((x) => !x.n.isLeader)!;
  c.stop(m);
  writeFileSync(join(m.dir, 'tav.idx'), Buffer.from([1, 2, 3]));
  c.start(m);
  await proposeAll(c, ['b']);
  await c.waitForStateSize(2);
  await c.waitFor(() => m.n.isCurrent(), 5000, 'member current again');
});

test('LostQuorum: a leader whose followers are gone steps down and tells the upper layer', async (t) => {
  const c = cluster(t).startAll();
  const l = await c.waitForLeader();
  for (const m of c.members) if (m !== l) c.stop(m);
  await c.waitFor(() => l.n.state !== 'leader', 3000, 'leader to step down');
  assert.equal(l.leaderChanges.at(-1)!.isLeader, false);
  assert.equal(l.n.hasQuorum(), false);
});

test('membership: remove a follower, add a brand-new member that catches up, sizes follow', async (t) => {
  const c = cluster(t).startAll();
  const l = await c.waitForLeader();
  await proposeAll(c, ['one', 'two']);
  await c.waitForStateSize(2);
  const victim = c.members.find((m) => m !== l)!;
  l.n.proposeRemovePeer(victim.id);
  await c.waitFor(() => l.n.peers().length === 2 && !l.n.membershipChangeInProgress, 5000, 'removal committed');
  assert.equal(l.n.clusterSize, 2);
  assert.throws(() => l.n.proposeRemovePeer('NOSUCHID'), (e: unknown) => e instanceof RaftError && e.code === 'peer_not_found');
  c.stop(victim);
  const fresh = c.addMember();
  c.start(fresh, [l.id]);
  l.n.proposeAddPeer(fresh.id);
  await c.waitFor(() => l.n.clusterSize === 3 && !l.n.membershipChangeInProgress, 5000, 'add committed');
  await proposeAll(c, ['three']);
  await c.waitFor(() => fresh.state.length === 3, 5000, 'new member caught up');
  assert.deepEqual(text(fresh), ['one', 'two', 'three']);
  assert.equal(fresh.n.clusterSize, 3);
});

test('ObserverMode: an observer applies everything but never becomes leader', async (t) => {
  const c = cluster(t, 3, { memberOptions: (name: string) => (name === 'n3' ? { observer: true } : {}) });
  c.startAll();
  const obs = c.members[2];
  for (let round = 0; round < 2; round++) {
    const l = await c.waitForLeader();
    assert.notEqual(l, obs);
    await proposeAll(c, [`o${round}`]);
    await c.waitForStateSize(round + 1);
    l.n.stepDown();
  }
  await c.waitForLeader();
  assert.equal(obs.n.isObserver, true);
  assert.equal(obs.n.state, 'follower');
  assert.deepEqual(text(obs), ['o0', 'o1']);
});

test('memory storage: a restarted member comes back with an empty log and catches up from the leader', async (t) => {
  const c = cluster(t, 3, { memberOptions: () => ({ storage: 'memory' as const }) });
  c.startAll();
  const l = await c.waitForLeader();
  await proposeAll(c, ['m1', 'm2']);
  await c.waitForStateSize(2);
  const f = c.members.find((m) => m !== l)!;
  c.stop(f);
  c.start(f);
  assert.equal(f.n.lastIndex, 0, 'nothing replayed from memory');
  await proposeAll(c, ['m3']);
  await c.waitForStateSize(3);
  assert.deepEqual(text(f), ['m1', 'm2', 'm3']);
});

test('a follower cut off for many election timeouts comes back without deposing the healthy leader (pre-vote by probe)', async (t) => {
  const c = cluster(t).startAll();
  const l = await c.waitForLeader();
  await proposeAll(c, ['before']);
  await c.waitForStateSize(1);
  const f = c.members.find((m) => m !== l)!;
  const termBefore = l.n.term;
  // Count the cut-off follower's vote requests (probes at its current term).
  const requests: number[] = [];
  c.hub.onPublish = (from, subject, _reply, payload) => {
    if (from === f.name && subject.startsWith('$NRG.V.')) requests.push(Number(Buffer.from(payload).readBigUInt64LE(0)));
  };
  c.hub.isolate(f.name, c.members.map((m) => m.name));
  await c.waitFor(() => requests.length >= 4, 20_000, 'four election timeouts on the cut-off follower');
  assert.ok(requests.every((term) => term === termBefore), `probes stay at term ${termBefore}: ${requests.join(',')}`);
  assert.equal(f.n.term, termBefore, 'no term raised while cut off');
  c.hub.heal();
  await proposeAll(c, ['after']);
  await c.waitFor(() => f.state.length === 2 && f.n.leaderId === l.id, 10_000, 'follower back under the same leader');
  assert.equal(l.n.isLeader, true);
  assert.equal(l.n.term, termBefore, 'the leader was never deposed');
  assert.deepEqual(text(f), ['before', 'after']);
});

test('installSnapshotAt: a state captured at an earlier applied index; the entries after it replay from the WAL', async (t) => {
  const c = cluster(t).startAll();
  for (let b = 0; b < 5; b++) {
    await proposeAll(c, [`a${b}`]);
    await c.waitForStateSize(b + 1);
  }
  const l = c.leader()!;
  const m = c.members.find((x) => x !== l)!;
  // Captured now, installed later (as a store that makes its state durable asynchronously does).
  const index = m.appliedIndex;
  const data = m.snapshotData();
  for (let b = 5; b < 10; b++) {
    await proposeAll(c, [`a${b}`]);
    await c.waitForStateSize(b + 1);
  }
  assert.ok(m.n.applied > index);
  const snap = m.n.installSnapshotAt(index, data);
  assert.equal(snap.index, index);
  assert.equal(m.n.status().snapshotIndex, index);
  assert.throws(() => m.n.installSnapshotAt(index, data), (e: unknown) => e instanceof RaftError && e.code === 'snapshot_not_allowed');
  const before = text(l);
  for (const x of c.members) c.stop(x);
  c.startAll();
  // Restart: the snapshot, then the WAL's committed entries after it (the newest may wait for a leader).
  assert.equal(m.snapshotsApplied, 1);
  assert.ok(m.state.length > 5, `entries after the snapshot replayed from the WAL (${m.state.length})`);
  assert.deepEqual(text(m), before.slice(0, m.state.length));
  await c.waitForLeader();
  await c.waitForStateSize(10);
  assert.deepEqual(text(m), before);
});

test('announceCommitFirst: the leader sends and flushes the new commit index before it applies the entries', async (t) => {
  // Per member, in order: what its transport published on the group's AE subject (with the commit
  // index the AE carried) and when it was flushed.
  const events = new Map<string, ({ k: 'ae'; commit: number } | { k: 'flush' })[]>();
  const checks = { applied: 0, unannounced: [] as number[] };
  let c: LocalCluster | undefined;
  c = cluster(t, 3, {
    memberOptions: (name) => {
      const inner = c!.hub.transport(name);
      const log: ({ k: 'ae'; commit: number } | { k: 'flush' })[] = [];
      events.set(name, log);
      return {
        announceCommitFirst: true,
        transport: {
          publish: (subject, reply, payload) => {
            if (subject === `$NRG.AE.${c!.group}`) {
              const ae = decodeAppendEntry(Buffer.from(payload));
              if (!(ae instanceof RaftError)) log.push({ k: 'ae', commit: ae.commit });
            }
            inner.publish(subject, reply, payload);
          },
          subscribe: (subject, handler) => inner.subscribe(subject, handler),
          flush: () => log.push({ k: 'flush' }),
        },
        apply: (index, entries) => {
          const m = c!.members.find((x) => x.name === name)!;
          if (m.node?.state === 'leader' && entries.some((e) => e.type === EntryType.Normal)) {
            checks.applied++;
            // The last AE this leader published carries `index` as committed, and was flushed.
            const lastAe = log.map((e, i) => [e, i] as const).filter(([e]) => e.k === 'ae').pop();
            const flushedAfter = lastAe !== undefined && log.slice(lastAe[1] + 1).some((e) => e.k === 'flush');
            if (lastAe === undefined || (lastAe[0] as { commit: number }).commit < index || !flushedAfter) checks.unannounced.push(index);
          }
          m.applyEntries(index, entries);
        },
      };
    },
  });
  c.startAll();
  const l = await c.waitForLeader();
  // One proposal per turn, each waited for: every commit is a separate announcement.
  for (let i = 0; i < 5; i++) await l.n.proposeAndWait(Buffer.from(`p${i}`));
  await c.waitForStateSize(5);
  for (const m of c.members) assert.deepEqual(text(m), ['p0', 'p1', 'p2', 'p3', 'p4']);
  assert.equal(checks.applied, 5);
  assert.deepEqual(checks.unannounced, [], 'entries applied by the leader before the followers were sent their commit');
});
