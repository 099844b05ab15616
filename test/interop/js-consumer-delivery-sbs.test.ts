// Delivery side by side with nats-server 2.9.10 through @nats-io/jetstream:
// ordered consumers (consume and fetch) that recreate themselves after their
// consumer is deleted, push consumers with flow control and heartbeats,
// deliver_group queue delivery, interest and workqueue retention.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createInbox, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy, DeliverPolicy, RetentionPolicy, jetstream, jetstreamManager, type JetStreamManager,
} from '@nats-io/jetstream';
import { errorOf, sideBySide, startNatsServer, startTsnats, waitFor } from './js-consumer-sbs.js';

const MS = 1_000_000;

async function deleteAllConsumers(jsm: JetStreamManager, stream: string): Promise<number> {
  let n = 0;
  for await (const ci of jsm.consumers.list(stream)) {
    await jsm.consumers.delete(stream, ci.name);
    n++;
  }
  return n;
}

async function publishN(nc: NatsConnection, subject: string, from: number, to: number): Promise<void> {
  const js = jetstream(nc);
  for (let i = from; i <= to; i++) await js.publish(subject, `m${i}`);
}

test('ordered consumers recreate after deletion (consume and fetch) — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  await sideBySide(t, urls, async (nc, out) => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: 'O', subjects: ['o.>'], storage: 'memory' as never });
    await publishN(nc, 'o.a', 1, 5);

    // consume(): 5 messages, delete the server-side consumer, 5 more must still arrive in order.
    const oc = await js.consumers.get('O');
    const got: string[] = [];
    // The client answers "409 Consumer Deleted" by waiting for missed heartbeats
    // (2 x idle_heartbeat) and then recreates: keep that short.
    const iter = await oc.consume({ max_messages: 100, idle_heartbeat: 500 });
    const loop = (async () => {
      for await (const m of iter) {
        got.push(`${m.seq}:${m.string()}:dc${m.info.deliveryCount}`);
        if (got.length === 10) break;
      }
    })();
    await waitFor(() => got.length === 5, 3000, 'first 5 ordered messages');
    out.push(`deleted ${await deleteAllConsumers(jsm, 'O')}`);
    await publishN(nc, 'o.a', 6, 10);
    await Promise.race([loop, new Promise((_, rej) => setTimeout(() => rej(new Error(`ordered consume stalled: ${got}`)), 8000))]);
    out.push(['ordered consume', got]);

    // fetch(): the ordered consumer's next fetch after a deletion starts where it left off.
    const of = await js.consumers.get('O');
    const f1: number[] = [];
    for await (const m of await of.fetch({ max_messages: 4, expires: 1000 })) f1.push(m.seq);
    await deleteAllConsumers(jsm, 'O');
    const f2: number[] = [];
    const f2err = await errorOf((async () => {
      for await (const m of await of.fetch({ max_messages: 4, expires: 1000 })) f2.push(m.seq);
    })());
    // The next fetch starts a fresh consumer after the last delivered sequence.
    const f3: number[] = [];
    for await (const m of await of.fetch({ max_messages: 4, expires: 1000 })) f3.push(m.seq);
    out.push(['ordered fetch', f1, f2, f2err, f3]);
    const names: string[] = [];
    for await (const ci of jsm.consumers.list('O')) names.push(`${ci.config.deliver_policy}/${ci.config.opt_start_seq}/${ci.config.ack_policy}/${ci.config.mem_storage}/${ci.config.num_replicas}`);
    out.push(['ordered consumer configs', names.sort()]);
  });
});

test('push consumers: flow control + heartbeats, deliver_group — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  await sideBySide(t, urls, async (nc, out) => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await jsm.streams.add({ name: 'P', subjects: ['p.>'], storage: 'memory' as never });
    // 600 x 4 KiB = 2.4 MB: more than one flow-control window.
    const body = new Uint8Array(4096).fill(7);
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < 600; i++) acks.push(js.publish('p.x', body));
    await Promise.all(acks);

    const inbox = createInbox();
    await jsm.consumers.add('P', {
      durable_name: 'FC', deliver_subject: inbox, flow_control: true, idle_heartbeat: 250 * MS, ack_policy: AckPolicy.None,
    });
    const pc = await js.consumers.getPushConsumer('P', 'FC');
    const iter = await pc.consume();
    const statuses = new Set<string>();
    void (async () => {
      for await (const s of iter.status()) statuses.add(s.type);
    })();
    let n = 0;
    let lastSeq = 0;
    let inOrder = true;
    // Keep iterating (do not break: that would stop the subscription and nobody would
    // answer the last flow-control request or see heartbeats).
    const loop = (async () => {
      for await (const m of iter) {
        if (m.seq !== lastSeq + 1) inOrder = false;
        lastSeq = m.seq;
        n++;
      }
    })();
    await waitFor(() => n >= 600, 5000, '600 push messages');
    out.push(`flow control: ${n} messages in order=${inOrder}`);
    const ci = await jsm.consumers.info('P', 'FC');
    out.push(`fc info delivered=${ci.delivered.stream_seq} pending=${ci.num_pending} push_bound=${ci.push_bound}`);
    // An idle consumer sends heartbeats that the client reports.
    statuses.clear();
    await waitFor(() => statuses.has('heartbeat'), 3000, 'heartbeat status');
    out.push(`idle heartbeat seen=${statuses.has('heartbeat')} more=${n - 600}`);
    iter.stop();
    await loop;

    // deliver_group: two queue subscribers share the messages, each exactly once.
    await jsm.streams.add({ name: 'Q', subjects: ['q.>'], storage: 'memory' as never });
    const qinbox = createInbox();
    await jsm.consumers.add('Q', { durable_name: 'G', deliver_subject: qinbox, deliver_group: 'workers', ack_policy: AckPolicy.Explicit });
    const seen = new Map<number, number>();
    const perSub = [0, 0];
    const subs = [0, 1].map((i) => nc.subscribe(qinbox, {
      queue: 'workers',
      callback: (_e, m) => {
        const seq = Number(m.reply!.split('.')[5]);
        seen.set(seq, (seen.get(seq) ?? 0) + 1);
        perSub[i]++;
        m.respond();
      },
    }));
    await nc.flush();
    await publishN(nc, 'q.x', 1, 40);
    await waitFor(() => seen.size === 40, 5000, '40 queue deliveries');
    // nats-server applies acks asynchronously: poll until the last one landed.
    let qi = await jsm.consumers.info('Q', 'G');
    for (const deadline = Date.now() + 2000; qi.num_ack_pending > 0 && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 20));
      qi = await jsm.consumers.info('Q', 'G');
    }
    out.push(`group: distinct=${seen.size} dup=${[...seen.values()].some((c) => c > 1)} both=${perSub.every((c) => c > 0) || 'one-member'}`);
    out.push(`group info pending=${qi.num_pending} ack_pending=${qi.num_ack_pending} push_bound=${qi.push_bound}`);
    out.push(`plain sub on grouped consumer ${await errorOf(jsm.consumers.add('Q', { durable_name: 'G2', deliver_subject: qinbox, ack_policy: AckPolicy.None }))}`);
    for (const s of subs) s.unsubscribe();
  });
});

