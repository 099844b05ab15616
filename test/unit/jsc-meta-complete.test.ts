// When a server's meta state counts as complete (js-cluster.ts metaStateComplete): only then may
// it remove local streams the state does not assign to it as orphans.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metaStateComplete } from '../../src/jetstream/cluster/js-cluster.js';

test('meta state complete: the log ends in the leader\'s term, all of it committed and applied', () => {
  assert.equal(metaStateComplete({ term: 3, pterm: 3, pindex: 17, commit: 17, applied: 17 }), true);
  // Seen after a restart with a truncated WAL: entries 15 and 16 taken back from the leader, the
  // commit known only up to 14. The stream assigned at 15 was removed as an orphan.
  assert.equal(metaStateComplete({ term: 3, pterm: 3, pindex: 16, commit: 14, applied: 14 }), false);
  // Committed but not applied yet.
  assert.equal(metaStateComplete({ term: 3, pterm: 3, pindex: 17, commit: 17, applied: 16 }), false);
  // Nothing of the new leader's term yet: entries committed before it may still be missing.
  assert.equal(metaStateComplete({ term: 4, pterm: 3, pindex: 16, commit: 16, applied: 16 }), false);
  assert.equal(metaStateComplete({ term: 0, pterm: 0, pindex: 0, commit: 0, applied: 0 }), false);
});
