// Account exports and imports from the configuration, through the official client, side by side
// with nats-server 2.9.10 running the same file: stream imports (prefix, to), service imports
// with subject mapping and the response types, approved accounts, service latency metrics,
// the account info (/accountz) of imports and exports, and the configuration errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { startConfigServers, type ConfigServer } from '../helpers/config-servers.js';
import { natsServerSkip, requireNatsServer } from '../helpers/nats-server.js';
import { waitUntil } from '../helpers/wait.js';
import { loadConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/parser.js';

const CONF = `
accounts: {
  A: {
    users: [ {user: a, password: a} ]
    exports: [
      { stream: "pub.>" }
      { service: "svc.>" }
      { service: "multi", response_type: stream }
      { service: "lat", latency: { sampling: 100, subject: "lat.results" } }
      { service: "private", accounts: [C] }
    ]
  }
  B: {
    users: [ {user: b, password: b} ]
    imports: [
      { stream: { account: A, subject: "pub.>" }, prefix: "fromA" }
      { stream: { account: A, subject: "pub.y" }, to: "y.z" }
      { service: { account: A, subject: "svc.>" }, to: "local.>" }
      { service: { account: A, subject: "multi" } }
      { service: { account: A, subject: "lat" } }
    ]
  }
  C: {
    users: [ {user: c, password: c} ]
    imports: [ { service: { account: A, subject: "private" } } ]
  }
  SYS: { users: [ {user: sys, password: sys} ] }
}
system_account: SYS
`;

async function open(t: import('node:test').TestContext, url: string, user: string): Promise<NatsConnection> {
  const nc = await connect({ servers: url, user, pass: user });
  t.after(() => nc.close());
  return nc;
}

function collect(nc: NatsConnection, subject: string, into: string[]): void {
  nc.subscribe(subject, { callback: (_e, m: Msg) => { into.push(`${m.subject} ${m.string()}`); } });
}

/** Publish a request on `subject` with a reply inbox; resolves once `n` answers came (the array keeps filling). */
async function answers(nc: NatsConnection, subject: string, n: number): Promise<string[]> {
  const got: string[] = [];
  const inbox = createInbox();
  collect(nc, inbox, got);
  await nc.flush();
  nc.publish(subject, 'x', { reply: inbox });
  await waitUntil(() => got.length >= n);
  return got;
}

/** The scenario, run against one server: what each client saw. */
async function scenario(t: import('node:test').TestContext, s: ConfigServer): Promise<Record<string, unknown>> {
  const [a, b, c] = [await open(t, s.url, 'a'), await open(t, s.url, 'b'), await open(t, s.url, 'c')];
  const out: Record<string, unknown> = {};

  // stream imports: A's messages reach B under the mapped subjects, nothing else crosses
  const inB: string[] = [];
  const inA: string[] = [];
  const ownB: string[] = [];
  collect(b, 'fromA.>', inB);
  collect(b, 'y.z', inB);
  collect(b, 'pub.>', ownB);
  collect(a, 'fromA.>', inA);
  await b.flush();
  await a.flush();
  b.publish('pub.b', 'from-b');
  await b.flush();
  a.publish('pub.x', '1');
  a.publish('pub.y', '2');
  a.publish('other', '3');
  await a.flush();
  await waitUntil(() => inB.length >= 3);
  await b.flush();
  out.streams = [...inB].sort();
  out.streamsInA = [...inA];
  out.ownB = [...ownB];

  // service imports: subject mapped into A, the reply rewritten to a _R_ subject of A
  a.subscribe('svc.>', {
    callback: (_e, m) => {
      if (m.subject === 'svc.two') {
        m.respond('first');
        m.respond('second');
      } else {
        m.respond(`${m.subject} ${m.reply?.startsWith('_R_.')} ${m.string()}`);
      }
    },
  });
  a.subscribe('multi', { callback: (_e, m) => { for (const x of ['1', '2', '3']) m.respond(x); } });
  a.subscribe('lat', { callback: (_e, m) => { m.respond('pong'); } });
  a.subscribe('private', { callback: (_e, m) => { m.respond('for C'); } });
  const metrics: Record<string, unknown>[] = [];
  a.subscribe('lat.results', { callback: (_e, m) => { metrics.push(m.json()); } });
  await a.flush();
  out.request = (await b.request('local.q', 'hi')).string();

  // singleton: only the first answer comes back; a later request's answer proves the second is not in flight
  const single = await answers(b, 'local.two', 1);
  await b.request('local.q', 'again');
  out.singleton = [...single];

  // stream response type: every answer comes back
  out.stream = (await answers(b, 'multi', 3)).map((x) => x.split(' ')[1]);

  // approved accounts: C imports "private"
  out.private = (await c.request('private')).string();

  // latency metric in the exporting account
  out.latReply = (await b.request('lat')).string();
  await waitUntil(() => metrics.length >= 1);
  const m = metrics[0];
  const req = m.requestor as Record<string, unknown>;
  const resp = m.responder as Record<string, unknown>;
  out.metric = {
    type: m.type, status: m.status, keys: Object.keys(m).sort(),
    requestor: { acc: req.acc, keys: Object.keys(req).filter((k) => k !== 'rtt').sort() },
    responder: { acc: resp.acc, user: resp.user, keys: Object.keys(resp).filter((k) => k !== 'rtt').sort() },
    service: typeof m.service === 'number' && (m.service as number) >= 0,
  };

  // account info of the importer and the exporter ($SYS.REQ.ACCOUNT.<acc>.INFO, as /accountz)
  const sys = await open(t, s.url, 'sys');
  const info = async (acc: string) => ((await sys.request(`$SYS.REQ.ACCOUNT.${acc}.INFO`)).json() as { data: Record<string, unknown> }).data;
  const bySubject = (x: unknown) => [...(x as Record<string, unknown>[])].sort((p, q) => `${p.subject}`.localeCompare(`${q.subject}`));
  out.importsB = bySubject((await info('B')).imports);
  out.exportsA = bySubject((await info('A')).exports);
  return out;
}

test('stream and service imports behave as in nats-server', { skip: natsServerSkip() }, async (t) => {
  const servers = await startConfigServers(t, CONF);
  const results = [];
  for (const s of servers) results.push(await scenario(t, s));
  const [ts, ns] = results;
  assert.deepEqual(ts.streams, ['fromA.pub.x 1', 'fromA.pub.y 2', 'y.z 2']);
  assert.deepEqual(ts.streamsInA, []);
  assert.deepEqual(ts.ownB, ['pub.b from-b']);
  assert.equal(ts.request, 'svc.q true hi');
  assert.deepEqual(ts.singleton, [`${(ts.singleton as string[])[0].split(' ')[0]} first`]);
  assert.deepEqual(ts.stream, ['1', '2', '3']);
  assert.equal(ts.private, 'for C');
  assert.equal(ts.latReply, 'pong');
  assert.equal((ts.metric as Record<string, unknown>).type, 'io.nats.server.metric.v1.service_latency');
  assert.equal((ts.metric as Record<string, unknown>).status, 200);
  for (const k of Object.keys(ns)) {
    const strip = (v: unknown) => k === 'singleton' ? (v as string[]).map((x) => x.split(' ')[1]) : v;
    assert.deepEqual(strip(ts[k]), strip(ns[k]), `${k}: tsnats vs nats-server`);
  }
});

test('a subscription in the importer is shadowed in the exporter while it lives', async (t) => {
  const [ts] = await startConfigServers(t, CONF, { natsServer: false });
  const server = ts.h!.server;
  const a = server.lookupAccount('A')!;
  const b = await open(t, ts.url, 'b');
  const shadows = () => a.sublist.all().filter((s) => s.subject.startsWith('pub.')).map((s) => s.subject).sort();
  assert.deepEqual(shadows(), []);
  const sub = b.subscribe('fromA.pub.*');
  const all = b.subscribe('>');
  await b.flush();
  // 'fromA.pub.*' -> pub.*; '>' overlaps both imports: pub.> and pub.y
  assert.deepEqual(shadows(), ['pub.*', 'pub.>', 'pub.y']);
  sub.unsubscribe();
  all.unsubscribe();
  await b.flush();
  assert.deepEqual(shadows(), []);
});

test('a service response mapping ends with the singleton answer and with an unanswered request', async (t) => {
  const [ts] = await startConfigServers(t, CONF, { natsServer: false });
  const server = ts.h!.server;
  const accA = server.lookupAccount('A')!;
  const [a, b] = [await open(t, ts.url, 'a'), await open(t, ts.url, 'b')];
  a.subscribe('svc.>', { callback: (_e, m) => { m.respond('ok'); } });
  await a.flush();
  assert.equal((await b.request('local.one')).string(), 'ok');
  await waitUntil(() => server.imports.pendingResponses(accA) === 0);
  // nobody serves "multi" in A: the mapping made for the request is dropped at once
  b.publish('multi', 'x', { reply: createInbox() });
  await b.flush();
  assert.equal(server.imports.pendingResponses(accA), 0);
});

/** The errors of a configuration, from tsnats and from `nats-server -t`, without file positions. */
function configErrors(conf: string): { ts: string[]; ns: string[] } {
  const strip = (lines: string[]) => lines.map((l) => l.replace(/^.*?\.conf:\d+:\d+: /, '')).filter((l) => l !== '').sort();
  let ts: string[] = [];
  try {
    loadConfigText(conf, 'x.conf');
  } catch (e) {
    assert.ok(e instanceof ConfigError, `${e}`);
    ts = strip(e.message.split('\n'));
  }
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-conf-'));
  try {
    const file = join(dir, 'x.conf');
    writeFileSync(file, conf);
    let out = '';
    try {
      execFileSync(requireNatsServer(), ['-t', '-c', file], { stdio: 'pipe' });
    } catch (e) {
      out = String((e as { stderr?: Buffer }).stderr ?? '');
    }
    return { ts, ns: strip(out.replace(/^nats-server: /, '').split('\n')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('unauthorized imports, cycles and latency on a non-singleton export are refused as nats-server does', { skip: natsServerSkip() }, () => {
  const cases = [
    `accounts: {
      A: { exports: [ {service: "svc.>", accounts: [C]}, {stream: "pub.>"} ] }
      B: { imports: [ {service: {account: A, subject: "svc.x"}}, {service: {account: A, subject: "nope"}}, {stream: {account: A, subject: "other"}} ] }
      C: { }
    }`,
    `accounts: {
      A: { exports: [ {service: "foo"} ], imports: [ {service: {account: B, subject: "foo"}} ] }
      B: { exports: [ {service: "foo"} ], imports: [ {service: {account: A, subject: "foo"}} ] }
    }`,
    `accounts: {
      A: { exports: [ {stream: "foo"} ], imports: [ {stream: {account: B, subject: "foo"}} ] }
      B: { exports: [ {stream: "foo"} ], imports: [ {stream: {account: A, subject: "foo"}} ] }
    }`,
    `accounts: {
      A: { exports: [ {service: "svc", response_type: stream, latency: {sampling: 50, subject: "lat"}}, {stream: "p.>"} ] }
      B: { imports: [ {stream: {account: A, subject: "p.>"}, prefix: "x.*"}, {stream: {account: A, subject: "p.>"}}, {stream: {account: A, subject: "p.>"}} ] }
    }`,
    `accounts: {
      A: { exports: [ {service: "tok.*.x", account_token_position: 2} ] }
      B: { imports: [ {service: {account: A, subject: "tok.B.x"}}, {service: {account: A, subject: "tok.C.x"}, to: "c"} ] }
      C: { }
    }`,
  ];
  for (const conf of cases) {
    const { ts, ns } = configErrors(conf);
    assert.ok(ns.length > 0, `nats-server accepted ${conf}`);
    assert.deepEqual(ts, ns, conf);
  }
});

test('a reload applies new imports to existing subscriptions and removes dropped ones', async (t) => {
  const base = `accounts: {
    A: { users: [ {user: a, password: a} ], exports: [ { stream: "pub.>" }, { service: "svc" } ] }
    B: {
      users: [ {user: b, password: b} ]
      IMPORTS
    }
  }`;
  const [ts] = await startConfigServers(t, base.replace('IMPORTS', ''), { natsServer: false });
  const server = ts.h!.server;
  const [a, b] = [await open(t, ts.url, 'a'), await open(t, ts.url, 'b')];
  const got: string[] = [];
  collect(b, 'pub.>', got);
  a.subscribe('svc', { callback: (_e, m) => { m.respond('served'); } });
  await b.flush();
  await a.flush();

  const withImports = loadConfigText(base.replace('IMPORTS', `imports: [
    { stream: { account: A, subject: "pub.>" } }
    { service: { account: A, subject: "svc" } }
  ]`), 'x.conf').options;
  assert.deepEqual(server.reload({ ...server.options, accounts: withImports.accounts }), ['accounts']);
  a.publish('pub.1', 'after reload');
  await waitUntil(() => got.length === 1);
  assert.deepEqual(got, ['pub.1 after reload']);
  assert.equal((await b.request('svc')).string(), 'served');

  server.reload({ ...server.options, accounts: loadConfigText(base.replace('IMPORTS', ''), 'x.conf').options.accounts });
  assert.equal(server.lookupAccount('A')!.sublist.all().some((s) => s.subject === 'pub.>'), false, 'the shadow is gone');
  await assert.rejects(b.request('svc', '', { timeout: 2000 }), /no responders|503/i);
});
