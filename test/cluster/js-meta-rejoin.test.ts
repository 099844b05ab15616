// Clustered JetStream: a follower of the meta group that restarts (kill -9 or SIGTERM) and rejoins
// must not take the leadership away from a healthy meta leader. While one follower restarts
// again and again, the meta leader stays the same server and every $JS.API.INFO from a client on
// the other follower is answered (no 10008, no silence), as with nats-server 2.9.10.
// The race that used to depose the leader (the restarted server's election timer running out before
// the leader's first heartbeat reaches it) needs a stall of seconds; it is reproduced exactly in
// test/unit/raft-gone-leader.test.ts. Here the whole path runs over real routes and processes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { JsCluster, apiRequest, skipReason, type JsNode } from './js-cluster-harness.js';

const RESTARTS = Number(process.env.TSNATS_REJOIN_RESTARTS ?? 4);

interface InfoResp { type?: string; error?: { code: number; err_code: number; description: string } }

for (const impl of ['tsnats', 'nats-server'] as const) {
  describe(`meta leader through follower restarts on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: JsCluster;
    before(async () => {
      c = await JsCluster.start({ impl, size: 3 });
    });
    after(async () => {
      await c?.shutdown();
    });

    test(`${RESTARTS} restarts of one follower leave the meta leader in place and every $JS.API.INFO answered`, async () => {
      const leader = await c.metaLeader();
      const [victim, witness] = c.nodes.filter((n) => n !== leader) as [JsNode, JsNode];
      const nc = await c.connect(witness);
      // Every time the leader (re)gains the leadership it logs this line: a step-down it wins back
      // at once shows here even when no poll saw the gap.
      const elected = (): number => (leader.log().match(/new metadata leader/g) ?? []).length;
      const electedBefore = elected();
      const problems: string[] = [];
      let running = true;
      let requests = 0;
      // A client on the other follower asks all the time; the meta leader answers it.
      const asker = (async () => {
        while (running) {
          const r = await apiRequest<InfoResp>(nc, '$JS.API.INFO', undefined, { waitMs: 3000, settleMs: 0 });
          requests++;
          if (r.first === undefined) problems.push(`request ${requests}: no reply`);
          else if (r.first.error) problems.push(`request ${requests}: ${JSON.stringify(r.first.error)}`);
        }
      })();
      // The leader and the witness keep naming the same leader (read while the victim restarts).
      const watcher = (async () => {
        while (running) {
          for (const n of [leader, witness]) {
            const m = await c.metaOf(n).catch(() => undefined);
            if (m?.leader !== leader.name) problems.push(`${n.name} names meta leader ${JSON.stringify(m?.leader)}`);
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      try {
        for (let i = 0; i < RESTARTS; i++) {
          if (i % 2 === 0) await c.kill(victim);
          else await c.stop(victim);
          // The victim comes back behind: the meta group committed entries meanwhile.
          const made = await apiRequest<InfoResp>(nc, `$JS.API.STREAM.CREATE.REJOIN${i}`, { name: `REJOIN${i}`, subjects: [`rejoin${i}`], num_replicas: 1 }, { waitMs: 5000, settleMs: 0 });
          if (made.first?.error) problems.push(`create ${i}: ${JSON.stringify(made.first.error)}`);
          await c.restart(victim);
          const now = await c.waitMetaLeader();
          assert.equal(now.name, leader.name, `meta leader after restart ${i + 1}`);
        }
      } finally {
        running = false;
        await Promise.all([asker, watcher]);
      }
      assert.ok(requests > 0);
      if (impl === 'tsnats') assert.equal(elected(), electedBefore, `${leader.name} was elected again:\n${leader.log()}`);
      assert.deepEqual(problems, [], `over ${requests} requests and ${RESTARTS} restarts`);
    });
  });
}
