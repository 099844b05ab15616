// resetNodeStorage (used by a stream replica that resets itself from the leader): the lost-state
// marker is durable before the log and snapshots go, so a crash half way never leaves an empty
// log that votes as an ordinary member.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resetNodeStorage } from '../../src/raft/index.js';
import { realFs, type RaftFs } from '../../src/raft/runtime.js';
import { STATE_LOST_FILE } from '../../src/raft/log/meta-files.js';

test('resetNodeStorage: marker made durable first; a crash before the deletes still leaves the node marked', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'raft-reset-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const d of ['wal', 'snapshots']) {
    mkdirSync(join(dir, d));
    writeFileSync(join(dir, d, 'x'), 'data');
  }
  // A file system that "crashes" at the first delete.
  const calls: string[] = [];
  const crashing = new Proxy(realFs, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        if (prop === 'rmSync') throw new Error('crash');
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as RaftFs;
  assert.throws(() => resetNodeStorage(dir, crashing), /crash/);
  assert.ok(existsSync(join(dir, STATE_LOST_FILE)), 'marker written before anything was deleted');
  assert.ok(calls.includes('fsyncSync'), 'the marker was fsynced');
  assert.ok(existsSync(join(dir, 'wal', 'x')), 'nothing deleted before the marker');

  resetNodeStorage(dir);
  assert.ok(existsSync(join(dir, STATE_LOST_FILE)));
  assert.ok(!existsSync(join(dir, 'wal')) && !existsSync(join(dir, 'snapshots')));
});
