// The update rules of a replicated stream are the single server's (stream-config.ts
// checkStreamUpdate), checked by the meta leader against the assigned config before it proposes
// anything. Found by bench/attack/api-fuzz.ts: the meta leader used to propose any valid config,
// so an R3 file stream could be "updated" to memory storage (or to/from workqueue, or have
// deny_delete cancelled). The stream leader answered success with its unchanged config, the
// meta state kept the new one, and at the next restart every replica found its store at odds
// with its assignment and rebuilt it empty: every message was gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, stopAll } from './js-meta-own-helpers.js';
import { replicaMsgs, startRestartable, waitPlacement } from './js-repl-helpers.js';

type Answer = { error?: { code: number; err_code: number; description: string }; config?: Record<string, unknown> };

async function update(nc: NatsConnection, cfg: Record<string, unknown>): Promise<Answer> {
  const m = await nc.request(`$JS.API.STREAM.UPDATE.${cfg.name as string}`, JSON.stringify(cfg), { timeout: 10_000 });
  return m.json<Answer>();
}

const invalid = (description: string) => ({ code: 500, err_code: 10052, description });

test('repl: an update the stream cannot take is refused by the meta leader, and nothing is lost at the next restart', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-repl-update-rules-'));
  let { nodes, layout } = await startRestartable(root);
  let ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const base = { name: 'UR', subjects: ['ur.>'], num_replicas: 3, storage: 'file', deny_delete: true };
    const jsm = await jetstreamManager(ncs[0]!);
    await jsm.streams.add(base as never);
    const js = jetstream(ncs[1]!);
    for (let i = 1; i <= 5; i++) assert.equal((await js.publish(`ur.${i}`, `m${i}`)).seq, i);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'UR').length === 5), 'every replica has 5 messages');
    const before = replicaMsgs(nodes[0]!, 'UR');

    // From a server that is not the meta leader and from one that is: same answers.
    const answers = [];
    for (const nc of ncs) {
      answers.push(await update(nc, { ...base, storage: 'memory' }));
      answers.push(await update(nc, { ...base, retention: 'workqueue' }));
      answers.push(await update(nc, { ...base, deny_delete: false }));
      answers.push(await update(nc, { ...base, num_replicas: 1, storage: 'memory' }));
    }
    for (let i = 0; i < answers.length; i += 4) {
      assert.deepEqual(answers[i]!.error, invalid('stream configuration update can not change storage type'));
      assert.deepEqual(answers[i + 1]!.error, invalid('stream configuration update can not change retention policy to/from workqueue'));
      assert.deepEqual(answers[i + 2]!.error, invalid('stream configuration update can not cancel deny message deletes'));
      assert.deepEqual(answers[i + 3]!.error, invalid('stream configuration update can not change storage type'));
    }
    // What may change still changes.
    const ok = await update(ncs[2]!, { ...base, max_msgs_per_subject: 7 });
    assert.equal(ok.error, undefined);
    assert.equal(ok.config?.max_msgs_per_subject, 7);
    for (const n of nodes) {
      const sa = metaOf(n).state.stream('$G', 'UR')?.sa.stream as Record<string, unknown>;
      assert.equal(sa.storage, 'file', `${n.name}'s assignment keeps file storage`);
      assert.equal(sa.deny_delete, true);
      assert.equal(sa.max_msgs_per_subject, 7);
    }

    // Every server restarted: each replica finds its store in line with the assignment.
    await stopAll(nodes, ncs);
    ({ nodes } = await startRestartable(root, layout));
    ncs = await connectAll(nodes);
    await waitFor(() => nodes.some((n) => metaOf(n).streamGroups.get('$G', 'UR')?.isLeader), 'a stream leader after the restart', 30_000);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'UR').length === 5), 'every replica holds the 5 messages after the restart', 30_000);
    for (const n of nodes) assert.deepEqual(replicaMsgs(n, 'UR'), before, `replica ${n.name} after the restart`);
    const si = await (await jetstreamManager(ncs[0]!)).streams.info('UR');
    assert.equal(si.config.storage, 'file');
    assert.equal(si.state.messages, 5);
  } finally {
    await stopAll(nodes, ncs, root);
    rmSync(root, { recursive: true, force: true });
  }
});
