// Attack: the meta group's WAL on a full disk. One follower of the meta group (in-process servers,
// ENOSPC injected with core/disk-fault.ts on its whole store, meta WAL included) while R1 and R3
// streams are created through the meta leader; then space comes back and one more stream is
// created. Checks: every create answered (an R1 create placed there just before its meta node
// stopped may be refused with 10049 and must then be undone), and the follower applies the meta
// log again once it can write (it holds the assignments made while it was full and after).
//
//   node dist/bench/attack/meta-disk-full.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { injectDiskFull } from '../../src/core/disk-fault.js';
import { waitFor } from '../../test/cluster/cluster-helpers.js';
import { connectAll, metaOf, stopAll } from '../../test/cluster/js-meta-own-helpers.js';
import { startRestartable, waitPlacement } from '../../test/cluster/js-repl-helpers.js';
import { runMain } from './cluster-checks.js';

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-meta-disk-full-'));
  const { nodes } = await startRestartable(root);
  const ncs = await connectAll(nodes);
  const problems: string[] = [];
  try {
    await waitPlacement(nodes);
    const leader = nodes.find((n) => metaOf(n).isLeader)!;
    const full = nodes.find((n) => n !== leader)!;
    const jsm = await jetstreamManager(ncs[nodes.indexOf(leader)]!, { timeout: 20_000 });
    injectDiskFull(`${full.dir}/`);
    for (let i = 0; i < 6; i++) {
      const name = `F${i}`;
      try {
        await jsm.streams.add({ name, subjects: [`f${i}.>`], num_replicas: i % 2 ? 3 : 1 });
        console.log(`${name} (R${i % 2 ? 3 : 1}) created while ${full.name}'s disk is full`);
      } catch (e) {
        // An R1 create placed on the full server just before its meta node stopped (its own append
        // was the first write to fail) is refused by the meta leader as its store would be, and undone.
        const refused = i % 2 === 0 && (e as Error).message === 'error creating store for stream';
        const undone = refused && await waitFor(() => metaOf(leader).state.stream('$G', name) === undefined, `${name} undone`, 10_000).then(() => true, () => false);
        if (undone) console.log(`${name} (R1) refused cleanly (10049) and undone`);
        else problems.push(`${name} (R${i % 2 ? 3 : 1}) while ${full.name}'s disk is full: ${(e as Error).message}`);
      }
    }
    injectDiskFull(undefined);
    await jsm.streams.add({ name: 'AFTER', subjects: ['after.>'], num_replicas: 1 });
    await waitFor(() => metaOf(full).state.stream('$G', 'AFTER') !== undefined, `${full.name} applying the meta log once space is back`, 30_000)
      .catch((e: unknown) => problems.push((e as Error).message));
  } finally {
    injectDiskFull(undefined);
    await stopAll(nodes, ncs, root);
    rmSync(root, { recursive: true, force: true });
  }
  for (const p of problems) console.log(`PROBLEM ${p}`);
  console.log(`RESULT: ${problems.length} problems`);
  if (problems.length) process.exitCode = 1;
}

runMain('meta-disk-full', main);
