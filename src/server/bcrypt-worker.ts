// Worker thread of bcrypt-check.ts: compares passwords with bcrypt hashes (bcryptjs).
import { parentPort } from 'node:worker_threads';
import bcrypt from 'bcryptjs';

parentPort!.on('message', (m: { id: number; given: string; hash: string }) => {
  let ok = false;
  try {
    ok = bcrypt.compareSync(m.given, m.hash);
  } catch {
    ok = false;
  }
  parentPort!.postMessage({ id: m.id, ok });
});
