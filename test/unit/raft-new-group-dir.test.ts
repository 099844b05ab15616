// The file work of a new group's directory done ahead of its RaftNode (makeNewGroupDirs +
// writeBootstrapPeerState, as the meta group does while its server joins the cluster): the same
// files with the same bytes as a RaftNode builds in an empty directory, made durably, and the
// RaftNode built afterwards neither rewrites peers.idx nor takes the group for one with state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InProcessHub, RaftError, RaftNode, makeNewGroupDirs, peerIdForServerName, writeBootstrapPeerState } from '../../src/raft/index.js';
import { decodePeerState } from '../../src/raft/codec.js';
import { PEER_STATE_FILE, SNAPSHOTS_DIR } from '../../src/raft/log/meta-files.js';

const A = peerIdForServerName('a');
const B = peerIdForServerName('b');

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'raft-newdir-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function build(dir: string): RaftNode {
  return new RaftNode({
    group: '_meta_', serverName: 'a', peers: [A, B], clusterSize: 2, storeDir: dir,
    transport: new InProcessHub().transport('a'), apply: () => {},
  });
}

test('a new group directory made ahead holds what the RaftNode itself would write, and the node does not write peers.idx again', async (t) => {
  const root = tempDir(t);
  // The reference: a RaftNode built in a directory that does not exist.
  const plain = join(root, 'plain', '_meta_');
  const n1 = build(plain);
  n1.stop();
  // Ahead of the node, off the event loop.
  const ahead = join(root, 'ahead', '_meta_');
  await makeNewGroupDirs(ahead);
  assert.ok(existsSync(join(ahead, SNAPSHOTS_DIR)) && existsSync(join(ahead, 'wal')), 'snapshots/ and wal/ made');
  assert.ok(!existsSync(join(ahead, PEER_STATE_FILE)), 'no peer state before the peers are known');
  await writeBootstrapPeerState(ahead, { peers: [A, B], clusterSize: 2 });
  const written = readFileSync(join(ahead, PEER_STATE_FILE));
  assert.deepEqual(written, readFileSync(join(plain, PEER_STATE_FILE)), 'same peers.idx bytes as the RaftNode writes');
  const ps = decodePeerState(written);
  assert.ok(!(ps instanceof RaftError));
  assert.deepEqual(ps.knownPeers, [A, B]);
  assert.equal(ps.clusterSize, 2);
  assert.deepEqual(readdirSync(ahead).sort(), [PEER_STATE_FILE, SNAPSHOTS_DIR, 'wal'], 'no temp file left');

  const before = statSync(join(ahead, PEER_STATE_FILE));
  const n2 = build(ahead);
  t.after(() => n2.stop());
  const after = statSync(join(ahead, PEER_STATE_FILE));
  assert.equal(after.ino, before.ino, 'the RaftNode kept the peers.idx made ahead (no rewrite: no temp file renamed over it)');
  assert.equal(after.mtimeMs, before.mtimeMs);
  assert.deepEqual(n2.peers().sort(), [A, B].sort());
  assert.equal(n2.clusterSize, 2);
  assert.deepEqual(readdirSync(join(ahead, 'wal')).sort(), readdirSync(join(plain, 'wal')).sort(), 'the WAL directory as the plain node left it');
});
