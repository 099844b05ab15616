// Subsystem start order: a subsystem with startBeforeClients starts before the client
// listener opens (JetStream recovers its streams there, as nats-server's Server.Start runs
// EnableJetStream before AcceptLoop); the others start once clients are accepted; every
// afterStart hook runs when all have started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, defaultOptions, mergeOptions, type Subsystem } from '../../src/index.js';

test('early subsystems start before the client listener, afterStart once all have started', async (t) => {
  const server = new Server(mergeOptions(defaultOptions(), { host: '127.0.0.1', port: 0 }), { quietLog: true });
  const events: string[] = [];
  const sub = (name: string, early: boolean): Subsystem => ({
    name,
    startBeforeClients: early,
    async start(s) { events.push(`${name}.start port=${s.port > 0 ? 'open' : 'closed'}`); },
    async afterStart() { events.push(`${name}.afterStart port=${server.port > 0 ? 'open' : 'closed'}`); },
    async shutdown() {},
  });
  server.addSubsystem(sub('routes', false));
  server.addSubsystem(sub('jetstream', true));
  await server.start();
  t.after(() => server.shutdown());
  assert.deepEqual(events, [
    'jetstream.start port=closed',
    'routes.start port=open',
    'jetstream.afterStart port=open',
    'routes.afterStart port=open',
  ]);
});
