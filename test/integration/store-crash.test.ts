// A child process writes to a file store with sync 'always' and reports every
// durable sequence; it is killed with SIGKILL in the middle of writing. The
// store must then recover every message reported durable, byte for byte, with
// no holes, and cut any torn tail so that new writes continue cleanly.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { createFileStore } from '../../src/jetstream/store/index.js';
import { runUntilKilled } from '../helpers/kill-child.js';

const storeUrl = new URL('../../src/jetstream/store/index.js', import.meta.url).href;

// The writer: stores batches every turn, prints "D <seq>" whenever a group commit completes. It
// numbers its writes itself (from the recovered last sequence) and stops if the store disagrees, so
// the payload the parent expects at a sequence is the one that was written there.
const writerCode = `
import { createFileStore } from ${JSON.stringify(storeUrl)};
const s = createFileStore({ name: 'C', storage: 'file' }, { dir: process.env.STORE_DIR, sync: 'always', blockSizeBytes: 64 * 1024 });
const payload = (seq) => 'm' + seq + '-' + 'x'.repeat((seq * 7919) % 300);
s.onDurable((seq, err) => { if (!err) process.stdout.write('D ' + seq + '\\n'); });
let next = s.fastState().lastSeq + 1;
process.stdout.write('S ' + (next - 1) + '\\n');
function batch() {
  for (let i = 0; i < 40; i++) {
    const seq = next++;
    const got = s.storeMsg('crash.' + (seq % 10), undefined, Buffer.from(payload(seq))).seq;
    if (got !== seq) { process.stderr.write('store gave seq ' + got + ' for write ' + seq + '\\n'); process.exit(3); }
  }
  setImmediate(batch);
}
batch();
`;

const payload = (seq: number): string => `m${seq}-` + 'x'.repeat((seq * 7919) % 300);

async function runAndKill(dir: string, killAfterDurable: number): Promise<{ maxDurable: number; startLast: number }> {
  let maxDurable = 0;
  let startLast = -1;
  const r = await runUntilKilled({
    code: writerCode,
    env: { STORE_DIR: dir },
    label: 'writer',
    onLine: (kind, v) => {
      if (kind === 'S') startLast = Number(v);
      if (kind === 'D') maxDurable = Math.max(maxDurable, Number(v));
    },
    killWhen: () => maxDurable >= killAfterDurable,
  });
  if (!r.killedHere) throw new Error(`writer was killed before it reported seq ${killAfterDurable} durable: ${r.stderr}`);
  return { maxDurable, startLast };
}

test('SIGKILL mid-write loses nothing acknowledged durable and cuts the torn tail', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-crash-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  let expectedFloor = 0;
  for (let round = 1; round <= 3; round++) {
    const { maxDurable, startLast } = await runAndKill(dir, expectedFloor + 2000);
    assert.equal(startLast, expectedFloor, `round ${round}: writer resumed after the recovered last seq`);
    const s = createFileStore({ name: 'C', storage: 'file' }, { dir, sync: 'always', blockSizeBytes: 64 * 1024 });
    const st = s.state();
    assert.ok(st.lastSeq >= maxDurable, `round ${round}: last ${st.lastSeq} < durable ${maxDurable}`);
    assert.equal(st.firstSeq, 1);
    assert.equal(st.msgs, st.lastSeq, `round ${round}: holes after recovery`);
    assert.equal(st.deleted, undefined);
    for (let seq = 1; seq <= st.lastSeq; seq++) {
      const m = s.loadMsg(seq);
      assert.ok(m, `round ${round}: seq ${seq} missing`);
      assert.equal(m.subject, `crash.${seq % 10}`);
      assert.equal(m.data.toString(), payload(seq), `round ${round}: seq ${seq} content`);
    }
    // Writing continues right after the recovered tail and survives a clean restart.
    const next = s.storeMsg(`crash.${(st.lastSeq + 1) % 10}`, undefined, Buffer.from(payload(st.lastSeq + 1)));
    assert.equal(next.seq, st.lastSeq + 1);
    await s.stop();
    const again = createFileStore({ name: 'C', storage: 'file' }, { dir, blockSizeBytes: 64 * 1024 });
    assert.equal(again.state().lastSeq, next.seq);
    assert.equal(again.loadMsg(next.seq)!.data.toString(), payload(next.seq));
    await again.stop();
    expectedFloor = next.seq;
  }
});
