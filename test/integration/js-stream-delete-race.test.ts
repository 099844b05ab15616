// A STREAM.CREATE racing a STREAM.DELETE of the same name (js-account.ts): the old stream's
// deletion ends by removing its directory, and a new stream of that name created meanwhile
// must not lose its files to it. The interleaving is forced, not timed: the store factory's
// directory removal (the deletion's last step) is held until the create either opened its
// store (what the race needs) or has shown that it waits for the deletion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager, jetstream } from '@nats-io/jetstream';
import { startTestServer } from '../helpers/server.js';
import { JS_TEST_OPTIONS } from '../helpers/js.js';
import { waitUntil } from '../helpers/wait.js';
import type { JetStreamService } from '../../src/jetstream/index.js';

test('STREAM.CREATE racing a STREAM.DELETE of the same name keeps the new stream, its files and its messages across a restart', async (t) => {
  const storeDir = mkdtempSync(join(tmpdir(), 'tsnats-delete-race-'));
  t.after(() => rmSync(storeDir, { recursive: true, force: true }));
  const options = { ...JS_TEST_OPTIONS, jetstream: { ...JS_TEST_OPTIONS.jetstream!, storeDir } };
  const h = await startTestServer(options);
  let stopped = false;
  t.after(async () => {
    if (!stopped) await h.shutdown();
  });
  const nc = await connect({ servers: h.clientUrl });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({ name: 'S', subjects: ['old.>'] });
  await js.publish('old.1', 'x');

  const stores = (h.server.getSubsystem('jetstream') as JetStreamService).stores;
  const removeDir = stores.removeDir.bind(stores);
  const create = stores.create.bind(stores);
  let removing = false;
  let release!: () => void;
  const held = new Promise<void>((r) => { release = r; });
  stores.removeDir = async (account, stream) => {
    removing = true;
    await held;
    return removeDir(account, stream);
  };
  let opening = 0;
  stores.create = (account, cfg, createdNs) => {
    opening++;
    return create(account, cfg, createdNs);
  };

  const deleted = jsm.streams.delete('S');
  await waitUntil(() => removing, 10_000, 'the deletion to reach its directory removal');
  const created = jsm.streams.add({ name: 'S', subjects: ['new.>'] });
  await nc.flush(); // the server has taken the create up to its first wait
  // Before the fix the create opens its store (and answers) while the deletion is held; after it,
  // the create waits for the deletion and opens nothing yet.
  if (opening > 0) await created;
  release();
  assert.equal(await deleted, true);
  const info = await created;
  assert.deepEqual(info.config.subjects, ['new.>']);
  assert.equal(opening, 1);

  const ack = await js.publish('new.1', 'y');
  assert.equal(ack.seq, 1);
  const dir = join(storeDir, 'jetstream', '$G', 'streams', 'S');
  assert.ok(existsSync(join(dir, 'meta.inf')), `the new stream's meta.inf is on disk (${dir})`);

  // What is on disk is what a restart recovers.
  await nc.close();
  await h.shutdown();
  stopped = true;
  const h2 = await startTestServer(options, t);
  const nc2 = await connect({ servers: h2.clientUrl });
  t.after(() => nc2.close());
  const jsm2 = await jetstreamManager(nc2);
  const after = await jsm2.streams.info('S');
  assert.deepEqual(after.config.subjects, ['new.>']);
  assert.equal(after.state.messages, 1);
  assert.equal((await jsm2.streams.getMessage('S', { seq: 1 }))?.subject, 'new.1');
});
