// Clients of a server that is restarting, before its stream replica caught up: what they are told
// must be the cluster's answer, never the stale replica's. STREAM.INFO, MSG.GET and direct gets of
// messages it missed while down, and publishes: a PubAck only for a committed message at the
// sequence after the last acknowledged one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { apiRequest, skipReason, streamInfoWithLeader } from './js-cluster-harness.js';
import { createR3, localState, payloadOf, publishRange, startWithEnv, streamLeader, waitReplicas } from './js-repl-snapshot-helpers.js';

const skip = skipReason('tsnats');

test('a restarted replica behind the others: its clients get the cluster\'s answers while it catches up', { skip, timeout: 180_000 }, async () => {
  const c = await startWithEnv({});
  try {
    const meta = await c.waitMetaLeader();
    const nc = await c.connect(meta);
    const jsm = await jetstreamManager(nc, { timeout: 20_000 });
    await createR3(nc, 'RC', { allow_direct: true });
    await publishRange(nc, 'RC', 1, 200);
    await waitReplicas(c, 'RC', 200);
    const leader = await streamLeader(c, nc, 'RC');
    const victim = c.nodes.find((n) => n !== leader && n !== meta)!;
    await c.kill(victim);
    await publishRange(nc, 'RC', 201, 2000, 64);
    await c.restart(victim);
    const vc = await connect({ servers: victim.clientUrl, user: 'a', pass: 'a', reconnect: false });
    const wrong: string[] = [];
    let last = 2000;
    const js = jetstream(vc, { timeout: 3_000 });
    let k = 2001;
    try {
      let caughtUp = false;
      let rounds = 0;
      while (!caughtUp) {
        rounds++;
        const st = await localState(c, victim, 'RC');
        caughtUp = st !== undefined && st.last_seq >= last && st.messages === st.last_seq;
        const info = await apiRequest<{ state?: { last_seq: number; messages: number }; error?: { code: number } }>(vc, '$JS.API.STREAM.INFO.RC', undefined, { settleMs: 0, waitMs: 1_000 });
        const si = info.first;
        if (si?.state && si.state.last_seq < last) wrong.push(`STREAM.INFO last_seq ${si.state.last_seq} < ${last}`);
        const seq = 200 + (k % 1800);
        const g = await apiRequest<{ message?: { seq: number }; error?: { code: number; description: string } }>(vc, '$JS.API.STREAM.MSG.GET.RC', { seq }, { settleMs: 0, waitMs: 1_000 });
        if (g.first?.error) wrong.push(`MSG.GET ${seq}: ${g.first.error.code} ${g.first.error.description}`);
        for (let j = 0; j < 5; j++) {
          const dseq = 201 + ((k * 7 + j * 331) % 1800);
          const d = await vc.request(`$JS.API.DIRECT.GET.RC`, JSON.stringify({ seq: dseq }), { timeout: 1_000 }).catch(() => undefined);
          if (d && d.headers?.code !== undefined && d.headers.code !== 0) wrong.push(`DIRECT.GET ${dseq}: ${d.headers.code} ${d.headers.description}`);
        }
        try {
          const a = await js.publish(`rc.${k % 5}`, payloadOf(k), { msgID: `id-${k}`, expect: { streamName: 'RC' } });
          if (a.seq !== last + 1 && !a.duplicate) wrong.push(`PubAck of ${k} at ${a.seq}, expected ${last + 1}`);
          if (!a.duplicate) last = a.seq;
          k++;
        } catch { /* no answer while it restarts: sent again with the same id */ }
      }
      if (process.env.ATTACK_DEBUG) console.error(`rounds before caught up: ${rounds}, published ${k - 2001}`);
    } finally {
      await vc.close();
    }
    await streamInfoWithLeader(nc, 'RC');
    const si = await jsm.streams.info('RC');
    assert.equal(si.state.last_seq, last, 'the stream ends at the last acknowledged sequence');
    assert.deepEqual(wrong, [], 'answers to the restarted replica\'s clients');
  } catch (e) {
    if (process.env.ATTACK_DEBUG) for (const n of c.nodes) console.error(`==== ${n.name}\n${n.log()}`);
    throw e;
  } finally {
    await c.shutdown();
  }
});

test('allow_direct turned on by an update of an R3 stream: direct gets answered through every server', { skip, timeout: 120_000 }, async () => {
  const c = await startWithEnv({});
  try {
    const nc = await c.connect(c.nodes[0]!);
    await createR3(nc, 'UPD');
    await publishRange(nc, 'UPD', 1, 5);
    const jsm = await jetstreamManager(nc, { timeout: 20_000 });
    const si = await jsm.streams.info('UPD');
    await jsm.streams.update('UPD', { ...si.config, allow_direct: true });
    for (const n of c.nodes) {
      const cn = await c.connect(n);
      const m = await cn.request('$JS.API.DIRECT.GET.UPD', JSON.stringify({ seq: 3 }), { timeout: 5_000 });
      assert.equal(m.headers?.get('Nats-Sequence'), '3', `direct get through ${n.name}`);
    }
  } finally {
    await c.shutdown();
  }
});
