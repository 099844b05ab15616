// A new server builds its meta group's files in steps: the directories (before its ports file),
// then peers.idx (temp file, fdatasync, rename, directory fsync), then the RaftNode with its WAL.
// A kill -9 can stop it after any step. Each state a crash can leave is made on a server of a running
// 3-server cluster (killed -9, its meta group directory replaced by that state): restarted, it joins
// the meta group, holds an R1 stream created on it (one answer), and after another kill -9 and
// restart it still holds the same assignment.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { JsCluster, apiRequestAnswered, skipReason, type JsNode } from './js-cluster-harness.js';
import { encodePeerState } from '../../src/raft/codec.js';
import { peerIdForServerName } from '../../src/raft/index.js';

interface CreateResp { did_create?: boolean; error?: { code: number; description: string } }
interface InfoResp { config?: { name: string }; cluster?: { leader?: string }; error?: { code: number; description: string } }

const metaDir = (n: JsNode): string => join(n.storeDir, 'jetstream', '$SYS', '_js_', '_meta_');

/** What a crash after each step leaves in the meta group directory of a server that met one peer (`peer`). */
const STATES: { step: string; make: (dir: string, self: string, peer: string) => void }[] = [
  { step: 'directories made, no peers.idx yet', make: () => {} },
  {
    step: 'peers.idx temp file half written',
    make: (dir, self, peer) => writeFileSync(join(dir, 'peers.idx.tmp'), encodePeerState({ knownPeers: [self, peer], clusterSize: 2, domainExt: 0 }).subarray(0, 5)),
  },
  {
    step: 'peers.idx durable, RaftNode not built (no WAL files)',
    make: (dir, self, peer) => writeFileSync(join(dir, 'peers.idx'), encodePeerState({ knownPeers: [self, peer], clusterSize: 2, domainExt: 0 })),
  },
];

describe('kill -9 while a server builds its new meta group', { skip: skipReason('tsnats') }, () => {
  let c: JsCluster;
  before(async () => {
    c = await JsCluster.start({ impl: 'tsnats', size: 3, tags: [['node:n1'], ['node:n2'], ['node:n3']] });
  });
  after(async () => {
    await c?.shutdown();
  });

  for (const [i, st] of STATES.entries()) {
    test(`crash state: ${st.step}`, async () => {
      const leader = await c.metaLeader();
      const victim = c.nodes.find((n) => n !== leader)!;
      const other = c.nodes.find((n) => n !== leader && n !== victim)!;
      await c.kill(victim);
      const dir = metaDir(victim);
      rmSync(dir, { recursive: true, force: true });
      for (const d of ['snapshots', 'wal']) mkdirSync(join(dir, d), { recursive: true });
      st.make(dir, peerIdForServerName(victim.name), peerIdForServerName(leader.name));
      await c.restart(victim);
      await c.waitMetaLeader();

      const nc = await c.connect(other);
      const name = `BOOT${i}`;
      const body = { name, subjects: [`boot.${i}`], num_replicas: 1, placement: { tags: [`node:${victim.name}`] } };
      const made = await apiRequestAnswered<CreateResp>(nc, `$JS.API.STREAM.CREATE.${name}`, body);
      assert.equal(made.all.length, 1, `one answer: ${JSON.stringify(made.all)}`);
      assert.equal(made.first?.error, undefined, JSON.stringify(made.first));

      // The same assignment after another crash and restart of the server that holds it.
      await c.kill(victim);
      await c.restart(victim);
      await c.waitMetaLeader();
      const info = await apiRequestAnswered<InfoResp>(nc, `$JS.API.STREAM.INFO.${name}`);
      assert.equal(info.first?.error, undefined, JSON.stringify(info.first));
      assert.equal(info.first?.config?.name, name);
      assert.equal(info.first?.cluster?.leader, victim.name, 'held by the restarted server');
      await nc.close();
    });
  }
});
