// A server whose config needs neither TLS, bcrypt passwords nor route host names never loads
// node:tls, node:worker_threads or node:dns/promises (each is loaded on first use,
// src/core/lazy-modules.ts): they cost every cluster server's start CPU (node:tls alone is 27
// internal modules). The server is the `tsnats` command as users run it (the bundle when built),
// with JetStream, a cluster listener routing to a port nobody listens on, and monitoring; a
// preloaded script records the built-in modules the process loaded by the time it exits.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { cliPath, spawnServer } from '../helpers/child.js';

const LAZY = ['tls', 'worker_threads', 'dns/promises'];

test('a JetStream cluster server without TLS, bcrypt or host names loads no tls, worker_threads or dns/promises', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const out = join(dir, 'modules.txt');
  const preload = join(dir, 'record.cjs');
  writeFileSync(preload, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(out)}, process.moduleLoadList.join('\\n')));\n`);
  const conf = join(dir, 'n.conf');
  writeFileSync(conf, [
    'server_name: lazy', 'listen: 127.0.0.1:-1', 'http: 127.0.0.1:-1',
    `jetstream { store_dir: "${join(dir, 'js')}" }`,
    'cluster { name: C, listen: 127.0.0.1:-1, routes: [ nats-route://127.0.0.1:1 ] }',
  ].join('\n'));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const srv = await spawnServer(process.execPath, ['-r', preload, cliPath(), '-c', conf], { env });
  t.after(() => srv.stop('SIGKILL'));
  // A client's round trip: the server is past its start, serving.
  const nc = await connect({ servers: `127.0.0.1:${srv.port}`, reconnect: false });
  await nc.flush();
  await nc.close();
  assert.equal(await srv.stop('SIGTERM', 10_000), 0, srv.output());
  const loaded = new Set(readFileSync(out, 'utf8').split('\n').filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length)));
  assert.ok(loaded.has('net') && loaded.has('http'), `the record lists the built-ins in use: ${[...loaded].join(' ')}`);
  assert.deepEqual(LAZY.filter((m) => loaded.has(m)), [], 'built-ins loaded that this config never uses');
});
