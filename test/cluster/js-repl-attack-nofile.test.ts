// One server of three at a low open-files limit while R3 streams and consumers are created and
// published to: it must not crash, nothing acknowledged may be lost, and once the limit is lifted
// it must catch up every stream and consumer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { apiRequest, pollUntil, skipReason } from './js-cluster-harness.js';
import { createR3, filesMatching, localState, payloadOf, publishRange, startWithEnv } from './js-repl-snapshot-helpers.js';

const skip = skipReason('tsnats');
const STREAMS = 4;
const MSGS = 10;

const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
/** Set the soft limit only: lowering the hard one could not be undone without privileges. */
const setNofile = (pid: number, n: number): void => {
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${n}:`]);
};

test('one server at a low open-files limit while R3 streams and consumers are created and used: no crash, nothing acknowledged lost, catch-up once lifted', { skip, timeout: 240_000 }, async () => {
  const c = await startWithEnv({});
  try {
    const meta = await c.waitMetaLeader();
    const victim = c.nodes.find((n) => n !== meta)!;
    const nc = await c.connect(meta);
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    const js = jetstream(nc, { timeout: 5_000 });
    // placement needs every server's statsz first: create one stream before the limit
    await createR3(nc, 'S0');
    const pid = victim.pid!;
    const limit = fds(pid) + 12;
    setNofile(pid, limit);
    const created: string[] = ['S0'];
    const errors: string[] = [];
    for (let s = 1; s < STREAMS; s++) {
      try {
        await jsm.streams.add({ name: `S${s}`, subjects: [`s${s}.>`], num_replicas: 3 });
        created.push(`S${s}`);
      } catch (e) {
        errors.push(`S${s}: ${(e as Error).message}`);
      }
    }
    const durables: string[] = [];
    for (const s of created) {
      try {
        await jsm.consumers.add(s, { durable_name: 'D', ack_policy: AckPolicy.Explicit });
        durables.push(s);
      } catch (e) {
        errors.push(`D on ${s}: ${(e as Error).message}`);
      }
    }
    const acked = new Map<string, number>();
    for (const s of created) {
      for (let k = 1; k <= MSGS; k++) {
        try {
          const a = await js.publish(`${s.toLowerCase()}.x`, payloadOf(k), { msgID: `${s}-${k}`, expect: { streamName: s } });
          assert.equal(a.seq, (acked.get(s) ?? 0) + 1, `${s} message ${k}`);
          acked.set(s, a.seq);
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
          errors.push(`${s} publish ${k}: ${(e as Error).message}`);
          break;
        }
      }
    }
    if (process.env.ATTACK_DEBUG) console.error(`victim ${victim.name} fds ${fds(pid)}/${limit}; created ${created.length}, durables ${durables.length}; errors:\n${errors.join('\n')}`);
    assert.ok(victim.alive, `${victim.name} still running under the limit`);
    const t0 = Date.now();
    setNofile(pid, 4096);
    for (const s of created) {
      const want = acked.get(s) ?? 0;
      await pollUntil(async () => {
        const st = await Promise.all(c.nodes.map((n) => localState(c, n, s)));
        // A publish that timed out may still have been stored: at least what was acknowledged, the same everywhere.
        return st.every((x) => x && x.last_seq >= want && x.messages === x.last_seq && x.last_seq === st[0]!.last_seq) ? true : undefined;
      }, `every replica of ${s} holding the same messages, at least 1..${want}`, 60_000, 200);
    }
    for (const s of durables) {
      await pollUntil(async () => {
        const ci = await jsm.consumers.info(s, 'D');
        return (ci.cluster?.replicas ?? []).length === 2 && ci.cluster!.replicas!.every((r) => r.current) ? true : undefined;
      }, `consumer D of ${s} with every replica current`, 60_000, 200);
    }
    if (process.env.ATTACK_DEBUG) console.error(`caught up ${Date.now() - t0} ms after the limit was lifted`);
    assert.ok(victim.alive, `${victim.name} still running`);
  } catch (e) {
    if (process.env.ATTACK_DEBUG) {
      for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
      for (const n of c.nodes) console.error(`==== JSZ ${n.name}\n${JSON.stringify(await c.monitor(n, '/jsz?streams=true&consumers=true&raft=true'), null, 1)}`);
      const nc9 = await c.connect(c.nodes[1]!);
      for (let s = 0; s < STREAMS; s++) console.error(`==== INFO S${s}\n${JSON.stringify((await apiRequest(nc9, `$JS.API.STREAM.INFO.S${s}`)).first)}`);
    }
    throw e;
  } finally {
    await c.shutdown();
  }
});

test('a replica whose consumer store cannot be opened keeps running, retries, and catches the consumer up once it can', { skip, timeout: 120_000 }, async () => {
  const c = await startWithEnv({});
  try {
    const meta = await c.waitMetaLeader();
    const nc = await c.connect(meta);
    await createR3(nc, 'OBS');
    await publishRange(nc, 'OBS', 1, 20);
    const victim = c.nodes.find((n) => n !== meta)!;
    const streamDir = filesMatching(victim.storeDir, /\/streams\/OBS\/meta\.json$/)[0]!.replace(/\/meta\.json$/, '');
    const obs = join(streamDir, 'obs');
    rmSync(obs, { recursive: true, force: true });
    writeFileSync(obs, 'not a directory');
    const jsm = await jetstreamManager(nc, { timeout: 10_000 });
    await jsm.consumers.add('OBS', { durable_name: 'D', ack_policy: AckPolicy.Explicit });
    await pollUntil(() => (/starting consumer group 'APP > OBS > D'/.test(victim.log()) ? true : undefined), 'the failed start logged', 30_000, 50);
    assert.ok(victim.alive, `${victim.name} still running after the failed consumer start`);
    rmSync(obs, { force: true });
    await pollUntil(async () => {
      const ci = await jsm.consumers.info('OBS', 'D');
      return (ci.cluster?.replicas ?? []).length === 2 && ci.cluster!.replicas!.every((r) => r.current) ? true : undefined;
    }, 'consumer D with every replica current', 60_000, 200);
    assert.ok(victim.alive, `${victim.name} still running`);
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
