// Websocket clients (the `websocket {}` block): the official client's websocket transport
// (wsconnect) against tsnats, sharing subjects, requests and JetStream with TCP clients; origin
// checks, handshake errors, compression, the block's own authorization and the WEBSOCKET
// connection type.
import { test } from 'node:test';
import net from 'node:net';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { startTestServer, captureLog } from '../helpers/server.js';
import { waitUntil } from '../helpers/wait.js';
import { rawWs, refusedUpgrade, wsBlock, wsConnect, wsUrl } from '../helpers/ws.js';

async function closeAll(...ncs: NatsConnection[]): Promise<void> {
  for (const nc of ncs) await nc.close();
}

test('websocket client: pub/sub and request/reply, with TCP clients on the same subjects', async (t) => {
  const h = await startTestServer({ websocket: wsBlock({ compression: true, handshakeTimeoutMs: 2000 }), httpPort: 0 }, t);
  const ws = await wsConnect(wsUrl(h));
  const tcp = await connect({ servers: h.clientUrl });
  t.after(() => closeAll(ws, tcp));

  // ws -> ws and ws -> tcp
  const wsSub = ws.subscribe('greet.>', { max: 2 });
  const tcpSub = tcp.subscribe('greet.>', { max: 2 });
  await ws.flush();
  await tcp.flush();
  ws.publish('greet.a', 'from ws');
  tcp.publish('greet.b', 'from tcp');
  for (const sub of [wsSub, tcpSub]) {
    const got: string[] = [];
    for await (const m of sub) got.push(`${m.subject}=${m.string()}`);
    assert.deepEqual(got.sort(), ['greet.a=from ws', 'greet.b=from tcp']);
  }

  // a service on TCP answering a websocket requester, and the other way round
  tcp.subscribe('svc.tcp', { callback: (_e, m) => { m.respond(`tcp:${m.string()}`); } });
  ws.subscribe('svc.ws', { callback: (_e, m) => { m.respond(`ws:${m.string()}`); } });
  await tcp.flush();
  await ws.flush();
  assert.equal((await ws.request('svc.tcp', 'q1', { timeout: 5000 })).string(), 'tcp:q1');
  assert.equal((await tcp.request('svc.ws', 'q2', { timeout: 5000 })).string(), 'ws:q2');
  // no responders over websocket (headers negotiated)
  await assert.rejects(ws.request('svc.none', 'x', { timeout: 5000 }), /no responders/i);

  // a payload larger than one TCP read crosses intact both ways
  const big = Buffer.alloc(300_000, 7);
  const bigSub = tcp.subscribe('big', { max: 1 });
  await tcp.flush();
  ws.publish('big', big);
  for await (const m of bigSub) assert.deepEqual(Buffer.from(m.data), big);

  // monitoring sees one websocket client among the connections, labelled with wid
  assert.equal(h.server.clients.size, 2);
  const wsClient = [...h.server.clients.values()].find((c) => c.conn.type === 'WEBSOCKET');
  assert.ok(wsClient);
  assert.match(wsClient.label(), / - wid:\d+$/);

  // /connz types the connections and /varz shows the block, as nats-server 2.9.10 does
  const mon = `http://127.0.0.1:${h.httpPort}`;
  const connz = await (await fetch(`${mon}/connz`)).json() as { connections: { type: string; cid: number }[] };
  assert.deepEqual(connz.connections.map((c) => c.type).sort(), ['nats', 'websocket']);
  const varz = await (await fetch(`${mon}/varz`)).json() as { websocket: Record<string, unknown> };
  assert.deepEqual(varz.websocket, {
    host: '127.0.0.1', port: h.server.listeners.port('websocket'), handshake_timeout: 2_000_000_000, no_tls: true, compression: true,
  });
  await ws.close();
  await waitUntil(async () => {
    const closed = await (await fetch(`${mon}/connz?state=closed`)).json() as { connections: { type: string }[] };
    return closed.connections.some((c) => c.type === 'websocket');
  }, 5000, 'the closed websocket connection in connz');
});

