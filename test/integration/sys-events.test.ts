// System account client events ($SYS.ACCOUNT.<acc>.CONNECT / DISCONNECT / SERVER.CONNS) and the
// $SYS namespace of an ordinary account, observed through the official client on tsnats and,
// side by side, on nats-server 2.9.10 with the same configuration file.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Msg } from '@nats-io/transport-node';
import { spawnNatsServer, spawnTsnats } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { waitUntil } from '../helpers/wait.js';
import { startServer } from '../../src/index.js';
import { ACCOUNT_SYS_IMPORTS } from '../../src/monitor/sys-imports.js';

const CONF = `listen: 127.0.0.1:-1
accounts: {
  SYS: { users: [{user: sys, password: sys}] }
  A: { users: [{user: a, password: a}] }
}
system_account: SYS
`;

function confFile(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sys-events-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const f = join(dir, 'server.conf');
  writeFileSync(f, CONF);
  return f;
}

interface Observed {
  /** subjects the system user saw under $SYS.ACCOUNT.A.>, in order */
  subjects: string[];
  connect: any;
  disconnect: any;
  conns: any[];
  /** subjects account A's own `$SYS.>` subscriber saw */
  seenByA: string[];
  /** account A's requests answered through its imports */
  aConnz: any;
  aStatz: any;
  aServerPing: string;
  /** $SYS.REQ.ACCOUNT.A.CONNS while A's client is connected, and after (no server answers) */
  connsReq: any;
  connsReqAfter: string;
}

async function observe(port: number): Promise<Observed> {
  const servers = `127.0.0.1:${port}`;
  const sys = await connect({ servers, user: 'sys', pass: 'sys', reconnect: false });
  const got: Msg[] = [];
  sys.subscribe('$SYS.ACCOUNT.A.>', { callback: (_e, m) => { got.push(m); } });
  await sys.flush();
  // a bad password never produces an event
  await assert.rejects(connect({ servers, user: 'a', pass: 'wrong', reconnect: false }));
  const a = await connect({ servers, user: 'a', pass: 'a', name: 'cli-a', reconnect: false });
  const seenByA: string[] = [];
  a.subscribe('$SYS.>', { callback: (_e, m) => { seenByA.push(m.subject); } });
  a.publish('foo', 'hi');
  const aConnz = (await a.request('$SYS.REQ.ACCOUNT.PING.CONNZ', '', { timeout: 10_000 })).json();
  const aStatz = (await a.request('$SYS.REQ.ACCOUNT.PING.STATZ', '', { timeout: 10_000 })).json();
  // not imported: only A's own subscriber hears it, nobody answers
  const aServerPing = await a.request('$SYS.REQ.SERVER.PING', '', { timeout: 300 }).then(() => 'answered', (e: Error) => e.message);
  await waitUntil(() => got.some((m) => m.subject.endsWith('.CONNECT')), 15_000, 'connect event');
  const connsReq = (await sys.request('$SYS.REQ.ACCOUNT.A.CONNS', '', { timeout: 10_000 })).json();
  await a.close();
  await waitUntil(() => got.some((m) => m.subject.endsWith('.DISCONNECT'))
    && got.some((m) => m.subject.endsWith('.SERVER.CONNS') && m.json<{ conns: number }>().conns === 0), 15_000, 'disconnect events');
  const connsReqAfter = await sys.request('$SYS.REQ.ACCOUNT.A.CONNS', '', { timeout: 300 }).then(() => 'answered', (e: Error) => e.message);
  await sys.close();
  const one = (suffix: string): any => got.find((m) => m.subject === `$SYS.ACCOUNT.A.${suffix}`)!.json();
  return {
    subjects: got.map((m) => m.subject), connect: one('CONNECT'), disconnect: one('DISCONNECT'),
    conns: got.filter((m) => m.subject === '$SYS.ACCOUNT.A.SERVER.CONNS').map((m) => m.json()), seenByA,
    aConnz, aStatz, aServerPing, connsReq, connsReqAfter,
  };
}

const keys = (o: Record<string, unknown>, drop: string[] = []): string[] => Object.keys(o).filter((k) => !drop.includes(k)).sort();

