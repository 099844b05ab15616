// Consumer advisories side by side with nats-server 2.9.10: created / updated
// / deleted actions, ack sample metrics (sample_freq), API audit for consumer
// requests; plus replay_policy original pacing and headers-only push delivery.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, type Msg } from '@nats-io/transport-node';
import { sideBySide, startNatsServer, startTsnats, waitFor } from './js-consumer-sbs.js';

type Json = Record<string, any>;

test('consumer advisories and ack samples — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  const obs = await sideBySide(t, urls, async (nc, out) => {
    const events: string[] = [];
    const sub = nc.subscribe('$JS.EVENT.>', {
      callback: (_e, m: Msg) => {
        const a = m.json<Json>();
        if (a.type === 'io.nats.jetstream.advisory.v1.api_audit') {
          if (String(a.subject).startsWith('$JS.API.CONSUMER.')) events.push(`audit ${a.subject} ${JSON.parse(a.response).error?.err_code ?? 'ok'}`);
          return;
        }
        if (a.type === 'io.nats.jetstream.metric.v1.consumer_ack') {
          events.push(`${m.subject} ${a.stream}/${a.consumer} s${a.stream_seq} c${a.consumer_seq} d${a.deliveries} ackTime>0=${a.ack_time > 0}`);
          return;
        }
        if (String(a.type).includes('stream_action')) return;
        events.push(`${m.subject} ${a.type} ${a.stream}/${a.consumer} ${a.action ?? ''}`);
      },
    });
    await nc.flush();
    const req = async (subject: string, body: unknown = '') => (await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 3000 })).json<Json>();
    await req('$JS.API.STREAM.CREATE.V', { name: 'V', subjects: ['v'], storage: 'memory' });
    for (let i = 0; i < 3; i++) await req('v', `m${i}`);
    await req('$JS.API.CONSUMER.CREATE.V.S', { stream_name: 'V', config: { name: 'S', durable_name: 'S', ack_policy: 'explicit', sample_freq: '100%' } });
    await req('$JS.API.CONSUMER.CREATE.V.S', { stream_name: 'V', config: { name: 'S', durable_name: 'S', ack_policy: 'explicit', sample_freq: '100%', description: 'updated' } });
    await req('$JS.API.CONSUMER.INFO.V.missing');
    // Pull two and ack them: one ack sample per ack at 100%.
    const inbox = createInbox();
    const got: Msg[] = [];
    const ps = nc.subscribe(inbox, { callback: (_e, m) => { got.push(m); } });
    nc.publish('$JS.API.CONSUMER.MSG.NEXT.V.S', JSON.stringify({ batch: 2 }), { reply: inbox });
    await waitFor(() => got.length === 2, 2000, 'two pulled');
    ps.unsubscribe();
    for (const m of got) await nc.request(m.reply!, '+ACK', { timeout: 2000 });
    await req('$JS.API.CONSUMER.DELETE.V.S');
    await waitFor(() => events.filter((e) => e.includes('DELETED')).length === 1 && events.filter((e) => e.includes('METRIC')).length === 2,
      2000, 'deleted advisory and ack samples');
    await nc.flush();
    sub.unsubscribe();
    out.push(['events', events.sort()]);
  });
  assert.ok((obs[0] as [string, string[]])[1].some((e) => e.startsWith('$JS.EVENT.METRIC.CONSUMER.ACK.V.S V/S s1 c1 d1')));
});

test('replay original paces deliveries; headers_only push delivery — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  await sideBySide(t, urls, async (nc, out) => {
    const req = async (subject: string, body: unknown = '') => (await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 3000 })).json<Json>();
    await req('$JS.API.STREAM.CREATE.R', { name: 'R', subjects: ['r'], storage: 'memory' });
    await req('r', 'first');
    await new Promise((r) => setTimeout(r, 400)); // the gap replay_policy original must reproduce
    await req('r', 'second-with-a-longer-body');
    const inbox = createInbox();
    const at: number[] = [];
    const lines: string[] = [];
    const sub = nc.subscribe(inbox, {
      callback: (_e, m) => {
        at.push(Date.now());
        lines.push(`${m.subject} len=${m.data.length} size=${m.headers?.get('Nats-Msg-Size')}`);
      },
    });
    await nc.flush();
    await req('$JS.API.CONSUMER.CREATE.R', { stream_name: 'R', config: { deliver_subject: inbox, ack_policy: 'none', replay_policy: 'original', headers_only: true } });
    await waitFor(() => at.length === 2, 3000, 'two replayed messages');
    sub.unsubscribe();
    out.push(['replay', lines, `gap>=300ms ${at[1]! - at[0]! >= 300}`]);
  });
});
