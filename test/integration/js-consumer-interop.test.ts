// The same consumer scenario against the installed nats-server and against
// tsnats: API answers (error codes, info counters, config defaults) and pull
// status messages must agree, apart from fields 2.9.10 does not have (ts) and
// volatile values (times, generated names). Skipped when nats-server is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { spawnNatsServer } from '../helpers/child.js';
import { natsServerSkip } from '../helpers/nats-server.js';
import { startTestServer } from '../helpers/server.js';

type Json = Record<string, any>;

/** Drop what legitimately differs: timestamps, ids, newer-only fields, cluster info. */
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v === null || typeof v !== 'object') return v;
  const out: Json = {};
  for (const [k, x] of Object.entries(v as Json)) {
    if (['created', 'ts', 'last_active', 'cluster', 'timestamp', 'id'].includes(k)) continue;
    out[k] = normalize(x);
  }
  // Newer servers also fill config.name for legacy DURABLE.CREATE; 2.9.10 leaves it out.
  if (out.durable_name !== undefined && out.name === out.durable_name) delete out.name;
  // A filtered consumer that reached the end of the stream: 2.9.10 reports the sequence it
  // skipped ahead to, newer servers (and tsnats) the last one actually delivered.
  if (out.config?.filter_subject && out.delivered) delete out.delivered.stream_seq;
  return out;
}

/** A pull: the messages' (subject, seq-in-ack) pairs and the final status line. */
async function pull(nc: NatsConnection, stream: string, consumer: string, body: Json, want: number): Promise<string[]> {
  const inbox = `_INBOX.${Math.random().toString(36).slice(2)}`;
  const got: string[] = [];
  const sub = nc.subscribe(inbox);
  const done = (async () => {
    for await (const m of sub as AsyncIterable<Msg>) {
      if (m.headers?.code) {
        const pend = m.headers.get('Nats-Pending-Messages');
        got.push(`${m.headers.code} ${m.headers.description}${pend ? ` pending=${pend}` : ''}`);
      } else {
        got.push(`${m.subject} ${m.reply!.split('.').slice(4, 7).join('.')} ${m.string()}`);
      }
      if (got.length >= want) break;
    }
  })();
  nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify(body), { reply: inbox });
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  sub.unsubscribe();
  // Known version difference (nats-server server/consumer.go, processNextMsgRequest): 2.9.10 ends a no_wait request that got part of
  // its batch with "408 Request Timeout", newer servers (and tsnats) with "404 No Messages".
  if (body.no_wait) return got.map((l) => (l.startsWith('408 Request Timeout') ? '404 No Messages' : l));
  return got;
}

async function scenario(url: string): Promise<unknown[]> {
  const nc = await connect({ servers: url });
  const out: unknown[] = [];
  const api = async (subject: string, body: unknown = ''): Promise<void> => {
    const r = await nc.request(subject, typeof body === 'string' ? body : JSON.stringify(body), { timeout: 3000 });
    out.push([subject, normalize(r.json<Json>())]);
  };
  try {
    // Stream answers differ between versions (2.10 fields): not part of the comparison.
    await nc.request('$JS.API.STREAM.CREATE.IO', JSON.stringify({ name: 'IO', subjects: ['io.>'], storage: 'memory' }));
    for (let i = 0; i < 6; i++) await nc.request(`io.${i % 3}`, `m${i}`);
    await api('$JS.API.CONSUMER.DURABLE.CREATE.IO.D', { stream_name: 'IO', config: { durable_name: 'D', ack_policy: 'explicit', ack_wait: 30e9, max_deliver: -1 } });
    await api('$JS.API.CONSUMER.CREATE.IO.F.io.1', { stream_name: 'IO', config: { name: 'F', durable_name: 'F', filter_subject: 'io.1', ack_policy: 'none' } });
    await api('$JS.API.CONSUMER.DURABLE.CREATE.IO.P', { stream_name: 'IO', config: { durable_name: 'P', deliver_subject: 'dlv.p', ack_policy: 'explicit' } });
    out.push(await pull(nc, 'IO', 'D', { batch: 3, expires: 1e9 }, 3));
    out.push(await pull(nc, 'IO', 'F', { batch: 5, no_wait: true }, 3));
    out.push(await pull(nc, 'IO', 'F', { batch: 1, no_wait: true }, 1));
    out.push(await pull(nc, 'IO', 'D', { batch: 10, expires: 400e6 }, 4));
    out.push(await pull(nc, 'IO', 'P', { batch: 1 }, 1));
    await api('$JS.API.CONSUMER.INFO.IO.D');
    await api('$JS.API.CONSUMER.INFO.IO.F');
    await api('$JS.API.CONSUMER.NAMES.IO');
    await api('$JS.API.CONSUMER.INFO.IO.nope');
    await api('$JS.API.CONSUMER.CREATE.IO', { stream_name: 'IO', config: { durable_name: 'x' } });
    await api('$JS.API.CONSUMER.DURABLE.CREATE.IO.y', { stream_name: 'IO', config: {} });
    await api('$JS.API.CONSUMER.CREATE.IO.z.io.2', { stream_name: 'IO', config: { name: 'z', filter_subject: 'io.1' } });
    await api('$JS.API.CONSUMER.CREATE.NOPE', { stream_name: 'NOPE', config: {} });
    await api('$JS.API.CONSUMER.CREATE.IO', { stream_name: 'IO', config: { deliver_policy: 'by_start_sequence' } });
    await api('$JS.API.CONSUMER.CREATE.IO', { stream_name: 'IO', config: { deliver_subject: 'io.loop' } });
    await api('$JS.API.CONSUMER.CREATE.IO', { stream_name: 'IO', config: { deliver_subject: 'x', flow_control: true } });
    await api('$JS.API.CONSUMER.DURABLE.CREATE.IO.D', { stream_name: 'IO', config: { durable_name: 'D', ack_policy: 'all' } });
    await api('$JS.API.CONSUMER.LEADER.STEPDOWN.IO.D');
    await api('$JS.API.CONSUMER.DELETE.IO.F');
    await api('$JS.API.CONSUMER.DELETE.IO.F');
    await api('$JS.API.CONSUMER.LIST.IO');
  } finally {
    await nc.close();
  }
  return out;
}

test('consumer scenario: tsnats answers like nats-server', { skip: natsServerSkip() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-cinterop-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ns = await spawnNatsServer(['-a', '127.0.0.1', '-p', '-1', '-js', '-sd', dir]);
  t.after(() => ns.stop());
  const theirs = await scenario(`nats://127.0.0.1:${ns.port}`);
  const h = await startTestServer({
    jetstream: { enabled: true, storeDir: '', maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 1000, strict: true },
  }, t);
  const ours = await scenario(h.clientUrl);
  assert.equal(ours.length, theirs.length);
  for (let i = 0; i < ours.length; i++) assert.deepEqual(ours[i], theirs[i], `step ${i}`);
});
