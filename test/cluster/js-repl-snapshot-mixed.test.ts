// Mixed clusters (nats-server 2.9.10 and tsnats): a follower of the other implementation than the
// stream leader is stopped while the leader compacts its log, then started again; it installs the
// leader's snapshot (JSON, the form 2.9.10 reads and writes) and fetches the missing messages with
// the `$JSC` catch-up of the other implementation. Which direction a run covers depends on who wins
// the stream election (nats-server leader → tsnats follower, or tsnats leader → nats-server
// follower); both mixes are run. Skipped, saying so, where nats-server is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JsCluster, pollUntil, skipReason, type Impl } from './js-cluster-harness.js';
import { SMALL_SNAPSHOTS, createR3, localState, restartWithEnv, streamLeader, withEnv } from './js-repl-snapshot-helpers.js';

const MIXES: Impl[][] = [['nats-server', 'tsnats', 'tsnats'], ['nats-server', 'nats-server', 'tsnats']];

for (const impls of MIXES) {
  test(`repl snapshot, mixed ${impls.join('+')}: a follower of the other kind catches up from the leader's snapshot`,
    { skip: skipReason('nats-server'), timeout: 240_000 }, async () => {
      const c = await withEnv(SMALL_SNAPSHOTS, () => JsCluster.start({ impl: 'nats-server', size: 3, impls }));
      try {
        const leader = await (async () => {
          const nc0 = await c.connect(c.nodes[0]!);
          await createR3(nc0, 'MIX');
          return streamLeader(c, nc0, 'MIX');
        })();
        const follower = c.nodes.find((n) => n.impl !== leader.impl)!;
        const nc = await c.connect(leader);
        const js = jetstream(nc, { timeout: 20_000 });
        for (let i = 1; i <= 20; i++) assert.equal((await js.publish(`mix.${i % 5}`, `k${i}`)).seq, i);
        await c.stop(follower);
        // nats-server 2.9.10 compacts a stream group once more than 8 MiB of log can go (tsnats here: 32 KiB).
        const big = 'b'.repeat(16 * 1024);
        for (let i = 21; i <= 720; i += 20) {
          const acks = await Promise.all(Array.from({ length: 20 }, (_x, k) => js.publish(`mix.${(i + k) % 5}`, `k${i + k}|${big}`)));
          acks.forEach((a, k) => assert.equal(a.seq, i + k));
        }
        await restartWithEnv(c, follower, SMALL_SNAPSHOTS);
        await pollUntil(async () => {
          const s = await localState(c, follower, 'MIX');
          return s && s.last_seq === 720 && s.messages === 720 && s.first_seq === 1 ? true : undefined;
        }, `the ${follower.impl} replica holding 1..720`, 90_000, 200);
        if (follower.impl === 'tsnats') assert.match(follower.log(), /catching up from the leader/, 'tsnats installed the leader\'s snapshot');
        const info = await (await jetstreamManager(nc, { timeout: 20_000 })).streams.info('MIX');
        assert.equal(info.state.messages, 720);
        console.log(`# ${leader.impl} leader -> ${follower.impl} follower`);
      } finally {
        await c.shutdown();
      }
    });
}