test('websocket client: a KV bucket over websocket with JetStream', async (t) => {
  const h = await startTestServer({ websocket: wsBlock(), jetstream: { enabled: true } as never }, t);
  const ws = await wsConnect(wsUrl(h));
  const tcp = await connect({ servers: h.clientUrl });
  t.after(() => closeAll(ws, tcp));
  const kv = await new Kvm(ws).create('wsbucket', { history: 3 });
  await kv.put('color', 'red');
  await kv.put('color', 'blue');
  assert.equal((await kv.get('color'))?.string(), 'blue');
  // the same bucket, read over TCP
  const kvTcp = await new Kvm(tcp).open('wsbucket');
  assert.equal((await kvTcp.get('color'))?.string(), 'blue');
  const hist: string[] = [];
  for await (const e of await kv.history({ key: 'color' })) hist.push(e.string());
  assert.deepEqual(hist, ['red', 'blue']);
  await kv.delete('color');
  assert.equal((await kv.get('color'))?.operation, 'DEL');
});

test('websocket origin checks: allowed_origins and same_origin reject with 403 as nats-server', async (t) => {
  const h = await startTestServer({ websocket: wsBlock({ allowedOrigins: ['http://good.example:8080'] }) }, t);
  const log = captureLog(h);
  const url = wsUrl(h);
  const bad = await refusedUpgrade(url, { headers: { Origin: 'http://evil.example:8080' } });
  assert.equal(bad.status, 403);
  assert.equal(bad.body, 'Forbidden\n');
  assert.equal(bad.headers['sec-websocket-version'], '13');
  await waitUntil(() => log.some((l) => l.includes('websocket handshake error: origin not allowed: not in the allowed list')), 5000, 'the handshake error log');
  // wrong port or scheme for the allowed host
  assert.equal((await refusedUpgrade(url, { headers: { Origin: 'http://good.example' } })).status, 403);
  assert.equal((await refusedUpgrade(url, { headers: { Origin: 'https://good.example:8080' } })).status, 403);
  // the allowed origin, and no Origin at all (not a browser), are accepted
  const ok = await rawWs(url, { headers: { Origin: 'http://good.example:8080' } });
  assert.match(ok.received[0]!, /^INFO \{/);
  ok.ws.close();
  const noOrigin = await wsConnect(url);
  await noOrigin.close();

  const same = await startTestServer({ websocket: wsBlock({ sameOrigin: true }) }, t);
  const sameUrl = wsUrl(same);
  const port = same.server.listeners.port('websocket');
  const notSame = await refusedUpgrade(sameUrl, { headers: { Origin: 'http://other.example' } });
  assert.equal(notSame.status, 403);
  const sameOk = await rawWs(sameUrl, { headers: { Origin: `http://127.0.0.1:${port}` } });
  sameOk.ws.close();
});

test('websocket handshake: a plain HTTP request is refused with 400 and logged', async (t) => {
  const h = await startTestServer({ websocket: wsBlock() }, t);
  const log = captureLog(h);
  const res = await fetch(`http://127.0.0.1:${h.server.listeners.port('websocket')}/`);
  assert.equal(res.status, 400);
  assert.equal(await res.text(), 'Bad Request\n');
  assert.equal(res.headers.get('sec-websocket-version'), '13');
  await waitUntil(() => log.some((l) => l.includes("websocket handshake error: invalid value for header 'Upgrade'")), 5000, 'the log line');
  const post = await fetch(`http://127.0.0.1:${h.server.listeners.port('websocket')}/`, { method: 'POST', body: 'x' });
  assert.equal(post.status, 405);
});

test('websocket compression: permessage-deflate negotiated when configured and offered', async (t) => {
  const h = await startTestServer({ websocket: wsBlock({ compression: true }) }, t);
  const url = wsUrl(h);
  const c = await rawWs(url, { perMessageDeflate: true });
  assert.equal(c.ws.extensions, 'permessage-deflate');
  // nats-server's exact answer
  assert.equal(c.upgradeHeaders['sec-websocket-extensions'], 'permessage-deflate; server_no_context_takeover; client_no_context_takeover');
  // a compressible message round-trips through the deflated frames
  const body = 'abcdefgh'.repeat(10_000);
  c.ws.send(`CONNECT {"verbose":false,"echo":true}\r\nSUB z 1\r\nPUB z ${body.length}\r\n${body}\r\nPING\r\n`);
  await waitUntil(() => c.received.join('').includes('PONG'), 5000, 'PONG');
  const all = c.received.join('');
  assert.ok(all.includes(`MSG z 1 ${body.length}\r\n${body}\r\n`));
  c.ws.close();
  // a client that does not offer it gets plain frames
  const plain = await rawWs(url, { perMessageDeflate: false });
  assert.equal(plain.ws.extensions, '');
  plain.ws.close();
  // the official client over a compressed connection
  const nc = await wsConnect(url);
  const sub = nc.subscribe('q', { max: 1 });
  nc.publish('q', body);
  for await (const m of sub) assert.equal(m.string(), body);
  await nc.close();

  // without `compression` the extension is declined
  const off = await startTestServer({ websocket: wsBlock() }, t);
  const d = await rawWs(wsUrl(off), { perMessageDeflate: true });
  assert.equal(d.ws.extensions, '');
  d.ws.close();
});

test('websocket authorization: the block token applies to websocket clients only; failure closes with 1008', async (t) => {
  const h = await startTestServer({ websocket: wsBlock({ token: 'wstoken', authTimeoutSec: 3 }) }, t);
  const url = wsUrl(h);
  // the client port has no authorization
  const tcp = await connect({ servers: h.clientUrl });
  await tcp.close();
  await assert.rejects(wsConnect(url, { reconnect: false }), /auth/i);
  await assert.rejects(wsConnect(url, { token: 'nope', reconnect: false }), /auth/i);
  const ok = await wsConnect(url, { token: 'wstoken' });
  await ok.close();

  const raw = await rawWs(url);
  assert.match(raw.received[0]!, /"auth_required":true,"max_payload"/);
  raw.ws.send('CONNECT {"verbose":false,"auth_token":"bad"}\r\n');
  const closed = await raw.closed;
  assert.deepEqual(closed, { code: 1008, reason: 'Authentication Failure' });
  assert.ok(raw.received.some((m) => m.includes("-ERR 'Authorization Violation'")));
});

test('websocket: users with allowed_connection_types WEBSOCKET / STANDARD, and the block no_auth_user', async (t) => {
  const h = await startTestServer({
    authorization: {
      users: [
        { user: 'web', password: 'p', allowedConnectionTypes: ['WEBSOCKET'] },
        { user: 'tcp', password: 'p', allowedConnectionTypes: ['STANDARD'] },
        { user: 'anon', password: 'p' },
      ],
    },
    websocket: wsBlock({ noAuthUser: 'anon' }),
  }, t);
  const url = wsUrl(h);
  const web = await wsConnect(url, { user: 'web', pass: 'p' });
  await web.close();
  await assert.rejects(wsConnect(url, { user: 'tcp', pass: 'p', reconnect: false }), /auth/i);
  await assert.rejects(connect({ servers: h.clientUrl, user: 'web', pass: 'p', reconnect: false }), /auth/i);
  const tcp = await connect({ servers: h.clientUrl, user: 'tcp', pass: 'p' });
  await tcp.close();
  // no credentials: the block's no_auth_user on websocket, refused on the client port
  const anon = await wsConnect(url);
  await waitUntil(() => [...h.server.clients.values()].some((c) => c.authorizedUser === 'anon'), 5000, 'anon bound');
  await anon.close();
  await assert.rejects(connect({ servers: h.clientUrl, reconnect: false }), /auth/i);
});

test('websocket: a protocol error closes with -ERR then status 1002 "Protocol Violation"', async (t) => {
  const h = await startTestServer({ websocket: wsBlock() }, t);
  const c = await rawWs(wsUrl(h));
  c.ws.send('FOO\r\n');
  assert.deepEqual(await c.closed, { code: 1002, reason: 'Protocol Violation' });
  assert.ok(c.received.some((m) => m.includes("-ERR 'Unknown Protocol Operation'")));
});

test('websocket: server shutdown closes websocket clients with 1001', async () => {
  const h = await startTestServer({ websocket: wsBlock() });
  const c = await rawWs(wsUrl(h));
  await h.shutdown();
  assert.deepEqual(await c.closed, { code: 1001, reason: 'Server Shutdown' });
});

test('websocket frames: ping answered, client close echoed, bad frames closed with 1002 and the server keeps serving', async (t) => {
  const h = await startTestServer({ websocket: wsBlock() }, t);
  const url = wsUrl(h);
  const c = await rawWs(url);
  const pong = new Promise<string>((r) => c.ws.once('pong', (d: Buffer) => r(d.toString())));
  c.ws.ping('are you there');
  assert.equal(await pong, 'are you there');
  c.ws.close(4000, 'done here');
  // the server echoes the client's status and text
  assert.deepEqual(await c.closed, { code: 4000, reason: 'done here' });
  await waitUntil(() => h.server.closedClients.list().some((i) => i.reason === 'Client Closed'), 5000, 'the connection closed as Client Closed');

  // a client that does not mask its frames (raw TCP after a hand-made upgrade)
  const port = h.server.listeners.port('websocket')!;
  const sock = net.createConnection({ port, host: '127.0.0.1' });
  t.after(() => sock.destroy());
  let got = Buffer.alloc(0);
  sock.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); });
  const ended = new Promise<void>((r) => sock.on('close', () => r()));
  sock.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
    + 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
  await waitUntil(() => got.includes('INFO '), 5000, 'INFO');
  assert.match(got.toString('latin1'), /^HTTP\/1\.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=\r\n\r\n/);
  sock.write(Buffer.concat([Buffer.from([0x82, 6]), Buffer.from('PING\r\n')]));
  await ended;
  const closeAt = got.lastIndexOf(Buffer.from([0x88]));
  assert.ok(closeAt > 0);
  const len = got[closeAt + 1]!;
  const body = got.subarray(closeAt + 2, closeAt + 2 + len);
  assert.equal(body.readUInt16BE(0), 1002);
  assert.equal(body.toString('utf8', 2), 'mask bit missing');

  // still serving
  const nc = await wsConnect(url);
  await nc.flush();
  await nc.close();
});

