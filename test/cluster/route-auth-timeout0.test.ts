// Hole (issue 13): with cluster authorization and `timeout: 0`, a peer that sent
// INFO and RS+ without CONNECT was treated as a route (it got our interest and
// messages). nats-server 2.9.10 answers the first non-CONNECT op with
// -ERR 'Authorization Violation' and treats timeout 0 as the default (2 s) auth
// timeout; both are checked here against tsnats and, when installed, nats-server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { RawClient } from '../helpers/raw-client.js';
import { listenPort, spawnNatsServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { startNode } from './cluster-helpers.js';

/** INFO + RS+ + PING without CONNECT: must be refused, and no interest may leak to the peer. */
async function probeNoConnect(clusterPort: number, publish?: () => Promise<void>): Promise<string> {
  const c = await RawClient.connect(clusterPort);
  try {
    await c.readLine();
    c.send('INFO {"server_id":"NFAKEPEERWITHOUTCONNECT","name":"NFAKE","cluster":"C1","lnoc":true,"headers":true}\r\nRS+ $G foo\r\nPING\r\n');
    await c.waitFor("-ERR 'Authorization Violation'\r\n");
    await c.waitClosed();
    if (publish) await publish();
    return c.text;
  } finally {
    c.close();
  }
}

test('cluster authorization with timeout 0: INFO/RS+ before CONNECT is an Authorization Violation', async (t) => {
  const auth = { user: 'ruser', password: 'rpass', timeoutSec: 0 };
  const a = await startNode({ name: 'AT0', extra: { cluster: { name: 'C1', host: '127.0.0.1', port: 0, routes: [], noAdvertise: false, connectRetries: 0, authorization: auth } } });
  t.after(() => a.h.shutdown());
  const nc = await connect({ servers: a.h.clientUrl });
  t.after(() => nc.close());
  nc.subscribe('foo');
  await nc.flush();
  const text = await probeNoConnect(a.h.clusterPort!, async () => {
    nc.publish('foo', 'secret');
    await nc.flush();
  });
  assert.doesNotMatch(text, /RS\+|RMSG|PONG/, 'no interest, messages or PONG before CONNECT');

  // timeout 0 means the default auth timeout: a silent peer is still cut.
  const c = await RawClient.connect(a.h.clusterPort!);
  t.after(() => c.close());
  await c.waitFor("-ERR 'Authentication Timeout'\r\n");
  await c.waitClosed();
});

test('nats-server 2.9.10 refuses INFO/RS+ before CONNECT with timeout 0 too', { skip: natsServerSkip() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-rat0-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'r.conf');
  writeFileSync(conf, 'listen: 127.0.0.1:-1\ncluster { name: C1, listen: 127.0.0.1:-1, authorization { user: ruser, password: rpass, timeout: 0 } }\n');
  const ns = await spawnNatsServer(['-c', conf]);
  t.after(() => ns.stop());
  const port = await listenPort(ns, 'route');
  const text = await probeNoConnect(port);
  assert.doesNotMatch(text, /RS\+|RMSG|PONG/);
  const c = await RawClient.connect(port);
  t.after(() => c.close());
  await c.waitFor("-ERR 'Authentication Timeout'\r\n");
  await c.waitClosed();
});
