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
import { FAST_TIMING } from '../../src/raft/local-cluster.js';
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
