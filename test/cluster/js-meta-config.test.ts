// Clustered JetStream needs a server name and a cluster name: nats-server 2.9.10 refuses to start
// without either (exit code 1, the reason on stderr), and tsnats (with TSNATS_META=1) must too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMPLS, natsServerBin, skipReason, tsnatsCli, type Impl } from './js-cluster-harness.js';

function run(impl: Impl, conf: string): Promise<{ code: number | null; out: string }> {
  const [cmd, args] = impl === 'nats-server' ? [natsServerBin()!, ['-c', conf]] : [process.execPath, [tsnatsCli(), '-c', conf]];
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    p.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, out }));
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
      assert.equal(r.code, 1, `${id}: exit code 1 (output: ${r.out.slice(-500)})`);
      assert.ok(r.out.includes(msg), `${id}: says "${msg}" (output: ${r.out.slice(-500)})`);
    }
  });
}
