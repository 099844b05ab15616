// One standalone JetStream server — tsnats in-process or a nats-server child — with a
// connection to it, both torn down (with the temp store dir) when the test ends. For
// tests that run the same JetStream API calls against both implementations.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startServer, type ServerHandle } from '../../src/index.js';
import type { Options } from '../../src/config/options.js';
import { spawnNatsServer } from './child.js';

export interface TsnatsJsEnv { server: ServerHandle; nc: NatsConnection; storeDir: string }

/**
 * An in-process tsnats with strict JetStream and fsync on every write (`over` overrides options,
 * its `jetstream` part field by field); `prefix` names its temp store dir.
 */
export async function startTsnatsJs(t: TestContext, prefix: string, over: Partial<Options> = {}): Promise<TsnatsJsEnv> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const server = await startServer({
    port: 0, host: '127.0.0.1', ...over,
    jetstream: {
      enabled: true, storeDir: dir, maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 'always', strict: true,
      ...(over.jetstream ?? {}),
    },
  }, { quietLog: true });
  const nc = await connect({ servers: server.clientUrl, reconnect: false });
  t.after(async () => {
    await nc.close().catch(() => {});
    await server.shutdown().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  return { server, nc, storeDir: dir };
}

/** startTsnatsJs with default options; only the connection. */
export async function tsnatsJs(t: TestContext, prefix: string): Promise<NatsConnection> {
  return (await startTsnatsJs(t, prefix)).nc;
}

/** A nats-server child with JetStream (`-js`); `prefix` names its temp dir. */
export async function natsServerJs(t: TestContext, prefix: string): Promise<NatsConnection> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ns = await spawnNatsServer(['-js', '-sd', dir, '-a', '127.0.0.1', '-p', '-1']);
  const nc = await connect({ servers: `nats://127.0.0.1:${ns.port}`, reconnect: false });
  t.after(async () => {
    await nc.close().catch(() => {});
    await ns.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return nc;
}
