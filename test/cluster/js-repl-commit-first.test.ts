// The order of an R3 stream leader's route output to the publisher's server (a follower): the
// append entry that announces the commit of a published message crosses the route before the
// leader's PubAck for it, as NRG sends its heartbeat on quorum before applying. Before, the leader
// applied first and wrote its PubAcks and then the commit in one route write, so the publisher's
// server applied the whole batch between reading the PubAcks and forwarding them to the client.
// The routes run through the chaos suite's proxies, which record the bytes each link carried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { ChaosCluster, type ChaosNode } from '../../bench/chaos/cluster.js';
import { api, connectTo, type StreamInfo } from '../../bench/chaos/api.js';
import { decodeAppendEntry, EntryType, RaftError } from '../../src/raft/index.js';
import { pollUntil } from '../helpers/wait.js';

const NS = 1_000_000;

interface RouteMsg { account: string; subject: string; payload: Buffer }

/** The RMSG/HMSG messages of one direction of a route connection, in the order they crossed it. */
function routeMsgs(bytes: Buffer): RouteMsg[] {
  const out: RouteMsg[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const eol = bytes.indexOf('\r\n', pos, 'latin1');
    if (eol < 0) break;
    const line = bytes.toString('latin1', pos, eol);
    pos = eol + 2;
    if (!line.startsWith('RMSG ') && !line.startsWith('HMSG ')) continue;
    const t = line.split(' ');
    const size = Number(t[t.length - 1]);
    out.push({ account: t[1]!, subject: t[2]!, payload: bytes.subarray(pos, pos + size) });
    pos += size + 2;
  }
  return out;
}

test('R3 stream: the leader announces a commit to the publisher\'s server before its PubAck', async (t) => {
  // Per route connection and direction ("from>to link"), the chunks in arrival order.
  const links = new Map<string, { from: ChaosNode; to: ChaosNode; chunks: Buffer[] }>();
  const c = new ChaosCluster('tsnats', 3);
  c.tapRoutes((from, to, chunk, link) => {
    const key = `${from.name}>${to.name} ${link}`;
    let l = links.get(key);
    if (l === undefined) links.set(key, (l = { from, to, chunks: [] }));
    l.chunks.push(Buffer.from(chunk));
  });
  const conns: NatsConnection[] = [];
  t.after(async () => {
    for (const nc of conns) await nc.close().catch(() => undefined);
    await c.shutdown();
  });
  await c.start();
  const control = await connectTo([c.nodes[0]!.clientUrl], 'control');
  conns.push(control);
  const config = { name: 'CF', subjects: ['cf.>'], storage: 'file', num_replicas: 3, retention: 'limits', duplicate_window: 120_000 * NS };
  // The meta group may still be electing: retry until the create is answered without an error.
  await pollUntil(async () => {
    const r = await api<{ error?: unknown }>(control, '$JS.API.STREAM.CREATE.CF', config).catch(() => ({ error: 'no answer' }));
    return r.error === undefined ? true : undefined;
  }, 'stream CF created', 30_000, 200);
  const leaderName = await pollUntil(async () => {
    const info = await api<StreamInfo & { error?: unknown }>(control, '$JS.API.STREAM.INFO.CF', undefined).catch(() => undefined);
    return info?.cluster?.leader || undefined;
  }, 'a leader for stream CF', 30_000, 100);
  const leader = c.node(leaderName);
  const follower = c.nodes.find((n) => n !== leader)!;
  const pub = await connectTo([follower.clientUrl], 'publisher');
  conns.push(pub);

  const ack = (await pub.request('cf.commit-first', 'x', { timeout: 10_000 })).json<{ stream?: string; seq?: number }>();
  assert.equal(ack.stream, 'CF');
  assert.equal(ack.seq, 1);

  // The route connection over which the stream leader (the one that answered, should leadership
  // have moved since the INFO) sent that PubAck to the publisher's server.
  const isOurAck = (m: RouteMsg) => m.account === 'APP' && m.payload.includes('"stream":"CF"') && /"seq":1[,}]/.test(m.payload.toString());
  const carrying = [...links.values()]
    .filter((l) => l.to === follower)
    .map((l) => routeMsgs(Buffer.concat(l.chunks)))
    .filter((msgs) => msgs.some(isOurAck));
  assert.equal(carrying.length, 1, 'one route connection to the publisher\'s server carried the PubAck');
  const msgs = carrying[0]!;
  const ackAt = msgs.findIndex(isOurAck);

  // The append entry that carried the message: its index is pindex + 1.
  let group = '';
  let index = 0;
  for (const m of msgs) {
    if (!m.subject.startsWith('$NRG.AE.')) continue;
    const ae = decodeAppendEntry(m.payload);
    if (ae instanceof RaftError) continue;
    if (ae.entries.some((e) => e.type === EntryType.Normal && Buffer.from(e.data).includes('cf.commit-first'))) {
      group = m.subject;
      index = ae.pindex + 1;
    }
  }
  assert.ok(index > 0, 'the message went to the publisher\'s server in an append entry');
  const commitAt = msgs.findIndex((m) => {
    if (m.subject !== group) return false;
    const ae = decodeAppendEntry(m.payload);
    return !(ae instanceof RaftError) && ae.commit >= index;
  });
  assert.ok(commitAt >= 0, 'the commit of the message reached the publisher\'s server');
  assert.ok(commitAt < ackAt, `commit announced before the PubAck (commit at message ${commitAt}, PubAck at ${ackAt} on the link)`);
});
