// A tsnats server in a child process for cluster tests that must kill a node (SIGKILL)
// and restart it. Started with child_process.fork(); options come as JSON in argv[2].
// Talks to the parent over IPC:
//   child -> parent: { type: 'ready', clientUrl, clusterPort, serverId }
//   parent -> child: { type: 'query', id } -> { type: 'state', id, routes, remoteIds }
//                    { type: 'interest', id, account, subject } -> { type: 'interest', id, value }
import { startServer } from '../../src/index.js';
import { getCluster } from '../../src/cluster/index.js';
import type { Options } from '../../src/config/options.js';

interface Query { type: string; id: number; account?: string; subject?: string }

async function main(): Promise<void> {
  const opts = JSON.parse(process.argv[2] ?? '{}') as Partial<Options>;
  const h = await startServer(opts, { quietLog: process.env.TSNATS_CHILD_LOG !== '1' });
  const cluster = getCluster(h.server);
  process.on('message', (raw: unknown) => {
    const q = raw as Query;
    if (q.type === 'query') {
      process.send?.({ type: 'state', id: q.id, routes: cluster?.numRoutes ?? 0, remoteIds: cluster?.remoteServerIds() ?? [] });
    } else if (q.type === 'interest') {
      process.send?.({ type: 'interest', id: q.id, value: cluster?.hasRemoteInterest(q.account ?? '$G', q.subject ?? '') ?? false });
    } else if (q.type === 'shutdown') {
      void h.shutdown().then(() => process.exit(0));
    }
  });
  process.on('SIGTERM', () => {
    void h.shutdown().then(() => process.exit(0));
  });
  // The parent going away (IPC channel closed) ends the child too.
  process.on('disconnect', () => {
    void h.shutdown().then(() => process.exit(0));
  });
  process.send?.({ type: 'ready', clientUrl: h.clientUrl, clusterPort: h.clusterPort, serverId: h.server.serverId });
}

main().catch((e) => {
  process.stderr.write(`child server failed: ${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
