// Issue 13: a TLS configuration must never be accepted and then ignored. Client,
// route and https monitoring TLS are served now (tls-client, tls-cluster tests); the
// TLS settings tsnats cannot honour (the Windows certificate store, OCSP peer checks,
// unsupported settings in websocket or leafnode TLS) stop the
// server at start-up and fail `-t`, with a message naming them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnTsnats, spawnNatsServer } from '../helpers/child.js';
import { natsServerSkip, opensslSkip } from '../helpers/nats-server.js';
import { makeCerts } from '../helpers/certs.js';
import { waitUntil } from '../helpers/wait.js';
import { RawClient } from '../helpers/raw-client.js';

async function firstInfo(port: number): Promise<Record<string, unknown>> {
  const { c, info } = await RawClient.connectInfo(port);
  c.close();
  return info;
}

test('TLS settings tsnats cannot honour are refused at start-up and by -t', { skip: opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  const tls = `cert_file: "${c.serverCert}", key_file: "${c.serverKey}"`;
  const cases: Record<string, [string, RegExp]> = {
    ocsp_peer: [`listen: 127.0.0.1:-1\ntls { ${tls}, ca_file: "${c.ca}", verify: true, ocsp_peer: true }\n`, /client connections \(tls block\): ocsp_peer/],
    cert_store: [`listen: 127.0.0.1:-1\ntls { cert_store: "WindowsCurrentUser", cert_match_by: "Subject", cert_match: "x" }\n`, /no cert_file\/key_file/],
    // leaf TLS is served (test/integration/leaf-tls.test.ts); what it cannot honour is refused
    leafnodes: [`listen: 127.0.0.1:-1\nleafnodes { listen: 127.0.0.1:-1, tls { ${tls}, ca_file: "${c.ca}", verify: true, ocsp_peer: true } }\n`, /leafnodes \(tls block\): ocsp_peer/],
    // wss is served (test/integration/websocket-tls.test.ts); what it cannot honour is refused
    websocket: [`listen: 127.0.0.1:-1\nwebsocket { listen: 127.0.0.1:-1, tls { ${tls}, connection_rate_limit: 5 } }\n`, /websocket \(tls block\): connection_rate_limit/],
    known_urls: [`listen: 127.0.0.1:-1\ncluster { name: C, listen: 127.0.0.1:-1, tls { ${tls}, ca_file: "${c.ca}", verify_cert_and_check_known_urls: true } }\n`, /routes \(cluster tls block\): verify_cert_and_check_known_urls/],
  };
  for (const [name, [text, want]] of Object.entries(cases)) {
    const file = join(c.dir, `${name}.conf`);
    writeFileSync(file, text);
    for (const args of [['-c', file], ['-c', file, '-t']]) {
      const s = await spawnTsnats(args, { waitListening: false });
      assert.equal(await s.exited, 1, `${name} ${args.join(' ')}: ${s.output()}`);
      assert.match(s.output(), /TLS setting not supported by tsnats; refusing to start/, name);
      assert.match(s.output(), want, name);
      assert.doesNotMatch(s.output(), /Listening for client connections/, `${name} never listens`);
    }
  }
});

test('the CLI serves TLS from a config file and from --tls flags', { skip: opensslSkip() }, async (t) => {
  const c = makeCerts(t);
  const file = join(c.dir, 'client.conf');
  writeFileSync(file, `listen: 127.0.0.1:-1\ntls { cert_file: "${c.serverCert}", key_file: "${c.serverKey}", ca_file: "${c.ca}", verify: true }\n`);
  const byFile = await spawnTsnats(['-c', file]);
  t.after(() => byFile.stop());
  await waitUntil(() => /TLS required for client connections/.test(byFile.output()), 10_000);
  const info = await firstInfo(byFile.port);
  assert.equal(info.tls_required, true);
  assert.equal(info.tls_verify, true);
  const byFlags = await spawnTsnats(['-a', '127.0.0.1', '-p', '-1', '--tls', '--tlscert', c.serverCert, '--tlskey', c.serverKey]);
  t.after(() => byFlags.stop());
  const info2 = await firstInfo(byFlags.port);
  assert.equal(info2.tls_required, true);
  assert.equal(info2.tls_verify, undefined);
  const missing = await spawnTsnats(['-a', '127.0.0.1', '-p', '-1', '--tls', '--tlscert', join(c.dir, 'nope.pem'), '--tlskey', c.serverKey], { waitListening: false });
  assert.equal(await missing.exited, 1);
  assert.match(missing.output(), /open .*nope\.pem: no such file or directory/);
});

test('nats-server gives the same INFO TLS fields for the same configs', { skip: opensslSkip() || natsServerSkip() }, async (t) => {
  const c = makeCerts(t);
  const tls = `cert_file: "${c.serverCert}", key_file: "${c.serverKey}"`;
  const confs = {
    required: `listen: 127.0.0.1:-1\ntls { ${tls} }\n`,
    verify: `listen: 127.0.0.1:-1\ntls { ${tls}, ca_file: "${c.ca}", verify: true }\n`,
    available: `listen: 127.0.0.1:-1\nallow_non_tls: true\ntls { ${tls} }\n`,
  };
  for (const [name, text] of Object.entries(confs)) {
    const file = join(c.dir, `${name}.conf`);
    writeFileSync(file, text);
    const ns = await spawnNatsServer(['-c', file]);
    const ts = await spawnTsnats(['-c', file]);
    try {
      const a = await firstInfo(ns.port);
      const b = await firstInfo(ts.port);
      for (const k of ['tls_required', 'tls_verify', 'tls_available']) assert.equal(b[k], a[k], `${name} ${k}`);
    } finally {
      await ns.stop();
      await ts.stop();
    }
  }
});
