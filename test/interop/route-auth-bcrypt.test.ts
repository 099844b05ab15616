// A bcrypt hash as the `cluster { authorization }` password, as nats-server 2.9.10 takes it
// (isRouterAuthorized → comparePasswords): a route peer logs in with the password the hash was
// made from. tsnats checks it off the event loop, so everything the peer sends after its CONNECT
// (INFO, RS+, RMSG, PING) must wait for the verdict: a wrong password gets
// -ERR 'Authorization Violation' and nothing else — no interest, no messages, no PONG — and its
// RS+/RMSG never reach this server's clients. Side by side with the nats-server binary, for raw
// peers and for real routes in both directions.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { listenPort, spawnNatsServer, spawnTsnats, type ChildServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { RawClient } from '../helpers/raw-client.js';
import { waitUntil } from '../helpers/wait.js';

const skip = natsServerSkip();
const HASH = bcrypt.hashSync('secret', 4);

type Kind = 'tsnats' | 'nats-server';

function spawnKind(kind: Kind, conf: string): Promise<ChildServer> {
  return kind === 'tsnats' ? spawnTsnats(['-c', conf]) : spawnNatsServer(['-c', conf]);
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-route-bcrypt-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function start(t: TestContext, kind: Kind, file: string, text: string): Promise<ChildServer> {
  writeFileSync(file, text);
  const s = await spawnKind(kind, file);
  t.after(() => s.stop());
  return s;
}

async function client(t: TestContext, s: ChildServer): Promise<NatsConnection> {
  const nc = await connect({ servers: `127.0.0.1:${s.port}`, reconnect: false });
  t.after(() => nc.close());
  return nc;
}

/** The acceptor's config: client port, a cluster whose routes must log in as r/<HASH>. */
function acceptorConf(): string {
  return `listen: 127.0.0.1:-1\ncluster { name: C1, listen: 127.0.0.1:-1, authorization { user: r, password: "${HASH}" } }\n`;
}

let peerSeq = 0;

/**
 * A route peer made by hand: CONNECT with `pass`, then in the same write its INFO, RS+ for
 * `foo`, an RMSG on `foo` and a PING. Returns what the server answered: 'PONG' (with whether
 * our client's interest in `bar` came back) or the -ERR line, and the raw text.
 */
async function rawPeer(port: number, pass: string): Promise<{ verdict: string; text: string }> {
  const c = await RawClient.connect(port);
  try {
    await c.readLine();
    const id = `NRAWROUTEPEER${++peerSeq}`;
    c.send([
      `CONNECT {"echo":true,"verbose":false,"pedantic":false,"user":"r","pass":${JSON.stringify(pass)},"tls_required":false,"name":"${id}","headers":true,"cluster":"C1","dynamic":false,"lnoc":true}`,
      `INFO {"server_id":"${id}","name":"${id}","cluster":"C1","host":"127.0.0.1","port":1,"lnoc":true,"headers":true}`,
      'RS+ $G foo',
      'RMSG $G foo 5', 'hello',
      'PING', '',
    ].join('\r\n'));
    const text = await c.waitFor((x) => x.includes('PONG\r\n') || x.includes('-ERR'));
    if (text.includes('-ERR')) {
      await c.waitClosed();
      return { verdict: text.slice(text.indexOf('-ERR')).split('\r\n')[0]!, text: c.text };
    }
    // the PONG follows the INFO that registered the route, so our interest was sent before it
    return { verdict: `PONG${text.includes('RS+ $G bar\r\n') ? ' +bar' : ''}`, text };
  } finally {
    c.close();
  }
}

/** Raw peers against one server: the verdicts, and what our client on `foo` received from them. */
async function probe(t: TestContext, kind: Kind, dir: string): Promise<string[]> {
  const s = await start(t, kind, join(dir, `${kind}.conf`), acceptorConf());
  const port = await listenPort(s, 'route');
  const nc = await client(t, s);
  const got: string[] = [];
  nc.subscribe('foo', { callback: (_e, m) => { got.push(m.string()); } });
  nc.subscribe('bar', { callback: () => undefined });
  await nc.flush();
  const out: string[] = [];
  for (const pass of ['wrong', HASH, 'secret']) {
    const r = await rawPeer(port, pass);
    if (r.verdict.startsWith('-ERR')) {
      // refused: nothing but the server's INFO and the error came back
      assert.doesNotMatch(r.text, /RS\+|RMSG|PONG/, `${kind}, pass ${pass}: nothing before the verdict`);
    }
    // a round trip through our client: an RMSG acted on would have been delivered before it
    await nc.flush();
    out.push(`${pass === HASH ? 'hash' : pass}: ${r.verdict}, foo got [${got.splice(0).join(',')}]`);
  }
  // credentials are checked before the kind of peer: a client with wrong ones is not told it is on the route port
  for (const creds of ['"user":"x","pass":"y"', '"user":"r","pass":"secret"']) {
    const c = await RawClient.connect(port);
    t.after(() => c.close());
    await c.readLine();
    c.send(`CONNECT {"lang":"go",${creds}}\r\n`);
    out.push(`client ${creds}: ${(await c.waitFor('\r\n')).trim()}`);
  }
  return out;
}

test('bcrypt route password: a raw route peer gets the same verdicts from tsnats as from nats-server', { skip }, async (t) => {
  const dir = tempDir(t);
  const ts = await probe(t, 'tsnats', dir);
  assert.deepEqual(ts, [
    "wrong: -ERR 'Authorization Violation', foo got []",
    "hash: -ERR 'Authorization Violation', foo got []",
    'secret: PONG +bar, foo got [hello]',
    `client "user":"x","pass":"y": -ERR 'Authorization Violation'`,
    `client "user":"r","pass":"secret": -ERR 'attempted to connect to route port'`,
  ]);
  assert.deepEqual(ts, await probe(t, 'nats-server', dir));
});

/**
 * `dialer` routes to `acceptor` (which has the bcrypt route password) with `pass`. With the right
 * one a request from the dialer's client reaches a responder on the acceptor; with a wrong one
 * the acceptor logs the refusal.
 */
async function routeBetween(t: TestContext, acceptor: Kind, dialer: Kind, pass: string): Promise<void> {
  const dir = tempDir(t);
  const a = await start(t, acceptor, join(dir, 'a.conf'), acceptorConf());
  const aRoute = await listenPort(a, 'route');
  const b = await start(t, dialer, join(dir, 'b.conf'), [
    'listen: 127.0.0.1:-1',
    `cluster { name: C1, listen: 127.0.0.1:-1, routes: ["nats-route://r:${pass}@127.0.0.1:${aRoute}"] }`,
    '',
  ].join('\n'));
  const what = `${dialer} → ${acceptor} (bcrypt), pass ${pass}`;
  if (pass !== 'secret') {
    await waitUntil(() => /Router connection closed: Authentication Failure/.test(a.output()), 10_000, `${what}: refused`);
    assert.match(a.output(), /authentication error/, what);
    return;
  }
  const na = await client(t, a);
  na.subscribe('svc', { callback: (_e, m) => { m.respond(`from ${acceptor}`); } });
  await na.flush();
  const nb = await client(t, b);
  let reply = '';
  await waitUntil(async () => {
    try {
      reply = (await nb.request('svc', '', { timeout: 500 })).string();
      return true;
    } catch {
      return false; // interest still travelling
    }
  }, 10_000, `${what}: a reply over the route`);
  assert.equal(reply, `from ${acceptor}`);
  assert.doesNotMatch(a.output(), /authentication error/, what);
}

for (const [acceptor, dialer] of [['tsnats', 'tsnats'], ['tsnats', 'nats-server'], ['nats-server', 'tsnats']] as Array<[Kind, Kind]>) {
  const needsNs = acceptor === 'nats-server' || dialer === 'nats-server';
  test(`bcrypt route password: ${dialer} dials ${acceptor}, right and wrong password`, { skip: needsNs ? skip : false }, async (t) => {
    await t.test('right password', (tt) => routeBetween(tt, acceptor, dialer, 'secret'));
    await t.test('wrong password', (tt) => routeBetween(tt, acceptor, dialer, 'nope'));
  });
}
