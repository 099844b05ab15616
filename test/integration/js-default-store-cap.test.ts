// The JetStream store cap when none is configured. nats-server 2.9.10 (diskAvailable) takes 75% of
// the space available on the store's file system (statfs: blocks available x block size, / 4 x 3);
// tsnats reported a flat 1 TiB. The figure is more than a number in /varz: the meta leader ranks
// servers for placement by it, so with a flat cap every server tied and R1 streams were spread by a
// tie-break where nats-server puts them on the server with the most free space.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import { startTsnatsJs } from '../helpers/js-conn.js';

/** nats-server's diskAvailable for `dir`. */
function natsServerCap(dir: string): number {
  const st = statfsSync(dir, { bigint: true });
  return Number((st.bavail * st.bsize) / 4n * 3n);
}

test('without max_file_store the store cap is 75% of the available disk space, as nats-server', async (t) => {
  const { server, storeDir } = await startTsnatsJs(t, 'tsnats-cap-', { httpPort: 0 });
  const varz = await (await fetch(`http://127.0.0.1:${server.httpPort}/varz`)).json() as { jetstream: { config: { max_storage: number } } };
  const jsz = await (await fetch(`http://127.0.0.1:${server.httpPort}/jsz`)).json() as { config: { max_storage: number } };
  const expected = natsServerCap(join(storeDir, 'jetstream'));
  const cap = varz.jetstream.config.max_storage;
  assert.equal(jsz.config.max_storage, cap);
  assert.notEqual(cap, 1024 ** 4, 'not the flat 1 TiB');
  // Other processes write to the same disk between the server's start and this read.
  assert.ok(Math.abs(cap - expected) <= 64 * 1024 * 1024, `cap ${cap}, 75% of available space now ${expected}`);
});
