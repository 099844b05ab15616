// A meta group member whose disk is full (ENOSPC on every write of its store, meta WAL included,
// injected with core/disk-fault.ts) while streams are created: its meta node stops at the first
// failed write. It then says so (SERVER.OUT_OF_STORAGE, as nats-server's handleOutOfSpace), stops
// offering itself for placement and leaves the API to the others, so every create (from a client
// connected to it, too) is answered and none is placed on it. Once space is back it restarts its
// meta node from its files, catches up from the leader and takes assets again, without a process
// restart. Before: the node stayed stopped until the process restarted, the server kept being
// placed on (an R1 create placed there got no answer) and it answered its own clients' meta
// requests with 10008.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { injectDiskFull } from '../../src/core/disk-fault.js';
import { ClientKind } from '../../src/core/types.js';
import { waitFor } from './cluster-helpers.js';
import { jsOf, metaOf } from './js-meta-own-helpers.js';
import { replicaMsgs, withPlaceableCluster } from './js-repl-helpers.js';

test('meta: a member whose disk is full leaves placement, and restarts its meta node once space is back', async () => {
  await withPlaceableCluster('tsnats-meta-disk-full-', async (nodes, ncs) => {
    const leader = nodes.find((n) => metaOf(n).isLeader)!;
    const full = nodes.find((n) => n !== leader)!;
    const jsm = await jetstreamManager(ncs[nodes.indexOf(full)]!, { timeout: 20_000 });
    const advisories: Array<Record<string, unknown>> = [];
    const sys = leader.h.server.systemAccount.createInternalClient('test', ClientKind.SYSTEM);
    sys.subscribe('$JS.EVENT.ADVISORY.SERVER.OUT_OF_STORAGE', (_s, _r, _h, p) => { advisories.push(JSON.parse(p.toString()) as Record<string, unknown>); });

    injectDiskFull(`${full.dir}/`);
    // Its meta node fails at the append of this entry; the create itself is committed by the other two.
    await jsm.streams.add({ name: 'T0', subjects: ['t0.>'], num_replicas: 3 });
    await waitFor(() => metaOf(full).metaDown, `${full.name}'s meta node stopped on the full disk`, 30_000);
    await waitFor(() => advisories.length > 0, 'the SERVER.OUT_OF_STORAGE advisory');
    assert.equal(advisories[0]!.type, 'io.nats.jetstream.advisory.v1.server_out_of_space');
    assert.equal(advisories[0]!.server, full.name);
    const lm = metaOf(leader);
    await waitFor(() => lm.peerInfo.placementPeers(lm.id, [metaOf(full).id], lm.onlinePeers())[0]!.offline,
      `the leader sees ${full.name} unavailable for placement`);

    // Asked through the full server: answered (by the meta leader), never placed there.
    for (let i = 0; i < 6; i++) {
      const si = await jsm.streams.add({ name: `R${i}`, subjects: [`r${i}.>`], num_replicas: 1 });
      assert.notEqual(si.cluster?.leader, full.name, `R${i} placed on the full server`);
    }
    assert.equal(metaOf(full).metaDown, true, 'still down while the disk is full');

    injectDiskFull(undefined);
    await waitFor(() => !metaOf(full).metaDown, `${full.name}'s meta node running again`, 60_000);
    await jsm.streams.add({ name: 'AFTER', subjects: ['after.>'], num_replicas: 3 });
    const fm = metaOf(full);
    await waitFor(() => ['T0', 'R0', 'R5', 'AFTER'].every((s) => fm.state.stream('$G', s) !== undefined), `${full.name} caught up with the meta log`, 30_000);
    await waitFor(() => fm.node.isCurrent() && fm.node.leaderId !== '', `${full.name} current with the meta leader`, 30_000);
    // A replica again: the new R3 stream's group runs there and takes messages.
    assert.equal((await jetstream(ncs[nodes.indexOf(leader)]!).publish('after.1', 'x')).seq, 1);
    await waitFor(() => replicaMsgs(full, 'AFTER').length === 1, `${full.name} holds AFTER's message`, 30_000);
    await waitFor(() => !lm.peerInfo.placementPeers(lm.id, [fm.id], lm.onlinePeers())[0]!.offline,
      `the leader sees ${full.name} placeable again`);
    sys.close();
  });
});

