// Basic pub/sub and request/reply through the official client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, headers } from '@nats-io/transport-node';
import { startTestServer } from '../helpers/server.js';

test('pub/sub and request/reply through @nats-io/transport-node', async (t) => {
  const h = await startTestServer({}, t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());

  const got: string[] = [];
  const sub = nc.subscribe('greet.*', {
    callback: (_err, m) => {
      got.push(`${m.subject}:${m.string()}`);
    },
  });
  nc.publish('greet.joe', 'hello');
  nc.publish('greet.ann', 'hi');
  nc.publish('other', 'nope');
  await nc.flush();
  await waitFor(() => got.length === 2);
  assert.deepEqual(got, ['greet.joe:hello', 'greet.ann:hi']);
  sub.unsubscribe();

  nc.subscribe('svc.echo', {
    callback: (_err, m) => {
      m.respond(`echo:${m.string()}`);
    },
  });
  const r = await nc.request('svc.echo', 'ping', { timeout: 2000 });
  assert.equal(r.string(), 'echo:ping');

  // headers round-trip
  const hdrs = headers();
  hdrs.set('X-Test', 'yes');
  nc.subscribe('svc.hdr', {
    callback: (_err, m) => {
      const h2 = headers();
      h2.set('X-Seen', m.headers?.get('X-Test') ?? 'none');
      m.respond('ok', { headers: h2 });
    },
  });
  const r2 = await nc.request('svc.hdr', '', { timeout: 2000, headers: hdrs });
  assert.equal(r2.headers?.get('X-Seen'), 'yes');
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('internal client: subscribe handler sees client publishes; internal publish reaches clients', async (t) => {
  const h = await startTestServer({}, t);
  const ic = h.server.globalAccount.createInternalClient('test-internal');
  t.after(() => ic.close());
  const seen: { subject: string; reply: string; payload: string; cid: number }[] = [];
  ic.subscribe('internal.>', (subject, reply, _hdr, payload, origin) => {
    seen.push({ subject, reply, payload: payload.toString(), cid: origin.cid });
    if (reply) ic.publish(reply, '', undefined, `re:${payload.toString()}`);
  });
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const r = await nc.request('internal.svc', 'q1', { timeout: 2000 });
  assert.equal(r.string(), 're:q1');
  assert.equal(seen.length, 1);
  assert.equal(seen[0].subject, 'internal.svc');
  assert.ok(seen[0].cid > 0, 'origin cid is the publishing client');

  const got: string[] = [];
  nc.subscribe('to.client', { callback: (_e, m) => { got.push(m.string()); } });
  await nc.flush();
  ic.publish('to.client', '', undefined, Buffer.from('from-inside'));
  await waitFor(() => got.length === 1);
  assert.deepEqual(got, ['from-inside']);
});
