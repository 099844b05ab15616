// Start-up order: like nats-server (Server.Start: EnableJetStream before AcceptLoop), the
// client port opens only once JetStream has recovered every stream and its consumers. A
// client that keeps trying to connect while the server restarts must, on its first
// successful connection, see every stream, and its plain (no reply) publish to a recovered
// stream's subject must be stored, not dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startServer } from '../../src/index.js';
import { spawnTsnats, type ChildServer } from '../helpers/child.js';
import { delay, waitUntil } from '../helpers/wait.js';

const STREAMS = 150;
const MSGS_PER_STREAM = 40;

/** Fill a store in-process on dir (periodic sync keeps this quick), then stop; returns the client port it used. */
async function prepareStore(dir: string, fill: (nc: NatsConnection) => Promise<void>): Promise<number> {
  const h = await startServer({
    port: 0, host: '127.0.0.1',
    jetstream: { enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 1000, strict: true },
  }, { quietLog: true });
  try {
    const nc = await connect({ servers: h.clientUrl });
    try {
      await fill(nc);
    } finally {
      await nc.close();
    }
    return h.port;
  } finally {
    await h.shutdown();
  }
}

test('after a restart, the first client connection sees every stream and consumer, and its publishes are stored', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-startup-'));
  // One cleanup in order: client, then the server process, then its directory (removing a
  // directory a live server writes into would not finish).
  let nc: NatsConnection | undefined;
  let child: ChildServer | undefined;
  t.after(async () => {
    await nc?.close().catch(() => {});
    await child?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  const port = await prepareStore(dir, async (nc) => {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    for (let i = 0; i < STREAMS; i++) {
      await jsm.streams.add({ name: `S${i}`, subjects: [`s${i}.>`] });
      const acks = [];
      for (let m = 0; m < MSGS_PER_STREAM; m++) acks.push(js.publish(`s${i}.m`, `v${m}`));
      await Promise.all(acks);
    }
    await jsm.consumers.add(`S${STREAMS - 1}`, { durable_name: 'D', ack_policy: 'explicit' as never });
  });

  // Restart on the same port (default sync policy: fsync before ack) while a client keeps trying.
  child = await spawnTsnats(['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { waitListening: false });
  while (nc === undefined) {
    if (child.proc.exitCode !== null) throw new Error(`server exited: ${child.output()}`);
    try {
      nc = await connect({ servers: `127.0.0.1:${port}`, reconnect: false, timeout: 10_000 });
    } catch {
      await delay(2);
    }
  }

  // First thing on the connection: a plain publish to the last stream recovered (no reply).
  const last = `S${STREAMS - 1}`;
  nc.publish(`s${STREAMS - 1}.plain`, 'plain');
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const n of jsm.streams.names()) names.push(n);
  assert.equal(names.length, STREAMS, 'every stream is there on the first connection');
  const si = await jsm.streams.info(last);
  assert.equal(si.state.messages, MSGS_PER_STREAM + 1, 'the plain publish sent first was stored');
  const ci = await jsm.consumers.info(last, 'D');
  assert.equal(ci.num_pending, MSGS_PER_STREAM + 1);
  const ack = await jetstream(nc).publish('s0.after', 'x');
  assert.equal(ack.stream, 'S0');
  assert.equal(ack.seq, MSGS_PER_STREAM + 1);
});

test('clustered: streams are restored before the client and route listeners open (log order)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-startup-rt-'));
  let child: ChildServer | undefined;
  t.after(async () => {
    await child?.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await prepareStore(dir, async (nc) => {
    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 5; i++) await jsm.streams.add({ name: `R${i}`, subjects: [`r${i}.>`] });
  });
  // Clustered JetStream needs a configured route (nats-server refuses to start without one); this
  // one goes nowhere (port 1), the server keeps retrying it.
  child = await spawnTsnats(['-js', '-sd', dir, '-a', '127.0.0.1', '-p', '-1', '--cluster', 'nats://127.0.0.1:-1', '--cluster_name', 'c1', '-n', 'n1',
    '--routes', 'nats://127.0.0.1:1']);
  const c = child;
  await waitUntil(() => c.output().includes('Listening for route connections'), 10_000, 'the route listener');
  const out = c.output();
  const lastRestored = out.lastIndexOf("Restored stream '$G > R4'");
  assert.ok(lastRestored > 0, out);
  assert.ok(out.indexOf('Listening for client connections') > lastRestored, `client listener after recovery:\n${out}`);
  assert.ok(out.indexOf('Listening for route connections') > lastRestored, `route listener after recovery:\n${out}`);
});
