// tsnats only: a clustered create takes a prepared stream directory (src/jetstream/stream-dir-spares.ts),
// filled and renamed into place. The holder killed with kill -9 while creates run leaves every stream
// either whole or absent: after the restart each create that was answered is there with its messages,
// a create cut short is there whole or not at all (and a retry succeeds), the spares of the killed
// process are gone, and /healthz never counts a spare as a stream that failed to recover.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JsCluster, apiRequestAnswered, pollUntil, skipReason, type JsNode } from './js-cluster-harness.js';

const TAGS = [['node:n1'], ['node:n2'], ['node:n3']];
const isSpare = (name: string) => name.startsWith('.spare-');
const streamsDir = (n: JsNode) => join(n.storeDir, 'jetstream', 'APP', 'streams');
const entries = (n: JsNode) => readdirSync(streamsDir(n)).sort();

interface StreamResp {
  error?: { code: number; err_code: number; description: string };
  config?: { name: string; subjects: string[] };
  state?: { messages: number };
}

const body = (name: string, n: JsNode) => ({ name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 1, storage: 'file', placement: { tags: [`node:${n.name}`] } });

describe('clustered creates from prepared stream directories, holder killed (tsnats)', { skip: skipReason('tsnats') }, () => {
  let c: JsCluster;
  before(async () => {
    c = await JsCluster.start({ impl: 'tsnats', size: 3, tags: TAGS });
  });
  after(async () => {
    await c?.shutdown();
  });

  test('kill -9 of the holder during creates: answered streams whole, the cut one whole or absent, old spares removed', async () => {
    const holder = c.nodes[0]!;
    const nc = await c.connect(c.nodes[1]!);
    const js = jetstream(nc);
    for (let i = 0; i < 6; i++) {
      const r = await apiRequestAnswered<StreamResp>(nc, `$JS.API.STREAM.CREATE.SP${i}`, body(`SP${i}`, holder), { settleMs: 0 });
      assert.equal(r.first.error, undefined, JSON.stringify(r.first));
      await js.publish(`sp${i}.m`, `m${i}`);
    }
    // Later creates took spares: the streams directory holds the streams and the spares made for the next ones.
    const spares = await pollUntil(() => {
      const s = entries(holder).filter(isSpare);
      return s.length > 0 ? s : undefined;
    }, 'spare directories on the holder');
    assert.deepEqual(entries(holder).filter((e) => !isSpare(e)), ['SP0', 'SP1', 'SP2', 'SP3', 'SP4', 'SP5']);
    // A spare is no stream that failed to recover.
    assert.deepEqual(await c.monitor(holder, '/healthz'), { status: 'ok' });

    // Creates in flight when the holder dies.
    const cut = ['CUT0', 'CUT1', 'CUT2'];
    const sent = cut.map((s) => nc.request(`$JS.API.STREAM.CREATE.${s}`, JSON.stringify(body(s, holder)), { timeout: 2000 }).catch(() => undefined));
    await c.kill(holder);
    await Promise.all(sent);
    await c.restart(holder);
    await c.waitMetaLeader({ peers: 3 });

    const jsm = await jetstreamManager(nc);
    for (let i = 0; i < 6; i++) {
      const info = await pollUntil(() => jsm.streams.info(`SP${i}`), `SP${i} served again`);
      assert.equal(info.state.messages, 1, `SP${i} kept its message`);
    }
    for (const s of cut) {
      // Whole (its assignment committed: recovered or re-created from the meta state) or not there.
      const r = await apiRequestAnswered<StreamResp>(nc, `$JS.API.STREAM.INFO.${s}`, undefined, { settleMs: 0 });
      if (r.first.error) {
        assert.equal(r.first.error.err_code, 10059, JSON.stringify(r.first));
        const again = await apiRequestAnswered<StreamResp>(nc, `$JS.API.STREAM.CREATE.${s}`, body(s, holder), { settleMs: 0 });
        assert.equal(again.first.error, undefined, JSON.stringify(again.first));
      } else {
        assert.deepEqual(r.first.config?.subjects, [`${s.toLowerCase()}.>`]);
      }
      await js.publish(`${s.toLowerCase()}.m`, 'after');
      assert.equal((await jsm.streams.info(s)).state.messages, 1, `${s} takes messages`);
    }
    assert.deepEqual(entries(holder).filter((e) => spares.includes(e)), [], 'the killed process\'s spares were removed at recovery');
    // The restarted holder prepares spares again after its next create.
    const r = await apiRequestAnswered<StreamResp>(nc, '$JS.API.STREAM.CREATE.AFTER', body('AFTER', holder), { settleMs: 0 });
    assert.equal(r.first.error, undefined, JSON.stringify(r.first));
    await pollUntil(() => entries(holder).some(isSpare) || undefined, 'spares of the restarted holder');
    assert.deepEqual(entries(holder).filter((e) => !isSpare(e)), ['AFTER', 'CUT0', 'CUT1', 'CUT2', 'SP0', 'SP1', 'SP2', 'SP3', 'SP4', 'SP5']);
    assert.deepEqual(await c.monitor(holder, '/healthz'), { status: 'ok' });
    await nc.close();
  });
});
