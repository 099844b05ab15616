// Leaf links over websocket against the real nats-server 2.9.10, both ways: a tsnats leaf
// dialling a nats-server hub's websocket listener (ws://, with and without compression and
// no-masking; wss:// with the hub's certificate checked), and a nats-server leaf dialling a
// tsnats hub's websocket listener. Messages, request/reply and a queue group cross each link.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/server.js';
import { natsServerSkip, opensslSkip } from '../helpers/nats-server.js';
import { makeCerts } from '../helpers/certs.js';
import { waitUntil } from '../helpers/wait.js';
import { wsBlock } from '../helpers/ws.js';
import { exercise, natsServer, wsListenPort } from '../helpers/leaf-interop.js';
import { getLeafnodes } from '../../src/leaf/index.js';
import type { LeafRemoteOptions } from '../../src/config/options.js';

const skip = natsServerSkip();

const HUB_WS = (extra: string): string => [
  'listen: 127.0.0.1:-1',
  `websocket { listen: "127.0.0.1:-1", ${extra} }`,
  'leafnodes { listen: "127.0.0.1:-1" }',
].join('\n') + '\n';

// (the hub runs with debug on: it logs what was negotiated as "Leafnode compression=...")
for (const [name, hubExtra, remote, compressed] of [
  ['plain', 'no_tls: true', {}, false],
  ['compression and no-masking', 'no_tls: true, compression: true', { wsCompression: true, wsNoMasking: true }, true],
  ['compression asked, the hub does not compress', 'no_tls: true', { wsCompression: true }, false],
] as [string, string, Partial<LeafRemoteOptions>, boolean][]) {
  test(`leaf over websocket interop: nats-server 2.9.10 hub, tsnats leaf dialling ws:// (${name})`, { skip }, async (t) => {
    const hub = await natsServer(t, `debug: true\n${HUB_WS(hubExtra)}`);
    const wsPort = await wsListenPort(hub);
    const leaf = await startTestServer({
      leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`ws://127.0.0.1:${wsPort}`], ...remote }] },
    }, t);
    await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1, 10000, 'leaf link over websocket');
    assert.equal(getLeafnodes(leaf.server)!.connections()[0]!.websocket, true);
    await waitUntil(() => hub.output().includes(`Leafnode compression=${compressed}`), 5000, 'the negotiated compression in the hub log');
    await exercise(t, `nats://127.0.0.1:${hub.port}`, leaf.clientUrl);
  });
}

test('leaf over websocket interop: tsnats hub, nats-server 2.9.10 leaf dialling ws:// with compression', { skip }, async (t) => {
  const hub = await startTestServer({
    websocket: wsBlock({ compression: true }), leafnodes: { host: '127.0.0.1', port: 0, users: [], reconnectMs: 50, remotes: [] },
  }, t);
  const wsPort = hub.server.listeners.port('websocket')!;
  const leaf = await natsServer(t, `debug: true\nlisten: 127.0.0.1:-1\nleafnodes { remotes [ { url: "ws://127.0.0.1:${wsPort}", ws_compression: true } ] }\n`);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 10000, 'leaf link over websocket');
  // nats-server's debug line after checking our 101 answer
  assert.match(leaf.output(), /Leafnode compression=true masking=true/);
  assert.equal(getLeafnodes(hub.server)!.connections()[0]!.websocket, true);
  await exercise(t, hub.clientUrl, `nats://127.0.0.1:${leaf.port}`);
});

test('leaf over websocket interop: tsnats hub, nats-server 2.9.10 leaf dialling ws:// with no-masking', { skip }, async (t) => {
  const hub = await startTestServer({
    websocket: wsBlock(), leafnodes: { host: '127.0.0.1', port: 0, users: [], reconnectMs: 50, remotes: [] },
  }, t);
  const wsPort = hub.server.listeners.port('websocket')!;
  const leaf = await natsServer(t, `debug: true\nlisten: 127.0.0.1:-1\nleafnodes { remotes [ { url: "ws://127.0.0.1:${wsPort}", ws_no_masking: true } ] }\n`);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 10000, 'leaf link over websocket');
  assert.match(leaf.output(), /Leafnode compression=false masking=false/);
  await exercise(t, hub.clientUrl, `nats://127.0.0.1:${leaf.port}`);
});

test('leaf over websocket interop: wss:// both ways, the hub certificate checked against the CA', { skip: skip || opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  const tlsBlock = `tls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}" }`;
  // nats-server hub over wss, tsnats leaf
  const nsHub = await natsServer(t, HUB_WS(tlsBlock));
  const nsWs = await wsListenPort(nsHub);
  const leaf = await startTestServer({
    leafnodes: { host: '127.0.0.1', users: [], reconnectMs: 50, remotes: [{ urls: [`wss://127.0.0.1:${nsWs}`], tls: { caFile: c.ca } }] },
  }, t);
  await waitUntil(() => getLeafnodes(leaf.server)!.connections().length === 1, 10000, 'wss leaf link to nats-server');
  await exercise(t, `nats://127.0.0.1:${nsHub.port}`, leaf.clientUrl);

  // tsnats hub over wss, nats-server leaf
  const hub = await startTestServer({
    websocket: wsBlock({ noTls: false, tls: { certFile: c.serverCert, keyFile: c.serverKey } }),
    leafnodes: { host: '127.0.0.1', port: 0, users: [], reconnectMs: 50, remotes: [] },
  }, t);
  const wsPort = hub.server.listeners.port('websocket')!;
  const nsLeaf = await natsServer(t, `listen: 127.0.0.1:-1\nleafnodes { remotes [ { url: "wss://127.0.0.1:${wsPort}", tls { ca_file: "${c.ca}" } } ] }\n`);
  await waitUntil(() => getLeafnodes(hub.server)!.connections().length === 1, 10000, 'wss leaf link from nats-server');
  await exercise(t, hub.clientUrl, `nats://127.0.0.1:${nsLeaf.port}`);
});
