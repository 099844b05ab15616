// Holes (issue 13) in config authentication, each sent to tsnats and to
// nats-server 2.9.10 with the same config file:
//  - no_auth_user was used even when a client sent (wrong) credentials;
//  - allowed_connection_types was parsed but not enforced on the client port;
//  - the -V trace printed a password when the CONNECT JSON was spaced or escaped
//    differently (tsnats only: nats-server 2.9.10 itself only redacts `pass`).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../helpers/raw-client.js';
import { spawnTsnats, spawnNatsServer, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { waitUntil } from '../helpers/wait.js';

const CONF = `listen: 127.0.0.1:-1
authorization {
  users = [
    { user: alice, password: "alice-pw" }
    { user: bob, password: "bob-pw" }
    { user: leafonly, password: "p1", allowed_connection_types: ["LEAFNODE"] }
    { user: wsonly, password: "p2", allowed_connection_types: ["WEBSOCKET", "MQTT"] }
    { user: std, password: "p3", allowed_connection_types: ["STANDARD"] }
  ]
}
no_auth_user: bob
`;

/** CONNECT lines and whether the server lets them in. */
const CASES: [string, Record<string, unknown>, boolean][] = [
  ['no credentials: no_auth_user', {}, true],
  ['right password', { user: 'alice', pass: 'alice-pw' }, true],
  ['wrong password', { user: 'alice', pass: 'wrong' }, false],
  ['password of the same length', { user: 'alice', pass: 'alice-pX' }, false],
  ['password prefix', { user: 'alice', pass: 'alice' }, false],
  ['only a password', { pass: 'whatever' }, false],
  ['only a token', { auth_token: 'whatever' }, false],
  ['unknown user', { user: 'mallory', pass: 'x' }, false],
  ['user limited to LEAFNODE', { user: 'leafonly', pass: 'p1' }, false],
  ['user limited to WEBSOCKET/MQTT', { user: 'wsonly', pass: 'p2' }, false],
  ['user limited to STANDARD', { user: 'std', pass: 'p3' }, true],
];

async function admitted(port: number, connect: Record<string, unknown>): Promise<boolean> {
  const c = await RawClient.connect(port);
  try {
    await c.readLine();
    c.send(`CONNECT ${JSON.stringify({ verbose: false, pedantic: false, ...connect })}\r\nPING\r\n`);
    const text = await c.waitFor((x) => x.includes('PONG\r\n') || x.includes('-ERR'));
    if (text.includes('-ERR')) {
      assert.match(text, /-ERR 'Authorization Violation'\r\n/);
      await c.waitClosed();
      return false;
    }
    return true;
  } finally {
    c.close();
  }
}

async function verdicts(server: ChildServer): Promise<string[]> {
  const out: string[] = [];
  for (const [name, connect] of CASES) out.push(`${name}: ${await admitted(server.port, connect) ? 'in' : 'refused'}`);
  return out;
}

function confFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-authholes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'auth.conf');
  writeFileSync(file, CONF);
  return file;
}

const expected = CASES.map(([name, , ok]) => `${name}: ${ok ? 'in' : 'refused'}`);

test('tsnats: no_auth_user only without credentials; allowed_connection_types enforced', async (t) => {
  const s = await spawnTsnats(['-c', confFile(t)]);
  t.after(() => s.stop());
  assert.deepEqual(await verdicts(s), expected);
});

test('nats-server 2.9.10 gives the same verdicts', { skip: natsServerSkip() }, async (t) => {
  const s = await spawnNatsServer(['-c', confFile(t)]);
  t.after(() => s.stop());
  assert.deepEqual(await verdicts(s), expected);
});

test('-V trace never prints a password or token, however the CONNECT JSON is written', async (t) => {
  const s = await spawnTsnats(['-c', confFile(t), '-V']);
  t.after(() => s.stop());
  const connects = [
    '{"user":"alice", "pass" : "SECRET-spaced-1", "verbose":false}',
    '{"user":"alice",\t"pass":\t"SECRET\\"escaped-2","verbose":false}',
    '{"user":"alice","p\\u0061ss":"SECRET-keyescape-3","verbose":false}',
    '{"auth_token" :"SECRET-token-4","verbose":false}',
    '{"user":"alice","pass":12345678901,"verbose":false}',
    '{"user":"alice","pass":"alice-pw","pass":"SECRET-dup-5","verbose":false}',
    '{"user":"alice","pass":"SECRET-broken-6"',
  ];
  for (const line of connects) {
    const c = await RawClient.connect(s.port);
    t.after(() => c.close());
    await c.readLine();
    c.send(`CONNECT ${line}\r\nPING\r\n`);
    // a broken CONNECT is closed without an answer: the wait ends on the close
    await c.waitFor((x) => x.includes('PONG') || x.includes('-ERR')).catch(() => undefined);
  }
  const traced = () => s.output().split('\n').filter((l) => l.includes('<<- [CONNECT')).length;
  await waitUntil(() => traced() >= connects.length, 10_000, 'every CONNECT traced');
  assert.doesNotMatch(s.output(), /SECRET|12345678901/);
  assert.match(s.output(), /\[REDACTED\]/);
});
