// Parity of the account limits of clustered JetStream (nats-server jsClusteredStreamLimitsCheck and
// the consumer limit of jsClusteredConsumerRequest / addConsumerWithAssignment): the APP account
// may hold 2 streams and 1 consumer. The refusals come once, through any server, and the limit
// frees up again after a delete. Three servers as child processes, nats-server 2.9.10 and tsnats.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { APP, IMPLS, apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';
import { jszOf, startParityCluster, type ParityCluster } from './js-parity-helpers.js';

interface ApiError { code: number; err_code: number; description: string }
type Resp = { type: string; error?: ApiError; success?: boolean };

for (const impl of IMPLS) {
  describe(`account limits on a 3-server ${impl} cluster`, { skip: skipReason(impl) }, () => {
    let c: ParityCluster | undefined;
    const ncs: NatsConnection[] = [];
    before(async () => {
      c = await startParityCluster(impl, ['n1', 'n2', 'n3'], (_n, conf) =>
        conf.replace('APP { jetstream: enabled, ', 'APP { jetstream: { max_streams: 2, max_consumers: 1 }, '));
      await pollUntil(async () => {
        const metas = await Promise.all(c!.nodes.map(async (n) => (await jszOf(n)).meta_cluster));
        const leader = metas[0]?.leader;
        return leader && metas.every((m) => m?.leader === leader) &&
          (metas.find((_m, i) => c!.nodes[i]!.d.name === leader)?.replicas ?? []).filter((r) => r.current).length === 2 ? true : undefined;
      }, `a meta leader on ${impl}`, 60_000, 100);
      for (const n of c.nodes) ncs.push(await connect({ servers: n.clientUrl, user: APP.user, pass: APP.pass, reconnect: false }));
    });
    after(async () => {
      await Promise.all(ncs.map((nc) => nc.close().catch(() => undefined)));
      await c?.shutdown();
    });

    const create = (i: number, name: string) => apiRequest<Resp>(ncs[i]!, `$JS.API.STREAM.CREATE.${name}`,
      { name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 1, storage: 'file' }, { waitMs: 30_000 });

    test('a third stream is refused with 10027 once; after a delete it can be created', async () => {
      for (const [i, name] of ['L1', 'L2'].entries()) {
        const r = await create(i, name);
        assert.equal(r.first?.error, undefined, JSON.stringify(r.first));
      }
      for (let i = 0; i < 3; i++) {
        const r = await create(i, 'L3');
        assert.equal(r.all.length, 1, `one reply via ${c!.nodes[i]!.d.name}`);
        assert.equal(r.first!.type, 'io.nats.jetstream.api.v1.stream_create_response');
        assert.deepEqual(r.first!.error, { code: 400, err_code: 10027, description: 'maximum number of streams reached' });
      }
      const del = await apiRequest<Resp>(ncs[1]!, '$JS.API.STREAM.DELETE.L2', undefined, { waitMs: 30_000 });
      assert.equal(del.first?.success, true, JSON.stringify(del.first));
      const ok = await create(2, 'L3');
      assert.equal(ok.all.length, 1);
      assert.equal(ok.first!.error, undefined, JSON.stringify(ok.first));
    });

    test('a second consumer is refused once; the account keeps one', async () => {
      const cons = (i: number, name: string) => apiRequest<Resp & { name?: string }>(ncs[i]!, `$JS.API.CONSUMER.CREATE.L1.${name}`,
        { stream_name: 'L1', config: { durable_name: name, ack_policy: 'explicit' } }, { waitMs: 30_000 });
      const first = await cons(0, 'C1');
      assert.equal(first.first?.error, undefined, JSON.stringify(first.first));
      const second = await cons(1, 'C2');
      assert.equal(second.all.length, 1, 'one reply to the refused CONSUMER.CREATE');
      assert.equal(second.first!.type, 'io.nats.jetstream.api.v1.consumer_create_response');
      assert.deepEqual(second.first!.error, { code: 400, err_code: 10026, description: 'maximum consumers limit reached' });
      // The refused consumer is not left assigned: the account counts one consumer on every server.
      for (let i = 0; i < 3; i++) {
        await pollUntil(async () => {
          const r = await apiRequest<{ consumers?: number }>(ncs[i]!, '$JS.API.INFO', undefined, { settleMs: 0 });
          return r.first?.consumers === 1 ? true : undefined;
        }, `ACCOUNT INFO via ${c!.nodes[i]!.d.name}: one consumer`, 30_000, 100);
      }
    });
  });
}
