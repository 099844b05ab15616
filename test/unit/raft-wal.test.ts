// WAL replay and corruption (§D TruncateOnStartup, misaligned snapshot,
// InvalidTAV; §F snapshot files): the on-disk log and meta files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import * as nodeFs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from '../../src/raft/log/wal.js';
import {
  readPeerStateFile,
  readTermVote,
  SnapshotStore,
  writePeerStateFile,
  writeTermVote,
} from '../../src/raft/log/meta-files.js';
import { crc32, crc32Portable } from '../../src/raft/log/crc32.js';
import { SimFs } from '../../src/raft/sim/sim-fs.js';
import { Prng } from '../../src/raft/sim/prng.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tsnats-wal-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function fill(w: Wal, from: number, to: number, term = 1): void {
  for (let i = from; i <= to; i++) w.append(i, term, Buffer.from(`entry-${i}`));
}

function segments(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.endsWith('.wal')).sort();
}

test('append, read and reopen: records, terms and indexes survive', (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir);
  fill(w, 1, 5, 1);
  fill(w, 6, 8, 2);
  assert.equal(w.read(3)!.toString(), 'entry-3', 'readable before flush');
  w.syncNow();
  w.close();
  const r = Wal.open(dir);
  assert.equal(r.firstIndex(), 1);
  assert.equal(r.lastIndex(), 8);
  assert.equal(r.termAt(5), 1);
  assert.equal(r.termAt(6), 2);
  assert.equal(r.termAt(9), -1);
  assert.equal(r.read(8)!.toString(), 'entry-8');
  assert.equal(r.recovery.droppedRecords, 0);
  assert.throws(() => r.append(10, 2, Buffer.from('gap')), /expected 9/);
  r.close();
});

test('TruncateOnStartup: a torn tail record is cut, earlier records are kept', (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir);
  fill(w, 1, 10);
  w.syncNow();
  w.close();
  const [seg] = segments(dir);
  const p = join(dir, seg);
  truncateSync(p, statSync(p).size - 3);
  const r = Wal.open(dir);
  assert.equal(r.lastIndex(), 9);
  assert.equal(r.recovery.droppedRecords, 1);
  assert.match(r.recovery.reason!, /torn record at index 10/);
  // The file was cut at the bad record: appending continues cleanly.
  r.append(10, 2, Buffer.from('again'));
  r.syncNow();
  r.close();
  const r2 = Wal.open(dir);
  assert.equal(r2.read(10)!.toString(), 'again');
  assert.equal(r2.recovery.droppedRecords, 0);
  r2.close();
});

test('a corrupt record is never trusted: it and everything after it are dropped', (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir, { segmentMaxBytes: 200 });
  fill(w, 1, 30);
  w.syncNow();
  w.close();
  const segs = segments(dir);
  assert.ok(segs.length >= 4, `expected several segments, got ${segs.length}`);
  // Flip one payload byte in the second segment's second record.
  const p = join(dir, segs[1]);
  const b = readFileSync(p);
  const firstLen = b.readUInt32LE(0);
  const off = 24 + firstLen + 24 + 2;
  b[off] ^= 0x55;
  writeFileSync(p, b);
  const firstOfSeg2 = Number(segs[1].slice(0, 20));
  const r = Wal.open(dir);
  assert.equal(r.lastIndex(), firstOfSeg2);
  assert.match(r.recovery.reason!, /checksum mismatch/);
  assert.equal(r.recovery.droppedRecords, 30 - firstOfSeg2);
  assert.equal(segments(dir).length, 2, 'later segments removed');
  r.close();
});

test('a missing middle segment cuts the log at the gap', (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir, { segmentMaxBytes: 150 });
  fill(w, 1, 20);
  w.syncNow();
  w.close();
  const segs = segments(dir);
  unlinkSync(join(dir, segs[2]));
  const r = Wal.open(dir);
  assert.equal(r.lastIndex(), Number(segs[2].slice(0, 20)) - 1);
  assert.match(r.recovery.reason!, /gap/);
  r.close();
});

