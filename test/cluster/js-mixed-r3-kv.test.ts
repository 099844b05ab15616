// KV on an R3 bucket across implementations (issue 11): the bucket's stream has replicas on
// nats-server 2.9.10 and tsnats (2 + 1 and 1 + 2). Puts, CAS updates (Nats-Expected-Last-Subject-
// Sequence), creates, delete markers and purges (Nats-Rollup: sub) go through every server while a
// nats-server and then a tsnats server leads the bucket's stream; the values, history and
// revisions read back through every server are the same, and each replica (its own /jsz) holds
// the same state — so rollups and header checks applied by one kind match the other.
// Skipped, saying so, where nats-server is missing (an error under CI=true).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { JsCluster, pollUntil, skipReason, type Impl } from './js-cluster-harness.js';
import { MIXES, leadStream, streamInfoEverywhere, withLogs } from './js-mixed-helpers.js';
import { localState } from './js-repl-snapshot-helpers.js';

for (const mix of MIXES) {
  describe(`KV on an R3 bucket in a mixed cluster: ${mix.label}`, { skip: skipReason('nats-server') }, () => {
    let c: JsCluster;
    let ncs: NatsConnection[];
    before(async () => {
      c = await JsCluster.start({ impl: 'nats-server', size: 3, impls: mix.impls });
      ncs = await Promise.all(c.nodes.map((n) => c.connect(n)));
    });
    after(async () => {
      await c?.shutdown();
    });

    test('puts, CAS, create, delete and purge through every server under a leader of each kind', () => withLogs(c, async () => {
      // Placement needs every server's info at the meta leader: retry until the bucket is created.
      await pollUntil(() => new Kvm(ncs[2]!).create('MIX', { replicas: 3, history: 3 }).catch((e: Error) => {
        if (/no suitable peers/.test(e.message)) return undefined;
        throw e;
      }), 'R3 bucket created', 30_000, 250);
      const kvs: KV[] = await Promise.all(ncs.map((nc) => new Kvm(nc).open('MIX')));
      const model = new Map<string, { value: string | null; revision: number }>();
      let round = 0;
      for (const kind of ['nats-server', 'tsnats'] as Impl[]) {
        const target = c.nodes.find((n) => n.impl === kind)!;
        await leadStream(c, ncs, 'KV_MIX', target);
        const ctx = `stream leader ${target.name} (${target.impl})`;
        for (const [i, kv] of kvs.entries()) {
          const via = `${c.nodes[i]!.name} (${c.nodes[i]!.impl}), ${ctx}`;
          const key = `k${i}`;
          const r1 = await kv.put(key, `v${round}-${i}`);
          model.set(key, { value: `v${round}-${i}`, revision: r1 });
          // CAS: the right revision wins, a stale one is refused.
          const r2 = await kv.update(key, `u${round}-${i}`, r1);
          model.set(key, { value: `u${round}-${i}`, revision: r2 });
          await assert.rejects(kv.update(key, 'stale', r1), /wrong last sequence/, via);
          const nk = `new${round}-${i}`;
          const r3 = await kv.create(nk, 'x');
          model.set(nk, { value: 'x', revision: r3 });
          await assert.rejects(kv.create(nk, 'y'), /wrong last sequence/, via);
        }
        // A delete marker through one server, a purge (rollup of the key's history) through another.
        await kvs[(round + 1) % 3]!.delete(`new${round}-0`);
        model.set(`new${round}-0`, { value: null, revision: 0 });
        await kvs[(round + 2) % 3]!.purge(`k${round}`);
        model.set(`k${round}`, { value: null, revision: 0 });
        round++;
      }
      // Every server reads the same values.
      for (const [i, kv] of kvs.entries()) {
        for (const [key, want] of model) {
          const e = await kv.get(key);
          if (want.value === null) {
            assert.ok(e === null || e.operation !== 'PUT', `${key} deleted/purged via ${c.nodes[i]!.name}`);
          } else {
            assert.equal(e?.string(), want.value, `${key} via ${c.nodes[i]!.name} (${c.nodes[i]!.impl})`);
            assert.equal(e?.revision, want.revision, `revision of ${key} via ${c.nodes[i]!.name}`);
          }
        }
        const hist: string[] = [];
        for await (const h of await kv.history({ key: 'k2' })) hist.push(`${h.revision}:${h.operation}:${h.string()}`);
        // k2 was put and updated in both rounds (never purged); the bucket keeps 3 revisions.
        assert.deepEqual(hist.map((h) => h.split(':').slice(1).join(':')), ['PUT:u0-2', 'PUT:v1-2', 'PUT:u1-2'],
          `history of k2 via ${c.nodes[i]!.name} (${c.nodes[i]!.impl}): ${hist.join(', ')}`);
      }
      // Each replica holds the same state as the leader reports.
      const info = await streamInfoEverywhere(c, ncs, 'KV_MIX');
      const states = await Promise.all(c.nodes.map((n) => localState(c, n, 'KV_MIX')));
      const view = (st: typeof info.state) => ({ messages: st?.messages, first_seq: st?.first_seq, last_seq: st?.last_seq });
      assert.deepEqual(states.map(view), c.nodes.map(() => view(info.state)),
        `every replica of KV_MIX as the leader (${info.cluster?.leader}) reports it: ${JSON.stringify(states)} vs ${JSON.stringify(info.state)}`);
    }));
  });
}
