// Leaf-node TLS, tsnats on both sides (in-process): `leafnodes { tls {} }` on the hub makes
// its INFO require TLS and the leaf upgrades after reading it (with or without a tls://
// url), mutual verification with client certificates, and the handshake failures nats-server
// refuses (no client certificate for a verifying hub, a hub certificate from an unknown CA).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Msg } from '@nats-io/transport-node';
import { captureLog, startTestServer, type ServerHandle } from '../helpers/server.js';
import { makeCerts, type CertFiles } from '../helpers/certs.js';
import { opensslSkip } from '../helpers/nats-server.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitUntil } from '../helpers/wait.js';
import { leafOpts } from '../helpers/leaf.js';
import { getLeafnodes } from '../../src/leaf/index.js';
import type { LeafRemoteOptions, TlsConfig } from '../../src/config/options.js';

const skip = opensslSkip();

async function tlsHub(t: TestContext, c: CertFiles, verify: boolean): Promise<{ hub: ServerHandle; port: number; log: string[] }> {
  const tls: TlsConfig = { certFile: c.serverCert, keyFile: c.serverKey, caFile: c.ca, verify };
  const hub = await startTestServer({ leafnodes: leafOpts({ port: 0, tls }) }, t);
  return { hub, port: getLeafnodes(hub.server)!.port, log: captureLog(hub) };
}

async function leafWith(t: TestContext, remote: LeafRemoteOptions): Promise<{ leaf: ServerHandle; log: string[] }> {
  const leaf = await startTestServer({ leafnodes: leafOpts({ remotes: [remote] }) }, t);
  return { leaf, log: captureLog(leaf) };
}

const linked = (h: ServerHandle): number => getLeafnodes(h.server)!.connections().length;

test('leaf TLS: the hub INFO requires TLS, mutual verification, messages both ways over TLS', { skip }, async (t) => {
  const c = makeCerts(t);
  const { hub, port } = await tlsHub(t, c, true);
  const info = (await RawClient.connectInfo(port));
  info.c.close();
  assert.equal(info.info.tls_required, true);
  assert.equal(info.info.tls_verify, true);

  const { leaf } = await leafWith(t, {
    urls: [`tls://127.0.0.1:${port}`], tls: { certFile: c.clientCert, keyFile: c.clientKey, caFile: c.ca },
  });
  await waitUntil(() => linked(hub) === 1 && linked(leaf) === 1, 10_000, 'TLS leaf link');
  assert.equal(getLeafnodes(hub.server)!.connections()[0]!.tls, true);
  assert.equal(getLeafnodes(leaf.server)!.connections()[0]!.tls, true);

  const hc = await connect({ servers: hub.clientUrl });
  t.after(() => hc.close());
  const lc = await connect({ servers: leaf.clientUrl });
  t.after(() => lc.close());
  const onLeaf: Msg[] = [];
  lc.subscribe('down', { callback: (_e, m) => { onLeaf.push(m); } });
  lc.subscribe('svc', { callback: (_e, m) => { m.respond(`r:${m.string()}`); } });
  await lc.flush();
  await waitUntil(() => hub.server.globalAccount.sublist.hasInterest('svc'), 5000, 'leaf interest on the hub');
  hc.publish('down', 'x'.repeat(40_000));
  const r = await hc.request('svc', 'q', { timeout: 5000 });
  assert.equal(r.string(), 'r:q');
  await waitUntil(() => onLeaf.length === 1, 5000, 'large message over TLS');
  assert.equal(onLeaf[0]!.data.length, 40_000);
});

test('leaf TLS: a nats:// remote upgrades when the hub requires TLS (CA from the remote tls block)', { skip }, async (t) => {
  const c = makeCerts(t);
  const { hub, port } = await tlsHub(t, c, false);
  const { leaf } = await leafWith(t, { urls: [`nats://127.0.0.1:${port}`], tls: { caFile: c.ca } });
  await waitUntil(() => linked(hub) === 1 && linked(leaf) === 1, 10_000, 'TLS leaf link');
  assert.equal(getLeafnodes(leaf.server)!.connections()[0]!.tls, true);
});

test('leaf TLS: no client certificate for a verifying hub, or an unknown hub CA, never links', { skip }, async (t) => {
  const c = makeCerts(t);
  const { hub, port, log } = await tlsHub(t, c, true);
  const { leaf: noCert } = await leafWith(t, { urls: [`tls://127.0.0.1:${port}`], tls: { caFile: c.ca } });
  const { leaf: wrongCa, log: wrongLog } = await leafWith(t, {
    urls: [`tls://127.0.0.1:${port}`], tls: { certFile: c.clientCert, keyFile: c.clientKey, caFile: c.otherCa },
  });
  // Both keep retrying; the hub reports the failed handshakes and binds nothing.
  await waitUntil(() => log.filter((l) => /TLS leafnode handshake error/.test(l)).length >= 4, 10_000, 'hub handshake errors');
  await waitUntil(() => wrongLog.some((l) => /TLS leafnode handshake error/.test(l)), 10_000, 'leaf refuses the hub certificate');
  assert.equal(linked(hub), 0);
  assert.equal(linked(wrongCa), 0);
  void noCert;
});
