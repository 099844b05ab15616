// Mirrors and sources across the two kinds of server in one cluster (nats-server 2.9.10 and
// tsnats): a nats-server follows a stream held by tsnats (tsnats answers its `direct` consumer
// create as the origin's leader and delivers to it), and tsnats follows a stream held by
// nats-server. R1 streams placed by tag on the server of each kind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { JsCluster, pollUntil, skipReason } from './js-cluster-harness.js';

const skip = skipReason('nats-server');
let c: JsCluster;
before(async () => {
  if (skip) return;
  c = await JsCluster.start({ impl: 'nats-server', size: 3, impls: ['nats-server', 'tsnats', 'tsnats'], tags: [['go'], ['ts'], ['ts2']] });
});
after(async () => {
  await c?.shutdown();
});

const on = (tag: string): never => ({ tags: [tag] }) as never;

async function info(jsm: JetStreamManager, stream: string, n: number): Promise<Awaited<ReturnType<JetStreamManager['streams']['info']>>> {
  return pollUntil(async () => {
    try {
      const i = await jsm.streams.info(stream);
      return i.state.messages === n ? i : undefined;
    } catch {
      return undefined;
    }
  }, `${stream} with ${n} messages`, 60_000, 100);
}

for (const [originTag, copyTag, label] of [['ts', 'go', 'nats-server 2.9.10 follows a tsnats origin'], ['go', 'ts2', 'tsnats follows a nats-server 2.9.10 origin']] as const) {
  test(`mixed cluster: ${label} (mirror and source)`, { skip }, async () => {
    const nc = await c.connect(c.nodes[1]!);
    try {
      const jsm = await jetstreamManager(nc);
      const o = `O_${originTag}`;
      await jsm.streams.add({ name: o, subjects: [`${o}.>`], placement: on(originTag) });
      const js = jetstream(nc);
      for (let i = 1; i <= 30; i++) await js.publish(`${o}.${i % 3}`, `m${i}`);
      await jsm.streams.add({ name: `M_${originTag}`, mirror: { name: o }, placement: on(copyTag) });
      await jsm.streams.add({ name: `S_${originTag}`, subjects: [], sources: [{ name: o, filter_subject: `${o}.1` }], placement: on(copyTag) });
      for (let i = 31; i <= 60; i++) await js.publish(`${o}.${i % 3}`, `m${i}`);
      const m = await info(jsm, `M_${originTag}`, 60);
      assert.equal(m.state.last_seq, 60);
      assert.equal(m.mirror?.error, undefined);
      const s = await info(jsm, `S_${originTag}`, 20);
      assert.equal(s.state.last_seq, 20);
      const got = await jsm.streams.getMessage(`M_${originTag}`, { seq: 44 });
      assert.equal(got?.subject, `${o}.2`);
      assert.equal(got?.string(), 'm44');
      const first = await jsm.streams.getMessage(`S_${originTag}`, { seq: 1 });
      assert.equal(first?.string(), 'm1');
    } finally {
      await nc.close();
    }
  });
}
