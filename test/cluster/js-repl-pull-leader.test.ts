// A pull request waiting on an R3 consumer's leader when that leader steps down or is killed
// (-9): nats-server 2.9.10 replicates waiting requests to the group (addPendingRequest /
// removePendingRequest) and the new leader answers each "409 Leadership Change"; the official
// client's fetch then fails with "leadership change" at once, instead of waiting out its expiry.
// The same scenario runs against three nats-server 2.9.10 child processes and three tsnats ones.
// 2.9.10 counts a request in num_waiting before its addPendingRequest entry is replicated, so after
// a kill its new leader may never hear of one of them (seen under load: the fetch ended with
// "heartbeats missed" 60 s later); after a stepdown with no caught-up follower its old leader may
// win again holding none of the requests (the leader does not apply its own entries). For the
// reference run a request left unanswered 20 s after the change ends the test with a diagnostic;
// tsnats keeps the committed requests on every replica, counts only those, and stays strict.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, type Msg } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { IMPLS, JsCluster, apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';
import { PULL_NEXT, assertLeadershipChange, consumerInfo, createPD, infoFromLeader } from './js-pull-leader-helpers.js';

/**
 * Waits up to 20 s for both requests to be answered (the raw one with a status, the fetch settled);
 * what is still unanswered then, or undefined when both were.
 */
async function referenceLostRequest(raw: Msg[], fetched: Promise<unknown>): Promise<string | undefined> {
  let settled = false;
  fetched.then(() => { settled = true; }, () => { settled = true; });
  try {
    await pollUntil(() => (raw.length > 0 && settled ? true : undefined), 'both requests answered', 20_000, 20);
    return undefined;
  } catch {
    return [raw.length === 0 ? 'the raw request' : '', settled ? '' : 'the fetch'].filter(Boolean).join(' and ');
  }
}

for (const impl of IMPLS) {
  for (const how of ['stepdown', 'kill'] as const) {
    test(`${impl}: a pull request waiting on the consumer leader gets 409 Leadership Change after a ${how}`, { skip: skipReason(impl) }, async (t) => {
      const c = await JsCluster.start({ impl, size: 3 });
      try {
        const leaderName = await createPD(await c.connect(c.nodes[0]!));
        // The client sits on a server that is not the consumer leader (it survives a kill).
        const nc = await c.connect(c.nodes.find((n) => n.name !== leaderName)!);
        const raw: Msg[] = [];
        const inbox = createInbox();
        nc.subscribe(inbox, { callback: (_e, m) => { raw.push(m); } });
        nc.publish(PULL_NEXT, JSON.stringify({ batch: 1, expires: 60_000_000_000 }), { reply: inbox });
        const cons = await jetstream(nc).consumers.get('P', 'D');
        const fetched = (async () => {
          const got: number[] = [];
          for await (const m of await cons.fetch({ max_messages: 1, expires: 60_000 })) got.push(m.seq);
          return got;
        })();
        fetched.catch(() => {}); // asserted below; the rejection may come first
        await pollUntil(async () => ((await consumerInfo(nc))?.num_waiting === 2 ? true : undefined), 'both requests waiting', 10_000, 50);

        if (how === 'stepdown') {
          const sd = await apiRequest<{ success?: boolean }>(nc, '$JS.API.CONSUMER.LEADER.STEPDOWN.P.D', undefined, { settleMs: 0 });
          assert.equal(sd.first?.success, true, JSON.stringify(sd.first));
        } else {
          await c.kill(c.node(leaderName));
        }
        if (impl === 'nats-server') {
          const lost = await referenceLostRequest(raw, fetched);
          if (lost !== undefined) {
            t.diagnostic(`nats-server 2.9.10 left a request counted in num_waiting unanswered after the ${how}: ${lost}`);
            return;
          }
        }
        await assertLeadershipChange(raw);
        await assert.rejects(fetched, (e: Error) => /leadership change/i.test(e.message));
        const after = await infoFromLeader(nc, leaderName);
        assert.equal(after.num_waiting, 0);
        assert.equal(raw.length, 1, 'one answer per request');
      } finally {
        await c.shutdown();
      }
    });
  }
}
