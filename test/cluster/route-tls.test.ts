// Route TLS (cluster { tls {} }): two tsnats nodes with mutual verification, a node
// whose certificate the cluster CA did not sign, and a mixed cluster with the real
// nats-server 2.9.10 where tsnats both accepts and dials TLS routes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { makeCerts, type CertFiles } from '../helpers/certs.js';
import { natsServerSkip, opensslSkip } from '../helpers/nats-server.js';
import { spawnNatsServer } from '../helpers/child.js';
import { startNode, waitFor, waitRoutes, waitRemoteInterest, type InProcNode } from './cluster-helpers.js';
import type { TlsConfig } from '../../src/config/options.js';

function routeTls(c: CertFiles, cert = c.serverCert, key = c.serverKey): TlsConfig {
  return { certFile: cert, keyFile: key, caFile: c.ca, verify: true, timeoutSec: 2 };
}

async function flows(from: NatsConnection, to: NatsConnection, subject: string, waitInterest: () => Promise<void>): Promise<void> {
  const sub = to.subscribe(subject, { max: 1 });
  await to.flush();
  await waitInterest();
  from.publish(subject, 'over tls');
  for await (const m of sub) assert.equal(m.string(), 'over tls');
}

test('two tsnats nodes route over TLS with mutual verification', { skip: opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  const a = await startNode({ name: 'A', extra: { cluster: { tls: routeTls(c) } as never } });
  t.after(() => a.h.shutdown());
  const b = await startNode({ name: 'B', routes: [a.routeUrl], extra: { cluster: { tls: routeTls(c) } as never } });
  t.after(() => b.h.shutdown());
  await waitRoutes([a, b], 1);
  const na = await connect({ port: a.h.port });
  const nb = await connect({ port: b.h.port });
  t.after(() => na.close());
  t.after(() => nb.close());
  await flows(na, nb, 'r.tls.1', () => waitRemoteInterest(a, 'r.tls.1'));
  await flows(nb, na, 'r.tls.2', () => waitRemoteInterest(b, 'r.tls.2'));
});

test('a node whose certificate the cluster CA did not sign gets no route', { skip: opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  const a = await startNode({ name: 'A', extra: { cluster: { tls: routeTls(c) } as never } });
  t.after(() => a.h.shutdown());
  const lines: string[] = [];
  a.h.server.log.sink = { write: (l: string) => lines.push(l) };
  // B presents a certificate of another CA (and trusts it): A refuses the handshake
  const b = await startNode({
    name: 'B', routes: [a.routeUrl],
    extra: { cluster: { tls: { certFile: c.otherCa, keyFile: c.otherCaKey, caFile: c.ca, verify: true, timeoutSec: 2 } } as never },
  });
  t.after(() => b.h.shutdown());
  await waitFor(() => lines.some((l) => /TLS route handshake error/.test(l)), 'A logs the refused handshake');
  assert.equal(a.cluster.numRoutes, 0);
  assert.equal(b.cluster.numRoutes, 0);
});

test('a mixed cluster with nats-server 2.9.10 routes over TLS both ways', { skip: opensslSkip() || natsServerSkip() }, async (t) => {
  const c = makeCerts(t);
  const a: InProcNode = await startNode({ name: 'A', clusterName: 'TLSMIX', extra: { cluster: { tls: routeTls(c) } as never } });
  t.after(() => a.h.shutdown());
  const conf = join(c.dir, 'ns.conf');
  writeFileSync(conf, [
    'listen: 127.0.0.1:-1',
    'server_name: NS',
    'cluster {',
    '  name: TLSMIX',
    '  listen: 127.0.0.1:-1',
    `  routes: ["nats-route://127.0.0.1:${a.h.clusterPort}"]`,
    `  tls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}", ca_file: "${c.ca}", verify: true, timeout: 2 }`,
    '}',
  ].join('\n'));
  const ns = await spawnNatsServer(['-c', conf, '-D']);
  t.after(() => ns.stop());
  // nats-server dialed A (tsnats accepted TLS)
  await waitRoutes([a], 1);
  let nsRoutePort = 0;
  await waitFor(() => {
    const m = /Listening for route connections on 127\.0\.0\.1:(\d+)/.exec(ns.output());
    nsRoutePort = m ? Number(m[1]) : 0;
    return nsRoutePort > 0;
  }, 'nats-server route port');
  // C dials nats-server (tsnats is the TLS client); gossip then links A and C as well
  const cNode = await startNode({
    name: 'C', clusterName: 'TLSMIX', routes: [`nats-route://127.0.0.1:${nsRoutePort}`],
    extra: { cluster: { tls: routeTls(c) } as never },
  });
  t.after(() => cNode.h.shutdown());
  await waitRoutes([a, cNode], 2, 15_000);
  const na = await connect({ port: a.h.port });
  const nn = await connect({ port: ns.port });
  const nc = await connect({ port: cNode.h.port });
  t.after(() => na.close());
  t.after(() => nn.close());
  t.after(() => nc.close());
  // nats-server -> tsnats: a responder on A; nats-server answers "no responders" until A's interest arrives
  const responder = na.subscribe('mix.1');
  void (async () => {
    for await (const m of responder) m.respond('from tsnats');
  })();
  await na.flush();
  let reply = '';
  await waitFor(async () => {
    try {
      reply = (await nn.request('mix.1', 'hi', { timeout: 1000 })).string();
      return true;
    } catch {
      return false;
    }
  }, 'a request through nats-server reaches A');
  assert.equal(reply, 'from tsnats');
  await flows(na, nn, 'mix.2', () => waitRemoteInterest(a, 'mix.2'));
  await flows(nc, nn, 'mix.3', () => waitRemoteInterest(cNode, 'mix.3'));
  assert.doesNotMatch(ns.output(), /TLS route handshake error/);
});