test('websocket handshake_timeout: a connection that never sends its upgrade request is closed', async (t) => {
  const h = await startTestServer({ websocket: wsBlock({ handshakeTimeoutMs: 200 }) }, t);
  const sock = net.createConnection({ port: h.server.listeners.port('websocket')!, host: '127.0.0.1' });
  t.after(() => sock.destroy());
  sock.on('error', () => { /* the close is what is awaited */ });
  await new Promise<void>((r) => sock.on('close', () => r()));
  // a client that upgrades in time stays connected past the timeout
  const nc = await wsConnect(wsUrl(h));
  await new Promise((r) => setTimeout(r, 400));
  await nc.flush();
  await nc.close();
});

test('websocket block authorization follows a reload of the users', async (t) => {
  const users = [{ user: 'a', password: 'p' }, { user: 'b', password: 'p' }];
  const h = await startTestServer({ authorization: { users }, websocket: wsBlock({ noAuthUser: 'a' }) }, t);
  const url = wsUrl(h);
  const b = await wsConnect(url, { user: 'b', pass: 'p' });
  await b.close();
  h.server.reload({ ...h.server.options, authorization: { users: [users[0]!] } });
  await assert.rejects(wsConnect(url, { user: 'b', pass: 'p', reconnect: false }), /auth/i);
  const anon = await wsConnect(url);
  await anon.close();
});
