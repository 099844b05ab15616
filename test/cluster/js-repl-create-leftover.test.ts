// A replica whose stream creates keep failing half-way (EMFILE at a low open-files limit, a full
// disk: the new directory and msgs/ are made, its files are not written) retries the group start
// every few seconds. Found by attack (report-attackr3): every retry moved the previous attempt's
// half-made directory to damaged/, so the copies piled up. Now a leftover that never held data is
// removed, and a directory that did hold data is still kept aside, once. Here the failure is a full
// disk injected on one server's streams directory (core/disk-fault.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { injectDiskFull } from '../../src/core/disk-fault.js';
import { waitFor } from './cluster-helpers.js';
import { connectAll, metaOf, stopAll } from './js-meta-own-helpers.js';
import { replicaMsgs, restartOne, startRestartable, waitPlacement } from './js-repl-helpers.js';
import { publishAcked } from './js-repl-scale-helpers.js';

/** The copies of `stream` in an account's damaged/ directory. */
function damagedCopies(accountDir: string, stream: string): string[] {
  let names: string[];
  try {
    names = readdirSync(join(accountDir, 'damaged'));
  } catch {
    return [];
  }
  return names.filter((n) => n.startsWith(`${stream}.`)).map((n) => join(accountDir, 'damaged', n));
}

/** True when some file under `dir`'s msgs/ has content (the copy kept the stream's messages). */
function holdsMessages(dir: string): boolean {
  return readdirSync(join(dir, 'msgs')).some((f) => statSync(join(dir, 'msgs', f)).size > 0);
}

test('repl: stream creates failing half-way on a replica leave no pile of copies in damaged/; a stream that held data is kept aside once', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tsnats-repl-leftover-'));
  const { nodes, layout } = await startRestartable(root);
  const ncs = await connectAll(nodes);
  try {
    await waitPlacement(nodes);
    const jsm = await jetstreamManager(ncs[0]!, { timeout: 30_000 });
    await jsm.streams.add({ name: 'A', subjects: ['a.>'], num_replicas: 3 });
    await publishAcked(ncs[0]!, 'a.x', 1, 5);
    await waitFor(() => nodes.every((n) => replicaMsgs(n, 'A').length === 5), 'every replica of A holds 5 messages');

    // n3 stops; its copy of A gets a meta.inf that does not verify, so at restart A is not loaded
    // and its group creates it anew, which must keep the old directory (it holds the 5 messages).
    const victim = nodes[2]!;
    await ncs.pop()!.close();
    await victim.h.shutdown();
    const account = join(victim.dir, 'jetstream', '$G');
    const metaInf = join(account, 'streams', 'A', 'meta.inf');
    const bytes = readFileSync(metaInf);
    bytes[bytes.length - 2] ^= 0x01;
    writeFileSync(metaInf, bytes);
    // From now on every new stream directory on n3 is made but its files cannot be written.
    injectDiskFull(`${join(account, 'streams')}/`);
    nodes[2] = await restartOne(root, layout, 2);
    ncs.push(...(await connectAll([nodes[2]!])));
    await jsm.streams.add({ name: 'B', subjects: ['b.>'], num_replicas: 3 });
    await publishAcked(ncs[0]!, 'b.x', 1, 3);

    const groups = metaOf(nodes[2]!).streamGroups;
    await waitFor(() => groups.startFailures('$G', 'A') >= 4 && groups.startFailures('$G', 'B') >= 4,
      'n3 retried the starts of A and B, failing each time', 30_000);
    const keptA = damagedCopies(account, 'A');
    assert.equal(keptA.length, 1, `A kept aside once: ${keptA.join(', ')}`);
    assert.ok(holdsMessages(keptA[0]!), 'the kept copy of A has its messages');
    assert.deepEqual(damagedCopies(account, 'B'), [], 'B never held data on n3: nothing kept');

    injectDiskFull(undefined);
    await waitFor(() => replicaMsgs(nodes[2]!, 'A').length === 5 && replicaMsgs(nodes[2]!, 'B').length === 3,
      'n3 rebuilt A and B from the others', 60_000);
    assert.deepEqual(replicaMsgs(nodes[2]!, 'A'), replicaMsgs(nodes[0]!, 'A'));
    assert.deepEqual(replicaMsgs(nodes[2]!, 'B'), replicaMsgs(nodes[0]!, 'B'));
    assert.deepEqual(damagedCopies(account, 'A'), keptA);
    assert.deepEqual(damagedCopies(account, 'B'), []);
  } finally {
    injectDiskFull(undefined);
    await stopAll(nodes, ncs, root);
    rmSync(root, { recursive: true, force: true });
  }
});
