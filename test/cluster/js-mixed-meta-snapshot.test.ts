// Meta snapshots across implementations (issue 11): the meta leader of one kind compacts its log
// into a snapshot (S2-compressed JSON, nats-server's format); a server of the other kind with the
// same name and an empty store dir then joins, so it can only learn the assignments from that
// snapshot. It restores them — R1 streams on every node, an R3 stream (whose replica it then
// fills by catch-up), durable consumers — and, made meta leader, answers STREAM.NAMES,
// STREAM.INFO and CONSUMER.NAMES for all of them.
//   nats-server → tsnats: 2 nats-server + 1 tsnats; 2.9.10 snapshots its meta log when an asset
//   is removed (more than 2 s after its last snapshot), on every server.
//   tsnats → nats-server: 1 nats-server + 2 tsnats; tsnats snapshots when it becomes meta leader.
// Skipped, saying so, where nats-server is missing (an error under CI=true).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { JsCluster, SYS, apiRequest, pollUntil, skipReason, streamInfoWithLeader, type Impl, type JsNode } from './js-cluster-harness.js';
import { createStream, leadMeta, replicaStates, withLogs, type ApiError } from './js-mixed-helpers.js';
import { filesMatching } from './js-repl-snapshot-helpers.js';

const TAGS = [['node:n1'], ['node:n2'], ['node:n3']];

/** The meta group's snapshot files on server n (the same layout for both kinds). */
const metaSnapshots = (n: JsNode): string[] => filesMatching(n.storeDir, /\/_meta_\/snapshots\/snap\.\d+\.\d+$/);

const CASES: { label: string; impls: Impl[]; snapshotBy: Impl; fresh: Impl }[] = [
  { label: 'taken by nats-server, restored by tsnats', impls: ['nats-server', 'nats-server', 'tsnats'], snapshotBy: 'nats-server', fresh: 'tsnats' },
  { label: 'taken by tsnats, restored by nats-server', impls: ['nats-server', 'tsnats', 'tsnats'], snapshotBy: 'tsnats', fresh: 'nats-server' },
];

for (const k of CASES) {
  describe(`meta snapshot ${k.label}`, { skip: skipReason('nats-server') }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    let sys: NatsConnection;
    before(async () => {
      c = await JsCluster.start({ impl: 'nats-server', size: 3, impls: k.impls, tags: TAGS });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
      sys = await c.connect(c.nodes.find((n) => n.impl !== k.fresh)!, SYS); // not the node replaced below
    });
    after(async () => {
      await c?.shutdown();
    });

    test('a fresh server of the other kind restores every assignment from the snapshot', () => withLogs(c, async () => {
      const fresh = c.nodes.find((n) => n.impl === k.fresh)!;
      const r1s = c.nodes.map((n) => `M1_${n.name.toUpperCase()}`);
      for (const [i, n] of c.nodes.entries()) {
        const r = await createStream(ncs[i]!,
          { name: r1s[i]!, subjects: [`${r1s[i]!.toLowerCase()}.>`], num_replicas: 1, storage: 'file', placement: { tags: [`node:${n.name}`] } });
        assert.equal(r.first?.error, undefined, JSON.stringify(r.first));
      }
      const r3 = await createStream(ncs[1]!,
        { name: 'M3', subjects: ['m3.>'], num_replicas: 3, storage: 'file' });
      assert.equal(r3.first?.error, undefined, JSON.stringify(r3.first));
      for (const s of [...r1s, 'M3']) {
        const cr = await apiRequest<{ error?: ApiError }>(ncs[2]!, `$JS.API.CONSUMER.DURABLE.CREATE.${s}.D`,
          { stream_name: s, config: { durable_name: 'D', ack_policy: 'explicit' } });
        assert.equal(cr.first?.error, undefined, JSON.stringify(cr.first));
      }
      for (let i = 1; i <= 10; i++) await jetstream(ncs[i % 3]!).publish(`m3.${i}`, `v${i}`);

      // The meta log of the snapshotting kind is compacted after everything above.
      const leader = await leadMeta(c, sys, k.snapshotBy, { notName: fresh.name });
      const before = metaSnapshots(leader);
      if (k.snapshotBy === 'nats-server') {
        // 2.9.10 snapshots when a removal is applied more than 2 s after its last snapshot.
        await new Promise((r) => setTimeout(r, 2_100));
        const t = await apiRequest<{ error?: ApiError }>(ncs[0]!, '$JS.API.STREAM.CREATE.TMP', { name: 'TMP', subjects: ['tmp'], num_replicas: 1 });
        assert.equal(t.first?.error, undefined, JSON.stringify(t.first));
        const d = await apiRequest(ncs[0]!, '$JS.API.STREAM.DELETE.TMP');
        assert.deepEqual(d.first, { type: 'io.nats.jetstream.api.v1.stream_delete_response', success: true });
      } else {
        // A tsnats server snapshots when it becomes meta leader: hand leadership on and back.
        await leadMeta(c, sys, 'tsnats', { notName: leader.name });
      }
      const snapper = await leadMeta(c, sys, k.snapshotBy, { notName: fresh.name });
      await pollUntil(() => {
        const now = metaSnapshots(snapper);
        return now.length > 0 && now.join() !== before.join() ? true : undefined;
      }, `a new meta snapshot on ${snapper.name} (${snapper.impl})`);

      // The fresh server (same name, empty store) can only learn the assignments from the snapshot.
      await c.stop(fresh);
      await c.replace(fresh, k.fresh);
      ncs[fresh.index] = await c.connect(fresh);
      await c.waitMetaLeader({ timeoutMs: 60_000 });
      // The R3 stream's replica is back on the fresh server, filled by stream catch-up.
      await replicaStates(c, 'M3', 10);
      const restored = await leadMeta(c, sys, k.fresh);
      assert.equal(restored.name, fresh.name);

      for (const via of c.nodes) {
        const names = await apiRequest<{ streams: string[] | null }>(ncs[via.index]!, '$JS.API.STREAM.NAMES', {});
        assert.equal(names.all.length, 1, `one reply to STREAM.NAMES via ${via.name}`);
        assert.deepEqual([...(names.first!.streams ?? [])].sort(), [...r1s, 'M3'].sort(), `STREAM.NAMES via ${via.name} (${via.impl})`);
      }
      await streamInfoWithLeader(ncs[fresh.index]!, 'M3'); // the fresh server may have led M3 before
      for (const [i, s] of [...r1s, 'M3'].entries()) {
        const info = await apiRequest<{ error?: ApiError; cluster?: { leader?: string } }>(ncs[fresh.index]!, `$JS.API.STREAM.INFO.${s}`);
        assert.equal(info.all.length, 1, `one reply to STREAM.INFO ${s}: ${JSON.stringify(info.all)}`);
        assert.equal(info.first!.error, undefined, JSON.stringify(info.first));
        if (i < 3) assert.equal(info.first!.cluster?.leader, c.nodes[i]!.name);
        const cn = await apiRequest<{ consumers: string[] | null }>(ncs[fresh.index]!, `$JS.API.CONSUMER.NAMES.${s}`, {});
        assert.equal(cn.all.length, 1, `one reply to CONSUMER.NAMES ${s}: ${JSON.stringify(cn.all)}`);
        assert.deepEqual(cn.first!.consumers, ['D'], `consumers of ${s}`);
      }
    }));
  });
}
