// Child process of shutdown-handles.test.ts (run by itself, not by the test runner): a 3-server
// in-process cluster with an R3 stream and an R3 durable consumer under publish and fetch/ack
// load; one server is stopped and restarted so that it catches up while the load goes on, then
// every server shuts down in the middle of that activity. Afterwards nothing the servers started
// may keep this process alive: it prints SHUTDOWN_DONE and must then exit by itself. If it is
// still alive WATCHDOG_MS later, it prints what is still open (with where each handle was
// created) and exits with code 3.
import { createHook } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { waitFor } from './cluster-helpers.js';
import { replicaMsgs, restartOne, startRestartable, waitPlacement } from './js-repl-helpers.js';
import { metaOf, type JsNode } from './js-meta-own-helpers.js';

const WATCHDOG_MS = Number(process.env.TSNATS_LEAK_WATCHDOG_MS ?? 20_000);

// Where each handle that can hold the event loop was created (short-lived requests are left out).
const HANDLE_TYPES = new Set(['Timeout', 'Immediate', 'TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'FILEHANDLE', 'FSEVENTWRAP', 'STATWATCHER', 'PROCESSWRAP', 'SIGNALWRAP', 'UDPWRAP']);
const created = new Map<number, { type: string; resource: WeakRef<object>; stack: string }>();
createHook({
  init(id, type, _trigger, resource) {
    if (!HANDLE_TYPES.has(type)) return;
    const at: { stack?: string } = {};
    Error.captureStackTrace(at);
    created.set(id, { type, resource: new WeakRef(resource as object), stack: at.stack ?? '' });
  },
  destroy(id) {
    created.delete(id);
  },
}).enable();

/** The handles still open and holding the loop, each with the stack that created it. */
function openHandles(): string {
  const out: string[] = [`active resources: ${JSON.stringify(process.getActiveResourcesInfo())}`];
  for (const [id, h] of created) {
    const r = h.resource.deref() as { hasRef?: () => boolean } | undefined;
    if (r?.hasRef !== undefined && !r.hasRef()) continue;
    const frames = h.stack.split('\n').slice(1).filter((l) => !l.includes('node:internal/async_hooks') && !l.includes('shutdown-handles-child'));
    out.push(`${h.type} #${id}\n${frames.join('\n')}`);
  }
  return out.join('\n');
}

/** Publish and fetch/ack until `stop()`; errors (servers going away) end nothing but the attempt. */
function startLoad(pubNc: NatsConnection, subNc: NatsConnection): { stop: () => Promise<void>; published: () => number } {
  let stopped = false;
  let acked = 0;
  const js = jetstream(pubNc);
  const payload = new Uint8Array(512).fill(120);
  const pub = (async () => {
    let i = 0;
    while (!stopped) {
      const batch = Array.from({ length: 32 }, () => js.publish(`lk.${i++ % 8}`, payload, { msgID: `m${i}` }).then(() => acked++, () => {}));
      await Promise.all(batch);
      // Rejected publishes settle in microtasks: yield so that the servers' I/O runs.
      await new Promise((r) => setImmediate(r));
    }
  })();
  const sub = (async () => {
    const c = await jetstream(subNc).consumers.get('LK', 'D').catch(() => undefined);
    while (!stopped && c) {
      try {
        for await (const m of await c.fetch({ max_messages: 64, expires: 1000 })) m.ack();
      } catch { /* a server went away: try again until stopped */ }
      await new Promise((r) => setImmediate(r));
    }
  })();
  return { stop: async () => { stopped = true; await Promise.all([pub, sub]); }, published: () => acked };
}

const step = (what: string): void => void process.stderr.write(`[${new Date().toISOString()}] ${what}\n`);

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-shutdown-handles-'));
  const { nodes: started, layout } = await startRestartable(root);
  const nodes: JsNode[] = [...started];
  await waitPlacement(nodes);
  step('cluster up');
  const opts = { reconnect: false } as const;
  const admin = await connect({ servers: nodes[0]!.h.clientUrl, ...opts });
  const jsm = await jetstreamManager(admin);
  await jsm.streams.add({ name: 'LK', subjects: ['lk.>'], num_replicas: 3 });
  await jsm.consumers.add('LK', { durable_name: 'D', ack_policy: AckPolicy.Explicit });
  // The load goes through n1 and n2; n3 is stopped and restarted under it.
  const pubNc = await connect({ servers: nodes[0]!.h.clientUrl, ...opts });
  const subNc = await connect({ servers: nodes[1]!.h.clientUrl, ...opts });
  const load = startLoad(pubNc, subNc);
  await waitFor(() => load.published() >= 200, '200 acknowledged publishes', 60_000);
  step('load running: n3 stops');
  await nodes[2]!.h.shutdown();
  const atStop = load.published();
  await waitFor(() => load.published() >= atStop + 1500, 'publishes while n3 is down', 60_000);
  step('n3 restarts');
  nodes[2] = await restartOne(root, layout, 2);
  // Shut everything down while n3 catches up (its stream group runs, its replica is behind).
  await waitFor(() => metaOf(nodes[2]!).streamGroups.get('$G', 'LK') !== undefined, 'n3 runs the stream group again', 60_000);
  // Meta changes in flight too: streams and consumers created one after another, so that
  // assignments are being applied on the servers while they shut down.
  let churning = true;
  let created = 0;
  const churn = (async () => {
    for (let i = 0; churning; i++) {
      try {
        await jsm.streams.add({ name: `X${i}`, subjects: [`x${i}.>`], num_replicas: 3 });
        await jsm.consumers.add(`X${i}`, { durable_name: 'D', ack_policy: AckPolicy.Explicit });
        created++;
      } catch {
        await new Promise((r) => setImmediate(r));
      }
    }
  })();
  await waitFor(() => created >= 2, 'streams created while n3 catches up', 60_000);
  const behind = replicaMsgs(nodes[2]!, 'LK').length < replicaMsgs(nodes[0]!, 'LK').length;
  step('every server shuts down');
  await Promise.all(nodes.map((n) => n.h.shutdown()));
  step('servers down');
  churning = false;
  await Promise.all([load.stop(), churn]);
  await Promise.all([pubNc.close(), subNc.close(), admin.close()]);
  rmSync(root, { recursive: true, force: true });
  console.log(`SHUTDOWN_DONE published=${load.published()} n3_behind_at_shutdown=${behind}`);
  setTimeout(() => {
    console.error(`still alive ${WATCHDOG_MS} ms after every server shut down; open handles:\n${openHandles()}`);
    process.exit(3);
  }, WATCHDOG_MS).unref();
}

main().catch((e: unknown) => {
  console.error(`scenario failed: ${(e as Error)?.stack ?? e}`);
  process.exit(2);
});
