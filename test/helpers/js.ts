// JetStream test fixtures shared by the consumer, KV and object store tests.
import type { TestContext } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { startTestServer, type ServerHandle } from './server.js';
import type { Options } from '../../src/config/options.js';

/** JetStream on, a private temp store dir (startTestServer makes one), periodic sync for speed. */
export const JS_TEST_OPTIONS: Partial<Options> = {
  jetstream: { enabled: true, storeDir: '', maxMemoryBytes: -1, maxFileBytes: -1, syncIntervalMs: 1000, strict: true },
};

export interface JetStreamFixture {
  h: ServerHandle;
  nc: NatsConnection;
  jsm: JetStreamManager;
}

/** A JetStream server and a connected client; both are closed after the test. With `memoryStreamS`,
 *  the stream most consumer tests use is created: memory storage, name S, subjects s.> . */
export async function startJetStreamClient(
  t: TestContext, opts: { memoryStreamS?: boolean; options?: Partial<Options> } = {},
): Promise<JetStreamFixture> {
  const h = await startTestServer({ ...JS_TEST_OPTIONS, ...opts.options }, t);
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  if (opts.memoryStreamS) await jsm.streams.add({ name: 'S', subjects: ['s.>'], storage: 'memory' as never });
  return { h, nc, jsm };
}
