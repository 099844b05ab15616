// RaftNode over real files, attacked on purpose: snapshots taken from inside
// apply(), corrupt snapshots, WAL records lost in recovery, slow term/vote
// writes. Each test restarts nodes on the same directory and checks what the
// state machine sees (issue 12, Raft items).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RaftNode, type RaftNodeOptions } from '../../src/raft/node.js';
import { FAST_TIMING, LocalCluster, type LocalMember } from '../../src/raft/local-cluster.js';
import { Wal } from '../../src/raft/log/wal.js';
import { readTermVote } from '../../src/raft/log/meta-files.js';
import { decodeVoteResponse } from '../../src/raft/codec.js';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { peerIdForServerName } from '../../src/raft/subjects.js';
import { InProcessHub } from '../../src/raft/transport.js';
import { type Entry, EntryType } from '../../src/raft/types.js';
import { waitUntil } from '../helpers/wait.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'raft-dur-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** State machine of one node incarnation: every applied payload, in order, and how often each index was applied. */
class Sm {
  values: string[] = [];
  appliedCount = new Map<number, number>();
  snapshotsSeen = 0;
  warnings: string[] = [];
  apply(index: number, entries: Entry[]): void {
    this.appliedCount.set(index, (this.appliedCount.get(index) ?? 0) + 1);
    for (const e of entries) {
      if (e.type === EntryType.Snapshot) {
        this.snapshotsSeen++;
        this.values = e.data.length === 0 ? [] : Buffer.from(e.data).toString().split(',');
      } else if (e.type === EntryType.Normal) this.values.push(Buffer.from(e.data).toString());
    }
  }
  encode(): Uint8Array {
    return Buffer.from(this.values.join(','));
  }
}

const SOLO = peerIdForServerName('solo');

function soloNode(dir: string, sm: Sm, extra: Partial<RaftNodeOptions> = {}): RaftNode {
  const hub = new InProcessHub();
  return new RaftNode({
    group: 'S-R1F-DURABLE',
    serverName: 'solo',
    peers: [SOLO],
    storeDir: dir,
    transport: hub.transport('solo'),
    timing: FAST_TIMING,
    apply: (i, es) => sm.apply(i, es),
    log: (level, msg) => {
      if (level === 'warn') sm.warnings.push(msg);
    },
    ...extra,
  });
}

test('installSnapshot() from inside apply() covers the entry being applied: after a restart nothing is applied twice', async (t) => {
  const dir = tempDir(t);
  const sm = new Sm();
  let node: RaftNode | undefined;
  let snapAt = 0;
  // The upper layer snapshots every 5th value right inside its apply callback.
  const n1 = soloNode(dir, sm, {
    apply: (i, es) => {
      sm.apply(i, es);
      if (es.some((e) => e.type === EntryType.Normal) && sm.values.length % 5 === 0) snapAt = node!.installSnapshot(sm.encode()).index;
    },
  });
  node = n1.start();
  await waitUntil(() => n1.isLeader, 10_000, 'solo leader');
  for (let k = 1; k <= 12; k++) await n1.proposeAndWait(Buffer.from(`v${k}`));
  assert.equal(sm.values.length, 12);
  // The snapshot was taken at the index whose apply asked for it.
  const lastSnapIndex = [...sm.appliedCount.keys()].find((i) => i === snapAt);
  assert.equal(lastSnapIndex, snapAt);
  n1.stop();

  const sm2 = new Sm();
  const n2 = soloNode(dir, sm2).start();
  t.after(() => n2.stop());
  // The last entries' commit is learnt again once the restarted node leads.
  await waitUntil(() => n2.isLeader, 10_000, 'solo leader after restart');
  // Replay = the snapshot (v1..v10) plus exactly the entries after it, once each.
  assert.deepEqual(sm2.values, sm.values, 'state after restart equals the state before');
  assert.equal(sm2.snapshotsSeen, 1);
  for (const [i, c] of sm2.appliedCount) assert.equal(c, 1, `index ${i} applied ${c} times`);
  assert.ok(![...sm2.appliedCount.keys()].some((i) => i !== snapAt && i <= snapAt), 'no entry at or below the snapshot is re-applied');
});

