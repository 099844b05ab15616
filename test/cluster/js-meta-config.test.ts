// Clustered JetStream needs a server name, a cluster name and configured routes: nats-server 2.9.10
// refuses to start without any of them (exit code 1, the reason on stderr), and tsnats must too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMPLS, natsServerBin, skipReason, tsnatsCli, type Impl } from './js-cluster-harness.js';

/**
 * Start the server with `conf`; resolves when it exits, or — if it starts serving instead of
 * refusing the config — as soon as it logs that it is ready (then it is killed and `started` is set).
 */
function run(impl: Impl, conf: string): Promise<{ code: number | null; out: string; started: boolean }> {
  return runArgs(impl, ['-c', conf]);
}

/** As run(), with the server's command line arguments. */
function runArgs(impl: Impl, argv: string[]): Promise<{ code: number | null; out: string; started: boolean }> {
  const [cmd, args] = impl === 'nats-server' ? [natsServerBin()!, argv] : [process.execPath, [tsnatsCli(), ...argv]];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let started = false;
    const onData = (b: Buffer): void => {
      out += b.toString();
      if (!started && out.includes('Server is ready')) {
        started = true;
        p.kill('SIGKILL');
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out, started }));
  });
}

for (const impl of IMPLS) {
  test(`${impl}: JetStream with a cluster block and no server_name, or no cluster name, does not start`, { skip: skipReason(impl) }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsnats-jscfg-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The route goes nowhere (port 1): the server must refuse before it would ever use it.
    const cases: [string, string, string][] = [
      ['noname', '', 'name: C1, ', 'jetstream cluster requires `server_name` to be set'],
      ['nocluster', 'server_name: x1\n', '', 'jetstream cluster requires `cluster.name` to be set'],
    ].map(([id, serverName, clusterName, msg]) => {
      const conf = join(dir, `${id}.conf`);
      writeFileSync(conf, `${serverName}listen: 127.0.0.1:-1\njetstream { store_dir: "${join(dir, id)}" }\n`
        + `cluster { ${clusterName}listen: 127.0.0.1:-1, routes: [nats-route://127.0.0.1:1] }\n`);
      return [id, conf, msg!];
    });
    for (const [id, conf, msg] of cases) {
      const r = await run(impl, conf);
      assert.equal(r.started, false, `${id}: the server must refuse to start (output: ${r.out.slice(-500)})`);
      assert.equal(r.code, 1, `${id}: exit code 1 (output: ${r.out.slice(-500)})`);
      assert.ok(r.out.includes(msg), `${id}: says "${msg}" (output: ${r.out.slice(-500)})`);
    }
  });
}

for (const impl of IMPLS) {
  test(`${impl}: JetStream with a cluster and no routes does not start ([FTL] Can't start JetStream, exit 1)`, { skip: skipReason(impl) }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsnats-jsnoroutes-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const msg = "[FTL] Can't start JetStream: JetStream cluster requires configured routes or solicited leafnode for the system account";
    const conf = join(dir, 'noroutes.conf');
    writeFileSync(conf, `server_name: x1\nlisten: 127.0.0.1:-1\njetstream { store_dir: "${join(dir, 'conf')}" }\n`
      + 'cluster { name: C1, listen: 127.0.0.1:-1 }\n');
    const viaFlags = ['-js', '-sd', join(dir, 'flags'), '-n', 'x1', '-a', '127.0.0.1', '-p', '-1', '--cluster_name', 'C1', '--cluster', 'nats://127.0.0.1:-1'];
    for (const [id, args] of [['config file', ['-c', conf]], ['flags', viaFlags]] as const) {
      const r = await runArgs(impl, [...args]);
      assert.equal(r.started, false, `${id}: the server must refuse to start (output: ${r.out.slice(-500)})`);
      assert.equal(r.code, 1, `${id}: exit code 1 (output: ${r.out.slice(-500)})`);
      assert.ok(r.out.includes(msg), `${id}: says "${msg}" (output: ${r.out.slice(-500)})`);
      assert.ok(!r.out.includes('Listening for client connections'), `${id}: no client listener (output: ${r.out.slice(-500)})`);
    }
  });
}
