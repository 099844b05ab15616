// Hole (issue 13): a TLS configuration was accepted and ignored, so the client
// port ran in plaintext. Until tsnats implements TLS, every way of asking for it
// (client tls block, --tls flags, cluster tls, https monitoring) must stop the
// server at start-up and fail `-t`.
//
// Deliberate difference from nats-server 2.9.10, checked below: nats-server
// accepts these configs (and serves TLS: its INFO says tls_required); tsnats
// refuses them, because running the same config without TLS would be unsafe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTsnats, spawnNatsServer } from '../helpers/child.js';
import { natsServerSkip, opensslSkip, requireOpenssl } from '../helpers/nats-server.js';

function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(requireOpenssl(), [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

function configs(dir: string): Record<string, string> {
  const { cert, key } = makeCert(dir);
  const tls = `tls { cert_file: "${cert}", key_file: "${key}" }`;
  const files: Record<string, string> = {
    client: `listen: 127.0.0.1:-1\n${tls}\n`,
    verify: `listen: 127.0.0.1:-1\ntls { cert_file: "${cert}", key_file: "${key}", ca_file: "${cert}", verify: true }\n`,
    cluster: `listen: 127.0.0.1:-1\ncluster { name: C, listen: 127.0.0.1:-1, ${tls} }\n`,
    https: `listen: 127.0.0.1:-1\nhttps: 127.0.0.1:-1\n${tls}\n`,
  };
  const paths: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    paths[name] = join(dir, `${name}.conf`);
    writeFileSync(paths[name], text);
  }
  return paths;
}

test('a TLS config is refused at start-up and by -t, never run in plaintext', { skip: opensslSkip() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-tlsref-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = configs(dir);
  const want: Record<string, RegExp> = {
    client: /client connections/, verify: /client connections/, cluster: /routes \(cluster tls block\)/, https: /monitoring/,
  };
  for (const [name, file] of Object.entries(conf)) {
    for (const args of [['-c', file], ['-c', file, '-t']]) {
      const s = await spawnTsnats(args, { waitListening: false });
      const code = await s.exited;
      assert.equal(code, 1, `${args.join(' ')} exits 1: ${s.output()}`);
      assert.match(s.output(), /TLS is not supported by tsnats yet/, `${args.join(' ')}`);
      assert.match(s.output(), want[name], `${args.join(' ')}`);
      assert.doesNotMatch(s.output(), /Listening for client connections/, `${args.join(' ')} never listens`);
    }
  }
  const { cert, key } = makeCert(dir);
  for (const flags of [['--tls', '--tlscert', cert, '--tlskey', key], ['--tlsverify', '--tlscert', cert, '--tlskey', key, '--tlscacert', cert]]) {
    const s = await spawnTsnats(['-a', '127.0.0.1', '-p', '-1', ...flags], { waitListening: false });
    assert.equal(await s.exited, 1, s.output());
    assert.match(s.output(), /TLS is not supported by tsnats yet.*client connections/);
    assert.doesNotMatch(s.output(), /Listening for client connections/);
  }
});

test('nats-server accepts the same TLS configs and requires TLS on the client port (why we refuse)', {
  skip: opensslSkip() || natsServerSkip(),
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-tlsref-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = configs(dir);
  for (const file of Object.values(conf)) {
    const s = await spawnNatsServer(['-c', file, '-t'], { waitListening: false });
    assert.equal(await s.exited, 0, `nats-server -t ${file}: ${s.output()}`);
  }
  const ns = await spawnNatsServer(['-c', conf.client]);
  t.after(() => ns.stop());
  const info = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(ns.port, '127.0.0.1');
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) { sock.destroy(); resolve(buf); }
    });
    sock.on('error', reject);
  });
  assert.match(info, /^INFO /);
  assert.equal(JSON.parse(info.slice(5, info.indexOf('\r\n'))).tls_required, true);
});
