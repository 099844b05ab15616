// max_ack_pending for pull and push consumers, num_waiting, and rate_limit_bps
// pacing, side by side with nats-server 2.9.10 (raw protocol).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, type Msg } from '@nats-io/transport-node';
import { sideBySide, startNatsServer, startTsnats, waitFor } from './js-consumer-sbs.js';

type Json = Record<string, any>;
const MS = 1_000_000;

test('max_ack_pending (pull and push), num_waiting, rate limit — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  const obs = await sideBySide(t, urls, async (nc, out) => {
    const req = async (subject: string, body: unknown = '') => (await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 3000 })).json<Json>();
    const info = async (c: string) => {
      const i = await req(`$JS.API.CONSUMER.INFO.M.${c}`);
      return `pending=${i.num_pending} ack_pending=${i.num_ack_pending} waiting=${i.num_waiting} delivered=${i.delivered.stream_seq}`;
    };
    await req('$JS.API.STREAM.CREATE.M', { name: 'M', subjects: ['m'], storage: 'memory' });
    for (let i = 0; i < 6; i++) await req('m', 'x'.repeat(1000));
    // Pull: batch 5 with max_ack_pending 2 gets 2 and keeps waiting.
    await req('$JS.API.CONSUMER.CREATE.M.PL', { stream_name: 'M', config: { name: 'PL', durable_name: 'PL', ack_policy: 'explicit', max_ack_pending: 2 } });
    const inbox = createInbox();
    const got: Msg[] = [];
    const sub = nc.subscribe(inbox, { callback: (_e, m) => { got.push(m); } });
    nc.publish('$JS.API.CONSUMER.MSG.NEXT.M.PL', JSON.stringify({ batch: 5, expires: 2000 * MS }), { reply: inbox });
    await waitFor(() => got.length >= 2, 2000, 'two pulled');
    out.push(`pull capped: got=${got.length} ${await info('PL')}`);
    await nc.request(got[0]!.reply!, '+ACK', { timeout: 2000 });
    await waitFor(() => got.length >= 3, 2000, 'third after an ack');
    out.push(`after one ack: got=${got.length} ${await info('PL')}`);
    sub.unsubscribe();
    // Push: the same cap.
    const dsub = createInbox();
    const pushed: Msg[] = [];
    const ps = nc.subscribe(dsub, { callback: (_e, m) => { pushed.push(m); } });
    await nc.flush();
    await req('$JS.API.CONSUMER.CREATE.M.PU', { stream_name: 'M', config: { name: 'PU', durable_name: 'PU', deliver_subject: dsub, ack_policy: 'explicit', max_ack_pending: 3 } });
    await waitFor(() => pushed.length >= 3, 2000, 'three pushed');
    out.push(`push capped: got=${pushed.length} ${await info('PU')}`);
    await nc.request(pushed[0]!.reply!, '+ACK', { timeout: 2000 });
    await waitFor(() => pushed.length >= 4, 2000, 'fourth after an ack');
    out.push(`push after ack: got=${pushed.length} ${await info('PU')}`);
    ps.unsubscribe();
    // Rate limit: the limiter's burst is the max payload (1 MB), so 6 KB at 40 kbit/s still
    // arrives at once on both servers.
    const rsub = createInbox();
    const times: number[] = [];
    const rs = nc.subscribe(rsub, { callback: () => { times.push(Date.now()); } });
    await nc.flush();
    const t0 = Date.now();
    await req('$JS.API.CONSUMER.CREATE.M.RL', { stream_name: 'M', config: { name: 'RL', deliver_subject: rsub, ack_policy: 'none', rate_limit_bps: 40_000 } });
    await waitFor(() => times.length >= 6, 4000, 'six rate-limited');
    rs.unsubscribe();
    const spanMs = times[5]! - t0;
    out.push(`rate limited: ${times.length} within burst=${spanMs < 500}`);
    out.push(`rate limit on pull ${JSON.stringify((await req('$JS.API.CONSUMER.CREATE.M.X', { stream_name: 'M', config: { name: 'X', ack_policy: 'explicit', rate_limit_bps: 1000 } })).error)}`);
  });
  assert.match(String(obs[0]), /^pull capped: got=2 pending=4 ack_pending=2 waiting=1/);
});
