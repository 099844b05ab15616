// The cluster (routes) subsystem. src/index.ts registers it when a cluster port is configured:
//   if (o.cluster?.port !== undefined) server.addSubsystem(createCluster(o));
// Other layers reach the running instance through getCluster(server).
import type { Options } from '../config/options.js';
import type { Server } from '../server/server.js';
import { Cluster } from './cluster.js';

export { Cluster } from './cluster.js';
export type { ClusterPeer, PeerListener } from './cluster.js';
export type { RoutezJson, RoutezOptions, RouteInfoJson, VarzClusterJson } from './routez.js';

const byServer = new WeakMap<Server, Cluster>();

class RegisteredCluster extends Cluster {
  override async start(server: Server): Promise<void> {
    byServer.set(server, this);
    await super.start(server);
  }
}

/** Create the cluster subsystem for `o` (o.cluster must be set). */
export function createCluster(o: Options): Cluster {
  return new RegisteredCluster(o);
}

/** The cluster subsystem of a server, once it has started (undefined when not clustered). */
export function getCluster(server: Server): Cluster | undefined {
  return byServer.get(server);
}
