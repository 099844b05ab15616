// StreamDirSpares: a refill asked for while a create answers starts its file calls only after the
// output that turn queued (the server flushes its sockets in a setImmediate), then makes the spares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamDirSpares, SPARE_FILES, isSpareName } from '../../src/jetstream/stream-dir-spares.js';

test('a refill makes its first file call after the setImmediate callbacks of the turn that asked for it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'spares-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const order: string[] = [];
  const mkdir = fs.promises.mkdir;
  t.after(() => {
    fs.promises.mkdir = mkdir;
  });
  fs.promises.mkdir = ((...args: Parameters<typeof mkdir>) => {
    order.push('mkdir');
    return mkdir(...args);
  }) as typeof mkdir;
  const spares = new StreamDirSpares(2, (m) => assert.fail(m));
  spares.refill(dir);
  setImmediate(() => order.push('flush'));
  await spares.settled();
  assert.equal(order[0], 'flush', `the turn's output first: ${order.join(',')}`);
  const made = readdirSync(dir);
  assert.equal(made.length, 2);
  for (const s of made) {
    assert.ok(isSpareName(s));
    assert.deepEqual(readdirSync(join(dir, s)).sort(), ['msgs', ...SPARE_FILES].sort());
  }
  await spares.stop();
});
