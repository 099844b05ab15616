// KV and stream mirrors/sources across a leaf node, between JetStream domains: a hub with
// `jetstream { domain: hub }`, a leaf with `domain: leaf`. The leaf mirrors a KV bucket of the
// hub by domain (`mirror: { name, domain }`, which the clients turn into `external.api =
// $JS.hub.API`) and sources a stream of the hub; the link is cut and restored and the copies
// catch up with no duplicates. Run with tsnats on both sides, and with nats-server 2.9.10 as
// hub (a tsnats leaf follows through nats-server's API) and as leaf (nats-server follows a
// tsnats origin: tsnats answers its `direct` consumer creates).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { client, leafListenPort, natsServer, tempDir } from '../helpers/leaf-interop.js';
import { spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { pollUntil, waitUntil } from '../helpers/wait.js';

type Spawn = (args: string[]) => Promise<ChildServer>;

const jsConf = (name: string, dir: string, domain: string): string =>
  `listen: 127.0.0.1:-1\nserver_name: ${name}\njetstream { store_dir: "${join(dir, name)}", domain: ${domain} }\n`;

/** Messages in `stream` as the server of `jsm` sees them, 0 while it is not reachable. */
async function count(jsm: JetStreamManager, stream: string): Promise<number> {
  try {
    return (await jsm.streams.info(stream)).state.messages;
  } catch {
    return 0;
  }
}

async function mirrorAcrossLeaf(t: TestContext, hubSpawn: Spawn, leafSpawn: Spawn): Promise<void> {
  const dir = tempDir(t);
  const hub = await natsServer(t, jsConf('hub', dir, 'hub') + 'leafnodes { listen: "127.0.0.1:-1" }\n', hubSpawn);
  const proxy = new TcpProxy(await leafListenPort(hub), 'leaf link');
  await proxy.listen();
  t.after(() => proxy.close());
  const leaf = await natsServer(t, jsConf('leaf', dir, 'leaf') +
    `leafnodes { reconnect: 1, remotes [ { url: "nats://127.0.0.1:${proxy.port}" } ] }\n`, leafSpawn);
  const hc = await client(`nats://127.0.0.1:${hub.port}`, t);
  const lc = await client(`nats://127.0.0.1:${leaf.port}`, t);
  const hubJs = await jetstreamManager(hc);
  const leafJs = await jetstreamManager(lc);
  // The link is up once the hub reaches the leaf's domain API.
  const leafFromHub = await jetstreamManager(hc, { domain: 'leaf', checkAPI: false });
  await waitUntil(async () => { try { await leafFromHub.getAccountInfo(); return true; } catch { return false; } }, 20_000, 'leaf domain reachable from the hub');

  // In the hub: a KV bucket and a stream.
  const hubKv = await new Kvm(hc).create('CFG');
  for (let i = 1; i <= 5; i++) await hubKv.put(`k${i}`, `v${i}`);
  await hubJs.streams.add({ name: 'ORDERS', subjects: ['orders.>'] });
  const hjs = jetstream(hc);
  for (let i = 1; i <= 10; i++) await hjs.publish(`orders.${i}`, `o${i}`);

  // In the leaf: the bucket mirrored and the stream sourced, both by domain.
  // (the handle create returns reads the origin's keys; Kvm.open of a mirror does not, in this client)
  const mirrored = await new Kvm(lc).create('CFGM', { mirror: { name: 'CFG', domain: 'hub' } });
  await leafJs.streams.add({ name: 'AGG', subjects: [], sources: [{ name: 'ORDERS', domain: 'hub' }] });
  await waitUntil(async () => (await count(leafJs, 'KV_CFGM')) === 5 && (await count(leafJs, 'AGG')) === 10, 30_000, 'mirror and source caught up');
  assert.equal((await mirrored.get('k3'))?.string(), 'v3');
  const info = await leafJs.streams.info('KV_CFGM');
  assert.equal(info.mirror?.name, 'KV_CFG');
  assert.equal((info.mirror as { external?: { api?: string } } | undefined)?.external?.api, '$JS.hub.API');
  assert.equal(info.mirror?.lag, 0);
  assert.equal(info.mirror?.error, undefined);

  // Link cut: the hub keeps taking writes; restored: the copies catch up.
  proxy.cut();
  await waitUntil(async () => { try { await leafFromHub.getAccountInfo(); return false; } catch { return true; } }, 20_000, 'leaf unreachable');
  for (let i = 11; i <= 20; i++) await hjs.publish(`orders.${i}`, `o${i}`);
  await hubKv.put('k6', 'v6');
  await hubKv.put('k1', 'v1b');
  proxy.heal();
  await waitUntil(async () => (await count(leafJs, 'KV_CFGM')) === 6 && (await count(leafJs, 'AGG')) === 20, 60_000, 'caught up after the link came back');
  assert.equal((await mirrored.get('k6'))?.string(), 'v6');
  assert.equal((await mirrored.get('k1'))?.string(), 'v1b');
  // The mirror has the origin's sequences; the source every order once, in order.
  const hubInfo = await hubJs.streams.info('KV_CFG');
  const m = await pollUntil(async () => {
    const i = await leafJs.streams.info('KV_CFGM');
    return i.state.last_seq === hubInfo.state.last_seq ? i : undefined;
  }, 'mirror at the origin last sequence', 30_000);
  assert.equal(m.state.first_seq, hubInfo.state.first_seq);
  const got: string[] = [];
  const oc = await jetstream(lc).consumers.get('AGG');
  for await (const msg of await oc.fetch({ max_messages: 20, expires: 5000 })) {
    got.push(msg.string());
    assert.match(msg.headers?.get('Nats-Stream-Source') ?? '', /^ORDERS[ :]/);
  }
  assert.deepEqual(got, Array.from({ length: 20 }, (_x, i) => `o${i + 1}`));
}

const skip = natsServerSkip();

test('leaf JetStream domains: tsnats leaf mirrors a KV bucket and sources a stream of a tsnats hub, across a cut', async (t) => {
  await mirrorAcrossLeaf(t, spawnTsnats, spawnTsnats);
});

test('leaf JetStream domains: tsnats leaf follows a nats-server 2.9.10 hub', { skip }, async (t) => {
  await mirrorAcrossLeaf(t, spawnNatsServer, spawnTsnats);
});

test('leaf JetStream domains: nats-server 2.9.10 leaf follows a tsnats hub', { skip }, async (t) => {
  await mirrorAcrossLeaf(t, spawnTsnats, spawnNatsServer);
});
