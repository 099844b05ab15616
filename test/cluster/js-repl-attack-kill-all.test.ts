// kill -9 of all three servers together in the middle of publishing, with Nats-Msg-Id on one R3
// stream and Nats-Expected-Last-Sequence on another, then a restart in a different order each
// round. Keys that got no PubAck are sent again with the same id (and the same expected sequence).
// Afterwards every replica is read offline: every acknowledged key once, at its acknowledged
// sequence, on every replica; nothing a publisher did not send.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { pollUntil, skipReason, streamInfoWithLeader, type JsCluster, type JsNode } from './js-cluster-harness.js';
import { createR3, localState, payloadOf, startWithEnv } from './js-repl-snapshot-helpers.js';
import { readReplicaOffline } from '../../bench/chaos/offline.js';
import { shortElections } from './js-short-elections.js';

// Elections after each kill take 1.5-3 s instead of 4-9 s; what is checked does not depend on it.
shortElections();

const skip = skipReason('tsnats');

/** What the publishers were told: key -> sequence, and sequence -> key, each at most once. */
class Ledger {
  readonly seqOf = new Map<string, number>();
  readonly keyAt = new Map<number, string>();
  record(key: string, seq: number): void {
    const had = this.seqOf.get(key);
    assert.ok(had === undefined || had === seq, `${key} acknowledged at ${had} and at ${seq}`);
    const other = this.keyAt.get(seq);
    assert.ok(other === undefined || other === key, `sequence ${seq} acknowledged for ${other} and ${key}`);
    this.seqOf.set(key, seq);
    this.keyAt.set(seq, key);
  }
}

const isAssert = (e: unknown): boolean => e instanceof assert.AssertionError;

/** Publish with Nats-Msg-Id in `lanes` concurrent lanes until the connection fails; unacknowledged keys go back to `retry`. */
async function idLoad(nc: NatsConnection, ledger: Ledger, retry: number[], next: { k: number }, lanes: number): Promise<void> {
  const js = jetstream(nc, { timeout: 4_000 });
  await Promise.all(Array.from({ length: lanes }, async () => {
    for (;;) {
      const k = retry.shift() ?? next.k++;
      try {
        const a = await js.publish(`ids.${k % 7}`, payloadOf(k), { msgID: `id-${k}`, expect: { streamName: 'IDS' } });
        ledger.record(`k${k}`, a.seq);
      } catch (e) {
        if (isAssert(e)) throw e;
        retry.push(k);
        if (nc.isClosed()) return;
      }
    }
  }));
}

/** One publisher with Nats-Expected-Last-Sequence: each acknowledgement must be at expected + 1. */
async function expLoad(nc: NatsConnection, ledger: Ledger, st: { k: number; last: number }): Promise<void> {
  const js = jetstream(nc, { timeout: 4_000 });
  for (;;) {
    try {
      const a = await js.publish('exp.x', payloadOf(st.k), { msgID: `e-${st.k}`, expect: { streamName: 'EXP', lastSequence: st.last } });
      assert.equal(a.seq, st.last + 1, `k${st.k} published expecting last ${st.last}`);
      ledger.record(`k${st.k}`, a.seq);
      st.last = a.seq;
      st.k++;
    } catch (e) {
      if (isAssert(e)) throw e;
      // Sent again with the same id and expectation: if it was stored, the duplicate answer carries its sequence.
      if (nc.isClosed()) return;
    }
  }
}