test('truncateAfter across segments, compactThrough and reopen with a snapshot floor', (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir, { segmentMaxBytes: 120 });
  fill(w, 1, 40);
  w.truncateAfter(25);
  assert.equal(w.lastIndex(), 25);
  fill(w, 26, 30, 3);
  w.compactThrough(12, 1);
  assert.equal(w.firstIndex(), 13);
  assert.equal(w.read(12), undefined);
  assert.equal(w.read(13)!.toString(), 'entry-13');
  w.syncNow();
  w.close();
  const r = Wal.open(dir, { floor: 12 });
  assert.equal(r.firstIndex(), 13);
  assert.equal(r.lastIndex(), 30);
  assert.equal(r.termAt(26), 3);
  assert.equal(r.read(30)!.toString(), 'entry-30');
  r.close();
});

test('TruncateLogWithMisalignedSnapshotGap: a log that does not continue the snapshot is dropped', (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir);
  fill(w, 1, 10);
  w.syncNow();
  w.close();
  const r = Wal.open(dir, { floor: 50 });
  assert.equal(r.lastIndex(), 50);
  assert.equal(r.firstIndex(), 51);
  assert.equal(segments(dir).length, 0);
  r.close();
  rmSync(dir, { recursive: true });
  const w2 = Wal.open(dir);
  fill(w2, 1, 10);
  w2.compactThrough(10, 1);
  w2.resetTo(10, 1);
  fill(w2, 11, 12);
  w2.syncNow();
  w2.close();
  // A snapshot floor below the log start leaves a gap: the log cannot be used.
  const r2 = Wal.open(dir, { floor: 5 });
  assert.equal(r2.lastIndex(), 5);
  assert.match(r2.recovery.reason!, /log starts at 11/);
  r2.close();
});

test('group commit: sync reports the durable index; a truncation during a sync lowers it', async (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir);
  const durable: number[] = [];
  let wake: () => void = () => {};
  w.onDurable = (i, err) => {
    assert.equal(err, undefined);
    durable.push(i);
    wake();
  };
  fill(w, 1, 5);
  w.sync();
  w.truncateAfter(3);
  fill(w, 4, 6, 2);
  w.sync(); // folded into the next group commit
  await new Promise<void>((r) => {
    wake = () => {
      if (durable.length >= 2) r();
    };
  });
  assert.deepEqual(durable, [3, 6]);
  w.close();
});

