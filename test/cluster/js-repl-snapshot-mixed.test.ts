// Mixed cluster (1 nats-server 2.9.10 + 2 tsnats): a nats-server follower that was down while the
// tsnats stream leader compacted its log gets the leader's snapshot (JSON, the form 2.9.10 reads)
// and fetches the missing messages from the leader's `$JSC` catch-up server.
// Skipped, saying so, where nats-server is missing (an error under CI=true).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstreamManager } from '@nats-io/jetstream';
import { JsCluster, pollUntil, skipReason } from './js-cluster-harness.js';
import { SMALL_SNAPSHOTS, createR3, localState, publishRange, restartWithEnv, streamLeader, streamSnapshotIndex } from './js-repl-snapshot-helpers.js';

test('repl snapshot: a nats-server follower catches up from a tsnats leader\'s snapshot', { skip: skipReason('nats-server'), timeout: 240_000 }, async () => {
  const saved = Object.fromEntries(Object.keys(SMALL_SNAPSHOTS).map((k) => [k, process.env[k]]));
  Object.assign(process.env, SMALL_SNAPSHOTS);
  const c = await JsCluster.start({ impl: 'nats-server', size: 3, impls: ['nats-server', 'tsnats', 'tsnats'] });
  try {
    const nc = await c.connect(c.nodes[1]!);
    await createR3(nc, 'MIX');
    await publishRange(nc, 'MIX', 1, 100);
    let leader = await streamLeader(c, nc, 'MIX');
    for (let i = 0; leader.impl !== 'tsnats'; i++) {
      assert.ok(i < 20, 'a tsnats stream leader');
      await nc.request('$JS.API.STREAM.LEADER.STEPDOWN.MIX', '', { timeout: 5000 }).catch(() => undefined);
      leader = await pollUntil(async () => {
        const l = await streamLeader(c, nc, 'MIX');
        return l !== leader ? l : undefined;
      }, 'a new stream leader', 30_000, 200);
    }
    const go = c.nodes[0]!;
    await c.stop(go);
    const before = streamSnapshotIndex(leader);
    await publishRange(nc, 'MIX', 101, 600);
    await pollUntil(() => (streamSnapshotIndex(leader) > before + 5 ? true : undefined), 'the leader compacted its log', 30_000, 100);
    await restartWithEnv(c, go, SMALL_SNAPSHOTS);
    await pollUntil(async () => {
      const s = await localState(c, go, 'MIX');
      return s && s.last_seq === 600 && s.messages === 600 && s.first_seq === 1 ? true : undefined;
    }, 'the nats-server replica holding 1..600', 60_000, 200);
    const info = await (await jetstreamManager(nc, { timeout: 20_000 })).streams.info('MIX');
    assert.equal(info.state.messages, 600);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await c.shutdown();
  }
});