test('meta: the meta leader\'s disk is full: the others elect a leader and serve; it follows again once space is back', async () => {
  await withPlaceableCluster('tsnats-meta-disk-full-leader-', async (nodes, ncs) => {
    const full = nodes.find((n) => metaOf(n).isLeader)!;
    const jsm = await jetstreamManager(ncs[nodes.indexOf(nodes.find((n) => n !== full)!)]!, { timeout: 20_000 });
    injectDiskFull(`${full.dir}/`);
    // The leader cannot append this entry: it stops; the create is answered by the next leader or
    // times out with the old one (the client retries, as after any leader loss).
    await jsm.streams.add({ name: 'L0', subjects: ['l0.>'], num_replicas: 3 }).catch(() => undefined);
    await waitFor(() => metaOf(full).metaDown, `${full.name}'s meta node stopped on the full disk`, 30_000);
    await waitFor(() => nodes.some((n) => n !== full && metaOf(n).isLeader), 'a new meta leader among the others', 30_000);
    for (let i = 0; i < 4; i++) {
      const si = await jsm.streams.add({ name: `L${i + 1}`, subjects: [`l${i + 1}.>`], num_replicas: 1 });
      assert.notEqual(si.cluster?.leader, full.name);
    }
    injectDiskFull(undefined);
    await waitFor(() => !metaOf(full).metaDown, `${full.name}'s meta node running again`, 60_000);
    const fm = metaOf(full);
    await waitFor(() => ['L1', 'L4'].every((s) => fm.state.stream('$G', s) !== undefined) && fm.node.isCurrent(),
      `${full.name} caught up as a follower`, 30_000);
    assert.equal(fm.isLeader, false);
    await jsm.streams.add({ name: 'L9', subjects: ['l9.>'], num_replicas: 3 });
    await waitFor(() => fm.state.stream('$G', 'L9') !== undefined, `${full.name} applies new entries`, 30_000);
  });
});

test('meta: an R1 create placed on a member just before its meta node stops is refused with 10049 and undone, not left unanswered', async () => {
  await withPlaceableCluster('tsnats-meta-disk-full-race-', async (nodes, ncs) => {
    const leader = nodes.find((n) => metaOf(n).isLeader)!;
    const full = nodes.find((n) => n !== leader)!;
    const jsm = await jetstreamManager(ncs[nodes.indexOf(leader)]!, { timeout: 20_000 });
    // Placement takes the server with the fewest streams (the stores are equal and empty): give
    // every other server one and this one none, so the next R1 create is placed on it.
    const holds = new Map<string, number>();
    for (let i = 0; nodes.some((n) => n !== full && !holds.get(n.name)); i++) {
      assert.ok(i < 30, 'placement spreads R1 streams');
      const si = await jsm.streams.add({ name: `X${i}`, subjects: [`x${i}.>`], num_replicas: 1 });
      const on = si.cluster!.leader!;
      if (on === full.name) await jsm.streams.delete(`X${i}`);
      else holds.set(on, (holds.get(on) ?? 0) + 1);
    }
    injectDiskFull(`${full.dir}/`);
    // Placed on the full server, whose meta node fails at this very entry's append: it never
    // applies it, so it cannot answer; the meta leader does once the server says it stopped.
    await assert.rejects(jsm.streams.add({ name: 'F', subjects: ['f.>'], num_replicas: 1 }),
      (e: Error & { api_error?: { err_code?: number } }) => /error creating store for stream/.test(e.message));
    assert.equal(metaOf(full).metaDown, true);
    await waitFor(() => nodes.every((n) => n === full || metaOf(n).state.stream('$G', 'F') === undefined), 'F undone in the meta state');
    injectDiskFull(undefined);
    await waitFor(() => !metaOf(full).metaDown, `${full.name}'s meta node running again`, 60_000);
    // Caught up: the same streams as the leader (the X ones it kept), F not among them, nor here.
    const names = (n: (typeof nodes)[number]): string => [...metaOf(n).state.all()].map(([, e]) => e.sa.stream.name).sort().join(',');
    await waitFor(() => names(full) === names(leader) && metaOf(full).node.isCurrent(), `${full.name} caught up`, 30_000);
    assert.equal(metaOf(full).state.stream('$G', 'F'), undefined);
    assert.ok([...holds.keys()].length === 2 && names(full).includes('X'), names(full));
    await waitFor(() => !jsOf(full).jsAccount('$G')?.streams.has('F'), `no stream F on ${full.name}`);
    const si = await jsm.streams.add({ name: 'F', subjects: ['f.>'], num_replicas: 1 });
    assert.equal(si.config.name, 'F');
  });
});
