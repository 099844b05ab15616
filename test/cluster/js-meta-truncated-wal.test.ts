// A server whose meta WAL lost its second half (truncated while it was down) must not remove the
// streams it holds as orphans while it takes the lost entries back from the leader: before the fix
// (js-cluster.ts metaStateComplete) it counted as current once it held the entries but knew their
// commit only up to an earlier index, and removed an R1 stream assigned in between (its only copy;
// 2 of 5 runs of bench/attack/meta-corrupt.ts --case truncate-one on a loaded machine). Two rounds
// of the attack here. The race needs the orphan check to fall between the two (a loaded machine):
// with the fix taken out, 0 of 6 rounds lost a stream on a quiet one. The test holds the promise
// itself (no acknowledged message lost to a truncated meta WAL on one server) whatever the timing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JsCluster } from './js-cluster-harness.js';
import { pollUntil } from '../helpers/wait.js';
import { checkAgreement, rawRequest } from '../../bench/attack/cluster-checks.js';
import { damage, lastWalBytes } from '../../bench/attack/meta-damage.js';

const STREAMS = 9;
const MSGS = 5;

let c: JsCluster;
before(async () => {
  c = await JsCluster.start({ impl: 'tsnats', size: 3 });
});
after(async () => {
  await c?.shutdown();
});

async function connectAll(): Promise<NatsConnection[]> {
  return Promise.all(c.nodes.map((n) => connect({ servers: n.clientUrl, user: 'a', pass: 'a', reconnect: false })));
}

test('meta WAL truncated on one server: every R1 stream kept, with all its acknowledged messages', async () => {
  let ncs = await connectAll();
  const names: string[] = [];
  const create = async (name: string, nc: NatsConnection): Promise<void> => {
    const r = await rawRequest(nc, `$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: [`s.${name}`], num_replicas: 1 }), 15_000);
    assert.equal(r.length, 1, `one answer to the create of ${name}`);
    assert.doesNotMatch(r[0]!, /"error"/, `create ${name}`);
    for (let m = 1; m <= MSGS; m++) assert.doesNotMatch((await nc.request(`s.${name}`, `m${m}`, { timeout: 10_000 })).string(), /"error"/);
    names.push(name);
  };
  for (let i = 0; i < STREAMS; i++) await create(`R1_${i}`, ncs[i % 3]!);
  for (let round = 1; round <= 2; round++) {
    // One more create per round: a server caught up by a leader's snapshot in the round before may
    // hold no WAL entry at all until the next one (nothing to truncate).
    await create(`R1_round${round}`, ncs[round % 3]!);
    await checkAgreement(c, ncs, `before round ${round}`);
    await Promise.all(ncs.map((nc) => nc.close()));
    const meta = await c.metaLeader();
    const victim = c.nodes.filter((n) => n !== meta).sort((a, b) => lastWalBytes(b) - lastWalBytes(a))[0]!;
    for (const n of c.nodes) await c.kill(n);
    assert.match(damage(victim, 'truncate'), /truncated/);
    for (const n of c.nodes) await c.restart(n);
    ncs = await connectAll();
    const view = await checkAgreement(c, ncs, `after round ${round}`);
    for (const name of names) {
      assert.ok(view.has(name), `round ${round}: ${name} still assigned`);
      const info = await pollUntil(async () => {
        const r = await rawRequest(ncs[0]!, `$JS.API.STREAM.INFO.${name}`, '', 3000);
        const j = r[0] ? (JSON.parse(r[0]) as { state?: { messages: number } }) : undefined;
        return j?.state ? j : undefined;
      }, `STREAM.INFO ${name}`, 30_000, 200);
      assert.equal(info.state!.messages, MSGS, `round ${round}: ${name} keeps its ${MSGS} acknowledged messages (held on ${view.get(name)?.peers.join(',')}, victim ${victim.name})`);
    }
  }
  await Promise.all(ncs.map((nc) => nc.close()));
});
