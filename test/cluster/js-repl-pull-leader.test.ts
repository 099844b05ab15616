// A pull request waiting on an R3 consumer's leader when that leader steps down or is killed
// (-9): nats-server 2.9.10 replicates waiting requests to the group (addPendingRequest /
// removePendingRequest) and the new leader answers each "409 Leadership Change"; the official
// client's fetch then fails with "leadership change" at once, instead of waiting out its expiry.
// The same scenario runs against three nats-server 2.9.10 child processes and three tsnats ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { IMPLS, JsCluster, apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';

interface Info { num_waiting?: number; cluster?: { leader?: string } }

async function consumerInfo(nc: NatsConnection): Promise<Info | undefined> {
  return (await apiRequest<Info>(nc, '$JS.API.CONSUMER.INFO.P.D', undefined, { settleMs: 0, waitMs: 2000 })).first;
}

for (const impl of IMPLS) {
  for (const how of ['stepdown', 'kill'] as const) {
    test(`${impl}: a pull request waiting on the consumer leader gets 409 Leadership Change after a ${how}`, { skip: skipReason(impl) }, async () => {
      const c = await JsCluster.start({ impl, size: 3 });
      try {
        const nc0 = await c.connect(c.nodes[0]!);
        const sc = await apiRequest<{ error?: unknown }>(nc0, '$JS.API.STREAM.CREATE.P', { name: 'P', subjects: ['p.>'], num_replicas: 3 });
        assert.equal(sc.first?.error, undefined, JSON.stringify(sc.first));
        const leaderName = await pollUntil(async () => {
          const r = await apiRequest<Info & { error?: unknown }>(nc0, '$JS.API.CONSUMER.CREATE.P.D',
            { stream_name: 'P', config: { durable_name: 'D', ack_policy: 'explicit' } }, { settleMs: 0 });
          return r.first?.cluster?.leader;
        }, 'an R3 consumer with a leader', 30_000, 200);
        // The client sits on a server that is not the consumer leader (it survives a kill).
        const nc = await c.connect(c.nodes.find((n) => n.name !== leaderName)!);
        const raw: Msg[] = [];
        const inbox = createInbox();
        nc.subscribe(inbox, { callback: (_e, m) => { raw.push(m); } });
        nc.publish('$JS.API.CONSUMER.MSG.NEXT.P.D', JSON.stringify({ batch: 1, expires: 60_000_000_000 }), { reply: inbox });
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
        // Well before the requests' 60 s expiry.
        await pollUntil(() => (raw.length > 0 ? true : undefined), 'a status on the raw request', 30_000, 20);
        assert.equal(raw[0]!.headers?.code, 409);
        assert.equal(raw[0]!.headers?.description, 'Leadership Change');
        assert.equal(raw[0]!.data.length, 0);
        await assert.rejects(fetched, (e: Error) => /leadership change/i.test(e.message));
        const after = await pollUntil(async () => {
          const i = await consumerInfo(nc);
          return i?.cluster?.leader && i.cluster.leader !== leaderName ? i : undefined;
        }, 'the new leader', 30_000, 100);
        assert.equal(after.num_waiting, 0);
        assert.equal(raw.length, 1, 'one answer per request');
      } finally {
        await c.shutdown();
      }
    });
  }
}
