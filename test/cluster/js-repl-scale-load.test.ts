// Peer changes under load, on nats-server 2.9.10 and tsnats with the same steps: while a client
// publishes without pause, the stream's leader is removed (STREAM.PEER.REMOVE), the stream is
// scaled R3 -> R5 -> R3 and a follower is removed. Publishes may fail while leadership moves;
// every one that was acknowledged must afterwards be in the stream, once, at its acknowledged
// sequence, with its payload.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { IMPLS, JsCluster, apiRequest, skipReason } from './js-cluster-harness.js';
import { waitSettled, type InfoResp, ownClusterName } from './js-repl-scale-helpers.js';

for (const impl of IMPLS) {
  describe(`peer changes under load on a 5-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    before(async () => {
      c = await JsCluster.start({ impl, size: 5, clusterName: ownClusterName() });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
    });
    after(async () => {
      await c?.shutdown();
    });

    test('every acknowledged publish survives leader removal, R3 -> R5 -> R3 and follower removal', async () => {
      const nc = ncs[0]!;
      const cfg = { name: 'L', subjects: ['l.>'], num_replicas: 3 };
      const created = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.CREATE.L', cfg);
      assert.equal(created.first?.error, undefined, JSON.stringify(created.first));
      await waitSettled(nc, '$JS.API.STREAM.INFO.L', 3);

      const acked = new Map<number, string>();
      let failed = 0;
      let stop = false;
      const js = jetstream(ncs[1]!, { timeout: 3000 });
      const publisher = (async () => {
        for (let k = 0; !stop; k++) {
          const payload = `p${k}`;
          try {
            const pa = await js.publish(`l.${k % 7}`, payload);
            assert.ok(!acked.has(pa.seq), `sequence ${pa.seq} acknowledged twice`);
            acked.set(pa.seq, payload);
          } catch {
            failed++;
          }
          // A steady stream of publishes, not a flood: the read-back below stays short.
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      const waitMore = async (n: number): Promise<void> => {
        const target = acked.size + n;
        const deadline = Date.now() + 30_000;
        while (acked.size < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        assert.ok(acked.size >= target, `publishes acknowledged again (have ${acked.size}, want ${target}, failed ${failed})`);
      };
      try {
        await waitMore(50);
        let info = await waitSettled(nc, '$JS.API.STREAM.INFO.L', 3);
        const leader = info.cluster!.leader!;
        const r = await apiRequest<{ success?: boolean }>(nc, '$JS.API.STREAM.PEER.REMOVE.L', { peer: leader });
        assert.equal(r.first?.success, true, JSON.stringify(r.all));
        await waitSettled(nc, '$JS.API.STREAM.INFO.L', 3, [leader]);
        await waitMore(50);
        for (const replicas of [5, 3]) {
          const up = await apiRequest<InfoResp>(nc, '$JS.API.STREAM.UPDATE.L', { ...cfg, num_replicas: replicas });
          assert.equal(up.first?.error, undefined, JSON.stringify(up.first));
          await waitSettled(nc, '$JS.API.STREAM.INFO.L', replicas);
          await waitMore(50);
        }
        info = await waitSettled(nc, '$JS.API.STREAM.INFO.L', 3);
        const follower = info.cluster!.replicas![0]!.name;
        const r2 = await apiRequest<{ success?: boolean }>(nc, '$JS.API.STREAM.PEER.REMOVE.L', { peer: follower });
        assert.equal(r2.first?.success, true, JSON.stringify(r2.all));
        await waitSettled(nc, '$JS.API.STREAM.INFO.L', 3, [follower]);
        await waitMore(50);
      } finally {
        stop = true;
        await publisher;
      }

      const info = await waitSettled(nc, '$JS.API.STREAM.INFO.L', 3);
      const last = info.state!.last_seq;
      // Read the whole stream back with an ordered consumer.
      const stored = new Map<number, string>();
      if (last > 0) {
        const oc = await jetstream(nc).consumers.get('L');
        const iter = await oc.consume();
        for await (const m of iter) {
          stored.set(m.seq, m.string());
          if (m.seq >= last) break;
        }
      }
      for (const [seq, payload] of acked) {
        assert.ok(seq <= last, `acknowledged sequence ${seq} beyond the stream's last ${last}`);
        assert.equal(stored.get(seq), payload, `acknowledged message ${seq}`);
      }
      assert.ok(acked.size >= 250);
    });
  });
}
