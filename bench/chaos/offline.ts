// Reads a tsnats replica's stream store offline, after its server stopped: the
// check "from every replica's store" of the chaos suite for tsnats, independent
// of anything the servers report. The store dir is copied first and the copy
// opened with the project's FileStore, so recovery (which may cut a damaged
// tail) never touches the replica's own files. nats-server's stores use another
// record format; for it the suite reads replicas through consumers placed on
// them (verify.ts).
import { cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileStore, readStoreMeta } from '../../src/jetstream/store/index.js';
import { STREAM } from './api.js';
import { keyOf } from './workload.js';

export interface OfflineReplica {
  msgs: Map<number, string>;
  firstSeq: number;
  lastSeq: number;
  count: number;
}

/** The directory of stream `stream` in a tsnats store (…/streams/<stream> holding the file store's meta), if any. */
export function findStreamDir(storeDir: string, stream = STREAM): string | undefined {
  const stack = [storeDir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = join(d, n);
      try {
        if (!statSync(p).isDirectory()) continue;
      } catch {
        continue;
      }
      if (n === stream && d.endsWith('/streams') && readStoreMeta(p) !== undefined) return p;
      stack.push(p);
    }
  }
  return undefined;
}

/** Copy the stream's store to `scratch` and read every message of the copy (seq -> key). */
export async function readReplicaOffline(storeDir: string, scratch: string, stream = STREAM): Promise<OfflineReplica | undefined> {
  const dir = findStreamDir(storeDir, stream);
  if (dir === undefined) return undefined;
  const meta = readStoreMeta(dir)!;
  mkdirSync(scratch, { recursive: true });
  const copy = join(scratch, 'store');
  if (existsSync(copy)) throw new Error(`${copy} exists already`);
  cpSync(dir, copy, { recursive: true });
  const fs = new FileStore(meta.config, { dir: copy });
  try {
    const st = fs.state();
    const msgs = new Map<number, string>();
    for (let seq = st.firstSeq; seq <= st.lastSeq && st.msgs > 0; seq++) {
      const m = fs.loadMsg(seq);
      if (m !== undefined) msgs.set(seq, keyOf(m.data));
    }
    return { msgs, firstSeq: st.firstSeq, lastSeq: st.lastSeq, count: st.msgs };
  } finally {
    await fs.stop();
  }
}