test('interest and workqueue retention — tsnats vs nats-server', async (t) => {
  const urls = { ns: await startNatsServer(t), ts: await startTsnats(t) };
  await sideBySide(t, urls, async (nc, out) => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    const state = async (s: string) => {
      const st = (await jsm.streams.info(s)).state;
      return `msgs=${st.messages} first=${st.first_seq} last=${st.last_seq} consumers=${st.consumer_count}`;
    };
    // Workqueue: overlapping filters are refused, an unfiltered second consumer too.
    await jsm.streams.add({ name: 'W', subjects: ['w.>'], retention: RetentionPolicy.Workqueue, storage: 'memory' as never });
    await jsm.consumers.add('W', { durable_name: 'A', filter_subject: 'w.a.>', ack_policy: AckPolicy.Explicit });
    out.push(`wq overlap ${await errorOf(jsm.consumers.add('W', { durable_name: 'B', filter_subject: 'w.>', ack_policy: AckPolicy.Explicit }))}`);
    out.push(`wq same ${await errorOf(jsm.consumers.add('W', { durable_name: 'B', filter_subject: 'w.a.x', ack_policy: AckPolicy.Explicit }))}`);
    out.push(`wq disjoint ${await errorOf(jsm.consumers.add('W', { durable_name: 'C', filter_subject: 'w.b', ack_policy: AckPolicy.Explicit }))}`);
    out.push(`wq ack none ${await errorOf(jsm.consumers.add('W', { durable_name: 'D', filter_subject: 'w.c', ack_policy: AckPolicy.None }))}`);
    out.push(`wq deliver last ${await errorOf(jsm.consumers.add('W', { durable_name: 'E', filter_subject: 'w.d', ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.Last }))}`);
    await js.publish('w.a.1', '1');
    await js.publish('w.b', '2');
    await js.publish('w.a.2', '3');
    const ca = await js.consumers.get('W', 'A');
    const msgs = [];
    for await (const m of await ca.fetch({ max_messages: 2, expires: 1000 })) msgs.push(m);
    msgs[0].ack();
    await msgs[1].ackAck();
    out.push(`wq after acks ${await state('W')}`);
    const cc = await js.consumers.get('W', 'C');
    const [mb] = [await cc.next({ expires: 1000 })];
    mb!.nak();
    out.push(`wq after nak ${await state('W')}`);

    // Interest: a message goes once every consumer acked it; none at all -> not kept.
    await jsm.streams.add({ name: 'I', subjects: ['i.>'], retention: RetentionPolicy.Interest, storage: 'memory' as never });
    await js.publish('i.x', 'gone');
    out.push(`interest no consumers ${await state('I')}`);
    await jsm.consumers.add('I', { durable_name: 'X', ack_policy: AckPolicy.Explicit });
    await jsm.consumers.add('I', { durable_name: 'Y', ack_policy: AckPolicy.Explicit, filter_subject: 'i.y' });
    await js.publish('i.x', '1');
    await js.publish('i.y', '2');
    out.push(`interest stored ${await state('I')}`);
    const cx = await js.consumers.get('I', 'X');
    const xs = [];
    for await (const m of await cx.fetch({ max_messages: 2, expires: 1000 })) xs.push(m);
    for (const m of xs) await m.ackAck();
    out.push(`interest after X acks ${await state('I')}`);
    const cy = await js.consumers.get('I', 'Y');
    const y = await cy.next({ expires: 1000 });
    await y!.ackAck();
    out.push(`interest after Y acks ${await state('I')}`);
    await js.publish('i.y', '3');
    await jsm.consumers.delete('I', 'Y');
    await jsm.consumers.delete('I', 'X');
    out.push(`interest after deleting consumers ${await state('I')}`);
  }, {
    3: {
      why: '10084 text: 2.9.10 "requires ack policy", newer "requires explicit ack policy on workqueue stream"',
      expect: (s) => String(s).replace('requires ack policy', 'requires explicit ack policy on workqueue stream'),
    },
  });
});
