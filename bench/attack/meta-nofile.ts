// Attack: the meta layer alone (R1 streams and their consumers) with one server of three at a low
// open-files limit (`prlimit --nofile`, soft limit = descriptors in use + --slack): stream creates, updates, deletes, consumer creates and publishes go on while
// it is at the limit, through a client on a healthy server and one on the starved server. Every
// request gets exactly one answer (an error is fine: nats-server answers its creates that fail with
// one too), the process stays up, and once the limit is lifted every server holds exactly the streams
// the meta state assigns to it, with every acknowledged message, every change answered OK in place,
// and no directory of a stream that is not there left behind in its store; then the starved server
// is killed (-9) and restarted and the configs must be as answered.
//
//   node dist/bench/attack/meta-nofile.js [--impl tsnats|nats-server] [--slack 0] [--verbose]
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import { JsCluster, type Impl } from '../../test/cluster/js-cluster-harness.js';
import { argOf } from './args.js';
import { checkAgreement, localStreams, onCluster, rawRequest, runMain } from './cluster-checks.js';

const slack = Number(argOf('slack', '0'));
const impl = argOf('impl', 'tsnats') as Impl;
const verbose = process.argv.includes('--verbose');

const fds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;
/** The soft limit only: lowering the hard one could not be undone without privileges. */
const setNofile = (pid: number, n: number): void => {
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${n}:`]);
};

type Outcome = { kind: 'ok'; body: Record<string, unknown> } | { kind: 'error'; code: number; text: string } | { kind: 'none' } | { kind: 'multi'; n: number };

async function ask(nc: NatsConnection, subject: string, body: unknown): Promise<Outcome> {
  const r = await rawRequest(nc, subject, body === undefined ? '' : JSON.stringify(body), 6000);
  if (r.length === 0) return { kind: 'none' };
  if (r.length > 1) return { kind: 'multi', n: r.length };
  const j = JSON.parse(r[0]!) as { error?: { err_code: number; description: string } } & Record<string, unknown>;
  return j.error ? { kind: 'error', code: j.error.err_code, text: j.error.description } : { kind: 'ok', body: j };
}

async function main(): Promise<void> {
  // Tags name each server, so that the test places half of the streams on the starved one.
  const c = await JsCluster.start({ impl, size: 3, tags: [['s:n1'], ['s:n2'], ['s:n3']] });
  const log: string[] = [];
  await onCluster(c, async () => {
    const meta = await c.waitMetaLeader({ peers: 3 });
    const victim = c.nodes.find((n) => n.name !== meta.name)!;
    const nc = await c.connect(meta);
    const vnc = await c.connect(victim);
    const acked = new Map<string, number>();
    const publish = async (client: NatsConnection, s: string, n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        const o = await ask(client, `${s.toLowerCase()}.x`, { k: i });
        if (o.kind !== 'ok') {
          log.push(`publish ${s}: ${JSON.stringify(o)}`);
          continue;
        }
        assert.equal(o.body.seq, (acked.get(s) ?? 0) + 1, `${s}: PubAck at the next sequence`);
        acked.set(s, o.body.seq as number);
      }
    };
    const other = c.nodes.find((n) => n !== victim && n !== meta)!;
    // Even-numbered streams on the starved server, odd ones on the third.
    const streamCfg = (name: string, extra: Record<string, unknown> = {}) => ({
      name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 1,
      placement: { tags: [`s:${Number(name.slice(1)) % 2 === 0 ? victim.name : other.name}`] }, ...extra,
    });
    const A = ['A0', 'A1', 'A2', 'A3', 'A4', 'A5'];
    for (const s of A) {
      const o = await ask(nc, `$JS.API.STREAM.CREATE.${s}`, streamCfg(s));
      assert.equal(o.kind, 'ok', `${s} created before the limit: ${JSON.stringify(o)}`);
      await publish(nc, s, 5);
      assert.equal((await ask(nc, `$JS.API.CONSUMER.CREATE.${s}.D`, { stream_name: s, config: { durable_name: 'D', ack_policy: 'explicit' } })).kind, 'ok');
    }
    assert.deepEqual(await localStreams(c, victim), ['A0', 'A2', 'A4']);

    const pid = victim.pid!;
    setNofile(pid, fds(pid) + slack);
    const wrong: string[] = [];
    const outcomes = new Map<string, Outcome>();
    const op = async (label: string, client: NatsConnection, subject: string, body: unknown): Promise<Outcome> => {
      const o = await ask(client, subject, body);
      outcomes.set(label, o);
      log.push(`${label}: ${o.kind === 'error' ? `${o.code} ${o.text}` : o.kind}`);
      if (o.kind === 'none' || o.kind === 'multi') wrong.push(`${label}: ${JSON.stringify(o)}`);
      // A create refused for its store gets 2.9.10's answer (the cause is only logged).
      if (label.startsWith('create ') && o.kind === 'error' && (o.code !== 10049 || o.text !== 'error creating store for stream')) {
        wrong.push(`${label}: ${o.code} ${o.text} (2.9.10: 10049 error creating store for stream)`);
      }
      return o;
    };
    const B = Array.from({ length: 9 }, (_, i) => `B${i}`);
    for (const [i, s] of B.entries()) await op(`create ${s}`, i % 2 ? vnc : nc, `$JS.API.STREAM.CREATE.${s}`, streamCfg(s));
    for (const [i, s] of A.entries()) await op(`update ${s}`, i % 2 ? vnc : nc, `$JS.API.STREAM.UPDATE.${s}`, streamCfg(s, { description: 'updated' }));
    for (const s of ['A0', 'A3']) await op(`delete ${s}`, s === 'A0' ? vnc : nc, `$JS.API.STREAM.DELETE.${s}`, undefined);
    const live = [...A.filter((s) => s !== 'A0' && s !== 'A3'), ...B.filter((s) => outcomes.get(`create ${s}`)?.kind === 'ok')];
    for (const [i, s] of live.entries()) {
      await op(`consumer ${s}.E`, i % 2 ? vnc : nc, `$JS.API.CONSUMER.CREATE.${s}.E`, { stream_name: s, config: { durable_name: 'E', ack_policy: 'explicit' } });
    }
    for (const [i, s] of live.entries()) await publish(i % 2 ? vnc : nc, s, 3);
    assert.ok(victim.alive, `${victim.name} still running at the limit`);
    setNofile(pid, 4096);

    // Converged: every server holds what the meta state assigns to it (checkAgreement polls).
    const view = await checkAgreement(c, [nc, vnc], 'after the limit was lifted');
    for (const s of B) {
      if (outcomes.get(`create ${s}`)?.kind === 'ok') assert.ok(view.has(s), `${s} was created (answered OK): it exists`);
    }
    for (const s of ['A0', 'A3']) {
      const o = outcomes.get(`delete ${s}`)!;
      assert.equal(view.has(s), o.kind !== 'ok', `${s}: ${o.kind === 'ok' ? 'deleted (answered OK)' : 'not deleted'}`);
    }
    for (const s of view.keys()) {
      const info = await ask(nc, `$JS.API.STREAM.INFO.${s}`, undefined);
      assert.equal(info.kind, 'ok', `STREAM.INFO ${s}: ${JSON.stringify(info)}`);
      const body = (info as unknown as { body: { state: { messages: number; last_seq: number }; config: { description?: string } } }).body;
      // Publishes that went unanswered may have been stored: at least the acknowledged ones.
      assert.ok(body.state.last_seq >= (acked.get(s) ?? 0) && body.state.messages === body.state.last_seq,
        `${s}: ${JSON.stringify(body.state)} holds its ${acked.get(s) ?? 0} acknowledged messages`);
      if (outcomes.get(`update ${s}`)?.kind === 'ok') assert.equal(body.config.description, 'updated', `${s}: update answered OK is in place`);
      if (A.includes(s)) assert.equal((await ask(nc, `$JS.API.CONSUMER.INFO.${s}.D`, undefined)).kind, 'ok', `consumer D of ${s}`);
      if (outcomes.get(`consumer ${s}.E`)?.kind === 'ok') assert.equal((await ask(nc, `$JS.API.CONSUMER.INFO.${s}.E`, undefined)).kind, 'ok', `consumer E of ${s}`);
    }
    // Every stream takes publishes again (a store that hit EMFILE must not stay failed).
    const stuck: string[] = [];
    for (const s of view.keys()) {
      const o = await ask(nc, `${s.toLowerCase()}.after`, { after: true });
      if (o.kind !== 'ok') stuck.push(`${s}: ${JSON.stringify(o).slice(0, 200)}`);
    }
    // The meta state holds what the clients were told: after a restart the starved server's streams
    // have the config it recovers from the meta log (an update answered with an error was undone).
    await c.kill(victim);
    await c.restart(victim);
    const nc2 = await c.connect(victim);
    await checkAgreement(c, [nc, nc2], 'after a restart of the starved server');
    for (const s of view.keys()) {
      const info = (await ask(nc, `$JS.API.STREAM.INFO.${s}`, undefined)) as unknown as { kind: string; body: { config: { description?: string } } };
      assert.equal(info.kind, 'ok', `STREAM.INFO ${s} after the restart`);
      if (A.includes(s)) assert.equal(info.body.config.description, outcomes.get(`update ${s}`)?.kind === 'ok' ? 'updated' : undefined, `${s}: config as answered`);
    }
    // Nothing half-made left in the starved server's store: every stream directory is a stream it holds.
    const streamsDir = join(victim.storeDir, 'jetstream', 'APP', 'streams');
    const onDisk = existsSync(streamsDir) ? readdirSync(streamsDir).filter((d) => !d.startsWith('.')).sort() : [];
    assert.deepEqual(onDisk, await localStreams(c, victim), `${victim.name}'s stream directories`);
    assert.deepEqual(wrong, [], 'every request answered exactly once');
    assert.ok(victim.alive, `${victim.name} still running`);
    for (const l of stuck) console.log(`STUCK after the limit was lifted: ${l}`);
    console.log(stuck.length ? `RESULT: ${stuck.length} streams refuse publishes after the limit was lifted; every other check held` : 'RESULT: every check held');
    if (stuck.length) process.exitCode = 1;
  }).finally(() => {
    console.log(`answers at the limit (slack ${slack}):`);
    for (const l of log) if (verbose || !l.endsWith(': ok')) console.log(`  ${l.slice(0, 300)}`);
  });
}

runMain('meta-nofile', main);
