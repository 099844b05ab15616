// The CLI as a child process: version, ports file, pid file, SIGTERM, SIGUSR2
// (lame duck), SIGHUP (reload), re-binding the same port at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { cliPath, spawnTsnats } from '../helpers/child.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitUntil } from '../helpers/wait.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'tsnats-cli-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

test('--version', () => {
  const out = execFileSync(process.execPath, [cliPath(), '--version']).toString();
  assert.equal(out, 'nats-server: v2.10.0\n');
});

test('ports file, pid file, SIGTERM and an immediate restart on the same port', async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, 'tsnats.pid');
  const srv = await spawnTsnats(['-a', '127.0.0.1', '-p', '-1', '--ports_file_dir', dir, '-P', pidFile, '-n', 'cli-test']);
  t.after(() => srv.stop('SIGKILL'));
  const portsFile = join(dir, `${basename(process.execPath)}_${srv.pid}.ports`);
  await waitUntil(() => existsSync(portsFile), 1000, 'ports file');
  assert.deepEqual(JSON.parse(readFileSync(portsFile, 'utf8')), { nats: [`nats://127.0.0.1:${srv.port}`] });
  assert.equal(readFileSync(pidFile, 'utf8'), String(srv.pid));
  assert.match(srv.output(), /\[\d+\] \d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d{6} \[INF\] Starting nats-server/);
  assert.match(srv.output(), /\[INF\]   Version:  2\.10\.0/);
  assert.match(srv.output(), /\[INF\]   Name:     cli-test/);
  assert.match(srv.output(), /\[INF\]   ID:       N[A-Z2-7]{55}/);

  // A connected client at shutdown leaves TIME_WAIT sockets behind on the server port.
  const nc = await connect({ servers: `nats://127.0.0.1:${srv.port}`, reconnect: false });
  await nc.flush();
  assert.equal(await srv.stop('SIGTERM'), 0);
  await nc.closed();
  assert.equal(existsSync(portsFile), false, 'ports file removed at shutdown');
  assert.match(srv.output(), /Server Exiting\.\./);

  const again = await spawnTsnats(['-a', '127.0.0.1', '-p', String(srv.port)]);
  t.after(() => again.stop('SIGKILL'));
  assert.equal(again.port, srv.port);
  const { c } = await RawClient.connectInfo(again.port);
  c.close();
  assert.equal(await again.stop('SIGINT'), 0);
});

test('SIGUSR2 puts the server in lame duck mode', async (t) => {
  const dir = tempDir(t);
  const conf = join(dir, 'ldm.conf');
  writeFileSync(conf, 'listen: "127.0.0.1:-1"\nlame_duck_duration: "30s"\nlame_duck_grace_period: "200ms"\n');
  const srv = await spawnTsnats(['-c', conf]);
  t.after(() => srv.stop('SIGKILL'));
  const raw = await RawClient.connect(srv.port);
  t.after(() => raw.close());
  raw.send('CONNECT {"verbose":false,"protocol":1}\r\n');
  await raw.flushPing();
  raw.clear();
  srv.proc.kill('SIGUSR2');
  assert.match(await raw.waitFor(/INFO \{.*\} \r\n/), /"ldm":true/);
  await raw.waitClosed(5000);
  assert.equal(await srv.exited, 0);
  assert.match(srv.output(), /Entering lame duck mode, stop accepting new clients/);
});

test('SIGHUP reloads the config file', async (t) => {
  const dir = tempDir(t);
  const conf = join(dir, 'reload.conf');
  writeFileSync(conf, 'listen: "127.0.0.1:-1"\nmax_payload: 1000\n');
  const srv = await spawnTsnats(['-c', conf]);
  t.after(() => srv.stop('SIGKILL'));
  const first = await RawClient.connectInfo(srv.port);
  first.c.close();
  assert.equal(first.info.max_payload, 1000);
  writeFileSync(conf, 'listen: "127.0.0.1:-1"\nmax_payload: 2000\n');
  srv.proc.kill('SIGHUP');
  await waitUntil(() => /Reloaded server configuration/.test(srv.output()), 3000, 'reload logged');
  // the changed option is named before the summary line, as nats-server logs them
  assert.match(srv.output(), /Reloaded: maxPayloadBytes[^\n]*\n[^\n]*Reloaded server configuration/);
  const second = await RawClient.connectInfo(srv.port);
  second.c.close();
  assert.equal(second.info.max_payload, 2000);
  assert.equal(await srv.stop(), 0);
  assert.deepEqual(readdirSync(dir), ['reload.conf']);
});

test('the CLI enforces the users of the config file', async (t) => {
  const dir = tempDir(t);
  const conf = join(dir, 'auth.conf');
  writeFileSync(conf, 'listen: "127.0.0.1:-1"\naccounts { APP { users: [ { user: a, password: a } ] } }\n');
  const srv = await spawnTsnats(['-c', conf]);
  t.after(() => srv.stop('SIGKILL'));
  const { c, info } = await RawClient.connectInfo(srv.port);
  t.after(() => c.close());
  assert.equal(info.auth_required, true);
  c.send('CONNECT {"verbose":false,"user":"a","pass":"b"}\r\nPING\r\n');
  await c.waitClosed();
  assert.equal(c.text, "-ERR 'Authorization Violation'\r\n");
  const nc = await connect({ servers: `nats://127.0.0.1:${srv.port}`, user: 'a', pass: 'a' });
  await nc.flush();
  await nc.close();
});
