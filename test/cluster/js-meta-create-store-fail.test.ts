// A clustered create whose holder cannot create the stream's files (EMFILE at the open-files
// limit, injected with core/disk-fault.ts on that server's streams directory) is refused as
// nats-server 2.9.10 refuses it: 500 / 10049 "error creating store for stream" (the cause goes to
// the holder's log), the assignment is undone in the meta state, no directory of it is left on
// the holder, and the name can be created once the files can be written again. Before: the
// description was the file error ("too many open files") and the half-made directory stayed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { injectWriteFault } from '../../src/core/disk-fault.js';
import { waitFor } from './cluster-helpers.js';
import { jsOf, metaOf } from './js-meta-own-helpers.js';
import { withPlaceableCluster } from './js-repl-helpers.js';

interface CreateReply { error?: { code: number; err_code: number; description: string }; cluster?: { leader?: string } }

test('meta: a create whose holder cannot create its files answers 10049 and is undone, leaving no directory', async () => {
  await withPlaceableCluster('tsnats-meta-create-fail-', async (nodes, ncs) => {
    const leader = nodes.find((n) => metaOf(n).isLeader)!;
    const victim = nodes.find((n) => n !== leader)!;
    const nc = ncs[nodes.indexOf(leader)]!;
    const create = async (name: string): Promise<CreateReply> => {
      const m = await nc.request(`$JS.API.STREAM.CREATE.${name}`, JSON.stringify({ name, subjects: [`${name.toLowerCase()}.>`], num_replicas: 1 }), { timeout: 20_000 });
      return m.json<CreateReply>();
    };
    const streams = join(jsOf(victim).storeRoot, '$G', 'streams');
    injectWriteFault(`${streams}/`, 'EMFILE');

    // Placement spreads R1 streams (fewest streams first): one of the first few lands on the victim.
    let failed: string | undefined;
    for (let i = 0; i < 12 && failed === undefined; i++) {
      const r = await create(`S${i}`);
      if (r.error) {
        assert.deepEqual(r.error, { code: 500, err_code: 10049, description: 'error creating store for stream' });
        failed = `S${i}`;
      } else {
        assert.notEqual(r.cluster?.leader, victim.name, `S${i} answered OK on the server that cannot write`);
      }
    }
    assert.ok(failed, `a create was placed on ${victim.name}`);
    await waitFor(() => nodes.every((n) => metaOf(n).state.stream('$G', failed!) === undefined), `${failed} undone in every meta state`);
    const info = (await nc.request(`$JS.API.STREAM.INFO.${failed}`, '', { timeout: 20_000 })).json<CreateReply>();
    assert.equal(info.error?.err_code, 10059);
    assert.equal(jsOf(victim).jsAccount('$G')?.streams.has(failed) ?? false, false);
    const left = existsSync(streams) ? readdirSync(streams).filter((d) => !d.startsWith('.')) : [];
    assert.deepEqual(left, [], `no stream directory left on ${victim.name}`);

    injectWriteFault(undefined, 'EMFILE');
    const again = await create(failed);
    assert.equal(again.error, undefined, `${failed} created once files can be written: ${JSON.stringify(again.error)}`);
    assert.equal((await jetstream(nc).publish(`${failed.toLowerCase()}.x`, 'x')).seq, 1);
  });
});
