// Embedding API: start a tsnats server inside a Node.js process.
//
//   import { startServer } from 'tsnats';
//   const h = await startServer({ port: 0 });
//   ... connect to h.clientUrl ...
//   await h.shutdown();
import { defaultOptions, mergeOptions, type Options } from './config/options.js';
import { Server, type ServerExtras, type Subsystem } from './server/server.js';

export { Server, SERVER_VERSION } from './server/server.js';
export type { Subsystem, RouteBridge } from './server/server.js';
export type { Options } from './config/options.js';
export { defaultOptions, mergeOptions } from './config/options.js';
export { Account } from './core/account.js';
export { InternalClient } from './core/internal-client.js';
export { ClientKind } from './core/types.js';
export type { MsgOrigin, InternalMsgHandler, MsgSink, RouteSink } from './core/types.js';

/**
 * Register the subsystems the options enable (the CLI and startServer both
 * call this). Subsystems are imported only when enabled so a plain server
 * starts fast; one line each, e.g.
 *   if (o.jetstream.enabled) server.addSubsystem((await import('./jetstream/index.js')).createJetStream(o));
 */
export async function addDefaultSubsystems(server: Server): Promise<void> {
  const o = server.options;
  // websocket clients (and the `ws` package) only when the block sets a port; nats-server
  // opens this listener before the routes.
  if (o.websocket?.port !== undefined) {
    server.addSubsystem(lazySubsystem('websocket', async () => (await import('./websocket/index.js')).createWebsocket(o)));
  }
  if (o.cluster?.port !== undefined) server.addSubsystem((await import('./cluster/index.js')).createCluster(o));
  // leaf nodes: the module is loaded only when a leafnodes block is configured
  if (o.leafnodes !== undefined) server.addSubsystem((await import('./leaf/index.js')).createLeafnodes(o));
  if (o.jetstream.enabled) {
    // consumers: $JS.API.CONSUMER.* handlers and recovery (a JetStream extension)
    await import('./jetstream/consumer/api.js');
    server.addSubsystem((await import('./jetstream/index.js')).createJetStream(o));
  }
  // HTTP endpoints when a monitoring port is set; $SYS.REQ.SERVER.* always.
  // Loaded once the client listener is up: it is not needed to accept clients.
  server.addSubsystem(lazySubsystem('monitor', async () => (await import('./monitor/index.js')).createMonitor(o)));
}

/** A subsystem whose module is imported when the server starts it. */
function lazySubsystem(name: string, load: () => Promise<Subsystem>): Subsystem {
  let inner: Subsystem | null = null;
  return {
    name,
    async start(server: Server): Promise<void> {
      inner = await load();
      await inner.start(server);
    },
    async shutdown(): Promise<void> {
      if (inner !== null) await inner.shutdown();
    },
  };
}

export interface ServerHandle {
  server: Server;
  /** nats://127.0.0.1:<port> */
  clientUrl: string;
  port: number;
  httpPort?: number;
  clusterPort?: number;
  shutdown(): Promise<void>;
}

export interface StartOptions extends ServerExtras {
  /** Options object already complete (from the config file/flags): used as-is instead of merging over defaults. */
  fullOptions?: Options;
}

/**
 * Create a Server with the subsystems the options enable, start it, and
 * resolve once it accepts connections. Embedding callers usually pass
 * `{ port: 0 }` (random port); the default host is 0.0.0.0 like nats-server.
 */
export async function startServer(opts: Partial<Options> = {}, extras: StartOptions = {}): Promise<ServerHandle> {
  const o = extras.fullOptions ?? mergeOptions(defaultOptions(), opts);
  // Users and permissions given in the options are enforced, as nats-server does; an embedding
  // caller that installs its own authenticator can opt out with { configAuth: false }.
  const server = new Server(o, { quietLog: extras.quietLog, configAuth: extras.configAuth ?? true });
  // Subsystems register in addDefaultSubsystems, one line each (cluster routes, JetStream, monitoring).
  await addDefaultSubsystems(server);
  await server.start();
  const host = o.host === '0.0.0.0' || o.host === '::' || o.host === '' ? '127.0.0.1' : o.host;
  return {
    server,
    clientUrl: `nats://${host.includes(':') ? `[${host}]` : host}:${server.port}`,
    port: server.port,
    get httpPort() { return server.listeners.port('monitoring'); },
    get clusterPort() { return server.listeners.port('cluster'); },
    shutdown: () => server.shutdown(),
  };
}
