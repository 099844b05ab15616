// JetStream of another account in a cluster: the importer's client is on one server, the
// JetStream API is answered by the cluster (asynchronously, after the meta group agreed). The
// `_R_` reply of the account import must be answered in the exporting account, not taken for
// the system-account reply of a nats-server service import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { loadConfigText } from '../../src/config/load.js';
import { startNodesOnPortsKnownInAdvance, waitRoutes } from './cluster-helpers.js';
import { jsClusterOptions, waitForMetaLeader } from './js-meta-own-helpers.js';

const CONF = `
accounts: {
  A: {
    users: [ {user: a, password: a} ]
    jetstream: enabled
    exports: [ { service: "$JS.API.>", response: stream }, { service: "$JS.ACK.>" }, { service: "orders.>" }, { stream: "deliver.>" } ]
  }
  I: {
    users: [ {user: i, password: i} ]
    imports: [
      { service: { account: A, subject: "$JS.API.>" }, to: "fromA.>" }
      { service: { account: A, subject: "$JS.ACK.>" } }
      { service: { account: A, subject: "orders.>" } }
      { stream: { account: A, subject: "deliver.>" } }
    ]
  }
}
`;

test('a client of the importing account creates and uses a stream of a clustered JetStream', async (t) => {
  const { options } = loadConfigText(CONF, 'imports.conf');
  const root = mkdtempSync(join(tmpdir(), 'tsnats-imports-jsc-'));
  const names = ['n1', 'n2'];
  const nodes = await startNodesOnPortsKnownInAdvance(names.length, (ports, clusterName) => names.map((name, k) => ({
    name, clusterName, clusterPort: ports[k]!,
    routes: ports.filter((_, j) => j !== k).map((p) => `nats-route://127.0.0.1:${p}`),
    extra: jsClusterOptions(join(root, name), { ...options, host: '127.0.0.1', port: 0, cluster: { connectRetries: 60 } as never }),
  })), 5, { configAuth: true });
  t.after(async () => {
    for (const n of nodes) await n.h.shutdown();
    rmSync(root, { recursive: true, force: true });
  });
  await waitRoutes(nodes, 1);
  await waitForMetaLeader(nodes);

  const i = await connect({ servers: nodes[1]!.h.clientUrl, user: 'i', pass: 'i', inboxPrefix: 'deliver' });
  t.after(() => i.close());
  const jsm = await jetstreamManager(i, { apiPrefix: 'fromA' });
  const created = await jsm.streams.add({ name: 'ORDERS', subjects: ['orders.>'], num_replicas: 1 });
  assert.equal(created.config.name, 'ORDERS');
  const js = jetstream(i, { apiPrefix: 'fromA' });
  for (let n = 1; n <= 3; n++) assert.equal((await js.publish(`orders.${n}`, `o${n}`)).seq, n);
  await jsm.consumers.add('ORDERS', { durable_name: 'pull', ack_policy: AckPolicy.Explicit });
  const got: string[] = [];
  for await (const m of await (await js.consumers.get('ORDERS', 'pull')).fetch({ max_messages: 3 })) {
    got.push(`${m.subject} ${m.string()}`);
    m.ack();
  }
  assert.deepEqual(got, ['orders.1 o1', 'orders.2 o2', 'orders.3 o3']);
  assert.equal((await jsm.streams.info('ORDERS')).state.messages, 3);
});
