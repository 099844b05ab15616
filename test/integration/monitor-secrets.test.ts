// Monitoring endpoints never print passwords, tokens or private keys (issue 13).
// A config holds every kind of secret tsnats accepts (user passwords in the
// authorization block and in accounts, a bcrypt hash, cluster route credentials,
// route URLs with credentials, an authorization token, an nkey user whose seed is
// used by the client); every endpoint is read with clients and a route connected.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import { spawnTsnats, type ChildServer } from '../helpers/child.js';
import { waitUntil } from '../helpers/wait.js';

const ENDPOINTS = [
  '/varz', '/connz', '/connz?auth=1&subs=detail', '/connz?state=all&auth=1', '/routez?subs=1', '/accountz',
  '/accountz?acc=APP', '/accountz?acc=$G', '/accstatz?unused=1', '/subsz?subs=1', '/jsz?accounts=1', '/healthz',
  '/leafz', '/gatewayz',
];

function writeConf(t: TestContext, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-monsecrets-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'server.conf');
  writeFileSync(file, body);
  return file;
}

/** The port of a listener, from its start-up log line (monitoring and routes start after clients). */
async function portFrom(server: ChildServer, re: RegExp): Promise<number> {
  await waitUntil(() => re.test(server.output()), 10_000, `port line ${re}`);
  return Number(re.exec(server.output())![1]);
}

async function dumpAll(httpPort: number): Promise<string> {
  let all = '';
  for (const p of ENDPOINTS) {
    const r = await fetch(`http://127.0.0.1:${httpPort}${p}`);
    all += `\n== ${p} (${r.status})\n${await r.text()}`;
  }
  return all;
}

function assertNoSecret(dump: string, secrets: string[]): void {
  for (const s of secrets) {
    assert.ok(!dump.includes(s), `monitoring output contains the secret ${JSON.stringify(s)}:\n${dump.slice(Math.max(0, dump.indexOf(s) - 300), dump.indexOf(s) + 100)}`);
  }
}

test('users, accounts, bcrypt, route credentials and nkey seeds never appear in monitoring output', async (t) => {
  const nk = createUser();
  const seed = new TextDecoder().decode(nk.getSeed());
  const conf = writeConf(t, `
listen: 127.0.0.1:-1
http: 127.0.0.1:-1
server_name: secrets
accounts {
  APP { users = [ { user: app, password: "PW-app-7c1d9e" }, { nkey: ${nk.getPublicKey()} } ] }
  SYS { users = [ { user: sys, password: "PW-sys-02ab44" } ] }
}
system_account: SYS
authorization {
  users = [
    { user: alice, password: "PW-alice-93fa10" }
    { user: hashed, password: "$2a$04$tlvoqhUD4x1nu5MnqE9bGOlc9NAQ8A1qU0xKs1Ox2FsmYlPm2bhYK" }
  ]
}
cluster {
  name: C1
  listen: 127.0.0.1:-1
  authorization { user: route, password: "PW-route-55e1c0" }
  routes: [ "nats://route:PW-route-55e1c0@127.0.0.1:1" ]
}
`);
  const s = await spawnTsnats(['-c', conf]);
  t.after(() => s.stop());
  const httpPort = await portFrom(s, /monitor on 127\.0\.0\.1:(\d+)/);
  const ncs: NatsConnection[] = [];
  t.after(async () => { for (const nc of ncs) await nc.close(); });
  ncs.push(await connect({ port: s.port, user: 'alice', pass: 'PW-alice-93fa10' }));
  ncs.push(await connect({ port: s.port, user: 'app', pass: 'PW-app-7c1d9e' }));
  ncs.push(await connect({ port: s.port, user: 'sys', pass: 'PW-sys-02ab44' }));
  ncs.push(await connect({ port: s.port, authenticator: (await import('@nats-io/transport-node')).nkeyAuthenticator(nk.getSeed()) }));
  for (const nc of ncs) nc.subscribe('x.>');
  await Promise.all(ncs.map((nc) => nc.flush()));
  // A second server joins the cluster with the route credentials.
  const conf2 = writeConf(t, `
listen: 127.0.0.1:-1
server_name: peer
cluster { name: C1, listen: 127.0.0.1:-1, routes: [ "nats://route:PW-route-55e1c0@127.0.0.1:${await portFrom(s, /route connections on 127\.0\.0\.1:(\d+)/)}" ] }
`);
  const peer = await spawnTsnats(['-c', conf2]);
  t.after(() => peer.stop());
  await waitUntil(async () => ((await (await fetch(`http://127.0.0.1:${httpPort}/routez`)).json()) as { num_routes: number }).num_routes > 0,
    10_000, 'route up');
  const dump = await dumpAll(httpPort);
  assert.match(dump, /"authorized_user":\s*"alice"/, 'connz?auth=1 still shows user names');
  assertNoSecret(dump, ['PW-alice-93fa10', 'PW-app-7c1d9e', 'PW-sys-02ab44', 'PW-route-55e1c0', '$2a$04$tlvoqhUD4x1nu5MnqE9bGOlc9NAQ8A1qU0xKs1Ox2FsmYlPm2bhYK', seed]);
});

test('an authorization token never appears in monitoring output', async (t) => {
  const conf = writeConf(t, `
listen: 127.0.0.1:-1
http: 127.0.0.1:-1
authorization { token: "TOKEN-s3cr3t-8812" }
`);
  const s = await spawnTsnats(['-c', conf]);
  t.after(() => s.stop());
  const nc = await connect({ port: s.port, token: 'TOKEN-s3cr3t-8812' });
  t.after(() => nc.close());
  nc.subscribe('y');
  await nc.flush();
  assertNoSecret(await dumpAll(await portFrom(s, /monitor on 127\.0\.0\.1:(\d+)/)), ['TOKEN-s3cr3t-8812']);
});
