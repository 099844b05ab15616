// The same configuration file run by tsnats (in-process, config users enforced) and by the real
// nats-server (child process), for side-by-side scenarios. Both listen on 127.0.0.1, port 0; each
// gets its own JetStream store dir; everything is stopped and removed after the test.
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigText } from '../../src/config/load.js';
import { startTestServer, type ServerHandle } from './server.js';
import { spawnNatsServer } from './child.js';

export interface ConfigServer {
  name: 'tsnats' | 'nats-server';
  url: string;
  /** the in-process server (tsnats only) */
  h?: ServerHandle;
}

/** `conf` without `listen`/`jetstream.store_dir`: both are added here. `jetstream: true` turns it on;
 *  `natsServer: false` starts tsnats alone. */
export async function startConfigServers(
  t: TestContext, conf: string, opts: { jetstream?: boolean; natsServer?: boolean } = {},
): Promise<ConfigServer[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tsnats-conf-'));
  const text = (store: string): string => `listen: "127.0.0.1:-1"\n${opts.jetstream ? `jetstream { store_dir: "${store}" }\n` : ''}${conf}`;

  const { options } = loadConfigText(text(join(dir, 'ts')), join(dir, 'ts.conf'));
  const h = await startTestServer({ ...options, port: 0 }, t, { configAuth: true });

  const ts: ConfigServer = { name: 'tsnats', url: h.clientUrl, h };
  if (opts.natsServer === false) {
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    return [ts];
  }
  const file = join(dir, 'ns.conf');
  writeFileSync(file, text(join(dir, 'ns')));
  const ns = await spawnNatsServer(['-c', file]).catch((e: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  // after hooks run in the order they were added: stop the server, then remove its files
  t.after(() => ns.stop());
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return [ts, { name: 'nats-server', url: `127.0.0.1:${ns.port}` }];
}