async function readAll(c: JsCluster, stream: string): Promise<Map<number, string>[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'tsnats-killall-'));
  try {
    const out: Map<number, string>[] = [];
    for (const n of c.nodes) {
      const r = await readReplicaOffline(n.storeDir, join(scratch, n.name), stream);
      assert.ok(r, `${n.name} has a replica of ${stream}`);
      out.push(r.msgs);
    }
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function checkReplicas(c: JsCluster, stream: string, ledger: Ledger, replicas: Map<number, string>[]): void {
  const ref = JSON.stringify([...replicas[0]!]);
  replicas.forEach((msgs, i) => {
    const name = `${c.nodes[i]!.name} ${stream}`;
    const seen = new Set<string>();
    for (const [seq, key] of msgs) {
      assert.ok(!seen.has(key), `${name}: ${key} stored twice`);
      seen.add(key);
      const acked = ledger.seqOf.get(key);
      if (acked !== undefined) assert.equal(seq, acked, `${name}: ${key} at its acknowledged sequence`);
    }
    for (const [key, seq] of ledger.seqOf) assert.equal(msgs.get(seq), key, `${name}: acknowledged ${key} at ${seq}`);
    assert.equal(JSON.stringify([...msgs]), ref, `${name} identical to ${c.nodes[0]!.name}`);
  });
}

const ORDERS = [[0, 1, 2], [2, 1, 0], [1, 2, 0]];

test('kill -9 of all three servers mid-publish (msg ids, expected last sequence), restarted in different orders: every PubAck held on every replica', { skip, timeout: 240_000 }, async () => {
  const c = await startWithEnv({});
  try {
    let nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'IDS');
    await createR3(nc, 'EXP');
    const ids = new Ledger();
    const exp = new Ledger();
    const retry: number[] = [];
    const next = { k: 1 };
    const est = { k: 1_000_000, last: 0 };
    for (const [round, order] of ORDERS.entries()) {
      const target = c.nodes[round % 3]!;
      if (round > 0) nc = await c.connect(target);
      await streamInfoWithLeader(nc, 'IDS');
      await streamInfoWithLeader(nc, 'EXP');
      const before = ids.seqOf.size + exp.seqOf.size;
      const load = Promise.all([idLoad(nc, ids, retry, next, 24), expLoad(nc, exp, est)]);
      await pollUntil(() => (ids.seqOf.size + exp.seqOf.size >= before + 300 ? true : undefined), `round ${round}: 300 PubAcks`, 60_000, 5);
      await Promise.all(c.nodes.map((n) => c.kill(n)));
      await nc.close().catch(() => undefined);
      await load;
      for (const i of order) await c.restart(c.nodes[i]!);
      await c.waitMetaLeader();
    }
    // Last round: everything not yet acknowledged is sent again until acknowledged.
    nc = await c.connect(c.nodes[0]!);
    await streamInfoWithLeader(nc, 'IDS');
    await streamInfoWithLeader(nc, 'EXP');
    const js = jetstream(nc, { timeout: 20_000 });
    for (const k of retry.splice(0)) {
      const a = await js.publish(`ids.${k % 7}`, payloadOf(k), { msgID: `id-${k}`, expect: { streamName: 'IDS' } });
      ids.record(`k${k}`, a.seq);
    }
    const ea = await js.publish('exp.x', payloadOf(est.k), { msgID: `e-${est.k}`, expect: { streamName: 'EXP', lastSequence: est.last } });
    assert.equal(ea.seq, est.last + 1, 'expected-last-sequence publish after the restarts');
    exp.record(`k${est.k}`, ea.seq);
    for (const [stream, ledger] of [['IDS', ids], ['EXP', exp]] as const) {
      const last = Math.max(...ledger.keyAt.keys());
      await pollUntil(async () => {
        const s = await Promise.all(c.nodes.map((n: JsNode) => localState(c, n, stream)));
        return s.every((x) => x && x.last_seq === s[0]!.last_seq && x.messages === s[0]!.messages && x.last_seq >= last) ? true : undefined;
      }, `every replica of ${stream} at the same state`, 60_000, 100);
    }
    await nc.close();
    for (const n of c.nodes) await c.stop(n);
    checkReplicas(c, 'IDS', ids, await readAll(c, 'IDS'));
    checkReplicas(c, 'EXP', exp, await readAll(c, 'EXP'));
    // every key sent was stored exactly once (the retries above acknowledged all of them)
    assert.equal(ids.seqOf.size, next.k - 1, 'every id key acknowledged');
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});
