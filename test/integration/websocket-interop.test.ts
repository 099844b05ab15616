// Websocket behaviour side by side with nats-server 2.9.10 (child processes of both, same
// config file): the start-up refusals of the websocket block, the INFO a websocket client
// gets, origin rejection, the close frames of an auth failure and a protocol error, and the
// user JWT taken from a cookie (jwt_cookie) in operator mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath, spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip, requireNatsServer } from '../helpers/nats-server.js';
import { waitUntil } from '../helpers/wait.js';
import { rawWs, refusedUpgrade } from '../helpers/ws.js';
import { accountJwt, createAccount, createUser, newOperator, operatorConfig, userJwt } from '../helpers/jwt-flow.js';

function confFile(t: { after(fn: () => void): void }, text: string): string {
  const d = mkdtempSync(join(tmpdir(), 'tsnats-ws-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  const f = join(d, 'ws.conf');
  writeFileSync(f, text);
  return f;
}

/** Exit code and output of a server that must refuse to start. */
function refusal(cmd: string, args: string[]): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { timeout: 15000, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const REFUSED: [string, string][] = [
  ['websocket { port: -1 }', 'websocket requires TLS configuration'],
  ['websocket { port: -1, no_tls: true, jwt_cookie: "my_jwt" }',
    'trusted operators or trusted keys configuration is required for JWT authentication via cookie "my_jwt"'],
  ['authorization { users: [{user: a, password: b}] }\nwebsocket { port: -1, no_tls: true, authorization { username: x, password: y } }',
    'websocket authentication username not compatible with presence of users/nkeys'],
  ['authorization { users: [{user: a, password: b}] }\nwebsocket { port: -1, no_tls: true, authorization { token: x } }',
    'websocket authentication token not compatible with presence of users/nkeys'],
  ['authorization { users: [{user: a, password: b}] }\nwebsocket { port: -1, no_tls: true, no_auth_user: zed }',
    'no_auth_user: "zed" not present as user in authorization block or account configuration'],
  ['websocket { port: -1, no_tls: true, no_auth_user: zed }', 'no_auth_user: "zed" present, but users are not defined'],
];

test('websocket block refusals at start-up match nats-server', { skip: natsServerSkip() }, (t) => {
  const bin = requireNatsServer();
  for (const [conf, text] of REFUSED) {
    const f = confFile(t, `port: -1\n${conf}\n`);
    const ns = refusal(bin, ['-c', f]);
    const ts = refusal(process.execPath, [cliPath(), '-c', f]);
    assert.equal(ns.code, 1, `nats-server: ${ns.out}`);
    assert.ok(ns.out.includes(text), `nats-server says: ${ns.out}`);
    assert.equal(ts.code, 1, `tsnats: ${ts.out}`);
    assert.ok(ts.out.includes(text), `tsnats says: ${ts.out}`);
  }
});

const WS_LINE = /Listening for websocket clients on ws:\/\/[^:]+:(\d+)/;

async function wsPort(s: ChildServer): Promise<number> {
  await waitUntil(() => WS_LINE.test(s.output()), 10000, 'the websocket listener line');
  return Number(WS_LINE.exec(s.output())![1]);
}

async function observe(url: string): Promise<Record<string, unknown>> {
  const info = await rawWs(url);
  const infoKeys = Object.keys(JSON.parse(info.received[0]!.slice(5)));
  info.ws.close();
  const badOrigin = await refusedUpgrade(url, { headers: { Origin: 'http://evil.example' } });
  const authFail = await rawWs(url);
  authFail.ws.send('CONNECT {"verbose":false,"auth_token":"bad"}\r\n');
  const authClose = await authFail.closed;
  const okConn = await rawWs(url);
  okConn.ws.send('CONNECT {"verbose":false,"auth_token":"tok"}\r\nPING\r\n');
  await waitUntil(() => okConn.received.some((m) => m.includes('PONG')), 5000, 'PONG');
  okConn.ws.send('FOO\r\n');
  const protoClose = await okConn.closed;
  return {
    infoKeys,
    badOrigin: { status: badOrigin.status, body: badOrigin.body, version: badOrigin.headers['sec-websocket-version'] },
    authClose,
    authErr: authFail.received.filter((m) => m.startsWith('-ERR')),
    protoClose,
    protoErr: okConn.received.filter((m) => m.startsWith('-ERR')),
  };
}

test('a websocket client sees the same INFO fields, rejections and close frames as from nats-server', { skip: natsServerSkip() }, async (t) => {
  const conf = 'port: -1\nnet: 127.0.0.1\nwebsocket { port: -1, host: 127.0.0.1, no_tls: true, '
    + 'allowed_origins: ["http://good.example"], authorization { token: tok } }\n';
  const f = confFile(t, conf);
  const ns = await spawnNatsServer(['-c', f]);
  t.after(() => ns.stop('SIGKILL'));
  const ts = await spawnTsnats(['-c', f]);
  t.after(() => ts.stop('SIGKILL'));
  const want = await observe(`ws://127.0.0.1:${await wsPort(ns)}`);
  const got = await observe(`ws://127.0.0.1:${await wsPort(ts)}`);
  assert.deepEqual(got, want);
  assert.match(ts.output(), /\[WRN\] Websocket not configured with TLS\. DO NOT USE IN PRODUCTION!/);
  assert.match(ts.output(), /websocket handshake error: origin not allowed: not in the allowed list/);
  assert.match(ts.output(), /wid:\d+ - authentication error/);
});

/** What a websocket client sees after CONNECT (no JWT in it) + PING, with `headers` on the upgrade. */
async function cookieConnect(url: string, headers: Record<string, string>): Promise<string> {
  const c = await rawWs(url, { headers });
  c.ws.send('CONNECT {"verbose":false}\r\nPING\r\n');
  await waitUntil(() => c.received.slice(1).some((m) => m.includes('PONG') || m.startsWith('-ERR')), 5000, 'PONG or -ERR');
  c.ws.close();
  return c.received.slice(1).join('').trim();
}

test('jwt_cookie in operator mode: the cookie\'s user JWT authenticates a websocket client, as in nats-server', { skip: natsServerSkip() }, async (t) => {
  const op = await newOperator();
  const acc = createAccount();
  const [bearer, other] = [createUser(), createUser()];
  const conf = operatorConfig(op, { [acc.getPublicKey()]: await accountJwt(op, 'A', acc) },
    'port: -1\nnet: 127.0.0.1\nwebsocket { port: -1, host: 127.0.0.1, no_tls: true, jwt_cookie: "nats_jwt" }');
  const f = confFile(t, conf);
  const bearerJwt = await userJwt('web', bearer, acc, { bearer_token: true });
  // Not a bearer token: the nonce must be signed, which a client that sends no CONNECT jwt cannot do.
  const signedJwt = await userJwt('app', other, acc);
  const observeCookies = async (url: string) => ({
    bearer: await cookieConnect(url, { Cookie: `theme=dark; nats_jwt=${bearerJwt}` }),
    quoted: await cookieConnect(url, { Cookie: `nats_jwt="${bearerJwt}"` }),
    otherName: await cookieConnect(url, { Cookie: `jwt=${bearerJwt}` }),
    none: await cookieConnect(url, {}),
    unsigned: await cookieConnect(url, { Cookie: `nats_jwt=${signedJwt}` }),
  });
  const ns = await spawnNatsServer(['-c', f]);
  t.after(() => ns.stop('SIGKILL'));
  const ts = await spawnTsnats(['-c', f]);
  t.after(() => ts.stop('SIGKILL'));
  const want = await observeCookies(`ws://127.0.0.1:${await wsPort(ns)}`);
  const got = await observeCookies(`ws://127.0.0.1:${await wsPort(ts)}`);
  assert.equal(want.bearer, 'PONG');
  assert.equal(want.none, "-ERR 'Authorization Violation'");
  assert.deepEqual(got, want);
});
