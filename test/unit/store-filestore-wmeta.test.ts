// The block index (.idx) a file store keeps while a block takes writes must be the one the seal
// would build from the message index: two stores given the same operations, one of which lets go
// of the kept index after every operation (packIndex), write byte-identical .idx files, and both
// recover to the same messages.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test, type TestContext } from 'node:test';
import { createFileStore, type FileStore, type StoreConfig } from '../../src/jetstream/store/index.js';
import { tmpDir } from './store-helpers.js';

const cfg: StoreConfig = { name: 'WM', storage: 'file', allowMsgTtl: true };
const BLOCK = 4096;

function idxFiles(dir: string): Map<string, Buffer> {
  const msgs = path.join(dir, 'msgs');
  const out = new Map<string, Buffer>();
  for (const f of fs.readdirSync(msgs).sort()) if (f.endsWith('.idx')) out.set(f, fs.readFileSync(path.join(msgs, f)));
  return out;
}

/** The same operations on a store; `drop` lets go of the kept write-block index after each one. */
async function run(t: TestContext, drop: boolean, ops: (s: FileStore, step: () => void) => void): Promise<{ dir: string; s: FileStore }> {
  const dir = path.join(tmpDir(t, 'wmeta-'), 'stream');
  const s = createFileStore(cfg, { dir, blockSizeBytes: BLOCK, sync: 'always', now: fixedClock() });
  ops(s, () => {
    if (drop) s.packIndex();
  });
  await s.flush();
  await s.stop();
  return { dir, s };
}

/** A clock both stores share step for step (timestamps land in the index). */
function fixedClock(): () => bigint {
  let ns = 1_700_000_000_000_000_000n;
  return () => (ns += 1_000n);
}

async function contents(dir: string): Promise<{ state: string; msgs: string[] }> {
  const s = createFileStore(cfg, { dir, blockSizeBytes: BLOCK });
  try {
    const st = s.state();
    const msgs: string[] = [];
    for (let q = st.firstSeq; q <= st.lastSeq; q++) {
      const m = s.loadMsg(q);
      if (m) msgs.push(`${m.seq} ${m.subject} ${m.ts} ${m.headers?.toString('hex') ?? '-'} ${m.data.toString('hex')}`);
    }
    return { state: JSON.stringify({ msgs: st.msgs, bytes: st.bytes, first: st.firstSeq, last: st.lastSeq, deleted: st.numDeleted }), msgs };
  } finally {
    await s.stop();
  }
}

async function sameIndexFiles(t: TestContext, ops: (s: FileStore, step: () => void) => void): Promise<void> {
  const kept = await run(t, false, ops);
  const built = await run(t, true, ops);
  const a = idxFiles(kept.dir);
  const b = idxFiles(built.dir);
  assert.ok(a.size >= 3, `several sealed blocks indexed (${a.size})`);
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [f, buf] of a) assert.ok(buf.equals(b.get(f)!), `${f} differs`);
  assert.deepEqual(await contents(kept.dir), await contents(built.dir));
}

test('kept write-block index: messages with subjects, headers and ttls, skips, marks', async (t) => {
  await sameIndexFiles(t, (s, step) => {
    for (let i = 1; i <= 400; i++) {
      const hdr = i % 3 === 0 ? Buffer.from(`NATS/1.0\r\nk: ${i}\r\n\r\n`) : undefined;
      const ttl = i % 7 === 0 ? 5 : i % 11 === 0 ? -1 : 0;
      s.storeMsg(`sub.${i % 5}`, hdr, Buffer.alloc(i % 50, i & 0xff), ttl);
      step();
      if (i % 60 === 0) {
        s.skipMsgs(s.state().lastSeq + 1, 3);
        step();
      }
    }
  });
});

test('kept write-block index: blocks with removals (head, interior, erase, purge) fall back to the message index', async (t) => {
  await sameIndexFiles(t, (s, step) => {
    for (let i = 1; i <= 600; i++) {
      s.storeMsg(`r.${i % 4}`, undefined, Buffer.alloc(40, i & 0xff));
      step();
      if (i % 50 === 0) {
        s.removeMsg(i - 3);
        s.eraseMsg(i - 7);
        s.removeMsg(s.state().firstSeq);
        step();
      }
      if (i === 300) {
        s.purgeEx('r.1', 0, 0);
        step();
      }
    }
  });
});
