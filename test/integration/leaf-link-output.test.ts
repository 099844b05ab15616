// A leaf link's keepalive and output limits, which it shares with routes (cluster/link-output.ts):
// a peer that never answers PINGs is closed as stale, and a peer that stops reading is cut as a
// slow consumer while local clients keep receiving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as net from 'node:net';
import { connect } from '@nats-io/transport-node';
import { captureLog, startTestServer } from '../helpers/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitUntil } from '../helpers/wait.js';
import { getLeafnodes } from '../../src/leaf/index.js';

const leafPort = { leafnodes: { host: '127.0.0.1', port: 0, users: [], remotes: [], reconnectMs: 50 } };

test('leaf PINGs: a peer that never answers is closed as stale', async (t) => {
  const hub = await startTestServer({ ...leafPort, pingIntervalMs: 100, pingMax: 2, debug: true }, t);
  const log = captureLog(hub);
  const { c } = await RawClient.connectInfo(getLeafnodes(hub.server)!.port);
  t.after(() => c.close());
  c.send('CONNECT {"server_id":"NSILENT","name":"silent"}\r\n');
  await c.waitFor('PING\r\n', 3000);
  await c.waitFor("-ERR 'Stale Connection'", 3000);
  await c.waitClosed();
  assert.ok(log.some((l) => l.includes('Stale Leafnode Connection - Closing')), 'stale link logged');
  assert.equal(getLeafnodes(hub.server)!.connections().length, 0);
});

test('a leaf peer that stops reading is cut as a slow consumer; local clients keep flowing', async (t) => {
  const hub = await startTestServer({ ...leafPort, maxPendingBytes: 2 * 1024 * 1024 }, t);
  const log = captureLog(hub);
  const leafnodes = getLeafnodes(hub.server)!;
  const { c: peer } = await RawClient.connectInfo(leafnodes.port);
  t.after(() => peer.close());
  peer.send('CONNECT {"server_id":"NSTUCK","name":"stuck","headers":true}\r\nLS+ big.data\r\n');
  await waitUntil(() => hub.server.globalAccount.sublist.hasInterest('big.data'), 5000, 'stuck peer interest');
  // The peer never reads again.
  (peer as unknown as { socket: net.Socket }).socket.pause();

  const nc = await connect({ servers: hub.clientUrl });
  t.after(() => nc.close());
  let local = 0;
  nc.subscribe('big.data', { callback: () => { local++; } });
  await nc.flush();
  const slowBefore = hub.server.stats.slowConsumers;
  const payload = new Uint8Array(60 * 1024);
  let sent = 0;
  while (leafnodes.connections().length === 1 && sent < 2000) {
    for (let i = 0; i < 20; i++) nc.publish('big.data', payload);
    sent += 20;
    await nc.flush();
  }
  assert.equal(leafnodes.connections().length, 0, 'the stuck leaf link was closed');
  assert.ok(log.some((l) => l.includes('Slow Consumer Detected: MaxPending of 2097152 Exceeded')), 'slow consumer logged');
  assert.equal(hub.server.stats.slowConsumers, slowBefore + 1);
  await waitUntil(() => local === sent, 5000, 'local subscriber got every message');
  // Only the local subscription is left.
  await waitUntil(() => hub.server.globalAccount.sublist.match('big.data').psubs.length === 1, 5000, 'leaf interest removed');
});
