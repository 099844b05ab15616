// A push consumer created before its client subscribes (what @nats-io/kv's
// watch and ordered push consumers do) must start delivering at the first
// message stored after the SUB, not at the next interest poll: the delivered
// message's pending count is what KV watchers report as `delta`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createInbox, type Msg } from '@nats-io/transport-node';
import { startTsnats } from '../interop/js-consumer-sbs.js';
import { waitUntil } from '../helpers/wait.js';

test('push consumer without interest at creation delivers on the first message after the SUB', async (t) => {
  const nc = await connect({ servers: await startTsnats(t) });
  t.after(() => nc.close());
  const req = async (subject: string, body: unknown) => (await nc.request(subject, JSON.stringify(body), { timeout: 3000 })).json<Record<string, any>>();
  await req('$JS.API.STREAM.CREATE.PI', { name: 'PI', subjects: ['pi'], storage: 'memory' });
  const inbox = createInbox();
  const created = await req('$JS.API.CONSUMER.CREATE.PI', { stream_name: 'PI', config: { deliver_subject: inbox, deliver_policy: 'new', ack_policy: 'none' } });
  assert.equal(created.push_bound, undefined);
  const got: Msg[] = [];
  nc.subscribe(inbox, { callback: (_e, m) => { got.push(m); } });
  // Same connection: the SUB reaches the server before these publishes.
  await nc.request('pi', 'one', { timeout: 2000 });
  await nc.request('pi', 'two', { timeout: 2000 });
  await waitUntil(() => got.length === 2, 2000, 'two deliveries');
  // $JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<dseq>.<ts>.<pending>
  const pendingAtFirst = Number(got[0]!.reply!.split('.').at(-1));
  assert.equal(got[0]!.string(), 'one');
  assert.equal(pendingAtFirst, 0, 'first message was delivered before the second was stored');
});