/** A 3-node cluster with `entries` committed ("a0", "a1", …), its leader and one follower. */
async function clusterWithEntries(t: { after(fn: () => void): void }, entries: number, opts: { segmentMaxBytes?: number } = {}) {
  const c = new LocalCluster({ size: 3, ...opts });
  t.after(() => c.destroy());
  c.startAll();
  const l = await c.waitForLeader();
  for (let k = 0; k < entries; k++) l.n.propose(Buffer.from(`a${k}`));
  await c.waitForStateSize(entries);
  return { c, l, m: c.members.find((x) => x !== l)! };
}

test('a damaged tav.idx is lost state (its vote in the current term may be forgotten) until the leader caught the node up', async (t) => {
  const { c, l, m } = await clusterWithEntries(t, 10);
  const tav = join(m.dir, 'tav.idx');

  // a clean restart: the file is whole, nothing is lost
  c.stop(m);
  c.start(m);
  assert.equal(m.n.status().stateLost, false);

  for (const damage of [(b: Buffer) => b.subarray(0, 5), (b: Buffer) => Buffer.concat([b, Buffer.from([1, 2, 3])]), (b: Buffer) => {
    const x = Buffer.from(b);
    x[7] = 0xff; // a term far beyond 2^53: no valid term
    return x;
  }]) {
    await c.waitFor(() => !m.n.status().stateLost, 10_000, 'caught up before the next damage');
    c.stop(m);
    fs.writeFileSync(tav, damage(fs.readFileSync(tav)));
    c.start(m);
    assert.equal(m.n.status().stateLost, true, 'a damaged tav.idx is reported as lost state');
    assert.ok(fs.existsSync(join(m.dir, 'state-lost')), 'and remembered across a restart');
    await c.waitFor(() => !m.n.status().stateLost, 10_000, 'leader to catch the member up');
    await c.waitFor(() => m.state.length === 10, 10_000, 'member state complete');
    assert.deepEqual(m.stateStrings(), l.stateStrings());
    assert.equal(fs.readFileSync(tav).length === 8 || fs.readFileSync(tav).length === 16, true, 'tav.idx rewritten whole');
  }
  assert.equal(m.leaderChanges.some((x) => x.isLeader), false);
});

test('a corrupt snapshot is moved aside with the WAL it covered, never deleted; the node reports lost state until the leader caught it up', async (t) => {
  const { c, l, m } = await clusterWithEntries(t, 20, { segmentMaxBytes: 256 });
  const snap = m.n.installSnapshot(m.snapshotData());
  for (let k = 0; k < 5; k++) l.n.propose(Buffer.from(`b${k}`));
  await c.waitForStateSize(25);
  assert.equal(m.n.status().stateLost, false);
  c.stop(m);

  // Flip one byte in the middle of the snapshot file.
  const snapDir = join(m.dir, 'snapshots');
  const [snapName] = fs.readdirSync(snapDir);
  assert.equal(snapName, `snap.${snap.term}.${snap.index}`);
  const bytes = fs.readFileSync(join(snapDir, snapName));
  bytes[bytes.length >> 1] ^= 0xff;
  fs.writeFileSync(join(snapDir, snapName), bytes);
  const walBefore = fs.readdirSync(join(m.dir, 'wal')).filter((n) => n.endsWith('.wal'));
  assert.ok(walBefore.length > 0);

  c.start(m);
  // Nothing deleted: the snapshot and every segment that followed it are kept as *.bad.
  assert.deepEqual(fs.readdirSync(snapDir), [`${snapName}.bad`]);
  const walAfter = fs.readdirSync(join(m.dir, 'wal'));
  for (const w of walBefore) assert.ok(walAfter.includes(`${w}.bad`), `${w} kept aside (have ${walAfter.join(' ')})`);
  assert.deepEqual(fs.readFileSync(join(snapDir, `${snapName}.bad`)), bytes);
  const st = m.n.status();
  assert.equal(st.stateLost, true, 'lost state is reported in status');
  assert.equal(st.pindex, 0);
  // A restart before the leader caught it up does not forget that state was lost.
  assert.ok(fs.existsSync(join(m.dir, 'state-lost')));
  c.stop(m);
  c.start(m);
  assert.equal(m.n.status().stateLost, true, 'still lost after a restart');

  // The leader catches it up; only then is its state complete again.
  await c.waitFor(() => !m.n.status().stateLost, 10_000, 'leader to catch the member up');
  await c.waitFor(() => m.state.length === 25, 10_000, 'member state rebuilt');
  assert.deepEqual(m.stateStrings(), l.stateStrings());
  assert.equal(m.leaderChanges.some((x) => x.isLeader), false);
  assert.equal(fs.existsSync(join(m.dir, 'state-lost')), false, 'marker removed once caught up');
});