function checkEvents(o: Observed): void {
  const c = o.connect;
  assert.equal(c.type, 'io.nats.server.advisory.v1.client_connect');
  assert.equal(typeof c.id, 'string');
  assert.equal(c.client.acc, 'A');
  assert.equal(c.client.user, 'a');
  assert.equal(c.client.name, 'cli-a');
  assert.equal(c.client.lang, 'nats.js');
  assert.equal(c.client.kind, 'Client');
  assert.equal(c.client.client_type, 'nats');
  const d = o.disconnect;
  assert.equal(d.type, 'io.nats.server.advisory.v1.client_disconnect');
  assert.equal(d.client.id, c.client.id);
  assert.equal(d.reason, 'Client Closed');
  // what the client sent: "hi" and three requests with empty bodies
  assert.deepEqual(d.sent, { msgs: 4, bytes: 2 });
  assert.ok(d.received.msgs >= 2, 'the two replies were delivered');
  assert.equal(typeof d.client.stop, 'string');
  assert.ok(o.subjects.indexOf('$SYS.ACCOUNT.A.CONNECT') < o.subjects.indexOf('$SYS.ACCOUNT.A.DISCONNECT'));
  // one pair of events: the connection refused for its password had none
  assert.equal(o.subjects.filter((x) => x.endsWith('.CONNECT')).length, 1);
  assert.equal(o.subjects.filter((x) => x.endsWith('.DISCONNECT')).length, 1);
  assert.ok(o.conns.length >= 2);
  assert.equal(o.conns[0].type, 'io.nats.server.advisory.v1.account_connections');
  assert.equal(o.conns[0].acc, 'A');
  assert.equal(o.conns[0].conns, 1);
  assert.equal(o.conns.at(-1).conns, 0);
  // account A's $SYS is its own namespace: it hears its own requests, never the system account's events
  assert.ok(o.seenByA.includes('$SYS.REQ.ACCOUNT.PING.CONNZ'));
  assert.ok(!o.seenByA.some((s) => s.startsWith('$SYS.ACCOUNT.')), o.seenByA.join(','));
  assert.equal(o.aConnz.data.num_connections, 1);
  assert.equal(o.aConnz.data.connections[0].name, 'cli-a');
  assert.equal(o.aStatz.data.account_statz[0].acc, 'A');
  assert.equal(o.aServerPing, 'timeout');
  assert.equal(o.connsReq.type, 'io.nats.server.advisory.v1.account_connections');
  assert.equal(o.connsReq.acc, 'A');
  assert.equal(o.connsReq.conns, 1);
  assert.equal(o.connsReqAfter, 'timeout', 'a server without connections of the account stays silent');
}

test('tsnats publishes client connect/disconnect and account connection events in the system account', async (t) => {
  const ts = await spawnTsnats(['-c', confFile(t)]);
  t.after(() => ts.stop('SIGKILL'));
  const o = await observe(ts.port);
  checkEvents(o);
  assert.equal(o.connect.server.ver, o.disconnect.server.ver);
  assert.ok(o.disconnect.server.seq > o.connect.server.seq);
});

test('connect/disconnect events carry the same JSON keys as nats-server 2.9.10', { skip: natsServerSkip() }, async (t) => {
  const f = confFile(t);
  const ns = await spawnNatsServer(['-c', f]);
  t.after(() => ns.stop('SIGKILL'));
  const ts = await spawnTsnats(['-c', f]);
  t.after(() => ts.stop('SIGKILL'));
  const want = await observe(ns.port);
  const got = await observe(ts.port);
  checkEvents(want); // the assertions describe nats-server's behaviour too
  checkEvents(got);
  for (const ev of ['connect', 'disconnect'] as const) {
    assert.deepEqual(keys(got[ev]), keys(want[ev]), `${ev} keys`);
    // rtt is left out when not yet measured (omitempty), on either server
    assert.deepEqual(keys(got[ev].client, ['rtt']), keys(want[ev].client, ['rtt']), `${ev} client keys`);
    for (const k of Object.keys(want[ev].server).filter((k) => k !== 'cluster' && k !== 'tags')) {
      assert.ok(k in got[ev].server, `${ev} server.${k}`);
    }
  }
  assert.deepEqual(keys(got.conns[0]), keys(want.conns[0]), 'account_connections keys');
  assert.deepEqual(keys(got.connsReq), keys(want.connsReq), 'CONNS answer keys');
});

test('an account created after start-up gets its $SYS imports too', async (t) => {
  const h = await startServer({ port: 0, host: '127.0.0.1' }, { quietLog: true });
  t.after(() => h.shutdown());
  const later = h.server.registerAccount('LATER');
  const subjects = later.sublist.all().map((s) => s.subject).sort();
  assert.deepEqual(subjects, ACCOUNT_SYS_IMPORTS.map(([s]) => s).sort());
  const ic = later.createInternalClient('asker');
  t.after(() => ic.close());
  const replies: any[] = [];
  ic.subscribe('reply.here', (_s, _r, _h, payload) => { replies.push(JSON.parse(payload.toString())); });
  ic.publish('$SYS.REQ.ACCOUNT.PING.STATZ', 'reply.here', undefined, JSON.stringify({ include_unused: true }));
  await waitUntil(() => replies.length === 1, 15_000, 'STATZ answer in LATER');
  assert.equal(replies[0].data.account_statz[0].acc, 'LATER');
});
