// $SYS.REQ.SERVER.* and $SYS.REQ.ACCOUNT.* monitoring requests in the system
// account: answers wrap the same JSON as the HTTP endpoints.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startServer, type ServerHandle } from '../../src/index.js';
import type { InternalClient } from '../../src/core/internal-client.js';
import { ACCOUNT_SYS_IMPORTS } from '../../src/monitor/sys-imports.js';

/** Subscriptions every ordinary account holds for its $SYS imports (as in nats-server). */
const IMPORT_SUBS = ACCOUNT_SYS_IMPORTS.map(([subject]) => subject);

interface Env { h: ServerHandle; sys: InternalClient; nc: NatsConnection }

async function start(t: TestContext): Promise<Env> {
  const h = await startServer({ port: 0, host: '127.0.0.1', serverName: 'sys-test', serverTags: ['region:east'] }, { quietLog: true });
  const sys = h.server.systemAccount.createInternalClient('requester');
  const nc = await connect({ servers: h.clientUrl, name: 'app', reconnect: false });
  t.after(async () => {
    sys.close();
    await nc.close().catch(() => {});
    await h.shutdown();
  });
  return { h, sys, nc };
}

let inboxSeq = 0;

/** Send a request in the system account; resolve with the replies received within `windowMs` after the first. */
async function request(sys: InternalClient, subject: string, body = '', windowMs = 30): Promise<any[]> {
  const inbox = `$SYS._INBOX.test.${++inboxSeq}`;
  const replies: any[] = [];
  const sid = sys.subscribe(inbox, (_s, _r, _h, payload) => replies.push(JSON.parse(payload.toString())));
  sys.publish(subject, inbox, undefined, body);
  const deadline = Date.now() + 3000;
  while (replies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  await new Promise((r) => setTimeout(r, windowMs));
  sys.unsubscribe(sid);
  return replies;
}

/**
 * True when `subject`+`body` gets no answer. Requests are answered in order, so
 * once a later, answered request (IDZ) has its reply, the first one is settled.
 */
async function silent(sys: InternalClient, subject: string, body: string): Promise<boolean> {
  const inbox = `$SYS._INBOX.test.${++inboxSeq}`;
  const replies: unknown[] = [];
  const sid = sys.subscribe(inbox, () => replies.push(1));
  sys.publish(subject, inbox, undefined, body);
  const marker = await request(sys, '$SYS.REQ.SERVER.PING.IDZ', '', 0);
  sys.unsubscribe(sid);
  return marker.length === 1 && replies.length === 0;
}

test('$SYS.REQ.SERVER.PING.VARZ and the direct subject answer with the server info and /varz data', async (t) => {
  const { h, sys } = await start(t);
  const [ping] = await request(sys, '$SYS.REQ.SERVER.PING.VARZ');
  assert.equal(ping.server.id, h.server.serverId);
  assert.equal(ping.server.name, 'sys-test');
  assert.equal(ping.server.ver, '2.10.0');
  assert.equal(ping.server.jetstream, false);
  assert.deepEqual(ping.server.tags, ['region:east']);
  assert.equal(typeof ping.server.seq, 'number');
  assert.equal(ping.data.server_id, h.server.serverId);
  assert.equal(ping.data.connections, 1);
  const [direct] = await request(sys, `$SYS.REQ.SERVER.${h.server.serverId}.VARZ`);
  assert.equal(direct.data.server_name, 'sys-test');
  assert.ok(direct.server.seq > ping.server.seq, 'sequence grows per message');
});

test('CONNZ, SUBSZ, HEALTHZ, JSZ, IDZ and STATSZ requests', async (t) => {
  const { h, sys, nc } = await start(t);
  nc.subscribe('app.>');
  await nc.flush();
  const [connz] = await request(sys, '$SYS.REQ.SERVER.PING.CONNZ', JSON.stringify({ subscriptions: true }));
  assert.equal(connz.data.num_connections, 1);
  assert.deepEqual(connz.data.connections[0].subscriptions_list, ['app.>']);
  assert.equal(connz.data.connections[0].name, 'app');
  const [subsz] = await request(sys, '$SYS.REQ.SERVER.PING.SUBSZ', JSON.stringify({ subscriptions: true, account: '$G' }));
  assert.deepEqual(subsz.data.subscriptions_list.map((s: any) => s.subject).sort(), [...IMPORT_SUBS, 'app.>'].sort());
  const [health] = await request(sys, '$SYS.REQ.SERVER.PING.HEALTHZ');
  assert.deepEqual(health.data, { status: 'ok', status_code: 200 });
  const [jsz] = await request(sys, '$SYS.REQ.SERVER.PING.JSZ');
  assert.equal(jsz.data.disabled, true);
  const [idz] = await request(sys, '$SYS.REQ.SERVER.PING.IDZ');
  assert.deepEqual(idz, { name: 'sys-test', host: '127.0.0.1', id: h.server.serverId });
  for (const subject of ['$SYS.REQ.SERVER.PING', '$SYS.REQ.SERVER.PING.STATSZ']) {
    const [statsz] = await request(sys, subject);
    assert.equal(statsz.server.id, h.server.serverId, subject);
    assert.equal(statsz.statsz.connections, 1, subject);
    assert.equal(typeof statsz.statsz.mem, 'number');
    assert.deepEqual(Object.keys(statsz.statsz.sent), ['msgs', 'bytes']);
  }
});

test('filters: a server stays silent when the request names another server; bad JSON gets an error', async (t) => {
  const { sys } = await start(t);
  assert.equal(await silent(sys, '$SYS.REQ.SERVER.PING.VARZ', JSON.stringify({ server_name: 'other' })), true);
  assert.equal(await silent(sys, '$SYS.REQ.SERVER.PING.VARZ', JSON.stringify({ server_name: 'sys', exact_match: true })), true);
  assert.equal(await silent(sys, '$SYS.REQ.SERVER.PING.VARZ', JSON.stringify({ server_name: 'sys' })), false, 'substring match');
  assert.equal(await silent(sys, '$SYS.REQ.SERVER.PING.VARZ', JSON.stringify({ tags: ['region:west'] })), true);
  assert.equal(await silent(sys, '$SYS.REQ.SERVER.PING.VARZ', JSON.stringify({ tags: ['region:east'] })), false);
  const [bad] = await request(sys, '$SYS.REQ.SERVER.PING.CONNZ', '{not json');
  assert.equal(bad.error.code, 400);
  assert.equal(bad.data, undefined);
  const [badSort] = await request(sys, '$SYS.REQ.SERVER.PING.CONNZ', JSON.stringify({ sort: 'nope' }));
  assert.deepEqual(badSort.error, { code: 500, description: 'invalid sorting option: nope' });
});

test('account requests answer for the account named in the subject', async (t) => {
  const { sys, nc } = await start(t);
  nc.subscribe('only.here');
  await nc.flush();
  const [connz] = await request(sys, '$SYS.REQ.ACCOUNT.$G.CONNZ');
  assert.equal(connz.data.num_connections, 1);
  const [sysConnz] = await request(sys, '$SYS.REQ.ACCOUNT.$SYS.CONNZ');
  assert.equal(sysConnz.data.num_connections, 0);
  const [subsz] = await request(sys, '$SYS.REQ.ACCOUNT.$G.SUBSZ');
  assert.deepEqual(subsz.data.subscriptions_list.map((s: any) => s.subject).sort(), [...IMPORT_SUBS, 'only.here'].sort());
  const [info] = await request(sys, '$SYS.REQ.ACCOUNT.$G.INFO');
  assert.equal(info.data.account_name, '$G');
  assert.equal(info.data.client_connections, 1);
  const [statz] = await request(sys, '$SYS.REQ.ACCOUNT.$G.STATZ');
  assert.equal(statz.data.account_statz[0].acc, '$G');
  assert.equal(statz.data.account_statz[0].conns, 1);
  const pings = await request(sys, '$SYS.REQ.ACCOUNT.PING.STATZ', '', 100);
  assert.equal(pings.length, 1, 'PING is answered once, not also as an account named PING');
  assert.deepEqual(pings[0].data.account_statz.map((a: any) => a.acc), ['$G']);
  const [jsz] = await request(sys, '$SYS.REQ.ACCOUNT.$G.JSZ');
  assert.deepEqual(jsz.error, { code: 500, description: 'jetstream not enabled' });
});

test('clients outside the system account cannot reach the requests', async (t) => {
  const { nc } = await start(t);
  await assert.rejects(nc.request('$SYS.REQ.SERVER.PING.VARZ', '', { timeout: 1000 }), (e: Error) => /503|no responders/i.test(String(e.message) + String((e as { code?: string }).code)));
});