test('WAL recovery: a torn end of the last segment is an unfinished write; a bad record with data after it is lost durable data, kept aside', () => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-wal-'));
  try {
    const w = Wal.open(dir, { segmentMaxBytes: 1 << 20 });
    for (let i = 1; i <= 9; i++) w.append(i, 1, Buffer.from(`record-${i}`));
    w.syncNow();
    // Record 10 is written but never synced (so never acknowledged): the one a crash may tear.
    w.append(10, 1, Buffer.from('record-10'));
    w.close();
    const [seg] = fs.readdirSync(dir).filter((n) => n.endsWith('.wal'));
    const path = join(dir, seg);
    const full = fs.readFileSync(path);

    // Torn tail: the last record is cut short (a write the crash interrupted).
    fs.writeFileSync(path, full.subarray(0, full.length - 3));
    const torn = Wal.open(dir);
    assert.equal(torn.lastIndex(), 9);
    assert.equal(torn.recovery.droppedRecords, 1);
    assert.equal(torn.recovery.lostDurable, undefined);
    torn.close();

    // Bit flip in record 4 of 10: records 4..10 are cut, and that was durable data.
    fs.writeFileSync(path, full);
    const rec4 = full.indexOf(Buffer.from('record-4'));
    const flipped = Buffer.from(full);
    flipped[rec4] ^= 0x01;
    fs.writeFileSync(path, flipped);
    const bad = Wal.open(dir);
    assert.equal(bad.lastIndex(), 3);
    assert.equal(bad.recovery.lostDurable, true);
    assert.equal(bad.recovery.droppedRecords, 7);
    const aside = bad.recovery.movedAside ?? [];
    assert.equal(aside.length, 1);
    // The cut bytes are kept byte for byte.
    assert.ok(fs.readFileSync(aside[0]).equals(flipped.subarray(flipped.length - fs.readFileSync(aside[0]).length)));
    assert.ok(fs.readFileSync(aside[0]).includes(Buffer.from('record-10')));
    bad.close();

    // A bit flip in the length field of record 4 makes it "run past the end of
    // the file" like an unfinished write; intact records after it show it is not.
    fs.rmSync(aside[0]);
    fs.writeFileSync(path, full);
    const lenFlipped = Buffer.from(full);
    lenFlipped[rec4 - 24 + 3] ^= 0x40;
    fs.writeFileSync(path, lenFlipped);
    const rot = Wal.open(dir);
    assert.equal(rot.lastIndex(), 3);
    assert.equal(rot.recovery.lostDurable, true, 'length-field bit rot is lost durable data, not a torn write');
    rot.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('term/vote writes run off the event loop, and no vote leaves a node before its term and vote are on disk', async (t) => {
  const c = new LocalCluster({ size: 3 });
  t.after(() => c.destroy());
  const dirOf = new Map(c.members.map((m) => [m.name, m.dir]));
  // Every vote request / response, at the moment it is published, must already be durable in tav.idx.
  const violations: string[] = [];
  let votesSeen = 0;
  c.hub.onPublish = (from, subject, _reply, payload) => {
    const dir = dirOf.get(from)!;
    if (subject.startsWith('$NRG.V.') && payload.length === 32) {
      const term = Number(Buffer.from(payload).readBigUInt64LE(0));
      const tav = readTermVote(dir);
      votesSeen++;
      // A probe asks at the current term without voting; a real request needs term and self-vote on disk.
      if (tav.term < term) violations.push(`${from} asked for votes in term ${term} with tav ${tav.term}/${tav.vote}`);
    } else if (subject.startsWith('$NRG.R.') && payload.length === 17) {
      const r = decodeVoteResponse(payload)!;
      const tav = readTermVote(dir);
      votesSeen++;
      if (r.granted && (tav.term < r.term || tav.vote === '')) violations.push(`${from} granted in term ${r.term} with tav ${tav.term}/${tav.vote}`);
    }
  };
  // Count synchronous fsyncs: term/vote (and peer state) writes must not make any.
  const cjsFs = createRequire(import.meta.url)('node:fs') as typeof fs;
  const origFsync = cjsFs.fsyncSync;
  const origFdatasync = cjsFs.fdatasyncSync;
  let syncCalls = 0;
  let counting = false;
  cjsFs.fsyncSync = (fd: number) => {
    if (counting) syncCalls++;
    origFsync(fd);
  };
  cjsFs.fdatasyncSync = (fd: number) => {
    if (counting) syncCalls++;
    origFdatasync(fd);
  };
  syncBuiltinESMExports();
  t.after(() => {
    cjsFs.fsyncSync = origFsync;
    cjsFs.fdatasyncSync = origFdatasync;
    syncBuiltinESMExports();
  });

  c.startAll();
  counting = true;
  let l = await c.waitForLeader();
  for (let round = 0; round < 3; round++) {
    l.n.propose(Buffer.from(`r${round}`));
    await c.waitForStateSize(round + 1);
    const prevTerm = l.n.term;
    l.n.stepDown();
    await c.waitFor(() => c.leader() !== undefined && c.leader()!.n.term > prevTerm, 10_000, 'a new leader');
    l = c.leader()!;
  }
  counting = false;
  assert.ok(votesSeen >= 6, `elections happened (${votesSeen} vote messages)`);
  assert.deepEqual(violations, []);
  assert.equal(syncCalls, 0, 'no synchronous fsync during elections');
  const writes = c.members.reduce((n, m) => n + m.n.termVoteWrites, 0);
  assert.ok(writes >= 6, `term/vote writes went through the async path (${writes})`);
});

/** Cuts a member's (stopped) WAL cleanly after `lastKept`: at a record boundary, as if the records after it never existed. */
function cutWalAfter(dir: string, lastKept: number): number {
  const walDir = join(dir, 'wal');
  let dropped = 0;
  for (const name of fs.readdirSync(walDir).filter((n) => n.endsWith('.wal')).sort()) {
    const p = join(walDir, name);
    const b = fs.readFileSync(p);
    for (let off = 0; off + 24 <= b.length; off += 24 + b.readUInt32LE(off)) {
      if (Number(b.readBigUInt64LE(off + 8)) <= lastKept) continue;
      let n = 0;
      for (let o = off; o + 24 <= b.length; o += 24 + b.readUInt32LE(o)) n++;
      dropped += n;
      fs.truncateSync(p, off);
      break;
    }
  }
  return dropped;
}

/**
 * The brief's example: L and A hold 11..20, B does not; A's files are damaged while it is down
 * (`damage`), then L dies. A must know it lost acknowledged entries, so that its vote cannot elect
 * B; once L is back, every member holds all 20.
 */
async function minorityLoss(t: { after(fn: () => void): void }, damage: (a: LocalMember, bLast: number) => void, opts: { copies?: boolean; snapshotFirst?: boolean } = {}): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-raft-loss-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // With `copies`, each member keeps its witness copy outside its group directory (as a stream
  // group does in its store's directory).
  const c = new LocalCluster({ size: 3, dir: root, memberOptions: opts.copies ? (name) => ({ witnessCopy: join(root, `${name}-witness.idx`) }) : undefined });
  t.after(() => c.destroy());
  c.startAll();
  const l = await c.waitForLeader();
  for (let k = 0; k < 10; k++) l.n.propose(Buffer.from(`a${k}`));
  await c.waitForStateSize(10);
  // Every member snapshots 1..10: a log removed later still ends there, not at 0 (an empty log's
  // vote counts only with every member's).
  if (opts.snapshotFirst) for (const m of c.members) m.n.installSnapshot(m.snapshotData());
  const [a, b] = c.members.filter((x) => x !== l);
  const bLast = b.n.status().pindex;
  c.stop(b);
  for (let k = 10; k < 20; k++) l.n.propose(Buffer.from(`a${k}`));
  await c.waitFor(() => l.state.length === 20 && a.state.length === 20, 10_000, 'L and A apply 11..20');
  const full = l.stateStrings();
  c.stop(a);
  damage(a, bLast);
  c.stop(l);
  c.start(a);
  c.start(b);
  // B (whose log ends where A's does now, or further) campaigns: A votes as an empty log, which counts only with every member.
  const t0 = b.n.term;
  await c.waitFor(() => b.n.term >= t0 + 2 || c.leader() !== undefined, 10_000, 'B to campaign twice (or win)');
  assert.equal(c.leader(), undefined, 'no leader without the intact member');
  assert.equal(b.leaderChanges.some((x) => x.isLeader), false);
  assert.equal(a.n.status().stateLost, true, 'A knows it lost acknowledged entries');
  c.start(l);
  await c.waitForLeader();
  await c.waitForStateSize(20);
  for (const m of c.members) assert.deepEqual(m.stateStrings().slice(0, 20), full, `${m.name} holds every acknowledged entry`);
  await c.waitFor(() => !a.n.status().stateLost, 10_000, 'A repaired by the leader');
}

test('a minority WAL cut cleanly cannot elect a leader without acknowledged entries (L and A hold 11..20, B not; A cut, L dies)', async (t) => {
  await minorityLoss(t, (a, bLast) => assert.ok(cutWalAfter(a.dir, bLast) >= 1, 'the cut drops the acknowledged entries (proposals of one turn share a record)'));
});

test('a minority whose wal/ directory was removed (its witness with it) is lost state, not a log ending at its snapshot: its vote cannot elect the member that lacks 11..20', async (t) => {
  await minorityLoss(t, (a) => fs.rmSync(join(a.dir, 'wal'), { recursive: true }), { snapshotFirst: true });
});

test('a minority whose whole group directory was removed is lost state through the witness copy kept outside it', async (t) => {
  // Without the copy it restarts as a new member (an empty log that votes as a full one) and elects B.
  await minorityLoss(t, (a) => fs.rmSync(a.dir, { recursive: true }), { copies: true });
});

test('legitimate fresh starts stay fresh: a new group, another group\'s copy, a group placed here again after delete() (its copy goes too)', async (t) => {
  const root = tempDir(t);
  const copy = join(root, 'copy.idx');
  const hub = new InProcessHub();
  const open = (group: string) => new RaftNode({ group, serverName: 'n1', peers: [peerIdForServerName('n1')], storeDir: join(root, group), transport: hub.transport('n1'), witnessCopy: copy, timing: FAST_TIMING, apply() {} }).start();
  const copyTag = () => (fs.existsSync(copy) ? fs.readFileSync(copy).subarray(12).toString() : '');
  const first = open('G-ONE');
  assert.equal(first.status().stateLost, false, 'a new group');
  await waitUntil(() => copyTag() === 'G-ONE', 20_000, 'the new group\'s copy');
  first.stop();
  // The copy names its group: one that another group left in the directory (a stream deleted and
  // created again under its name) claims nothing, and is replaced.
  fs.writeFileSync(copy, Buffer.concat([Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]), Buffer.from('G-OLD')]));
  fs.rmSync(join(root, 'G-ONE'), { recursive: true });
  const other = open('G-ONE');
  assert.equal(other.status().stateLost, false, 'another group\'s copy claims nothing');
  await waitUntil(() => copyTag() === 'G-ONE', 20_000, 'our copy replacing the other group\'s');
  other.delete();
  assert.equal(fs.existsSync(join(root, 'G-ONE')), false);
  assert.equal(fs.existsSync(copy), false, 'delete() removes the copy');
  const again = open('G-ONE');
  assert.equal(again.status().stateLost, false, 'placed here again after delete(): a new member');
  again.stop();
});
