// Start tsnats servers in-process for tests (127.0.0.1, random port, quiet log).
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type ServerHandle } from '../../src/index.js';
import type { Options } from '../../src/config/options.js';
import { ClientKind, type Account } from '../../src/index.js';

export type { ServerHandle };

/** Start a server on 127.0.0.1:<random>; stopped automatically after the test when `t` is given.
 *  `extras.configAuth` enforces the users of the options (as the CLI does). */
export async function startTestServer(
  opts: Partial<Options> = {}, t?: TestContext, extras: { configAuth?: boolean } = {},
): Promise<ServerHandle> {
  // JetStream without a store dir would fall back to the shared <tmp>/nats directory, so
  // concurrently running test files would see each other's streams: give each server its own.
  let privateStoreDir: string | undefined;
  if (opts.jetstream?.enabled && !opts.jetstream.storeDir) {
    privateStoreDir = mkdtempSync(join(tmpdir(), 'tsnats-test-js-'));
    opts = { ...opts, jetstream: { ...opts.jetstream, storeDir: privateStoreDir } };
  }
  const h = await startServer({ host: '127.0.0.1', port: 0, ...opts }, { quietLog: !process.env.TSNATS_TEST_LOG, ...extras });
  if (privateStoreDir) {
    const dir = privateStoreDir;
    const shutdown = h.shutdown.bind(h);
    h.shutdown = async () => {
      await shutdown();
      rmSync(dir, { recursive: true, force: true });
    };
  }
  if (t) t.after(() => h.shutdown());
  return h;
}

/** Capture the server's log lines (for assertions on logging). */
export function captureLog(h: ServerHandle): string[] {
  const lines: string[] = [];
  h.server.log.sink = { write: (l) => lines.push(l) };
  return lines;
}

/** Subscriptions of the account's client connections: its sublist without the server's internal
 *  ones (every account holds local-only subscriptions for its $SYS imports). */
export function clientSubCount(acc: Account): number {
  return acc.sublist.all().filter((s) => s.owner.kind === ClientKind.CLIENT).length;
}