test('a write the disk refuses during a folded group commit is reported through onDurable, never thrown from a callback', async (t) => {
  // The second sync of a group commit starts from the first one's fsync callback; a writev that
  // fails there (a full disk) used to throw out of that callback and end the whole process.
  const dir = tempDir(t);
  let full = false;
  const fs = {
    ...nodeFs,
    writevSync: (...a: Parameters<typeof nodeFs.writevSync>) => {
      if (full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      return nodeFs.writevSync(...a);
    },
  };
  const w = Wal.open(dir, { fs });
  const seen: Array<[number, string | undefined]> = [];
  const failed = new Promise<void>((resolve) => {
    w.onDurable = (i, err) => {
      seen.push([i, (err as NodeJS.ErrnoException | undefined)?.code]);
      if (err) resolve();
    };
  });
  fill(w, 1, 3);
  w.sync();
  fill(w, 4, 6);
  full = true;
  w.sync(); // folded: runs from the first sync's callback, where the write fails
  await failed;
  assert.deepEqual(seen[0], [3, undefined]);
  assert.equal(seen[seen.length - 1]![1], 'ENOSPC');
  w.close();
  const r = Wal.open(dir);
  assert.equal(r.lastIndex(), 3, 'what was durable is still there');
  r.close();
});

test('meta files: tav.idx and peers.idx round trip; a truncated tav.idx is tolerated (InvalidTAVDoesntPanic)', (t) => {
  const dir = tempDir(t);
  assert.deepEqual(readTermVote(dir), { term: 0, vote: '' });
  writeTermVote(dir, 42, 'abcdefgh');
  assert.deepEqual(readTermVote(dir), { term: 42, vote: 'abcdefgh' });
  const raw = readFileSync(join(dir, 'tav.idx'));
  assert.equal(raw.length, 16);
  assert.equal(raw.readBigUInt64LE(0), 42n);
  writeTermVote(dir, 43, '');
  assert.deepEqual(readTermVote(dir), { term: 43, vote: '' });
  writeFileSync(join(dir, 'tav.idx'), raw.subarray(0, 3));
  assert.deepEqual(readTermVote(dir), { term: 0, vote: '' });
  writeFileSync(join(dir, 'tav.idx'), raw.subarray(0, 12));
  assert.deepEqual(readTermVote(dir), { term: 42, vote: '' });
  assert.equal(readPeerStateFile(dir), undefined);
  const ps = { knownPeers: ['aaaaaaaa', 'bbbbbbbb', 'cccccccc'], clusterSize: 3, domainExt: 0 };
  writePeerStateFile(dir, ps);
  assert.deepEqual(readPeerStateFile(dir), ps);
  assert.equal(readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, 0, 'no temp files left');
});

test('snapshot files: newest wins, older removed, .tmp and legacy index-0 files ignored, corrupt ones moved aside', (t) => {
  const dir = tempDir(t);
  const s = new SnapshotStore(dir);
  assert.equal(s.loadLatest(), undefined);
  const ps = new Uint8Array([3, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  s.write({ lastTerm: 1, lastIndex: 10, peerState: ps, data: Buffer.from('ten') });
  s.write({ lastTerm: 2, lastIndex: 20, peerState: ps, data: Buffer.from('twenty') });
  assert.deepEqual(readdirSync(s.dir), ['snap.2.20']);
  writeFileSync(join(s.dir, 'snap.9.99.tmp'), 'partial');
  writeFileSync(join(s.dir, 'snap.3.0'), 'legacy');
  const got = new SnapshotStore(dir).loadLatest()!;
  assert.equal(got.lastIndex, 20);
  assert.equal(Buffer.from(got.data).toString(), 'twenty');
  assert.deepEqual(readdirSync(s.dir), ['snap.2.20']);
  // Corrupt the only snapshot: it is rejected (checksum) and kept as *.bad, byte for byte.
  const p = join(s.dir, 'snap.2.20');
  const b = readFileSync(p);
  b[22] ^= 1;
  writeFileSync(p, b);
  const s2 = new SnapshotStore(dir);
  assert.equal(s2.loadLatest(), undefined);
  assert.deepEqual(readdirSync(s.dir), ['snap.2.20.bad']);
  assert.deepEqual(readFileSync(join(s.dir, 'snap.2.20.bad')), b);
  assert.deepEqual(s2.movedAside, [join(s.dir, 'snap.2.20.bad')]);
  // Later snapshots and loads leave the moved-aside file alone.
  s2.write({ lastTerm: 3, lastIndex: 30, peerState: ps, data: Buffer.from('thirty') });
  assert.equal(new SnapshotStore(dir).loadLatest()!.lastIndex, 30);
  assert.deepEqual(readdirSync(s.dir).sort(), ['snap.2.20.bad', 'snap.3.30']);
});

test('crc32: native and portable implementations agree', () => {
  const data = Buffer.from('The quick brown fox jumps over the lazy dog');
  assert.equal(crc32(data), 0x414fa339);
  assert.equal(crc32Portable(data), 0x414fa339);
  assert.equal(crc32(data.subarray(10), crc32(data.subarray(0, 10))), 0x414fa339);
});

// ---------------------------------------------------------------- durable witness (wal/durable.idx)

/** A WAL of 1..n, synced, closed; returns the segment names. */
function durableLog(dir: string, n: number, segmentMaxBytes?: number): string[] {
  const w = Wal.open(dir, { segmentMaxBytes });
  fill(w, 1, n);
  w.syncNow();
  w.close();
  return segments(dir);
}

/** Byte offset where the record of `index` starts in a segment whose first index is `first`. */
function recordOffset(path: string, first: number, index: number): number {
  const b = readFileSync(path);
  let off = 0;
  for (let i = first; i < index; i++) off += 24 + b.readUInt32LE(off);
  return off;
}

test('witness: a WAL cut cleanly at a record boundary is lost durable data, not a shorter log', (t) => {
  const dir = tempDir(t);
  const [seg] = durableLog(dir, 10);
  truncateSync(join(dir, seg), recordOffset(join(dir, seg), 1, 8));
  const r = Wal.open(dir);
  assert.equal(r.lastIndex(), 7);
  assert.equal(r.recovery.lostDurable, true);
  assert.equal(r.recovery.witness, 10);
  assert.match(r.recovery.reason!, /log ends at 7, below its durable witness 10/);
  r.close();
  // Still lost on the next open (nothing on record yet); once settled, the log is witnessed as it is.
  const again = Wal.open(dir);
  assert.equal(again.recovery.lostDurable, true);
  again.settleWitness();
  fill(again, 8, 9, 2);
  again.syncNow();
  again.close();
  const healed = Wal.open(dir);
  assert.equal(healed.recovery.lostDurable, undefined);
  assert.equal(healed.recovery.witness, 9);
  healed.close();
});

test('witness: a lost newest segment file is lost durable data', (t) => {
  const dir = tempDir(t);
  const segs = durableLog(dir, 20, 150);
  assert.ok(segs.length >= 3);
  unlinkSync(join(dir, segs[segs.length - 1]));
  const r = Wal.open(dir);
  assert.equal(r.lastIndex(), Number(segs[segs.length - 1].slice(0, 20)) - 1);
  assert.equal(r.recovery.lostDurable, true);
  assert.match(r.recovery.reason!, /below its durable witness 20/);
  r.close();
});

test('witness: what was never synced is not witnessed; an unsynced tail cut cleanly is no alarm', (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir);
  fill(w, 1, 5);
  w.syncNow();
  fill(w, 6, 9);
  w.flush(); // in the file, never fsync'ed: never acknowledged
  w.close();
  const [seg] = segments(dir);
  truncateSync(join(dir, seg), recordOffset(join(dir, seg), 1, 7));
  const r = Wal.open(dir);
  assert.equal(r.lastIndex(), 6);
  assert.equal(r.recovery.lostDurable, undefined);
  assert.equal(r.recovery.witness, 5);
  r.close();
});

test('witness: a leader truncating a suffix lowers it durably first, so a crash right after is no false alarm', async (t) => {
  // On the simulated disk a crash keeps only what was fsync'ed (power loss).
  const sim = new SimFs((_ms, fn) => setImmediate(fn), () => 0);
  const fs = sim.raftFs;
  const dir = '/g/wal';
  const w = Wal.open(dir, { fs });
  fill(w, 1, 10);
  const synced = new Promise<number>((resolve) => (w.onDurable = (i) => resolve(i)));
  w.sync();
  assert.equal(await synced, 10);
  w.truncateAfter(6); // a new leader overwrites a conflicting suffix
  sim.crash(new Prng(1)); // before any later sync
  const r = Wal.open(dir, { fs });
  // The cut itself was not synced yet: the old suffix may come back (as uncommitted entries), or not.
  assert.ok(r.lastIndex() === 6 || r.lastIndex() === 10, `log ends at ${r.lastIndex()}`);
  assert.equal(r.recovery.lostDurable, undefined, r.recovery.reason);
  assert.equal(r.recovery.witness, 6);
  r.close();
  // And a reset to a leader's snapshot below the witness.
  const w2 = Wal.open('/h/wal', { fs });
  fill(w2, 1, 10);
  w2.syncNow();
  w2.resetTo(4, 1);
  sim.crash(new Prng(2));
  const r2 = Wal.open('/h/wal', { fs, floor: 4 });
  assert.equal(r2.recovery.lostDurable, undefined, r2.recovery.reason);
  r2.close();
});

test('witness: compaction behind a snapshot is covered by the snapshot; a lost snapshot over a compacted log is lost state', (t) => {
  const dir = tempDir(t);
  const w = Wal.open(dir, { segmentMaxBytes: 120 });
  fill(w, 1, 30);
  w.syncNow();
  w.compactThrough(30, 1); // every segment dropped
  w.close();
  assert.equal(segments(dir).length, 0);
  const r = Wal.open(dir, { floor: 30 });
  assert.equal(r.lastIndex(), 30);
  assert.equal(r.recovery.lostDurable, undefined);
  r.close();
  const lost = Wal.open(dir, { floor: 0 }); // the snapshot file is gone
  assert.equal(lost.recovery.lostDurable, true);
  assert.match(lost.recovery.reason!, /log ends at 0, below its durable witness 30/);
  lost.close();
});

test('witness: a damaged witness file is lost state until settled; an empty, short or zero one (first write torn by a crash) claims nothing', (t) => {
  const dir = tempDir(t);
  durableLog(dir, 5);
  writeFileSync(join(dir, 'durable.idx'), Buffer.from('garbage bytes here'));
  const r = Wal.open(dir);
  assert.equal(r.lastIndex(), 5);
  assert.equal(r.recovery.lostDurable, true);
  assert.match(r.recovery.reason!, /durable\.idx is damaged/);
  r.settleWitness();
  r.close();
  assert.equal(statSync(join(dir, 'durable.idx')).size, 12);
  const ok = Wal.open(dir);
  assert.equal(ok.recovery.lostDurable, undefined);
  assert.equal(ok.recovery.witness, 5);
  ok.close();
  for (const torn of [Buffer.alloc(0), Buffer.from([5, 0, 0]), Buffer.alloc(12)]) {
    writeFileSync(join(dir, 'durable.idx'), torn);
    const empty = Wal.open(dir);
    assert.equal(empty.recovery.lostDurable, undefined, `${torn.length} bytes`);
    assert.equal(empty.recovery.witness, 0);
    empty.close();
  }
});

// ---------------------------------------------------------------- witness copy (outside the WAL's directory)

function copyIndex(path: string): number {
  return Number(readFileSync(path).readBigUInt64LE(0));
}

test('witness copy: a WAL directory removed whole is lost state through the copy outside it, until settled', (t) => {
  const root = tempDir(t);
  const dir = join(root, 'g', 'wal');
  const copy = join(root, 'copy.idx');
  const witnessCopy = { path: copy, tag: 'S-R3F-ONE' };
  const w = Wal.open(dir, { witnessCopy });
  fill(w, 1, 10);
  w.syncNow();
  w.close();
  assert.equal(copyIndex(copy), 10);
  const ok = Wal.open(dir, { witnessCopy });
  assert.equal(ok.recovery.lostDurable, undefined);
  assert.equal(ok.recovery.witnessCopy, 10);
  ok.close();
  rmSync(join(root, 'g'), { recursive: true });
  const lost = Wal.open(dir, { witnessCopy });
  assert.equal(lost.lastIndex(), 0);
  assert.equal(lost.recovery.lostDurable, true);
  assert.match(lost.recovery.reason!, /log ends at 0, below its witness copy 10/);
  lost.close();
  // Nothing on record yet: lost again; settled (the loss on record elsewhere), the copy follows the log down, durably.
  const again = Wal.open(dir, { witnessCopy });
  assert.equal(again.recovery.lostDurable, true);
  again.settleWitness();
  assert.equal(copyIndex(copy), 0);
  again.close();
  const healed = Wal.open(dir, { witnessCopy });
  assert.equal(healed.recovery.lostDurable, undefined);
  healed.close();
});

test('witness copy: raised only when the durable index doubles, lowered durably with the witness, dropped with the group; another group\'s or a torn one claims nothing, a damaged one is lost state', async (t) => {
  const root = tempDir(t);
  const dir = join(root, 'wal');
  const copy = join(root, 'copy.idx');
  const witnessCopy = { path: copy, tag: 'G' };
  const w = Wal.open(dir, { witnessCopy });
  fill(w, 1, 10);
  w.syncNow();
  assert.equal(copyIndex(copy), 10);
  fill(w, 11, 19);
  w.syncNow();
  assert.equal(copyIndex(copy), 10, 'below twice its value: not rewritten');
  fill(w, 20, 25);
  w.syncNow();
  assert.equal(copyIndex(copy), 25);
  w.truncateAfter(7); // a new leader overwrites a conflicting suffix
  assert.equal(copyIndex(copy), 7);
  w.close();
  const ok = Wal.open(dir, { witnessCopy });
  assert.equal(ok.recovery.lostDurable, undefined, ok.recovery.reason);
  ok.close();
  // Another group's copy (a reused directory) and a first write cut short claim nothing.
  const good = readFileSync(copy);
  for (const other of [Buffer.concat([good.subarray(0, 12), Buffer.from('H')]), good.subarray(0, 12), good.subarray(0, 5), Buffer.alloc(13)]) {
    writeFileSync(copy, other);
    rmSync(dir, { recursive: true });
    const fresh = Wal.open(dir, { witnessCopy });
    assert.equal(fresh.recovery.lostDurable, undefined, `${other.length} bytes`);
    assert.equal(fresh.recovery.witnessCopy, 0);
    fill(fresh, 1, 3);
    fresh.syncNow();
    fresh.close();
    assert.deepEqual(readFileSync(copy).subarray(12), Buffer.from('G'), 'replaced by ours');
    assert.equal(copyIndex(copy), 3);
  }
  const damaged = Buffer.from(readFileSync(copy));
  damaged[0] ^= 1;
  writeFileSync(copy, damaged);
  const bad = Wal.open(dir, { witnessCopy });
  assert.equal(bad.recovery.lostDurable, true);
  assert.match(bad.recovery.reason!, /witness copy .* is damaged/);
  bad.settleWitness();
  bad.dropWitnessCopy();
  bad.close();
  assert.equal(statSync(copy, { throwIfNoEntry: false }), undefined, 'dropped with the group');
});

test('witness copy: a new copy file is created off the event loop; a copy that cannot be written (its directory gone) is no error', async (t) => {
  const root = tempDir(t);
  const copy = join(root, 'copy.idx');
  const w = Wal.open(join(root, 'wal'), { witnessCopy: { path: copy, tag: 'G' } });
  // Created empty (it claims nothing until the first sync raises it) by the thread pool.
  await new Promise<void>((resolve) => {
    const check = (): void => (statSync(copy, { throwIfNoEntry: false }) ? resolve() : void setImmediate(check));
    check();
  });
  assert.equal(statSync(copy).size, 0);
  fill(w, 1, 4);
  w.syncNow();
  assert.equal(copyIndex(copy), 4);
  w.close();
  const orphan = Wal.open(join(root, 'wal2'), { witnessCopy: { path: join(root, 'gone', 'copy.idx'), tag: 'G' } });
  fill(orphan, 1, 4);
  const synced = new Promise<[number, Error | undefined]>((resolve) => (orphan.onDurable = (i, e) => resolve([i, e])));
  orphan.sync();
  assert.deepEqual(await synced, [4, undefined]);
  orphan.close();
});
